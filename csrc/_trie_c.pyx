# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled vocabulary-trie walk kernel: the extension module ``awrs.kernels._trie_c``.

Its pure-Python twin ``awrs/kernels/_trie_py.py`` is the reference and holds the
docstrings; ``awrs/kernels/trie.py`` selects one of the two.
"""

import numpy as np
cimport numpy as cnp

cnp.import_array()

_BYTES = [bytes((b,)) for b in range(256)]


def trie_walk(const int[::1] byte, const int[::1] depth, const int[::1] skip,
              const int[::1] tok_ptr, const int[::1] tok_ids, Py_ssize_t vocab_size,
              object state, object advance):
    out = np.zeros(vocab_size, dtype=np.bool_)
    cdef cnp.npy_bool[::1] mask = out
    cdef list stack = [state] + [None] * 64
    cdef list one = _BYTES
    cdef Py_ssize_t i = 1, n = byte.shape[0], d, j
    cdef object nxt
    while i < n:
        d = depth[i]
        if d >= len(stack):
            stack.extend([None] * d)
        nxt = advance(stack[d - 1], one[byte[i]])
        if nxt is None:
            i = skip[i]
            continue
        stack[d] = nxt
        for j in range(tok_ptr[i], tok_ptr[i + 1]):
            mask[tok_ids[j]] = 1
        i += 1
    return out
