"""Summary statistics for benchmark results: means with percentile-bootstrap 95% intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a confidence interval ``[lo, hi]`` over ``n`` observations."""

    value: float
    lo: float
    hi: float
    n: int

    def __str__(self) -> str:
        return self.format()

    def format(self, spec: str = ".3g", scale: float = 1.0) -> str:
        """``"v [lo, hi]"`` (``"-"`` when there are no observations)."""
        if self.n == 0 or math.isnan(self.value):
            return "-"
        v, lo, hi = (x * scale for x in (self.value, self.lo, self.hi))
        if self.n == 1 or lo == hi:
            return format(v, spec)
        return f"{v:{spec}} [{lo:{spec}}, {hi:{spec}}]"


NAN = Interval(math.nan, math.nan, math.nan, 0)


def _clean(values: Sequence[float | None]) -> np.ndarray:
    arr = np.array([math.nan if v is None else float(v) for v in values], dtype=float)
    return arr[~np.isnan(arr)]


def bootstrap_ci(
    values: Sequence[float | None], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> Interval:
    """Mean of ``values`` (``None``/NaN dropped) with a percentile-bootstrap interval.

    Args:
        values: observations, e.g. 0/1 scores or times.
        n_boot: bootstrap resamples.
        level: coverage of the interval.
        seed: seed of the resampling, so reports are reproducible.

    Returns:
        The mean and its ``level`` interval; ``NAN`` when there are no observations.
    """
    if not 0 < level < 1:
        raise ValueError(f"expected a coverage level in (0, 1), got {level}")
    arr = _clean(values)
    if arr.size == 0:
        return NAN
    mean = float(arr.mean())
    if arr.size == 1:
        return Interval(mean, mean, mean, 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    means = arr[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Interval(mean, float(lo), float(hi), int(arr.size))


def ratio_ci(
    num: Sequence[float | None],
    den: Sequence[float | None],
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Ratio of means ``mean(num) / mean(den)`` over paired observations, with a paired bootstrap.

    Pairs where either side is missing (``None``/NaN) are dropped; so are resamples whose
    denominator mean is zero.

    Args:
        num: numerator observations (e.g. a reference method's time per item).
        den: denominator observations for the same items, in the same order.
    """
    if len(num) != len(den):
        raise ValueError(f"expected paired sequences, got lengths {len(num)} and {len(den)}")
    a = np.array([math.nan if v is None else float(v) for v in num], dtype=float)
    b = np.array([math.nan if v is None else float(v) for v in den], dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if a.size == 0 or b.sum() == 0:
        return NAN
    value = float(a.mean() / b.mean())
    if a.size == 1:
        return Interval(value, value, value, 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    dens = b[idx].mean(axis=1)
    ok = dens > 0
    ratios = a[idx].mean(axis=1)[ok] / dens[ok]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(ratios, [alpha, 1 - alpha])
    return Interval(value, float(lo), float(hi), int(a.size))


@dataclass(frozen=True, slots=True)
class Count:
    """``k`` of ``n`` runs flagged, with the share ``k / n`` and its interval (``share``)."""

    k: int
    n: int
    share: Interval

    def __str__(self) -> str:
        return self.format()

    def format(self, spec: str = ".2f") -> str:
        """``"k/n (share [lo, hi])"`` (``"-"`` when there are no runs)."""
        if self.n == 0:
            return "-"
        return f"{self.k}/{self.n} ({self.share.format(spec)})"


def count_ci(flags: Sequence[bool], **kw) -> Count:
    """How many of ``flags`` are true, and their share with :func:`bootstrap_ci`'s interval
    (same resampling as the report's other intervals; a constant share gives a point)."""
    vals = [float(bool(f)) for f in flags]
    return Count(int(sum(vals)), len(vals), bootstrap_ci(vals, **kw))


def share(flags: Sequence[bool]) -> float:
    """Fraction of true flags (NaN for an empty sequence)."""
    return float(np.mean(flags)) if len(flags) else math.nan
