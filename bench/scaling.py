"""Analytic model of best-of-k inference-time scaling (Halder & Pehlevan, arXiv 2512.19905).

Run: ``python -m bench.scaling [--out bench/out/scaling] [--seed 0] [--quick]``. Writes PNG plots
into ``--out`` and prints a Markdown summary.

Model (our reading of the paper's setup; the choices below are ours):

- Teacher and data: ``w_T ~ N(0, I_d)`` (a fresh teacher per data set, so the prior is
  well specified), inputs ``x ~ N(0, I_d / d)``, labels ``y = w_T . x + noise``,
  ``noise ~ N(0, sigma^2)``; ``d = 40``, ``n = 160`` training points, ``sigma = 0.5``.
- Generator ("the LLM"): the Bayesian posterior ``N(mu, Sigma)`` under the prior
  ``N(0, I_d)``. At a test input x its k samples are posterior-predictive draws of the label,
  ``y_i ~ N(m, s^2 + sigma^2)`` with ``m = mu . x`` and ``s^2 = x' Sigma x``.
- Reward (the judge): quadratic, ``r(y) = -(y - m_R)^2`` with
  ``m_R = m_T - c (m - m_T)`` and ``m_T = w_T . x``; ``c = 0`` is the teacher itself, ``c > 0``
  a judge that overshoots the teacher away from the generator's mean.
- Selection: ``softmax(r / T)`` over the k samples (``T = 0``: the sample closest to ``m_R``).
- Generalization error: ``E[(y_selected - m_T)^2]`` over data sets, test inputs, samples and
  the selection draw (the selection is averaged exactly: ``sum_i p_i (y_i - m_T)^2``).

Monte Carlo: 150 data sets x 100 test inputs, samples shared across k, T and c (common
random numbers; the first k of 1024 draws are the k samples). For ``T = 0`` the error of each
test input is also computed exactly by quadrature over the distance ``D`` of the closest
sample to ``m_R`` (``P(D > t) = (1 - q(t))^k``), which gives noise-free curves for the
exponent fit. Why the samples include the label noise: the tail of ``z = (m_T - m) / s_y``
must be light enough that the large-k coefficient ``E[pi s_y^2 exp(z^2)]`` of the
``1/k^2`` law is finite (``Var z < 1/2``); with noise-free samples ``Var z = 1`` and the
average decays like ``sqrt(log k) / k`` instead.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.common import REPO, markdown_table

OUT = REPO / "bench" / "out" / "scaling"


@dataclass(frozen=True)
class Config:
    """Sizes and grids of the experiment."""

    d: int = 40
    n: int = 160
    noise: float = 0.5
    n_datasets: int = 150
    n_test: int = 100
    ks: tuple[int, ...] = tuple(2**i for i in range(11))
    temperatures: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)
    cs: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    t_sweep: tuple[float, ...] = field(
        default_factory=lambda: (0.0, *np.round(np.logspace(-3, 1, 17), 5))
    )
    t_sweep_ks: tuple[int, ...] = (8, 64, 512)
    fit_from: int = 32
    seed: int = 0
    chunk: int = 1000


@dataclass(frozen=True)
class Points:
    """Per test input: generator mean m, predictive sd s_y, teacher output m_T, data set id."""

    m: np.ndarray
    sy: np.ndarray
    mt: np.ndarray
    block: np.ndarray


def draw_points(cfg: Config, rng: np.random.Generator) -> Points:
    """Fit the Bayesian posterior on each data set and evaluate it on fresh test inputs."""
    ms, sys_, mts, blocks = [], [], [], []
    for b in range(cfg.n_datasets):
        w = rng.standard_normal(cfg.d)
        x = rng.standard_normal((cfg.n, cfg.d)) / math.sqrt(cfg.d)
        y = x @ w + cfg.noise * rng.standard_normal(cfg.n)
        prec = np.eye(cfg.d) + x.T @ x / cfg.noise**2  # posterior precision
        sigma = np.linalg.inv(prec)
        mu = sigma @ x.T @ y / cfg.noise**2
        xt = rng.standard_normal((cfg.n_test, cfg.d)) / math.sqrt(cfg.d)
        ms.append(xt @ mu)
        mts.append(xt @ w)
        sys_.append(np.sqrt(np.einsum("ij,jk,ik->i", xt, sigma, xt) + cfg.noise**2))
        blocks.append(np.full(cfg.n_test, b))
    return Points(*(np.concatenate(a) for a in (ms, sys_, mts, blocks)))


def monte_carlo(cfg: Config, pts: Points, temperatures, cs, ks, rng) -> np.ndarray:
    """Per-test-input errors, shape (len(cs), len(temperatures), len(ks), n_points)."""
    kmax = max(ks)
    out = np.empty((len(cs), len(temperatures), len(ks), len(pts.m)))
    for lo in range(0, len(pts.m), cfg.chunk):
        sl = slice(lo, lo + cfg.chunk)
        m, sy, mt = pts.m[sl, None], pts.sy[sl, None], pts.mt[sl, None]
        y = m + sy * rng.standard_normal((len(m), kmax))  # (N, kmax) shared samples
        sq = (y - mt) ** 2  # squared error of each sample
        for ci, c in enumerate(cs):
            reward = -((y - (mt - c * (m - mt))) ** 2)
            for ti, t in enumerate(temperatures):
                for ki, k in enumerate(ks):
                    out[ci, ti, ki, sl] = _selected_error(reward[:, :k], sq[:, :k], t)
    return out


def _selected_error(reward: np.ndarray, sq: np.ndarray, t: float) -> np.ndarray:
    if t == 0:
        return np.take_along_axis(sq, reward.argmax(axis=1)[:, None], axis=1)[:, 0]
    z = (reward - reward.max(axis=1, keepdims=True)) / t
    p = np.exp(z)
    return (p * sq).sum(axis=1) / p.sum(axis=1)


def exact_t0(pts: Points, c: float, ks, grid: int = 800, chunk: int = 2000) -> np.ndarray:
    """Exact T = 0 error per test input by quadrature, shape (len(ks), n_points).

    The selected sample is ``m_R +/- D`` with ``P(D > t) = (1 - q(t))^k``,
    ``q(t) = P(|y - m_R| <= t)``, on the + side with probability proportional to the
    predictive density at ``m_R + t``. Integrated on a log grid of t.
    """
    out = np.empty((len(ks), len(pts.m)))
    for lo in range(0, len(pts.m), chunk):
        sl = slice(lo, lo + chunk)
        m, s, mt = pts.m[sl, None], pts.sy[sl, None], pts.mt[sl, None]
        mr = mt - c * (m - mt)
        a, b = mr - m, mr - mt
        t0 = 1e-7 * s
        u = np.linspace(0.0, 1.0, grid)[None, :]
        t = t0 * np.exp(u * np.log((np.abs(a) + 12 * s) / t0))  # (N, G) log grid
        hi, lo_ = (a + t) / s, (a - t) / s
        q = _ndtr(hi) - _ndtr(lo_)
        with np.errstate(divide="ignore"):
            log_surv = np.log1p(-np.minimum(q, 1.0))  # log(1 - q)
        body = (_phi(hi) * (b + t) ** 2 + _phi(lo_) * (b - t) ** 2) / s * t  # d/du measure
        du = np.diff(u[0])
        q0 = _ndtr((a + t0) / s) - _ndtr((a - t0) / s)
        for ki, k in enumerate(ks):
            surv = np.ones_like(log_surv) if k == 1 else np.exp((k - 1) * log_surv)
            f = k * surv * body
            integral = ((f[:, 1:] + f[:, :-1]) / 2 * du).sum(axis=1) * np.log(
                (np.abs(a[:, 0]) + 12 * s[:, 0]) / t0[:, 0]
            )
            head = 1 - (1 - q0[:, 0]) ** k  # P(D < t0): error ~ b^2 there
            out[ki, sl] = integral + head * b[:, 0] ** 2
    return out


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _ndtr(x: np.ndarray) -> np.ndarray:
    import torch

    return torch.special.ndtr(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))).numpy()


def block_mean_se(err: np.ndarray, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the last axis and its standard error over data sets (test inputs of one data
    set are correlated, so data-set means are the independent units)."""
    nb = int(block.max()) + 1
    sums = np.zeros(err.shape[:-1] + (nb,))
    np.add.at(np.moveaxis(sums, -1, 0), block, np.moveaxis(err, -1, 0))
    per = sums / np.bincount(block, minlength=nb)
    return per.mean(axis=-1), per.std(axis=-1, ddof=1) / math.sqrt(nb)


def fit_exponent(ks, err, k_from: int) -> tuple[float, float]:
    """Least-squares slope of log err against log k for k >= k_from, and its standard error."""
    ks = np.asarray(ks, float)
    sel = ks >= k_from
    x, y = np.log(ks[sel]), np.log(np.asarray(err)[sel])
    if sel.sum() < 3:
        raise ValueError(f"expected at least 3 values of k >= {k_from} to fit, got {sel.sum()}")
    (slope, _), cov = np.polyfit(x, y, 1, cov=True)
    return float(slope), float(math.sqrt(max(cov[0, 0], 0.0)))


def run(cfg: Config, out: Path) -> str:
    """Run every experiment, write the plots into ``out`` and return the Markdown summary."""
    rng = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    pts = draw_points(cfg, rng)
    ks, temps, cs = list(cfg.ks), list(cfg.temperatures), list(cfg.cs)
    mc = monte_carlo(cfg, pts, temps, cs, ks, rng)
    mc_mean, mc_se = block_mean_se(mc, pts.block)  # (C, T, K)
    exact = np.stack([exact_t0(pts, c, ks) for c in cs])  # (C, K, N)
    ex_mean, ex_se = block_mean_se(exact, pts.block)  # (C, K)
    sweep_t = list(cfg.t_sweep)
    sweep = monte_carlo(cfg, pts, sweep_t, cs, list(cfg.t_sweep_ks), rng)
    sw_mean, sw_se = block_mean_se(sweep, pts.block)  # (C, T, K')
    coef = float(np.mean(np.pi * pts.sy**2 * np.exp(((pts.mt - pts.m) / pts.sy) ** 2)))

    slope_ex, slope_ex_se = fit_exponent(ks, ex_mean[0], cfg.fit_from)
    slope_mc, slope_mc_se = fit_exponent(ks, mc_mean[0, 0], cfg.fit_from)
    plots = _plots(out, cfg, ks, temps, cs, mc_mean, mc_se, ex_mean, sweep_t, sw_mean, sw_se, coef)

    lines = [
        "## Analytic model of best-of-k (Halder & Pehlevan, arXiv 2512.19905)",
        "",
        f"Bayesian linear regression, d = {cfg.d}, n = {cfg.n}, noise sd = {cfg.noise}; "
        f"{len(pts.m)} test inputs from {cfg.n_datasets} data sets; seed {cfg.seed}; "
        f"{time.perf_counter() - t0:.1f} s.",
        "",
        f"**Exponent** (c = 0, T = 0, fit over k = {cfg.fit_from}..{max(ks)}): "
        f"exact-per-input quadrature {slope_ex:.3f} +/- {slope_ex_se:.3f}, Monte Carlo "
        f"{slope_mc:.3f} +/- {slope_mc_se:.3f} (target -2 +/- 0.15). Large-k law "
        f"E[pi s_y^2 exp(z^2)] / k^2 = {coef:.3f} / k^2.",
        "",
        "Generalization error E[(y_sel - m_T)^2] against k (T = 0; exact quadrature, Monte "
        "Carlo in brackets):",
        "",
        markdown_table(
            ["k", *[f"c = {c:g}" for c in cs]],
            [
                [k, *[f"{ex_mean[ci, ki]:.3g} ({mc_mean[ci, 0, ki]:.3g})" for ci in range(len(cs))]]
                for ki, k in enumerate(ks)
            ],
        ),
        "",
        f"Optimal k (argmin over k = 1..{max(ks)}; T = 0 from the quadrature, T > 0 Monte "
        f"Carlo): k* (error at k* vs at k = {max(ks)}, difference in standard errors of the "
        "paired difference):",
        "",
        markdown_table(
            ["c", *[f"T = {t:g}" for t in temps]],
            [
                [
                    f"{c:g}",
                    *[
                        _kstar(ks, exact[ci] if t == 0 else mc[ci, ti], pts.block)
                        for ti, t in enumerate(temps)
                    ],
                ]
                for ci, c in enumerate(cs)
            ],
        ),
        "",
        f"Optimal T at fixed k (Monte Carlo; T = 0 and {len(sweep_t) - 1} log-spaced values in "
        f"[{sweep_t[1]:g}, {sweep_t[-1]:g}]): T* (error at T* vs at T = 0):",
        "",
        markdown_table(
            ["c", *[f"k = {k}" for k in cfg.t_sweep_ks]],
            [
                [
                    f"{c:g}",
                    *[_tstar(sweep_t, sw_mean[ci, :, j]) for j in range(len(cfg.t_sweep_ks))],
                ]
                for ci, c in enumerate(cs)
            ],
        ),
        "",
        "Plots: "
        + ", ".join(str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p) for p in plots),
    ]
    return "\n".join(lines)


def _kstar(ks, err: np.ndarray, block: np.ndarray) -> str:
    """k* of per-input errors (K, N), with the paired significance of its gain over k max."""
    mean, _ = block_mean_se(err, block)
    i = int(np.argmin(mean))
    if i == len(ks) - 1:
        return f">= {ks[-1]}"
    gain, gain_se = block_mean_se(err[-1] - err[i], block)
    z = gain / gain_se if gain_se > 0 else math.inf
    return f"{ks[i]} ({mean[i]:.3g} vs {mean[-1]:.3g}, {z:.0f} se)"


def _tstar(ts, mean: np.ndarray) -> str:
    i = int(np.argmin(mean))
    return f"{ts[i]:g} ({mean[i]:.3g} vs {mean[0]:.3g})"


def _plots(out, cfg, ks, temps, cs, mc_mean, mc_se, ex_mean, sweep_t, sw_mean, sw_se, coef):
    """Three figures: error vs k (teacher), error vs k (misspecified), error vs T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    karr = np.asarray(ks, float)
    paths = []

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for ti, t in enumerate(temps):
        ax.errorbar(
            karr,
            mc_mean[0, ti],
            yerr=1.96 * mc_se[0, ti],
            marker="o",
            ms=3,
            capsize=2,
            label=f"T = {t:g} (MC)",
        )
    ax.plot(karr, ex_mean[0], "k-", lw=1, label="T = 0 exact")
    ax.plot(karr, coef / karr**2, "k--", lw=1, label=f"{coef:.2f} / k$^2$")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="k",
        ylabel="generalization error",
        title="c = 0 (teacher reward): error vs k",
    )
    ax.legend(fontsize=7)
    paths.append(_save(fig, out / "error_vs_k_teacher.png"))

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ci, c in enumerate(cs):
        axes[0].plot(karr, ex_mean[ci], marker="o", ms=3, label=f"c = {c:g}")
    axes[0].set(
        xscale="log",
        yscale="log",
        xlabel="k",
        ylabel="generalization error",
        title="T = 0: misspecified reward (c > 0)",
    )
    axes[0].legend(fontsize=8)
    ti = temps.index(0.1) if 0.1 in temps else len(temps) // 2
    for ci, c in enumerate(cs):
        axes[1].errorbar(
            karr,
            mc_mean[ci, ti],
            yerr=1.96 * mc_se[ci, ti],
            marker="o",
            ms=3,
            capsize=2,
            label=f"c = {c:g}",
        )
    axes[1].set(xscale="log", yscale="log", xlabel="k", title=f"T = {temps[ti]:g} (MC)")
    axes[1].legend(fontsize=8)
    paths.append(_save(fig, out / "error_vs_k_misspecified.png"))

    nk = len(cfg.t_sweep_ks)
    fig, axes = plt.subplots(1, nk, figsize=(4.2 * nk, 4), sharey=True)
    tplot = np.array(sweep_t, float)
    tplot[0] = tplot[1] / 3  # draw T = 0 left of the smallest positive T
    for j, (ax, k) in enumerate(zip(np.atleast_1d(axes), cfg.t_sweep_ks, strict=True)):
        for ci, c in enumerate(cs):
            ax.errorbar(
                tplot,
                sw_mean[ci, :, j],
                yerr=1.96 * sw_se[ci, :, j],
                marker="o",
                ms=3,
                capsize=2,
                label=f"c = {c:g}",
            )
            i = int(np.argmin(sw_mean[ci, :, j]))
            ax.plot(tplot[i], sw_mean[ci, i, j], "k*", ms=10)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="T (leftmost point: T = 0)",
            title=f"k = {k} (* = optimal T)",
        )
    np.atleast_1d(axes)[0].set_ylabel("generalization error")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    paths.append(_save(fig, out / "error_vs_temperature.png"))
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNG plots")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer data sets (smoke test)")
    args = parser.parse_args(argv)
    cfg = Config(seed=args.seed, n_datasets=20 if args.quick else Config.n_datasets)
    print(run(cfg, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
