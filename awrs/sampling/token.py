"""The token step: next-token probabilities in kernel layout, pruning, and cached constraint
checks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch

from ..errors import ConfigurationError, ConstraintEvaluationError
from ..kernels import awrs as _awrs
from .tables import ModelTables

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


def token_probs(
    logp: torch.Tensor, keep: np.ndarray | None = None, block_size: int = BLOCK_SIZE
) -> TokenProbs:
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
    arr = lp.numpy()  # (B, V)
    b, v = arr.shape
    nb = -(-v // block_size)
    probs = np.empty((b, nb * block_size), dtype=np.float32)
    np.exp(arr, out=probs[:, :v])  # numpy: vectorised, single-threaded
    probs[:, v:] = 0.0
    if keep is not None and len(keep) != nb * block_size:
        raise ValueError(
            f"expected a pruning mask of {nb * block_size} entries (see padded), got {len(keep)}"
        )
    blocks = _awrs.prepare(probs, keep, block_size)
    return TokenProbs(probs, blocks, block_size, v)


def padded(keep: np.ndarray | None, block_size: int = BLOCK_SIZE) -> np.ndarray | None:
    """A (V,) float32 pruning mask zero-padded to whole blocks."""
    if keep is None:
        return None
    width = -(-len(keep) // block_size) * block_size
    out = np.zeros(width, dtype=np.float32)
    out[: len(keep)] = keep
    return out


def block_sums(row: np.ndarray, block_size: int) -> np.ndarray:
    """(n_blocks,) float64 block masses of one padded float32 row."""
    return _awrs.prepare(row.reshape(1, -1), None, block_size)[0]


# -- what every run on a model shares (kept by :class:`~awrs.sampling.tables.ModelTables`) ------
def pruning_mask(constraint, lm) -> np.ndarray | None:
    """(V,) float32 0/1 mask of the tokens whose bytes all lie in ``constraint.alphabet()``.

    End-of-sequence tokens are always kept. ``None`` when the constraint declares no alphabet.
    Computed once per (constraint, model) pair.
    """
    return ModelTables.of(lm).pruning_mask(constraint)


def vocab_trie(lm):
    """The model's :class:`~awrs.constraints.trie.VocabTrie` (EOS excluded), built once per
    model."""
    return ModelTables.of(lm).trie


def vocab_bytes(lm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(data, offsets, is_eos)``: the vocabulary's bytes concatenated (uint8), token ``t``
    being ``data[offsets[t]:offsets[t + 1]]`` (int64), and a (V,) uint8 end-of-sequence flag.
    Built once per model."""
    return ModelTables.of(lm).vocab_bytes


#: checks after which a state with no mask yet switches to its exact mask: one mask costs
#: about this many candidates (a DFA fills V transitions, ~ 200 draws of O(blocks + block);
#: other constraints walk the vocabulary trie) and it bounds the work of a particle-step
FALLBACK_AFTER = 200
#: the same once the state's mask is known (one O(V) masked sum, ~ 32 draws)
FALLBACK_AFTER_KNOWN = 32
#: bytes of DFA transition memos a run keeps (V int32 per DFA state; all dropped when full)
DFA_MEMO_BYTES = 64 << 20


def _dfa_of(constraint) -> tuple[np.ndarray, np.ndarray] | None:
    """``(table, accept as uint8)`` of a :class:`~awrs.constraints.regex.Regex` or of a
    regular :class:`~awrs.constraints.regex.Pattern` (same int DFA states), else None."""
    from ..constraints.regex import Pattern, Regex

    if type(constraint) not in (Regex, Pattern):
        return None
    dfa = constraint.dfa
    if dfa is None:  # a Pattern checked by the matcher
        return None
    return dfa.table, np.ascontiguousarray(dfa.accept, dtype=np.uint8)


class _Memo(dict):
    """token -> new state; a token drawn from an exact mask (never checked) is advanced on
    first access."""

    __slots__ = ("check",)
    check: Callable[[int], object]

    def __missing__(self, tok: int):
        self.check(tok)
        return dict.__getitem__(self, tok)


class Binding:
    """What :meth:`Checker.bind` gives the kernel: the check of one particle's state, and when
    (``after`` checks; -1: never) and how (``get_mask``) to switch to the state's exact mask."""

    __slots__ = ("fn", "after", "get_mask", "checker")

    def __init__(self, fn, after: int, get_mask, checker: Checker):
        self.fn, self.after, self.get_mask, self.checker = fn, after, get_mask, checker

    def __call__(self, tok: int) -> bool:
        return bool(self.fn(tok))


class Checker:
    """Constraint checks for one run: counts them, times them, caches them within a step.

    Particles that share a state object (duplicates after resampling) share the step's cache,
    so each distinct (state, token) pair is evaluated once per step. Exceptions raised by the
    constraint surface as :class:`~awrs.errors.ConstraintEvaluationError` naming the full byte
    prefix that triggered them.

    A :class:`~awrs.constraints.regex.Regex` is checked inside the kernel
    (:class:`~awrs.kernels.awrs.DfaCheck`): its int states key a memo of V transitions kept
    for the whole run (every particle in the state shares it). With ``fallback`` on, a
    particle-step that reaches :data:`FALLBACK_AFTER` checks (:data:`FALLBACK_AFTER_KNOWN`
    once the state's mask is known) finishes on the state's exact mask, computed once per
    state and step (a DFA's once per run), see :func:`~awrs.kernels.awrs.awrs_step`.
    ``min_tokens`` (a per-DFA-state int array) and ``bind(..., remaining=)`` restrict a Regex's
    non-EOS tokens to those after which acceptance stays within ``remaining`` tokens.

    The DFA's checks run inside the kernel, so their time counts as the sampler's, not as
    ``seconds`` (the constraint's).

    Attributes:
        evaluations: distinct (state, token) evaluations (masks not included).
        candidates: candidates checked by the kernel (memo hits included).
        fallbacks: particle-steps that finished on an exact mask.
        masks: exact masks computed.
    """

    __slots__ = (
        "constraint",
        "lm",
        "tables",
        "vocab",
        "eos",
        "evaluations",
        "seconds",
        "_memos",
        "candidates",
        "fallbacks",
        "masks",
        "fallback",
        "min_tokens",
        "_dfa",
        "_dfa_memos",
        "_dfa_full",
        "_bytes",
        "_eos_mask",
    )

    def __init__(self, constraint, lm, tables: ModelTables | None = None):
        self.constraint = constraint
        self.lm = lm
        self.tables = tables if tables is not None else ModelTables.of(lm)
        self.vocab = lm.vocab
        self.eos = frozenset(lm.eos_token_ids)
        self.evaluations = 0
        self.seconds = 0.0
        self._memos: dict[int, list] = {}
        self.candidates = self.fallbacks = self.masks = 0
        self.fallback = True
        self.min_tokens: np.ndarray | None = None
        self._dfa = _dfa_of(constraint)
        self._dfa_memos: dict[int, np.ndarray] = {}
        self._dfa_full: set[int] = set()
        self._bytes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = (
            self.tables.vocab_bytes if self._dfa is not None else None
        )
        self._eos_mask: np.ndarray | None = None

    def new_step(self) -> None:
        """Forget the previous step's cached results (a DFA's memos persist)."""
        self._memos = {}

    def fail(
        self, exc: Exception, ids: Sequence[int], tok: int | None, what: str | None = None
    ) -> ConstraintEvaluationError:
        """The error reporting that the constraint raised ``exc`` on ``ids`` (+ ``tok``, + the
        bytes a completion search had appended: ``exc.closing_path``)."""
        prefix = self.lm.decode_bytes(list(ids)) + (self.vocab[tok] if tok is not None else b"")
        prefix += getattr(exc, "closing_path", b"")
        if what is None:
            what = "as a complete string" if tok is None else "as a prefix"
        err = ConstraintEvaluationError(
            f"constraint {type(self.constraint).__name__} raised {type(exc).__name__}: {exc} "
            f"while checking {prefix!r} {what}",
            prefix,
        )
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
            raise self.fail(
                RuntimeError("token_mask accepted a token that advance rejects"), ids, tok
            )
        return new

    def bind(self, state, ids: Sequence[int], remaining: int | None = None):
        """The kernel's check for a particle at ``state`` with prefix ``ids`` (a
        :class:`Binding`), and its memo (for :meth:`result`).

        ``remaining``: tokens left in the budget, used with :attr:`min_tokens` (DFA only).
        """
        if self._dfa is not None and isinstance(state, int) and state > 0:
            return self._bind_dfa(state, remaining)
        key = id(state)
        entry = self._memos.get(key)
        if entry is None:
            entry = self._memos[key] = [state, _Memo(), None]  # state, memo, exact mask
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

        def get_mask() -> np.ndarray:
            self.fallbacks += 1
            if entry[2] is None:
                entry[2] = self._exact_mask(state, ids)
            return entry[2]

        memo.check = check
        if not self.fallback:
            return Binding(check, -1, None, self), memo
        after = FALLBACK_AFTER if entry[2] is None else FALLBACK_AFTER_KNOWN
        return Binding(check, after, get_mask, self), memo

    def eos_mask(self) -> np.ndarray:
        """(V,) bool: the end-of-sequence tokens."""
        if self._eos_mask is None:
            self._eos_mask = np.zeros(len(self.vocab), dtype=bool)
            self._eos_mask[list(self.eos)] = True
        return self._eos_mask

    def dfa_state(self, state) -> bool:
        """Whether ``state`` is checked inside the kernel (a live state of a Regex's DFA)."""
        return self._dfa is not None and isinstance(state, int) and state > 0

    def _bind_dfa(self, state: int, remaining: int | None):
        memo = self._dfa_memos.get(state)
        if memo is None:
            if len(self._dfa_memos) >= max(16, DFA_MEMO_BYTES // (4 * len(self.vocab))):
                self._dfa_memos.clear()
                self._dfa_full.clear()
            memo = self._dfa_memos[state] = np.full(len(self.vocab), -1, dtype=np.int32)
        # bound only for a DFA state, so the DFA and the vocabulary bytes are set
        table, accept = cast("tuple[np.ndarray, np.ndarray]", self._dfa)
        data, offsets, is_eos = cast("tuple[np.ndarray, np.ndarray, np.ndarray]", self._bytes)
        mt = self.min_tokens if remaining is not None else None
        chk = _awrs.DfaCheck(table, accept, state, data, offsets, is_eos, memo, mt, remaining or 0)
        if not self.fallback:
            return Binding(chk, -1, None, self), memo

        def get_mask() -> np.ndarray:
            self.fallbacks += 1
            if state not in self._dfa_full:
                self.masks += 1
                self._dfa_full.add(state)
            e0 = chk.evaluations
            mask = chk.mask()
            chk.evaluations = e0  # a mask's V transitions are not counted as evaluations
            return mask

        after = FALLBACK_AFTER_KNOWN if state in self._dfa_full else FALLBACK_AFTER
        return Binding(chk, after, get_mask, self), memo

    def _exact_mask(self, state, ids: Sequence[int]) -> np.ndarray:
        """(V,) bool: the tokens the constraint accepts after ``ids`` (EOS by is_complete)."""
        v = len(self.vocab)
        t0 = time.perf_counter()
        try:
            mask = np.array(self.constraint.token_mask(state, self.tables.trie), dtype=bool)
        except Exception as exc:
            raise self.fail(exc, ids, None, "(computing the token mask after it)") from exc
        finally:
            self.seconds += time.perf_counter() - t0
        if mask.shape != (v,):
            raise self.fail(
                ValueError(f"token_mask returned shape {mask.shape}, expected ({v},)"),
                ids,
                None,
                "(computing the token mask after it)",
            )
        mask[sorted(self.eos)] = self.complete(state, ids, count=False)
        self.masks += 1
        return mask

    @staticmethod
    def result(memo, tok: int):
        """The new state after the accepted non-EOS ``tok``."""
        if isinstance(memo, np.ndarray):
            return int(memo[tok])
        r = memo[tok]
        if r is None:  # drawn from an exact mask that its advance contradicts
            raise ConstraintEvaluationError(
                f"the constraint's token_mask accepted token {tok} but its advance rejects "
                "it: token_mask must accept exactly the tokens advance accepts"
            )
        return None if r is _EOS_OK else r


def awrs_token(
    probs: TokenProbs, row: int, rng, check, estimator: int, max_rejects: int
) -> tuple[int, float, int]:
    """One AWRS step on row ``row``: ``(token, log_w, n_checks)``; token -1 when none accepted.

    ``check`` is a :class:`Binding` (its counters are updated) or a plain ``token -> bool``.
    """
    p, b = probs.row(row)
    if not isinstance(check, Binding):
        return _awrs.awrs_step(p, b, probs.block_size, rng, check, estimator, max_rejects)
    fn = check.fn
    ev0 = fn.evaluations if isinstance(fn, _awrs.DfaCheck) else 0
    out = _awrs.awrs_step(
        p, b, probs.block_size, rng, fn, estimator, max_rejects, check.after, check.get_mask
    )
    c = check.checker
    c.candidates += out[2]
    if isinstance(fn, _awrs.DfaCheck):
        c.evaluations += fn.evaluations - ev0
    return out


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
            f"unknown estimator {name!r}: expected one of {sorted(ESTIMATORS)}"
        ) from None
