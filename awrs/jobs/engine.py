"""What every engine shares: slots that run :meth:`Worker.advance` calls, and the loop that
feeds them records, streams their lines out and retries the records of a crashed slot."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator

from .records import Record, error_line, id_key
from .worker import Worker

#: ``wait`` reports a slot whose worker died with this value instead of its lines
CRASHED = None


class Engine(ABC):
    """Slots, each a worker that runs one :meth:`Worker.advance` call at a time.

    ``in_flight`` records at most are held by a slot (sent and not finished): the bound on
    in-flight work. Subclasses start, call, wait on and restart slots.
    """

    n_slots: int = 1
    in_flight: int = 16
    crash_type: str = "WorkerCrashed"

    @abstractmethod
    def start(self) -> None:
        """Start every slot's worker (each loads the model once)."""

    @abstractmethod
    def call(self, slot: int, records: list[Record]) -> None:
        """Send ``records`` to ``slot`` and start its ``advance`` call (asynchronously)."""

    @abstractmethod
    def wait(self) -> list[tuple[int, list[dict] | None]]:
        """Block until some calls end: ``(slot, lines)``, or ``(slot, CRASHED)``."""

    @abstractmethod
    def restart(self, slot: int) -> None:
        """Replace the crashed worker of ``slot``."""

    @abstractmethod
    def stop(self) -> None:
        """Stop every worker."""

    def run(
        self, records: Iterable[Record], emit: Callable[[dict], None], retries: int = 2
    ) -> None:
        """Run every record, passing each record's output line to ``emit`` exactly once."""
        self.start()
        try:
            _drive(self, iter(records), emit, retries)
        finally:
            self.stop()


def _drive(engine: Engine, records: Iterator[Record], emit, retries: int) -> None:
    """Keep each slot's call going; a record lives in ``records``, ``again`` or one slot's
    ``held`` until its line is emitted, so none is lost and none is written twice."""
    again: deque[Record] = deque()
    held: list[dict[str, Record]] = [{} for _ in range(engine.n_slots)]
    busy: set[int] = set()
    crashes: Counter = Counter()

    def take(n: int) -> list[Record]:
        out: list[Record] = []
        while len(out) < n:
            rec = again.popleft() if again else next(records, None)
            if rec is None:
                break
            out.append(rec)
        return out

    while True:
        for slot in range(engine.n_slots):
            if slot in busy:
                continue
            new = take(engine.in_flight - len(held[slot]))
            if new or held[slot]:
                held[slot].update((id_key(r.id), r) for r in new)
                engine.call(slot, new)
                busy.add(slot)
        if not busy:
            return
        for slot, lines in engine.wait():
            busy.discard(slot)
            if lines is CRASHED or (not lines and held[slot]):  # died, or lost its records
                for key, rec in held[slot].items():
                    crashes[key] += 1
                    if crashes[key] > retries:
                        emit(
                            error_line(
                                rec.id,
                                f"the worker running this record crashed {crashes[key]} times",
                                engine.crash_type,
                            )
                        )
                    else:
                        again.append(rec)
                held[slot] = {}
                engine.restart(slot)
                continue
            for line in lines:
                if held[slot].pop(id_key(line["id"]), None) is not None:
                    emit(line)


class InlineEngine(Engine):
    """One worker in this process (a model object given to :func:`awrs.batch`, or tests)."""

    crash_type = "WorkerCrashed"

    def __init__(self, worker: Worker, in_flight: int = 16):
        self.worker, self.in_flight = worker, in_flight
        self._out: list[dict] | None = None

    def start(self) -> None:
        pass

    def call(self, slot: int, records: list[Record]) -> None:
        self._out = self.worker.advance(records)

    def wait(self):
        out, self._out = self._out, None
        return [(0, out)]

    def restart(self, slot: int) -> None:  # an in-process worker cannot crash without us
        pass

    def stop(self) -> None:
        pass
