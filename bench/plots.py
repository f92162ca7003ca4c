"""PNG plots of one suite's results (matplotlib, no display needed)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.ticker


def _bars(ax, names, ivs, xlabel, log=False):
    """Horizontal bars (linear axis) or dots (log axis) with 95% interval whiskers."""
    ys = list(range(len(names)))
    keep = [i for i, iv in enumerate(ivs) if not math.isnan(iv.value) and (iv.value > 0 or not log)]
    vals = [ivs[i].value for i in keep]
    err = [[ivs[i].value - ivs[i].lo for i in keep], [ivs[i].hi - ivs[i].value for i in keep]]
    if log:
        ax.errorbar(vals, [ys[i] for i in keep], xerr=err, fmt="o", color="#4C72B0", capsize=3)
        if vals:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    else:
        ax.barh([ys[i] for i in keep], vals, xerr=err, color="#4C72B0", capsize=3)
    ax.set_yticks(ys, names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    for i in set(ys) - set(keep):
        ax.text(
            0.02,
            i,
            "n/a",
            va="center",
            fontsize=8,
            color="gray",
            transform=ax.get_yaxis_transform(),
        )


def plot_suite(folder: Path, suite, sums) -> list[Path]:
    """Score, cost and trade-off plots of a suite; returns the PNG paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    names = [m for m, s in sums.items() if s.ok]
    if not names:
        return []
    S = [sums[m] for m in names]
    paths = []

    fig, ax = plt.subplots(figsize=(6, 0.45 * len(names) + 1.2))
    _bars(ax, names, [s.score() for s in S], f"{suite.metric} (mean, 95% bootstrap CI)")
    ax.set_xlim(0, 1.05)
    ax.set_title(f"{suite.name}: {suite.metric}")
    fig.tight_layout()
    paths.append(folder / f"{suite.name}_score.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(13, 0.45 * len(names) + 1.4), sharey=True)
    _bars(axes[0], names, [s.wall() for s in S], "seconds per sample", log=True)
    _bars(axes[1], names, [s.per_token() for s in S], "seconds per token", log=True)
    _bars(
        axes[2],
        names,
        [s.evals_per_token() for s in S],
        "constraint evaluations per token",
        log=True,
    )
    fig.suptitle(f"{suite.name}: cost")
    fig.tight_layout()
    paths.append(folder / f"{suite.name}_cost.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, (name, s) in enumerate(zip(names, S, strict=True)):
        w, sc = s.wall(), s.score()
        if math.isnan(w.value) or math.isnan(sc.value):
            continue
        ax.errorbar(
            [w.value],
            [sc.value],
            xerr=[[w.value - w.lo], [w.hi - w.value]],
            yerr=[[sc.value - sc.lo], [sc.hi - sc.value]],
            fmt="os^vDP*Xhp"[k % 10],
            capsize=3,
            label=name,
            alpha=0.85,
        )
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_xscale("log")
    ax.set_xlabel("seconds per sample")
    ax.set_ylabel(suite.metric)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"{suite.name}: quality vs time")
    fig.tight_layout()
    paths.append(folder / f"{suite.name}_tradeoff.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths
