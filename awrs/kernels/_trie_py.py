"""Pure-Python twin of the vocabulary-trie walk kernel (``csrc/_trie_c.pyx``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_BYTES = [bytes((b,)) for b in range(256)]


def trie_walk(
    byte: np.ndarray,
    depth: np.ndarray,
    skip: np.ndarray,
    tok_ptr: np.ndarray,
    tok_ids: np.ndarray,
    vocab_size: int,
    state: Any,
    advance: Callable[[Any, bytes], Any],
) -> np.ndarray:
    """Boolean (V,) mask of the tokens ``t`` with ``advance(state, bytes(t)) is not None``.

    Walks a :class:`~awrs.constraints.trie.VocabTrie` (int32 arrays in DFS preorder) calling
    ``advance`` once per reached edge, one byte at a time, and skipping the subtree of every
    rejected byte prefix. Equivalent loop::

        stack = [state]; i = 1
        while i < n_nodes:
            del stack[depth[i]:]
            nxt = advance(stack[-1], bytes([byte[i]]))
            if nxt is None: i = skip[i]; continue
            stack.append(nxt); mask[tok_ids[tok_ptr[i]:tok_ptr[i + 1]]] = True; i += 1
    """
    mask = np.zeros(vocab_size, dtype=bool)
    byte_l, depth_l, skip_l = byte.tolist(), depth.tolist(), skip.tolist()
    ptr = tok_ptr.tolist()
    stack = [state]
    i, n = 1, len(byte_l)
    while i < n:
        d = depth_l[i]
        del stack[d:]
        nxt = advance(stack[d - 1], _BYTES[byte_l[i]])
        if nxt is None:
            i = skip_l[i]
            continue
        stack.append(nxt)
        if ptr[i + 1] > ptr[i]:
            mask[tok_ids[ptr[i] : ptr[i + 1]]] = True
        i += 1
    return mask
