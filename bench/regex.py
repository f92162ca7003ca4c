"""Regex constraint benchmark: DFA construction, per-token advance, full-vocabulary masks.

Run ``python -m bench.regex`` from the repository root (uses the default model's tokenizer,
not its weights, and ../shared/data/patterns).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import time

import numpy as np

from awrs.constraints.regex import Regex
from awrs.constraints.regex import dfa as dfa_mod
from awrs.constraints.trie import VocabTrie
from awrs.errors import ConstraintSizeError, UnsupportedFeatureError
from awrs.kernels import load_kernel

from .common import data_path, markdown_table, median

TYPICAL = {
    "email": r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}",
    "date": r"\d{4}-\d{2}-\d{2}",
    "phone": r"\(\d{3}\) \d{3}-\d{4}",
    "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    "iso-datetime": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
    "ipv4": r"((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)",
    "url": r"https?://[\w.-]+(/[\w./?%&=-]*)?",
    "words": r"\w+( \w+)*[.!?]",
    "json-person": r'\{"name": "[^"\\]{1,40}", "age": \d{1,3}, "tags": \[("\w+"(, "\w+")*)?\]\}',
    "number-list": r"\[(-?\d+(\.\d+)?(, -?\d+(\.\d+)?)*)?\]",
    "sentence-ci": r"(?i)(the|a) (quick|lazy) (brown|red) (fox|dog)\.",
    "cjk-emoji": r"[\u4e00-\u9fff]{2,10}[😀-🙏]?",
}


def _fresh(pattern: str, flags: int = 0):
    return dfa_mod._compile.__wrapped__(pattern, flags, dfa_mod.DEFAULT_MAX_STATES)


def construction(repeat: int) -> None:
    rows = []
    for name, p in TYPICAL.items():
        _fresh(p)  # warm the Unicode tables once
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            d = _fresh(p)
            times.append(time.perf_counter() - t0)
        rows.append([name, d.n_states, median(times) * 1e3])
    print("## Construction (typical patterns, uncached)\n")
    print(markdown_table(["pattern", "DFA states", "build ms (median)"], rows))


def patterns_csv() -> None:
    path = data_path("patterns", "patterns-open.csv")
    with open(path, newline="", encoding="utf-8") as f:
        pats = [row["regex"] for row in csv.DictReader(f)]
    counts = {"built": 0, "unsupported": 0, "re rejects": 0, "too large": 0}
    times = []
    for p in pats:
        try:
            re.compile(p)
        except re.error:
            counts["re rejects"] += 1
            continue
        t0 = time.perf_counter()
        try:
            _fresh(p)
        except UnsupportedFeatureError:
            counts["unsupported"] += 1
            continue
        except ConstraintSizeError:
            counts["too large"] += 1
            continue
        times.append(time.perf_counter() - t0)
        counts["built"] += 1
    q = np.percentile(np.array(times) * 1e3, [50, 90, 100]) if times else [float("nan")] * 3
    print(f"\n## patterns-open.csv ({len(pats)} patterns, regex-package syntax) with awrs.Regex\n")
    print(
        markdown_table(
            list(counts) + ["build ms p50", "p90", "max"],
            [list(counts.values()) + [float(x) for x in q]],
        )
    )


def _vocab():
    from transformers import AutoTokenizer

    from awrs.models.loading import default_model_path
    from awrs.models.vocab import token_bytes

    tok = AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)
    return token_bytes(tok), {tok.eos_token_id}


def per_token_and_masks(n_masks: int) -> None:
    vocab, eos = _vocab()
    t0 = time.perf_counter()
    trie = VocabTrie(vocab, exclude=eos)
    print(
        f"\n## Vocabulary: {len(vocab)} tokens, trie of {trie.n_nodes} nodes "
        f"(built in {time.perf_counter() - t0:.2f} s)\n"
    )
    rng = random.Random(0)
    twin = load_kernel("_dfa", python=True)
    rows = []
    for name, p in TYPICAL.items():
        r = Regex(p)
        # states along a random accepted string: the states a sampler actually visits
        states, s = [r.start()], r.start()
        for _ in range(n_masks - 1):
            live = np.flatnonzero(r.dfa.table[s]).tolist()
            if not live:
                break
            s = int(r.dfa.table[s, rng.choice(live)])
            states.append(s)
        toks = [vocab[i] for i in rng.sample(range(len(vocab)), 2000)]
        for t in toks:  # warm up
            r.advance(states[0], t)
        r.token_mask(states[0], trie)
        runs = []
        for _ in range(3):  # best of 3: the machine is shared
            t0 = time.perf_counter()
            for st in states[:5]:
                for t in toks:
                    r.advance(st, t)
            runs.append((time.perf_counter() - t0) / (len(toks) * len(states[:5])) * 1e6)
        adv = min(runs)
        mask_t, n_ok = [], []
        for st in states:
            t0 = time.perf_counter()
            m = r.token_mask(st, trie)
            mask_t.append(time.perf_counter() - t0)
            n_ok.append(int(m.sum()))
        t0 = time.perf_counter()
        twin.dfa_token_mask(
            r.dfa.table,
            states[0],
            trie.byte,
            trie.depth,
            trie.skip,
            trie.tok_ptr,
            trie.tok_ids,
            trie.vocab_size,
        )
        twin_ms = (time.perf_counter() - t0) * 1e3
        rows.append(
            [
                name,
                adv,
                median(mask_t) * 1e3,
                np.percentile(mask_t, 90) * 1e3,
                twin_ms,
                int(np.median(n_ok)),
            ]
        )
    print(
        markdown_table(
            [
                "pattern",
                "advance µs/token",
                "mask ms (median)",
                "mask ms (p90)",
                "twin mask ms (start)",
                "allowed tokens (median)",
            ],
            rows,
        )
    )
    r = Regex(r"(?s).*")
    t0 = time.perf_counter()
    m = r.token_mask(r.start(), trie)
    fast = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    slow = trie.walk(r.start(), r.advance)
    walk = (time.perf_counter() - t0) * 1e3
    assert (m == slow).all()
    print(
        f"\nWorst case (every node live, `(?s).*`): kernel mask {fast:.2f} ms; default "
        f"Python VocabTrie.walk {walk:.0f} ms ({walk / fast:.0f}x)."
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--masks", type=int, default=30, help="mask timings per pattern")
    args = ap.parse_args(argv)
    construction(args.repeat)
    patterns_csv()
    per_token_and_masks(args.masks)


if __name__ == "__main__":
    main()
