"""Whether a JSON number prefix can still end inside numeric bounds (exact rational arithmetic).

A prefix such as ``12`` can still become ``12``, ``125``, ``1.25e-3`` or ``12e7``: with an
exponent, every value whose significant digits start with ``12`` is reachable. The decision
below is exact on that set; prefixes with 16 or more significant digits are let through, since
the complete document is compared in floating point (as ``jsonschema`` does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

_MAX_DIGITS = 15


def to_fraction(x: int | float) -> Fraction | None:
    """The exact decimal value of a schema bound (``None`` for infinities and NaN)."""
    if isinstance(x, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(x, int):
        return Fraction(x)
    if math.isinf(x) or math.isnan(x):
        return None
    return Fraction(Decimal(repr(x)))


@dataclass(frozen=True, slots=True)
class Bounds:
    """Numeric bounds on a value: ``lo``/``hi`` (``None``: unbounded), exclusivity, integrality."""

    lo: Fraction | None = None
    lo_excl: bool = False
    hi: Fraction | None = None
    hi_excl: bool = False
    integer: bool = False

    def admits(self, x: Fraction) -> bool:
        """Whether the exact value ``x`` satisfies the bounds."""
        if self.lo is not None and (x < self.lo or (self.lo_excl and x == self.lo)):
            return False
        if self.hi is not None and (x > self.hi or (self.hi_excl and x == self.hi)):
            return False
        return not self.integer or x.denominator == 1

    def magnitudes(self, negative: bool) -> tuple[Fraction, bool, Fraction | None, bool] | None:
        """The range of ``|x|`` for ``x`` of the given sign, as ``(L, L_excl, H, H_excl)``."""
        lo, lx, hi, hx = self.lo, self.lo_excl, self.hi, self.hi_excl
        if negative:
            lo, lx, hi, hx = (None if hi is None else -hi), hx, (None if lo is None else -lo), lx
        if hi is not None and hi <= 0:
            return None
        if lo is None or lo < 0:
            lo, lx = Fraction(0), True
        elif lo == 0:
            lx = True
        return lo, lx, hi, hx


def reachable(prefix: str, b: Bounds, plain: bool = False) -> bool:
    """Whether some RFC 8259 number starting with ``prefix`` satisfies ``b``.

    ``prefix`` must be a syntactically viable number prefix. With ``plain``, completions are
    restricted to integers written without fraction or exponent (draft 4 integers).
    """
    neg = prefix.startswith("-")
    body = prefix[1:] if neg else prefix
    mant, e, exp = body.replace("E", "e").partition("e")
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    if len(digits) > _MAX_DIGITS:
        return True
    mag = b.magnitudes(neg)
    if not e:
        if not digits:
            if plain and ip == "0":
                return b.admits(Fraction(0))
            return b.admits(Fraction(0)) or (
                mag is not None and _any_positive(mag, b.integer or plain)
            )
        return mag is not None and _leading_digits(
            int(digits), len(digits), mag, b.integer or plain, 0 if plain else None
        )
    m = Fraction(Decimal(mant))
    if m == 0:
        return b.admits(Fraction(0))
    return mag is not None and _exponent(m, exp, mag, b.integer)


def _any_positive(mag, integer: bool) -> bool:
    lo, lx, hi, hx = mag
    if hi is None:
        return True
    if not integer:
        return hi > lo or (hi == lo and not lx and not hx)
    n_lo = max(1, math.floor(lo) + 1 if lx else math.ceil(lo))
    n_hi = math.ceil(hi) - 1 if hx else math.floor(hi)
    return n_lo <= n_hi


def _interval_ok(a: Fraction, c: Fraction, mag, integer: bool) -> bool:
    """Whether ``[a, c)`` meets the magnitude range (and holds an integer if required)."""
    lo, lx, hi, hx = mag
    if hi is not None and (a > hi or (hx and a == hi)):
        return False
    if c < lo or c == lo:
        return False
    left, left_x = (a, False) if a > lo else (lo, lx)
    right, right_x = (c, True) if hi is None or c <= hi else (hi, hx)
    if not integer:
        return right > left or (right == left and not left_x and not right_x)
    n_lo = math.floor(left) + 1 if left_x else math.ceil(left)
    n_hi = math.ceil(right) - 1 if right_x else math.floor(right)
    return n_lo <= n_hi


def _log10_floor(f: Fraction) -> int:
    return len(str(f.numerator)) - len(str(f.denominator))


def _scaled(x: int, n: int) -> Fraction:
    return Fraction(x * 10**n) if n >= 0 else Fraction(x, 10**-n)


def _leading_digits(s: int, k: int, mag, integer: bool, n_floor: int | None = None) -> bool:
    """Some ``|x|`` in ``[s*10^n, (s+1)*10^n)`` for an integer ``n >= n_floor`` is in range."""
    lo, _, hi, _ = mag
    if hi is None:
        return True
    if lo == 0:
        if not integer:
            return True
        n_min = -k
    else:
        n_min = _log10_floor(lo / (s + 1)) - 2
    n_max = _log10_floor(hi / s) + 2
    if n_floor is not None:
        n_min = max(n_min, n_floor)
    for n in range(n_min, n_max + 1):
        if _interval_ok(_scaled(s, n), _scaled(s + 1, n), mag, integer):
            return True
    return False


def _exponent(m: Fraction, exp: str, mag, integer: bool) -> bool:
    """Some exponent extending ``exp`` puts ``|m| * 10^E`` in range (``m`` nonzero)."""
    m = abs(m)
    lo, lx, hi, hx = mag
    e_lo = None if lo == 0 else _first_exponent(m, lo, lx)  # None: unbounded below
    e_hi = None if hi is None else _last_exponent(m, hi, hx)  # None: unbounded above
    if integer:
        k = _integral_exponent(m)
        e_lo = k if e_lo is None else max(e_lo, k)
    if e_lo is not None and e_hi is not None and e_lo > e_hi:
        return False
    if not exp:
        return True
    if exp[0] == "-":
        a_lo = 0 if e_hi is None else max(-e_hi, 0)
        a_hi = None if e_lo is None else -e_lo
    else:
        a_lo = 0 if e_lo is None else max(e_lo, 0)
        a_hi = e_hi
    if a_hi is not None and a_hi < a_lo:
        return False
    v = int(exp.lstrip("+-").lstrip("0") or "0")
    if v == 0 or a_hi is None:
        return True
    k = 0
    while v * 10**k <= a_hi:
        if max(v * 10**k, a_lo) <= min((v + 1) * 10**k - 1, a_hi):
            return True
        k += 1
    return False


def _integral_exponent(m: Fraction) -> int:
    """The smallest ``E`` making ``m * 10^E`` an integer."""
    p, q = m.numerator, m.denominator
    if q == 1:
        k = 0
        while p % 10 == 0:
            p //= 10
            k -= 1
        return k
    a = b = 0
    while q % 2 == 0:
        q //= 2
        a += 1
    while q % 5 == 0:
        q //= 5
        b += 1
    return max(a, b)


def _first_exponent(m: Fraction, lo: Fraction, strict: bool) -> int:
    """The smallest ``E`` with ``m * 10^E >= lo`` (``>`` when strict)."""
    e = _log10_floor(lo / m) - 2
    while not _ge(m * _scaled(1, e), lo, strict):
        e += 1
    return e


def _last_exponent(m: Fraction, hi: Fraction, strict: bool) -> int:
    """The largest ``E`` with ``m * 10^E <= hi`` (``<`` when strict)."""
    e = _log10_floor(hi / m) + 2
    while not _ge(hi, m * _scaled(1, e), strict):
        e -= 1
    return e


def _ge(a: Fraction, b: Fraction, strict: bool) -> bool:
    return a > b if strict else a >= b
