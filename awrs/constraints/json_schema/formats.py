"""String formats asserted by default: prefix patterns and completion checks.

Each asserted format has a checker on the complete string and, where the format has a simple
shape, a pattern whose partial matches reject a string the moment it leaves the format. The
completion checker implies the pattern, so prefix rejection never loses a valid string.
Formats known to ``jsonschema``'s own checker but not listed here are asserted on completion
with that checker; any other format name is an annotation.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from datetime import date
from functools import lru_cache

import jsonschema
import regex

from .patterns import matcher

_DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME = (
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = rf"{_LABEL}(?:\.{_LABEL})*"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_IPV6 = r"[0-9A-Fa-f:.]{2,45}"
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_EMAIL = (
    rf"(?:{_ATEXT}+(?:\.{_ATEXT}+)*|\"(?:[^\"\\]|\\.)*\")"
    rf"@(?:{_HOSTNAME}|\[{_IPV4}\]|\[IPv6:{_IPV6}\])"
)
_DUR_TIME = r"T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)"
_DUR_DATE = r"(?:[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?|[0-9]+M(?:[0-9]+D)?|[0-9]+D)"
_DURATION = rf"P(?:[0-9]+W|{_DUR_DATE}(?:{_DUR_TIME})?|{_DUR_TIME})"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_URI_CHAR = r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})"
_URI = rf"[A-Za-z][A-Za-z0-9+.\-]*:{_URI_CHAR}*"
_URI_REF = rf"{_URI_CHAR}*"

_TIME_PARTS = regex.compile(
    r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)


def _check_date(s: str) -> bool:
    try:
        date.fromisoformat(s)
    except ValueError:
        return False
    return True


def _check_time(s: str) -> bool:
    m = _TIME_PARTS.fullmatch(s)
    if m is None:
        return False
    h, mi, sec = int(m[1]), int(m[2]), int(m[3])
    if sec == 60:  # a leap second is 23:59:60 in UTC
        off = 0 if m[4] is None else (int(m[5]) * 60 + int(m[6])) * (1 if m[4] == "+" else -1)
        return (h * 60 + mi - off) % 1440 == 23 * 60 + 59
    return True


def _check_date_time(s: str) -> bool:
    return _check_date(s[:10]) and _check_time(s[11:])


def _check_hostname(s: str) -> bool:
    if len(s) > 253:
        return False
    for label in s.split("."):
        if label[2:4] == "--" and not label.lower().startswith("xn--"):
            return False
        if label.lower().startswith("xn--") and not _idna_ok(label):
            return False
    return True


def _idna_ok(label: str) -> bool:
    try:
        import idna

        idna.decode(label)
    except ImportError:
        try:
            label.encode("ascii").decode("idna")
        except UnicodeError:
            return False
    except (idna.IDNAError, UnicodeError, ValueError):
        return False
    return True


def _check_ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
    except ValueError:
        return False
    return True


def _check_ipv6(s: str) -> bool:
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return "%" not in s


def _check_uuid(s: str) -> bool:
    try:
        uuid.UUID(s)
    except ValueError:
        return False
    return True


def _check_email(s: str) -> bool:
    domain = s.rpartition("@")[2]
    if domain.startswith("[IPv6:"):
        return _check_ipv6(domain[6:-1])
    return domain.startswith("[") or _check_hostname(domain)


_IP_LITERAL = regex.compile(r"\[([^\]]*)\]")


def _uri_check(name: str) -> Callable[[str], bool]:
    base = _jsonschema_check(name)

    def check(s: str) -> bool:
        m = _IP_LITERAL.search(s)
        if m is not None and m[1][:1] not in "vV" and not _check_ipv6(m[1]):
            return False
        return base(s)

    return check


def _jsonschema_check(name: str) -> Callable[[str], bool]:
    checker = jsonschema.FormatChecker()
    if name not in checker.checkers:
        return lambda s: True
    return lambda s: checker.conforms(s, name)


class Format:
    """An asserted format: a prefix pattern (or ``None``) and a completion check."""

    __slots__ = ("name", "matcher", "_check")

    def __init__(self, name: str, pattern: str | None, check: Callable[[str], bool]):
        self.name = name
        self.matcher = None if pattern is None else matcher(pattern, anchored=True)
        self._check = check

    def prefix_ok(self, s: str) -> bool:
        """Whether ``s`` can be extended to a string of this format."""
        return self.matcher is None or self.matcher.prefix_ok(s)

    def check(self, s: str) -> bool:
        """Whether ``s`` is a string of this format."""
        if self.matcher is not None and not self.matcher(s):
            return False
        try:
            return bool(self._check(s))
        except Exception:  # a third-party checker's parse error means "not this format"
            return False


_OWN = {
    "date": (_DATE, _check_date),
    "time": (_TIME, _check_time),
    "date-time": (rf"{_DATE}[Tt]{_TIME}", _check_date_time),
    "duration": (_DURATION, lambda s: True),
    "email": (_EMAIL, _check_email),
    "hostname": (_HOSTNAME, _check_hostname),
    "ipv4": (_IPV4, _check_ipv4),
    "ipv6": (_IPV6, _check_ipv6),
    "uuid": (_UUID, _check_uuid),
    "uri": (_URI, _uri_check("uri")),
    "uri-reference": (_URI_REF, _uri_check("uri-reference")),
}
#: The formats with their own prefix pattern and checker.
ASSERTED = frozenset(_OWN)
_CACHE: dict[str, Format | None] = {}


def get_format(name: str) -> Format | None:
    """The asserted format called ``name``, or ``None`` if it is an annotation."""
    if name not in _CACHE:
        if name in _OWN:
            pattern, check = _OWN[name]
            _CACHE[name] = Format(name, pattern, check)
        elif name in jsonschema.FormatChecker().checkers:
            _CACHE[name] = Format(name, None, _jsonschema_check(name))
        else:
            _CACHE[name] = None
    return _CACHE[name]


@lru_cache(maxsize=1)
def format_checker() -> jsonschema.FormatChecker:
    """A ``jsonschema`` format checker that asserts exactly what :func:`get_format` does."""
    checker = jsonschema.FormatChecker()
    for name in list(checker.checkers) + sorted(ASSERTED):
        fmt = get_format(name)
        checker.checkers[name] = ((lambda s, f=fmt: not isinstance(s, str) or f.check(s)), ())
    return checker
