"""Pure-Python twin of the resampling kernels (``csrc/_resample_c.pyx``)."""

from __future__ import annotations

import numpy as np


def _pick(weights: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each point, the first index whose left-to-right cumulative weight exceeds it."""
    w = np.asarray(weights, dtype=np.float64)
    cum = np.cumsum(w)
    if len(cum) == 0 or not cum[-1] > 0:
        raise ValueError(f"expected non-negative weights with a positive total, got {w[:8]}")
    idx = np.searchsorted(cum, points, side="right").astype(np.int64)
    over = idx >= len(cum)
    if over.any():  # a point rounded up to the total: the last positive weight
        idx[over] = int(np.flatnonzero(w > 0)[-1])
    return idx


def multinomial(weights: np.ndarray, us: np.ndarray) -> np.ndarray:
    """Independent draws: ancestor ``i`` for each uniform ``u`` (inverse CDF at ``u * total``).

    Args:
        weights: (N,) float64 non-negative weights (any positive total).
        us: (M,) uniforms in [0, 1); M ancestors are returned.

    Returns:
        (M,) int64 ancestor indices; a zero-weight index is never returned.
    """
    us = np.asarray(us, dtype=np.float64)
    total = float(np.cumsum(np.asarray(weights, dtype=np.float64))[-1]) if len(weights) else 0.0
    return _pick(weights, us * total)


def stratified(weights: np.ndarray, us: np.ndarray) -> np.ndarray:
    """Stratified draws: ancestor at ``(i + us[i]) / M * total`` for ``i < M = len(us)``."""
    us = np.asarray(us, dtype=np.float64)
    m = len(us)
    total = float(np.cumsum(np.asarray(weights, dtype=np.float64))[-1]) if len(weights) else 0.0
    return _pick(weights, (np.arange(m) + us) / m * total)


def systematic(weights: np.ndarray, u: float, n: int) -> np.ndarray:
    """Systematic draws: ancestor at ``(i + u) / n * total`` for ``i < n`` (one uniform)."""
    total = float(np.cumsum(np.asarray(weights, dtype=np.float64))[-1]) if len(weights) else 0.0
    return _pick(weights, (np.arange(n) + float(u)) / n * total)
