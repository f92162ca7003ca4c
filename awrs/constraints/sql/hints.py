"""Likely completions of a SQL prefix: its open string or comment closed, the word being typed
finished (a name the schema allows, or FROM), an operand where one is due, and each open
SELECT given a FROM clause and its parenthesis closed, innermost first.

They are guesses for :class:`~awrs.constraints.closing.Closing`, which verifies each (a hint
counts only if the statement then compiles): a depth-first search over bytes rarely finds
them, as inside a string or a name almost every byte is accepted, and a name that compiles is
one of a few the schema holds.
"""

from __future__ import annotations

from .names import _IDENT, _SPLIT, _TOKEN, SchemaNames, _blank, _closer, _decode, _ident

__all__ = ["closing_hints"]

#: allowed names tried per hint (the shortest ones)
NAMES = 3
#: an operand, for a prefix ending in an operator or a keyword that wants one
OPERAND = " 1"


def closing_hints(schema: SchemaNames, text: bytes) -> list[bytes]:
    """Byte strings that may complete the SQL prefix ``text``, most likely first."""
    s = _decode(text)
    if s.endswith(_SPLIT):
        return []  # a character split across tokens: the byte search finishes it
    toks = [m.group() for m in _TOKEN.finditer(s)]
    last = toks[-1] if toks else ""
    closer = _closer(last)
    if closer is not None:
        end = (
            "*/"
            if closer == b"/" and not (len(last) > 2 and last.endswith("*"))
            else closer.decode()
        )
        heads = [end, end + OPERAND]
    elif _IDENT.fullmatch(last):  # a name (or keyword) being typed
        low = last.lower()
        names = _names(schema, s[: -len(last)], low)
        heads = ["", *(n[len(low) :] for n in names), OPERAND]
        if "from".startswith(low) and low != "from":
            heads.append("from"[len(low) :])
        heads += [" " + n for n in _names(schema, s + " ", "")]  # a word done: what follows
    else:
        sep = "" if not last or _blank(last) or last in "(.," else " "
        heads = ["", OPERAND, *(sep + n for n in _names(schema, s, ""))]
    words = [t for t in toks if not _blank(t)]
    if words and words[-1].lower() == "in":  # a list is due
        heads.append("(1)" if last != words[-1] else " (1)")
    out: list[bytes] = []
    for h in heads:
        levels = _levels(s + h)
        for hint in (h + _close(schema, levels, False), h + _close(schema, levels, True)):
            raw = hint.encode("utf-8")
            if raw and raw not in out:
                out.append(raw)
    return out


class _Level:
    """A parenthesis level of a SQL prefix: SELECT seen, FROM seen, its bare names."""

    __slots__ = ("select", "frm", "names")

    def __init__(self):
        self.select = self.frm = False
        self.names: list[str] = []


def _levels(s: str) -> list[_Level]:
    """The open parenthesis levels of ``s``, outermost first."""
    levels = [_Level()]
    prev = ""
    for m in _TOKEN.finditer(s):
        tok = m.group()
        if _blank(tok):
            continue
        low = tok.lower()
        if tok == "(":
            levels.append(_Level())
        elif tok == ")" and len(levels) > 1:
            levels.pop()
        elif low == "select":
            levels[-1].select = True
        elif low == "from" and prev != "distinct":
            levels[-1].frm = True
        elif (name := _ident(tok)) is not None:
            levels[-1].names.append(name)
        prev = low
    return levels


def _close(schema: SchemaNames, levels: list[_Level], add_from: bool) -> str:
    """What closes the open parentheses ``levels`` (innermost first); with ``add_from``, each
    SELECT still without FROM first gets ``FROM`` the table holding most of its names."""
    out = []
    for i, lv in enumerate(reversed(levels)):
        if add_from and lv.select and not lv.frm:
            out.append(" FROM " + _table(schema, lv.names))
        if i < len(levels) - 1:
            out.append(")")
    return "".join(out)


def _table(schema: SchemaNames, names: list[str]) -> str:
    """The table whose columns hold most of ``names`` (the shortest name among ties)."""
    return min(
        schema.tables,
        key=lambda t: (-sum(n in schema.tables[t] for n in names), len(t), t),
        default="",
    )


def _names(schema: SchemaNames, prefix: str, start: str) -> list[str]:
    """The shortest plain names allowed right after ``prefix`` that extend ``start``, tables
    first (the schema's columns where any name may go)."""
    names = schema.slot(prefix)
    if names is None:
        names = schema.columns
    fit = [n for n in names if n.startswith(start) and n != start and _IDENT.fullmatch(n)]
    tables = schema.tables  # a table before a function of the same place (it needs no "(")
    return sorted(fit, key=lambda n: (n not in tables, len(n), n))[:NAMES]
