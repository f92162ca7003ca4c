"""Exact shortest completions of a byte DFA in tokens of a given vocabulary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...kernels import dfa as _dfa
from ..shortest import TableBound, token_distances

#: DFA runs (states x tokens) allowed to build a table: compiled kernel, pure-Python twin
MAX_RUNS = {"compiled": 50_000_000, "python": 2_000_000}


def affordable(n_states: int, n_tokens: int) -> bool:
    """Whether :func:`dfa_min_tokens` fits its budget of DFA runs with the kernel in use."""
    from ...kernels import native

    kind = native().get("_dfa", "python")
    return n_states * n_tokens <= MAX_RUNS.get(kind, MAX_RUNS["python"])


def dfa_min_tokens(table: np.ndarray, accept: np.ndarray, tokens: Sequence[bytes]) -> np.ndarray:
    """(n_states,) int32: the fewest tokens taking each DFA state to acceptance.

    Exact: a breadth-first search over the graph whose edges are the tokens (each state's
    successors found by running every token from it). ``int32 max`` for the dead state 0 and
    any state no token sequence completes. Cost: ``n_states * len(tokens)`` DFA runs in the
    compiled kernel (dead prefixes stop early).
    """
    toks = [t for t in tokens if t]
    n = len(table)
    succ: list[np.ndarray] = [np.zeros(0, dtype=np.int32)]
    for s in range(1, n):
        out = _dfa.dfa_run_batch(table, np.full(len(toks), s, dtype=np.int32), toks)
        succ.append(np.unique(out[out != 0]))
    acc = np.asarray(accept, dtype=bool).copy()
    acc[0] = False
    return token_distances(succ, acc)


def dfa_bound(dfa, tokens: Sequence[bytes]) -> TableBound | None:
    """The exact :class:`~awrs.constraints.shortest.TableBound` of ``dfa`` over ``tokens``;
    None where the table would cost too much to build (:func:`affordable`)."""
    if not affordable(dfa.n_states, len(tokens)):
        return None
    return TableBound(dfa_min_tokens(dfa.table, dfa.accept, tokens))
