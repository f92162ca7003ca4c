"""The AWRS and resampling kernels: twin vs compiled, unbiasedness, exactness, truncation."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sampling_helpers import chi2_critical, chi2_stat, kernel_pair, layout

from awrs.kernels import awrs as _awrs, resample as _resample

TWIN = bool(os.environ.get("AWRS_NO_EXTENSIONS"))
ESTIMATORS = {"two-pass": _awrs.TWO_PASS, "recursive": _awrs.RECURSIVE,
              "geometric": _awrs.GEOMETRIC, "auto": _awrs.AUTO}


@st.composite
def problems(draw, max_v: int = 12):
    """A random next-token distribution (flat, random or peaked, some zeros) and accepted set."""
    v = draw(st.integers(1, max_v))
    scale = draw(st.sampled_from([0.3, 2.0, 8.0]))
    logits = np.array(draw(st.lists(st.floats(-3, 3), min_size=v, max_size=v))) * scale
    p = np.exp(logits - logits.max())
    zeros = draw(st.lists(st.booleans(), min_size=v, max_size=v))
    p[np.array(zeros) & (np.arange(v) > 0)] = 0.0
    p = (p / p.sum()).astype(np.float32)
    accepted = draw(st.one_of(
        st.just(frozenset()),
        st.integers(0, v - 1).map(lambda a: frozenset([a])),
        st.frozensets(st.integers(0, v - 1))))
    block_size = draw(st.sampled_from([1, 3, 4, 256]))
    return p, accepted, block_size


def _weights(p, accepted, block_size, estimator, n, seed, max_rejects=0):
    """Monte Carlo moments of w * 1{x = a}: (mean, second moment, hits, largest weight)."""
    probs, blocks = layout(p, block_size)
    rng = _awrs.SplitMix64(seed)
    acc, acc2, hits = np.zeros(len(p)), np.zeros(len(p)), np.zeros(len(p))
    w_max = 0.0
    check = accepted.__contains__
    for _ in range(n):
        x, log_w, _ = _awrs.awrs_step(probs, blocks, block_size, rng, check, estimator,
                                      max_rejects)
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
@settings(max_examples=12 if TWIN else 30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
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
        x, log_w, _ = _awrs.awrs_step(probs, blocks, 4, rng, accepted.__contains__,
                                      _awrs.FIRST, 0)
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
    counts = np.bincount([_awrs.sample_token(probs, blocks, 3, rng) for _ in range(n)],
                         minlength=7)[:7]
    assert chi2_stat(counts, p.astype(np.float64)) < chi2_critical(3)


def test_empty_accepted_set_kills_and_counts_every_check():
    p = np.array([0.5, 0.3, 0.2, 0.0], dtype=np.float32)
    probs, blocks = layout(p, 2)
    for est in (_awrs.FIRST, *ESTIMATORS.values()):
        seen = []
        x, log_w, n = _awrs.awrs_step(probs, blocks, 2, _awrs.SplitMix64(0),
                                      lambda t: seen.append(t) or False, est, 0)
        assert (x, log_w) == (-1, -math.inf)
        assert sorted(seen) == [0, 1, 2] and n == 3  # zero-probability token 3 never drawn


def test_max_rejects_bounds_the_checks():
    p = np.full(50, 1 / 50, dtype=np.float32)
    probs, blocks = layout(p, 8)
    x, log_w, n = _awrs.awrs_step(probs, blocks, 8, _awrs.SplitMix64(0), lambda t: False,
                                  _awrs.RECURSIVE, 5)
    assert (x, log_w, n) == (-1, -math.inf, 5)


def test_accepted_token_is_checked_once_per_step():
    p = np.array([0.9, 0.05, 0.05], dtype=np.float32)
    probs, blocks = layout(p, 4)
    for est in ESTIMATORS.values():
        rng = _awrs.SplitMix64(1)
        for _ in range(200):
            seen = []
            _awrs.awrs_step(probs, blocks, 4, rng, lambda t: seen.append(t) or True, est, 0)
            assert len(seen) == len(set(seen))


def test_check_exceptions_propagate():
    probs, blocks = layout(np.array([1.0], dtype=np.float32), 4)

    def boom(tok):
        raise KeyError("inside check")

    with pytest.raises(KeyError, match="inside check"):
        _awrs.awrs_step(probs, blocks, 4, _awrs.SplitMix64(0), boom, _awrs.AUTO, 0)


# -- twin vs compiled -------------------------------------------------------------------------
@settings(max_examples=150, deadline=None, derandomize=True)
@given(problem=problems(max_v=40), seed=st.integers(0, 2**64 - 1),
       est=st.sampled_from([_awrs.FIRST, *ESTIMATORS.values()]),
       max_rejects=st.sampled_from([0, 0, 1, 2, 5]))
def test_twin_and_compiled_agree(problem, seed, est, max_rejects):
    twin, comp = kernel_pair("_awrs")
    p, accepted, bs = problem
    probs, blocks = layout(p, bs)
    outs = []
    for mod in (twin, comp):
        rng = mod.SplitMix64(seed)
        calls: list[int] = []
        results = []
        for _ in range(5):
            results.append(mod.awrs_step(probs, blocks, bs, rng,
                                         lambda t: calls.append(t) or t in accepted,
                                         est, max_rejects))
        results.append(mod.sample_token(probs, blocks, bs, rng))
        outs.append((results, calls, rng.random()))
    assert outs[0] == outs[1]


def test_rng_streams_agree():
    twin, comp = kernel_pair("_awrs")
    for seed in (0, 1, 2**64 - 1, -5, 123456789):
        a, b = twin.SplitMix64(seed), comp.SplitMix64(seed)
        assert [a.next_u64() for _ in range(5)] == [b.next_u64() for _ in range(5)]
        assert np.array_equal(a.randoms(7), b.randoms(7))
        assert a.random() == b.random()


def test_splitmix64_reference_values():
    # published splitmix64 outputs for seed 1234567
    rng = _awrs.SplitMix64(1234567)
    assert [rng.next_u64() for _ in range(3)] == [
        6457827717110365317, 3203168211198807973, 9817491932198370423]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(w=st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 10)), min_size=1, max_size=30)
       .filter(lambda w: sum(w) > 0), seed=st.integers(0, 2**32))
def test_resampling_twin_and_compiled_agree(w, seed):
    twin, comp = kernel_pair("_resample")
    us = np.random.default_rng(seed).random(len(w))
    w = np.array(w)
    for name in ("multinomial", "stratified"):
        a, b = getattr(twin, name)(w, us), getattr(comp, name)(w, us)
        assert np.array_equal(a, b), name
        assert all(w[i] > 0 for i in a)
    a, b = twin.systematic(w, us[0], len(w)), comp.systematic(w, us[0], len(w))
    assert np.array_equal(a, b)
    assert all(w[i] > 0 for i in a)


@pytest.mark.parametrize("scheme", ["multinomial", "stratified", "systematic"])
def test_resampling_offspring_are_unbiased(scheme):
    w = np.array([0.5, 0.0, 0.2, 0.25, 0.05])
    n, reps = len(w), 4000
    rng = _awrs.SplitMix64(4)
    counts = np.zeros(n)
    for _ in range(reps):
        us = rng.randoms(n)
        idx = (_resample.systematic(w, us[0], n) if scheme == "systematic"
               else getattr(_resample, scheme)(w, us))
        counts += np.bincount(idx, minlength=n)
    mean = counts / reps
    # E[offspring_i] = n w_i; each count is at most n, so the standard error is <= n/sqrt(reps)
    assert np.all(np.abs(mean - n * w) <= 5 * np.sqrt(n * w * (1 - w) / reps) + 1e-9)
    assert counts[1] == 0


def test_resampling_rejects_zero_total():
    with pytest.raises(ValueError, match="positive total"):
        _resample.stratified(np.zeros(3), np.zeros(3))


@pytest.mark.parametrize("block_size", [1, 3, 8, 256])
def test_prepare_twin_and_compiled_agree(block_size):
    twin, comp = kernel_pair("_awrs")
    rs = np.random.default_rng(block_size)
    for _ in range(20):
        nb = int(rs.integers(1, 5))
        x = (rs.random((3, nb * block_size)) ** 8).astype(np.float32)
        keep = (rs.random(nb * block_size) < 0.7).astype(np.float32)
        for k in (keep, None):
            a, b = x.copy(), x.copy()
            assert np.array_equal(twin.prepare(a, k, block_size), comp.prepare(b, k, block_size))
            assert np.array_equal(a, b)


def test_prepare_prunes_and_sums_blocks():
    x = np.arange(1, 33, dtype=np.float32).reshape(2, 16) / 100
    keep = np.ones(16, dtype=np.float32)
    keep[[0, 9]] = 0
    sums = _awrs.prepare(x, keep, 8)
    assert x[0, 0] == 0 and x[1, 9] == 0
    assert np.allclose(sums, x.reshape(2, 2, 8).sum(-1))


@pytest.mark.parametrize("method", ["smc", "awrs", "mask", "rerank"])
def test_generate_is_identical_with_twins_and_compiled_kernels(monkeypatch, method):
    from sampling_helpers import multibyte_constraint, multibyte_lm

    import awrs

    twin, _ = kernel_pair("_awrs")
    rtwin, _ = kernel_pair("_resample")
    lm, c = multibyte_lm(), multibyte_constraint()
    kwargs = dict(method=method, n_particles=64, max_tokens=10, seed=3)
    if method == "smc":
        kwargs["ess_threshold"] = 0.9
    compiled = awrs.generate(lm, [1], c, **kwargs)
    assert compiled.stats.resampled or method != "smc"
    for name in ("SplitMix64", "awrs_step", "sample_token", "prepare", "DfaCheck"):
        monkeypatch.setattr(_awrs, name, getattr(twin, name))
    for name in ("multinomial", "stratified", "systematic"):
        monkeypatch.setattr(_resample, name, getattr(rtwin, name))
    python = awrs.generate(lm, [1], c, **kwargs)
    assert python.samples == compiled.samples
    assert python.posterior == compiled.posterior
    assert python.stats.resampled == compiled.stats.resampled
