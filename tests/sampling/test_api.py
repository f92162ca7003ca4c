"""``awrs.generate``: validation, results, error surfacing, evaluation counts, pruning, caching."""

from __future__ import annotations

import dataclasses
import math

import pytest
from sampling_helpers import multibyte_constraint, multibyte_lm

import awrs
from awrs.constraints.base import IncrementalConstraint
from awrs.errors import ConfigurationError, ConstraintEvaluationError
from awrs.models.toy import ToyLM
from awrs.sampling.api import Result, Sample
from awrs.sampling.token import Checker, pruning_mask

PROMPT = [1]


@pytest.fixture
def lm():
    return multibyte_lm()


@pytest.fixture
def c():
    return multibyte_constraint()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_particles": 0}, "n_particles must be an integer >= 1, got 0"),
        ({"n_particles": 2.5}, "n_particles"),
        ({"temperature": 0}, "temperature must be a finite number > 0, got 0"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": math.inf}, "temperature"),
        ({"max_tokens": 0}, "max_tokens must be an integer >= 1, got 0"),
        ({"ess_threshold": 1.5}, r"ess_threshold must lie in \[0, 1\], got 1.5"),
        ({"ess_threshold": -0.1}, "ess_threshold"),
        ({"ess_threshold": math.nan}, "ess_threshold"),
        ({"method": "beam"}, "unknown method 'beam'"),
        ({"estimator": "magic"}, "unknown estimator 'magic'"),
        ({"resampling": "residual"}, "unknown resampling scheme 'residual'"),
        ({"max_rejects": 0}, "max_rejects must be None or an integer >= 1, got 0"),
        ({"critic": 3}, "critic must be a function"),
        ({"seed": "x"}, "seed must be an integer or None"),
        ({"method": "awrs", "critic": lambda s: 0.0}, "critic not used by method='awrs'"),
        ({"method": "mask", "estimator": "geometric"}, "estimator not used by method='mask'"),
        ({"method": "rerank", "resampling": "multinomial"}, "resampling not used"),
        ({"method": "mask", "max_rejects": 3}, "max_rejects not used by method='mask'"),
        ({"method": "direct"}, "method='direct' samples without a constraint"),
    ],
)
def test_bad_options_raise_configuration_errors(lm, c, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        awrs.generate(lm, PROMPT, c, **kwargs)


def test_bad_prompts_and_constraints(lm, c):
    with pytest.raises(ConfigurationError, match="no tokens"):
        awrs.generate(lm, [], c)
    with pytest.raises(ConfigurationError, match="prompt token ids"):
        awrs.generate(lm, [1, 99], c)
    with pytest.raises(ConfigurationError, match="string or a list of token ids"):
        awrs.generate(lm, 5, c)
    with pytest.raises(ConfigurationError, match="must be an awrs Constraint"):
        awrs.generate(lm, PROMPT, "[0-9]+")
    lm.max_length = 4
    with pytest.raises(
        ConfigurationError,
        match="prompt of 5 tokens is longer than the model's context of 4 tokens",
    ):
        awrs.generate(lm, [1] * 5, c)
    with pytest.raises(ConfigurationError, match="expected max_tokens <= 3"):
        awrs.generate(lm, [1, 1], c, max_tokens=4)
    assert not awrs.generate(lm, [1, 1], c, max_tokens=3, seed=0, n_particles=4).empty


def test_text_prompts_use_the_model_encoding(lm, c):
    r = awrs.generate(lm, "a", c, n_particles=4, seed=0, raw=True)
    r2 = awrs.generate(lm, PROMPT, c, n_particles=4, seed=0)
    assert r.samples == r2.samples  # "a" encodes to [1] in the toy vocabulary


@pytest.mark.parametrize("method", ["smc", "awrs", "mask", "rerank", "direct"])
def test_result_shape(lm, c, method):
    r = awrs.generate(
        lm, PROMPT, None if method == "direct" else c, method=method, n_particles=12, seed=1
    )
    assert isinstance(r, Result) and len(r.samples) == 12
    assert all(isinstance(s, Sample) for s in r.samples)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.samples[0].text = "x"
    assert not hasattr(r, "__dict__")  # slotted
    assert len(set(r.posterior)) == len(r.posterior)
    assert sum(r.posterior.values()) == pytest.approx(1.0)
    assert list(r.posterior.values()) == sorted(r.posterior.values(), reverse=True)
    assert r.text == next(iter(r.posterior))
    for s in r.samples:
        assert s.text == lm.decode(list(s.token_ids))
        if s.finished and s.log_weight > -math.inf and method != "direct":
            assert c.complete_ok(lm.decode_bytes(s.token_ids))
    if method in ("awrs", "mask", "direct"):
        assert math.isnan(r.log_ml)
        assert {s.log_weight for s in r.samples} <= {0.0, -math.inf}
    st = r.stats
    assert st.method == method and st.seed == 1 and st.n_particles == 12
    assert st.wall_time >= st.lm_time >= 0 and st.sampler_time >= 0
    assert len(st.evaluations) == st.steps


def test_posterior_merges_duplicate_texts():
    lm = ToyLM(
        [b"<eos>", b"a", b"aa"], 0, {(1,): {1: 0.5, 2: 0.5}, (1, 1): {1: 1.0}}, default={0: 1.0}
    )
    c = awrs.Predicate(lambda b: True, lambda b: True)
    r = awrs.generate(lm, [1], c, n_particles=40, seed=0)
    assert r.posterior == {"aa": pytest.approx(1.0)}
    assert {s.token_ids for s in r.samples} == {(1, 1), (2,)}


def test_unconstrained_smc_is_direct_sampling(lm):
    r = awrs.generate(lm, PROMPT, None, n_particles=50, seed=0)
    assert r.stats.resampled == []
    assert all(s.finished for s in r.samples)
    assert r.log_ml == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("method", ["smc", "awrs", "mask", "rerank"])
def test_constraint_errors_surface_with_the_prefix(lm, method):
    def prefix_ok(b: bytes) -> bool:
        if b.endswith(b"b"):
            raise ZeroDivisionError("boom")
        return True

    c = awrs.Predicate(prefix_ok, lambda b: b.endswith(b"bb") and 1 / 0)
    with pytest.raises(ConstraintEvaluationError, match="raised ZeroDivisionError") as info:
        for seed in range(20):
            awrs.generate(lm, PROMPT, c, method=method, n_particles=4, seed=seed)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    if method == "mask":  # the trie walk hit it somewhere below the particle's prefix
        assert "token mask" in str(info.value)
    else:
        assert info.value.prefix.endswith(b"b")
        assert repr(info.value.prefix) in str(info.value)


def test_constraint_errors_in_is_complete_name_the_text(lm):
    class Bad(IncrementalConstraint):
        def start(self):
            return b""

        def advance(self, state, token):
            return state + token

        def is_complete(self, state):
            raise ValueError(f"cannot judge {state!r}")

    with pytest.raises(ConstraintEvaluationError, match="as a complete string") as info:
        awrs.generate(lm, PROMPT, Bad(), n_particles=4, seed=0, budget=False)
    assert isinstance(info.value.prefix, bytes)
    # with the budget on, the completion search meets it first, and names the text too
    with pytest.raises(ConstraintEvaluationError, match="bounding its shortest completion"):
        awrs.generate(lm, PROMPT, Bad(), n_particles=4, seed=0)


class Spy(IncrementalConstraint):
    """Records every (state, token) checked; accepts strings over {a, b}; declares an alphabet."""

    def __init__(self, alphabet=frozenset(b"ab")):
        self.calls: list[tuple[bytes, bytes]] = []
        self._alphabet = alphabet

    def start(self):
        return b""

    def advance(self, state, token):
        self.calls.append((state, token))
        new = state + token
        return new if set(new) <= set(b"ab") else None

    def is_complete(self, state):
        return True

    def alphabet(self):
        return self._alphabet


def test_tokens_outside_the_alphabet_are_pruned_up_front(lm):
    spy = Spy()
    r = awrs.generate(lm, PROMPT, spy, n_particles=30, seed=0)
    assert spy.calls, "the constraint was never consulted"
    assert all(set(tok) <= set(b"ab") for _, tok in spy.calls)
    assert all(set(s.text) <= set("ab") for s in r.samples)
    keep = pruning_mask(spy, lm)
    assert keep.tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # EOS kept, é bytes pruned
    assert pruning_mask(spy, lm) is keep  # computed once per (constraint, model)
    without = Spy(alphabet=None)
    awrs.generate(lm, PROMPT, without, n_particles=30, seed=0)
    assert any(not set(tok) <= set(b"ab") for _, tok in without.calls)


def test_checks_are_cached_within_a_step_for_shared_states(lm):
    spy = Spy(alphabet=None)
    checker = Checker(spy, lm)
    state = spy.start()
    check1, memo1 = checker.bind(state, [])
    check2, memo2 = checker.bind(state, [])
    assert check1(1) and check2(1) and not check1(4) and not check2(4)
    assert checker.evaluations == 2 and len(spy.calls) == 2
    assert memo1 is memo2 and Checker.result(memo1, 1) == b"a"
    checker.new_step()
    check3, _ = checker.bind(state, [])
    check3(1)
    assert checker.evaluations == 3


def test_smc_counts_fewer_evaluations_than_masking(lm, c):
    smc = awrs.generate(lm, PROMPT, c, n_particles=20, seed=0)
    mask = awrs.generate(lm, PROMPT, c, method="mask", n_particles=20, seed=0)
    v = len(lm.vocab)
    # masking: V evaluations per sampled token (every step ends before the budget here)
    assert mask.stats.evaluations == [v * n for n in _tokens_per_step(mask)]
    assert 0 < smc.stats.evaluations_per_token < v


def _tokens_per_step(r):
    # a sample was in the batch for each of its tokens, and at the step it ended or died
    alive = [len(s.token_ids) + (s.finished or s.log_weight == -math.inf) for s in r.samples]
    return [sum(1 for a in alive if a > t) for t in range(r.stats.steps)]


def test_mask_uses_the_constraints_token_mask(lm):
    class Masked(Spy):
        masks = 0

        def token_mask(self, state, trie):
            Masked.masks += 1
            return super().token_mask(state, trie)

    r = awrs.generate(lm, PROMPT, Masked(), method="mask", n_particles=5, seed=0)
    assert Masked.masks == r.stats.tokens


def test_max_rejects_kills_particles_with_many_rejections(lm):
    only_ab = awrs.Predicate(lambda b: set(b) <= set(b"ab") and b"bb" not in b, lambda b: True)
    r = awrs.generate(lm, PROMPT, only_ab, method="awrs", n_particles=40, seed=0, max_rejects=1)
    assert any(s.log_weight == -math.inf for s in r.samples)
    assert max(r.stats.evaluations) <= 40  # at most one rejection + one acceptance each


def test_temperature_reaches_the_model(lm):
    hot = awrs.generate(
        lm, PROMPT, None, method="direct", n_particles=300, seed=0, temperature=50.0
    )
    cold = awrs.generate(
        lm, PROMPT, None, method="direct", n_particles=300, seed=0, temperature=0.05
    )
    # near-greedy: the most likely first token ("a", 0.3) almost always; hot: near uniform
    assert sum(s.token_ids[:1] == (1,) for s in cold.samples) > 290
    assert sum(s.token_ids[:1] == (1,) for s in hot.samples) < 100


def test_rerank_keeps_only_accepted_samples(lm, c):
    r = awrs.generate(lm, PROMPT, c, method="rerank", n_particles=200, seed=0)

    def ok(s):
        return c.complete_ok(lm.decode_bytes(s.token_ids))

    kept = [s for s in r.samples if s.log_weight == 0.0]
    assert kept and all(ok(s) and s.finished for s in kept)
    assert all(not ok(s) or not s.finished for s in r.samples if s.log_weight == -math.inf)
    assert r.log_ml == pytest.approx(math.log(len(kept) / 200))


def test_progress_bar_runs(lm, c, capsys):
    r = awrs.generate(lm, PROMPT, c, n_particles=4, seed=0, progress=True)
    assert not r.empty
