"""What every run on one model shares, computed once: :class:`ModelTables`.

The tables of a model (its vocabulary's byte trie, byte arrays and token ids) are kept on the
model; those of a (constraint, model) pair (the pruning mask of the constraint's alphabet and
its completion bound) on the constraint, keyed weakly by the model. Each lives as long as what
it serves. :func:`awrs.prepare` computes them ahead of a first run.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ..constraints.base import completion
from ..constraints.shortest import CompletionBound

#: the attribute under which a model keeps its tables, and a constraint its per-model tables
ATTRIBUTE = "_awrs_tables"


class ModelTables:
    """The tables of one model, each built on first use.

    :meth:`of` gives the model's own (kept in the model's ``__dict__``; a model without one
    gets fresh tables at each call, which a run then holds for its duration).
    """

    __slots__ = ("lm", "_trie", "_vocab_bytes", "_ids", "_tokens")

    def __init__(self, lm):
        self.lm = lm
        self._trie = self._vocab_bytes = self._ids = self._tokens = None

    @classmethod
    def of(cls, lm) -> ModelTables:
        """The tables of ``lm``, made and kept with it on first use."""
        try:
            own = vars(lm)
        except TypeError:  # no __dict__: nothing to keep them in
            return cls(lm)
        tables = own.get(ATTRIBUTE)
        if tables is None:
            tables = own[ATTRIBUTE] = cls(lm)
        return tables

    # -- per model ---------------------------------------------------------------------------
    @property
    def trie(self):
        """The vocabulary's :class:`~awrs.constraints.trie.VocabTrie` (EOS excluded)."""
        if self._trie is None:
            from ..constraints.trie import VocabTrie

            self._trie = VocabTrie(self.lm.vocab, exclude=self.lm.eos_token_ids)
        return self._trie

    @property
    def vocab_bytes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(data, offsets, is_eos)``: the vocabulary's bytes concatenated (uint8), token
        ``t`` being ``data[offsets[t]:offsets[t + 1]]`` (int64), and a (V,) uint8
        end-of-sequence flag."""
        if self._vocab_bytes is None:
            vocab = self.lm.vocab
            lens = np.fromiter((len(t) for t in vocab), dtype=np.int64, count=len(vocab))
            offsets = np.zeros(len(vocab) + 1, dtype=np.int64)
            np.cumsum(lens, out=offsets[1:])
            data = np.frombuffer(b"".join(vocab), dtype=np.uint8)
            is_eos = np.zeros(len(vocab), dtype=np.uint8)
            is_eos[list(self.lm.eos_token_ids)] = 1
            self._vocab_bytes = data, offsets, is_eos
        return self._vocab_bytes

    @property
    def token_ids(self) -> dict[bytes, int]:
        """bytes -> token id (EOS and empty tokens excluded; the first id of a duplicate)."""
        if self._ids is None:
            out: dict[bytes, int] = {}
            eos = self.lm.eos_token_ids
            for i, t in enumerate(self.lm.vocab):
                if t and i not in eos:
                    out.setdefault(t, i)
            self._ids = out
        return self._ids

    @property
    def tokens(self) -> frozenset[bytes]:
        """The distinct non-empty tokens (EOS excluded)."""
        if self._tokens is None:
            self._tokens = frozenset(self.token_ids)
        return self._tokens

    # -- per (constraint, model) -------------------------------------------------------------
    def pruning_mask(self, constraint) -> np.ndarray | None:
        """(V,) float32 0/1 mask of the tokens whose bytes all lie in ``constraint.alphabet()``
        (EOS always kept); ``None`` when the constraint declares no alphabet."""

        def make():
            alphabet = constraint.alphabet()
            if alphabet is None:
                return None
            allowed = bytes(sorted(int(c) for c in alphabet))
            vocab, eos = self.lm.vocab, self.lm.eos_token_ids
            keep = np.fromiter(
                (i in eos or not tok.translate(None, allowed) for i, tok in enumerate(vocab)),
                dtype=bool,
                count=len(vocab),
            )
            return keep.astype(np.float32)

        return self._for(constraint, "pruning_mask", make)

    def completion_bound(self, constraint) -> CompletionBound:
        """The constraint's :meth:`~awrs.constraints.base.Completion.completion_bound` over the
        model's tokens (EOS excluded)."""

        def make():
            eos = self.lm.eos_token_ids
            tokens = [t for i, t in enumerate(self.lm.vocab) if i not in eos]
            return completion(constraint).completion_bound(tokens)

        return self._for(constraint, "completion_bound", make)

    def _for(self, constraint, name: str, make: Callable[[], Any]):
        """``make()``, kept in the constraint's tables for this model (not kept when the
        constraint or the model cannot hold them)."""
        try:
            per_model = vars(constraint).get(ATTRIBUTE)
            if per_model is None:
                per_model = vars(constraint)[ATTRIBUTE] = weakref.WeakKeyDictionary()
            mine = per_model.get(self.lm)
            if mine is None:
                mine = per_model[self.lm] = {}
        except TypeError:  # no __dict__, or a model that is not weakly referenceable
            return make()
        if name not in mine:
            mine[name] = make()
        return mine[name]
