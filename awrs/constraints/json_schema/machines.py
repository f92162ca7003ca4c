"""Incremental value machines for scalars, and the nodes that combine them (anyOf, allOf, refs).

A *node* is a compiled schema; ``node.begin(c)`` gives the state of a value whose first
character is ``c`` (not yet consumed), or ``None`` if no value of the schema starts so. A
*state* is an immutable tuple whose first item is its machine; ``machine.feed(state, text, i)``
consumes ``text`` from ``i`` and returns ``(state, j)`` — ``j`` is where it stopped, at the end
of ``text`` or just after the value, in which case the state is :data:`DONE` — or ``None``
when the text leaves the schema. Numbers end at the first character that cannot continue them,
which they leave unconsumed. ``machine.eof(state)`` says whether the value may end at the end
of the input, ``machine.partial_ok(state, pending)`` whether an incomplete UTF-8 character may
follow. JSON syntax is deterministic, so every alive alternative of an ``anyOf`` stops at the
same index.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import cast

from .lexing import (
    NUMBER_CHARS,
    escape_ranges,
    in_ranges,
    number_complete,
    number_prefix_ok,
    scan_string,
)
from .numbers import Bounds, reachable, to_fraction

#: The state of a finished value.
DONE = ("done",)
_WORDS = {"t": "true", "f": "false", "n": "null"}


class Node:
    """A compiled schema: ``begin(c)`` starts a value whose first character is ``c``."""

    __slots__ = ()
    is_false = False
    is_true = False

    def begin(self, c: str):
        raise NotImplementedError


class TypedNode(Node):
    """A value of one of the allowed JSON types, each with its own machine (or ``None``)."""

    __slots__ = ("obj", "arr", "str", "num", "lit", "is_false", "is_true")

    def __init__(self, obj=None, arr=None, str_=None, num=None, lit=None, is_true=False):
        self.obj, self.arr, self.str, self.num, self.lit = obj, arr, str_, num, lit
        self.is_false = obj is arr is str_ is num is lit is None
        self.is_true = is_true

    def begin(self, c: str):
        if c == '"':
            m = self.str
        elif c == "{":
            m = self.obj
        elif c == "[":
            m = self.arr
        elif c in "-0123456789":
            m = self.num
        elif c in "tfn":
            return None if self.lit is None else self.lit.begin(c)
        else:
            return None
        return None if m is None else m.initial


class LazyNode(Node):
    """A node compiled on first use (refs, recursive schemas, large schemas)."""

    __slots__ = ("_build", "_node", "_active")
    _build: Callable[[], Node] | None  # set until the node is built
    _node: Node | None

    def __init__(self, build: Callable[[], Node]):
        self._build, self._node, self._active = build, None, False

    @property
    def node(self) -> Node:
        if self._node is None:
            build, self._build = cast(Callable[[], Node], self._build), None
            self._node = build()
        return self._node

    def _peek(self) -> Node | None:
        """The node, built if needed; ``None`` while it is being built (a schema reaching
        itself)."""
        if self._node is None and self._build is not None:
            return self.node
        return self._node

    @property
    def is_false(self) -> bool:  # type: ignore[override]  # read-only: the built node's flag
        n = self._peek()
        return n is not None and n.is_false

    @property
    def is_true(self) -> bool:  # type: ignore[override]  # read-only: the built node's flag
        n = self._peek()
        return n is not None and n.is_true

    def begin(self, c: str):
        if self._active:  # a schema that refers to itself without consuming input
            return None
        self._active = True
        try:
            return self.node.begin(c)
        finally:
            self._active = False


class AnyNode(Node):
    """At least one alternative (anyOf, the structural part of oneOf, if/then/else)."""

    __slots__ = ("alts",)

    def __init__(self, alts: list[Node]):
        self.alts = tuple(alts)

    def begin(self, c: str):
        states = []
        for a in self.alts:
            s = a.begin(c)
            if s is not None and s not in states:
                states.append(s)
        if not states:
            return None
        return states[0] if len(states) == 1 else (ANY, tuple(states))


class AllNode(Node):
    """Every part (allOf, and the conjunction of a schema's keywords)."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[Node]):
        self.parts = tuple(parts)

    def begin(self, c: str):
        states = []
        for p in self.parts:
            s = p.begin(c)
            if s is None:
                return None
            states.append(s)
        return (ALL, tuple(states))


class PostNode(Node):
    """A node whose completed values are also checked by ``check(value)``."""

    __slots__ = ("inner", "machine")

    def __init__(self, inner: Node, check: Callable[[object], bool]):
        self.inner, self.machine = inner, PostM(check)

    def begin(self, c: str):
        s = self.inner.begin(c)
        return None if s is None else (self.machine, s, "")


class AnyM:
    """Alternatives run in parallel; the state keeps the alive ones."""

    __slots__ = ()

    def feed(self, st, text, i):
        out = []
        j = i
        done = False
        for s in st[1]:
            r = s[0].feed(s, text, i)
            if r is None:
                continue
            s2, j = r
            if s2 is DONE:
                done = True
            elif s2 not in out:
                out.append(s2)
        if done:
            return DONE, j
        if not out:
            return None
        return (out[0] if len(out) == 1 else (self, tuple(out))), j

    def eof(self, st) -> bool:
        return any(s[0].eof(s) for s in st[1])

    def partial_ok(self, st, pending: bytes) -> bool:
        return any(s[0].partial_ok(s, pending) for s in st[1])


class AllM:
    """Parts run in lock step; all must stay alive."""

    __slots__ = ()

    def feed(self, st, text, i):
        out = []
        j = i
        for s in st[1]:
            r = s[0].feed(s, text, i)
            if r is None:
                return None
            s2, j = r
            out.append(s2)
        if out[0] is DONE:
            return DONE, j
        return (self, tuple(out)), j

    def eof(self, st) -> bool:
        return all(s[0].eof(s) for s in st[1])

    def partial_ok(self, st, pending: bytes) -> bool:
        return all(s[0].partial_ok(s, pending) for s in st[1])


ANY, ALL = AnyM(), AllM()


class PostM:
    """Keeps the value's text and checks the completed value."""

    __slots__ = ("check",)

    def __init__(self, check: Callable[[object], bool]):
        self.check = check

    def feed(self, st, text, i):
        inner = st[1]
        r = inner[0].feed(inner, text, i)
        if r is None:
            return None
        s2, j = r
        acc = st[2] + text[i:j]
        if s2 is DONE:
            return (DONE, j) if self.check(json.loads(acc)) else None
        return (self, s2, acc), j

    def eof(self, st) -> bool:
        inner = st[1]
        return inner[0].eof(inner) and self.check(json.loads(st[2]))

    def partial_ok(self, st, pending: bytes) -> bool:
        inner = st[1]
        return inner[0].partial_ok(inner, pending)


class StrM:
    """A string: length bounds (code points), pattern, format, allowed values.

    The state is ``(self, esc, content, dfa_states)``: ``esc`` is ``None`` before the opening
    quote, else the unfinished escape; ``content`` is the decoded text so far when a check
    needs it, the length when only bounds are set, else ``None``; ``dfa_states`` the states of
    the regular matchers (pattern, format) after ``content``. An unfinished escape is alive
    only if some character it can still become passes every check.
    """

    __slots__ = (
        "min_len",
        "max_len",
        "matchers",
        "dfas",
        "fmt",
        "allowed",
        "prefixes",
        "byte_prefixes",
        "keep",
        "initial",
    )

    def __init__(self, min_len=0, max_len=None, matchers=(), fmt=None, allowed=None):
        """``matchers``: :class:`~.patterns.Matcher` objects the string must match (the
        pattern, the format's shape); ``fmt``: the format's completion check."""
        self.min_len, self.max_len = min_len, max_len
        self.dfas = tuple(m for m in matchers if m.regular)
        self.matchers = tuple(m for m in matchers if not m.regular)
        self.fmt = fmt
        self.allowed = None if allowed is None else frozenset(allowed)
        self.prefixes = self.byte_prefixes = None
        if allowed is not None:
            self.prefixes = frozenset(a[:k] for a in allowed for k in range(len(a) + 1))
            self.byte_prefixes = frozenset(
                b[:k] for a in allowed for b in (a.encode("utf-8"),) for k in range(len(b) + 1)
            )
        self.keep = bool(matchers) or fmt is not None or allowed is not None
        counting = min_len > 0 or max_len is not None
        ds = tuple(m.start() for m in self.dfas) if self.dfas else None
        self.initial = (self, None, "" if self.keep else (0 if counting else None), ds)

    @property
    def free(self) -> bool:
        return self.initial[2] is None

    def feed(self, st, text, i):
        esc, content, ds = st[1], st[2], st[3]
        if esc is None:
            i += 1  # the opening quote
            esc = ""
        r = scan_string(text, i, esc)
        if r is None:
            return None
        chunk, j, esc, closed = r
        if content is None:
            return (DONE, j) if closed else ((self, esc, None, None), j)
        if ds is not None and chunk:
            data = chunk.encode("utf-8")
            ds = tuple(m.step(d, data) for m, d in zip(self.dfas, ds, strict=True))
            if 0 in ds:
                return None
        content = content + (chunk if self.keep else len(chunk))
        if closed:
            return (DONE, j) if self._complete(content, ds) else None
        return ((self, esc, content, ds), j) if self._prefix(content, esc, ds) else None

    def _prefix(self, content, esc: str, ds) -> bool:
        n = len(content) if self.keep else content
        if self.max_len is not None and n + (1 if esc else 0) > self.max_len:
            return False
        if not self.keep:
            return True
        if self.prefixes is not None and content not in self.prefixes:
            return False
        if not all(m.prefix_ok(content) for m in self.matchers):
            return False
        return not esc or self._escape_ok(content, esc, ds)

    def _escape_ok(self, content: str, esc: str, ds) -> bool:
        """Whether the unfinished escape can still become a character every check allows."""
        ranges = escape_ranges(esc)
        if self.allowed is not None:
            n = len(content)
            nxt = {a[n] for a in self.allowed if len(a) > n and a.startswith(content)}
            cands = [c for c in nxt if in_ranges(ord(c), ranges)]
            if not cands:
                return False
            if ds is None and not self.matchers:
                return True
            return any(self._char_ok(content, c, ds) for c in cands)
        if ds is not None:
            if len(ds) == 1:
                if not self.dfas[0].state_escape_ok(ds[0], ranges):
                    return False
            elif not any(
                self._char_ok(content, chr(c), ds)
                for a, b in ranges
                for c in range(a, min(b, a + 4096) + 1)
            ):
                return False
        return all(m.escape_ok(content, ranges) for m in self.matchers)

    def _char_ok(self, content: str, c: str, ds) -> bool:
        if ds is not None:
            data = c.encode("utf-8")
            if any(m.step(d, data) == 0 for m, d in zip(self.dfas, ds, strict=True)):
                return False
        return all(m.prefix_ok(content + c) for m in self.matchers)

    def _complete(self, content, ds) -> bool:
        n = len(content) if self.keep else content
        if n < self.min_len or (self.max_len is not None and n > self.max_len):
            return False
        if not self.keep:
            return True
        if self.allowed is not None and content not in self.allowed:
            return False
        if ds is not None and not all(m.accepting(d) for m, d in zip(self.dfas, ds, strict=True)):
            return False
        if not all(m(content) for m in self.matchers):
            return False
        return self.fmt is None or self.fmt.check(content)

    def eof(self, st) -> bool:
        return False

    def partial_ok(self, st, pending: bytes) -> bool:
        esc, content, ds = st[1], st[2], st[3]
        if esc:
            return False
        if content is None:
            return True
        n = len(content) if self.keep else content
        if self.max_len is not None and n + 1 > self.max_len:
            return False
        if (
            self.byte_prefixes is not None
            and content.encode("utf-8") + pending not in self.byte_prefixes
        ):
            return False
        return ds is None or not any(
            m.step(d, pending) == 0 for m, d in zip(self.dfas, ds, strict=True)
        )


class NumM:
    """A number: bounds and integrality (decided on prefixes where possible), allowed values.

    ``strict`` integers (draft 4) have neither fraction nor exponent. Completed numbers are
    compared the way ``jsonschema`` compares them: as Python ``int``/``float``.
    """

    __slots__ = ("bounds", "raw", "integer", "strict", "allowed", "_fracs", "_memo", "initial")

    def __init__(
        self, bounds: Bounds | None = None, raw=None, integer=False, strict=False, allowed=None
    ):
        self.bounds = bounds
        self.raw = raw  # (minimum, exclusive_minimum, maximum, exclusive_maximum) as given
        self.integer, self.strict = integer, strict
        self.allowed = None if allowed is None else tuple(allowed)
        self._fracs = None
        if allowed is not None and len(allowed) <= 64:
            self._fracs = [f for f in map(to_fraction, allowed) if f is not None]
        self._memo: dict[str, bool] = {}
        self.initial = (self, "")

    def feed(self, st, text, i):
        m = NUMBER_CHARS.match(text, i)
        j = i if m is None else m.end()
        s = st[1] + text[i:j] if j > i else st[1]
        if j > i and not self._prefix(s):
            return None
        if j < len(text):
            return (DONE, j) if self._complete(s) else None
        return (self, s), j

    def _prefix(self, s: str) -> bool:
        ok = self._memo.get(s)
        if ok is None:
            ok = self._decide(s)
            if len(self._memo) < 4096:
                self._memo[s] = ok
        return ok

    def _decide(self, s: str) -> bool:
        if not number_prefix_ok(s):
            return False
        if self.strict and ("." in s or "e" in s or "E" in s):
            return False
        if s in ("", "-"):
            return True
        if self.bounds is not None and not reachable(s, self.bounds, self.strict):
            return False
        if self._fracs is not None:
            return any(reachable(s, Bounds(f, False, f, False), self.strict) for f in self._fracs)
        return True

    def _complete(self, s: str) -> bool:
        if not number_complete(s):
            return False
        v = json.loads(s)
        if self.integer and not (isinstance(v, int) or (not self.strict and v.is_integer())):
            return False
        if self.raw is not None:
            lo, lo_x, hi, hi_x = self.raw
            if lo is not None and (v < lo or (lo_x and v == lo)):
                return False
            if hi is not None and (v > hi or (hi_x and v == hi)):
                return False
        return self.allowed is None or any(v == a for a in self.allowed)

    def eof(self, st) -> bool:
        return self._complete(st[1])

    def partial_ok(self, st, pending: bytes) -> bool:
        return False


class LitM:
    """``true``, ``false`` or ``null`` (those allowed)."""

    __slots__ = ("allowed",)

    def __init__(self, allowed):
        self.allowed = frozenset(allowed)

    def begin(self, c: str):
        w = _WORDS[c]
        return (self, w, 0) if w in self.allowed else None

    def feed(self, st, text, i):
        w, pos = st[1], st[2]
        k = min(len(w) - pos, len(text) - i)
        if text[i : i + k] != w[pos : pos + k]:
            return None
        pos += k
        return (DONE, i + k) if pos == len(w) else ((self, w, pos), i + k)

    def eof(self, st) -> bool:
        return False

    def partial_ok(self, st, pending: bytes) -> bool:
        return False
