"""The token step: next-token probabilities in kernel layout, pruning, and cached constraint checks."""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..kernels import awrs as _awrs
from ..errors import ConfigurationError, ConstraintEvaluationError

#: vocabulary entries per block of the two-level inverse-CDF draw (see ``awrs/_awrs_py.py``)
BLOCK_SIZE = 256

#: estimator names accepted by :func:`awrs.generate` and their kernel codes
ESTIMATORS = {
    "auto": _awrs.AUTO,
    "two-pass": _awrs.TWO_PASS,
    "recursive": _awrs.RECURSIVE,
    "geometric": _awrs.GEOMETRIC,
}

_MISSING = object()
_EOS_OK = object()  # memo value of an accepted end-of-sequence check


@dataclass(slots=True)
class TokenProbs:
    """A batch of next-token distributions laid out for the kernel.

    Attributes:
        probs: (U, n_blocks * block_size) float32, zero-padded; pruned tokens are 0.
        blocks: (U, n_blocks) float64 mass of each block.
        block_size: entries per block.
        vocab_size: V, the unpadded width.
        index: for each sequence of the batch, its row (sequences sharing a context share
            one row); ``None`` for one row per sequence.
    """

    probs: np.ndarray
    blocks: np.ndarray
    block_size: int
    vocab_size: int
    index: list[int] | None = None

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The kernel inputs of sequence ``i``."""
        r = i if self.index is None else self.index[i]
        return self.probs[r], self.blocks[r]

    def vector(self, i: int) -> np.ndarray:
        """The padded probability row of sequence ``i``."""
        return self.probs[i if self.index is None else self.index[i]]

    def mass(self, i: int, ids: Sequence[int]) -> float:
        """Total probability of ``ids`` for sequence ``i``."""
        row = self.vector(i)
        return float(sum(float(row[t]) for t in ids))


def token_probs(logp: torch.Tensor, keep: np.ndarray | None = None,
                block_size: int = BLOCK_SIZE) -> TokenProbs:
    """Exponentiate a (B, V) log-probability tensor once, prune, and sum blocks.

    Args:
        logp: (B, V) next-token log-probabilities (each row a normalised distribution).
        keep: optional float32 0/1 mask padded to whole blocks (:func:`padded`); tokens with
            0 are pruned (probability set to 0).
        block_size: entries per block.
    """
    lp = logp.detach()
    if lp.device.type != "cpu" or lp.dtype != torch.float32:
        lp = lp.to("cpu", torch.float32)
    lp = lp.numpy()  # (B, V)
    b, v = lp.shape
    nb = -(-v // block_size)
    probs = np.empty((b, nb * block_size), dtype=np.float32)
    np.exp(lp, out=probs[:, :v])  # numpy: vectorised, single-threaded
    probs[:, v:] = 0.0
    if keep is not None and len(keep) != nb * block_size:
        raise ValueError(f"expected a pruning mask of {nb * block_size} entries (see padded), "
                         f"got {len(keep)}")
    blocks = _awrs.prepare(probs, keep, block_size)
    return TokenProbs(probs, blocks, block_size, v)


def padded(keep: np.ndarray | None, block_size: int = BLOCK_SIZE) -> np.ndarray | None:
    """A (V,) float32 pruning mask zero-padded to whole blocks."""
    if keep is None:
        return None
    width = -(-len(keep) // block_size) * block_size
    out = np.zeros(width, dtype=np.float32)
    out[:len(keep)] = keep
    return out


def block_sums(row: np.ndarray, block_size: int) -> np.ndarray:
    """(n_blocks,) float64 block masses of one padded float32 row."""
    return _awrs.prepare(row.reshape(1, -1), None, block_size)[0]


# -- per-(constraint, model) precomputations, computed once -----------------------------------
_KEEP: "weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary]" = weakref.WeakKeyDictionary()
_TRIES: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def _cached(table, key, make: Callable[[], Any]):
    try:
        hit = table.get(key)
    except TypeError:  # not weak-referenceable or not hashable: no caching
        return make()
    if hit is None:
        hit = make()
        table[key] = hit
    return hit


def pruning_mask(constraint, lm) -> np.ndarray | None:
    """(V,) float32 0/1 mask of the tokens whose bytes all lie in ``constraint.alphabet()``.

    End-of-sequence tokens are always kept. ``None`` when the constraint declares no alphabet.
    Cached per (constraint, model) pair.
    """
    def make():
        alphabet = constraint.alphabet()
        if alphabet is None:
            return None
        allowed = bytes(sorted(int(c) for c in alphabet))
        eos = lm.eos_token_ids
        keep = np.fromiter(
            (i in eos or not tok.translate(None, allowed) for i, tok in enumerate(lm.vocab)),
            dtype=bool, count=len(lm.vocab))
        return keep.astype(np.float32)

    def per_lm():
        return weakref.WeakKeyDictionary()

    try:
        inner = _cached(_KEEP, constraint, per_lm)
        return _cached(inner, lm, make)
    except TypeError:
        return make()


def vocab_trie(lm):
    """The model's :class:`~awrs.constraints.trie.VocabTrie` (EOS excluded), built once per model."""
    from ..constraints.trie import VocabTrie

    return _cached(_TRIES, lm, lambda: VocabTrie(lm.vocab, exclude=lm.eos_token_ids))


class Checker:
    """Constraint checks for one run: counts them, times them, caches them within a step.

    Particles that share a state object (duplicates after resampling) share the step's cache,
    so each distinct (state, token) pair is evaluated once per step. Exceptions raised by the
    constraint surface as :class:`~awrs.errors.ConstraintEvaluationError` naming the full byte
    prefix that triggered them.
    """

    __slots__ = ("constraint", "lm", "vocab", "eos", "evaluations", "seconds", "_memos")

    def __init__(self, constraint, lm):
        self.constraint = constraint
        self.lm = lm
        self.vocab = lm.vocab
        self.eos = frozenset(lm.eos_token_ids)
        self.evaluations = 0
        self.seconds = 0.0
        self._memos: dict[int, tuple[Any, dict]] = {}

    def new_step(self) -> None:
        """Forget the previous step's cached results."""
        self._memos = {}

    def fail(self, exc: Exception, ids: Sequence[int], tok: int | None,
             what: str | None = None) -> ConstraintEvaluationError:
        """The error reporting that the constraint raised ``exc`` on ``ids`` (+ ``tok``)."""
        prefix = self.lm.decode_bytes(list(ids)) + (self.vocab[tok] if tok is not None else b"")
        if what is None:
            what = "as a complete string" if tok is None else "as a prefix"
        err = ConstraintEvaluationError(
            f"constraint {type(self.constraint).__name__} raised {type(exc).__name__}: {exc} "
            f"while checking {prefix!r} {what}", prefix)
        err.__cause__ = exc
        return err

    def start(self):
        """The constraint's initial state (errors surfaced with the empty prefix)."""
        try:
            return self.constraint.start()
        except Exception as exc:
            raise self.fail(exc, [], None) from exc

    def complete(self, state, ids: Sequence[int], count: bool = True) -> bool:
        """Whether the text of ``ids`` (held by ``state``) is complete; one evaluation."""
        t0 = time.perf_counter()
        try:
            ok = bool(self.constraint.is_complete(state))
        except Exception as exc:
            raise self.fail(exc, ids, None) from exc
        finally:
            self.seconds += time.perf_counter() - t0
        self.evaluations += count
        return ok

    def advance(self, state, ids: Sequence[int], tok: int):
        """The state after ``tok`` (not counted: bookkeeping after a full mask said yes).

        Raises:
            ConstraintEvaluationError: the constraint raised, or rejected a token its own
                ``token_mask`` accepted.
        """
        t0 = time.perf_counter()
        try:
            new = self.constraint.advance(state, self.vocab[tok])
        except Exception as exc:
            raise self.fail(exc, ids, tok) from exc
        finally:
            self.seconds += time.perf_counter() - t0
        if new is None:
            raise self.fail(RuntimeError("token_mask accepted a token that advance rejects"),
                             ids, tok)
        return new

    def bind(self, state, ids: Sequence[int]) -> tuple[Callable[[int], bool], dict]:
        """The kernel's ``check(token) -> bool`` for a particle at ``state`` with prefix ``ids``,
        and its memo (token -> new state, for :meth:`result`)."""
        key = id(state)
        entry = self._memos.get(key)
        if entry is None:
            entry = self._memos[key] = (state, {})
        memo = entry[1]
        advance, is_complete = self.constraint.advance, self.constraint.is_complete
        vocab, eos = self.vocab, self.eos
        perf = time.perf_counter

        def check(tok: int) -> bool:
            r = memo.get(tok, _MISSING)
            if r is _MISSING:
                t0 = perf()
                try:
                    if tok in eos:
                        r = _EOS_OK if is_complete(state) else None
                    else:
                        r = advance(state, vocab[tok])
                except Exception as exc:
                    raise self.fail(exc, ids, None if tok in eos else tok) from exc
                finally:
                    self.seconds += perf() - t0
                self.evaluations += 1
                memo[tok] = r
            return r is not None

        return check, memo

    @staticmethod
    def result(memo: dict, tok: int):
        """The new state after the accepted ``tok`` (``None`` for end of sequence)."""
        r = memo[tok]
        return None if r is _EOS_OK else r


def awrs_token(probs: TokenProbs, row: int, rng, check: Callable[[int], bool], estimator: int,
               max_rejects: int) -> tuple[int, float, int]:
    """One AWRS step on row ``row``: ``(token, log_w, n_checks)``; token -1 when none accepted."""
    p, b = probs.row(row)
    return _awrs.awrs_step(p, b, probs.block_size, rng, check, estimator, max_rejects)


def eos_log_weight(probs: TokenProbs, row: int, eos: Sequence[int]) -> float:
    """log of the end-of-sequence probability in row ``row`` (``-inf`` when 0)."""
    pe = probs.mass(row, eos)
    return math.log(pe) if pe > 0 else -math.inf


def check_estimator(name: str) -> int:
    """Kernel code of an estimator name, or a ConfigurationError."""
    try:
        return ESTIMATORS[name]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"unknown estimator {name!r}: expected one of {sorted(ESTIMATORS)}") from None
