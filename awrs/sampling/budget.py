"""Budget feasibility: propose a token only if the text can still finish within ``max_tokens``.

A token drawn with ``remaining`` tokens left (this one included) leaves ``remaining - 1``, of
which the last must be the end of sequence; so it is feasible iff its state can be completed
in ``remaining - 2`` tokens. The constraint's :class:`~awrs.constraints.shortest.CompletionBound`
gives a sound lower bound on that (exact for byte DFAs); where the bound is not exact, one
token before the end a bounded walk of the vocabulary trie decides whether a single token
completes the state. Pruned tokens count as rejected, so the AWRS weight is the mass of the
tokens that are both accepted and feasible, and SMC targets p(x | constraint, |x| <= max_tokens)
exactly. A token is pruned only when it is proven infeasible.
"""

from __future__ import annotations

import math
import time
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from ..constraints.shortest import CompletionBound, one_token_completion
from .token import Checker, _cached, vocab_trie

#: trie advances allowed per exact one-token search (beyond it the token is kept)
SEARCH_LIMIT = 1024
#: trie advances allowed to all one-token searches of one step together
STEP_SEARCH_LIMIT = 16384
#: rejections tolerated per token at steps where the budget prunes with an inexact bound:
#: near the end most of the vocabulary may be infeasible, and scanning it all costs seconds;
#: beyond this the particle dies (``max_rejects``: the weights stay proper)
MAX_REJECTS = 2048

_BOUNDS: "weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary]" = weakref.WeakKeyDictionary()


def completion_bound(constraint, lm) -> CompletionBound:
    """``constraint.completion_bound`` over the model's tokens (EOS excluded), cached per
    (constraint, model) pair."""
    def make():
        eos = lm.eos_token_ids
        return constraint.completion_bound([t for i, t in enumerate(lm.vocab) if i not in eos])

    try:
        inner = _cached(_BOUNDS, constraint, weakref.WeakKeyDictionary)
        return _cached(inner, lm, make)
    except TypeError:
        return make()


class Budget:
    """Budget feasibility checks (and the optional budget twist) for one run.

    Attributes:
        bound: the constraint's completion bound over the model's vocabulary.
        search: whether to run the exact one-token search where the bound is not exact.
        twist: whether SMC applies :meth:`log_twist`.
    """

    __slots__ = ("constraint", "lm", "stats", "bound", "search", "twist", "eos", "_cache",
                 "_cache_key", "_search_left", "_dfa_seen")

    def __init__(self, constraint, lm, stats, *, twist: bool = False, search: bool = True):
        self.constraint = constraint
        self.lm = lm
        self.stats = stats
        self.bound = completion_bound(constraint, lm)
        self.search = search and not self.bound.exact
        self.twist = twist
        self.eos = frozenset(lm.eos_token_ids)
        self._cache: dict[tuple[int, int], bool] = {}
        self._cache_key = None
        self._search_left = STEP_SEARCH_LIMIT
        self._dfa_seen: dict[int, _DfaPruned] = {}

    @property
    def dfa_min_tokens(self):
        """(n_states,) int32 exact token distances of a byte-DFA constraint (``int32 max``:
        never completes), for kernels that check feasibility themselves; else ``None``."""
        return getattr(self.bound, "table", None)

    def active(self, remaining: int) -> bool:
        """Whether any token can be pruned with ``remaining`` tokens left (this one included)."""
        return remaining - 2 < self.bound.horizon + (1 if self.search else 0)

    def feasible(self, state, remaining: int) -> bool:
        """Whether ``state`` (after a token drawn with ``remaining`` left) can still finish:
        ``False`` only when proven impossible."""
        k = remaining - 2  # tokens that may come before the end of sequence
        lb = self.bound.min_tokens(state)
        if lb > k:
            return False
        if self.search and k == 1 and lb == 1 and self._search_left > 0:
            limit = min(SEARCH_LIMIT, self._search_left)
            self._search_left -= limit  # charged in full: a failed search walks its limit
            trie = vocab_trie(self.lm)
            return one_token_completion(self.constraint, state, trie, limit) is not False
        return True

    def max_rejects(self, remaining: int, max_rejects: int) -> int:
        """The rejection bound for a step (``0``: none): :data:`MAX_REJECTS` where the budget
        may prune with an inexact bound, else ``max_rejects`` unchanged."""
        if self.bound.exact or not self.active(remaining):
            return max_rejects
        return min(max_rejects, MAX_REJECTS) if max_rejects else MAX_REJECTS

    def bind(self, checker: Checker, state, ids: Sequence[int],
             remaining: int) -> tuple[Callable[[int], bool], dict, list[int] | None]:
        """:meth:`Checker.bind` with infeasible tokens rejected too.

        Returns:
            ``(check, memo, pruned)``: ``pruned[0]`` counts this particle's candidates
            rejected only for the budget (``None`` when no token can be pruned this step).
        """
        if not self.active(remaining):
            check, memo = checker.bind(state, ids)
            return check, memo, None
        if self._cache_key != remaining:  # a new step: states of the last one are gone
            self.flush()
            self._cache, self._cache_key = {}, remaining
            self._search_left = STEP_SEARCH_LIMIT
        table = self.dfa_min_tokens
        if table is not None and checker.dfa_state(state):
            # exact distances checked inside the kernel (masks included): k = remaining - 2
            # tokens may come before the end of sequence
            checker.min_tokens = table
            check, memo = checker.bind(state, ids, remaining=remaining - 2)
            pruned = _DfaPruned(memo, table, remaining - 2, checker.eos_mask())
            self._dfa_seen[state] = pruned
            return check, memo, pruned
        check, memo = checker.bind(state, ids)
        check = getattr(check, "fn", check)  # a plain check: no mask fallback over A ∩ feasible
        cache, eos, stats, pruned = self._cache, self.eos, self.stats, [0]
        key0 = id(state)

        def feasible_check(tok: int) -> bool:
            if not check(tok):
                return False
            if tok in eos:
                return True
            ok = cache.get((key0, tok))
            if ok is None:
                ok = cache[key0, tok] = self._timed(checker, Checker.result(memo, tok), ids,
                                                    tok, remaining)
                stats.budget_pruned += not ok
            pruned[0] += not ok
            return ok

        return feasible_check, memo, pruned

    def bind_step(self, checker: Checker, state, ids: Sequence[int], remaining: int,
                  max_rejects: int):
        """:meth:`bind` and this step's rejection bound (:meth:`max_rejects`).

        Returns:
            ``(check, memo, max_rejects, gave_up)``: ``gave_up(n_checks)`` tells whether a
            step whose every candidate was rejected is the budget's doing ("pruned to
            completion": feasibility pruned a candidate, or the budget's rejection cap hit)
            rather than a dead end of the constraint.
        """
        check, memo, pruned = self.bind(checker, state, ids, remaining)
        mr = self.max_rejects(remaining, max_rejects)
        capped = mr != max_rejects

        def gave_up(n_checks: int) -> bool:
            return bool(pruned and pruned[0]) or (capped and n_checks >= mr)

        return check, memo, mr, gave_up

    def flush(self) -> None:
        """Count the DFA tokens the kernel pruned in the step that ended (``budget_pruned``)."""
        for pruned in self._dfa_seen.values():
            self.stats.budget_pruned += pruned[0]
        self._dfa_seen = {}

    def _timed(self, checker: Checker, state, ids, tok: int, remaining: int) -> bool:
        t0 = time.perf_counter()
        try:
            return self.feasible(state, remaining)
        except Exception as exc:
            raise checker.fail(exc, ids, tok, "(bounding its shortest completion)") from exc
        finally:
            checker.seconds += time.perf_counter() - t0

    def log_twist(self, state, left: int) -> float:
        """log of a heuristic probability of finishing with ``left`` tokens left:
        ``(left + 1 - b) / (left + 1)`` for a completion bound ``b`` (1 when complete, falling
        linearly as the state needs more of what is left; ``-inf`` when it cannot finish)."""
        b = self.bound.min_tokens(state)
        if b + 1 > left:
            return -math.inf if b > 0 else 0.0
        return math.log((left + 1 - b) / (left + 1))


class _DfaPruned:
    """``pruned[0]``: tokens evaluated from a DFA state (by the kernel, in its memo) that the
    constraint accepts but that cannot finish within ``k`` more tokens."""

    __slots__ = ("memo", "table", "k", "eos")

    def __init__(self, memo, table, k: int, eos):
        self.memo, self.table, self.k, self.eos = memo, table, k, eos

    def __getitem__(self, i: int) -> int:
        live = (self.memo > 0) & ~self.eos
        return int(np.count_nonzero(self.table[self.memo[live]] > self.k))
