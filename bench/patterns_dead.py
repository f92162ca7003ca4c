"""Dead particles on a suite: how often a particle takes a prefix no completion fits.

``python -m bench.patterns_dead --limit 50 --methods smc awrs --max-tokens 48`` runs the
patterns suite's items (same fixed subset, prompt and scoring as ``python -m bench
patterns``) and reports, per method, dead particles split by whether the pattern compiled to
a DFA (``Pattern.regular``), and the full-match rate of the selected output. ``--suite sql``
(or ``json``) does the same for another suite (score: its metric, or validity where the
metric is undefined).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path


def _dead(result, max_tokens: int) -> int:
    """Dead particles: ``Stats.dead`` when the sampler counts them, else samples that ended
    with weight 0, unfinished, before the token budget (those at it ran out of budget)."""
    n = getattr(result.stats, "dead", None)
    if n is not None:
        return int(n)
    return sum(
        1
        for s in result.samples
        if s.log_weight == -math.inf and not s.finished and len(s.token_ids) < max_tokens - 1
    )


def _out_of_budget(result, max_tokens: int) -> int:
    n = getattr(result.stats, "out_of_budget", None)
    if n is not None:
        return int(n)
    return sum(
        1
        for s in result.samples
        if s.log_weight == -math.inf and not s.finished and len(s.token_ids) >= max_tokens - 1
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="patterns", choices=["patterns", "sql", "json"])
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--methods", nargs="+", default=["smc", "awrs"])
    ap.add_argument("--particles", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="docs/results/patterns-dead.json")
    args = ap.parse_args(argv)

    import importlib

    import torch

    import awrs

    SUITE = importlib.import_module(f"bench.suites.{args.suite}").SUITE

    torch.set_num_threads(args.threads)
    lm = awrs.load_model()
    rows = []
    for item in SUITE.items(args.limit):
        c = SUITE.constraint(item)
        prompt = lm.chat(list(item.messages))
        for method in args.methods:
            n = args.particles if method == "smc" else 1
            t0 = time.perf_counter()
            res = awrs.generate(
                lm,
                prompt,
                c,
                method=method,
                n_particles=n,
                max_tokens=args.max_tokens,
                seed=args.seed,
            )
            text = None if res.empty else res.text
            sc = SUITE.score(item, text) if text is not None else None
            score = 0.0 if sc is None else sc.score if sc.score == sc.score else float(sc.valid)
            rows.append(
                {
                    "item": item.id,
                    "pattern": item.data.get("pattern", ""),
                    "regular": bool(getattr(c, "regular", True)),
                    "method": method,
                    "particles": n,
                    "dead": _dead(res, args.max_tokens),
                    "out_of_budget": _out_of_budget(res, args.max_tokens),
                    "match": float(score),
                    "wall_s": round(time.perf_counter() - t0, 2),
                }
            )
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1, ensure_ascii=False))
    print(summary(rows))


def summary(rows) -> str:
    lines = [
        "| method | items | regular items | dead / particles (regular) | "
        "dead / particles (all) | out of budget | full match |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == m]
        reg = [r for r in rs if r["regular"]]
        d_reg, p_reg = sum(r["dead"] for r in reg), sum(r["particles"] for r in reg)
        d_all, p_all = sum(r["dead"] for r in rs), sum(r["particles"] for r in rs)
        match = sum(r["match"] for r in rs) / len(rs)
        lines.append(
            f"| {m} | {len(rs)} | {len(reg)} | {d_reg} / {p_reg} | "
            f"{d_all} / {p_all} ({d_all / max(p_all, 1):.1%}) | "
            f"{sum(r.get('out_of_budget', 0) for r in rs)} | {match:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
