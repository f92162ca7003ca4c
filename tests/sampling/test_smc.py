"""SMC against exact posteriors of toy models; the local baselines' bias; SMC invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sampling_helpers import (
    Recording,
    distorting_constraint,
    distorting_lm,
    exact_posterior,
    multibyte_constraint,
    multibyte_lm,
    tv,
)

import awrs
from awrs.errors import RewardError
from awrs.kernels import awrs as _awrs
from awrs.sampling.population import Particle
from awrs.sampling.smc import resample_population

PROMPT = [1]


def bound(exact: dict, n: int) -> float:
    """TV bound for n weighted particles: the empirical TV of K outcomes is ~ sqrt(K / n)."""
    return 1.5 * math.sqrt(len(exact) / n)


@pytest.fixture(scope="module")
def toy():
    lm, c = multibyte_lm(), multibyte_constraint()
    exact, z = exact_posterior(lm, PROMPT, c.complete_ok, max_tokens=10)
    return lm, c, exact, z


def test_the_toy_posterior_is_nontrivial(toy):
    _, _, exact, z = toy
    assert 0.2 < z < 0.8 and 20 < len(exact) < 40
    assert any("é" in t for t in exact)


@pytest.mark.parametrize("n", [200, 2000])
def test_smc_converges_to_the_exact_posterior(toy, n):
    lm, c, exact, _ = toy
    r = awrs.generate(lm, PROMPT, c, n_particles=n, max_tokens=10, seed=n)
    assert not r.empty
    assert tv(r.posterior, exact) < bound(exact, n)
    assert all(c.accepts(t) for t in r.posterior)


@pytest.mark.parametrize("estimator", ["two-pass", "recursive", "geometric"])
def test_every_estimator_gives_the_posterior(toy, estimator):
    lm, c, exact, _ = toy
    n = 1000
    r = awrs.generate(lm, PROMPT, c, n_particles=n, max_tokens=10, seed=1, estimator=estimator)
    assert tv(r.posterior, exact) < bound(exact, n)


@pytest.mark.parametrize("scheme", ["multinomial", "systematic"])
def test_every_resampling_scheme_gives_the_posterior(toy, scheme):
    lm, c, exact, _ = toy
    n = 1000
    r = awrs.generate(
        lm, PROMPT, c, n_particles=n, max_tokens=10, seed=2, resampling=scheme, ess_threshold=0.9
    )
    assert r.stats.resampled
    assert tv(r.posterior, exact) < bound(exact, n)


def test_log_ml_is_an_unbiased_estimate_of_the_constraint_probability(toy):
    lm, c, _, z = toy
    ests = np.array(
        [
            math.exp(awrs.generate(lm, PROMPT, c, n_particles=20, max_tokens=10, seed=s).log_ml)
            for s in range(30)
        ]
    )
    assert abs(ests.mean() - z) < 5 * ests.std(ddof=1) / math.sqrt(len(ests)) + 1e-3


def test_max_tokens_ends_with_eos_at_its_probability():
    lm, c = multibyte_lm(), multibyte_constraint()
    exact, _ = exact_posterior(lm, PROMPT, c.complete_ok, max_tokens=3)
    n = 1000
    r = awrs.generate(lm, PROMPT, c, n_particles=n, max_tokens=3, seed=3)
    assert max(len(s.token_ids) for s in r.samples) <= 2
    assert all(s.finished or s.log_weight == -math.inf for s in r.samples)
    assert tv(r.posterior, exact) < bound(exact, n)


def test_local_decoding_is_biased_where_smc_is_not():
    lm, c = distorting_lm(), distorting_constraint()
    exact, _ = exact_posterior(lm, [3], c.complete_ok, max_tokens=5)
    assert exact["a"] == pytest.approx(0.005 / 0.505)
    n = 400
    for method in ("awrs", "mask"):
        r = awrs.generate(lm, [3], c, method=method, n_particles=n, max_tokens=5, seed=4)
        assert abs(r.posterior["a"] - 0.5) < 5 * math.sqrt(0.25 / n)
        assert tv(r.posterior, exact) > 0.3
    r = awrs.generate(lm, [3], c, n_particles=n, max_tokens=5, seed=4)
    assert tv(r.posterior, exact) < bound(exact, n)


def test_critic_tilts_the_posterior(toy):
    lm, c, exact, _ = toy

    def critic(text: str) -> float:
        return 2.0 * text.count("b")

    tilted = {t: p * math.exp(2.0 * t.count("b")) for t, p in exact.items()}
    z = sum(tilted.values())
    tilted = {t: p / z for t, p in tilted.items()}
    n = 1500
    r = awrs.generate(lm, PROMPT, c, n_particles=n, max_tokens=10, seed=5, critic=critic)
    gap = tv(tilted, exact)
    assert gap > 2 * bound(exact, n)
    assert tv(r.posterior, tilted) < bound(exact, n)
    assert tv(r.posterior, exact) > gap - bound(exact, n)


@pytest.mark.parametrize(
    "bad, match", [(lambda s: float("nan"), "nan"), (lambda s: 1 / 0, "ZeroDivisionError")]
)
def test_a_failing_critic_is_reported(toy, bad, match):
    lm, c, _, _ = toy
    with pytest.raises(RewardError, match=match):
        awrs.generate(lm, PROMPT, c, n_particles=4, max_tokens=10, seed=0, critic=bad)


# -- invariants ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_weights_ess_and_stats_are_consistent(toy, seed):
    lm, c, _, _ = toy
    n = 16
    r = awrs.generate(
        lm,
        PROMPT,
        c,
        n_particles=n,
        max_tokens=10,
        seed=seed,
        ess_threshold=[0.0, 0.5, 1.0][seed % 3],
    )
    lw = np.array([s.log_weight for s in r.samples])
    assert len(r.samples) == n
    assert not np.isnan(lw).any() and not (lw == math.inf).any()
    assert all(1.0 - 1e-9 <= e <= n + 1e-9 for e in r.stats.ess)
    st = r.stats
    assert len(st.evaluations) == st.steps == st.lm_calls
    assert all(0 <= s < st.steps for s in st.resampled)
    if seed % 3 == 0:
        assert st.resampled == []
    assert sum(r.posterior.values()) == pytest.approx(1.0)
    assert r.text == max(r.posterior, key=r.posterior.get)
    assert all(s.finished or s.log_weight == -math.inf for s in r.samples)


def test_one_batched_model_call_per_step(toy):
    lm, c, _, _ = toy
    before = lm.calls
    r = awrs.generate(lm, PROMPT, c, n_particles=8, max_tokens=10, seed=0)
    assert lm.calls - before == r.stats.steps == r.stats.lm_calls


def test_resampling_preserves_the_mean_weight():
    rng = _awrs.SplitMix64(0)
    rs = np.random.default_rng(0)
    for scheme in ("multinomial", "stratified", "systematic"):
        for _ in range(20):
            lw = rs.normal(size=10) * 3
            lw[rs.random(10) < 0.3] = -math.inf
            if np.all(lw == -math.inf):
                lw[0] = 0.0
            ps = [Particle([i], None, float(w)) for i, w in enumerate(lw)]
            out = resample_population(ps, scheme, rng)
            assert len(out) == len(ps)
            before = np.mean(np.exp(lw))
            after = np.mean(np.exp([p.log_w for p in out]))
            assert after == pytest.approx(before, rel=1e-12)
            assert all(lw[p.ids[0]] > -math.inf for p in out)
            assert all(p is not q for p in out for q in ps)


def test_a_fixed_seed_reproduces_exactly(toy):
    lm, c, _, _ = toy
    runs = [awrs.generate(lm, PROMPT, c, n_particles=12, max_tokens=10, seed=s) for s in (7, 7, 8)]
    assert runs[0].samples == runs[1].samples and runs[0].posterior == runs[1].posterior
    assert runs[0].stats.resampled == runs[1].stats.resampled
    assert runs[0].samples != runs[2].samples


def test_seed_none_is_recorded_and_reproducible(toy):
    lm, c, _, _ = toy
    r = awrs.generate(lm, PROMPT, c, n_particles=6, max_tokens=10)
    again = awrs.generate(lm, PROMPT, c, n_particles=6, max_tokens=10, seed=r.stats.seed)
    assert r.samples == again.samples


def test_all_particles_dead_gives_an_empty_flagged_result(toy):
    lm, _, _, _ = toy
    nothing = awrs.Predicate(lambda b: b == b"", lambda b: False)
    for method in ("smc", "awrs", "mask", "rerank"):
        r = awrs.generate(lm, PROMPT, nothing, method=method, n_particles=5, max_tokens=10, seed=0)
        assert r.empty and r.text is None and r.posterior == {}
        assert all(not s.finished or s.log_weight == -math.inf for s in r.samples)
    r = awrs.generate(lm, PROMPT, nothing, n_particles=5, max_tokens=10, seed=0)
    assert r.log_ml == -math.inf
    assert all(s.log_weight == -math.inf for s in r.samples)


@pytest.mark.parametrize("method", ["smc", "awrs", "mask", "direct"])
def test_contexts_advance_in_lockstep_without_finished_particles(toy, method):
    lm, c, _, _ = toy
    rec = Recording(lm)
    r = awrs.generate(
        rec,
        PROMPT,
        None if method == "direct" else c,
        method=method,
        n_particles=32,
        max_tokens=10,
        seed=9,
        ess_threshold=1.0,
    )
    assert len(rec.calls) == r.stats.steps
    assert all(len(set(call)) == len(call) for call in rec.calls)  # shared contexts, one row
    assert len(rec.calls[0]) == 1  # every sequence starts from the prompt
    assert sum(len(call) for call in rec.calls) <= r.stats.tokens
    for t, call in enumerate(rec.calls):
        assert all(len(ctx) == len(PROMPT) + t for ctx in call)  # finished ones never return
        if t:
            previous = set(rec.calls[t - 1])
            assert all(ctx[:-1] in previous for ctx in call)  # each extends a previous context
    if method == "smc":
        assert r.stats.resampled
