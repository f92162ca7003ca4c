"""Bootstrap intervals and paired ratios of the benchmark report."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.metrics import NAN, bootstrap_ci, ratio_ci, share


def test_bootstrap_interval_covers_the_mean_at_about_95_percent():
    # 200 data sets of 60 Bernoulli(0.3) draws; the percentile interval should cover 0.3 in
    # ~95% of them. Binomial(200, 0.95) has sd 3.1, so [0.87, 0.99] is a > 4-sigma band that
    # still fails for an interval of the wrong width (e.g. 68% or 99.9%).
    rng = np.random.default_rng(1)
    cover = 0
    for k in range(200):
        x = rng.random(60) < 0.3
        iv = bootstrap_ci(x.astype(float), n_boot=600, seed=k)
        assert iv.lo <= iv.value <= iv.hi
        cover += iv.lo <= 0.3 <= iv.hi
    assert 0.87 <= cover / 200 <= 0.99


def test_bootstrap_drops_missing_values_and_handles_degenerate_input():
    assert bootstrap_ci([]) is NAN
    assert bootstrap_ci([None, math.nan]).n == 0
    iv = bootstrap_ci([2.0, None, 4.0])
    assert iv.n == 2 and iv.value == 3.0
    one = bootstrap_ci([5.0])
    assert (one.value, one.lo, one.hi, one.n) == (5.0, 5.0, 5.0, 1)
    const = bootstrap_ci([1.0] * 10)
    assert const.lo == const.hi == 1.0
    assert str(const) == "1"
    assert NAN.format() == "-"
    with pytest.raises(ValueError, match="coverage level"):
        bootstrap_ci([1.0], level=1.5)


def test_bootstrap_is_reproducible_for_a_seed():
    x = np.random.default_rng(0).random(30)
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3)


def test_ratio_of_means_is_paired_and_exact_for_proportional_data():
    a = [2.0, 4.0, 6.0, 8.0]
    b = [1.0, 2.0, 3.0, 4.0]
    iv = ratio_ci(a, b)
    assert iv.value == pytest.approx(2.0)
    assert iv.lo == pytest.approx(2.0) and iv.hi == pytest.approx(2.0)
    # missing on either side drops the pair
    iv = ratio_ci([1.0, None, 3.0], [1.0, 5.0, math.nan])
    assert iv.n == 1 and iv.value == 1.0
    assert ratio_ci([1.0], [0.0]) is NAN
    with pytest.raises(ValueError, match="paired"):
        ratio_ci([1.0], [1.0, 2.0])


def test_share():
    assert share([True, False, True, True]) == 0.75
    assert math.isnan(share([]))
