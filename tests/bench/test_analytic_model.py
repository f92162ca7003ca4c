"""The analytic best-of-k model of bench/scaling.py: quadrature vs Monte Carlo, the 1/k^2 law."""

import numpy as np
import pytest

from bench.scaling import Config, block_mean_se, draw_points, exact_t0, fit_exponent, monte_carlo

KS = [1, 2, 8, 32, 128, 512]


@pytest.fixture(scope="module")
def points():
    return draw_points(Config(n_datasets=12, n_test=100), np.random.default_rng(5))


@pytest.mark.parametrize("c", [0.0, 2.0])
def test_quadrature_matches_monte_carlo(points, c):
    exact = exact_t0(points, c, KS)
    mc = monte_carlo(Config(), points, [0.0], [c], KS, np.random.default_rng(6))[0, 0]
    for ki in range(len(KS)):
        diff, se = block_mean_se(mc[ki] - exact[ki], points.block)
        assert abs(diff) < 4.5 * se, (KS[ki], diff, se)


def test_teacher_reward_decays_as_one_over_k_squared(points):
    exact = exact_t0(points, 0.0, KS).mean(axis=1)
    slope, _ = fit_exponent(KS, exact, 32)
    assert -2.15 < slope < -1.85
    assert np.all(np.diff(exact) < 0)


def test_misspecified_reward_has_a_finite_optimal_k(points):
    exact = exact_t0(points, 2.0, KS).mean(axis=1)
    best = int(np.argmin(exact))
    assert 0 < best < len(KS) - 1 and exact[-1] > 1.5 * exact[best]


def test_selection_temperature_limits(points):
    # T -> inf is one random sample (k = 1); tiny T is the argmax
    mc = monte_carlo(Config(), points, [0.0, 1e-9, 1e9], [0.0], [1, 16], np.random.default_rng(7))[
        0
    ]
    np.testing.assert_allclose(mc[1], mc[0], rtol=1e-6)
    exact = np.mean((points.m - points.mt) ** 2 + points.sy**2)  # E (y - m_T)^2, one sample
    # 16 samples per input: relative sd of the mean is about sqrt(2 / (16 * 1200)) = 1%
    np.testing.assert_allclose(mc[2, 1].mean(), exact, rtol=0.04)
