# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled resampling kernels: the extension module ``awrs.kernels._resample_c``.

Its pure-Python twin ``awrs/kernels/_resample_py.py`` is the reference and holds the
docstrings; ``awrs/kernels/resample.py`` selects one of the two.
"""

import numpy as np
cimport numpy as cnp

cnp.import_array()


cdef Py_ssize_t _first_above(const double[::1] cum, double point) noexcept nogil:
    """Smallest i with cum[i] > point (binary search), len(cum) if none."""
    cdef Py_ssize_t lo = 0, hi = cum.shape[0], mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] > point:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef object _prepare(weights, double[::1] cum, Py_ssize_t* last):
    cdef const double[::1] w = np.ascontiguousarray(weights, dtype=np.float64)
    cdef Py_ssize_t n = w.shape[0], i
    cdef double acc = 0.0
    last[0] = -1
    for i in range(n):
        acc += w[i]
        cum[i] = acc
        if w[i] > 0:
            last[0] = i
    if n == 0 or not acc > 0:
        raise ValueError(f"expected non-negative weights with a positive total, "
                         f"got {np.asarray(w)[:8]}")
    return acc


cdef object _pick(weights, points_of):
    """points_of(total) -> float64 points; returns the ancestors."""
    n = len(weights)
    cum_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] cum = cum_arr
    cdef Py_ssize_t last, i, j, m
    total = _prepare(weights, cum, &last)
    cdef const double[::1] pts = points_of(total)
    m = pts.shape[0]
    out = np.empty(m, dtype=np.int64)
    cdef long long[::1] res = out
    for i in range(m):
        j = _first_above(cum, pts[i])
        res[i] = last if j >= n else j
    return out


def multinomial(weights, us):
    cdef const double[::1] u = np.ascontiguousarray(us, dtype=np.float64)

    def points(double total):
        cdef Py_ssize_t i, m = u.shape[0]
        out = np.empty(m, dtype=np.float64)
        cdef double[::1] o = out
        for i in range(m):
            o[i] = u[i] * total
        return out
    return _pick(weights, points)


def stratified(weights, us):
    cdef const double[::1] u = np.ascontiguousarray(us, dtype=np.float64)

    def points(double total):
        cdef Py_ssize_t i, m = u.shape[0]
        out = np.empty(m, dtype=np.float64)
        cdef double[::1] o = out
        for i in range(m):
            o[i] = (<double>i + u[i]) / m * total
        return out
    return _pick(weights, points)


def systematic(weights, double u, Py_ssize_t n):
    def points(double total):
        cdef Py_ssize_t i
        out = np.empty(n, dtype=np.float64)
        cdef double[::1] o = out
        for i in range(n):
            o[i] = (<double>i + u) / n * total
        return out
    return _pick(weights, points)
