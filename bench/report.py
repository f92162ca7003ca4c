"""The Markdown report and PNG plots of a benchmark run."""

from __future__ import annotations

import collections
import datetime
import math
import platform
from dataclasses import dataclass
from pathlib import Path

from .common import markdown_table
from .metrics import NAN, Count, Interval, bootstrap_ci, count_ci, ratio_ci, share
from .store import FAILED, OK, UNSUPPORTED, Row, Store

#: methods whose finished outputs must always satisfy the constraint (the validity target)
EXACT = ("awrs", "smc")
PEER_NAMES = ("llguidance", "xgrammar", "genlm-control", "genlm-control-awrs-lm")


def _per(num: float, den: float) -> float | None:
    return num / den if den and not math.isnan(num) else None


@dataclass
class Summary:
    """One method's results on one suite."""

    method: str
    rows: list[Row]

    @property
    def ok(self) -> list[Row]:
        return [r for r in self.rows if r.status == OK]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    def score(self, post: bool = False) -> Interval:
        """The score over all completed runs, a run without output scoring its suite's
        ``no_output_score`` (0; runs scoring NaN, where the metric does not apply, drop out)."""
        return bootstrap_ci([r.score_post if post else r.score for r in self.ok])

    def score_with_output(self, post: bool = False) -> Interval:
        """The score averaged over the runs that returned an output only (a method that
        returns nothing on hard items looks better here than in :meth:`score`)."""
        return bootstrap_ci([r.score_post if post else r.score for r in self.ok if r.has_output])

    def no_output(self) -> Count:
        """Completed runs without output, of all completed runs, with the share's interval."""
        return count_ci([not r.has_output for r in self.ok])

    def metric(self, name: str) -> Interval:
        return bootstrap_ci(
            [r.metrics.get(name) for r in self.ok if r.has_output]
            + [0.0 for r in self.ok if not r.has_output]
        )

    def particles(self, name: str) -> Interval:
        """Particles per run that ``name`` (``dead``: no token extended them;
        ``out_of_budget``: unfinished at max tokens), where the method reports it."""
        return bootstrap_ci([r.metrics.get(name) for r in self.ok])

    def wall(self) -> Interval:
        return bootstrap_ci([r.wall_s for r in self.ok])

    def lm(self) -> Interval:
        """Seconds inside the model's forward passes per sample (when the method reports it)."""
        return bootstrap_ci([r.metrics.get("lm_s") for r in self.ok])

    def per_token(self) -> Interval:
        return bootstrap_ci([_per(r.wall_s, r.tokens) for r in self.ok])

    def evals_per_token(self) -> Interval:
        return bootstrap_ci([_per(r.evals, r.tokens) for r in self.ok])

    def build(self) -> Interval:
        return bootstrap_ci([r.build_s for r in self.ok])

    def valid_share(self) -> float:
        return share([r.valid for r in self.ok])

    def finished_valid(self) -> tuple[int, int]:
        fin = [r for r in self.ok if r.finished and r.has_output]
        return sum(r.valid for r in fin), len(fin)


def select(store: Store, suite, methods, seeds, hashes, items) -> dict[str, Summary]:
    """This run's rows of a suite, by method (rows of other settings are left out).

    A run without output scores the suite's ``no_output_score`` of its item (NaN where the
    metric does not apply, e.g. execution accuracy outside concert_singer).
    """
    by_id = {i.id: i for i in items}
    out = {m.name: Summary(m.name, []) for m in methods}
    for r in store.rows():
        if (
            r.suite == suite.name
            and r.method in out
            and r.seed in seeds
            and r.item in by_id
            and r.settings == hashes.get((suite.name, r.method))
        ):
            if r.status == OK and not r.has_output:
                r.score = r.score_post = suite.no_output_score(by_id[r.item])
            out[r.method].rows.append(r)
    return out


def _paired(a: Summary, b: Summary, attr) -> tuple[list, list]:
    """Values of ``attr(row)`` for the (item, seed) pairs both methods completed."""
    bk = {(r.item, r.seed): r for r in b.ok}
    xs, ys = [], []
    for r in a.ok:
        other = bk.get((r.item, r.seed))
        if other is not None:
            xs.append(attr(r))
            ys.append(attr(other))
    return xs, ys


def speedup(fast: Summary, ref: Summary, per_token: bool = False) -> Interval:
    """ref time / fast time on paired items (> 1: ``fast`` is faster)."""
    attr = (lambda r: _per(r.wall_s, r.tokens)) if per_token else (lambda r: r.wall_s)
    mine, theirs = _paired(fast, ref, attr)
    return ratio_ci(theirs, mine)


def _outside_lm(r: Row) -> float | None:
    lm = r.metrics.get("lm_s")
    return None if lm is None else r.wall_s - lm


def overhead_speedup(fast: Summary, ref: Summary) -> Interval:
    """ref ÷ fast time outside the model's forward passes (sampler + constraint), paired."""
    mine, theirs = _paired(fast, ref, _outside_lm)
    return ratio_ci(theirs, mine)


def eval_ratio(a: Summary, b: Summary) -> Interval:
    """b evals per token / a evals per token on paired items."""
    mine, theirs = _paired(a, b, lambda r: _per(r.evals, r.tokens))
    return ratio_ci(theirs, mine)


def _fmt(x: float, spec=".3g") -> str:
    return "-" if x is None or math.isnan(x) else format(x, spec)


def main_table(suite, sums: dict[str, Summary], missing: dict[str, str] | None = None) -> str:
    extra = list(suite.extra_metrics)
    header = [
        "method",
        "runs",
        "unsupported",
        "failed",
        f"{suite.metric} over all runs [95% CI]",
        "no output / runs (share [95% CI])",
        f"posterior {suite.metric}",
        *extra,
        "valid",
        "no valid output",
        "dead / run",
        "out of budget / run",
        "s / sample",
        "LM s / sample",
        "s / token",
        "evals / token",
        "build s",
    ]
    rows = []
    for s in sums.values():
        if not s.rows and missing and s.method in missing:
            rows.append(
                [f"{s.method} (missing: {missing[s.method][:80]})"] + ["-"] * (len(header) - 1)
            )
            continue
        valid = s.valid_share()
        rows.append(
            [
                s.method,
                len(s.ok),
                s.count(UNSUPPORTED),
                s.count(FAILED),
                s.score().format(".2f"),
                s.no_output().format(".2f"),
                s.score(post=True).format(".2f"),
                *[s.metric(e).format(".2f") for e in extra],
                _fmt(valid, ".2f"),
                _fmt(1 - valid if not math.isnan(valid) else valid, ".2f"),
                s.particles("dead").format(".2f"),
                s.particles("out_of_budget").format(".2f"),
                s.wall().format(".3g"),
                s.lm().format(".3g"),
                s.per_token().format(".3g"),
                s.evals_per_token().format(".3g"),
                s.build().format(".2g"),
            ]
        )
    return markdown_table(header, rows)


def policy_table(suite, sums: dict[str, Summary]) -> str:
    """Methods × json generation policies side by side (``METHOD@POLICY`` rows), peers at
    their defaults: score, share of runs without valid output, dead particles per run."""
    by: dict[str, dict[str, Summary]] = {}
    for name, s in sums.items():
        if s.ok:
            base, _, policy = name.partition("@")
            by.setdefault(base, {})[policy or "default"] = s
    policies = list(dict.fromkeys(p for row in by.values() for p in row))
    header = ["method"] + [
        f"{p}: {suite.metric} / no valid output / dead per run" for p in policies
    ]
    rows = []
    for base, row in by.items():
        cells = []
        for p in policies:
            s = row.get(p)
            if s is None:
                cells.append("")
                continue
            valid = s.valid_share()
            cells.append(
                f"{s.score().format('.2f')} / {_fmt(1 - valid, '.2f')} / "
                f"{s.particles('dead').format('.2f')}"
            )
        rows.append([base, *cells])
    return markdown_table(header, rows)


def ratio_table(sums: dict[str, Summary]) -> str:
    refs = [m for m in ("direct", "mask", *PEER_NAMES) if m in sums and sums[m].ok]
    header = [
        "method",
        *[f"vs {r} (sample)" for r in refs],
        "s/token vs direct",
        "mask evals ÷ evals",
    ]
    rows = []
    for s in sums.values():
        if not s.ok:
            continue
        cells = [speedup(s, sums[r]).format(".3g") if r != s.method else "1" for r in refs]
        rel = NAN
        if "direct" in sums and sums["direct"].ok:
            mine, direct = _paired(s, sums["direct"], lambda r: _per(r.wall_s, r.tokens))
            rel = ratio_ci(mine, direct)
        ev = eval_ratio(s, sums["mask"]) if "mask" in sums and sums["mask"].ok else NAN
        rows.append([s.method, *cells, rel.format(".3g"), ev.format(".3g")])
    return markdown_table(header, rows)


def _lm_per_token(r: Row) -> float | None:
    lm = r.metrics.get("lm_s")
    return None if lm is None else _per(lm, r.tokens)


def _outside_per_token(r: Row) -> float | None:
    out = _outside_lm(r)
    return None if out is None else _per(out, r.tokens)


def cost_table(sums: dict[str, Summary]) -> str:
    """Per method, per generated token: wall time, the model's forward passes, the time
    outside them (sampler + constraint) and its ratio to the model's, the constraint's own
    time, and constraint evaluations."""
    header = [
        "method",
        "runs",
        "tokens / run",
        "s / token [95% CI]",
        "LM s / token",
        "outside-model s / token",
        "outside-model ÷ LM time [95% CI]",
        "constraint s / token",
        "evals / token [95% CI]",
    ]
    rows = []
    for s in sums.values():
        if not s.ok:
            continue
        timed = [r for r in s.ok if r.metrics.get("lm_s") is not None]
        share_ = ratio_ci([_outside_lm(r) for r in timed], [r.metrics["lm_s"] for r in timed])
        rows.append(
            [
                s.method,
                len(s.ok),
                bootstrap_ci([r.tokens for r in s.ok]).format(".3g"),
                s.per_token().format(".3g"),
                bootstrap_ci([_lm_per_token(r) for r in s.ok]).format(".3g"),
                bootstrap_ci([_outside_per_token(r) for r in s.ok]).format(".3g"),
                share_.format(".2f"),
                bootstrap_ci(
                    [_per(r.metrics.get("constraint_s", NAN.value), r.tokens) for r in s.ok]
                ).format(".3g"),
                s.evals_per_token().format(".3g"),
            ]
        )
    return markdown_table(header, rows)


def distinct_table(field: str, sums: dict[str, Summary]) -> str:
    """Per method: distinct valid outputs (by the per-sample ``field``, e.g. canonical SMILES)
    per item over its seeded runs, and distinct ÷ valid outputs on items with ≥ 2 valid ones."""
    header = [
        "method",
        "items",
        "distinct valid outputs / item [95% CI]",
        "items with ≥ 2 valid",
        "distinct ÷ valid outputs [95% CI]",
    ]
    rows = []
    for s in sums.values():
        if not s.ok:
            continue
        per_item: dict[str, list] = {}
        for r in s.ok:
            key = r.metrics.get(field) if r.valid and r.has_output else None
            per_item.setdefault(r.item, []).append(key)
        counts = [len({k for k in keys if k is not None}) for keys in per_item.values()]
        shares = [
            len(set(valid)) / len(valid)
            for valid in ([k for k in keys if k is not None] for keys in per_item.values())
            if len(valid) >= 2
        ]
        rows.append(
            [
                s.method,
                len(per_item),
                bootstrap_ci(counts).format(".2f"),
                len(shares),
                bootstrap_ci(shares).format(".2f"),
            ]
        )
    return markdown_table(header, rows)


def paired_difference(a: Summary, b: Summary) -> Interval:
    """Mean of ``a``'s score minus ``b``'s over the (item, seed) runs both completed."""
    xs, ys = _paired(a, b, lambda r: r.score)
    return bootstrap_ci([x - y for x, y in zip(xs, ys, strict=True)])


def molecule_targets(sums: dict[str, Summary]) -> list[str]:
    """The molecular-synthesis targets: smc's runs without output, the QED tilt's gain, smc
    against the peers, awrs's cost against the full-vocabulary mask."""
    lines = []
    ok = {m: s for m, s in sums.items() if s.ok}
    if "smc" in ok:
        none = ok["smc"].no_output()
        lines.append(
            f"runs without output, `smc`: {none.format('.2f')} (target ≤ 5%): "
            f"**{'met' if none.k <= 0.05 * none.n else 'not met'}**"
        )
    if "smc" in ok and "smc-critic" in ok:
        d = paired_difference(ok["smc-critic"], ok["smc"])
        met = d.n > 1 and d.lo > 0
        lines.append(
            f"mean QED, `smc-critic` − `smc`: {d.format('.3f')} over {d.n} paired runs "
            f"(target > 0, interval excluding 0): **{'met' if met else 'not met'}**"
        )
    peers = [p for p in PEER_NAMES if p in ok]
    if "smc" in ok and peers:
        q = ok["smc"].score()
        text = ", ".join(f"`{p}` {ok[p].score().format('.3f')}" for p in peers)
        met = all(q.value >= ok[p].score().value for p in peers)
        lines.append(
            f"mean QED, `smc` {q.format('.3f')} vs {text} (target ≥ every peer): "
            f"**{'met' if met else 'not met'}**"
        )
    if "awrs" in ok and "mask" in ok:
        fast = speedup(ok["awrs"], ok["mask"], per_token=True)
        lines.append(
            f"speed: `awrs` vs `mask`, × faster per token: {fast.format('.3g')} over {fast.n} "
            f"paired runs (target ≥ 20): **{'met' if fast.n and fast.value >= 20 else 'not met'}**"
        )
        outside = overhead_speedup(ok["awrs"], ok["mask"])
        lines.append(
            f"overhead: `awrs` vs `mask` time outside the model (sampler + constraint), × faster: "
            f"{outside.format('.3g')} over {outside.n} paired runs (diagnostic, no target)"
        )
        paired = {(r.item, r.seed) for r in ok["mask"].ok}
        timed = [r for r in ok["awrs"].ok if (r.item, r.seed) in paired and r.metrics.get("lm_s")]
        out = ratio_ci([_outside_lm(r) for r in timed], [r.metrics["lm_s"] for r in timed])
        lines.append(
            f"overhead: `awrs` time outside the model ÷ the model's on those runs: "
            f"{out.format('.3g')} (target ≤ 0.25): "
            f"**{'met' if out.n and out.value <= 0.25 else 'not met'}**"
        )
    return lines


def ending(r: Row) -> str:
    """Why a run has no output: the most frequent way its particles ended ("all particles
    dead", "out of budget", "pruned to completion"; "other" when the method does not say)."""
    counts = {
        "all particles dead": r.metrics.get("dead", 0) or 0,
        "out of budget": r.metrics.get("out_of_budget", 0) or 0,
        "pruned to completion": r.metrics.get("budget_dead", 0) or 0,
    }
    top = max(counts, key=counts.get)
    return top if counts[top] > 0 else "other"


def no_output_table(suite, sums: dict[str, Summary]) -> str:
    """Per method: runs without output (count, share with its 95% interval), the score over
    all runs (no output scores 0) beside the score over the runs with output only, and the
    runs without output split by how their particles ended."""
    kinds = ("all particles dead", "out of budget", "pruned to completion", "other")
    header = [
        "method",
        "runs",
        "no output",
        "no output share [95% CI]",
        f"{suite.metric} over all runs [95% CI]",
        f"{suite.metric} over runs with output only [95% CI]",
        *kinds,
        "budget-pruned tokens / run",
        "of which close-forced",
    ]
    rows = []
    for s in sums.values():
        if not s.ok:
            continue
        c = collections.Counter(ending(r) for r in s.ok if not r.has_output)
        per_run = []
        for key in ("budget_pruned", "budget_forced"):
            vals = [r.metrics.get(key) for r in s.ok]
            vals = [v for v in vals if v is not None]
            per_run.append(_fmt(sum(vals) / len(vals), ".3g") if vals else "-")
        none = s.no_output()
        rows.append(
            [
                s.method,
                none.n,
                none.k,
                none.share.format(".2f"),
                s.score().format(".2f"),
                s.score_with_output().format(".2f"),
                *[c.get(k, 0) for k in kinds],
                *per_run,
            ]
        )
    return markdown_table(header, rows)


def targets(suite, sums: dict[str, Summary]) -> list[str]:
    """The issue's targets, checked on this suite's rows (honestly: '-' when not measured)."""
    lines = []
    for m in [n for n in sums if n.partition("@")[0] in EXACT]:
        if sums[m].ok:
            v, n = sums[m].finished_valid()
            mark = "met" if n and v == n else ("not met" if n else "no finished outputs")
            lines.append(
                f"validity: {v}/{n} finished `{m}` outputs satisfy the constraint "
                f"(target 100%): **{mark}**"
            )

    def check(label, a, b, fn, ok, target):
        if a in sums and b in sums and sums[a].ok and sums[b].ok:
            iv = fn(sums[a], sums[b])
            if iv.n:
                verdict = (
                    f" (target {target}): **{'met' if ok(iv.value) else 'not met'}**"
                    if target
                    else " (diagnostic, no target)"
                )
                lines.append(f"{label}: {iv.format('.3g')} over {iv.n} paired runs{verdict}")
                return
        lines.append(f"{label}: not measured (needs `{a}` and `{b}` rows)")

    check(
        "speed: `smc` vs `genlm-control`, × faster per sample",
        "smc",
        "genlm-control",
        speedup,
        lambda v: v >= 10,
        "≥ 10",
    )
    check(
        "speed: `smc` vs `genlm-control-awrs-lm` (same model backend), × faster per sample",
        "smc",
        "genlm-control-awrs-lm",
        speedup,
        lambda v: v >= 10,
        "≥ 10",
    )
    for peer in ("genlm-control", "genlm-control-awrs-lm"):
        check(
            f"overhead: `smc` vs `{peer}` time outside the model (sampler + constraint), × faster",
            "smc",
            peer,
            overhead_speedup,
            None,
            None,
        )
    check(
        "speed: `awrs` ÷ `direct` time per token",
        "awrs",
        "direct",
        lambda a, b: ratio_ci(*_paired(a, b, lambda r: _per(r.wall_s, r.tokens))),
        lambda v: v <= 1.1,
        "≤ 1.1",
    )
    check(
        "evaluations: `mask` ÷ `awrs` per token",
        "awrs",
        "mask",
        eval_ratio,
        lambda v: v >= 50,
        "≥ 50",
    )
    check(
        "speed: `awrs` vs `mask`, × faster per sample",
        "awrs",
        "mask",
        speedup,
        lambda v: v > 1,
        "> 1",
    )
    if getattr(suite, "policies", None):
        lines += policy_targets(sums)
    if suite.name == "molecules":
        lines += molecule_targets(sums)
    order = [m for m in ("smc", "awrs", "direct") if m in sums and sums[m].ok]
    if len(order) > 1:
        vals = {m: sums[m].score().value for m in order}
        ok = all(vals[a] >= vals[b] for a, b in zip(order, order[1:], strict=False))
        text = " ≥ ".join(f"`{m}` {vals[m]:.2f}" for m in order)
        lines.append(
            f"quality: {text} (target smc ≥ awrs ≥ direct): **{'met' if ok else 'not met'}**"
        )
    return lines


def _pick(sums: dict[str, Summary], base: str) -> str | None:
    """The run of ``base`` under the default policy (``smc`` or ``smc@natural``)."""
    for name in (base, f"{base}@natural"):
        if name in sums and sums[name].ok:
            return name
    return None


def policy_targets(sums: dict[str, Summary]) -> list[str]:
    """The json targets: smc ≥ best peer (compliance, runs without valid output), awrs ≥
    xgrammar, no dead particles."""
    lines = []
    peers = [p for p in ("llguidance", "xgrammar") if p in sums and sums[p].ok]
    smc, awrs_ = _pick(sums, "smc"), _pick(sums, "awrs")
    if smc and peers:
        best = max(peers, key=lambda p: sums[p].score().value)
        a, b = sums[smc].score().value, sums[best].score().value
        lines.append(
            f"compliance: `{smc}` {a:.2f} vs best peer `{best}` {b:.2f} (target ≥): "
            f"**{'met' if a >= b else 'not met'}**"
        )
        none_a = 1 - sums[smc].valid_share()
        none_b = min(1 - sums[p].valid_share() for p in peers)
        lines.append(
            f"no valid output: `{smc}` {none_a:.2f} vs best peer {none_b:.2f} "
            f"(target ≤): **{'met' if none_a <= none_b else 'not met'}**"
        )
    if awrs_ and "xgrammar" in peers:
        a, b = sums[awrs_].score().value, sums["xgrammar"].score().value
        lines.append(
            f"compliance: `{awrs_}` {a:.2f} vs `xgrammar` {b:.2f} (target ≥): "
            f"**{'met' if a >= b else 'not met'}**"
        )
    for name, s in sums.items():
        if name.partition("@")[0] in EXACT and s.ok:
            dead = s.particles("dead")
            if dead.n:
                total = sum(r.metrics.get("dead", 0) for r in s.ok)
                lines.append(
                    f"dead particles: `{name}` {total:.0f} over {dead.n} runs "
                    f"(target 0): **{'met' if total == 0 else 'not met'}**"
                )
    return lines


def reasons(sums: dict[str, Summary]) -> list[str]:
    """Unsupported and failed runs, grouped by method and reason."""
    lines = []
    for s in sums.values():
        c = collections.Counter((r.status, r.reason[:160]) for r in s.rows if r.status != OK)
        for (status, reason), n in c.most_common(8):
            lines.append(f"- `{s.method}` {status} ×{n}: {reason}")
        if len(c) > 8:
            lines.append(f"- `{s.method}`: {len(c) - 8} more distinct reasons (see samples.csv)")
    return lines


def suite_section(suite, sums, items, plan, plot_paths) -> list[str]:
    cfg = plan.cfg
    out = [
        f"## {suite.name}",
        "",
        f"{len(items)} items, seeds {plan.seeds}, metric `{suite.metric}`; "
        f"particles {cfg.particles}, max tokens {cfg.max_tokens}, temperature "
        f"{cfg.temperature}, ESS threshold {cfg.ess_threshold}.",
        "",
        main_table(suite, sums, plan.missing),
        "",
        "`runs`: completed runs (item × seed); the score over all runs counts a run without "
        "output as 0 (runs where the metric does not apply, NaN, drop out); `no output`: "
        "completed runs that returned nothing, of all completed runs (failed and unsupported "
        "runs are counted in their own columns); `dead / run`: particles per run that died "
        "because no token extends their prefix, `out of budget / run`: particles still "
        "unfinished at max tokens; `posterior`: the score's expectation under the method's "
        "weighted outputs; `valid`: share of runs whose output passes the suite's "
        "independent check (the rest: no valid output); times are wall-clock seconds of "
        "generation (the constraint's construction is `build s`; `LM s`: the part spent in "
        "the model's forward passes, genlm-control's being its own Hugging Face backend); "
        "`s / token` and `evals / token` divide by the tokens generated over all particles, "
        "end-of-sequence included.",
        "",
        "Speed-ups on paired runs (reference time ÷ method time; > 1 means faster), "
        "time per token relative to `direct`, and `mask`'s constraint evaluations ÷ the "
        "method's:",
        "",
        ratio_table(sums),
        "",
        "Runs without output per method: their count and share of the completed runs "
        "(95% percentile-bootstrap interval over runs, like the other intervals), the score "
        "over all runs (no output scores 0) beside the score over the runs with output only "
        "(which hides the runs that returned nothing), and how their particles ended (the "
        "most frequent way per run; `pruned to completion`: budget feasibility left no token):",
        "",
        no_output_table(suite, sums),
        "",
    ]
    if getattr(suite, "policies", None) and any("@" in m for m in sums):
        out += [
            "Generation policies side by side (`METHOD@POLICY`; peers at their defaults; "
            "score [95% CI] / share of runs without valid output / dead particles per "
            "run):",
            "",
            policy_table(suite, sums),
            "",
        ]
    if sums.get("awrs") and sums["awrs"].ok and sums.get("mask") and sums["mask"].ok:
        out += [
            "Cost per generated token (all particles, end-of-sequence included): wall time, "
            "the model's forward passes (`LM`), the rest (sampler + constraint) and its ratio "
            "to the model's time (ratio of sums over runs), the constraint's own time and its "
            "evaluations:",
            "",
            cost_table(sums),
            "",
        ]
    field = getattr(suite, "distinct_field", None)
    if field:
        out += [
            f"Distinct valid outputs per item over its seeded runs (by `{field}`); distinct ÷ "
            "valid on the items with at least two valid outputs (1: no repeats):",
            "",
            distinct_table(field, sums),
            "",
        ]
    out += ["Targets:", ""]
    out += [f"- {line}" for line in targets(suite, sums)]
    why = reasons(sums)
    if why:
        out += ["", "Unsupported or failed runs:", "", *why]
    if plot_paths:
        out += [""] + [f"![{p.stem}](plots/{p.name})" for p in plot_paths]
    return out + [""]


def slow_methods(plan) -> str:
    """The methods run on ``--slow-limit`` items only: slow everywhere, or on some suites."""
    names = [m.name for m in plan.methods if m.slow]
    methods = {m.name for m in plan.methods}
    for suite in plan.suites:
        names += [
            f"{m} on {suite.name}" for m in getattr(suite, "slow_methods", ()) if m in methods
        ]
    return ", ".join(dict.fromkeys(names)) or "none"


def write(
    out: Path, plan, store: Store, hashes: dict, command: str = "", plots: bool = True
) -> Path:
    """Write ``report.md`` (and ``plots/*.png``) for the suites and methods of ``plan``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = set(plan.seeds)
    lines = [
        "# Benchmark report",
        "",
        f"Generated {datetime.datetime.now().isoformat(timespec='seconds')} on "
        f"{platform.machine()} / Python {platform.python_version()}; "
        f"model `{plan.cfg.model}`.",
        "",
    ]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    limits = ", ".join(
        f"--{k} {v}" for k, v in getattr(plan, "limits", {}).items() if v is not None
    )
    if limits:
        lines += [f"Limits: {limits} (items per suite; slow methods: {slow_methods(plan)}).", ""]
    if any(s.generative for s in plan.suites):
        lines += ["Methods:", ""]
        lines += [f"- `{m.name}`: {m.describe()}" for m in plan.methods] + [""]
    if plan.problems:
        lines += ["Problems (reported, not dropped):", ""]
        lines += [f"- {p}" for p in dict.fromkeys(plan.problems)] + [""]
    for suite in plan.suites:
        items = plan.items.get(suite.name)
        if items is None:
            continue
        if not suite.generative:
            lines += suite.report_section(store, plan, hashes)
            continue
        sums = select(store, suite, plan.methods, seeds, hashes, items)
        paths = []
        if plots and any(s.ok for s in sums.values()):
            from .plots import plot_suite

            paths = plot_suite(out / "plots", suite, sums)
        lines += suite_section(suite, sums, items, plan, paths)
    lines += ["Every sample is in `samples.csv` (one row per suite, method, item and seed)."]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
