"""The exact-mask fallback of the AWRS kernel: proper weights, exact tokens, twin = compiled."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sampling_helpers import chi2_critical, chi2_stat, kernel_pair, layout
from test_kernels import ESTIMATORS, _assert_proper, problems

from awrs.kernels import awrs as _awrs

TWIN = bool(os.environ.get("AWRS_NO_EXTENSIONS"))
N_MC = 1500 if TWIN else 5000


def _fb_weights(p, accepted, bs, estimator, n, seed, after, max_rejects=0):
    """Monte Carlo moments of w 1{x = a} with the fallback after ``after`` checks."""
    probs, blocks = layout(p, bs)
    mask = np.array([a in accepted for a in range(len(p))], dtype=bool)
    rng = _awrs.SplitMix64(seed)
    acc, acc2, hits = np.zeros(len(p)), np.zeros(len(p)), np.zeros(len(p))
    w_max, fired = 0.0, [0]

    def get_mask():
        fired[0] += 1
        return mask

    for _ in range(n):
        x, log_w, n_checks = _awrs.awrs_step(
            probs, blocks, bs, rng, accepted.__contains__, estimator, max_rejects, after, get_mask
        )
        if estimator != _awrs.TWO_PASS and after >= 0:
            assert n_checks <= after + 1  # the recursive extra check is the only one past it
        if x >= 0:
            w = math.exp(log_w)
            acc[x] += w
            acc2[x] += w * w
            hits[x] += 1
            w_max = max(w_max, w)
    return (acc / n, acc2 / n, hits, w_max), fired[0]


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("after", [0, 1, 2])
@settings(
    max_examples=6 if TWIN else 15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(problem=problems(), seed=st.integers(0, 2**32))
def test_fallback_keeps_every_estimator_proper(name, after, problem, seed):
    p, accepted, bs = problem
    moments, _ = _fb_weights(p, accepted, bs, ESTIMATORS[name], N_MC, seed, after)
    _assert_proper(p, accepted, moments, N_MC)


@pytest.mark.parametrize("name", ["two-pass", "recursive", "geometric"])
@pytest.mark.parametrize("after,max_rejects", [(1, 0), (2, 0), (3, 0), (1, 3), (2, 2), (3, 1)])
def test_fallback_stays_proper_where_it_fires_often(name, after, max_rejects):
    # most mass on rejected tokens: the loop passes the threshold in most steps
    p = np.array([0.35, 0.25, 0.15, 0.1, 0.08, 0.04, 0.03], dtype=np.float32)
    p /= p.sum()
    accepted = frozenset({3, 5, 6})
    n = 4000 if TWIN else 20000
    moments, fired = _fb_weights(p, accepted, 2, ESTIMATORS[name], n, 7, after, max_rejects)
    if not max_rejects or after < max_rejects:  # else truncation comes first
        assert fired > n // 4
    _assert_proper(p, accepted, moments, n)


def test_a_biased_switch_is_caught():
    # power: a weight 20% too large after the switch (w = 1.2 Z) is flagged at this size
    p = np.array([0.35, 0.25, 0.15, 0.1, 0.08, 0.04, 0.03], dtype=np.float32)
    p /= p.sum()
    accepted = frozenset({3, 5, 6})
    n = 20000
    moments, _ = _fb_weights(p, accepted, 2, _awrs.RECURSIVE, n, 7, 1)
    mean, m2, hits, w_max = moments
    z = float(p[[3, 5, 6]].sum())
    biased = (hits / n) * (z * 1.2)  # w = 1.2 Z on the same tokens
    with pytest.raises(AssertionError):
        _assert_proper(p, accepted, (biased, m2, hits, w_max), n)


@pytest.mark.parametrize("est", [_awrs.FIRST, *ESTIMATORS.values()])
@pytest.mark.parametrize("after", [0, 2])
def test_fallback_tokens_are_exact_chi_square(est, after):
    rs = np.random.default_rng(5)
    p = rs.dirichlet(np.ones(10) * 0.5).astype(np.float32)
    accepted = frozenset({0, 3, 4, 8})
    probs, blocks = layout(p, 4)
    mask = np.array([a in accepted for a in range(10)])
    rng = _awrs.SplitMix64(11)
    n = 5000 if TWIN else 30000
    counts = np.zeros(10)
    for _ in range(n):
        x, _, _ = _awrs.awrs_step(
            probs, blocks, 4, rng, accepted.__contains__, est, 0, after, lambda: mask
        )
        counts[x] += 1
    target = np.where(mask, p, 0).astype(np.float64)
    target /= target.sum()
    assert chi2_stat(counts, target) < chi2_critical(len(accepted) - 1)


@pytest.mark.parametrize("seed", range(20))
def test_two_pass_fallback_follows_the_same_path(seed):
    # the two-pass fallback only replaces checks by lookups: the result is unchanged
    rs = np.random.default_rng(seed)
    p = rs.dirichlet(np.ones(30) * 0.3).astype(np.float32)
    accepted = frozenset(rs.choice(30, 3, replace=False).tolist())
    mask = np.array([a in accepted for a in range(30)])
    probs, blocks = layout(p, 4)
    outs = []
    for after in (-1, 0, 1, 4):
        rng = _awrs.SplitMix64(seed)
        outs.append(
            [
                _awrs.awrs_step(
                    probs,
                    blocks,
                    4,
                    rng,
                    accepted.__contains__,
                    _awrs.TWO_PASS,
                    0,
                    after,
                    lambda: mask,
                )[:2]
                for _ in range(5)
            ]
        )
    assert outs[1:] == outs[:1] * 3


def test_get_mask_is_called_once_and_only_when_due():
    p = np.array([0.4, 0.3, 0.2, 0.1], dtype=np.float32)
    probs, blocks = layout(p, 2)
    calls = []

    def get_mask():
        calls.append(1)
        return np.array([0, 0, 0, 1])

    x, lw, n = _awrs.awrs_step(
        probs, blocks, 2, _awrs.SplitMix64(0), lambda t: t == 3, _awrs.RECURSIVE, 0, 2, get_mask
    )
    assert x == 3 and len(calls) <= 1 and n <= 3
    if calls:
        assert lw == pytest.approx(math.log(0.1), rel=1e-6)
    calls.clear()
    _awrs.awrs_step(
        probs, blocks, 2, _awrs.SplitMix64(0), lambda t: True, _awrs.RECURSIVE, 0, 5, get_mask
    )
    assert not calls
    # nothing accepted: dead, whatever the estimator
    for est in (_awrs.FIRST, *ESTIMATORS.values()):
        x, lw, _ = _awrs.awrs_step(
            probs,
            blocks,
            2,
            _awrs.SplitMix64(0),
            lambda t: False,
            est,
            0,
            1,
            lambda: np.zeros(4, bool),
        )
        assert (x, lw) == (-1, -math.inf)


# -- twin vs compiled -------------------------------------------------------------------------
@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    problem=problems(max_v=40),
    seed=st.integers(0, 2**64 - 1),
    est=st.sampled_from([_awrs.FIRST, *ESTIMATORS.values()]),
    max_rejects=st.sampled_from([0, 0, 1, 2, 5]),
    after=st.sampled_from([-1, 0, 1, 2, 4]),
)
def test_twin_and_compiled_agree_with_the_fallback(problem, seed, est, max_rejects, after):
    twin, comp = kernel_pair("_awrs")
    p, accepted, bs = problem
    probs, blocks = layout(p, bs)
    mask = np.array([a in accepted for a in range(len(p))], dtype=np.uint8)
    outs = []
    for mod in (twin, comp):
        rng = mod.SplitMix64(seed)
        calls: list[int] = []
        results = [
            mod.awrs_step(
                probs,
                blocks,
                bs,
                rng,
                lambda t, calls=calls: calls.append(t) or t in accepted,
                est,
                max_rejects,
                after,
                lambda calls=calls: calls.append(-1) or mask,
            )
            for _ in range(5)
        ]
        outs.append((results, calls, rng.random()))
    assert outs[0] == outs[1]


def test_a_mask_that_advance_contradicts_is_a_clear_error():
    # a token drawn from the exact mask is advanced on first access; when advance rejects it
    # (the constraint's token_mask is wrong), the error says so instead of a None state
    import awrs
    from awrs.sampling.token import Checker, _Memo

    memo = _Memo()
    memo.check = lambda tok: dict.__setitem__(memo, tok, None)  # advance rejects it
    with pytest.raises(awrs.ConstraintEvaluationError, match="token_mask accepted token 3"):
        Checker.result(memo, 3)
    memo[4] = ("state",)
    assert Checker.result(memo, 4) == ("state",)
