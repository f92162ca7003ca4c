# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled AWRS rejection kernel: the extension module ``awrs.kernels._awrs_c``.

Its pure-Python twin ``awrs/kernels/_awrs_py.py`` is the reference and holds the
docstrings; ``awrs/kernels/awrs.py`` selects one of the two.
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport floor, log, log1p, INFINITY
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy

cnp.import_array()

FIRST, TWO_PASS, RECURSIVE, GEOMETRIC, AUTO = 0, 1, 2, 3, 4

cdef enum:
    C_FIRST = 0
    C_TWO_PASS = 1
    C_RECURSIVE = 2
    C_GEOMETRIC = 3
    C_AUTO = 4


cdef class SplitMix64:
    """The splitmix64 generator; see its twin ``awrs.kernels._awrs_py.SplitMix64``."""

    cdef public uint64_t state

    def __init__(self, seed):
        self.state = <uint64_t>(int(seed) & 0xFFFFFFFFFFFFFFFF)

    cdef inline uint64_t _next(self) noexcept:
        cdef uint64_t z
        self.state += <uint64_t>0x9E3779B97F4A7C15
        z = self.state
        z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EB
        return z ^ (z >> 31)

    cdef inline double _uniform(self) noexcept:
        return <double>(self._next() >> 11) * (1.0 / 9007199254740992.0)

    def next_u64(self):
        return self._next()

    def random(self):
        return self._uniform()

    def randoms(self, Py_ssize_t n):
        out = np.empty(n, dtype=np.float64)
        cdef double[::1] v = out
        cdef Py_ssize_t i
        for i in range(n):
            v[i] = self._uniform()
        return out


cdef struct Urn:
    const float* p
    Py_ssize_t bs
    Py_ssize_t nb
    double* bm
    unsigned char* excl   # allocated on the first exclusion


cdef int urn_init(Urn* u, const float[::1] probs, const double[::1] blocks,
                  Py_ssize_t block_size) except -1:
    u.p = &probs[0]
    u.bs = block_size
    u.nb = blocks.shape[0]
    if u.nb * block_size > probs.shape[0]:
        raise ValueError(f"expected probs of {u.nb * block_size} entries (padded), "
                         f"got {probs.shape[0]}")
    u.bm = <double*>malloc(u.nb * sizeof(double))
    if u.bm == NULL:
        raise MemoryError()
    memcpy(u.bm, &blocks[0], u.nb * sizeof(double))
    u.excl = NULL
    return 0


cdef void urn_free(Urn* u) noexcept:
    free(u.bm)
    free(u.excl)
    u.bm = NULL
    u.excl = NULL


cdef inline double urn_total(Urn* u) noexcept nogil:
    cdef double acc = 0.0
    cdef Py_ssize_t b
    for b in range(u.nb):
        acc += u.bm[b]
    return acc


cdef long urn_draw(Urn* u, double r) noexcept nogil:
    cdef double total = urn_total(u), t, acc, prev
    cdef Py_ssize_t b, i, lo, last
    if not total > 0:
        return -1
    t = r * total
    acc = 0.0
    prev = 0.0
    b = -1
    for i in range(u.nb):
        prev = acc
        acc += u.bm[i]
        if acc > t:
            b = i
            break
    if b < 0:  # r * total rounded up to total
        b = u.nb - 1
        while not u.bm[b] > 0:
            b -= 1
        # cumulative mass before block b, left to right
        prev = 0.0
        for i in range(b):
            prev += u.bm[i]
    t -= prev
    lo = b * u.bs
    acc = 0.0
    last = -1
    for i in range(lo, lo + u.bs):
        if u.excl != NULL and u.excl[i]:
            acc += 0.0
            continue
        acc += <double>u.p[i]
        if u.p[i] > 0:
            last = i
        if acc > t:
            return i
    return last


cdef int urn_exclude(Urn* u, Py_ssize_t tok) except -1:
    cdef Py_ssize_t b, lo, i
    cdef double acc = 0.0
    if u.excl == NULL:
        u.excl = <unsigned char*>calloc(u.nb * u.bs, 1)
        if u.excl == NULL:
            raise MemoryError()
    u.excl[tok] = 1
    b = tok // u.bs
    lo = b * u.bs
    for i in range(lo, lo + u.bs):
        if u.excl[i]:
            acc += 0.0
        else:
            acc += <double>u.p[i]
    u.bm[b] = acc
    return 0


cdef bint urn_peaked(Urn* u, double total) noexcept nogil:
    cdef Py_ssize_t b, i, lo
    cdef float top
    for b in range(u.nb):
        if 3.0 * u.bm[b] >= 2.0 * total:
            lo = b * u.bs
            top = u.p[lo]
            for i in range(lo + 1, lo + u.bs):
                if u.p[i] > top:
                    top = u.p[i]
            return 3.0 * <double>top >= 2.0 * total
    return False


def prepare(float[:, ::1] probs, keep, Py_ssize_t block_size):
    cdef Py_ssize_t b, blk, i, j, nrows = probs.shape[0], width = probs.shape[1]
    cdef Py_ssize_t nb = width // block_size
    cdef const float[::1] k
    cdef bint has_keep = keep is not None
    cdef double acc[8]
    cdef double s
    cdef float* row
    if has_keep:
        k = keep
        if k.shape[0] < width:
            raise ValueError(f"expected keep of {width} entries, got {k.shape[0]}")
    out = np.empty((nrows, nb), dtype=np.float64)
    cdef double[:, ::1] o = out
    with nogil:
        for b in range(nrows):
            row = &probs[b, 0]
            if has_keep:
                for i in range(width):
                    row[i] = row[i] * k[i]
            for blk in range(nb):
                if block_size % 8 == 0:
                    for j in range(8):
                        acc[j] = 0.0
                    for i in range(blk * block_size, (blk + 1) * block_size, 8):
                        for j in range(8):
                            acc[j] += <double>row[i + j]
                    o[b, blk] = (((acc[0] + acc[1]) + (acc[2] + acc[3]))
                                 + ((acc[4] + acc[5]) + (acc[6] + acc[7])))
                else:
                    s = 0.0
                    for i in range(blk * block_size, (blk + 1) * block_size):
                        s += <double>row[i]
                    o[b, blk] = s
    return out


def sample_token(const float[::1] probs, const double[::1] blocks, Py_ssize_t block_size,
                 SplitMix64 rng):
    cdef Urn u
    cdef long tok
    urn_init(&u, probs, blocks, block_size)
    tok = urn_draw(&u, rng._uniform())
    urn_free(&u)
    return tok


cdef inline double _phantoms(SplitMix64 rng, double kept, double total) noexcept:
    cdef double r = 1.0 - rng._uniform()
    return floor(log(r) / log1p(-kept / total))


cdef class DfaCheck:
    """The in-kernel DFA check; see its twin ``awrs.kernels._awrs_py.DfaCheck``."""

    cdef const int[:, ::1] table
    cdef const unsigned char[::1] accept
    cdef public int state
    cdef const unsigned char[::1] data
    cdef const int64_t[::1] offsets
    cdef const unsigned char[::1] is_eos
    cdef int[::1] memo
    cdef const int[::1] min_tokens
    cdef bint has_min
    cdef public long remaining
    cdef public long evaluations
    cdef Py_ssize_t V

    def __init__(self, table, accept, state, data, offsets, is_eos, memo, min_tokens=None,
                 remaining=0):
        if not 0 < int(state) < table.shape[0]:
            raise ValueError(f"expected a live DFA state in [1, {table.shape[0]}), "
                             f"but got {state}")
        if len(memo) != len(offsets) - 1 or len(is_eos) != len(memo):
            raise ValueError(f"expected memo and is_eos of {len(offsets) - 1} entries, "
                             f"got {len(memo)} and {len(is_eos)}")
        self.table = table
        self.accept = accept
        self.state = int(state)
        self.data = data
        self.offsets = offsets
        self.is_eos = is_eos
        self.memo = memo
        self.V = len(memo)
        self.has_min = min_tokens is not None
        if self.has_min:
            self.min_tokens = min_tokens
        self.remaining = int(remaining)
        self.evaluations = 0

    cdef inline int _eval(self, Py_ssize_t tok) noexcept nogil:
        cdef int s = self.state
        cdef int64_t i
        if self.is_eos[tok]:
            return 1 if self.accept[s] else 0
        for i in range(self.offsets[tok], self.offsets[tok + 1]):
            s = self.table[s, self.data[i]]
            if s == 0:
                break
        return s

    cdef inline int c_check(self, Py_ssize_t tok) noexcept nogil:
        cdef int r = self.memo[tok]
        if r < 0:
            r = self._eval(tok)
            self.memo[tok] = r
            self.evaluations += 1
        if r == 0:
            return 0
        if self.is_eos[tok] or not self.has_min:
            return 1
        return 1 if self.min_tokens[r] <= self.remaining else 0

    def __call__(self, Py_ssize_t tok):
        if not 0 <= tok < self.V:
            raise IndexError(f"token {tok} out of range [0, {self.V})")
        return bool(self.c_check(tok))

    def mask(self):
        out = np.empty(self.V, dtype=np.uint8)
        cdef unsigned char[::1] o = out
        cdef Py_ssize_t t
        with nogil:
            for t in range(self.V):
                o[t] = <unsigned char>self.c_check(t)
        return out


cdef class _Checks:
    """The step's checks: the constraint's ``check`` until the fallback, then mask lookups."""
    cdef object check, get_mask, mask_obj
    cdef DfaCheck dfa
    cdef long after
    cdef public long n
    cdef const unsigned char* mask
    cdef Py_ssize_t mask_len

    def __cinit__(self, check, long after, get_mask):
        self.check = check
        self.dfa = check if isinstance(check, DfaCheck) else None
        self.after = after
        self.get_mask = get_mask
        self.mask = NULL
        self.mask_len = 0
        self.n = 0

    cdef int due(self) except -1:
        cdef const unsigned char[::1] mv
        if self.mask == NULL:
            if self.after < 0 or self.n < self.after:
                return 0
            src = self.get_mask if self.get_mask is not None else self.check.mask
            arr = np.ascontiguousarray(np.asarray(src()).ravel() != 0).view(np.uint8)
            self.mask_obj = arr
            self.mask_len = arr.shape[0]
            if self.mask_len == 0:
                self.mask_obj = np.zeros(1, dtype=np.uint8)
            mv = self.mask_obj
            self.mask = &mv[0]
        return 1

    cdef inline int call(self, long tok) except -1:
        if self.mask != NULL:
            return 1 if (tok < self.mask_len and self.mask[tok]) else 0
        self.n += 1
        if self.dfa is not None:
            if tok >= self.dfa.V:
                raise IndexError(f"token {tok} out of the DFA check's range")
            return self.dfa.c_check(tok)
        return 1 if self.check(tok) else 0


cdef int masked_urn(Urn* src, Urn* m, _Checks ck) except -1:
    """The urn of ``probs * mask`` over every token (exclusions of ``src`` play no part)."""
    cdef Py_ssize_t b, i, n = src.nb * src.bs
    cdef double acc
    m.p = src.p
    m.bs = src.bs
    m.nb = src.nb
    m.bm = <double*>malloc(src.nb * sizeof(double))
    m.excl = <unsigned char*>malloc(n)
    if m.bm == NULL or m.excl == NULL:
        urn_free(m)
        raise MemoryError()
    for i in range(n):
        m.excl[i] = 0 if (i < ck.mask_len and ck.mask[i]) else 1
    for b in range(src.nb):
        acc = 0.0
        for i in range(b * src.bs, (b + 1) * src.bs):
            if m.excl[i]:
                acc += 0.0
            else:
                acc += <double>src.p[i]
        m.bm[b] = acc
    return 0


cdef inline double _failures(SplitMix64 rng, double z, double total) noexcept:
    return 0.0 if z >= total else _phantoms(rng, z, total)


def awrs_step(const float[::1] probs, const double[::1] blocks, Py_ssize_t block_size,
              SplitMix64 rng, check, int estimator, long max_rejects, long fallback_after=-1,
              get_mask=None):
    cdef Urn u
    cdef _Checks ck = _Checks(check, fallback_after, get_mask)
    urn_init(&u, probs, blocks, block_size)
    try:
        return _step(&u, rng, ck, estimator, max_rejects)
    finally:
        urn_free(&u)


cdef tuple _exact(Urn* u, SplitMix64 rng, _Checks ck, int estimator):
    cdef Urn m
    cdef double z
    cdef long x
    masked_urn(u, &m, ck)
    try:
        z = urn_total(&m)
        if not z > 0:
            return (-1, -INFINITY, ck.n)
        x = urn_draw(&m, rng._uniform())
        return (x, 0.0 if estimator == C_FIRST else log(z), ck.n)
    finally:
        urn_free(&m)


cdef tuple _step(Urn* u, SplitMix64 rng, _Checks ck, int estimator, long max_rejects):
    cdef double total = urn_total(u), mass = 0.0, rest, px, w
    cdef long x, y, n_rej = 0, n2 = 0
    if estimator == C_AUTO:
        estimator = C_GEOMETRIC if urn_peaked(u, total) else C_RECURSIVE
    if estimator == C_GEOMETRIC:
        return _geometric(u, total, rng, ck, max_rejects)
    while True:
        if ck.due() and estimator != C_TWO_PASS:
            return _exact(u, rng, ck, estimator)
        mass = urn_total(u)
        x = urn_draw(u, rng._uniform())
        if x < 0:
            return (-1, -INFINITY, ck.n)
        if ck.call(x):
            break
        urn_exclude(u, x)
        n_rej += 1
        if max_rejects and n_rej >= max_rejects:
            return (-1, -INFINITY, ck.n)
    px = <double>u.p[x]
    if estimator == C_FIRST:
        return (x, 0.0, ck.n)
    if estimator == C_RECURSIVE:
        if max_rejects and n_rej == max_rejects - 1:
            return (x, log(mass), ck.n)
        urn_exclude(u, x)
        rest = urn_total(u)
        y = urn_draw(u, rng._uniform())
        w = px
        if y >= 0 and ck.call(y):
            w = px + rest
        return (x, log(w), ck.n)
    if estimator != C_TWO_PASS:
        raise ValueError(f"unknown estimator code {estimator}")
    while True:
        ck.due()
        y = urn_draw(u, rng._uniform())
        if y < 0 or y == x:
            break
        if ck.call(y):
            break
        urn_exclude(u, y)
        n2 += 1
        if max_rejects and n_rej + n2 >= max_rejects:
            return (x, log(mass / max_rejects), ck.n)
    return (x, log(mass / <double>(n_rej + n2 + 1)), ck.n)


cdef tuple _geometric(Urn* u, double total, SplitMix64 rng, _Checks ck, long max_rejects):
    cdef long x = -1, y
    cdef double n_rej = 0.0, kept, unseen, px
    while x < 0:
        if ck.due():
            return _geometric_exact(u, total, rng, ck, max_rejects, n_rej)
        kept = urn_total(u)
        if not kept > 0:
            return (-1, -INFINITY, ck.n)
        if kept < total:
            n_rej += _phantoms(rng, kept, total)
            if max_rejects and n_rej >= max_rejects:
                return (-1, -INFINITY, ck.n)
        y = urn_draw(u, rng._uniform())
        if y < 0:
            return (-1, -INFINITY, ck.n)
        if ck.call(y):
            x = y
            break
        urn_exclude(u, y)
        n_rej += 1
        if max_rejects and n_rej >= max_rejects:
            return (-1, -INFINITY, ck.n)
    px = <double>u.p[x]
    urn_exclude(u, x)
    while True:
        if ck.due():
            return _geometric_rest(u, total, rng, ck, max_rejects, n_rej, x, -1.0)
        unseen = urn_total(u)
        kept = unseen + px
        if kept < total:
            n_rej += _phantoms(rng, kept, total)
            if max_rejects and n_rej >= max_rejects:
                return (x, log(total / max_rejects), ck.n)
        if rng._uniform() * kept < px:
            break
        y = urn_draw(u, rng._uniform())
        if y < 0:
            break
        if ck.call(y):
            break
        urn_exclude(u, y)
        n_rej += 1
        if max_rejects and n_rej >= max_rejects:
            return (x, log(total / max_rejects), ck.n)
    return (x, log(total / (n_rej + 1.0)), ck.n)


cdef tuple _geometric_exact(Urn* u, double total, SplitMix64 rng, _Checks ck, long max_rejects,
                            double n_rej):
    cdef Urn m
    cdef double z
    cdef long x
    masked_urn(u, &m, ck)
    try:
        z = urn_total(&m)
        if not z > 0:
            return (-1, -INFINITY, ck.n)
        n_rej += _failures(rng, z, total)
        if max_rejects and n_rej >= max_rejects:
            return (-1, -INFINITY, ck.n)
        x = urn_draw(&m, rng._uniform())
        return _geometric_rest(&m, total, rng, ck, max_rejects, n_rej, x, z)
    finally:
        urn_free(&m)


cdef tuple _geometric_rest(Urn* u, double total, SplitMix64 rng, _Checks ck, long max_rejects,
                           double n_rej, long x, double z):
    cdef Urn m
    if z < 0:
        masked_urn(u, &m, ck)
        z = urn_total(&m)
        urn_free(&m)
    n_rej += _failures(rng, z, total)
    if max_rejects and n_rej >= max_rejects:
        return (x, log(total / max_rejects), ck.n)
    return (x, log(total / (n_rej + 1.0)), ck.n)
