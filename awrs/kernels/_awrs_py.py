"""Pure-Python twin of the AWRS rejection kernel (``csrc/_awrs_c.pyx``): RNG, draws, estimators,
the exact-mask fallback and the in-kernel DFA check (:class:`DfaCheck`).

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
from collections.abc import Callable

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
        """A token drawn in proportion to ``p`` among the non-excluded ones; -1 if none."""
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
        blk = self.p[lo : lo + self.bs].astype(np.float64)
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
        blk = self.p[lo : lo + self.bs].astype(np.float64)
        for e in self.excluded:
            if lo <= e < lo + self.bs:
                blk[e - lo] = 0.0
        self.bm[b] = float(np.cumsum(blk)[-1])

    def peaked(self, total: float) -> bool:
        """Whether the largest probability is >= 2/3 of ``total`` (the auto rule)."""
        for b in range(len(self.bm)):
            if 3.0 * self.bm[b] >= 2.0 * total:
                lo = b * self.bs
                top = float(np.max(self.p[lo : lo + self.bs]))
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
        return ((acc[..., 0] + acc[..., 1]) + (acc[..., 2] + acc[..., 3])) + (
            (acc[..., 4] + acc[..., 5]) + (acc[..., 6] + acc[..., 7])
        )
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


def awrs_step(
    probs: np.ndarray,
    blocks: np.ndarray,
    block_size: int,
    rng: SplitMix64,
    check,
    estimator: int,
    max_rejects: int,
    fallback_after: int = -1,
    get_mask: Callable[[], np.ndarray] | None = None,
) -> tuple[int, float, int]:
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

    **Mask fallback** (``fallback_after >= 0``): once ``n_checks`` reaches ``fallback_after``
    (at the top of a loop, so ``0`` means before the first draw), ``get_mask()`` is called once
    and returns the exact accepted set as a 0/1 array over the tokens (entries past its end
    count as rejected). Let ``M`` be that mask and ``Z = sum(probs[M])`` (left to right per
    block, then over blocks). The step then ends without further checks:

    - ``FIRST`` / ``RECURSIVE``: ``token`` is one draw from ``probs * M`` (exact: the first
      accepted token of a without-replacement run is ``probs|A`` whatever was rejected
      before), ``w = Z`` (``log_w = 0`` for ``FIRST``). Proper because the recursive
      estimator is proper *from any urn*: given the rejected prefix, the rest of the run is
      the same estimator on the smaller urn, so ``E[w 1{x=a} | history] = probs[a]``, which
      ``w = Z`` with ``x ~ probs|A`` matches; the stopping rule (a stopping time of the run)
      therefore changes nothing in expectation. Truncation by ``max_rejects`` is also
      proper from any urn, so the same holds with it.
    - ``GEOMETRIC``: the with-replacement run is i.i.d., so after the stopping time its future
      is independent of the past (strong Markov): the rejections still to come before each
      acceptance are Geometric(``q = Z / T``) failures. They are drawn directly (one uniform
      each, as the phantoms are), the token is drawn from ``probs * M`` between them in
      phase 1, and ``w = T / (n_rejections + 1)`` (truncation as above) has exactly the law
      it would have had without the switch.
    - ``TWO_PASS``: its weight depends on the whole first run's rejected set, so it has no
      short completion; the run goes on exactly as before with ``check`` replaced by a
      lookup in ``M`` (same path, same result, no further constraint calls; draws are not
      bounded).

    Z = 0 gives ``(-1, -inf, n_checks)`` (the run would have rejected everything).

    Args:
        probs: (n_blocks * block_size,) float32 row, non-negative; zeros are never drawn.
        blocks: (n_blocks,) float64 block masses.
        block_size: entries per block.
        rng: the run's :class:`SplitMix64` (uniforms are consumed in a fixed order).
        check: ``token -> bool``, the constraint check (its exceptions propagate), or a
            :class:`DfaCheck` (evaluated without Python calls in the compiled kernel).
        estimator: one of ``FIRST, TWO_PASS, RECURSIVE, GEOMETRIC, AUTO``.
        max_rejects: bound on rejections, ``0`` for none.
        fallback_after: checks after which to switch to the exact mask; ``-1``: never.
        get_mask: the mask's source (required when ``fallback_after >= 0``), called at most
            once; a :class:`DfaCheck` supplies its own when this is ``None``.
    """
    urn = _Urn(probs, blocks, block_size)
    total = urn.total()
    if estimator == AUTO:
        estimator = GEOMETRIC if urn.peaked(total) else RECURSIVE
    ck = _Checks(check, fallback_after, get_mask)
    if estimator == GEOMETRIC:
        return _geometric(urn, total, rng, ck, max_rejects)
    n_rej = 0
    while True:  # the first run: stop at the first accepted candidate
        if ck.due() and estimator != TWO_PASS:
            return _exact(urn, rng, ck, estimator)
        mass = urn.total()
        x = urn.draw(rng.random())
        if x < 0:
            return -1, -math.inf, ck.n
        if ck(x):
            break
        urn.exclude(x)
        n_rej += 1
        if max_rejects and n_rej >= max_rejects:
            return -1, -math.inf, ck.n
    px = float(probs[x])
    if estimator == FIRST:
        return x, 0.0, ck.n
    if estimator == RECURSIVE:
        if max_rejects and n_rej == max_rejects - 1:
            return x, math.log(mass), ck.n
        urn.exclude(x)
        rest = urn.total()
        y = urn.draw(rng.random())
        w = px
        if y >= 0 and ck(y):
            w = px + rest
        return x, math.log(w), ck.n
    if estimator != TWO_PASS:
        raise ValueError(f"unknown estimator code {estimator}")
    n2 = 0
    while True:  # the second run over the tokens the first did not reject
        ck.due()
        y = urn.draw(rng.random())
        if y < 0 or y == x:
            break
        if ck(y):
            break
        urn.exclude(y)
        n2 += 1
        if max_rejects and n_rej + n2 >= max_rejects:
            return x, math.log(mass / max_rejects), ck.n
    return x, math.log(mass / (n_rej + n2 + 1)), ck.n


class _Checks:
    """The step's checks: the constraint's ``check`` until the fallback, then mask lookups."""

    __slots__ = ("check", "after", "get_mask", "mask", "n")

    def __init__(self, check, after: int, get_mask):
        self.check, self.after, self.get_mask = check, after, get_mask
        self.mask: np.ndarray | None = None
        self.n = 0  # constraint checks (mask lookups not counted)

    def due(self) -> bool:
        """Whether the fallback applies now (fetching the mask the first time it does)."""
        if self.mask is None:
            if self.after < 0 or self.n < self.after:
                return False
            src = self.get_mask if self.get_mask is not None else self.check.mask
            self.mask = np.asarray(src()).astype(bool, copy=False).ravel()
        return True

    def __call__(self, tok: int) -> bool:
        if self.mask is not None:
            return tok < len(self.mask) and bool(self.mask[tok])
        self.n += 1
        return bool(self.check(tok))


def _masked_urn(urn: _Urn, mask: np.ndarray) -> tuple[_Urn, float]:
    """The urn of ``probs * mask`` (every token, excluded or not) and its mass Z."""
    keep = np.zeros(len(urn.p), dtype=bool)
    n = min(len(mask), len(urn.p))
    keep[:n] = mask[:n]
    p = np.where(keep, urn.p, np.float32(0.0)).astype(np.float32)
    nb = len(urn.bm)
    bm = np.cumsum(p[: nb * urn.bs].reshape(nb, urn.bs).astype(np.float64), axis=1)[:, -1]
    m = _Urn(p, bm, urn.bs)
    return m, m.total()


def _exact(urn: _Urn, rng: SplitMix64, ck: _Checks, estimator: int):
    """FIRST / RECURSIVE after the fallback: one draw from the masked row, ``w = Z``."""
    assert ck.mask is not None  # the fallback fetched it before this is called
    m, z = _masked_urn(urn, ck.mask)
    if not z > 0:
        return -1, -math.inf, ck.n
    x = m.draw(rng.random())
    return x, (0.0 if estimator == FIRST else math.log(z)), ck.n


def _phantoms(rng: SplitMix64, kept: float, total: float) -> float:
    """Repeats of rejected tokens before the next other draw: Geometric(kept / total) failures."""
    u = 1.0 - rng.random()  # in (0, 1]
    return math.floor(math.log(u) / math.log1p(-kept / total))


def _failures(rng: SplitMix64, z: float, total: float) -> float:
    """Rejections before an acceptance of probability ``z / total`` (none, and no uniform
    drawn, when ``z >= total``)."""
    return 0.0 if z >= total else _phantoms(rng, z, total)


def _geometric(urn: _Urn, total: float, rng: SplitMix64, ck: _Checks, max_rejects: int):
    n_rej = 0.0  # float: phantom counts can be astronomically large
    x = -1
    while x < 0:  # phase 1: up to the first acceptance
        if ck.due():
            return _geometric_exact(urn, total, rng, ck, max_rejects, n_rej)
        kept = urn.total()
        if not kept > 0:
            return -1, -math.inf, ck.n
        if kept < total:
            n_rej += _phantoms(rng, kept, total)
            if max_rejects and n_rej >= max_rejects:
                return -1, -math.inf, ck.n
        y = urn.draw(rng.random())
        if y < 0:
            return -1, -math.inf, ck.n
        if ck(y):
            x = y
            break
        urn.exclude(y)
        n_rej += 1
        if max_rejects and n_rej >= max_rejects:
            return -1, -math.inf, ck.n
    px = float(urn.p[x])
    urn.exclude(x)
    while True:  # phase 2: up to the second acceptance (a repeat of x or a new token)
        if ck.due():
            return _geometric_rest(urn, total, rng, ck, max_rejects, n_rej, x)
        unseen = urn.total()
        kept = unseen + px  # mass of the tokens not rejected
        if kept < total:
            n_rej += _phantoms(rng, kept, total)
            if max_rejects and n_rej >= max_rejects:
                return x, math.log(total / max_rejects), ck.n
        if rng.random() * kept < px:
            break
        y = urn.draw(rng.random())
        if y < 0:
            break
        if ck(y):
            break
        urn.exclude(y)
        n_rej += 1
        if max_rejects and n_rej >= max_rejects:
            return x, math.log(total / max_rejects), ck.n
    return x, math.log(total / (n_rej + 1.0)), ck.n


def _geometric_exact(urn, total, rng, ck, max_rejects, n_rej):
    """Phase 1 after the fallback: Geometric(Z / T) rejections, a masked draw, phase 2."""
    m, z = _masked_urn(urn, ck.mask)
    if not z > 0:
        return -1, -math.inf, ck.n
    n_rej += _failures(rng, z, total)
    if max_rejects and n_rej >= max_rejects:
        return -1, -math.inf, ck.n
    x = m.draw(rng.random())
    return _geometric_rest(m, total, rng, ck, max_rejects, n_rej, x, z)


def _geometric_rest(urn, total, rng, ck, max_rejects, n_rej, x, z=None):
    """Phase 2 after the fallback: Geometric(Z / T) rejections before the second acceptance."""
    if z is None:
        z = _masked_urn(urn, ck.mask)[1]  # exclusions play no part: the mask says all
    n_rej += _failures(rng, z, total)
    if max_rejects and n_rej >= max_rejects:
        return x, math.log(total / max_rejects), ck.n
    return x, math.log(total / (n_rej + 1.0)), ck.n


class DfaCheck:
    """The check of a byte-DFA constraint at one state, evaluated inside the kernel.

    A token is accepted when its bytes, read from ``state`` through ``table``, do not reach the
    dead state 0 (an end-of-sequence token: when ``accept[state]``) and, when ``min_tokens`` is
    given, when the state reached needs at most ``remaining`` more tokens
    (``min_tokens[next] <= remaining``; end of sequence is exempt). Results go to ``memo``
    (shared by every particle in the state): ``memo[t]`` is -1 before ``t`` is evaluated,
    then the state after ``t`` (0: dead; end of sequence: 1 if accepted, else 0).

    Args:
        table: (n_states, 256) int32 transitions, row 0 the dead state.
        accept: (n_states,) uint8 accepting states.
        state: the state the tokens are read from (>= 1).
        data: uint8 concatenation of every token's bytes.
        offsets: (V + 1,) int64; token t is ``data[offsets[t]:offsets[t + 1]]``.
        is_eos: (V,) uint8, 1 for end-of-sequence tokens.
        memo: (V,) int32, written in place.
        min_tokens: optional (n_states,) int32 least number of tokens to acceptance.
        remaining: tokens left in the budget (with ``min_tokens``).

    Attributes:
        evaluations: tokens this object evaluated (memo misses), :meth:`mask` included.
    """

    __slots__ = (
        "table",
        "accept",
        "state",
        "data",
        "offsets",
        "is_eos",
        "memo",
        "min_tokens",
        "remaining",
        "evaluations",
    )

    def __init__(
        self, table, accept, state, data, offsets, is_eos, memo, min_tokens=None, remaining=0
    ):
        if not 0 < int(state) < table.shape[0]:
            raise ValueError(f"expected a live DFA state in [1, {table.shape[0]}), but got {state}")
        if len(memo) != len(offsets) - 1 or len(is_eos) != len(memo):
            raise ValueError(
                f"expected memo and is_eos of {len(offsets) - 1} entries, "
                f"got {len(memo)} and {len(is_eos)}"
            )
        self.table, self.accept, self.state = table, accept, int(state)
        self.data, self.offsets, self.is_eos, self.memo = data, offsets, is_eos, memo
        self.min_tokens, self.remaining = min_tokens, int(remaining)
        self.evaluations = 0

    def _eval(self, tok: int) -> int:
        if self.is_eos[tok]:
            return 1 if self.accept[self.state] else 0
        s = self.state
        table = self.table
        for b in self.data[self.offsets[tok] : self.offsets[tok + 1]]:
            s = int(table[s, b])
            if s == 0:
                break
        return s

    def __call__(self, tok: int) -> bool:
        r = int(self.memo[tok])
        if r < 0:
            r = self._eval(tok)
            self.memo[tok] = r
            self.evaluations += 1
        if r == 0:
            return False
        if self.is_eos[tok] or self.min_tokens is None:
            return True
        return bool(self.min_tokens[r] <= self.remaining)

    def mask(self) -> np.ndarray:
        """(V,) uint8: 1 for every accepted token (fills the memo)."""
        return np.fromiter(
            (self(t) for t in range(len(self.memo))), dtype=np.uint8, count=len(self.memo)
        )
