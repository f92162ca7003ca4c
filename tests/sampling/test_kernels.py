"""The AWRS and resampling kernels: unbiasedness, exactness, truncation (the twin against the
compiled module: tests/kernels/test_parity.py)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sampling_helpers import chi2_critical, chi2_stat, layout

from awrs.kernels import awrs as _awrs
from awrs.kernels import resample as _resample
from tests.kernels.kernel_inputs import problems

TWIN = bool(os.environ.get("AWRS_NO_EXTENSIONS"))
ESTIMATORS = {
    "two-pass": _awrs.TWO_PASS,
    "recursive": _awrs.RECURSIVE,
    "geometric": _awrs.GEOMETRIC,
    "auto": _awrs.AUTO,
}


def _weights(p, accepted, block_size, estimator, n, seed, max_rejects=0):
    """Monte Carlo moments of w * 1{x = a}: (mean, second moment, hits, largest weight)."""
    probs, blocks = layout(p, block_size)
    rng = _awrs.SplitMix64(seed)
    acc, acc2, hits = np.zeros(len(p)), np.zeros(len(p)), np.zeros(len(p))
    w_max = 0.0
    check = accepted.__contains__
    for _ in range(n):
        x, log_w, _ = _awrs.awrs_step(probs, blocks, block_size, rng, check, estimator, max_rejects)
        if x >= 0:
            w = math.exp(log_w)
            acc[x] += w
            acc2[x] += w * w
            hits[x] += 1
            w_max = max(w_max, w)
        else:
            assert log_w == -math.inf
    return acc / n, acc2 / n, hits, w_max


def bernstein(var: float, bound: float, n: int, delta: float = 1e-6) -> float:
    """Deviation t of a mean of n i.i.d. variables within ``bound`` of their mean and of
    variance <= ``var`` such that P(|mean - E| >= t) <= delta (Bernstein's inequality)."""
    log_term = math.log(2 / delta)
    a = 2 * bound * log_term / 3
    return (a + math.sqrt(a * a + 8 * n * log_term * var)) / (2 * n)


def _assert_proper(p, accepted, moments, n):
    """E[w 1{x=a}] = p(a) 1[a in A] up to a Bernstein deviation at level 1e-6.

    Each w 1{x=a} lies in [0, T] (weights never exceed the total mass T), so its variance is
    at most T p(a). (A CLT bound with the sample variance is no bound here: on peaked problems
    a token is returned rarely but with a large weight.)
    """
    mean, _, _, w_max = moments
    total = float(np.sum(p, dtype=np.float64))
    target = np.array([float(p[a]) if a in accepted else 0.0 for a in range(len(p))])
    assert w_max <= total * (1 + 1e-9)
    for a in range(len(p)):
        if a not in accepted:
            assert mean[a] == 0.0, f"rejected token {a} was returned"
        t = bernstein(total * target[a], total, n) + 1e-12
        assert abs(mean[a] - target[a]) <= t, (a, mean[a], target[a], t)


N_MC = 1500 if TWIN else 5000


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@settings(
    max_examples=12 if TWIN else 30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(problem=problems(), seed=st.integers(0, 2**32))
def test_estimators_are_properly_weighted(name, problem, seed):
    p, accepted, bs = problem
    _assert_proper(p, accepted, _weights(p, accepted, bs, ESTIMATORS[name], N_MC, seed), N_MC)


@pytest.mark.parametrize("name", ["two-pass", "recursive", "geometric"])
@pytest.mark.parametrize("max_rejects", [0, 1, 2, 3])
def test_truncated_estimators_stay_proper(name, max_rejects):
    # mass mostly on rejected tokens, so the bound bites often
    p = np.array([0.35, 0.25, 0.15, 0.1, 0.08, 0.04, 0.03], dtype=np.float32)
    p /= p.sum()
    accepted = frozenset({3, 5, 6})
    n = 4000 if TWIN else 20000
    _assert_proper(p, accepted, _weights(p, accepted, 2, ESTIMATORS[name], n, 7, max_rejects), n)


def test_the_check_detects_an_improper_weight():
    # power: the local sample with weight T (what awrs alone gives) is not properly weighted
    p = np.array([0.5, 0.2, 0.2, 0.1], dtype=np.float32)
    accepted = frozenset({1, 3})
    moments = _weights(p, accepted, 4, _awrs.FIRST, N_MC, 3)  # log w = 0: w = 1
    with pytest.raises(AssertionError):
        _assert_proper(p, accepted, moments, N_MC)
    # and a weight 15% off on one token is caught at this sample size
    n = 30000
    mean, m2, hits, w_max = _weights(p, accepted, 4, _awrs.RECURSIVE, n, 3)
    _assert_proper(p, accepted, (mean, m2, hits, w_max), n)
    mean[1] *= 1.15
    with pytest.raises(AssertionError):
        _assert_proper(p, accepted, (mean, m2, hits, w_max), n)


def test_first_accepted_token_is_exact_chi_square():
    rs = np.random.default_rng(5)
    p = rs.dirichlet(np.ones(10)).astype(np.float32)
    accepted = frozenset({0, 3, 4, 8})
    probs, blocks = layout(p, 4)
    rng = _awrs.SplitMix64(11)
    n = 6000 if TWIN else 30000
    counts = np.zeros(10)
    for _ in range(n):
        x, log_w, _ = _awrs.awrs_step(probs, blocks, 4, rng, accepted.__contains__, _awrs.FIRST, 0)
        assert log_w == 0.0
        counts[x] += 1
    target = np.array([p[a] if a in accepted else 0.0 for a in range(10)], dtype=np.float64)
    target /= target.sum()
    assert chi2_stat(counts, target) < chi2_critical(len(accepted) - 1)
    # and the test has power: the unconstrained p is rejected
    unconstrained = p.astype(np.float64) / p.sum()
    with pytest.raises(AssertionError):
        assert chi2_stat(counts, unconstrained) < chi2_critical(9)


def test_sample_token_matches_the_distribution():
    p = np.array([0.1, 0.0, 0.4, 0.2, 0.3, 0.0, 0.0], dtype=np.float32)
    probs, blocks = layout(p, 3)
    rng = _awrs.SplitMix64(2)
    n = 5000 if TWIN else 30000
    counts = np.bincount(
        [_awrs.sample_token(probs, blocks, 3, rng) for _ in range(n)], minlength=7
    )[:7]
    assert chi2_stat(counts, p.astype(np.float64)) < chi2_critical(3)


def test_empty_accepted_set_kills_and_counts_every_check():
    p = np.array([0.5, 0.3, 0.2, 0.0], dtype=np.float32)
    probs, blocks = layout(p, 2)
    for est in (_awrs.FIRST, *ESTIMATORS.values()):
        seen = []
        x, log_w, n = _awrs.awrs_step(
            probs,
            blocks,
            2,
            _awrs.SplitMix64(0),
            lambda t, seen=seen: seen.append(t) or False,
            est,
            0,
        )
        assert (x, log_w) == (-1, -math.inf)
        assert sorted(seen) == [0, 1, 2] and n == 3  # zero-probability token 3 never drawn


def test_max_rejects_bounds_the_checks():
    p = np.full(50, 1 / 50, dtype=np.float32)
    probs, blocks = layout(p, 8)
    x, log_w, n = _awrs.awrs_step(
        probs, blocks, 8, _awrs.SplitMix64(0), lambda t: False, _awrs.RECURSIVE, 5
    )
    assert (x, log_w, n) == (-1, -math.inf, 5)


def test_accepted_token_is_checked_once_per_step():
    p = np.array([0.9, 0.05, 0.05], dtype=np.float32)
    probs, blocks = layout(p, 4)
    for est in ESTIMATORS.values():
        rng = _awrs.SplitMix64(1)
        for _ in range(200):
            seen = []
            _awrs.awrs_step(
                probs, blocks, 4, rng, lambda t, seen=seen: seen.append(t) or True, est, 0
            )
            assert len(seen) == len(set(seen))


def test_check_exceptions_propagate():
    probs, blocks = layout(np.array([1.0], dtype=np.float32), 4)

    def boom(tok):
        raise KeyError("inside check")

    with pytest.raises(KeyError, match="inside check"):
        _awrs.awrs_step(probs, blocks, 4, _awrs.SplitMix64(0), boom, _awrs.AUTO, 0)


def test_splitmix64_reference_values():
    # published splitmix64 outputs for seed 1234567
    rng = _awrs.SplitMix64(1234567)
    assert [rng.next_u64() for _ in range(3)] == [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
    ]


@pytest.mark.parametrize("scheme", ["multinomial", "stratified", "systematic"])
def test_resampling_offspring_are_unbiased(scheme):
    w = np.array([0.5, 0.0, 0.2, 0.25, 0.05])
    n, reps = len(w), 4000
    rng = _awrs.SplitMix64(4)
    counts = np.zeros(n)
    for _ in range(reps):
        us = rng.randoms(n)
        idx = (
            _resample.systematic(w, us[0], n)
            if scheme == "systematic"
            else getattr(_resample, scheme)(w, us)
        )
        counts += np.bincount(idx, minlength=n)
    mean = counts / reps
    # E[offspring_i] = n w_i; each count is at most n, so the standard error is <= n/sqrt(reps)
    assert np.all(np.abs(mean - n * w) <= 5 * np.sqrt(n * w * (1 - w) / reps) + 1e-9)
    assert counts[1] == 0


def test_resampling_rejects_zero_total():
    with pytest.raises(ValueError, match="positive total"):
        _resample.stratified(np.zeros(3), np.zeros(3))


def test_prepare_prunes_and_sums_blocks():
    x = np.arange(1, 33, dtype=np.float32).reshape(2, 16) / 100
    keep = np.ones(16, dtype=np.float32)
    keep[[0, 9]] = 0
    sums = _awrs.prepare(x, keep, 8)
    assert x[0, 0] == 0 and x[1, 9] == 0
    assert np.allclose(sums, x.reshape(2, 2, 8).sum(-1))
