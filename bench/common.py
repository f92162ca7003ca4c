"""Shared helpers for benchmark scripts: data paths, timing, Markdown tables."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Callable, Sequence

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
