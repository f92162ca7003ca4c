"""MaskBench open: JSONSchema correctness, construction and per-token check time, vs llguidance.

Usage: ``python -m bench.json_schema [--limit N] [--timing-schemas N] [--candidates K]``.

For every schema: construct ``awrs.JSONSchema`` (``property_order="any"``, format assertion),
count refusals, and check every instance serialized compactly: an invalid one accepted is an
invalidation error; a valid one, or a prefix of it, rejected is a validation error. On the first
``--timing-schemas`` schemas, decode each valid instance tokenized with the default model's
tokenizer and time ``advance`` on the true token and ``K`` random vocabulary tokens per step
(the candidate checks of AWRS). llguidance, when importable, compiles the same schemas
(compact separators) and its per-step full-vocabulary mask is timed on the same tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time

from bench.common import data_path, markdown_table

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _pct(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def _summary(xs: list[float], scale: float, unit: str) -> str:
    xs = sorted(xs)
    return (
        f"p50 {_pct(xs, 0.5) * scale:.3g} {unit}, p90 {_pct(xs, 0.9) * scale:.3g} {unit}, "
        f"p99 {_pct(xs, 0.99) * scale:.3g} {unit} (n={len(xs)})"
    )


def correctness(records, stats):
    """Construct every schema and check every instance; fills ``stats``."""
    from awrs.constraints.json_schema import JSONSchema
    from awrs.errors import ConstraintError

    built = {}
    for rec in records:
        t0 = time.perf_counter()
        try:
            c = JSONSchema(rec["schema"], property_order="any", strict=False)
        except ConstraintError as exc:
            stats["refused"].append(f"{rec['id']}: {str(exc)[:160]}")
            continue
        stats["construct"].append(time.perf_counter() - t0)
        built[rec["id"]] = c
        for t in rec["tests"]:
            text = json.dumps(t["data"], separators=(",", ":"), ensure_ascii=False)
            if not t["valid"]:
                if c.accepts(text):
                    stats["invalidation"].append(f"{rec['id']}: {text[:120]}")
                continue
            b, s = text.encode(), c.start()
            for k in range(len(b)):
                s = c.advance(s, b[k : k + 1])
                if s is None:
                    break
            if s is None or not c.is_complete(s):
                stats["validation"].append(f"{rec['id']}: {text[:120]}")
    return built


def awrs_timing(records, built, tok, vocab, k: int, stats):
    """Per-candidate ``advance`` times while decoding the valid instances."""
    rng = random.Random(0)
    clock = time.perf_counter_ns
    for rec in records:
        c = built.get(rec["id"])
        if c is None:
            continue
        for t in rec["tests"]:
            if not t["valid"]:
                continue
            text = json.dumps(t["data"], separators=(",", ":"), ensure_ascii=False)
            s = c.start()
            for tid in tok.encode(text, add_special_tokens=False):
                for j, cand in enumerate([tid] + [rng.randrange(len(vocab)) for _ in range(k)]):
                    tb = vocab[cand]
                    t0 = clock()
                    c.advance(s, tb)
                    dt = (clock() - t0) * 1e-9
                    stats["check_all"].append(dt)
                    if j == 0:
                        stats["check_true"].append(dt)
                s = c.advance(s, vocab[tid])


def llguidance_timing(records, hf_tok, stats):
    """llguidance compile time and per-step mask time on the same instances."""
    import llguidance
    import llguidance.hf
    import llguidance.numpy as lln

    lltok = llguidance.hf.from_tokenizer(hf_tok)
    mask = lln.allocate_token_bitmask(1, lltok.vocab_size)
    defaults = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}
    M = llguidance.LLMatcher
    for rec in records:
        t0 = time.perf_counter()
        try:
            grammar = M.grammar_from_json_schema(json.dumps(rec["schema"]), defaults=defaults)
            matcher = M(lltok, grammar)
            err = matcher.is_error() and matcher.get_error()
        except (ValueError, RuntimeError, TypeError) as exc:
            err = str(exc)
        if err:
            stats["ll_error"].append(f"{rec['id']}: {err[:160]}")
            continue
        stats["ll_compile"].append(time.perf_counter() - t0)
        for t in rec["tests"]:
            if not t["valid"]:
                continue
            m = matcher.deep_copy()
            text = json.dumps(t["data"], separators=(",", ":"), ensure_ascii=False)
            for tid in hf_tok.encode(text, add_special_tokens=False):
                t0 = time.perf_counter_ns()
                lln.fill_next_token_bitmask(m, mask, 0)
                stats["ll_mask"].append((time.perf_counter_ns() - t0) * 1e-9)
                if not m.consume_token(tid):
                    stats["ll_rejected"].append(f"{rec['id']}: {text[:120]}")
                    break


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="schemas to use (0: all 7,446)")
    ap.add_argument(
        "--timing-schemas",
        type=int,
        default=1000,
        help="schemas whose valid instances are decoded for timing (0: all)",
    )
    ap.add_argument(
        "--candidates",
        type=int,
        default=8,
        help="random candidate tokens checked per step besides the true token",
    )
    ap.add_argument("--no-llguidance", action="store_true")
    args = ap.parse_args(argv)

    from transformers import AutoTokenizer

    from awrs.models.loading import default_model_path
    from awrs.models.vocab import token_bytes

    lines = data_path("maskbench", "maskbench-open.jsonl").read_text(encoding="utf-8")
    records = [json.loads(x) for x in lines.split("\n") if x.strip()]
    if args.limit:
        records = records[: args.limit]
    timing = records[: args.timing_schemas] if args.timing_schemas else records
    stats = {
        k: []
        for k in (
            "refused",
            "validation",
            "invalidation",
            "construct",
            "check_all",
            "check_true",
            "ll_error",
            "ll_compile",
            "ll_mask",
            "ll_rejected",
        )
    }
    t0 = time.time()
    built = correctness(records, stats)
    hf_tok = AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)
    vocab = token_bytes(hf_tok)
    awrs_timing(timing, built, hf_tok, vocab, args.candidates, stats)
    ll_note = ""
    if not args.no_llguidance:
        try:
            llguidance_timing(timing, hf_tok, stats)
        except ImportError as exc:
            ll_note = f"llguidance not importable ({exc}); pip install llguidance"
    n = len(records)
    print(
        f"# MaskBench open: {n} schemas, {sum(len(r['tests']) for r in records)} instances "
        f"({time.time() - t0:.0f} s)\n"
    )
    print(
        markdown_table(
            ["", "count"],
            [
                ["constructed", len(built)],
                [
                    "refused at construction",
                    f"{len(stats['refused'])} ({100 * len(stats['refused']) / n:.2f}%)",
                ],
                ["validation errors (valid instance or prefix rejected)", len(stats["validation"])],
                ["invalidation errors (invalid instance accepted)", len(stats["invalidation"])],
            ],
        )
    )
    print(
        f"\nTiming on {len(timing)} schemas (SmolLM2 tokenizer, {args.candidates} random "
        "candidates + the true token per step):\n"
    )
    rows = [
        ["awrs construction", _summary(stats["construct"], 1e3, "ms")],
        ["awrs check, all candidates", _summary(stats["check_all"], 1e6, "µs")],
        ["awrs check, true token", _summary(stats["check_true"], 1e6, "µs")],
    ]
    if stats["ll_compile"]:
        rows += [
            ["llguidance compile", _summary(stats["ll_compile"], 1e3, "ms")],
            ["llguidance mask (full vocabulary)", _summary(stats["ll_mask"], 1e6, "µs")],
            ["llguidance compile errors", str(len(stats["ll_error"]))],
            ["llguidance rejected a valid instance", str(len(stats["ll_rejected"]))],
        ]
    print(markdown_table(["", "time"], rows))
    if ll_note:
        print("\n" + ll_note)
    for key in ("refused", "validation", "invalidation"):
        for line in stats[key][:20]:
            print(f"{key}: {line}")
    return stats


if __name__ == "__main__":
    main()
