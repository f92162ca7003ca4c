"""Pure-Python twin of the AWRS rejection kernel (``csrc/_awrs_c.pyx``): RNG, draws, estimators.

Both implementations consume the same :class:`SplitMix64` stream in the same order and do the
same float64 arithmetic in the same order, so for a given seed they return identical results.

Layout of the probabilities. A row ``probs`` is a float32 array padded with zeros to
``n_blocks * block_size`` entries; ``blocks`` holds the float64 mass of each block of
``block_size`` consecutive entries (any accurate sum; the kernel recomputes a block exactly,
left to right in float64, once it has excluded one of its tokens). A draw picks a block by a
left-to-right scan of the block masses, then a token by a left-to-right scan inside the block,
so one draw costs O(n_blocks + block_size) instead of O(V), and excluded tokens (drawn before)
are skipped exactly: this is sampling without replacement by inverse CDF, equal in distribution
to taking tokens in Gumbel-top-k order, done lazily.

Masses are in the units of ``probs``, whose full-vocabulary total is assumed to be 1 (a
softmax row, with tokens pruned up front set to 0); the returned weight estimates
``Z = sum(probs[a] for accepted a)`` in those units.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

#: estimator codes
FIRST, TWO_PASS, RECURSIVE, GEOMETRIC, AUTO = 0, 1, 2, 3, 4

_MASK = (1 << 64) - 1


class SplitMix64:
    """The splitmix64 generator (Steele, Lea and Flood 2014): a 64-bit state, one add per draw.

    Args:
        seed: any integer (reduced modulo 2**64).
    """

    __slots__ = ("state",)

    def __init__(self, seed: int):
        self.state = int(seed) & _MASK

    def next_u64(self) -> int:
        """The next 64-bit output."""
        self.state = z = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        """A uniform float in [0, 1) with 53 random bits."""
        return (self.next_u64() >> 11) * (1.0 / 9007199254740992.0)

    def randoms(self, n: int) -> np.ndarray:
        """``n`` uniforms in [0, 1) as a float64 array (the same stream as ``random()``)."""
        return np.array([self.random() for _ in range(n)], dtype=np.float64)


class _Urn:
    """Sampling without replacement from one padded probability row (see the module docstring)."""

    __slots__ = ("p", "bs", "bm", "excluded")

    def __init__(self, probs: np.ndarray, blocks: np.ndarray, block_size: int):
        self.p = probs
        self.bs = block_size
        self.bm = np.array(blocks, dtype=np.float64)
        self.excluded: set[int] = set()

    def total(self) -> float:
        """The mass not yet excluded (left-to-right sum of the block masses)."""
        return float(np.cumsum(self.bm)[-1])

    def draw(self, u: float) -> int:
        """A token drawn with probability proportional to ``p`` among the non-excluded; -1 if none."""
        cum = np.cumsum(self.bm)
        total = float(cum[-1])
        if not total > 0:
            return -1
        t = u * total
        b = int(np.searchsorted(cum, t, side="right"))
        if b >= len(cum):  # u * total rounded up to total
            b = int(np.flatnonzero(self.bm > 0)[-1])
        t -= float(cum[b - 1]) if b > 0 else 0.0
        lo = b * self.bs
        blk = self.p[lo:lo + self.bs].astype(np.float64)
        for e in self.excluded:
            if lo <= e < lo + self.bs:
                blk[e - lo] = 0.0
        acc = np.cumsum(blk)
        i = int(np.searchsorted(acc, t, side="right"))
        if i >= len(acc):  # rounding at the top of the block: last positive entry
            i = int(np.flatnonzero(blk > 0)[-1])
        return lo + i

    def exclude(self, tok: int) -> None:
        """Remove ``tok`` and recompute its block's mass exactly."""
        self.excluded.add(tok)
        b = tok // self.bs
        lo = b * self.bs
        blk = self.p[lo:lo + self.bs].astype(np.float64)
        for e in self.excluded:
            if lo <= e < lo + self.bs:
                blk[e - lo] = 0.0
        self.bm[b] = float(np.cumsum(blk)[-1])

    def peaked(self, total: float) -> bool:
        """Whether the largest probability is >= 2/3 of ``total`` (the auto rule)."""
        for b in range(len(self.bm)):
            if 3.0 * self.bm[b] >= 2.0 * total:
                lo = b * self.bs
                top = float(np.max(self.p[lo:lo + self.bs]))
                return 3.0 * top >= 2.0 * total
        return False


def prepare(probs: np.ndarray, keep: np.ndarray | None, block_size: int) -> np.ndarray:
    """Prune rows in place and return their block masses.

    Multiplies each row of ``probs`` by ``keep`` (when given) and sums every block of
    ``block_size`` entries in float64: with ``block_size % 8 == 0`` in eight interleaved
    lanes (lane j adds entries ``j, j + 8, ...`` left to right; the lanes are combined as
    ``((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))``), otherwise left to right.

    Args:
        probs: (B, n_blocks * block_size) float32, C-contiguous; modified in place.
        keep: (n_blocks * block_size,) float32 multipliers (0 prunes a token), or None.
        block_size: entries per block.

    Returns:
        (B, n_blocks) float64 block masses.
    """
    if keep is not None:
        probs *= keep
    b, width = probs.shape
    nb = width // block_size
    if block_size % 8 == 0:
        lanes = probs.reshape(b, nb, block_size // 8, 8).astype(np.float64)
        acc = np.cumsum(lanes, axis=2)[:, :, -1, :]
        return (((acc[..., 0] + acc[..., 1]) + (acc[..., 2] + acc[..., 3]))
                + ((acc[..., 4] + acc[..., 5]) + (acc[..., 6] + acc[..., 7])))
    return np.cumsum(probs.reshape(b, nb, block_size).astype(np.float64), axis=2)[:, :, -1]


def sample_token(probs: np.ndarray, blocks: np.ndarray, block_size: int, rng: SplitMix64) -> int:
    """One categorical draw from a padded probability row (``-1`` when its mass is zero).

    Consumes one uniform from ``rng``.

    Args:
        probs: (n_blocks * block_size,) float32 row, non-negative.
        blocks: (n_blocks,) float64 block masses.
        block_size: entries per block.
        rng: the run's :class:`SplitMix64`.
    """
    return _Urn(probs, blocks, block_size).draw(rng.random())


def awrs_step(probs: np.ndarray, blocks: np.ndarray, block_size: int, rng: SplitMix64,
              check: Callable[[int], bool], estimator: int,
              max_rejects: int) -> tuple[int, float, int]:
    """One adaptive weighted rejection sampling step.

    Candidates are drawn without replacement from ``probs`` and passed to ``check`` until one
    is accepted. Returns ``(token, log_w, n_checks)`` where ``token`` is the first accepted
    candidate (an exact draw from ``probs`` restricted to the accepted set A), ``n_checks`` the
    number of ``check`` calls, and ``log_w`` the log of a properly weighted estimate of
    ``Z = probs(A)``: ``E[w * 1{token = a}] = probs[a] * 1[a in A]`` for every token ``a``.
    When no token is accepted (or ``max_rejects`` is reached first) the result is
    ``(-1, -inf, n_checks)``. With ``T`` the total mass of ``probs`` and ``R`` the mass rejected
    before ``token``:

    - ``FIRST``: no estimate, ``log_w = 0`` (locally constrained decoding).
    - ``TWO_PASS``: a second run without replacement over the tokens not rejected by the first
      (``token`` still present, fresh randomness) until its first acceptance, rejecting R2;
      ``w = (T - R) / (|R1| + |R2| + 1)``.
    - ``RECURSIVE``: one extra check, of the next candidate y in the same order;
      ``w = T - R`` if y is accepted, else ``probs[token]``.
    - ``GEOMETRIC``: the with-replacement run is rebuilt from the without-replacement one
      (repeats of rejected tokens are counted with geometric draws, a repeat of ``token`` is a
      second acceptance); it stops at two acceptances and ``w = T / (n_rejections + 1)``.
    - ``AUTO``: ``GEOMETRIC`` when the largest probability is >= 2/3 of ``T``, else
      ``RECURSIVE``.

    ``max_rejects`` (``0``: no bound) stops the step after that many rejections (phantom ones
    included for ``GEOMETRIC``, both runs for ``TWO_PASS``): with no acceptance yet the weight is
    0; otherwise the estimators' truncated forms keep the weights proper (two-pass
    ``(T - R) / max_rejects``, geometric ``T / max_rejects``, recursive ``T - R`` without the
    extra check when the accepted candidate comes after ``max_rejects - 1`` rejections).

    Args:
        probs: (n_blocks * block_size,) float32 row, non-negative; zeros are never drawn.
        blocks: (n_blocks,) float64 block masses.
        block_size: entries per block.
        rng: the run's :class:`SplitMix64` (uniforms are consumed in a fixed order).
        check: ``token -> bool``, the constraint check; its exceptions propagate.
        estimator: one of ``FIRST, TWO_PASS, RECURSIVE, GEOMETRIC, AUTO``.
        max_rejects: bound on rejections, ``0`` for none.
    """
    urn = _Urn(probs, blocks, block_size)
    total = urn.total()
    if estimator == AUTO:
        estimator = GEOMETRIC if urn.peaked(total) else RECURSIVE
    if estimator == GEOMETRIC:
        return _geometric(urn, total, rng, check, max_rejects)
    n_checks = n_rej = 0
    while True:  # the first run: stop at the first accepted candidate
        mass = urn.total()
        x = urn.draw(rng.random())
        if x < 0:
            return -1, -math.inf, n_checks
        n_checks += 1
        if check(x):
            break
        urn.exclude(x)
        n_rej += 1
        if max_rejects and n_rej >= max_rejects:
            return -1, -math.inf, n_checks
    px = float(probs[x])
    if estimator == FIRST:
        return x, 0.0, n_checks
    if estimator == RECURSIVE:
        if max_rejects and n_rej == max_rejects - 1:
            return x, math.log(mass), n_checks
        urn.exclude(x)
        rest = urn.total()
        y = urn.draw(rng.random())
        w = px
        if y >= 0:
            n_checks += 1
            if check(y):
                w = px + rest
        return x, math.log(w), n_checks
    if estimator != TWO_PASS:
        raise ValueError(f"unknown estimator code {estimator}")
    n2 = 0
    while True:  # the second run over the tokens the first did not reject
        y = urn.draw(rng.random())
        if y < 0 or y == x:
            break
        n_checks += 1
        if check(y):
            break
        urn.exclude(y)
        n2 += 1
        if max_rejects and n_rej + n2 >= max_rejects:
            return x, math.log(mass / max_rejects), n_checks
    return x, math.log(mass / (n_rej + n2 + 1)), n_checks


def _phantoms(rng: SplitMix64, kept: float, total: float) -> float:
    """Repeats of rejected tokens before the next other draw: Geometric(kept / total) failures."""
    u = 1.0 - rng.random()  # in (0, 1]
    return math.floor(math.log(u) / math.log1p(-kept / total))


def _geometric(urn: _Urn, total: float, rng: SplitMix64, check, max_rejects: int):
    n_checks = 0
    n_rej = 0.0  # float: phantom counts can be astronomically large
    x = -1
    while x < 0:  # phase 1: up to the first acceptance
        kept = urn.total()
        if not kept > 0:
            return -1, -math.inf, n_checks
        if kept < total:
            n_rej += _phantoms(rng, kept, total)
            if max_rejects and n_rej >= max_rejects:
                return -1, -math.inf, n_checks
        y = urn.draw(rng.random())
        if y < 0:
            return -1, -math.inf, n_checks
        n_checks += 1
        if check(y):
            x = y
            break
        urn.exclude(y)
        n_rej += 1
        if max_rejects and n_rej >= max_rejects:
            return -1, -math.inf, n_checks
    px = float(urn.p[x])
    urn.exclude(x)
    while True:  # phase 2: up to the second acceptance (a repeat of x or a new token)
        unseen = urn.total()
        kept = unseen + px  # mass of the tokens not rejected
        if kept < total:
            n_rej += _phantoms(rng, kept, total)
            if max_rejects and n_rej >= max_rejects:
                return x, math.log(total / max_rejects), n_checks
        if rng.random() * kept < px:
            break
        y = urn.draw(rng.random())
        if y < 0:
            break
        n_checks += 1
        if check(y):
            break
        urn.exclude(y)
        n_rej += 1
        if max_rejects and n_rej >= max_rejects:
            return x, math.log(total / max_rejects), n_checks
    return x, math.log(total / (n_rej + 1.0)), n_checks
