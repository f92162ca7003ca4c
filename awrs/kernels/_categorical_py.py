"""Pure-Python twin of the categorical sampling kernel (``csrc/_categorical_c.pyx``)."""

from __future__ import annotations

import numpy as np


def sample_categorical(probs: np.ndarray, u: float) -> int:
    """Inverse-CDF draw from unnormalised probabilities.

    Returns the smallest ``i`` with ``sum(probs[:i + 1]) > u * sum(probs)`` (sums in float64,
    left to right), so the chosen token always has positive probability; ``-1`` if the total
    is not positive. Equivalent loop::

        total = sum(probs); target = u * total; acc = 0.0
        for i, p in enumerate(probs):
            acc += p
            if acc > target and p > 0: return i
        return last i with probs[i] > 0

    Args:
        probs: (V,) float32 array, non-negative.
        u: a uniform draw in [0, 1).
    """
    cum = np.cumsum(probs, dtype=np.float64)
    total = float(cum[-1]) if len(cum) else 0.0
    if not total > 0:
        return -1
    i = int(np.searchsorted(cum, u * total, side="right"))
    if i >= len(cum):
        i = len(cum) - 1
    while probs[i] <= 0:  # only reachable by rounding at the top end
        i -= 1
    return i


def sample_categorical_batch(probs: np.ndarray, us: np.ndarray) -> np.ndarray:
    """Row-wise :func:`sample_categorical` over a (B, V) float32 array and (B,) uniforms."""
    return np.array(
        [sample_categorical(row, float(u)) for row, u in zip(probs, us, strict=False)],
        dtype=np.int64,
    )
