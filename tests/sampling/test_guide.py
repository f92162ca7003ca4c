"""The constraint's guide (``Constraint.guide``) in SMC: a twist on prefixes that cancels at
completion, so the target stays p(x | constraint, |x| <= T), unlike ``critic=``, which also
scores the finished text."""

from __future__ import annotations

import math

import pytest
from sampling_helpers import BUDGET_T as T
from sampling_helpers import budget_exact, budget_lm, pooled, tv

import awrs
from awrs.errors import ConfigurationError, RewardError

RUNS, N = 60, 64
PENALTY = 1.5  # log-weight per "a": a strong guide towards short texts


class Guided(awrs.Regex):
    """``a*b`` whose guide penalises every ``a`` written so far."""

    def guide(self, prefix: str) -> float:
        return -PENALTY * prefix.count("a")


def _runs(**kw):
    lm, c = budget_lm(), Guided("a*b")
    return [
        awrs.generate(lm, [0], c, n_particles=N, max_tokens=T, seed=500 + s, **kw)
        for s in range(RUNS)
    ]


def _within(post, se, exact) -> bool:
    return all(abs(post.get(x, 0.0) - exact[x]) <= 4 * se.get(x, 0.0) + 1e-3 for x in exact)


def test_the_guide_leaves_the_target_unchanged():
    exact, z = budget_exact()
    runs = _runs()  # guide on by default: the constraint has one
    post, se, zs = pooled(runs)
    assert set(post) <= set(exact) and _within(post, se, exact), (post, exact)
    assert tv(post, exact) <= 0.5 * sum(4 * v for v in se.values()) + 5e-3
    mean = sum(zs) / RUNS  # Z stays unbiased: the guide cancels when a particle finishes
    sd = math.sqrt(sum((v - mean) ** 2 for v in zs) / (RUNS - 1))
    assert abs(mean - z) <= 4 * sd / math.sqrt(RUNS) + 1e-6


def test_the_same_function_as_critic_tilts_the_target():
    exact, _ = budget_exact()
    un = {x: p * math.exp(-PENALTY * x.count("a")) for x, p in exact.items()}
    tilted = {x: v / sum(un.values()) for x, v in un.items()}
    lm, c = budget_lm(), Guided("a*b")
    runs = [
        awrs.generate(
            lm, [0], c, n_particles=N, max_tokens=T, seed=500 + s, guide=False, critic=c.guide
        )
        for s in range(RUNS)
    ]
    post, se, _ = pooled(runs)
    assert _within(post, se, tilted), (post, tilted)
    assert tv(tilted, exact) > 0.3 and not _within(post, se, exact)


def test_the_guide_steers_and_can_be_turned_off():
    lm, c = budget_lm(), Guided("a*b")
    on = awrs.make_sampler(lm, [0], c, n_particles=8, max_tokens=T, seed=3)
    off = awrs.make_sampler(lm, [0], c, n_particles=8, max_tokens=T, seed=3, guide=False)
    assert on.guide is not None and off.guide is None
    seen = 0.0
    while not on.finished:
        on.step()
        for p in on.particles:
            assert p.twist == 0.0 if p.finished else p.twist == -PENALTY * p.ids.count(0)
            seen = min(seen, p.twist)
    assert seen < 0
    assert awrs.make_sampler(lm, [0], awrs.Regex("a*b"), max_tokens=T, seed=0).guide is None


def test_the_guide_is_summed_over_a_conjunction_and_kept_when_checked():
    both = Guided("a*b") & Guided("a*b")
    assert both.guide("aab") == -4 * PENALTY
    assert (Guided("a*b") & awrs.Regex("a*b")).guide("ab") == -PENALTY
    assert (awrs.Regex("a*b") & awrs.Regex("a*b")).guide is None
    assert both.checked().guide("a") == -2 * PENALTY


def test_critic_is_a_deprecated_name_of_the_guide():
    c = Guided("a*b")
    with pytest.warns(DeprecationWarning, match="use Constraint.guide"):
        assert c.critic("aab") == c.guide("aab")
    with pytest.warns(DeprecationWarning, match="name it guide"):

        class Old(awrs.Regex):
            def critic(self, prefix):
                return -1.0

    assert Old("a*b").guide("a") == -1.0  # SMC's guide, as before
    plain = awrs.Regex("a*b")
    with pytest.warns(DeprecationWarning):
        plain.critic = Guided.guide.__get__(plain)
    assert plain.guide("aa") == -2 * PENALTY
    with pytest.warns(DeprecationWarning, match=r"SQL\(guide=...\)"):
        assert awrs.SQL("CREATE TABLE t (a INT);", critic=False).guide is None
    assert awrs.SQL("CREATE TABLE t (a INT);").guide is not None


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"guide": "yes"}, "guide must be None, True or False, got 'yes'"),
        ({"guide": True, "method": "awrs"}, "guide=True needs method='smc'"),
    ],
)
def test_guide_options_are_checked(kw, match):
    with pytest.raises(ConfigurationError, match=match):
        awrs.generate(budget_lm(), [0], Guided("a*b"), max_tokens=T, **kw)


def test_guide_true_needs_a_constraint_with_a_critic():
    with pytest.raises(ConfigurationError, match="Regex without one"):
        awrs.generate(budget_lm(), [0], awrs.Regex("a*b"), max_tokens=T, guide=True)


def test_a_guide_returning_nan_is_a_reward_error():
    class Bad(awrs.Regex):
        def guide(self, prefix):
            return math.nan

    with pytest.raises(RewardError, match="critic returned nan"):
        awrs.generate(budget_lm(), [0], Bad("a*b"), max_tokens=T, seed=0)
