"""Selection math: softmax of reward / T, argmax with seeded ties, expected reward, votes."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import awrs
from awrs.scaling.best_of_k import check_k, select_candidates
from awrs.scaling.selection import selection_probabilities, vote

rewards_st = st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=12)


def softmax(x):
    z = np.exp(np.asarray(x) - np.max(x))
    return z / z.sum()


@settings(max_examples=60, deadline=None)
@given(rewards_st, st.floats(0.05, 20))
def test_probabilities_are_softmax_of_reward_over_t(rewards, t):
    sel = select_candidates([str(i) for i in range(len(rewards))], rewards, temperature=t, seed=1)
    probs = [c.probability for c in sel.candidates]
    np.testing.assert_allclose(probs, softmax(np.array(rewards) / t), rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(rewards_st, st.floats(0, 5))
def test_expected_reward_is_probability_weighted_mean(rewards, t):
    sel = select_candidates(["x"] * len(rewards), rewards, temperature=t, seed=0)
    want = sum(c.probability * c.reward for c in sel.candidates)
    assert sel.expected_reward == pytest.approx(want, rel=1e-9, abs=1e-9)
    assert min(rewards) - 1e-9 <= sel.expected_reward <= max(rewards) + 1e-9


def test_t_zero_returns_argmax():
    rewards = [0.3, 2.5, -1.0, 2.4]
    for seed in range(5):
        sel = select_candidates(list("abcd"), rewards, temperature=0, seed=seed)
        assert sel.index == 1 and sel.text == "b" and sel.reward == 2.5
        assert [c.probability for c in sel.candidates] == [0, 1, 0, 0]
        assert sel.expected_reward == 2.5


def test_t_zero_ties_are_uniform_and_reproducible_by_seed():
    rewards = [1.0, 3.0, 3.0, 0.0, 3.0]
    sel = select_candidates(list("abcde"), rewards, temperature=0, seed=7)
    assert [c.probability for c in sel.candidates] == pytest.approx([0, 1 / 3, 1 / 3, 0, 1 / 3])
    again = select_candidates(list("abcde"), rewards, temperature=0, seed=7)
    assert again.index == sel.index
    counts = np.zeros(5)
    for seed in range(600):
        counts[select_candidates(list("abcde"), rewards, temperature=0, seed=seed).index] += 1
    assert counts[0] == counts[3] == 0
    # chi-square, 2 dof, 0.999 quantile 13.8
    chi2 = ((counts[[1, 2, 4]] - 200) ** 2 / 200).sum()
    assert chi2 < 13.8, counts


def test_draws_follow_probabilities():
    rewards, t = [0.0, 1.0, 2.0], 1.0
    p = softmax(np.array(rewards) / t)
    rng = np.random.default_rng(3)
    counts = np.zeros(3)
    n = 3000
    for _ in range(n):
        counts[select_candidates(list("abc"), rewards, temperature=t, rng=rng).index] += 1
    chi2 = ((counts - n * p) ** 2 / (n * p)).sum()
    assert chi2 < 13.8, counts  # 2 dof, p = 0.001


def test_infinite_temperature_is_uniform_and_weights_tilt():
    sel = select_candidates(list("abc"), [5.0, -3.0, 1.0], temperature=math.inf, seed=0)
    assert [c.probability for c in sel.candidates] == pytest.approx([1 / 3] * 3)
    lw = np.log([0.5, 0.25, 0.25])
    p = selection_probabilities([0.0, 1.0, 2.0], 2.0, lw)
    want = np.array([0.5, 0.25 * math.e**0.5, 0.25 * math.e])
    np.testing.assert_allclose(p, want / want.sum())


def test_minus_inf_rewards_are_never_selected_and_all_minus_inf_is_empty():
    sel = select_candidates(list("abc"), [-math.inf, 1.0, -math.inf], temperature=5.0, seed=0)
    assert sel.index == 1 and not sel.empty
    empty = select_candidates(
        list("ab"), [-math.inf, -math.inf], temperature=1.0, seed=0, answers=["1", "2"]
    )
    assert empty.empty and empty.index is None and empty.text == "" and empty.answer is None
    assert empty.expected_reward == -math.inf and empty.reward == -math.inf
    assert all(c.probability == 0 for c in empty.candidates)
    assert empty.majority_vote.answer is None and empty.weighted_vote.answer is None
    none = select_candidates([], [], temperature=0.0)
    assert none.empty and none.candidates == ()


def test_votes_count_correctly():
    answers = ["4", "5", "4", None, "7", "4", "5"]
    rewards = [1.0, 9.0, 2.0, 10.0, 0.0, 1.0, 9.0]
    sel = select_candidates(
        [str(i) for i in range(7)], rewards, temperature=1.0, seed=0, answers=answers
    )
    assert sel.majority_vote.answer == "4"
    assert dict(sel.majority_vote.tally) == {"4": 3.0, "5": 2.0, "7": 1.0}
    assert sel.majority_vote.share == pytest.approx(0.5)
    p = softmax(np.array(rewards))
    mass = dict(sel.weighted_vote.tally)
    assert mass["5"] == pytest.approx(p[1] + p[6])
    assert mass["4"] == pytest.approx(p[0] + p[2] + p[5])
    assert sel.weighted_vote.answer == "5"
    # abstaining candidate (answer None) holds mass that no answer gets
    assert sum(mass.values()) == pytest.approx(1 - p[3])


def test_vote_ties_are_broken_by_rng_and_minus_inf_abstains():
    assert vote(["a", "b"]).answer == "a"
    winners = {vote(["a", "b"], rng=np.random.default_rng(s)).answer for s in range(20)}
    assert winners == {"a", "b"}
    sel = select_candidates(
        list("abc"), [-math.inf, 0.0, 0.0], temperature=0, seed=0, answers=["x", "y", "z"]
    )
    assert "x" not in dict(sel.majority_vote.tally)


@pytest.mark.parametrize("bad", [-0.1, math.nan, "hot", None])
def test_bad_temperature_raises(bad):
    with pytest.raises(awrs.ConfigurationError, match="temperature"):
        select_candidates(["a"], [1.0], temperature=bad)


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "2"])
def test_bad_k_raises(bad):
    with pytest.raises(awrs.ConfigurationError, match="k must be an integer >= 1"):
        check_k(bad)


@pytest.mark.parametrize("bad", [math.nan, math.inf, "x", None])
def test_bad_reward_values_name_the_candidate(bad):
    with pytest.raises(awrs.RewardError, match=r"candidate 1 \('second'\)"):
        select_candidates(["first", "second"], [0.0, bad])


def test_mismatched_lengths_raise():
    with pytest.raises(awrs.ConfigurationError, match="expected 2 answers"):
        select_candidates(["a", "b"], [0.0, 1.0], answers=["x"])
