"""LLM-as-judge: teacher-forced score distributions, prefix-score correction, bad templates."""

import math

import numpy as np
import pytest

import awrs
from awrs.rewards import DEFAULT_TEMPLATE, Judge

TEMPLATE = "q: {prompt} a: {response}"


def test_judge_ranks_good_above_bad_and_stays_in_scale(judge_lm):
    judge = Judge(judge_lm, TEMPLATE)
    good, bad = judge.score(["good", "bad"], prompt="what")
    assert 0 <= bad < good <= 10
    assert good == pytest.approx(8.0)
    # "1" counts only when the judge stops (0.7 * 0.5); "10" takes the other half
    assert bad == pytest.approx(0.35 * 1 + 0.35 * 10 + 0.3 * 2)
    assert judge("good", "what") == pytest.approx(good)


def test_judge_distribution_is_normalised_and_batched(judge_lm):
    judge = Judge(judge_lm, TEMPLATE)
    calls = judge_lm.calls
    dist = judge.distributions(["good", "bad", "good", "bad", "good"], prompt="x")
    # one forward for the first score token, one for the continuations after "1"
    assert judge_lm.calls - calls == 2
    assert dist.shape == (5, 11)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    np.testing.assert_allclose(dist[0, [1, 7, 9]], [0.1, 0.1, 0.8])
    np.testing.assert_allclose(dist[1, [1, 2, 10]], [0.35, 0.3, 0.35])
    np.testing.assert_allclose(judge.last_mass, 1.0)


def test_judge_custom_scale_and_prefix(judge_lm):
    judge = Judge(judge_lm, "q: {prompt} a: {response}", scale=[1, 2], prefix="")
    # "bad": P(exactly "1") = 0.7 (no "10" in this scale), P("2") = 0.3
    assert judge.score(["bad"], "x")[0] == pytest.approx((0.7 * 1 + 0.3 * 2) / 1.0)
    assert judge.last_mass[0] == pytest.approx(1.0)


def test_judge_with_no_mass_on_scale_raises(judge_lm):
    judge = Judge(judge_lm, TEMPLATE)
    with pytest.raises(awrs.RewardError, match="probability 0 to every score"):
        judge.score(["good", "nothing"], "x")


@pytest.mark.parametrize(
    "template, missing",
    [("rate {response}", "{prompt}"), ("rate {prompt}", "{response}"), ("rate it", "{prompt}")],
)
def test_template_without_placeholders_raises(judge_lm, template, missing):
    with pytest.raises(awrs.ConfigurationError, match=f"missing.*{missing}"):
        Judge(judge_lm, template)


@pytest.mark.parametrize(
    "template",
    ["{prompt} {response} {score}", "{prompt} {response} {}", "{prompt} {response.upper}"],
)
def test_template_with_unknown_fields_raises(judge_lm, template):
    with pytest.raises(awrs.ConfigurationError, match="may only use"):
        Judge(judge_lm, template)


def test_bad_scales_raise(judge_lm):
    with pytest.raises(awrs.ConfigurationError, match="at least one"):
        Judge(judge_lm, TEMPLATE, scale=[])
    with pytest.raises(awrs.ConfigurationError, match="duplicate"):
        Judge(judge_lm, TEMPLATE, scale=[1, 1])
    with pytest.raises(awrs.ConfigurationError, match="numbers"):
        Judge(judge_lm, TEMPLATE, scale=["a", "b"])


def test_default_template_is_valid():
    awrs.rewards.check_template(DEFAULT_TEMPLATE)


@pytest.mark.slow
def test_judge_on_default_model(default_lm):
    judge = Judge(default_lm)
    prompt = "What is 2 + 3? Answer with the number."
    scores = judge.score(["5", "The answer is 5.", "banana"], prompt)
    assert all(0 <= s <= 10 and math.isfinite(s) for s in scores)
    assert (judge.last_mass > 0).all() and (judge.last_mass <= 1 + 1e-6).all()


def test_duplicate_responses_are_scored_once(judge_lm):
    judge = Judge(judge_lm, TEMPLATE)
    calls = judge_lm.calls
    scores = judge.score(["bad", "good", "bad", "bad"], "x")
    assert scores == pytest.approx([4.45, 8.0, 4.45, 4.45])
    assert judge_lm.calls - calls == 2 and judge.last_mass.shape == (4,)
