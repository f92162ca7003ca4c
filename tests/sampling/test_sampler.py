"""Step-able samplers: same results as ``generate`` (and as before the restructuring), external
log-probabilities, dead and out-of-budget counts, models without a temperature argument."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from sampling_helpers import (
    Recording,
    distorting_constraint,
    distorting_lm,
    multibyte_constraint,
    multibyte_lm,
)

import awrs
from awrs.errors import ConfigurationError
from awrs.models.toy import ToyLM
from awrs.sampling import make_sampler

METHODS = ["smc", "awrs", "mask", "rerank", "direct"]
REFERENCE = json.loads((Path(__file__).parent / "reference_outputs.json").read_text())


def _record(r):
    return [[s.text, list(s.token_ids), repr(s.log_weight), s.finished] for s in r.samples] + [
        repr(r.log_ml),
        r.stats.steps,
        r.stats.tokens,
        r.stats.evaluations,
        [round(e, 12) for e in r.stats.ess],
        r.stats.resampled,
    ]


@pytest.mark.parametrize("name", ["mb", "dist"])
@pytest.mark.parametrize("method", METHODS)
def test_generate_reproduces_the_outputs_recorded_before_the_step_api(name, method):
    """Outputs recorded with the loop-based samplers (commit 0156849) for 5 seeds x 2 temperatures
    (smc without the budget twist, which it had not then)."""
    lm, c = (
        (multibyte_lm(), multibyte_constraint())
        if name == "mb"
        else (distorting_lm(), distorting_constraint())
    )
    kw = {"budget_twist": False} if method == "smc" else {}
    for seed in range(5):
        for t in (1.0, 0.7):
            r = awrs.generate(
                lm,
                [1],
                None if method == "direct" else c,
                method=method,
                n_particles=6,
                max_tokens=8,
                seed=seed,
                temperature=t,
                **kw,
            )
            assert _close(_record(r), REFERENCE[f"{name}-{method}-{seed}-{t}"])


def _close(got, want) -> bool:
    """Equal records, log weights and ``log_ml`` (kept as reprs) to 1e-12 relative: a change
    of path in the budget may sum the same terms in another order (an ulp apart)."""
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(_close(a, b) for a, b in zip(got, want, strict=True))
    if isinstance(got, str) and isinstance(want, str) and got != want:
        try:
            return math.isclose(float(got), float(want), rel_tol=1e-12)
        except ValueError:
            return False
    return got == want


@pytest.mark.parametrize("method", METHODS)
def test_stepping_by_hand_with_external_logprobs_equals_generate(method):
    lm, c = multibyte_lm(), multibyte_constraint()
    c = None if method == "direct" else c
    kw = dict(method=method, n_particles=5, max_tokens=6, seed=11, temperature=0.8)
    expected = awrs.generate(lm, [1], c, **kw)
    s = make_sampler(lm, [1], c, **kw)
    steps = 0
    while not s.finished:
        ctx = s.contexts()
        assert ctx and all(x[:1] == [1] for x in ctx)
        s.step(lm.next_token_logprobs(ctx, 0.8))
        steps += 1
    assert s.contexts() == []
    got = s.result()
    assert _record(got)[:-5] == _record(expected)[:-5]
    assert got.posterior == expected.posterior and steps == expected.stats.steps
    with pytest.raises(ConfigurationError, match="finished sampler"):
        s.step()


def test_step_rejects_logprobs_of_the_wrong_batch():
    lm = multibyte_lm()
    s = make_sampler(lm, [1], multibyte_constraint(), n_particles=3, max_tokens=4, seed=0)
    with pytest.raises(ConfigurationError, match=r"expected 1 \(one per entry"):
        s.step(torch.zeros((2, len(lm.vocab))))


def test_cancel_ends_a_sampler_with_what_it_has():
    lm = multibyte_lm()
    s = make_sampler(lm, [1], multibyte_constraint(), n_particles=3, max_tokens=4, seed=0)
    s.step()
    s.cancel()
    assert s.finished and s.contexts() == []
    assert s.result().stats.steps == 1


def test_dead_particles_are_counted_apart_from_budget():
    # after "a" only "b" is proposed by the model, and the constraint forbids it: a dead end
    vocab = [b"<eos>", b"a", b"b", b"<s>"]
    lm = ToyLM(vocab, 0, {(3,): {1: 1.0}, (3, 1): {2: 1.0}}, default={0: 1.0})
    c = awrs.Regex("a")
    for method in ("smc", "awrs"):
        r = awrs.generate(lm, [3], c, method=method, n_particles=4, max_tokens=5, seed=0)
        assert r.empty and r.stats.dead == 4 and r.stats.out_of_budget == 0
    # "a" forever never finishes within the budget: out of budget, not dead
    lm2 = ToyLM(vocab, 0, lambda ctx: {1: 1.0})
    for method in ("smc", "awrs", "mask"):
        extra = {} if method == "mask" else {"budget": False}
        r = awrs.generate(
            lm2, [3], awrs.Regex("a*b"), method=method, n_particles=3, max_tokens=4, seed=0, **extra
        )
        assert r.empty and r.stats.dead == 0 and r.stats.out_of_budget == 3, method
    # budget-aware: "a" is pruned once "b" no longer fits, which leaves no token at all
    for method in ("smc", "awrs"):
        r = awrs.generate(
            lm2, [3], awrs.Regex("a*b"), method=method, n_particles=3, max_tokens=4, seed=0
        )
        assert r.empty and r.stats.budget_dead == 3 and r.stats.budget_pruned == 1, method
        assert r.stats.dead == 0 and r.stats.out_of_budget == 0, method


class NoTemperatureLM(awrs.LanguageModel):
    """A model written from the README's description: ``next_token_logprobs(self, contexts)``."""

    def __init__(self):
        self.inner = multibyte_lm()
        self.vocab = self.inner.vocab
        self.eos_token_ids = self.inner.eos_token_ids

    def next_token_logprobs(self, contexts):
        return self.inner.next_token_logprobs(contexts)


@pytest.mark.parametrize("method", METHODS)
def test_models_without_a_temperature_argument_work_with_every_method(method):
    lm = NoTemperatureLM()
    c = None if method == "direct" else multibyte_constraint()
    for t in (1.0, 0.5):
        got = awrs.generate(
            lm, [1], c, method=method, n_particles=4, max_tokens=5, seed=3, temperature=t
        )
        want = awrs.generate(
            lm.inner, [1], c, method=method, n_particles=4, max_tokens=5, seed=3, temperature=t
        )
        assert [s.token_ids for s in got.samples] == [s.token_ids for s in want.samples]
        for a, b in zip(got.samples, want.samples, strict=True):
            assert (
                a.log_weight == pytest.approx(b.log_weight, rel=1e-5, abs=1e-6)
                or a.log_weight == b.log_weight
            )


def test_temperature_applied_to_returned_logprobs_is_exact():
    from awrs.sampling.population import call_lm

    lm = NoTemperatureLM()
    got = call_lm(lm, [[1, 2]], 0.5)
    want = lm.inner.next_token_logprobs([[1, 2]], 0.5)
    assert torch.allclose(got, want, atol=1e-6)
    assert math.isclose(float(got.exp().sum()), 1.0, rel_tol=1e-5)


def test_generate_makes_one_model_call_per_step():
    lm = Recording(multibyte_lm())
    r = awrs.generate(lm, [1], multibyte_constraint(), n_particles=4, max_tokens=5, seed=1)
    assert len(lm.calls) == r.stats.steps == r.stats.lm_calls
