"""Likely completions of a SQL prefix: its open string or comment closed, the word being typed
finished (a name the schema allows, a keyword with what it needs, an aggregate called), an
operand where one is due, and each open SELECT given a FROM clause (the tables holding its
names, under the aliases its qualified names use) and its parenthesis closed, innermost first.

They are guesses for :class:`~awrs.constraints.closing.Closing`, which verifies each (a hint
counts only if the statement then compiles): a depth-first search over bytes rarely finds
them, as inside a string or a name almost every byte is accepted, and a name that compiles is
one of a few the schema holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from .names import _IDENT, _SPLIT, _TOKEN, SchemaNames, _blank, _closer, _decode, _ident

__all__ = ["closing_hints"]

#: allowed names tried per hint (the shortest ones)
NAMES = 3
#: the longest qualifier taken for an alias still to be defined (``T1.name``, then ``FROM
#: singer AS T1``); a longer unknown qualifier is left unclosed
ALIAS = 3
#: an operand, for a prefix ending in an operator or a keyword that wants one
OPERAND = " 1"
#: what a keyword needs after it to end a statement (``{table}``: a table of the schema)
KEYWORD_TAILS = {
    "select": " {width}",
    "distinct": OPERAND,
    "where": OPERAND,
    "and": OPERAND,
    "or": OPERAND,
    "not": " NULL",
    "on": OPERAND,
    "having": OPERAND,
    "limit": OPERAND,
    "offset": OPERAND,
    "like": OPERAND,
    "glob": OPERAND,
    "is": " NULL",
    "between": " 1 AND 1",
    "in": " (1)",
    "order": " BY 1",
    "group": " BY 1",
    "by": OPERAND,
    "join": " {table}",
    "from": " {table}",
    "union": " SELECT {width}",
    "intersect": " SELECT {width}",
    "except": " SELECT {width}",
    "all": " SELECT {width}",
    "asc": "",
    "desc": "",
    "null": "",
    "case": " WHEN 1 THEN 1 END",
    "when": " 1 THEN 1 END",
    "then": " 1 END",
    "else": " 1 END",
    "end": "",
    "as": " x",
    "cast": "(1 AS int)",
    "exists": " (SELECT 1)",
}
#: aggregates completed when their name is being typed (count first: the likeliest)
CALLS = {"count": "(*)", "max": "(1)", "min": "(1)", "sum": "(1)", "avg": "(1)"}


def closing_hints(schema: SchemaNames, text: bytes) -> list[bytes]:
    """Byte strings that may complete the SQL prefix ``text``, most likely first."""
    s = _decode(text)
    if s.endswith(_SPLIT):  # a character split across tokens: finished, then hinted on
        fill = _finish_char(text)
        return [fill + h for h in closing_hints(schema, text + fill)] if fill else []
    toks = [m.group() for m in _TOKEN.finditer(s)]
    last = toks[-1] if toks else ""
    words = [t for t in toks if not _blank(t)]
    closer = _closer(last)
    base = _Scan()  # the levels before the last token, extended by each hint below
    for t in toks[:-1]:
        base.feed(t)
    levels = base.extended(last)
    prefer = levels[-1].names
    if closer is not None:
        end = (
            "*/"
            if closer == b"/" and not (len(last) > 2 and last.endswith("*"))
            else closer.decode()
        )
        heads = [end, end + OPERAND]
        if last[0] in '"`[':  # a quoted name being typed: the schema's names that extend it
            typed = last[1:].lower()
            heads += [n[len(typed) :] + end for n in _names(schema, s[: -len(last)], typed)]
        if not words or (len(words) == 1 and _blank(last)):
            heads.append(end + "SELECT 1")  # a comment before the statement
    elif _IDENT.fullmatch(last):  # a name (or keyword) being typed
        low = last.lower()
        names = _names(schema, s[: -len(last)], low, prefer)
        heads = ["", *(n[len(low) :] for n in names), OPERAND]
        heads += [k[len(low) :] + _tail(schema, k, levels[-1]) for k in _keywords(low)]
        heads += [f[len(low) :] + a for f, a in CALLS.items() if f.startswith(low)]
        heads += [" " + n for n in _names(schema, s + " ", "", prefer)]  # a word done
        if len(low) <= ALIAS and low not in schema.tables and low not in schema.columns:
            heads += ["." + n for n in _names(schema, s + ".", "", prefer)[:1]]  # a qualifier
    else:
        sep = "" if not last or _blank(last) or last in "(.," else " "
        heads = ["", OPERAND, *(sep + n for n in _names(schema, s, "", prefer))]
        if not words:
            heads.append(sep + "SELECT 1")
        elif (kw := words[-1].lower()) in KEYWORD_TAILS and _blank(last):
            heads.append(_tail(schema, kw, levels[-1]).lstrip(" "))
    if words and words[-1].lower() == "in":  # a list is due
        heads.append("(1)" if last != words[-1] else " (1)")
    out: list[bytes] = []
    for h in heads:
        lv = base.extended(last + h)
        for hint in (h + _close(schema, lv, False), h + _close(schema, lv, True)):
            raw = hint.encode("utf-8")
            if raw and raw not in out:
                out.append(raw)
    return out


def _finish_char(raw: bytes) -> bytes:
    """Continuation bytes that finish the UTF-8 character split at the end of ``raw`` (a
    valid one, the lowest), ``b""`` if it cannot be finished."""
    for n in (1, 2, 3):
        if len(raw) < n or raw[-n] < 0x80:
            return b""
        lead = raw[-n]
        if lead >= 0xC0:
            need = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            out = bytearray()
            for i in range(n, need):  # position i of the character
                lo, hi = 0x80, 0xBF
                if i == 1:
                    lo = {0xE0: 0xA0, 0xF0: 0x90}.get(lead, 0x80)
                    hi = {0xED: 0x9F, 0xF4: 0x8F}.get(lead, 0xBF)
                out.append(lo if lo <= hi else 0x80)
            full = raw[-n:] + bytes(out)
            try:
                full.decode("utf-8")
            except UnicodeDecodeError:
                return b""
            return bytes(out)
    return b""


def _keywords(low: str) -> list[str]:
    """The keywords of :data:`KEYWORD_TAILS` that the word ``low`` being typed may spell."""
    return [k for k in KEYWORD_TAILS if k.startswith(low)][:NAMES]


def _tail(schema: SchemaNames, keyword: str, level: _Level) -> str:
    """What ends a statement after ``keyword`` at ``level`` (a table: the one holding most of
    its names; a compound SELECT: as many columns as the first)."""
    tail = KEYWORD_TAILS[keyword]
    if "{table}" in tail:
        tail = tail.replace("{table}", _table(schema, level.names))
    return tail.replace("{width}", ", ".join(["1"] * level.width))


class _Level:
    """A parenthesis level of a SQL prefix: SELECT seen, FROM seen, its bare names, the
    columns its qualified names take from each qualifier, the aliases it defines."""

    __slots__ = ("select", "frm", "names", "quals", "defined", "width", "cols", "compound")

    def __init__(self):
        self.select = self.frm = self.compound = False
        self.names: list[str] = []
        self.quals: dict[str, list[str]] = {}
        self.defined: set[str] = set()
        self.width = 1  # result columns of its first SELECT
        self.cols = 1  # result columns of its SELECT so far

    def copy(self) -> _Level:
        out = _Level()
        out.select, out.frm, out.compound, out.width, out.cols = (
            self.select,
            self.frm,
            self.compound,
            self.width,
            self.cols,
        )
        out.names = list(self.names)
        out.quals = {q: list(c) for q, c in self.quals.items()}
        out.defined = set(self.defined)
        return out

    def merge(self, inner: _Level) -> None:
        """Take the names of a closed parenthesis without a SELECT of its own."""
        self.names += inner.names
        for q, cols in inner.quals.items():
            self.quals.setdefault(q, []).extend(cols)


class _Scan:
    """The open parenthesis levels of a SQL prefix (outermost first), token by token."""

    __slots__ = ("levels", "prev", "prev2")

    def __init__(self):
        self.levels = [_Level()]
        self.prev = self.prev2 = ""

    def extended(self, text: str) -> list[_Level]:
        """The levels after ``text`` more (this scan unchanged)."""
        out = _Scan()
        out.levels = [lv.copy() for lv in self.levels]
        out.prev, out.prev2 = self.prev, self.prev2
        for m in _TOKEN.finditer(text):
            out.feed(m.group())
        return out.levels

    def feed(self, tok: str) -> None:
        if _blank(tok):
            return
        levels, prev, prev2 = self.levels, self.prev, self.prev2
        low = tok.lower()
        lv = levels[-1]
        if tok == "(":
            levels.append(_Level())
        elif tok == ")" and len(levels) > 1:
            inner = levels.pop()
            if not inner.select:
                levels[-1].merge(inner)
        elif low == "select":
            lv.select = True
        elif low == "from" and prev != "distinct":
            lv.frm = True
        elif low in ("union", "intersect", "except"):  # a new SELECT at this level
            width, fresh = lv.width, _Level()
            levels[-1] = fresh
            fresh.width, fresh.compound = width, True
        elif tok == "," and lv.select and not lv.frm:
            lv.cols += 1
            if not lv.compound:
                lv.width += 1
        elif (name := _ident(tok)) is not None:
            if prev == ".":
                if (q := _ident(prev2)) is not None:
                    lv.quals.setdefault(q, []).append(name)
            else:
                lv.names.append(name)
            if prev == "as" or (lv.frm and _ident(prev) is not None and prev2 != "."):
                lv.defined.add(name)  # an alias: AS x, or FROM t x
        self.prev2, self.prev = prev, low


def _close(schema: SchemaNames, levels: list[_Level], add_from: bool) -> str:
    """What closes the open parentheses ``levels`` (innermost first); with ``add_from``, each
    SELECT still without FROM first gets ``FROM`` the table holding most of its names (and
    one table under each alias its qualified names use), and one with FROM gets a JOIN for
    each such alias it does not define yet."""
    out = []
    carried = _Level()  # names of open parentheses without a SELECT, for the one around them
    for i, lv in enumerate(reversed(levels)):
        if not lv.select:
            carried.merge(lv)
        else:
            lv.merge(carried)
            carried = _Level()
        if add_from and lv.select and not lv.frm and lv.cols < lv.width:
            out.append(", 1" * (lv.width - lv.cols))  # as many columns as the first SELECT
        if add_from and lv.select:
            missing = [
                q
                for q in lv.quals
                if len(q) <= ALIAS and q not in lv.defined and (lv.frm or q not in schema.tables)
            ]
            if not lv.frm:
                if missing:
                    out.append(
                        " FROM "
                        + ", ".join(f"{_table(schema, lv.quals[q])} AS {q}" for q in missing)
                    )
                else:
                    out.append(" FROM " + _table(schema, lv.names))
            else:
                out += [f" JOIN {_table(schema, lv.quals[q])} AS {q}" for q in missing]
        if i < len(levels) - 1:
            out.append(")")
    return "".join(out)


def _table(schema: SchemaNames, names: Sequence[str]) -> str:
    """The table whose columns hold most of ``names`` (the shortest name among ties)."""
    return min(
        schema.tables,
        key=lambda t: (-sum(n in schema.tables[t] for n in names), len(t), t),
        default="",
    )


def _names(schema: SchemaNames, prefix: str, start: str, prefer: Sequence[str] = ()) -> list[str]:
    """The shortest plain names allowed right after ``prefix`` that extend ``start``, tables
    first (those holding most of the names ``prefer`` first; the schema's columns where any
    name may go)."""
    names = schema.slot(prefix)
    if names is None:
        names = schema.columns
    fit = [n for n in names if n.startswith(start) and n != start and _IDENT.fullmatch(n)]
    tables = schema.tables  # a table before a function of the same place (it needs no "(")

    def held(n: str) -> int:
        return -sum(p in tables[n] for p in prefer) if n in tables else 0

    return sorted(fit, key=lambda n: (n not in tables, held(n), len(n), n))[:NAMES]
