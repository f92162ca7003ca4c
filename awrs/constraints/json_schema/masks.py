"""Full-vocabulary masks: inside an unconstrained string every plain token is accepted at once."""

from __future__ import annotations

import codecs
import weakref

import numpy as np

from ..trie import VocabTrie
from .containers import IN_VALUE, ArrM, ObjM
from .machines import AllM, AnyM, PostM, StrM

_SPLITS: weakref.WeakKeyDictionary[VocabTrie, tuple] = weakref.WeakKeyDictionary()
_SPECIAL = frozenset(b'"\\') | frozenset(range(0x20))


def in_free_string(sub) -> bool:
    """Whether the innermost value of ``sub`` is a string with no constraint, between
    characters (any run of plain characters keeps the state alive)."""
    while True:
        m = sub[0]
        if isinstance(m, ObjM):
            if sub[1] != IN_VALUE:
                return False
            sub = sub[4]
        elif isinstance(m, ArrM):
            if sub[1] != IN_VALUE:
                return False
            sub = sub[3]
        elif isinstance(m, PostM):
            sub = sub[1]
        elif isinstance(m, AnyM):
            return any(in_free_string(s) for s in sub[1])
        elif isinstance(m, AllM):
            return all(in_free_string(s) for s in sub[1])
        else:
            return isinstance(m, StrM) and sub[2] is None and sub[1] == ""


def _plain(tok: bytes) -> bool:
    if not tok or not _SPECIAL.isdisjoint(tok):
        return False
    try:
        codecs.utf_8_decode(tok, "strict", False)
    except UnicodeDecodeError:
        return False
    return True


def split_vocab(trie: VocabTrie) -> tuple[np.ndarray, VocabTrie, np.ndarray]:
    """``(plain, special_trie, special_ids)``: a (V,) mask of the plain tokens (string
    characters only, valid UTF-8), a trie of the other tokens, and their original ids."""
    hit = _SPLITS.get(trie)
    if hit is None:
        tokens = _tokens(trie)
        plain = np.zeros(trie.vocab_size, dtype=bool)
        special_ids = []
        for tid, tok in tokens.items():
            if _plain(tok):
                plain[tid] = True
            else:
                special_ids.append(tid)
        ids = np.array(special_ids, dtype=np.int64)
        hit = plain, VocabTrie([tokens[i] for i in special_ids]), ids
        _SPLITS[trie] = hit
    return hit


def _tokens(trie: VocabTrie) -> dict[int, bytes]:
    """The bytes of every token in ``trie``, read back from its preorder arrays."""
    out: dict[int, bytes] = {}
    path: list[int] = []
    byte, depth, ptr, ids = (
        trie.byte.tolist(),
        trie.depth.tolist(),
        trie.tok_ptr.tolist(),
        trie.tok_ids.tolist(),
    )
    for i in range(1, len(byte)):
        del path[depth[i] - 1 :]
        path.append(byte[i])
        for tid in ids[ptr[i] : ptr[i + 1]]:
            out[tid] = bytes(path)
    return out
