# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled categorical sampling kernel: the extension module ``awrs.kernels._categorical_c``.

Its pure-Python twin ``awrs/kernels/_categorical_py.py`` is the reference and holds the
docstrings; ``awrs/kernels/categorical.py`` selects one of the two.
"""

import numpy as np
cimport numpy as cnp

cnp.import_array()


cdef long _draw(const float[::1] probs, double u) noexcept nogil:
    cdef Py_ssize_t n = probs.shape[0], i
    cdef double total = 0.0, acc = 0.0, target
    for i in range(n):
        total += probs[i]
    if not total > 0:
        return -1
    target = u * total
    for i in range(n):
        acc += probs[i]
        if acc > target and probs[i] > 0:
            return i
    i = n - 1
    while probs[i] <= 0:
        i -= 1
    return i


def sample_categorical(const float[::1] probs, double u):
    return _draw(probs, u)


def sample_categorical_batch(const float[:, ::1] probs, const double[::1] us):
    cdef Py_ssize_t b, nb = probs.shape[0]
    out = np.empty(nb, dtype=np.int64)
    cdef long long[::1] res = out
    with nogil:
        for b in range(nb):
            res[b] = _draw(probs[b], us[b])
    return out
