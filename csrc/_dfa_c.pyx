# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled byte-DFA kernel: the extension module ``awrs.kernels._dfa_c``.

Its pure-Python twin ``awrs/kernels/_dfa_py.py`` is the reference and holds the
docstrings; ``awrs/kernels/dfa.py`` selects one of the two.
"""

import numpy as np
cimport numpy as cnp
from libc.stdlib cimport malloc, realloc, free

cnp.import_array()


cdef inline int _check(Py_ssize_t n, long long state) except -1:
    if state < 0 or state >= n:
        raise ValueError(f"expected a DFA state in [0, {n}), but got {state}")
    return 0


cdef inline int _run(const int[:, ::1] table, int state, const unsigned char* p,
                     Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        state = table[state, p[i]]
        if state == 0:
            return 0
    return state


def dfa_run(const int[:, ::1] table, long long state, data):
    _check(table.shape[0], state)
    cdef bytes b = data if type(data) is bytes else bytes(data)
    return _run(table, <int>state, <const unsigned char*>b, len(b))


def dfa_run_batch(const int[:, ::1] table, states, list tokens):
    cdef const int[::1] st = np.ascontiguousarray(states, dtype=np.int32)
    cdef Py_ssize_t i, nb = st.shape[0], n = table.shape[0]
    if nb != len(tokens):
        raise ValueError(f"expected as many tokens as states, but got {len(tokens)} tokens "
                         f"for {nb} states")
    out = np.empty(nb, dtype=np.int32)
    cdef int[::1] res = out
    cdef bytes b
    for i in range(nb):
        _check(n, st[i])
        t = tokens[i]
        b = t if type(t) is bytes else bytes(t)
        res[i] = _run(table, st[i], <const unsigned char*>b, len(b))
    return out


def dfa_token_mask(const int[:, ::1] table, long long state, const int[::1] byte,
                   const int[::1] depth, const int[::1] skip, const int[::1] tok_ptr,
                   const int[::1] tok_ids, Py_ssize_t vocab_size):
    _check(table.shape[0], state)
    out = np.zeros(vocab_size, dtype=bool)
    if state == 0:
        return out
    cdef cnp.npy_bool[::1] mask = out
    cdef Py_ssize_t n = byte.shape[0], i = 1, k, cap = 256
    cdef int d, s
    cdef int* stack = <int*>malloc(cap * sizeof(int))
    cdef int* grown
    if stack == NULL:
        raise MemoryError()
    stack[0] = <int>state
    try:
        with nogil:
            while i < n:
                d = depth[i]
                s = table[stack[d - 1], byte[i]]
                if s == 0:
                    i = skip[i]
                    continue
                if d >= cap:
                    cap *= 2
                    grown = <int*>realloc(stack, cap * sizeof(int))
                    if grown == NULL:
                        with gil:
                            raise MemoryError()
                    stack = grown
                stack[d] = s
                for k in range(tok_ptr[i], tok_ptr[i + 1]):
                    mask[tok_ids[k]] = 1
                i += 1
    finally:
        free(stack)
    return out
