"""Reward wrappers: callables, batched callables, validators, weighted sums, LogProb, critics."""

import math

import pytest

import awrs
from awrs.constraints.base import Predicate
from awrs.rewards import (
    Combined,
    Critic,
    Function,
    LogProb,
    Reward,
    Validator,
    as_critic,
    as_reward,
    batched,
    weighted_sum,
)
from awrs.scaling.best_of_k import score


def test_exports_resolve():
    for name in awrs.rewards.__all__:
        assert getattr(awrs.rewards, name) is not None


def test_plain_and_batched_callables():
    assert as_reward(len).score(["ab", "c"]) == [2, 1]
    calls = []

    @batched
    def lengths(texts):
        calls.append(list(texts))
        return [len(t) for t in texts]

    assert isinstance(lengths, Reward) and lengths.score(["ab", "c"]) == [2, 1]
    assert calls == [["ab", "c"]]
    assert as_reward(lengths) is lengths
    assert as_reward(lambda ts: [0.0] * len(ts), batched=True).score(["a", "b"]) == [0.0, 0.0]


def test_non_callable_reward_raises():
    with pytest.raises(awrs.ConfigurationError, match="expected a reward"):
        as_reward(3.0)


def test_raising_reward_names_the_candidate():
    def picky(text):
        if text == "boom":
            raise KeyError("no")
        return 1.0

    with pytest.raises(awrs.RewardError, match=r"raised KeyError.*candidate 2 \('boom'\)"):
        score(picky, ["a", "b", "boom"])
    with pytest.raises(awrs.RewardError, match="batched reward 'bad' raised ZeroDivisionError"):
        score(Function(_named("bad"), batched=True), ["a"])


def _named(name):
    def fn(texts):
        return 1 / 0

    fn.__name__ = name
    return fn


def test_wrong_length_and_nan_rewards_raise():
    with pytest.raises(awrs.RewardError, match="returned 1 values for 2 candidates"):
        score(batched(lambda ts: [1.0]), ["a", "b"])
    with pytest.raises(awrs.RewardError, match=r"candidate 1 \('b'\) is nan"):
        score(lambda t: math.nan if t == "b" else 0.0, ["a", "b"])


def test_validator_from_constraint_and_predicate():
    even = Predicate(lambda b: True, lambda b: len(b) % 2 == 0)
    assert Validator(even).score(["ab", "abc", ""]) == [1.0, 0.0, 1.0]
    hard = Validator(lambda t: t.isdigit(), reject=-math.inf)
    assert hard.score(["12", "x"]) == [1.0, -math.inf]
    with pytest.raises(awrs.ConfigurationError, match="expected a constraint"):
        Validator(42)
    with pytest.raises(awrs.RewardError, match="validator .* candidate 0"):
        Validator(lambda t: 1 / 0).score(["x"])


def test_weighted_sum_and_operators():
    a, b = as_reward(len), as_reward(lambda t: t.count("x"))
    combo = 0.5 * a + 2 * b
    assert isinstance(combo, Combined)
    assert combo.score(["xx", "abc"]) == [0.5 * 2 + 2 * 2, 0.5 * 3]
    assert weighted_sum((0.5, len), (2, b)).score(["xx"]) == [5.0]
    assert sum([a, b]).score(["x"]) == [2.0]
    assert (-a).score(["abc"]) == [-3.0]
    assert len(combo.terms) == 2  # nested sums are flattened


def test_weighted_sum_minus_inf_is_absorbing_and_zero_weights_skip():
    hard = Validator(lambda t: t != "bad", reject=-math.inf)
    combo = -1.0 * hard + as_reward(len)
    assert combo.score(["ok", "bad"]) == [1.0, -math.inf]
    never = as_reward(lambda t: 1 / 0)
    assert Combined([(0.0, never), (1.0, len)]).score(["abc"]) == [3.0]
    with pytest.raises(awrs.ConfigurationError, match="finite"):
        Combined([(math.nan, len)])
    with pytest.raises(awrs.ConfigurationError, match="at least one"):
        Combined([])


def test_logprob_is_length_normalised_loglik(gen_lm):
    lp = LogProb(gen_lm, raw=True)
    # prompt "q" then "a" (0.5) then EOS (1.0): mean of log 0.5 and log 1
    assert lp.score(["a", "c"], prompt="q") == pytest.approx(
        [(math.log(0.5) + 0) / 2, (math.log(0.2) + 0) / 2]
    )
    no_eos = LogProb(gen_lm, raw=True, include_eos=False)
    assert no_eos.score(["b", ""], prompt="q") == [pytest.approx(math.log(0.3)), -math.inf]


def test_critic_divides_by_temperature_and_memoises():
    calls = []

    def reward(text):
        calls.append(text)
        return float(len(text))

    critic = as_critic(reward, temperature=0.5)
    assert isinstance(critic, Critic)
    assert critic("abc") == 6.0 and critic("abc") == 6.0
    assert critic.batch(["ab", "abc", "ab"]) == [4.0, 6.0, 4.0]
    assert calls == ["abc", "ab"]
    with pytest.raises(awrs.ConfigurationError, match="critic temperature must be > 0"):
        as_critic(reward, temperature=0)
    with pytest.raises(awrs.RewardError, match="prefix 'x'"):
        as_critic(lambda t: math.nan)("x")
