"""Shortest completions in tokens: sound lower bounds on the tokens a state needs to finish.

A :class:`CompletionBound` says, for a constraint state, at least how many tokens (end of
sequence excluded) any completion needs; budget-aware samplers prune a token when the bound
after it exceeds what is left of ``max_tokens``. A bound must never exceed the true shortest
completion (that would prune a feasible token and bias the sampler); it may be lower (that
only prunes less). :func:`one_token_completion` decides exactly, by a bounded walk of the
vocabulary trie, whether a single token completes a state.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import completion


class CompletionBound(ABC):
    """A lower bound on the tokens a constraint state needs before it is complete.

    Attributes:
        horizon: the largest finite value :meth:`min_tokens` can return; a sampler with more
            tokens left than ``horizon + 1`` can skip the check.
        exact: whether :meth:`min_tokens` is the true shortest completion (no further search
            helps).
    """

    horizon: float = 1
    exact: bool = False

    @abstractmethod
    def min_tokens(self, state: Any) -> float:
        """At least how many non-EOS tokens take ``state`` to a complete state (0 when it is
        complete, ``inf`` when it never is)."""


class TrivialBound(CompletionBound):
    """0 for a complete state, else 1: sound for every constraint (costs one ``is_complete``)."""

    def __init__(self, constraint):
        self.constraint = constraint

    def min_tokens(self, state) -> float:
        return 0 if self.constraint.is_complete(state) else 1


class MaxBound(CompletionBound):
    """Both sides of a conjunction must finish: the larger of their bounds (state is a pair)."""

    def __init__(self, left: CompletionBound, right: CompletionBound):
        self.left, self.right = left, right
        self.horizon = max(left.horizon, right.horizon)
        self.exact = False

    def min_tokens(self, state) -> float:
        return max(self.left.min_tokens(state[0]), self.right.min_tokens(state[1]))


class TableBound(CompletionBound):
    """An exact per-state table (e.g. of a byte DFA): ``min_tokens(s) = table[s]``."""

    exact = True

    def __init__(self, table: np.ndarray):
        self.table = table
        finite = table[table < np.iinfo(table.dtype).max]
        self.horizon = int(finite.max()) if len(finite) else 0
        self._inf = np.iinfo(table.dtype).max

    def min_tokens(self, state) -> float:
        v = int(self.table[state])
        return math.inf if v == self._inf else v


def token_distances(
    successors: Sequence[Sequence[int] | np.ndarray], accept: np.ndarray
) -> np.ndarray:
    """Shortest token distances to acceptance on a finite graph, by backward BFS.

    Args:
        successors: for each state, the states one token leads to.
        accept: (n,) bool accepting states.

    Returns:
        (n,) int32 distances; ``int32 max`` where no accepting state is reachable.
    """
    n = len(successors)
    preds: list[list[int]] = [[] for _ in range(n)]
    for s, nxt in enumerate(successors):
        for t in nxt:
            preds[int(t)].append(s)
    inf = np.iinfo(np.int32).max
    dist = np.full(n, inf, dtype=np.int32)
    frontier = [int(s) for s in np.flatnonzero(accept)]
    dist[frontier] = 0
    d = 0
    while frontier:
        d += 1
        nxt = []
        for t in frontier:
            for s in preds[t]:
                if dist[s] == inf:
                    dist[s] = d
                    nxt.append(s)
        frontier = nxt
    return dist


def one_token_completion(constraint, state, trie, limit: int = 4096) -> bool | None:
    """Whether some single vocabulary token takes ``state`` to a complete state.

    Walks the vocabulary byte trie depth-first, advancing one byte at a time and pruning
    rejected subtrees. Returns ``True`` at the first completing token, ``False`` when the walk
    ended without one (exact), ``None`` when it gave up after ``limit`` advances (unknown).
    """
    byte, skip, ptr = trie.byte, trie.skip, trie.tok_ptr
    depth = trie.depth
    advance = completion(constraint).search_advance
    complete = constraint.is_complete
    n = len(byte)
    stack = [state]  # stack[d] is the state at depth d along the current path
    i, steps = 1, 0
    while i < n:
        d = int(depth[i])
        del stack[d:]
        steps += 1
        if steps > limit:
            return None
        s = advance(stack[d - 1], bytes((int(byte[i]),)))
        if s is None:
            i = int(skip[i])
            continue
        if ptr[i + 1] > ptr[i] and complete(s):
            return True
        stack.append(s)
        i += 1
    return False
