"""best_of_k end to end on a toy generator (exact distributions), and once on the default model."""

import math
from collections import Counter

import numpy as np
import pytest

import awrs
from awrs.constraints.base import Predicate
from awrs.rewards import Judge, as_critic, batched
from awrs.scaling.best_of_k import Selection, best_of_k

REWARD = {"a": 0.0, "b": 1.0, "c": 2.0}
P = {"a": 0.5, "b": 0.3, "c": 0.2}  # the toy generator's distribution (see conftest)


def reward(text):
    return REWARD[text]


def bok(lm, k, **kw):
    kw.setdefault("raw", True)
    kw.setdefault("max_tokens", 4)
    return best_of_k(lm, "q", k, kw.pop("reward", reward), **kw)


def test_public_names_resolve_to_the_function_and_type():
    assert awrs.best_of_k is best_of_k and awrs.Selection is Selection
    assert awrs.rewards.Judge is Judge


def test_selection_fields_and_softmax(gen_lm):
    sel = bok(gen_lm, 6, temperature=0.7, seed=3)
    assert len(sel.candidates) == 6 and not sel.empty
    texts = [c.text for c in sel.candidates]
    assert set(texts) <= set(REWARD) and sel.text in texts
    r = np.array([REWARD[t] for t in texts])
    p = np.exp(r / 0.7) / np.exp(r / 0.7).sum()
    np.testing.assert_allclose([c.probability for c in sel.candidates], p)
    assert sel.expected_reward == pytest.approx(float(p @ r))
    assert all(c.log_weight is None and c.finished for c in sel.candidates)
    assert all(gen_lm.decode(c.token_ids) == c.text for c in sel.candidates)


def test_t_zero_selects_the_best_candidate_and_seed_reproduces(gen_lm):
    sel = bok(gen_lm, 5, seed=11)
    assert sel.reward == max(c.reward for c in sel.candidates)
    again = bok(gen_lm, 5, seed=11)
    assert [c.text for c in again.candidates] == [c.text for c in sel.candidates]
    assert again.index == sel.index


def test_best_of_two_distribution_is_exact(gen_lm):
    # best of 2 at T = 0: P(c) = 1 - 0.8^2, P(b) = 0.8^2 - 0.5^2, P(a) = 0.5^2
    want = {"c": 0.36, "b": 0.39, "a": 0.25}
    n = 300
    got = Counter(bok(gen_lm, 2, seed=s).text for s in range(n))
    chi2 = sum((got[t] - n * p) ** 2 / (n * p) for t, p in want.items())
    assert chi2 < 13.8, got  # 2 dof, p = 0.001


def test_constraint_makes_every_candidate_valid(gen_lm):
    not_a = Predicate(lambda b: not b.startswith(b"a"), lambda b: b in (b"b", b"c"))
    sel = bok(gen_lm, 8, constraint=not_a, seed=0)
    assert {c.text for c in sel.candidates} <= {"b", "c"}


def test_all_minus_inf_is_an_empty_selection(gen_lm):
    sel = bok(gen_lm, 4, reward=lambda t: -math.inf, seed=0)
    assert sel.empty and sel.text == "" and sel.expected_reward == -math.inf
    assert len(sel.candidates) == 4


def test_candidates_that_cannot_complete_are_never_selected(gen_lm):
    never = Predicate(lambda b: True, lambda b: False)
    sel = bok(gen_lm, 3, constraint=never, seed=0)
    assert sel.empty and len(sel.candidates) == 3
    assert all(c.probability == 0 for c in sel.candidates)


def test_votes_and_batched_rewards(gen_lm):
    seen = []

    @batched
    def lengths(texts):
        seen.append(len(texts))
        return [REWARD[t] for t in texts]

    sel = bok(
        gen_lm,
        10,
        reward=lengths,
        temperature=1.0,
        seed=4,
        answer=lambda t: None if t == "a" else t.upper(),
    )
    assert seen == [10]
    counts = Counter(c.text.upper() for c in sel.candidates if c.text != "a")
    assert dict(sel.majority_vote.tally) == dict(counts)
    mass = Counter()
    for c in sel.candidates:
        if c.text != "a":
            mass[c.text.upper()] += c.probability
    assert dict(sel.weighted_vote.tally) == pytest.approx(dict(mass))


def test_bad_inputs_raise_clear_errors(gen_lm):
    with pytest.raises(awrs.ConfigurationError, match="k must be an integer >= 1"):
        bok(gen_lm, 0)
    with pytest.raises(awrs.ConfigurationError, match="temperature must be >= 0"):
        bok(gen_lm, 2, temperature=-1)
    with pytest.raises(awrs.ConfigurationError, match="method='smc' only"):
        bok(gen_lm, 2, n_particles=4)
    with pytest.raises(awrs.RewardError, match=r"candidate \d+ \('[abc]'\) is nan"):
        bok(gen_lm, 3, reward=lambda t: math.nan, seed=0)
    with pytest.raises(awrs.RewardError, match=r"raised RuntimeError: no on candidate 0"):
        bok(gen_lm, 3, reward=_raise, seed=0)
    with pytest.raises(awrs.ConfigurationError, match="expected a reward"):
        bok(gen_lm, 2, reward="judge")


def _raise(text):
    raise RuntimeError("no")


def test_smc_candidates_carry_weights(gen_lm):
    sel = bok(gen_lm, 4, method="smc", temperature=1.0, seed=2, n_particles=6)
    assert len(sel.candidates) == 6
    lw = np.array([c.log_weight for c in sel.candidates])
    r = np.array([c.reward for c in sel.candidates])
    want = np.exp(lw + r - (lw + r).max())
    np.testing.assert_allclose([c.probability for c in sel.candidates], want / want.sum())


def test_reward_as_smc_critic_targets_the_tilted_distribution(gen_lm):
    # target p(x) exp(r(x) / T) with T = 1: (0.5, 0.3 e, 0.2 e^2) normalised
    tilt = {t: P[t] * math.exp(REWARD[t]) for t in P}
    z = sum(tilt.values())
    critic = as_critic(reward_on_prefix, temperature=1.0)
    n = 1500
    sel = best_of_k(
        gen_lm,
        "q",
        1,
        lambda t: 0.0,
        temperature=math.inf,
        method="smc",
        n_particles=n,
        critic=critic,
        seed=0,
        raw=True,
        max_tokens=4,
    )
    mass = Counter()
    for c in sel.candidates:
        mass[c.text] += c.probability
    for t in P:
        p = tilt[t] / z
        # weighted particles: sd at most that of n / 4 independent draws
        assert abs(mass[t] - p) < 4 * math.sqrt(p * (1 - p) / (n / 4)), (t, mass[t], p)


def reward_on_prefix(text):
    return REWARD.get(text, 0.0)  # defined on every prefix ("" included)


@pytest.mark.slow
def test_best_of_k_with_judge_on_default_model(default_lm):
    sel = best_of_k(
        default_lm,
        "What is 2 + 3? Reply with the number only.",
        4,
        Judge(default_lm),
        max_tokens=8,
        seed=0,
    )
    assert len(sel.candidates) == 4 and not sel.empty
    assert all(0 <= c.reward <= 10 for c in sel.candidates)
    assert sum(c.probability for c in sel.candidates) == pytest.approx(1.0)
    assert sel.reward == max(c.reward for c in sel.candidates)
