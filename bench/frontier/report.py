"""The frontier's plots (score against particle-tokens) and its Markdown report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ..metrics import bootstrap_ci
from .table import ItemRow, Point

_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3")
_STYLES = {"first-valid": "-", "logprob": "--", "judge": ":", "reward": "-."}


def plot(folder: Path, suite: str, points: Sequence[Point]) -> Path | None:
    """``frontier-SUITE.png``: score against particle-tokens per item (log x), a line per
    method (colour: generator, style: selection), 95 % intervals shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[str, list[Point]] = defaultdict(list)
    full = max((p.items for p in points if p.suite == suite), default=0)
    for p in points:
        if p.suite == suite and p.items == full:  # a budget still running is left out
            lines[p.method].append(p)
    if not lines:
        return None
    bases = list(dict.fromkeys(m.split("/")[0] for m in lines))
    fig, ax = plt.subplots(figsize=(8, 5))
    for method, ps in lines.items():
        ps.sort(key=lambda p: p.budget)
        base, _, rule = method.partition("/")
        color = _COLORS[bases.index(base) % len(_COLORS)]
        x = [max(p.particle_tokens / p.items, 1e-9) for p in ps]
        style = _STYLES.get(rule, "-")
        width = 2.5 if base == "smc" else 1.3
        ax.plot(
            x, [p.score for p in ps], style, marker="o", ms=3, color=color, lw=width, label=method
        )
        lo, hi = [p.ci_lo for p in ps], [p.ci_hi for p in ps]
        ax.fill_between(x, lo, hi, color=color, alpha=0.08)
        ax.vlines(x, lo, hi, color=color, alpha=0.25, lw=width)
        for p, xi in zip(ps, x, strict=True):
            if base == "smc":
                ax.annotate(
                    str(p.budget),
                    (xi, p.score),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
    ax.set_xscale("log")
    ax.set_xlabel("particle-tokens per item (every token of every particle or sample)")
    ax.set_ylabel(f"score (mean over {full} items, 95% bootstrap CI)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{suite}: quality against compute (smc labels: particles)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"frontier-{suite}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def paired(
    rows: Sequence[ItemRow],
    a: str,
    b: str,
    budget: int,
    suite: str,
    supported_only: bool = False,
) -> str:
    """Mean of ``a - b`` over the items both ran at ``budget``, with its 95 % paired
    bootstrap interval (``"-"`` when they share no item). ``supported_only`` leaves out the
    items ``b`` could not run on (its constraint did not compile there)."""
    mine = [r for r in rows if r.suite == suite and r.budget == budget]
    by = {(r.method, r.item): r.score for r in mine}
    items = sorted({i for m, i in by if m == a} & {i for m, i in by if m == b})
    if supported_only:
        skip = {r.item for r in mine if r.method == b and r.reason.startswith("unsupported")}
        items = [i for i in items if i not in skip]
    if not items:
        return "-"
    iv = bootstrap_ci([by[a, i] - by[b, i] for i in items])
    mark = " *" if iv.lo > 0 or iv.hi < 0 else ""
    n = f" n={len(items)}" if supported_only else ""
    return f"{iv.value:+.2f} [{iv.lo:+.2f}, {iv.hi:+.2f}]{mark}{n}"


def _table(points: Sequence[Point], suite: str) -> list[str]:
    ps = [p for p in points if p.suite == suite]
    budgets = sorted({p.budget for p in ps})
    methods = list(dict.fromkeys(p.method for p in ps))
    at = {(p.method, p.budget): p for p in ps}
    out = [
        "| method | " + " | ".join(f"B={b}" for b in budgets) + " |",
        "|---|" + "---|" * len(budgets),
    ]
    for m in methods:
        cells = []
        for b in budgets:
            p = at.get((m, b))
            cells.append("-" if p is None else _cell(p))
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    return out


def _cell(p: Point) -> str:
    tok, wall = p.particle_tokens / p.items, p.wall_s / p.items
    return (
        f"{p.score:.2f} [{p.ci_lo:.2f}, {p.ci_hi:.2f}] · {tok:.0f} tok · {wall:.1f} s · n={p.items}"
    )


def _comparisons(rows: Sequence[ItemRow], points: Sequence[Point], suite: str) -> list[str]:
    """smc against each peer's best selection, and each selection against first-valid."""
    ps = [p for p in points if p.suite == suite]
    budgets = sorted({p.budget for p in ps})
    methods = list(dict.fromkeys(p.method for p in ps))
    score = {(p.method, p.budget): p.score for p in ps}
    out = []
    if "smc" in methods:
        head = "smc minus the best selection of each other method (paired over items)"
        for only in (False, True):
            if only:
                head = "The same, on the items each method's constraint compiles on"
                if not any(r.suite == suite and r.reason.startswith("unsupported") for r in rows):
                    break
            out += ["", head + ":", ""]
            out += ["| method | " + " | ".join(f"B={b}" for b in budgets) + " |"]
            out += ["|---|" + "---|" * len(budgets)]
            for base in dict.fromkeys(m.split("/")[0] for m in methods if m != "smc"):
                cells = []
                for b in budgets:
                    sels = [m for m in methods if m.startswith(base + "/") and (m, b) in score]
                    best = max(sels, key=lambda m: score[m, b], default=None)
                    diff = "-" if best is None else paired(rows, "smc", best, b, suite, only)
                    cells.append(diff if best is None else f"{diff} ({best.split('/')[1]})")
                out.append(f"| {base} | " + " | ".join(cells) + " |")
    sel = [m for m in methods if "/" in m and not m.endswith("/first-valid")]
    if sel:
        out += ["", "Each selection minus first-valid of the same samples (paired):", ""]
        out += ["| method | " + " | ".join(f"B={b}" for b in budgets) + " |"]
        out += ["|---|" + "---|" * len(budgets)]
        for m in sel:
            ref = m.split("/")[0] + "/first-valid"
            cells = [paired(rows, m, ref, b, suite) for b in budgets]
            out.append(f"| {m} | " + " | ".join(cells) + " |")
    return out


def markdown(rows: Sequence[ItemRow], points: Sequence[Point], command: str = "") -> str:
    """The report: per suite, a score table with costs and the paired comparisons."""
    out = ["# Inference-time scaling frontier", ""]
    if command:
        out += ["```sh", command, "```", ""]
    out += [
        "Cells: score [95% bootstrap CI] · particle-tokens per item · wall seconds per item · "
        "items. Comparisons: mean difference [95% paired bootstrap CI], * where it excludes 0.",
    ]
    for suite in dict.fromkeys(p.suite for p in points):
        out += ["", f"## {suite}", "", f"![{suite}](frontier-{suite}.png)", ""]
        out += _table(points, suite)
        out += _comparisons(rows, points, suite)
        reasons = _reasons(rows, suite)
        if reasons:
            out += ["", "Items a method could not run on, by reason:", ""] + reasons
    return "\n".join(out) + "\n"


def _reasons(rows: Sequence[ItemRow], suite: str) -> list[str]:
    """Items on which a method had no draw at all (unsupported, failed), by kind of reason."""
    items: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows:
        if r.suite == suite and r.reason:
            items[r.method.split("/")[0], r.reason.split(":")[0]].add(r.item)
    total = len({r.item for r in rows if r.suite == suite})
    return [
        f"- {m}: {why} on {len(ids)} of {total} items (scored 0 there)"
        for (m, why), ids in sorted(items.items())
    ]
