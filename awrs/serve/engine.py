"""The engine: one thread owns the model and a Scheduler; requests reach it through a queue.

The event loop never touches the model. A request hands its sampler to the engine thread and
awaits a future; the thread steps every active sampler together (one batched forward per step),
resolves the futures of those that finished and, for streaming requests, posts a snapshot of
the particles after each step. Cancelling the awaiting task removes the sampler.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..sampling.scheduler import Scheduler

Snapshot = list[tuple[list[int], bool, float]]  # per particle: (ids, finished, log_w)


class Busy(Exception):
    """The engine already holds ``max_pending`` requests."""


class ShuttingDown(Exception):
    """The server is shutting down and ended the request (its drain time ran out)."""


class _Job:
    __slots__ = ("sampler", "loop", "future", "on_step")

    def __init__(self, sampler, loop, future, on_step):
        self.sampler, self.loop, self.future, self.on_step = sampler, loop, future, on_step


def _resolve(fut: asyncio.Future, value: Any, error: BaseException | None) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(value)


class Engine:
    """Runs samplers from many requests side by side on one model.

    Args:
        lm: the model (touched only by the engine thread).
        max_rows: bound on rows per forward (passed to the Scheduler).
        max_pending: requests admitted at once (queued or running); more raise :class:`Busy`.
        scheduler: more keyword arguments of the Scheduler (``prefill_chunk``,
            ``max_cache_bytes``).
    """

    def __init__(self, lm, *, max_rows: int = 64, max_pending: int = 64, **scheduler: Any):
        self.lm, self.max_rows, self.max_pending = lm, max_rows, max_pending
        self.scheduler_options = scheduler
        self.pending = 0  # admitted and not yet released (event-loop side)
        self.active = 0  # samplers in the scheduler (engine side)
        self.finished = self.cancelled = self.steps = 0
        self.lm_calls = 0
        self.busy_seconds = 0.0  # time spent stepping
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="awrs-engine", daemon=True)

    # -- event-loop side -----------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        """Whether the engine thread runs (a health check: false once it stopped or died)."""
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._inbox.put(("stop",))
        self._thread.join(timeout=30)

    def fail_all(self, reason: str) -> None:
        """End every request in flight with :class:`ShuttingDown` (thread-safe)."""
        self._inbox.put(("fail", reason))

    def admit(self) -> None:
        """Count a request in, or raise :class:`Busy` when ``max_pending`` are in already."""
        if self.pending >= self.max_pending:
            raise Busy(f"{self.pending} requests in flight (limit {self.max_pending})")
        self.pending += 1

    def release(self) -> None:
        self.pending -= 1

    async def run(self, sampler, on_step: Callable[[Snapshot], None] | None = None):
        """Run ``sampler`` to the end and return its ``Result``.

        ``on_step`` (called on the event loop) gets a particle snapshot after each step.
        Cancelling the caller removes the sampler from the scheduler.
        """
        loop = asyncio.get_running_loop()
        job = _Job(sampler, loop, loop.create_future(), on_step)
        self._inbox.put(("add", job))
        try:
            return await job.future
        finally:  # cancelling this task cancels the future too
            if job.future.cancelled() or not job.future.done():
                self._inbox.put(("cancel", job))

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` on the engine thread, between two steps (for other uses of the model)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._inbox.put(("call", fn, loop, fut))
        return await fut

    # -- engine thread -------------------------------------------------------------------------
    def _post(self, loop, fn, *args) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(fn, *args)

    def _run(self) -> None:
        sch = Scheduler(self.lm, max_rows=self.max_rows, **self.scheduler_options)
        jobs: dict[int, _Job] = {}
        while True:
            msgs = [] if not sch.idle else [self._inbox.get()]
            while True:
                try:
                    msgs.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            for msg in msgs:
                if msg[0] in ("stop", "fail"):
                    for job in jobs.values():
                        sch.remove(job.sampler)
                        self._post(
                            job.loop,
                            _resolve,
                            job.future,
                            None,
                            ShuttingDown(msg[1] if len(msg) > 1 else "the server is shutting down"),
                        )
                    jobs.clear()
                    if msg[0] == "stop":
                        return
                    continue
                self._handle(msg, sch, jobs)
            if not sch.idle:
                self._step(sch, jobs)
            self.active = len(sch.active) + len(sch.waiting) + len(sch.prefilling)

    def _handle(self, msg, sch, jobs: dict[int, _Job]) -> None:
        kind = msg[0]
        if kind == "add":
            job = msg[1]
            jobs[id(job.sampler)] = job
            sch.add(job.sampler)
        elif kind == "cancel":
            job = jobs.pop(id(msg[1].sampler), None)
            if job is not None:
                sch.remove(job.sampler)
                self.cancelled += 1
        elif kind == "call":
            _, fn, loop, fut = msg
            try:
                value, error = fn(), None
            except Exception as exc:  # handed to the caller
                value, error = None, exc
            self._post(loop, _resolve, fut, value, error)

    def _step(self, sch, jobs: dict[int, _Job]) -> None:
        t0 = time.perf_counter()
        try:
            done = sch.step()
        except Exception as exc:  # the model raised: fail every request of the step
            for job in list(jobs.values()):
                sch.remove(job.sampler)
                self._post(job.loop, _resolve, job.future, None, exc)
            jobs.clear()
            return
        self.busy_seconds += time.perf_counter() - t0
        self.steps += 1
        self.lm_calls = sch.lm_calls
        for s in done:
            ended = jobs.pop(id(s), None)
            if ended is None:
                continue
            value, error = None, s.error  # a sampler's own failure leaves the others running
            if error is None:
                try:
                    value = s.result()
                except Exception as exc:
                    error = exc
            self.finished += 1
            self._post(ended.loop, _resolve, ended.future, value, error)
        for job in jobs.values():
            if job.on_step is not None:
                snap = [
                    (list(p.ids), bool(p.finished), float(p.log_w)) for p in job.sampler.particles
                ]
                self._post(job.loop, job.on_step, snap)
