"""Incremental machines for objects and arrays (keys checked as typed, escapes included)."""

from __future__ import annotations

from .lexing import WHITESPACE, escape_ranges, in_ranges, scan_string
from .machines import DONE, AllNode, Node

# Phases of a container state.
START, OPEN, IN_KEY, AFTER_KEY, BEFORE_VALUE, IN_VALUE, AFTER_VALUE, AFTER_COMMA = range(8)
_BIG = 1 << 60


class ObjM:
    """An object: properties, patternProperties, additionalProperties, propertyNames, required,
    min/maxProperties, and (optionally) declared properties in schema order.

    State: ``(self, phase, seen, last, sub)`` — ``seen`` the frozenset of keys so far,
    ``last`` the index of the last declared property (for schema order), ``sub`` the key being
    typed ``(esc, text, names_state)``, the value's node, or the value's state.
    """

    __slots__ = (
        "names",
        "index",
        "props",
        "patterns",
        "additional",
        "pnames",
        "required",
        "min_props",
        "max_props",
        "ordered",
        "extra",
        "open",
        "req_after",
        "_prefix",
        "_extra_prefix",
        "_declared",
        "_undeclared",
        "initial",
        "false_props",
        "literal",
    )

    def __init__(
        self,
        props: list[tuple[str, Node]],
        patterns: list,
        additional: Node,
        pnames: Node | None,
        required,
        min_props: int,
        max_props: int | None,
        ordered: bool,
        extra: frozenset | None = None,
        *,
        literal: bool = False,
    ):
        """``patterns``: ``(prefix_matcher, full_matcher, node)`` (see :mod:`.patterns`);
        ``additional``: the node of undeclared keys (the compiler's ``true`` node when absent);
        ``extra``: when not ``None``, the only undeclared names generated (declared-properties
        policy), with ``additional`` as their schema; ``literal``: keys are spelled without
        escapes (the declared-properties policy, where no allowed name needs one)."""
        self.names = [k for k, _ in props]
        self.literal = literal
        self.index = {k: i for i, k in enumerate(self.names)}
        self.props = [n for _, n in props]
        self.patterns = patterns
        self.additional = additional
        self.pnames = pnames
        self.required = frozenset(required)
        self.min_props, self.max_props = min_props, _BIG if max_props is None else max_props
        self.ordered = ordered
        self.extra = None if extra is None else frozenset(extra) - set(self.names)
        self.open: bool | None = None  # decided on first use: ``additional`` may be lazy
        self.false_props: list[bool] | None = None
        req = [i for i, k in enumerate(self.names) if k in self.required]
        # req_after[last + 1]: the first required declared index after ``last``.
        self.req_after = [
            min([r for r in req if r > last], default=_BIG) for last in range(-1, len(self.names))
        ]
        self._prefix: dict[str, tuple[int, ...]] | None = None
        self._extra_prefix: frozenset[str] | None = None
        self._declared: dict[int, Node] = {}
        self._undeclared: dict[str, Node | None] = {}
        self.initial: tuple = (self, START, frozenset(), -1, None)

    # -- keys --------------------------------------------------------------------------------
    def _prefixes(self) -> dict[str, tuple[int, ...]]:
        if self._prefix is None:
            table: dict[str, list[int]] = {}
            for i, k in enumerate(self.names):
                for n in range(len(k) + 1):
                    table.setdefault(k[:n], []).append(i)
            self._prefix = {k: tuple(v) for k, v in table.items()}
        return self._prefix

    def _extras(self) -> frozenset:
        """The prefixes of the undeclared names allowed (empty when there are none)."""
        if self._extra_prefix is None:
            names = self.extra if self.extra is not None and self._additional_ok() else ()
            self._extra_prefix = frozenset(k[:n] for k in names for n in range(len(k) + 1))
        return self._extra_prefix

    def _additional_ok(self) -> bool:
        return not self.additional.is_false

    def _false(self, i: int) -> bool:
        if self.false_props is None:
            self.false_props = [self._declared_node(j).is_false for j in range(len(self.names))]
        return self.false_props[i]

    def _declared_ok(self, i: int, seen, last: int) -> bool:
        if self.ordered and not last < i <= self.req_after[last + 1]:
            return False
        return self.names[i] not in seen and not self._false(i)

    def _is_open(self) -> bool:
        if self.open is None:
            self.open = self.extra is None and self._additional_ok()
        return self.open

    def _key_viable(self, k: str, seen, last: int) -> bool:
        if self._is_open():
            return True
        for i in self._prefixes().get(k, ()):
            if self._declared_ok(i, seen, last):
                return True
        if (
            k in self._extras()
            and self.extra is not None
            and any(x.startswith(k) and x not in seen for x in self.extra)
        ):
            return True
        return any(p.prefix_ok(k) for p, _, _ in self.patterns)

    def _key_bytes_viable(self, k: str, pending: bytes, seen, last: int) -> bool:
        if self._is_open():
            return True
        b = k.encode("utf-8") + pending
        if any(
            self.names[i].encode("utf-8").startswith(b) and self._declared_ok(i, seen, last)
            for i in range(len(self.names))
        ):
            return True
        if (
            self._extras()
            and self.extra is not None
            and any(x.encode("utf-8").startswith(b) and x not in seen for x in self.extra)
        ):
            return True
        return any(p.bytes_ok(k, pending) for p, _, _ in self.patterns)

    def _key_escape_viable(self, k: str, esc: str, seen, last: int) -> bool:
        """Whether some character the unfinished escape ``esc`` can still become continues
        an allowed key after ``k``."""
        if self._is_open():
            return True
        ranges = escape_ranges(esc)
        n = len(k)
        for i in self._prefixes().get(k, ()):
            name = self.names[i]
            if (
                len(name) > n
                and in_ranges(ord(name[n]), ranges)
                and self._declared_ok(i, seen, last)
            ):
                return True
        if self._extras() and self.extra is not None:
            for x in self.extra:
                if (
                    len(x) > n
                    and x.startswith(k)
                    and x not in seen
                    and in_ranges(ord(x[n]), ranges)
                ):
                    return True
        return any(p.escape_ok(k, ranges) for p, _, _ in self.patterns)

    def _declared_node(self, i: int) -> Node:
        node = self._declared.get(i)
        if node is None:
            k = self.names[i]
            parts = [self.props[i]] + [n for _, full, n in self.patterns if full(k)]
            node = parts[0] if len(parts) == 1 else AllNode(parts)
            self._declared[i] = node
        return node

    def _undeclared_node(self, k: str) -> Node | None:
        node = self._undeclared.get(k)
        if node is None:
            parts = [n for _, full, n in self.patterns if full(k)]
            if parts:
                node = parts[0] if len(parts) == 1 else AllNode(parts)
            elif self.extra is not None and k not in self.extra:
                node = None  # declared-properties policy: not generated
            else:
                node = self.additional
            if len(self._undeclared) < 1024:
                self._undeclared[k] = node
        return node

    def _can_add(self, seen, last: int) -> bool:
        if len(seen) >= self.max_props:
            return False
        if self._is_open() or self.patterns:
            return True
        if self._extras() and not self.extra <= seen:
            return True
        return any(self._declared_ok(i, seen, last) for i in range(len(self.names)))

    def _close_ok(self, seen) -> bool:
        return self.required <= seen and len(seen) >= self.min_props

    def _key_start(self):
        pn = None
        if self.pnames is not None:
            pn = self.pnames.begin('"')
            if pn is None:
                return None
            pn = pn[0].feed(pn, '"', 0)[0]
        return ("", "", pn)

    def _key(self, sub, text: str, i: int, seen, last: int):
        """Advance the key being typed; returns ``(sub, j, closed_key_or_None)`` or None."""
        esc, key, pn = sub
        r = scan_string(text, i, esc)
        if r is None:
            return None
        chunk, j, esc, closed = r
        if self.literal and "\\" in text[i:j]:
            return None  # keys are spelled literally under the declared-properties policy
        key += chunk
        if pn is not None:
            pr = pn[0].feed(pn, text[:j], i)
            if pr is None:
                return None
            pn = pr[0]
            if closed != (pn is DONE):
                return None
        if closed:
            return None, j, key
        if not self._key_viable(key, seen, last):
            return None
        if esc and not self._key_escape_viable(key, esc, seen, last):
            return None
        return (esc, key, pn), j, None

    def _key_node(self, k: str, seen, last: int):
        """The value node of the finished key ``k`` and the new ``last``, or None."""
        if k in seen:
            return None
        i = self.index.get(k)
        if i is not None:
            if not self._declared_ok(i, seen, last):
                return None
            return self._declared_node(i), (i if self.ordered else last)
        node = self._undeclared_node(k)
        return None if node is None or node.is_false else (node, last)

    # -- machine -----------------------------------------------------------------------------
    def feed(self, st, text: str, i: int):
        _, ph, seen, last, sub = st
        n = len(text)
        while i < n:
            if ph == IN_VALUE:
                r = sub[0].feed(sub, text, i)
                if r is None:
                    return None
                sub, i = r
                if sub is DONE:
                    ph, sub = AFTER_VALUE, None
                continue
            if ph == IN_KEY:
                r = self._key(sub, text, i, seen, last)
                if r is None:
                    return None
                sub, i, key = r
                if key is not None:
                    kn = self._key_node(key, seen, last)
                    if kn is None:
                        return None
                    sub, last = kn
                    seen = seen | {key}
                    ph = AFTER_KEY
                continue
            c = text[i]
            if c in WHITESPACE and ph != START:  # bounded by the layout scanner
                i += 1
                continue
            if ph == BEFORE_VALUE:
                sub = sub.begin(c)
                if sub is None:
                    return None
                ph = IN_VALUE
                continue
            i += 1
            if ph == START:
                if c != "{":
                    return None
                ph = OPEN
            elif ph == AFTER_KEY:
                if c != ":":
                    return None
                ph = BEFORE_VALUE
            elif c == '"' and ph in (OPEN, AFTER_COMMA):
                sub = self._key_start()
                if sub is None:
                    return None
                ph = IN_KEY
            elif c == "}" and ph in (OPEN, AFTER_VALUE):
                return (DONE, i) if self._close_ok(seen) else None
            elif c == "," and ph == AFTER_VALUE:
                if not self._can_add(seen, last):
                    return None
                ph = AFTER_COMMA
            else:
                return None
        return (self, ph, seen, last, sub), i

    def eof(self, st) -> bool:
        return False

    def partial_ok(self, st, pending: bytes) -> bool:
        ph, sub = st[1], st[4]
        if ph == IN_VALUE:
            return sub[0].partial_ok(sub, pending)
        if ph == IN_KEY and not sub[0]:
            if sub[2] is not None and not sub[2][0].partial_ok(sub[2], pending):
                return False
            return self._key_bytes_viable(sub[1], pending, st[2], st[3])
        return False


class ArrM:
    """An array: per-index schemas (prefixItems, then items) and min/maxItems.

    State: ``(self, phase, count, sub)``.
    """

    __slots__ = ("prefix", "rest", "min_items", "max_items", "initial")

    def __init__(self, prefix: list[Node], rest: Node, min_items: int, max_items: int | None):
        self.prefix, self.rest = prefix, rest
        self.min_items, self.max_items = min_items, _BIG if max_items is None else max_items
        self.initial = (self, START, 0, None)

    def _node(self, k: int) -> Node:
        if k < len(self.prefix):
            return self.prefix[k]
        return self.rest

    def _can_add(self, k: int) -> bool:
        return k < self.max_items and not self._node(k).is_false

    def feed(self, st, text: str, i: int):
        _, ph, count, sub = st
        n = len(text)
        while i < n:
            if ph == IN_VALUE:
                r = sub[0].feed(sub, text, i)
                if r is None:
                    return None
                sub, i = r
                if sub is DONE:
                    ph, sub, count = AFTER_VALUE, None, count + 1
                continue
            c = text[i]
            if c in WHITESPACE and ph != START:  # bounded by the layout scanner
                i += 1
                continue
            if ph in (OPEN, AFTER_COMMA):
                if c == "]" and ph == OPEN:
                    return (DONE, i + 1) if count >= self.min_items else None
                if not self._can_add(count):
                    return None
                sub = self._node(count).begin(c)
                if sub is None:
                    return None
                ph = IN_VALUE
                continue
            i += 1
            if ph == START:
                if c != "[":
                    return None
                ph = OPEN
            elif c == "]" and ph == AFTER_VALUE:
                return (DONE, i) if count >= self.min_items else None
            elif c == "," and ph == AFTER_VALUE:
                if not self._can_add(count):
                    return None
                ph = AFTER_COMMA
            else:
                return None
        return (self, ph, count, sub), i

    def eof(self, st) -> bool:
        return False

    def partial_ok(self, st, pending: bytes) -> bool:
        return st[1] == IN_VALUE and st[3][0].partial_ok(st[3], pending)
