"""Unconstrained sampling: the awrs backend vs ``model.generate(do_sample=True)``.

Run: ``python -m bench.backend [--batches 1 4 8] [--tokens 64] [--repeat 3]``. Prints a
Markdown table of ms per step, tokens/s and the ratio awrs / generate (target <= 1.10).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from awrs import load_model
from awrs.kernels.categorical import sample_categorical_batch

from .common import markdown_table, median

PROMPT = "Write a short story about a lighthouse keeper."


def awrs_loop(lm, prompt: list[int], batch: int, tokens: int, seed: int) -> float:
    """Seconds to sample ``tokens`` tokens for ``batch`` sequences through next_token_logprobs."""
    lm.reset()
    rng = np.random.default_rng(seed)
    ctxs = [list(prompt) for _ in range(batch)]
    t0 = time.perf_counter()
    for _ in range(tokens):
        probs = lm.next_token_logprobs(ctxs).exp_().numpy()  # (B, V), on the CPU
        picks = sample_categorical_batch(np.ascontiguousarray(probs), rng.random(batch))
        for ctx, tok in zip(ctxs, picks.tolist(), strict=True):
            ctx.append(tok)
    return time.perf_counter() - t0


def generate_loop(lm, prompt: list[int], batch: int, tokens: int, seed: int) -> float:
    """Seconds for ``model.generate`` to sample the same number of tokens (EOS ignored)."""
    torch.manual_seed(seed)
    ids = torch.tensor([prompt] * batch, device=lm.device)
    t0 = time.perf_counter()
    with torch.inference_mode():
        lm.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=True,
            top_k=0,
            top_p=1.0,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            pad_token_id=lm._pad,
        )
    return time.perf_counter() - t0


def run(batches=(1, 4, 8), tokens: int = 64, repeat: int = 3, device=None) -> str:
    lm = load_model(device=device)
    prompt = lm.chat([{"role": "user", "content": PROMPT}])
    awrs_loop(lm, prompt, 1, 4, 0)  # warm-up
    generate_loop(lm, prompt, 1, 4, 0)
    rows = []
    for b in batches:
        ours, theirs = [], []
        for r in range(repeat):  # interleaved so both see the same machine load
            ours.append(awrs_loop(lm, prompt, b, tokens, r))
            theirs.append(generate_loop(lm, prompt, b, tokens, r))
        a, g = median(ours) / tokens, median(theirs) / tokens
        rows.append([b, a * 1e3, g * 1e3, b / a, b / g, a / g])
    header = [
        "batch",
        "awrs ms/step",
        "generate ms/step",
        "awrs tok/s",
        "generate tok/s",
        "ratio awrs/generate",
    ]
    return markdown_table(header, rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default=None, help="torch device (default cpu)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch threads: {torch.get_num_threads()}, {args.tokens} new tokens, median of "
        f"{args.repeat}"
    )
    print(run(args.batches, args.tokens, args.repeat, args.device))


if __name__ == "__main__":
    main()
