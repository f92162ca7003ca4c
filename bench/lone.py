"""Why a lone particle ends empty: budget feasibility traced step by step (issue 26).

Runs ``awrs`` (or ``smc``) on a few items of a suite with the run's :class:`~awrs.Budget`
swapped for a traced one, and records per step and particle: whether the state had a known
completion (and its length in tokens, and where it came from: a search, the parent's
completion, the parent's failed search), what the completion searches tried (searches,
failures, constraint transitions), how many candidates budget feasibility pruned and why (the
sound bound, or closing: the known completion no longer fits), and how the particle ended.

    python -m bench.lone sql json patterns --method awrs --limit 10 --max-tokens 64
    python -m bench.lone sql --limit 2 --steps     # every step of every run

Prints one line per run and a summary per suite; ``--json PATH`` writes the traces.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from awrs.sampling.budget import Budget

#: where the current step's record goes (the traced budget has no room of its own: slots)
_TRACE: list[dict] = []


class TracedBudget(Budget):
    """A :class:`Budget` that writes what it decides into :data:`_TRACE`."""

    __slots__ = ()

    def _rec(self) -> dict:
        if not _TRACE:
            _TRACE.append(_blank())
        return _TRACE[-1]

    def descend(self, parent, child) -> bool:
        out = super().descend(parent, child)
        if out:
            self._rec()["inherited_unknown"] += 1
        return out

    def _entry(self, checker, state, ids):
        cl = self.closing
        rec = self._rec()
        if cl is None:
            rec["closing_off"] = True
            return None
        before = cl.cached(state)
        s0, f0, a0 = cl.searches, cl.failures, cl.advances
        hit = super()._entry(checker, state, ids)
        cl2 = self.closing
        rec["searches"] += cl.searches - s0
        rec["failures"] += cl.failures - f0
        rec["advances"] += cl.advances - a0
        if cl2 is None:
            rec["closing_off"] = True
        if hit is not None:
            rec["known"] = hit[0]
            rec["tail"] = hit[1].decode("utf-8", "replace")
            rec["source"] = "cached" if before is not None else "searched"
        else:
            rec["known"] = None
            if before is not None and before[0] is None:
                rec["source"] = "cached-unknown"
            elif cl.searches > s0:
                rec["source"] = "search-failed"
            else:
                rec["source"] = "step-limit"
        return hit

    def bind(self, checker, state, ids, remaining):
        rec = self._rec()
        rec["remaining"] = remaining
        rec["active"] = self.active(remaining)
        return super().bind(checker, state, ids, remaining)


def _blank() -> dict:
    return {
        "remaining": None,
        "active": False,
        "known": None,
        "tail": None,
        "source": None,
        "searches": 0,
        "failures": 0,
        "advances": 0,
        "inherited_unknown": 0,
        "closing_off": False,
    }


def trace_run(lm, prompt_ids, constraint, method: str, max_tokens: int, seed: int, n: int):
    """Run one sampler with a traced budget; returns ``(result, steps)``."""
    import awrs

    opts = {"n_particles": n if method == "smc" else 1}
    s = awrs.make_sampler(
        lm, list(prompt_ids), constraint, method=method, max_tokens=max_tokens, seed=seed, **opts
    )
    run = s.run
    b = run.budget
    if isinstance(b, Budget):
        b.__class__ = TracedBudget
    steps = []
    stats = run.stats
    while not s.finished:
        _TRACE.clear()
        _TRACE.append(_blank())
        p0, f0, d0 = stats.budget_pruned, stats.budget_forced, stats.budget_dead
        dead0 = stats.dead
        live = [p for p in s.particles if p.alive]
        cl = getattr(run.budget, "closing", None)
        c0 = (cl.searches, cl.failures, cl.advances) if cl is not None else (0, 0, 0)
        s.step()
        rec = _TRACE[-1]
        b = run.budget
        if isinstance(b, Budget):
            b.flush()  # DFA prunings are counted at the next step's bind
        c1 = (cl.searches, cl.failures, cl.advances) if cl is not None else c0
        rec.update(
            searches=c1[0] - c0[0],
            failures=c1[1] - c0[1],
            advances=c1[2] - c0[2],
            step=s.step_index - 1,
            live=len(live),
            pruned_sound=stats.budget_pruned - p0 - (stats.budget_forced - f0),
            pruned_closing=stats.budget_forced - f0,
            budget_dead=stats.budget_dead - d0,
            dead=stats.dead - dead0,
            text=run.text(live[0].ids) if live else "",
        )
        steps.append(rec)
    return s.result(), steps


def summarize(steps: list[dict], result) -> dict:
    """One run's trace in a few numbers."""
    src = Counter(r["source"] for r in steps if r["source"])
    first_unknown = next((r["step"] for r in steps if r["source"] and r["known"] is None), None)
    known = [r["known"] for r in steps if r["known"] is not None]
    return {
        "finished": not result.empty,
        "budget_dead": sum(r["budget_dead"] for r in steps),
        "dead": sum(r["dead"] for r in steps),
        "steps": len(steps),
        "known_steps": len(known),
        "unknown_steps": sum(1 for r in steps if r["source"] and r["known"] is None),
        "first_unknown": first_unknown,
        "sources": dict(src),
        "searches": sum(r["searches"] for r in steps),
        "failures": sum(r["failures"] for r in steps),
        "advances": sum(r["advances"] for r in steps),
        "pruned_sound": sum(r["pruned_sound"] for r in steps),
        "pruned_closing": sum(r["pruned_closing"] for r in steps),
        "closing_off": any(r["closing_off"] for r in steps),
        "max_known": max(known, default=None),
        "text": result.text if result.text is not None else (steps[-1]["text"] if steps else ""),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.lone", description=__doc__.split("\n")[0])
    ap.add_argument("suites", nargs="+")
    ap.add_argument("--method", default="awrs", choices=("awrs", "smc"))
    ap.add_argument("--particles", type=int, default=8)
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", action="store_true", help="print every step")
    ap.add_argument("--items", nargs="*", help="only these item ids")
    ap.add_argument("--json", help="write the traces here")
    args = ap.parse_args(argv)

    import torch

    import awrs
    from bench.suites import get_suite

    torch.set_num_threads(args.threads)
    lm = awrs.load_model(None)
    out: dict = {}
    for name in args.suites:
        suite = get_suite(name)
        runs = []
        for item in suite.items(args.limit):
            if args.items and item.id not in args.items:
                continue
            constraint = suite.constraint(item)
            awrs.prepare(constraint, lm)
            prompt = lm.chat(list(item.messages))
            result, steps = trace_run(
                lm, prompt, constraint, args.method, args.max_tokens, args.seed, args.particles
            )
            summ = summarize(steps, result)
            runs.append({"item": item.id, **summ, "trace": steps})
            print(
                f"{name} {item.id}: finished={summ['finished']} budget_dead={summ['budget_dead']}"
                f" dead={summ['dead']} known={summ['known_steps']}/{summ['steps']}"
                f" first_unknown={summ['first_unknown']} sources={summ['sources']}"
                f" searches={summ['searches']} failed={summ['failures']}"
                f" pruned(sound/closing)={summ['pruned_sound']}/{summ['pruned_closing']}"
                f" closing_off={summ['closing_off']}\n    {summ['text']!r}",
                flush=True,
            )
            if args.steps:
                for r in steps:
                    print(
                        f"    {r['step']:3d} rem={r['remaining']} known={r['known']}"
                        f" src={r['source']} tail={r['tail']!r} s/f/a={r['searches']}/"
                        f"{r['failures']}/{r['advances']} inh={r['inherited_unknown']}"
                        f" pr={r['pruned_sound']}/{r['pruned_closing']} bd={r['budget_dead']}"
                        f" | {r['text'][-40:]!r}"
                    )
        n = len(runs)
        fin = sum(r["finished"] for r in runs)
        print(
            f"== {name} ({args.method}, {n} runs, {args.max_tokens} tokens): finished {fin}/{n},"
            f" pruned to completion {sum(r['budget_dead'] > 0 for r in runs)},"
            f" dead {sum(r['dead'] > 0 for r in runs)},"
            f" runs with an unknown completion {sum(r['unknown_steps'] > 0 for r in runs)},"
            f" closing turned off {sum(r['closing_off'] for r in runs)}",
            flush=True,
        )
        out[name] = runs
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
