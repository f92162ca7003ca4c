"""Sampler benchmark on the default model: checks per token, sampler overhead, SMC vs direct.

Run from the repository root::

    python -m bench.sampler [--threads 2] [--particles 8] [--max-tokens 24] [--repeats 1]

For each constraint (regular expressions when ``awrs.Regex`` is available, else Predicate
equivalents) and method it prints one Markdown row: constraint evaluations per particle-token
(``mask`` evaluates all 49,152 tokens), the sampler's own time per particle-token (wall time
minus the model forward and the constraint's methods), the constraint's time, and the wall
time per particle-token; then the ratio of SMC's time per token to unconstrained direct
sampling of as many sequences. A last table times the sampler alone on replayed model
outputs (no forward), best of five, which is steadier on a shared machine.

``--sweep 4,16,64`` instead runs SMC and unconstrained ``direct`` side by side at each particle
count on the name regex, the small JSON schema and the patterns suite's hardest items (least
allowed mass at the first step, among the first ``--rank`` items of the suite's order), and
reports ms/token of both and their ratio, the time outside the model over the model's time,
candidates checked and distinct evaluations per particle-token, and how often the exact-mask
fallback fired (per 100 particle-tokens)::

    python -m bench.sampler --threads 1 --sweep 4,16,64 --max-tokens 32 --hardest 3

``--patterns-all`` runs SMC (``--particles``) on every patterns item and lists the items with the
most candidates per particle-token.
"""

from __future__ import annotations

import argparse
import re
import time

import torch

import awrs
from awrs.models.base import LanguageModel
from awrs.sampling.population import Stats
from awrs.sampling.token import vocab_trie

from .common import markdown_table

PROMPTS = {
    "phone": "Write a US phone number such as 555-0199, and nothing else.",
    "json": "Describe a person as a JSON object with a name and an age.",
}
PATTERNS = {
    "phone": r"[0-9]{3}-[0-9]{4}",
    "json": r'\{"name": "[A-Z][a-z]{1,12}", "age": [1-9][0-9]?\}',
}


def constraints() -> dict[str, awrs.Constraint]:
    """The benchmark constraints: ``awrs.Regex`` if importable, else the same as Predicates."""
    try:
        from awrs.constraints.regex import Regex
    except ImportError:
        Regex = None
    out = {}
    for name, pattern in PATTERNS.items():
        if Regex is not None:
            out[name] = Regex(pattern)
        else:
            import regex

            rx = regex.compile(pattern)
            out[name] = awrs.Predicate(
                lambda s, rx=rx: rx.fullmatch(s, partial=True) is not None,
                lambda s, rx=rx: rx.fullmatch(s) is not None,
                text=True,
            )
    return out


def run(lm, prompt, constraint, method, args) -> tuple[Stats, list[str]]:
    """Aggregate statistics of ``args.repeats`` seeded runs."""
    total = Stats(method=method, seed=0, n_particles=args.particles)
    texts = []
    for seed in range(args.repeats):
        r = awrs.generate(
            lm,
            prompt,
            constraint,
            method=method,
            n_particles=args.particles,
            max_tokens=args.max_tokens,
            seed=seed,
        )
        s = r.stats
        total.tokens += s.tokens
        total.steps += s.steps
        total.evaluations.extend(s.evaluations)
        total.lm_calls += s.lm_calls
        total.wall_time += s.wall_time
        total.lm_time += s.lm_time
        total.constraint_time += s.constraint_time
        total.candidates += s.candidates
        total.fallbacks += s.fallbacks
        total.masks += s.masks
        texts.append(r.text)
    return total, texts


def row(name: str, method: str, s: Stats) -> list:
    tok = max(s.tokens, 1)
    return [
        name,
        method,
        s.tokens,
        f"{s.evaluations_per_token:,.2f}",
        f"{s.sampler_time / tok * 1e6:.1f}",
        f"{s.constraint_time / tok * 1e6:.1f}",
        f"{s.lm_time / max(s.steps, 1) * 1e3:.1f}",
        f"{s.wall_time / tok * 1e3:.2f}",
    ]


class Replay(LanguageModel):
    """The default model's vocabulary with one recorded next-token distribution, replayed."""

    def __init__(self, lm, logp: torch.Tensor):
        self.vocab, self.eos_token_ids = lm.vocab, lm.eos_token_ids
        self._logp = logp

    def next_token_logprobs(self, contexts, temperature=1.0):
        return self._logp.expand(len(contexts), -1).clone()


def overhead(lm, args) -> list[list]:
    """Sampler time per particle-token on replayed outputs (no forward, no constraint), best of 5.

    The recorded distribution is the one after the prompt "Tell me a story.", whose end of
    sequence is improbable, so the sequences run to ``max_tokens``.
    """
    logp = lm.next_token_logprobs([lm.prompt_ids("Tell me a story.")])[0]
    fake = Replay(lm, logp)
    rows = []
    for method in ("direct", "awrs", "smc"):
        best = float("inf")
        for seed in range(5):
            s = awrs.generate(
                fake, [1], None, method=method, n_particles=args.particles, max_tokens=64, seed=seed
            ).stats
            best = min(best, s.sampler_time / max(s.tokens, 1))
        rows.append([method, f"{best * 1e6:.1f}"])
    return rows


NAME_REGEX = r"[A-Z][a-z]{2,10}( [A-Z][a-z]{2,10}){1,2}"
PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def hardest_patterns(lm, k: int, rank: int | None) -> list[tuple[str, list[int], object, float]]:
    """The ``k`` patterns-suite items whose constraint allows the least model mass at the first
    step: ``(item id, prompt ids, constraint, allowed mass)``, hardest first."""
    import numpy as np

    from awrs.sampling.token import vocab_trie

    from .suites.patterns import SUITE

    trie = vocab_trie(lm)
    scored = []
    for item in SUITE.items(rank):
        c = SUITE.constraint(item)
        prompt = lm.chat(list(item.messages))
        p = lm.next_token_logprobs([prompt])[0].double().exp().numpy()
        mask = np.asarray(c.token_mask(c.start(), trie), dtype=bool)
        scored.append((float(p[mask].sum()), item.id, prompt, c))
    scored.sort(key=lambda t: t[0])
    return [(i, prompt, c, mass) for mass, i, prompt, c in scored[:k]]


def sweep(lm, args) -> None:
    """SMC vs direct at each particle count on the sweep's cases (see the module docstring)."""
    cases = [
        (
            "name regex",
            lm.prompt_ids("Name a famous scientist (first and last name)."),
            awrs.Regex(NAME_REGEX),
        ),
        (
            "json (name, age)",
            lm.prompt_ids("Describe a person as JSON."),
            awrs.JSONSchema(PERSON_SCHEMA),
        ),
    ]
    hard = hardest_patterns(lm, args.hardest, args.rank) if args.hardest else []
    cases += [(f"patterns {i} ({mass:.1e})", prompt, c) for i, prompt, c, mass in hard]
    header = [
        "case",
        "particles",
        "smc ms/tok",
        "direct ms/tok",
        "ratio",
        "outside/model",
        "cand/ptok",
        "evals/ptok",
        "fallbacks/100 ptok",
        "masks",
        "smc ptok",
    ]
    rows = []
    for name, prompt, c in cases:
        for n in args.sweep:
            args.particles = n
            awrs.generate(
                lm, prompt, None, method="direct", n_particles=n, max_tokens=2, seed=0
            )  # warm-up: the prompt's KV cache
            d, _ = run(lm, prompt, None, "direct", args)
            s, _ = run(lm, prompt, c, "smc", args)
            tok = max(s.tokens, 1)
            smc_ms, direct_ms = s.wall_time / tok * 1e3, d.wall_time / max(d.tokens, 1) * 1e3
            rows.append(
                [
                    name,
                    n,
                    f"{smc_ms:.2f}",
                    f"{direct_ms:.2f}",
                    f"{smc_ms / direct_ms:.2f}",
                    f"{(s.wall_time - s.lm_time) / max(s.lm_time, 1e-9):.3f}",
                    f"{s.candidates / tok:.1f}",
                    f"{s.evaluations_per_token:.1f}",
                    f"{100 * s.fallbacks / tok:.1f}",
                    s.masks,
                    s.tokens,
                ]
            )
            print("| " + " | ".join(str(x) for x in rows[-1]) + " |", flush=True)
    print(
        f"\n## SMC vs direct by particle count ({lm.name or 'default model'}, "
        f"max_tokens = {args.max_tokens}, {args.repeats} seeds, torch threads = "
        f"{args.threads})\n"
    )
    print(markdown_table(header, rows))


def patterns_all(lm, args) -> None:
    """SMC on every patterns item (``--rank`` first ones): candidates per particle-token."""
    from .suites.patterns import SUITE

    rows = []
    for item in SUITE.items(args.rank):
        prompt = lm.chat(list(item.messages))
        s = awrs.generate(
            lm,
            prompt,
            SUITE.constraint(item),
            method="smc",
            n_particles=args.particles,
            max_tokens=args.max_tokens,
            seed=0,
        ).stats
        tok = max(s.tokens, 1)
        worst = max((e for e in s.evaluations), default=0)
        rows.append(
            [
                item.id,
                s.tokens,
                round(s.candidates / tok, 1),
                round(s.evaluations_per_token, 1),
                s.fallbacks,
                worst,
                round(s.wall_time, 2),
                round((s.wall_time - s.lm_time) / max(s.lm_time, 1e-9), 3),
            ]
        )
    rows.sort(key=lambda r: -r[2])
    print(
        f"## Patterns suite, every item: SMC with {args.particles} particles, max_tokens = "
        f"{args.max_tokens}, torch threads = {args.threads}\n"
    )
    print(
        f"items: {len(rows)}; candidates per particle-token: max {rows[0][2]}, mean "
        f"{sum(r[2] for r in rows) / len(rows):.1f}; outside/model: max "
        f"{max(r[7] for r in rows)}\n"
    )
    print(
        markdown_table(
            [
                "item",
                "particle-tokens",
                "cand/ptok",
                "evals/ptok",
                "fallbacks",
                "most evals in a step",
                "wall s",
                "outside/model",
            ],
            rows[:15],
        )
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--particles", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--methods", default="direct,smc,awrs,mask")
    ap.add_argument(
        "--sweep",
        type=lambda t: [int(x) for x in t.split(",")],
        default=None,
        help="particle counts of the SMC-vs-direct sweep, e.g. 4,16,64",
    )
    ap.add_argument("--hardest", type=int, default=3, help="patterns items in the sweep")
    ap.add_argument(
        "--rank",
        type=int,
        default=None,
        help="patterns items ranked to find the hardest (default: all)",
    )
    ap.add_argument(
        "--patterns-all",
        action="store_true",
        help="SMC on every patterns item: candidates per particle-token",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    lm = awrs.load_model()
    vocab_trie(lm)  # built once per model (masks, fallbacks); not part of any step
    if args.patterns_all:
        patterns_all(lm, args)
        print(f"total benchmark time: {time.perf_counter() - t0:.0f} s")
        return
    if args.sweep:
        sweep(lm, args)
        print(f"total benchmark time: {time.perf_counter() - t0:.0f} s")
        return
    methods = args.methods.split(",")
    header = [
        "constraint",
        "method",
        "particle-tokens",
        "evals/token",
        "sampler µs/token",
        "constraint µs/token",
        "LM ms/step",
        "wall ms/token",
    ]
    rows, ratios = [], []
    for name, constraint in constraints().items():
        prompt = PROMPTS[name]
        awrs.generate(
            lm, prompt, None, method="direct", n_particles=args.particles, max_tokens=2, seed=0
        )  # warm-up: the prompt's KV cache
        per_token = {}
        for method in methods:
            s, texts = run(lm, prompt, None if method == "direct" else constraint, method, args)
            rows.append(row(name, method, s))
            per_token[method] = s.wall_time / max(s.tokens, 1)
            if method != "direct":
                bad = [t for t in texts if t is not None and not constraint.accepts(t)]
                assert not bad, f"{method} produced texts outside the constraint: {bad}"
        if "smc" in per_token and "direct" in per_token:
            ratios.append(
                [
                    name,
                    round(per_token["smc"] * 1e3, 2),
                    round(per_token["direct"] * 1e3, 2),
                    round(per_token["smc"] / per_token["direct"], 2),
                ]
            )
    kind = "Regex" if type(next(iter(constraints().values()))).__name__ == "Regex" else "Predicate"
    print(
        f"## Sampler benchmark ({lm.name or 'default model'}, V = {len(lm.vocab)}, "
        f"{args.particles} particles, max_tokens = {args.max_tokens}, "
        f"{args.repeats} seeds, torch threads = {args.threads}, constraints: {kind})\n"
    )
    print(markdown_table(header, rows))
    if ratios:
        print("\n### SMC vs unconstrained direct sampling, time per particle-token\n")
        print(markdown_table(["constraint", "smc ms/token", "direct ms/token", "ratio"], ratios))
    print("\n### Sampler overhead alone (replayed model outputs, no constraint, best of 5)\n")
    print(markdown_table(["method", "sampler µs/particle-token"], overhead(lm, args)))
    print(
        "\npatterns: " + "; ".join(f"{k}: `{re.sub('[|]', '/', v)}`" for k, v in PATTERNS.items())
    )
    print(f"total benchmark time: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
