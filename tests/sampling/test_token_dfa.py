"""In-kernel DFA checks (DfaCheck) and the mask fallback inside SMC: exactness, posteriors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sampling_helpers import (
    exact_posterior,
    kernel_pair,
    layout,
    multibyte_constraint,
    multibyte_lm,
    tv,
)

import awrs
from awrs.constraints.regex import Regex
from awrs.kernels import awrs as _awrs
from awrs.sampling import token as _token
from awrs.sampling.token import Checker, vocab_bytes

PROMPT = [1]


def bound(exact: dict, n: int) -> float:
    """TV bound for n weighted particles (as in test_smc): ~ sqrt(K / n)."""
    return 1.5 * math.sqrt(len(exact) / n)


def _check_args(rx: Regex, vocab: list[bytes], eos: set[int]):
    lens = np.array([len(t) for t in vocab], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    data = np.frombuffer(b"".join(vocab), dtype=np.uint8)
    is_eos = np.array([i in eos for i in range(len(vocab))], dtype=np.uint8)
    return rx.dfa.table, rx.dfa.accept.astype(np.uint8), data, offsets, is_eos


VOCAB = [
    b"",
    b"a",
    b"b",
    b"ab",
    b"ba",
    b"aab",
    b"1",
    b"12",
    b"x",
    "é".encode(),
    b"\xc3",
    b"\xa9",
    b"-",
    b"a-1",
]


@pytest.mark.parametrize("pattern", [r"(ab|é)+a?", r"a+b*", r"[a-z]{1,3}(-[0-9]+)?", r"x|y"])
def test_dfa_check_agrees_with_advance(pattern):
    rx = Regex(pattern)
    table, accept, data, offsets, is_eos = _check_args(rx, VOCAB, {0})
    states = {rx.start()}
    for t in VOCAB:  # states one token away too
        s = rx.advance(rx.start(), t)
        if s:
            states.add(s)
    for s in sorted(states):
        memo = np.full(len(VOCAB), -1, dtype=np.int32)
        chk = _awrs.DfaCheck(table, accept, s, data, offsets, is_eos, memo)
        for t in range(1, len(VOCAB)):
            assert chk(t) == (rx.advance(s, VOCAB[t]) is not None)
            assert chk(t) == (memo[t] > 0)
        assert chk(0) == rx.is_complete(s)
        assert chk.evaluations == len(VOCAB)
        chk(3)
        assert chk.evaluations == len(VOCAB)  # memo hit
        assert list(chk.mask()) == [int(chk(t)) for t in range(len(VOCAB))]


def test_dfa_check_applies_min_tokens():
    rx = Regex(r"a+b*")
    table, accept, data, offsets, is_eos = _check_args(rx, VOCAB, {0})
    s = rx.start()
    after_a = rx.advance(s, b"a")
    min_tokens = np.zeros(table.shape[0], dtype=np.int32)
    min_tokens[after_a] = 5  # pretend "a" needs five more tokens
    memo = np.full(len(VOCAB), -1, dtype=np.int32)
    chk = _awrs.DfaCheck(table, accept, s, data, offsets, is_eos, memo, min_tokens, 4)
    assert not chk(1) and memo[1] == after_a  # the transition is memoised, the budget says no
    chk5 = _awrs.DfaCheck(table, accept, s, data, offsets, is_eos, memo, min_tokens, 5)
    assert chk5(1)
    assert chk5(3) == (min_tokens[rx.advance(s, b"ab")] <= 5)


def test_dfa_check_rejects_bad_input():
    rx = Regex(r"a+")
    table, accept, data, offsets, is_eos = _check_args(rx, VOCAB, {0})
    with pytest.raises(ValueError, match="live DFA state"):
        _awrs.DfaCheck(
            table, accept, 0, data, offsets, is_eos, np.full(len(VOCAB), -1, dtype=np.int32)
        )
    with pytest.raises(ValueError, match="memo"):
        _awrs.DfaCheck(table, accept, 1, data, offsets, is_eos, np.full(3, -1, dtype=np.int32))


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**64 - 1),
    pattern=st.sampled_from([r"(ab|é)+a?", r"a+b*", r"x|y"]),
    est=st.sampled_from(
        [_awrs.FIRST, _awrs.TWO_PASS, _awrs.RECURSIVE, _awrs.GEOMETRIC, _awrs.AUTO]
    ),
    after=st.sampled_from([-1, 0, 1, 3]),
    logits=st.lists(st.floats(-4, 4), min_size=14, max_size=14),
    remaining=st.sampled_from([None, 0, 1, 2]),
)
def test_twin_and_compiled_dfa_checks_agree(seed, pattern, est, after, logits, remaining):
    twin, comp = kernel_pair("_awrs")
    rx = Regex(pattern)
    table, accept, data, offsets, is_eos = _check_args(rx, VOCAB, {0})
    min_tokens = None
    if remaining is not None:
        min_tokens = np.random.default_rng(seed % 2**32).integers(
            0, 3, table.shape[0], dtype=np.int32
        )
    p = np.exp(np.array(logits))
    probs, blocks = layout((p / p.sum()).astype(np.float32), 4)
    outs = []
    for mod in (twin, comp):
        memo = np.full(len(VOCAB), -1, dtype=np.int32)
        rng = mod.SplitMix64(seed)
        chk = mod.DfaCheck(
            table, accept, rx.start(), data, offsets, is_eos, memo, min_tokens, remaining or 0
        )
        res = [mod.awrs_step(probs, blocks, 4, rng, chk, est, 0, after) for _ in range(4)]
        outs.append((res, memo.tolist(), chk.evaluations, rng.random()))
    assert outs[0] == outs[1]


# -- inside SMC ---------------------------------------------------------------------------------
def regex_toy():
    lm = multibyte_lm()
    rx = Regex(r"(ab|é)+a?")
    exact, z = exact_posterior(lm, PROMPT, rx.complete_ok, max_tokens=6)
    return lm, rx, exact, z


@pytest.fixture
def forced(monkeypatch):
    """Fallback after one check (at once when the mask is known): it fires all the time."""
    monkeypatch.setattr(_token, "FALLBACK_AFTER", 1)
    monkeypatch.setattr(_token, "FALLBACK_AFTER_KNOWN", 0)


def test_the_regex_toy_posterior_is_nontrivial():
    _, _, exact, z = regex_toy()
    assert 0.01 < z < 0.5 and len(exact) >= 5


@pytest.mark.parametrize("estimator", ["two-pass", "recursive", "geometric", "auto"])
def test_smc_with_the_fallback_gives_the_exact_posterior_regex(forced, estimator):
    lm, rx, exact, _ = regex_toy()
    n = 1000
    r = awrs.generate(lm, PROMPT, rx, n_particles=n, max_tokens=6, seed=4, estimator=estimator)
    assert r.stats.fallbacks > n and r.stats.masks > 0
    assert tv(r.posterior, exact) < bound(exact, n)


@pytest.mark.parametrize("estimator", ["two-pass", "recursive", "geometric"])
def test_smc_with_the_fallback_gives_the_exact_posterior_predicate(forced, estimator):
    lm, c = multibyte_lm(), multibyte_constraint()
    exact, _ = exact_posterior(lm, PROMPT, c.complete_ok, max_tokens=10)
    n = 1000
    r = awrs.generate(lm, PROMPT, c, n_particles=n, max_tokens=10, seed=5, estimator=estimator)
    assert r.stats.fallbacks > n // 2 and r.stats.masks > 0
    assert tv(r.posterior, exact) < bound(exact, n)


def test_log_ml_stays_unbiased_with_the_fallback(forced):
    lm, rx, _, z = regex_toy()
    ests = np.array(
        [
            math.exp(awrs.generate(lm, PROMPT, rx, n_particles=20, max_tokens=6, seed=s).log_ml)
            for s in range(40)
        ]
    )
    assert abs(ests.mean() - z) < 5 * ests.std(ddof=1) / math.sqrt(len(ests)) + 1e-3


def test_regex_checks_run_in_the_kernel_and_match_the_python_path(monkeypatch):
    lm, rx, _, _ = regex_toy()
    # (without the budget twist, whose bound lookups count as constraint time)
    kwargs = dict(n_particles=50, max_tokens=6, seed=9, budget_twist=False)
    fast = awrs.generate(lm, PROMPT, rx, **kwargs)
    monkeypatch.setattr(_token, "_dfa_of", lambda c: None)  # checks through Python calls
    slow = awrs.generate(lm, PROMPT, rx, **kwargs)
    assert fast.samples == slow.samples and fast.log_ml == slow.log_ml
    assert fast.stats.constraint_time == 0.0  # no Python check ran
    # the DFA memo outlives the step, so later steps re-evaluate less
    assert fast.stats.evaluations[0] == slow.stats.evaluations[0]
    assert fast.stats.total_evaluations < slow.stats.total_evaluations


def test_generate_is_identical_with_twin_and_compiled_dfa_kernel(monkeypatch, forced):
    twin, _ = kernel_pair("_awrs")
    lm, rx, _, _ = regex_toy()
    kwargs = dict(n_particles=64, max_tokens=6, seed=3, ess_threshold=0.9)
    compiled = awrs.generate(lm, PROMPT, rx, **kwargs)
    for name in ("SplitMix64", "awrs_step", "sample_token", "prepare", "DfaCheck"):
        monkeypatch.setattr(_awrs, name, getattr(twin, name))
    python = awrs.generate(lm, PROMPT, rx, **kwargs)
    assert python.samples == compiled.samples and python.log_ml == compiled.log_ml
    assert python.stats.fallbacks == compiled.stats.fallbacks > 0


def test_checker_shares_one_memo_per_dfa_state():
    lm, rx, _, _ = regex_toy()
    checker = Checker(rx, lm)
    b1, m1 = checker.bind(rx.start(), [])
    b2, m2 = checker.bind(rx.start(), [])
    assert m1 is m2 and isinstance(b1.fn, _awrs.DfaCheck)
    data, offsets, is_eos = vocab_bytes(lm)
    assert len(offsets) == len(lm.vocab) + 1 and is_eos[0] == 1


@pytest.mark.parametrize("regex", [True, False])
def test_the_fallback_bounds_the_candidates_per_particle_step(regex):
    # 2,000 tokens, nearly uniform, of which 3 letters plus EOS are allowed: a rejection
    # loop would check about 500 candidates per token
    from awrs.models.toy import ToyLM

    vocab = [b"<eos>"] + [f"{i:04d}".encode() for i in range(1996)] + [b"x", b"y", b"z"]
    probs = {i: 1.0 for i in range(1, len(vocab))}
    probs[0] = 0.5
    lm = ToyLM(vocab, 0, lambda ctx: {k: v / sum(probs.values()) for k, v in probs.items()})
    # digits are in the regex's alphabet, so no token is pruned up front
    c = (
        Regex(r"[xyz][0-9xyz]{0,2}")
        if regex
        else awrs.Predicate(
            lambda b: len(b) <= 3 and set(b) <= set(b"xyz"),
            lambda b: 1 <= len(b) <= 3 and set(b) <= set(b"xyz"),
        )
    )
    r = awrs.generate(lm, PROMPT, c, n_particles=16, max_tokens=4, seed=0)
    s = r.stats
    assert s.fallbacks > 0 and s.masks >= 1
    assert s.candidates <= (_token.FALLBACK_AFTER + 1) * s.tokens
    assert s.candidates / s.tokens < 100  # masks shared by the particles in a state
    assert r.text is not None and all(c.accepts(t) for t in r.posterior)


def test_checker_passes_min_tokens_and_remaining_to_the_dfa_check():
    lm, rx, _, _ = regex_toy()  # (ab|é)+a?: after "a" one more token ("b") is needed
    checker = Checker(rx, lm)
    s_a = rx.advance(rx.start(), b"a")
    checker.min_tokens = np.zeros(rx.dfa.n_states, dtype=np.int32)
    checker.min_tokens[s_a] = 1
    a = lm.vocab.index(b"a")
    assert not checker.bind(rx.start(), [], remaining=0)[0](a)
    assert checker.bind(rx.start(), [], remaining=1)[0](a)
    assert checker.bind(rx.start(), [])[0](a)  # no budget given: min_tokens unused
