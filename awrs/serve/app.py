"""The HTTP routes: OpenAI-compatible completions over the engine, with auth and limits."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import json
import math
import resource
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from ..deadline import Deadline
from ..errors import AwrsError
from ..sampling.api import make_sampler
from . import output
from .engine import Busy, Engine, ShuttingDown, _resolve
from .errors import APIError, from_awrs, install
from .guard import Guard
from .plan import Limits, Plan, make_plan
from .schemas import ChatCompletionRequest, CompletionRequest

Disconnected = Callable[[], Awaitable[bool]]


async def _never() -> bool:
    """A client that never disconnects (its caller is cancelled instead)."""
    return False


def create_app(
    lm,
    model_id: str,
    *,
    api_key: str | None = None,
    limits: Limits = Limits(),  # noqa: B008 - a frozen dataclass: safe to share
    max_rows: int = 64,
    **scheduler: Any,
) -> FastAPI:
    """The server for ``lm``, known to clients as ``model_id`` (or ``"default"``).

    Args:
        lm: the model.
        model_id: the name ``/v1/models`` lists and requests must give.
        api_key: when set, every route but ``/health`` needs ``Authorization: Bearer <key>``.
        limits: request bounds, queue size and time limit.
        max_rows: bound on rows per batched forward.
        scheduler: ``prefill_chunk`` and ``max_cache_bytes`` of the
            :class:`~awrs.sampling.scheduler.Scheduler`.
    """
    engine = Engine(lm, max_rows=max_rows, max_pending=limits.max_pending, **scheduler)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        engine.start()
        yield
        engine.stop()

    app = FastAPI(title="awrs", lifespan=lifespan, docs_url=None, redoc_url=None)
    install(app)
    app.add_middleware(Guard, api_key=api_key, max_body_bytes=limits.max_body_bytes)
    created = int(time.time())
    served = Served(engine, lm, model_id, limits)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return engine_health(engine, model_id)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": model_id, "object": "model", "created": created, "owned_by": "awrs"}],
        }

    @app.get("/v1/models/{name:path}")
    async def model(name: str) -> dict[str, Any]:
        served.check_model(name, param="model")
        return {"id": model_id, "object": "model", "created": created, "owned_by": "awrs"}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatCompletionRequest, request: Request):
        return await served.complete(req, request)

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest, request: Request):
        return await served.complete(req, request)

    app.state.engine, app.state.served = engine, served
    return app


def engine_health(engine: Engine, model_id: str) -> dict[str, Any]:
    """What ``/health`` reports: the engine's queue and counters, the process's peak RSS."""
    return {
        "status": "ok",
        "model": model_id,
        "pending": engine.pending,
        "active": engine.active,
        "finished": engine.finished,
        "cancelled": engine.cancelled,
        "steps": engine.steps,
        "lm_calls": engine.lm_calls,
        "busy_seconds": round(engine.busy_seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


class Served:
    """Request handling shared by both completion routes."""

    def __init__(self, engine: Engine, lm, model_id: str, limits: Limits):
        self.engine, self.lm, self.model_id, self.limits = engine, lm, model_id, limits
        self.builds: set[Deadline] = set()  # builds in flight (cancelled on shutdown)
        self.closing = False  # the drain time after SIGTERM ran out

    def check_model(self, name: str, param: str = "model") -> None:
        if name not in (self.model_id, "default"):
            raise APIError(
                404,
                f"model {name!r} does not exist: this server serves "
                f"{self.model_id!r} (or 'default')",
                param=param,
                code="model_not_found",
            )

    async def complete(self, req, request: Request):
        """The response to ``req``: a JSON body, or an event stream."""
        out = await self.answer(req, request.is_disconnected)
        if isinstance(out, dict):
            return out
        return StreamingResponse(
            out, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    async def answer(
        self, req, disconnected: Disconnected = _never
    ) -> dict[str, Any] | AsyncIterator[str]:
        """The answer to ``req``: a body, or (``stream``) its server-sent events.

        Admits the request (429 past ``max_pending``), builds its plan and sampler, and runs
        it; ``disconnected`` tells whether the client went away (cancelling the caller does
        the same). Raises :class:`APIError`. The stream holds its admission slot until it
        ends or is dropped.
        """
        self.check_model(req.model)
        try:
            self.engine.admit()
        except Busy as exc:
            raise APIError(
                429,
                f"server busy: {exc}; retry later",
                code="queue_full",
                headers={"Retry-After": "1"},
            ) from None
        handed = False
        deadline = Deadline(self.limits.timeout, "building the request")
        try:
            plan, sampler = await self._build(req, deadline, disconnected)
            if plan.stream:
                include_usage = bool((req.stream_options or {}).get("include_usage"))
                slot = _Slot(self.engine)
                events = self._stream(plan, sampler, include_usage, slot, deadline)
                # the stream frees the slot when it ends, or when it is dropped unstarted
                weakref.finalize(events, slot.release)
                handed = True
                return events
            return await self._guarded(self._answer(plan, sampler), disconnected, deadline)
        finally:
            if not handed:
                self.engine.release()

    async def _build(self, req, deadline: Deadline, disconnected: Disconnected) -> tuple[Plan, Any]:
        """Plan and sampler, built on a thread of their own under the request's deadline.

        Past the deadline (504) or when the client goes away (499) the build is cancelled:
        it stops computing (see :mod:`awrs.deadline`) and the slot is freed at once.
        """

        def work():
            plan = make_plan(req, self.lm, self.limits)
            return plan, self._sampler(plan)

        fut = _in_thread(deadline, work)
        self.builds.add(deadline)
        try:
            while not fut.done():
                await asyncio.wait({fut}, timeout=max(min(0.2, deadline.left()), 0))
                if fut.done():
                    break
                if deadline.left() <= 0:
                    deadline.cancel(f"past this server's time limit of {self.limits.timeout:g} s")
                    raise _timeout(self.limits.timeout)
                if await disconnected():
                    deadline.cancel("the client disconnected")
                    raise APIError(499, "client disconnected", code="client_closed")
        finally:
            self.builds.discard(deadline)
        exc = fut.exception()
        if exc is None:
            return fut.result()
        if self.closing:
            raise _shutting_down()
        if deadline.expired():  # the build ended itself on the deadline
            raise _timeout(self.limits.timeout) from None
        if isinstance(exc, APIError):
            raise exc
        if isinstance(exc, AwrsError):
            raise from_awrs(exc, None) from exc
        raise exc

    def _sampler(self, plan: Plan):
        try:
            return make_sampler(self.lm, plan.prompt_ids, plan.constraint, **plan.sampler)
        except AwrsError as exc:
            raise from_awrs(exc, None) from exc

    async def _guarded(self, coro, disconnected: Disconnected, deadline: Deadline):
        """Await ``coro`` until the request's deadline; cancel it when the client goes away."""
        task = asyncio.ensure_future(coro)
        try:
            while True:
                left = deadline.left()
                done, _ = await asyncio.wait({task}, timeout=max(min(0.2, left), 0))
                if done:
                    return task.result()
                if left <= 0:
                    raise _timeout(self.limits.timeout)
                if await disconnected():
                    raise APIError(499, "client disconnected", code="client_closed")
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})  # let the cancellation reach the engine

    async def _run(self, plan: Plan, sampler, on_step=None):
        try:
            return await self.engine.run(sampler, on_step)
        except ShuttingDown:
            raise _shutting_down() from None
        except AwrsError as exc:
            raise from_awrs(exc, None) from exc

    def drain_expired(self) -> None:
        """The drain time after SIGTERM ran out: end every request still in flight."""
        reason = "the server is shutting down and its drain time ran out"
        self.closing = True
        for d in list(self.builds):
            d.cancel(reason)
        self.engine.fail_all(reason)

    async def _answer(self, plan: Plan, sampler) -> dict[str, Any]:
        result = await self._run(plan, sampler)
        if plan.best_of_k:
            choices = [await self._select(plan, result)]
        else:
            choices = output.choose(result, plan.n, result.stats.seed)
        choices = output.stopped(self.lm, choices, plan.stop)  # text, ids, usage cut alike
        logprobs = None
        if plan.logprobs is not None:
            logprobs = await self._logprobs(plan, choices)
        usage = output.usage(plan.prompt_ids, choices, result.stats.tokens)
        return output.body(
            plan.chat,
            output.new_id(plan.chat),
            self.model_id,
            choices,
            logprobs,
            usage,
            output.extension(result, plan.method),
        )

    async def _select(self, plan: Plan, result) -> output.Choice:
        """Best-of-k: score every candidate with the reward (on the engine thread), select."""
        from ..rewards import Judge, LogProb
        from ..scaling.best_of_k import score, select_candidates

        samples = list(result.samples)
        texts = [s.text for s in samples]
        reward = (
            LogProb(self.lm, raw=not plan.chat)
            if plan.reward == "logprob"
            else Judge(self.lm, raw=not plan.chat)
        )
        try:
            rewards = await self.engine.call(lambda: score(reward, texts, plan.prompt_text))
        except AwrsError as exc:
            raise from_awrs(exc, "reward") from exc
        weights = [
            s.log_weight
            if (plan.method == "smc" and s.finished)
            else (0.0 if s.finished and s.log_weight > -math.inf else -math.inf)
            for s in samples
        ]
        sel = select_candidates(
            texts,
            rewards,
            temperature=plan.selection_temperature,
            seed=result.stats.seed,
            log_weights=weights,
        )
        if sel.index is None:
            return output.Choice("", (), "length")
        c = sel.candidates[sel.index]
        return output.Choice(c.text, tuple(samples[sel.index].token_ids), "stop", c.probability)

    async def _logprobs(self, plan: Plan, choices: list[output.Choice]) -> list:
        temp, top = plan.sampler["temperature"], plan.logprobs or 0
        fmt = output.chat_logprobs if plan.chat else output.completion_logprobs
        out = []
        for c in choices:
            rows = await self.engine.call(
                functools.partial(
                    output.token_logprobs, self.lm, plan.prompt_ids, c.token_ids, temp, top
                )
            )
            out.append(fmt(self.lm, rows))
        return out

    # -- streaming -----------------------------------------------------------------------------
    async def _stream(
        self, plan: Plan, sampler, include_usage: bool, slot: _Slot, deadline: Deadline
    ) -> AsyncIterator[str]:
        """Server-sent events. method="awrs": token by token, choice i following particle i;
        other methods: each choice's final text as one chunk."""
        rid, chat = output.new_id(plan.chat), plan.chat
        created = int(time.time())  # one value for every chunk of this stream

        def chunk(i: int, text: str | None, finish_reason: str | None = None, **kw):
            return output.chunk(
                chat,
                rid,
                self.model_id,
                i,
                text,
                finish_reason,
                created=created,
                with_usage=include_usage,
                **kw,
            )

        snaps: asyncio.Queue = asyncio.Queue()
        live = plan.method == "awrs"
        task = asyncio.ensure_future(self._run(plan, sampler, snaps.put_nowait if live else None))
        task.add_done_callback(lambda _: snaps.put_nowait(None))
        streams = [_TextStream(self.lm, plan.stop) for _ in range(plan.n)]
        drawn = 0  # tokens of every particle in the latest snapshot

        def event(obj) -> str:
            return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

        try:
            if chat:
                for i in range(plan.n):
                    yield event(chunk(i, "", first=True))
            while True:
                left = deadline.left()
                try:
                    snap = await asyncio.wait_for(snaps.get(), timeout=max(left, 0.001))
                except TimeoutError:
                    raise APIError(
                        504,
                        f"request ran past this server's time limit of "
                        f"{self.limits.timeout:g} s and was cancelled",
                        code="timeout",
                    ) from None
                if snap is None:
                    break
                drawn = sum(len(p[0]) for p in snap)
                for i, s in enumerate(streams):
                    delta = s.update(snap[i][0])
                    if delta:
                        yield event(chunk(i, delta))
                if all(s.stopped for s in streams):  # every choice hit a stop sequence
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    break
            if task.cancelled():  # every choice stopped: their kept ids, the tokens drawn
                choices = [s.finish(None) for s in streams]
                tokens = drawn
            else:
                result = task.result()
                tokens = result.stats.tokens
                if live:
                    choices = [s.finish(result.samples[i]) for i, s in enumerate(streams)]
                else:
                    choices = output.stopped(
                        self.lm, output.choose(result, plan.n, result.stats.seed), plan.stop
                    )
            for i, c in enumerate(choices):
                text = streams[i].tail if live and i < len(streams) else c.text
                yield event(chunk(i, text or None, c.finish_reason))
            if include_usage:  # the final chunk: no choices, the usage of the whole answer
                last = chunk(0, None)
                last["choices"] = []
                last["usage"] = output.usage(plan.prompt_ids, choices, tokens)
                yield event(last)
        except APIError as exc:
            yield event(exc.body())
        except Exception as exc:  # the stream has started: report in-band
            yield event(
                APIError(
                    500, f"internal error: {type(exc).__name__}: {exc}", code="internal_error"
                ).body()
            )
        finally:
            if not task.done():
                task.cancel()
            slot.release()
        yield "data: [DONE]\n\n"


def _shutting_down() -> APIError:
    return APIError(
        503,
        "the server is shutting down and its drain time ran out; retry on another server",
        code="server_shutting_down",
        headers={"Retry-After": "1"},
    )


def _timeout(limit: float) -> APIError:
    return APIError(
        504,
        f"request ran past this server's time limit of {limit:g} s and was cancelled",
        code="timeout",
    )


def _in_thread(deadline: Deadline, fn) -> asyncio.Future:
    """Run ``fn`` under ``deadline`` on a new daemon thread; a future of its result."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def target() -> None:
        try:
            value, error = deadline.run(fn), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed
            loop.call_soon_threadsafe(_resolve, fut, value, error)

    threading.Thread(target=target, name="awrs-build", daemon=True).start()
    return fut


class _Slot:
    """A request's place in the engine's admission count, released once."""

    def __init__(self, engine: Engine):
        self.engine, self.held = engine, True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.engine.release()


class _TextStream:
    """Incremental text of one particle: UTF-8 decoded across tokens, stop sequences held back."""

    def __init__(self, lm, stop: list[str]):
        self.lm, self.stop = lm, stop
        self.hold = max((len(s) for s in stop), default=1) - 1
        self.ids: list[int] = []
        self.text, self.sent, self.tail = "", "", ""
        self.stopped = False
        self.dec = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def update(self, ids: list[int]) -> str:
        """Feed the particle's ids; return the text now safe to send."""
        if self.stopped:
            return ""
        for t in ids[len(self.ids) :]:
            self.text += self.dec.decode(self.lm.vocab[t])
        self.ids = list(ids)
        cut, hit = output.apply_stop(self.text, self.stop)
        if hit:
            self.stopped = True
            return self._send(cut)
        return self._send(self.text[: max(len(self.text) - self.hold, len(self.sent))])

    def _send(self, upto: str) -> str:
        delta = upto[len(self.sent) :]
        self.sent = upto
        return delta

    def finish(self, sample) -> output.Choice:
        """The choice at the end (``sample``: the particle's final sample, or None when the
        run was cancelled because every choice had stopped); ``tail`` is what remains to send.
        Token ids are cut with the text (:func:`output.kept_ids`), so usage counts what was
        sent."""
        if self.stopped:
            self.tail = ""
            # the ids that made the text sent (the particle may have been resampled since)
            return output.Choice(
                self.sent, output.kept_ids(self.lm, self.ids, len(self.sent)), "stop"
            )
        c = output.stop_choice(
            self.lm,
            output.Choice(
                sample.text, tuple(sample.token_ids), "stop" if sample.finished else "length"
            ),
            self.stop,
        )
        self.tail = c.text[len(self.sent) :] if c.text.startswith(self.sent) else ""
        return c
