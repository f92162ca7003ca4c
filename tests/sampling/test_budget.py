"""Budget-aware sampling: runs that can finish do, and SMC targets p(x | constraint, |x| <= T)."""

from __future__ import annotations

import math

import pytest
from sampling_helpers import BUDGET_T as T
from sampling_helpers import budget_exact as exact_toy
from sampling_helpers import budget_lm as toy_lm
from sampling_helpers import pooled, tv

import awrs
from awrs.errors import ConfigurationError
from awrs.models.toy import ToyLM
from awrs.sampling.budget import CLOSE_ADVANCES, CLOSING, KEEP, NONE, Budget


def test_four_particles_never_come_back_empty():
    lm, c = toy_lm(), awrs.Regex("a*b")
    on = [awrs.generate(lm, [0], c, n_particles=4, max_tokens=T, seed=s) for s in range(100)]
    assert not any(r.empty for r in on)
    assert sum(r.stats.budget_pruned for r in on) > 0
    assert all(r.stats.out_of_budget == 0 and r.stats.budget_dead == 0 for r in on)
    # budget-unaware: the failure (40 of 100 empty)
    off = [
        awrs.generate(lm, [0], c, n_particles=4, max_tokens=T, seed=s, budget=False)
        for s in range(100)
    ]
    assert sum(r.empty for r in off) >= 20


def test_awrs_always_finishes_in_the_budget():
    lm, c = toy_lm(), awrs.Regex("a*b")
    rs = [
        awrs.generate(lm, [0], c, method="awrs", n_particles=1, max_tokens=T, seed=s)
        for s in range(60)
    ]
    assert not any(r.empty for r in rs)
    assert all(c.accepts(r.text) and len(r.text) <= T - 1 for r in rs)
    off = [
        awrs.generate(lm, [0], c, method="awrs", n_particles=1, max_tokens=T, seed=s, budget=False)
        for s in range(60)
    ]
    assert sum(r.empty for r in off) >= 10


RUNS, N = 100, 128


@pytest.mark.parametrize(
    "estimator,twist,ess",
    [
        ("two-pass", None, 0.5),
        ("recursive", None, 0.5),  # None: the default, twist on
        ("geometric", False, 0.5),
        ("auto", True, 1.0),  # resampling at every step, so the twist steers the population
    ],
)
def test_smc_targets_the_budget_conditioned_posterior(estimator, twist, ess):
    compiled = awrs.native().get("_awrs") == "compiled"
    if not compiled and estimator != "recursive":
        pytest.skip(
            "pure-Python kernels: one estimator, fewer runs (the twins are checked "
            "against the compiled kernels in test_kernels.py)"
        )
    n_runs = RUNS if compiled else 30
    exact, z = exact_toy()
    lm, c = toy_lm(), awrs.Regex("a*b")
    runs = [
        awrs.generate(
            lm,
            [0],
            c,
            n_particles=N,
            max_tokens=T,
            seed=1000 + s,
            estimator=estimator,
            budget_twist=twist,
            ess_threshold=ess,
        )
        for s in range(n_runs)
    ]
    assert not any(r.empty for r in runs)
    post, se, zs = pooled(runs)
    assert set(post) <= set(exact)
    # each text within 4 standard errors, so the TV within half their sum (plus rounding);
    # a single run of 128 particles cannot reach TV 0.03 (its sampling noise alone is ~0.1)
    for x in exact:
        assert abs(post.get(x, 0.0) - exact[x]) <= 4 * se.get(x, 0.0) + 1e-3, (x, post, exact)
    assert tv(post, exact) <= 0.5 * sum(4 * v for v in se.values()) + 5e-3
    if compiled:
        assert tv(post, exact) < 0.03  # the target (12,800 particles in all)
    # Z is unbiased (the twist must cancel at completion, or Z would be tilted)
    mean = sum(zs) / n_runs
    sd = math.sqrt(sum((v - mean) ** 2 for v in zs) / (n_runs - 1))
    assert abs(mean - z) <= 4 * sd / math.sqrt(n_runs) + 1e-6


def test_the_twist_cancels_when_particles_finish():
    lm, c = toy_lm(), awrs.Regex("a*b")
    s = awrs.make_sampler(lm, [0], c, n_particles=8, max_tokens=T, seed=3, budget_twist=True)
    seen = 0.0
    while not s.finished:
        s.step()
        for p in s.particles:
            if p.finished:
                assert p.budget_twist == 0.0
            else:
                seen = min(seen, p.budget_twist)
    assert seen < 0  # unfinished particles carried a twist


def test_options_are_checked():
    lm, c = toy_lm(), awrs.Regex("a*b")
    with pytest.raises(ConfigurationError, match="budget_twist=True needs method='smc'"):
        awrs.generate(lm, [0], c, method="awrs", max_tokens=T, budget_twist=True)
    with pytest.raises(ConfigurationError, match="budget_twist=True needs"):
        awrs.generate(lm, [0], c, max_tokens=T, budget=False, budget_twist=True)
    with pytest.raises(
        ConfigurationError, match="budget must be True, False or 'sound', got 'yes'"
    ):
        awrs.generate(lm, [0], c, max_tokens=T, budget="yes")
    # other methods ignore it
    assert not awrs.generate(lm, [0], c, method="mask", max_tokens=T, seed=0).stats.budget_pruned


def test_grammar_and_json_finish_through_the_one_token_search():
    # the model keeps opening; only the feasibility check makes the text close in time
    g = awrs.Grammar('start: "(" start ")" | "x"\n')
    vocab = [b"(", b")", b"x", b"x)", b"))", b"<eos>"]
    lm = ToyLM(vocab, 5, lambda ctx: {0: 0.9, 1: 0.02, 2: 0.02, 3: 0.02, 4: 0.02, 5: 0.02})
    for seed in range(10):
        r = awrs.generate(lm, [0], g, n_particles=4, max_tokens=6, seed=seed)
        assert not r.empty and all(g.accepts(t) for t in r.posterior)
        assert r.stats.budget_pruned > 0
    off = [
        awrs.generate(lm, [0], g, n_particles=4, max_tokens=6, seed=s, budget=False)
        for s in range(10)
    ]
    assert sum(r.empty for r in off) >= 3


def test_budget_checks_run_only_near_the_end():
    lm = toy_lm()
    b = Budget(awrs.Regex("a*b"), lm, awrs.sampling.population.Stats("smc", 0, 1))
    assert b.bound.exact and b.bound.horizon == 1 and not b.search
    assert list(b.dfa_min_tokens[1:]) == [1, 0]  # start (a*): one "b"; after "b": done
    assert [b.active(r) for r in (2, 3, 4)] == [True, False, False]
    g = Budget(
        awrs.Grammar('start: "(" start ")" | "x"\n'),
        lm,
        awrs.sampling.population.Stats("smc", 0, 1),
        close=False,
    )
    assert g.search and [g.active(r) for r in (2, 3, 4)] == [True, True, False]
    # closing checks every step: a known completion may stop fitting at any point
    g = Budget(
        awrs.Grammar('start: "(" start ")" | "x"\n'),
        lm,
        awrs.sampling.population.Stats("smc", 0, 1),
    )
    assert g.closing is not None and all(g.active(r) for r in (2, 3, 4, 100))
    assert b.closing is None  # an exact bound needs no closing


def test_particles_given_up_by_the_budgets_rejection_cap_are_not_dead_ends():
    # 3,000 rejected tokens hold almost all the mass; "a" (accepted) is rare: near the end of
    # the budget the rejection cap gives the particle up, which is the budget's doing
    from awrs.models.toy import ToyLM
    from awrs.sampling.budget import MAX_REJECTS

    n = MAX_REJECTS + 1000
    vocab = [b"<eos>", b"a", b"<s>"] + [b"x%d" % i for i in range(n)]
    table = {i: 1.0 for i in range(3, n + 3)}
    table[0] = table[1] = 1e-9
    lm = ToyLM(vocab, 0, lambda ctx: table)
    c = awrs.Predicate(lambda b: b in (b"", b"a"), lambda b: b == b"a")
    for method in ("smc", "awrs"):
        # no completion is known without closing: no exact mask (it would cost a check per
        # accepted token), the rejection cap ends the scan
        r = awrs.generate(
            lm, [2], c, method=method, n_particles=2, max_tokens=3, seed=0, budget="sound"
        )
        assert r.empty and r.stats.dead == 0 and r.stats.budget_dead == 2, (method, r.stats)
        # closing: the known completion "a" must come now; the feasible mask finds it
        r = awrs.generate(lm, [2], c, method=method, n_particles=2, max_tokens=3, seed=0)
        assert not r.empty and set(r.posterior) == {"a"} and r.stats.budget_dead == 0, (
            method,
            r.stats,
        )


# -- closing on a grammar: the known completion is the shortest here, so the closing
# target is exactly p(x | constraint, |x| <= T)
PAREN = 'start: "(" start ")" | "x"\n'
PAREN_VOCAB = [b"(", b")", b"x", b"x)", b"))", b"<eos>"]
PAREN_P = {0: 0.9, 1: 0.02, 2: 0.02, 3: 0.02, 4: 0.02, 5: 0.02}


def exact_paren(t: int) -> dict[str, float]:
    import itertools

    g = awrs.Grammar(PAREN)
    un: dict[str, float] = {}
    for n in range(1, t):
        for seq in itertools.product(range(5), repeat=n):
            text = b"".join(PAREN_VOCAB[i] for i in seq)
            if g.accepts(text):
                key = text.decode()
                un[key] = un.get(key, 0.0) + math.prod(PAREN_P[i] for i in seq) * PAREN_P[5]
    z = sum(un.values())
    return {x: v / z for x, v in un.items()}


@pytest.mark.parametrize("twist,ess", [(False, 0.5), (True, 1.0)])
def test_closing_targets_the_budget_conditioned_posterior_of_a_grammar(twist, ess):
    t, n_runs = 7, 40
    exact = exact_paren(t)
    lm = ToyLM(PAREN_VOCAB, 5, lambda ctx: PAREN_P)
    g = awrs.Grammar(PAREN)
    runs = [
        awrs.generate(
            lm,
            [0],
            g,
            n_particles=64,
            max_tokens=t,
            seed=500 + s,
            budget_twist=twist,
            ess_threshold=ess,
        )
        for s in range(n_runs)
    ]
    assert not any(r.empty for r in runs)
    assert sum(r.stats.budget_forced for r in runs) > 0  # closing acted before the bound
    assert all(r.stats.budget_dead == 0 and r.stats.out_of_budget == 0 for r in runs)
    post, se, _ = pooled(runs)
    assert set(post) <= set(exact)
    for x in exact:
        assert abs(post.get(x, 0.0) - exact[x]) <= 4 * se.get(x, 0.0) + 2e-3, (x, post, exact)
    if twist:
        return
    # sound pruning alone: particles that keep opening run out of budget
    sound = [
        awrs.generate(lm, [0], g, n_particles=4, max_tokens=t, seed=s, budget="sound")
        for s in range(20)
    ]
    closed = [awrs.generate(lm, [0], g, n_particles=4, max_tokens=t, seed=s) for s in range(20)]
    assert not any(r.empty for r in closed)
    assert sum(r.stats.budget_dead + r.stats.out_of_budget for r in sound) > 0


def test_closing_closes_a_wandering_json_string():
    # the model keeps writing inside the string; closing needs three tokens ('","b":', "1", "}"),
    # which sound pruning (the 0/1 bound, one token ahead) sees too late
    vocab = [b'{"a":"', b"x", b'","b":', b"1", b"}", b'"', b"<eos>"]
    table = {0: 0.01, 1: 0.95, 2: 0.01, 3: 0.01, 4: 0.01, 5: 0.005, 6: 0.005}
    lm = ToyLM(vocab, 6, lambda ctx: table if ctx[1:] else {0: 1.0})
    c = awrs.JSONSchema(
        {
            "type": "object",
            "required": ["a", "b"],
            "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        }
    )
    for method in ("smc", "awrs"):
        n = 4 if method == "smc" else 1
        closed = [
            awrs.generate(lm, [6], c, method=method, n_particles=n, max_tokens=10, seed=s)
            for s in range(20)
        ]
        assert not any(r.empty for r in closed), method
        assert all(c.accepts(r.text) for r in closed)
        assert sum(r.stats.budget_forced for r in closed) > 0
        sound = [
            awrs.generate(
                lm, [6], c, method=method, n_particles=n, max_tokens=10, seed=s, budget="sound"
            )
            for s in range(20)
        ]
        assert sum(r.empty for r in sound) >= 10, method


def test_unconstrained_runs_have_no_budget_work():
    # text without a constraint may end at any token: no checks, no completion searches
    from awrs.sampling.api import make_sampler

    lm = toy_lm()
    for method in ("smc", "awrs"):
        assert (
            make_sampler(lm, [0], None, method=method, max_tokens=5, seed=0).run.budget.mode
            == "off"
        )
        assert (
            make_sampler(
                lm, [0], awrs.Regex("a*b"), method=method, max_tokens=5, seed=0
            ).run.budget.mode
            == "on"
        )


def test_regular_patterns_get_the_exact_bound_of_their_dfa():
    from awrs.sampling.token import Checker

    lm = toy_lm()
    pattern = awrs.Pattern("a*b")
    assert pattern.regular
    b = Budget(pattern, lm, awrs.sampling.population.Stats("smc", 0, 1))
    assert b.bound.exact and b.closing is None and b.dfa_min_tokens is not None
    assert Checker(pattern, lm).dfa_state(pattern.start())  # checked inside the kernel
    runs = [awrs.generate(lm, [0], pattern, n_particles=4, max_tokens=T, seed=s) for s in range(30)]
    regex = [
        awrs.generate(lm, [0], awrs.Regex("a*b"), n_particles=4, max_tokens=T, seed=s)
        for s in range(30)
    ]
    assert [r.posterior for r in runs] == [r.posterior for r in regex]
    assert not any(r.empty for r in runs)
    # a pattern the DFA cannot express keeps the matcher and the inexact bound
    assert not Budget(
        awrs.Pattern(r"^(a+|b(?1))$"), lm, awrs.sampling.population.Stats("smc", 0, 1)
    ).bound.exact


def test_the_last_token_checks_only_the_end_of_sequence():
    # "(" is likely: most particles are still open at the last token, which can only be EOS
    lm = ToyLM(PAREN_VOCAB, 5, lambda ctx: PAREN_P)
    g = awrs.Grammar(PAREN)
    for budget in (True, "sound"):
        r = awrs.generate(lm, [0], g, n_particles=8, max_tokens=5, seed=3, budget=budget)
        assert r.stats.evaluations[-1] <= 8, (budget, r.stats.evaluations)
        assert all(g.accepts(x) for x in r.posterior)


def test_a_particle_without_known_completion_keeps_searching_at_growing_intervals():
    # a lookahead the prefix check cannot judge (a back-reference to an unbounded group: not
    # regular): "hell" passes it but no completion exists (a repeated substring), so its search
    # walks its whole limit; its descendants are searched again after 1, 4, 16, ... tokens
    lm = ToyLM([b"he", b"l", b"o", b"x", b"<eos>"], 4, lambda ctx: {i: 0.2 for i in range(5)})
    pattern = awrs.Pattern(r"\b(?!\w*(\w+)\1)\w+\b")
    assert not pattern.regular
    b = Budget(pattern, lm, awrs.sampling.population.Stats("smc", 0, 1))
    state = pattern.advance(pattern.start(), b"hell")
    assert state is not None and b.closing.entry(state) == (None, None)
    searched = []
    for _ in range(8):
        child = pattern.advance(state, b"o")
        assert child is not None
        b._close_until = b.closing.advances + CLOSE_ADVANCES  # a particle-step's pool
        put_off = b.descend(state, child)
        searched.append(not put_off)
        if not put_off:
            assert b._known(child, state, b"o") == (None, NONE)  # searched, in vain
            assert b.closing.cached(child) == (None, None)
        else:
            before = b.closing.searches
            assert b._known(child, state, b"o") == (None, NONE)
            assert b.closing.searches == before and b.closing.cached(child) is None
        state = child
    assert searched == [True, False, False, True, False, False, False, False]
    # a parent with a known completion passes nothing on, and puts nothing off
    ok = pattern.advance(pattern.start(), b"he")
    assert b.closing.entry(ok)[0] == 0 and not b.descend(ok, pattern.advance(ok, b"x"))


def test_a_token_that_loses_the_known_completion_is_pruned():
    # "(" closes in "x)"; from "((" the search finds "x))": every state keeps one. A state
    # whose search finds none (here: the pool allows no search) is pruned after a known one,
    # unless the token follows the parent's completion (its rest is known without a search)
    g = awrs.Grammar('start: "(" start ")" | "x"\n')
    lm = ToyLM(PAREN_VOCAB, 5, lambda ctx: PAREN_P)
    b = Budget(g, lm, awrs.sampling.population.Stats("awrs", 0, 1))
    parent = g.advance(g.start(), b"(")
    assert b.closing.entry(parent) == (1, b"x)")
    follow, other = g.advance(parent, b"x"), g.advance(parent, b"(")
    b._close_until = b.closing.advances  # the pool is spent
    assert b.verdict(follow, 10, parent, b"x") == KEEP  # ")" is known to close it
    assert b.verdict(other, 10, parent, b"(") == CLOSING  # unverified: pruned
    b._close_until = b.closing.advances + CLOSE_ADVANCES
    assert b.verdict(other, 10, parent, b"(") == KEEP  # searched: "x))"
    assert b.verdict(other, 3, parent, b"(") == CLOSING  # 2 tokens do not fit in 1


def test_a_search_cut_short_by_the_steps_pool_is_searched_again():
    from awrs.constraints.closing import Closing

    g = awrs.Grammar('start: "(" start ")" | "x"\n')
    state = g.advance(g.start(), b"((((((")
    cl = Closing(g, frozenset([b"(", b")", b"x"]))
    assert cl.entry(state, limit=3) == (None, None) and cl.cached(state) is None
    assert cl.entry(state) == (7, b"x))))))") and cl.searches == 2


def test_prepare_computes_the_per_model_tables_once():
    from awrs.sampling.budget import completion_bound
    from awrs.sampling.tables import ATTRIBUTE

    lm, pattern = toy_lm(), awrs.Regex("a*b")
    assert not hasattr(pattern, ATTRIBUTE)  # the constraint's per-model tables
    awrs.prepare(pattern, lm)
    kept = getattr(pattern, ATTRIBUTE)[lm]
    bound = kept["completion_bound"]
    assert bound.exact and "pruning_mask" in kept
    assert completion_bound(pattern, lm) is bound  # what a run uses


def test_the_twist_follows_the_known_completion():
    from awrs.sampling.budget import UNKNOWN_TWIST

    lm = ToyLM([b"he", b"l", b"o", b"x", b"<eos>"], 4, lambda ctx: {i: 0.2 for i in range(5)})
    pattern = awrs.Pattern(r"\b(?!\w*(\w+)\1)\w+\b")
    b = Budget(pattern, lm, awrs.sampling.population.Stats("smc", 0, 1), twist=True)
    dead = pattern.advance(pattern.start(), b"hell")  # no completion: the search finds none
    assert b.closing.entry(dead) == (None, None)
    assert b.log_twist(dead, 10) == UNKNOWN_TWIST < math.log(0.5)
    ok = pattern.advance(pattern.start(), b"he")  # complete as it is
    assert b.closing.entry(ok)[0] == 0 and b.log_twist(ok, 10) == pytest.approx(0.0)
    fresh = pattern.advance(pattern.start(), b"h")  # not searched yet: the bound alone
    assert b.closing.cached(fresh) is None
    assert b.log_twist(fresh, 10) == math.log((11 - b.bound.min_tokens(fresh)) / 11)
