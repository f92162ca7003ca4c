"""A byte trie of a vocabulary, flattened in DFS preorder for fast full-mask walks."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

_WHITESPACE = re.compile(rb"[ \t\n\r\f\v]+")


class VocabTrie:
    """The vocabulary's tokens as a trie over bytes.

    Nodes are numbered in DFS preorder (node 0 is the root). Arrays, each of length
    ``n_nodes``: ``byte`` (the edge byte into the node; -1 for the root), ``depth``, ``skip``
    (the first node after the node's subtree, so pruning a subtree is ``i = skip[i]``), and the
    token ids ending at each node in CSR form (``tok_ptr``, ``tok_ids``). Empty tokens and
    ``exclude`` ids (EOS) are left out.
    """

    def __init__(self, vocab: Sequence[bytes], exclude: set[int] | frozenset[int] = frozenset()):
        self.vocab_size = len(vocab)
        self.token_bytes = [bytes(t) for t in vocab]
        self._ws_runs: tuple[np.ndarray, np.ndarray] | None = None
        root: dict = {}
        for tid, tok in enumerate(vocab):
            if not tok or tid in exclude:
                continue
            node = root
            for ch in tok:
                node = node.setdefault(ch, {})
            node.setdefault(-1, []).append(tid)
        byte: list[int] = []
        depth: list[int] = []
        skip: list[int] = []
        ptr: list[int] = [0]
        ids: list[int] = []

        def visit(node: dict, b: int, d: int) -> None:
            i = len(byte)
            byte.append(b)
            depth.append(d)
            skip.append(0)
            ids.extend(node.get(-1, ()))
            ptr.append(len(ids))
            for ch in sorted(k for k in node if k >= 0):
                visit(node[ch], ch, d + 1)
            skip[i] = len(byte)

        import sys

        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 10_000))
        try:
            visit(root, -1, 0)
        finally:
            sys.setrecursionlimit(limit)
        self.byte = np.array(byte, dtype=np.int32)
        self.depth = np.array(depth, dtype=np.int32)
        self.skip = np.array(skip, dtype=np.int32)
        self.tok_ptr = np.array(ptr, dtype=np.int32)
        self.tok_ids = np.array(ids, dtype=np.int32)
        #: (V,) bool: the tokens in the trie (not empty, not excluded)
        self.members = np.zeros(self.vocab_size, dtype=bool)
        self.members[self.tok_ids] = True

    def whitespace_runs(self) -> tuple[np.ndarray, np.ndarray]:
        """Per token: its leading run and its longest run of ASCII whitespace bytes (cached)."""
        if self._ws_runs is None:
            lead = np.zeros(self.vocab_size, dtype=np.int64)
            longest = np.zeros(self.vocab_size, dtype=np.int64)
            for tid, tok in enumerate(self.token_bytes):
                runs = _WHITESPACE.findall(tok)
                if runs:
                    longest[tid] = max(map(len, runs))
                    lead[tid] = len(runs[0]) if tok[:1].isspace() else 0
            self._ws_runs = (lead, longest)
        return self._ws_runs

    @property
    def n_nodes(self) -> int:
        return len(self.byte)

    def walk(self, state, advance: Callable) -> np.ndarray:
        """Boolean (V,) mask of tokens t with ``advance(state, bytes(t)) is not None``.

        Calls ``advance`` once per trie edge reached (one byte at a time), pruning subtrees;
        the loop runs in the compiled ``awrs.kernels._trie_c`` kernel when available.
        """
        from ..kernels.trie import trie_walk

        return trie_walk(
            self.byte,
            self.depth,
            self.skip,
            self.tok_ptr,
            self.tok_ids,
            self.vocab_size,
            state,
            advance,
        )
