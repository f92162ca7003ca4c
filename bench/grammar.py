"""Grammar and SQL constraints: construction time, per-token advance time, Spider acceptance.

``python -m bench.grammar [--json N] [--candidates K]`` from the repository root. Tokens come
from the default model's tokenizer (``awrs.load_model().encode``); times are wall clock on
one thread.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from .common import DATA, markdown_table  # noqa: E402


def _pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def _time_paths(c, docs, vocab, encode, candidates: int, seed: int = 0):
    """Per-token advance times (µs) along each document, and of random candidate tokens."""
    rng = random.Random(seed)
    path, cand = [], []
    clock = time.perf_counter_ns
    for doc in docs:
        state = c.start()
        for tid in encode(doc):
            tok = vocab[tid]
            for _ in range(candidates):
                other = vocab[rng.randrange(len(vocab))]
                t0 = clock()
                c.advance(state, other)
                cand.append((clock() - t0) / 1e3)
            t0 = clock()
            state = c.advance(state, tok)
            path.append((clock() - t0) / 1e3)
            if state is None:
                raise AssertionError(f"gold document rejected: {doc[:80]!r}")
        assert c.is_complete(state), doc[:80]
    return path, cand


def _build_times():
    """Cold/warm construction of the shipped grammars (warm: lark's own grammar loaded)."""
    import importlib.resources as ir

    from awrs.constraints import grammar as gm
    from awrs.constraints.sql import sql_grammar

    json_text = ir.files("awrs.grammars").joinpath("json.lark").read_text()
    out = {}
    t0 = time.perf_counter()
    gm.Grammar(json_text)
    out["json (first in process)"] = time.perf_counter() - t0
    for name, make in [("json", lambda: gm.Grammar(json_text)), ("sql", sql_grammar)]:
        times = []
        for _ in range(3):
            gm._compile.cache_clear()
            t0 = time.perf_counter()
            make()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", type=int, default=300, help="MaskBench valid instances to time")
    ap.add_argument(
        "--candidates",
        type=int,
        default=10,
        help="random vocabulary tokens checked from each state",
    )
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    import awrs
    from awrs.constraints.grammar import Grammar
    from awrs.constraints.sql import SQL

    builds = _build_times()
    model = awrs.load_model()
    vocab, encode = model.vocab, model.encode

    spider = DATA / "spider"
    if not (spider / "dev-open.json").exists():
        print(f"Spider data absent from {spider}: skipping the SQL part")
        return 0
    dev = json.loads((spider / "dev-open.json").read_text())
    tables = {t["db_id"]: t for t in json.loads((spider / "tables.json").read_text())}
    t0 = time.perf_counter()
    cons = {db: SQL(tables[db]) for db in sorted({x["db_id"] for x in dev})}
    per_db = (time.perf_counter() - t0) / len(cons)
    accepted = sum(cons[x["db_id"]].accepts(x["query"]) for x in dev)
    path = spider / "concert_singer.sqlite"
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    file_c = SQL(path)
    cs = [x["query"] for x in dev if x["db_id"] == "concert_singer"]
    file_ok = sum(file_c.accepts(q) for q in cs)
    unchanged = hashlib.sha256(path.read_bytes()).hexdigest() == before

    sql_g = cons[dev[0]["db_id"]].grammar
    sql_path, sql_cand = _time_paths(
        sql_g, [x["query"] for x in dev], vocab, encode, args.candidates
    )
    docs = []
    mb = DATA / "maskbench" / "maskbench-open.jsonl"
    if mb.exists():
        with mb.open() as fh:
            for line in fh:
                for t in json.loads(line)["tests"]:
                    if t["valid"] and len(docs) < args.json:
                        docs.append(json.dumps(t["data"], ensure_ascii=False))
                if len(docs) >= args.json:
                    break
    import importlib.resources as ir

    json_g = Grammar(ir.files("awrs.grammars").joinpath("json.lark").read_text())
    json_path, json_cand = _time_paths(json_g, docs, vocab, encode, args.candidates)

    from awrs.constraints.trie import VocabTrie

    trie = VocabTrie(vocab, exclude=model.eos_token_ids)
    mask_ms = {}
    for name, g, docs_ in [
        ("SQL", sql_g, [x["query"] for x in dev[:20]]),
        ("JSON", json_g, docs[:20]),
    ]:
        times = []
        for doc in docs_:
            raw = doc.encode()
            for cut in sorted({len(raw) // 3, len(raw) // 2, 2 * len(raw) // 3}):
                state = g.advance(g.start(), raw[:cut])
                t0 = time.perf_counter()
                g.token_mask(state, trie)
                times.append((time.perf_counter() - t0) * 1e3)
        mask_ms[name] = times

    print("## Construction (s)")
    print(
        markdown_table(
            ["grammar", "seconds"],
            [[k, v] for k, v in builds.items()]
            + [["SQL(tables.json entry), grammar cached", per_db]],
        )
    )
    print("\n## advance per token (µs)")
    rows = []
    for name, xs in [
        ("SQL gold path", sql_path),
        ("SQL random candidates", sql_cand),
        ("JSON gold path", json_path),
        ("JSON random candidates", json_cand),
    ]:
        rows.append([name, len(xs), statistics.mean(xs), _pct(xs, 0.5), _pct(xs, 0.99)])
    print(markdown_table(["tokens", "n", "mean", "p50", "p99"], rows))
    print("\n## token_mask over the full vocabulary trie (ms)")
    print(
        markdown_table(
            ["grammar", "n", "p50", "p90"],
            [[k, len(v), _pct(v, 0.5), _pct(v, 0.9)] for k, v in mask_ms.items()],
        )
    )
    print(f"\n## Spider\n- gold queries accepted from tables.json: {accepted}/{len(dev)}")
    print(
        f"- concert_singer queries compiling against the .sqlite file: {file_ok}/{len(cs)}; "
        f"file unchanged: {unchanged}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
