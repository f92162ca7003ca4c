"""Shared helpers for the sampling tests: kernel inputs, statistical bounds, toy problems."""

from __future__ import annotations

import importlib
import math
import os
from collections import defaultdict

import numpy as np
import pytest

from awrs.kernels import load_kernel


def kernel_pair(name: str):
    """(twin, compiled) modules of a kernel; skips when extensions are disabled."""
    if os.environ.get("AWRS_NO_EXTENSIONS"):
        pytest.skip("AWRS_NO_EXTENSIONS is set: no compiled kernel to compare")
    return load_kernel(name, python=True), importlib.import_module(f"awrs.kernels.{name}_c")


def layout(p: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad a probability vector to whole blocks; return (float32 probs, float64 block masses)."""
    v = len(p)
    nb = -(-v // block_size)
    probs = np.zeros(nb * block_size, dtype=np.float32)
    probs[:v] = p
    return probs, probs.reshape(nb, block_size).astype(np.float64).sum(1)


def chi2_critical(df: int, z: float = 3.719) -> float:
    """Wilson-Hilferty upper quantile of chi-square(df) at the normal quantile z (1e-4 default)."""
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + z * math.sqrt(a)) ** 3


def chi2_stat(counts: np.ndarray, probs: np.ndarray) -> float:
    n = counts.sum()
    exp = n * probs
    keep = exp > 0
    assert counts[~keep].sum() == 0, "a zero-probability outcome was observed"
    return float(((counts[keep] - exp[keep]) ** 2 / exp[keep]).sum())


def tv(p: dict, q: dict) -> float:
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def exact_posterior(lm, prompt: list[int], accepts, max_tokens: int) -> tuple[dict, float]:
    """P(text | constraint) by enumerating every sequence of at most ``max_tokens`` tokens.

    Sequences still going at the budget end with EOS at its probability (as SMC does).
    Returns (posterior over texts, Z = P(constraint)).
    """
    mass: dict[str, float] = defaultdict(float)

    def visit(ids: list[int], prob: float) -> None:
        lp = lm.next_token_logprobs([prompt + ids])[0].double().exp().numpy()
        last = len(ids) == max_tokens - 1
        for tok in np.flatnonzero(lp > 0):
            q = prob * float(lp[tok])
            if int(tok) in lm.eos_token_ids:
                b = lm.decode_bytes(ids)
                if accepts(b):
                    mass[lm.decode(ids)] += q
            elif not last:
                visit(ids + [int(tok)], q)

    visit([], 1.0)
    z = sum(mass.values())
    return {k: v / z for k, v in mass.items()}, z


# -- toy problems -------------------------------------------------------------------------------
def _norm(d: dict) -> dict:
    s = sum(d.values())
    return {k: v / s for k, v in d.items() if v > 0}


def multibyte_lm():
    """Tokens <eos>, a, b, ab, é (two bytes), \\xc3 and \\xa9 (halves of é); at most 3 tokens.

    The prompt is [1]; the distribution depends on the number of generated tokens.
    """
    from awrs.models.toy import ToyLM

    vocab = [b"<eos>", b"a", b"b", b"ab", "é".encode(), b"\xc3", b"\xa9"]

    def table(ctx):
        n = len(ctx) - 1
        if n >= 3:
            return {0: 1.0}
        tail = ctx[-1] if n else None
        if tail == 5:  # after the first half of é, its second half is likely
            return _norm({6: 0.7, 1: 0.1, 0: 0.2})
        return _norm({0: 0.1 + 0.1 * n, 1: 0.3, 2: 0.2, 3: 0.15, 4: 0.15, 5: 0.1})

    return ToyLM(vocab, 0, table)


def multibyte_constraint():
    """No "bb"; complete texts are valid UTF-8 with an even number of "a"."""
    import awrs

    return awrs.Predicate(
        lambda s: "bb" not in s, lambda s: "bb" not in s and s.count("a") % 2 == 0, text=True
    )


def distorting_lm():
    """'a' or 'b' first; after 'a' the model almost never stops, after 'b' it always does.

    With the constraint "exactly 'a' or 'b'", local masking keeps P('a') = 1/2 while the
    true posterior is P('a') = 0.005 / 0.505.
    """
    from awrs.models.toy import ToyLM

    vocab = [b"<eos>", b"a", b"b", b"c"]
    table = {(3,): {1: 0.5, 2: 0.5}, (3, 1): {0: 0.01, 3: 0.99}, (3, 2): {0: 1.0}}
    return ToyLM(vocab, 0, table, default={0: 1.0})


def distorting_constraint():
    import awrs

    return awrs.Predicate(lambda b: b in (b"", b"a", b"b"), lambda b: b in (b"a", b"b"))


class Recording:
    """Wraps a model and records the contexts of every batched call."""

    def __init__(self, lm):
        self.lm = lm
        self.calls: list[list[tuple[int, ...]]] = []

    def __getattr__(self, name):
        return getattr(self.lm, name)

    def next_token_logprobs(self, contexts, temperature=1.0):
        self.calls.append([tuple(c) for c in contexts])
        return self.lm.next_token_logprobs(contexts, temperature)


# The budget issue's toy: P(a) = 0.90, P(b) = 0.05, P(EOS) = 0.05 at every step; "a*b" in 6
# tokens
BUDGET_VOCAB = [b"a", b"b", b"<eos>"]
BUDGET_T = 6


def budget_lm():
    from awrs.models.toy import ToyLM

    return ToyLM(BUDGET_VOCAB, 2, lambda ctx: {0: 0.90, 1: 0.05, 2: 0.05})


def budget_exact(t: int = BUDGET_T) -> tuple[dict[str, float], float]:
    """a^k b EOS fits in t tokens for k <= t - 2: posterior ∝ 0.9^k, Z = sum 0.9^k 0.05^2."""
    un = {"a" * k + "b": 0.9**k * 0.05 * 0.05 for k in range(t - 1)}
    z = sum(un.values())
    return {x: v / z for x, v in un.items()}, z


def pooled(runs) -> tuple[dict[str, float], dict[str, float], list[float]]:
    """Independent SMC runs combined by their marginal-likelihood estimates (the properly
    weighted combination, consistent as runs grow): posterior, its delta-method standard
    error per text, and the Z estimates."""
    zs = [math.exp(r.log_ml) for r in runs]
    total = sum(zs)
    texts = {x for r in runs for x in r.posterior}
    post = {
        x: sum(z * r.posterior.get(x, 0.0) for z, r in zip(zs, runs, strict=True)) / total
        for x in texts
    }
    se = {
        x: math.sqrt(
            sum(
                (z * (r.posterior.get(x, 0.0) - post[x])) ** 2
                for z, r in zip(zs, runs, strict=True)
            )
        )
        / total
        for x in texts
    }
    return post, se, zs
