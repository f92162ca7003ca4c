"""Shared helpers for benchmark scripts: data paths, timing, Markdown tables."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def data_path(*parts: str) -> Path:
    """Path under ../shared/data; raises FileNotFoundError with a clear message when absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"benchmark data {path} is missing (expected ../shared/data)")
    return path


def timeit(fn: Callable[[], object], repeat: int = 5) -> list[float]:
    """Wall times (seconds) of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table."""

    def fmt(x):
        return f"{x:.3g}" if isinstance(x, float) else str(x)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


class PeakRSS:
    """Peak resident memory of any process started while it runs (workers, Ray actors, a
    server), sampled every ``interval`` seconds on a thread; ``with PeakRSS() as peak: ...``,
    then ``peak.bytes``. Needs psutil (``bytes`` stays 0 without it)."""

    def __init__(self, interval: float = 0.5, pids: tuple[int, ...] = ()):
        import threading

        self.interval, self.pids, self.bytes = interval, pids, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRSS:
        import time

        self._t0 = time.time() - 1.0
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        me = os.getpid()
        while not self._stop.is_set():
            for p in psutil.process_iter(["pid", "create_time"]):
                try:
                    if p.pid != me and (p.pid in self.pids or p.info["create_time"] >= self._t0):
                        self.bytes = max(self.bytes, p.memory_info().rss)
                except (psutil.Error, TypeError):
                    continue
            self._stop.wait(self.interval)
