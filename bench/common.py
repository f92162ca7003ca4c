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
    """Peak resident memory of any single process below this one (workers, Ray's actors under
    its raylet, a server it started), sampled every ``interval`` seconds on a thread:
    ``with PeakRSS() as peak: ...``, then ``peak.bytes``. Needs psutil (else stays 0)."""

    def __init__(self, interval: float = 0.5):
        import threading

        self.interval, self.bytes = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRSS:
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
        me = psutil.Process(os.getpid())
        while not self._stop.is_set():
            for p in me.children(recursive=True):
                try:
                    self.bytes = max(self.bytes, p.memory_info().rss)
                except psutil.Error:
                    continue
            self._stop.wait(self.interval)
