"""The local engine: worker processes on this machine (``spawn``), each loading the model once."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue

from ..errors import ModelLoadError
from .engine import CRASHED, Engine
from .records import Record

_POLL = 0.2  # seconds between liveness checks while waiting
_EARLY_DEATHS = 3  # a slot whose process dies before loading the model this often in a row


def _serve(slot: int, gen: int, tasks, results, config: dict) -> None:
    """A worker process: load the model, then answer ``advance`` calls until told to stop."""
    threads = config.get("threads")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (awrs.threads)
    if threads:  # before torch loads: OpenMP pools sized to the worker's share (as Ray does)
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    try:
        from .worker import Worker

        worker = Worker(**config)
    except BaseException as exc:  # reported, then the process ends
        results.put((slot, gen, "fatal", f"{type(exc).__name__}: {exc}"))
        return
    results.put((slot, gen, "ready", None))
    while True:
        records = tasks.get()
        if records is None:
            return
        results.put((slot, gen, "lines", worker.advance(records)))


class LocalEngine(Engine):
    """``workers`` processes, each holding at most ``in_flight`` records.

    A process that dies (killed, out of memory, a crash in native code) is replaced and the
    records it held are retried. With several workers each uses one torch thread.
    """

    crash_type = "WorkerCrashed"

    def __init__(self, workers: int = 1, *, in_flight: int = 16, **config):
        self.n_slots, self.in_flight = workers, in_flight
        if workers > 1 and config.get("threads") is None:
            config["threads"] = 1
        self.config = config
        self._ctx = mp.get_context("spawn")
        self._results = self._ctx.Queue()
        self._procs: list = [None] * workers
        self._tasks: list = [None] * workers
        self._gen = [0] * workers
        self._busy: set[int] = set()
        self._ready: set[int] = set()
        self._early = [0] * workers  # deaths before ready, in a row

    def _spawn(self, slot: int) -> None:
        self._ready.discard(slot)
        self._gen[slot] += 1
        self._tasks[slot] = self._ctx.Queue()
        proc = self._ctx.Process(
            target=_serve,
            name=f"awrs-batch-{slot}",
            daemon=True,
            args=(slot, self._gen[slot], self._tasks[slot], self._results, self.config),
        )
        proc.start()
        self._procs[slot] = proc

    def start(self) -> None:
        """Spawn every worker and wait until each has loaded the model."""
        for slot in range(self.n_slots):
            self._spawn(slot)
        while len(self._ready) < self.n_slots:
            with contextlib.suppress(queue.Empty):
                self._take(self._results.get(timeout=_POLL))
            for slot, proc in enumerate(self._procs):
                if slot not in self._ready and not proc.is_alive():
                    raise ModelLoadError(
                        f"batch worker {slot} exited (code {proc.exitcode}) before loading the "
                        "model; under spawn, a script calling awrs.batch needs "
                        "`if __name__ == '__main__':`"
                    )

    def call(self, slot: int, records: list[Record]) -> None:
        self._busy.add(slot)
        self._tasks[slot].put(records)

    def wait(self):
        while True:
            try:
                out = self._take(self._results.get(timeout=_POLL))
            except queue.Empty:
                out = []
            if out:
                return out
            dead = [s for s in sorted(self._busy) if not self._procs[s].is_alive()]
            if dead:
                out = self._drain()  # lines sent before a death still count
                for s in dead:
                    self._early[s] = 0 if s in self._ready else self._early[s] + 1
                    if self._early[s] >= _EARLY_DEATHS:
                        raise ModelLoadError(
                            f"batch worker {s} exited (code {self._procs[s].exitcode}) before "
                            f"loading the model, {_EARLY_DEATHS} times; under spawn, a script "
                            "calling awrs.batch needs `if __name__ == '__main__':`"
                        )
                got = {s for s, _ in out}
                return out + [(s, CRASHED) for s in dead if s not in got]

    def _drain(self) -> list:
        out = []
        while True:
            try:
                out += self._take(self._results.get_nowait())
            except queue.Empty:
                return out

    def _take(self, msg) -> list:
        slot, gen, kind, payload = msg
        if gen != self._gen[slot]:
            return []  # from a process already replaced
        if kind == "fatal":
            raise ModelLoadError(f"a batch worker could not start: {payload}")
        if kind == "ready":
            self._ready.add(slot)
            return []
        self._busy.discard(slot)
        return [(slot, payload)]

    def restart(self, slot: int) -> None:
        self._busy.discard(slot)
        old = self._procs[slot]
        if old is not None and old.is_alive():
            old.kill()
        self._spawn(slot)

    def stop(self) -> None:
        for slot, proc in enumerate(self._procs):
            if proc is not None and proc.is_alive():
                self._tasks[slot].put(None)
        for proc in self._procs:
            if proc is not None:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
