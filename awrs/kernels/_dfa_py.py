"""Pure-Python twin of the byte-DFA kernel (``csrc/_dfa_c.pyx``)."""

from __future__ import annotations

import numpy as np


def _check_state(table: np.ndarray, state: int) -> None:
    if not 0 <= state < table.shape[0]:
        raise ValueError(f"expected a DFA state in [0, {table.shape[0]}), but got {state}")


def dfa_run(table: np.ndarray, state: int, data: bytes) -> int:
    """The state after reading ``data`` from ``state``; 0 (the dead state) once it dies.

    Equivalent loop::

        for b in data:
            state = table[state, b]
            if state == 0: return 0
        return state

    Args:
        table: (n_states, 256) int32 C-contiguous transition table; row 0 is the dead state
            (all zeros).
        state: a state in ``[0, n_states)``.
        data: the bytes to read.

    Raises:
        ValueError: if ``state`` is out of range.
    """
    _check_state(table, state)
    rows = table
    for b in data:
        state = int(rows[state, b])
        if state == 0:
            return 0
    return state


def dfa_run_batch(table: np.ndarray, states: np.ndarray, tokens: list) -> np.ndarray:
    """Row-wise :func:`dfa_run`: ``out[i] = dfa_run(table, states[i], tokens[i])``.

    Args:
        table: as in :func:`dfa_run`.
        states: (B,) int32 states.
        tokens: B byte strings.

    Returns:
        (B,) int32 states (0 where the token was rejected).
    """
    if len(states) != len(tokens):
        raise ValueError(
            f"expected as many tokens as states, but got {len(tokens)} tokens "
            f"for {len(states)} states"
        )
    return np.array(
        [dfa_run(table, int(s), t) for s, t in zip(states, tokens, strict=True)], dtype=np.int32
    )


def dfa_token_mask(
    table: np.ndarray,
    state: int,
    byte: np.ndarray,
    depth: np.ndarray,
    skip: np.ndarray,
    tok_ptr: np.ndarray,
    tok_ids: np.ndarray,
    vocab_size: int,
) -> np.ndarray:
    """Boolean (vocab_size,) mask of the tokens whose bytes the DFA reads from ``state``
    without dying, by one pre-order pass over a flattened vocabulary trie.

    The trie arrays are those of :class:`~awrs.constraints.trie.VocabTrie` (node 0 is the
    root; ``skip[i]`` is the node after ``i``'s subtree; tokens ending at node ``i`` are
    ``tok_ids[tok_ptr[i]:tok_ptr[i + 1]]``). Equivalent loop::

        stack = [state]; i = 1
        while i < len(byte):
            s = table[stack[depth[i] - 1], byte[i]]
            if s == 0: i = skip[i]; continue       # prune the dead subtree
            stack[depth[i]:] = [s]
            mask[tok_ids[tok_ptr[i]:tok_ptr[i + 1]]] = True
            i += 1

    Args:
        table: as in :func:`dfa_run`.
        state: the state the tokens are read from.
        byte, depth, skip, tok_ptr, tok_ids: int32 trie arrays.
        vocab_size: length of the mask.
    """
    _check_state(table, state)
    mask = np.zeros(vocab_size, dtype=bool)
    if state == 0:
        return mask
    byte_l, depth_l, skip_l = byte.tolist(), depth.tolist(), skip.tolist()
    ptr_l = tok_ptr.tolist()
    stack = [state]
    i, n = 1, len(byte_l)
    while i < n:
        d = depth_l[i]
        s = int(table[stack[d - 1], byte_l[i]])
        if s == 0:
            i = skip_l[i]
            continue
        del stack[d:]
        stack.append(s)
        if ptr_l[i + 1] > ptr_l[i]:
            mask[tok_ids[ptr_l[i] : ptr_l[i + 1]]] = True
        i += 1
    return mask
