"""Effective sample size, log-mean-exp and resampling of particle weights."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigurationError
from ..kernels import resample as _resample

SCHEMES = ("stratified", "systematic", "multinomial")


def log_mean_exp(log_w: np.ndarray) -> float:
    """``log(mean(exp(log_w)))``, ``-inf`` when every weight is ``-inf``."""
    log_w = np.asarray(log_w, dtype=np.float64)
    top = float(np.max(log_w)) if len(log_w) else -math.inf
    if top == -math.inf:
        return -math.inf
    return top + math.log(float(np.mean(np.exp(log_w - top))))


def normalized(log_w: np.ndarray) -> np.ndarray:
    """Weights proportional to ``exp(log_w)`` summing to 1 (requires a finite maximum)."""
    w = np.exp(np.asarray(log_w, dtype=np.float64) - np.max(log_w))
    return w / w.sum()


def ess(log_w: np.ndarray) -> float:
    """Effective sample size ``(sum w)^2 / sum w^2`` (0 when every weight is ``-inf``)."""
    log_w = np.asarray(log_w, dtype=np.float64)
    if not len(log_w) or np.max(log_w) == -math.inf:
        return 0.0
    w = normalized(log_w)
    return float(1.0 / np.sum(w * w))


def check_scheme(name: str) -> str:
    """The scheme name, or a ConfigurationError."""
    if name not in SCHEMES:
        raise ConfigurationError(f"unknown resampling scheme {name!r}: expected one of {SCHEMES}")
    return name


def resample(log_w: np.ndarray, scheme: str, rng) -> np.ndarray:
    """Ancestor indices for ``len(log_w)`` offspring, drawn with ``rng`` (a SplitMix64).

    ``multinomial`` draws them independently, ``stratified`` one per stratum
    ``[i/N, (i+1)/N)``, ``systematic`` with one shared uniform; all are unbiased (each
    particle's expected number of offspring is ``N * w_i``) and never pick a zero weight.
    """
    n = len(log_w)
    w = normalized(log_w)
    if scheme == "multinomial":
        return _resample.multinomial(w, rng.randoms(n))
    if scheme == "stratified":
        return _resample.stratified(w, rng.randoms(n))
    if scheme == "systematic":
        return _resample.systematic(w, rng.random(), n)
    raise ConfigurationError(f"unknown resampling scheme {scheme!r}: expected one of {SCHEMES}")
