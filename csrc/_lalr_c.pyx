# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled LALR(1) shift/reduce kernel: the extension module ``awrs.kernels._lalr_c``.

Its pure-Python twin ``awrs/kernels/_lalr_py.py`` is the reference and holds the
docstrings; ``awrs/kernels/lalr.py`` selects one of the two.
"""

import numpy as np
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM, PyTuple_GET_SIZE, PyTuple_GET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.long cimport PyLong_AsLong, PyLong_FromLong
from libc.stdlib cimport malloc, free

cdef enum:
    LOCAL = 512


cdef class LALRTables:
    """LALR(1) tables and their loop; see its twin ``awrs.kernels._lalr_py.LALRTables``."""

    cdef readonly object action, goto, rule_len, rule_lhs
    cdef readonly int end_term, end_state
    cdef const int[:, ::1] _act
    cdef const int[:, ::1] _goto
    cdef const int[::1] _len
    cdef const int[::1] _lhs

    def __init__(self, action, goto, rule_len, rule_lhs, int end_term, int end_state):
        self.action = np.ascontiguousarray(action, dtype=np.int32)
        self.goto = np.ascontiguousarray(goto, dtype=np.int32)
        self.rule_len = np.ascontiguousarray(rule_len, dtype=np.int32)
        self.rule_lhs = np.ascontiguousarray(rule_lhs, dtype=np.int32)
        self._act = self.action
        self._goto = self.goto
        self._len = self.rule_len
        self._lhs = self.rule_lhs
        self.end_term = end_term
        self.end_state = end_state

    cdef long _run(self, int *st, long n, int term, bint end) noexcept:
        """Run the loop on st[:n] (capacity n + 1); new size, 0 on error, -1 on accept."""
        cdef int a, r, g
        while True:
            a = self._act[st[n - 1], term]
            if a > 0:
                if end:
                    return 0
                st[n] = a - 1
                return n + 1
            if a == 0:
                return 0
            r = -a - 1
            n -= self._len[r]
            g = self._goto[st[n - 1], self._lhs[r]]
            if g < 0:
                return 0
            st[n] = g
            n += 1
            if end and g == self.end_state:
                return -1

    cdef object _call(self, tuple stack, int term, bint end):
        cdef Py_ssize_t n = PyTuple_GET_SIZE(stack), i
        cdef int local[LOCAL]
        cdef int *st = local
        cdef long m
        cdef object item
        if n + 1 > LOCAL:
            st = <int *> malloc((n + 1) * sizeof(int))
            if st == NULL:
                raise MemoryError()
        try:
            for i in range(n):
                st[i] = <int> PyLong_AsLong(<object> PyTuple_GET_ITEM(stack, i))
            m = self._run(st, n, term, end)
            if end:
                return m == -1
            if m <= 0:
                return None
            out = PyTuple_New(m)
            for i in range(m):
                item = PyLong_FromLong(st[i])
                Py_INCREF(item)
                PyTuple_SET_ITEM(out, i, item)
            return out
        finally:
            if st != local:
                free(st)

    def feed(self, tuple stack, int term):
        return self._call(stack, term, False)

    def feed_end(self, tuple stack):
        return self._call(stack, self.end_term, True)
