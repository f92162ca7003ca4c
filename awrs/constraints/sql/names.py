"""The schema's names as a judge of a SQL prefix: :class:`SchemaNames` refuses names that no
completion can make compile (a guide for SMC and the dead-end check of ``SQL``)."""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet

import numpy as np

__all__ = ["SchemaNames", "UNKNOWN_COLUMN_LOGW", "may_name", "schema_mask"]

_TOKEN = re.compile(
    r"""\s+|--[^\n]*\n?|/\*(?:[^*]|\*(?!/))*(?:\*/)?
    |'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?
    |[A-Za-z_\u0080-\U0010FFFF][A-Za-z0-9_$\u0080-\U0010FFFF]*|[0-9.]+(?:[eE][+-]?[0-9]+)?
    |<>|<=|>=|!=|==|\|\||<<|>>|.""",
    re.X,
)
_KEYWORDS = frozenset(
    """all and as asc between by case cast collate cross desc distinct else end
    escape except exists first from full glob group having in inner intersect is isnull join
    last left like limit match natural not notnull null nulls offset on or order outer recursive
    regexp right select then union using when where with""".split()
)
_KEYWORD_PREFIXES = frozenset(k[:i] for k in _KEYWORDS for i in range(1, len(k) + 1))
_QUOTES = '"`['
_SCHEMAS = frozenset({"main", "temp"})
#: words followed by ``(`` that are not function calls
_NOT_CALLS = frozenset(
    "over filter values window partition materialized rows range groups exclude current".split()
)
_TABLE_AFTER = frozenset({"from", "join"})
#: bare words SQLite reads as names of its own (not columns of the schema): literals, row ids,
#: window-frame words
_OWN_NAMES = frozenset(
    """true false current_date current_time current_timestamp rowid oid
    _rowid_ over filter window partition rows range groups unbounded preceding following
    current row exclude ties others no materialized nocase binary rtrim""".split()
)
UNKNOWN_COLUMN_LOGW = -3.0


class SchemaNames:
    """A log-weight of a SQL prefix from the schema, for SMC twisting (0 = no objection).

    ``-inf`` (no completion can compile) when a name in table position (after FROM / JOIN /
    a FROM-clause comma) is no table, CTE nor allowed table-valued function; when a qualified
    column ``t.c`` has a qualifier bound to known tables (a table name or an alias defined in
    the prefix) and ``c`` is a column of none of them; when a name is called (``f(``) that is no
    allowed function (``functions``; ``None``: any). An identifier still being typed at the end
    is judged by whether some allowed name starts with it. A bare identifier in expression
    position that is no column of any table nor an alias or CTE defined so far costs
    ``UNKNOWN_COLUMN_LOGW`` (it may still be a column of a FROM subquery written later); with
    ``strict`` it is ``-inf`` once another token follows it: names must be the schema's, or
    defined before their use (a FROM subquery's output columns and json_each's columns are
    then reachable only qualified, ``s.c``), as text-to-SQL guards such as PICARD require.
    Quoted ``"x"`` in expression position is ignored (SQLite reads it as a string when no
    column has that name); comments are skipped. Not judged: names qualified by an alias that
    shadows a table name.
    """

    def __init__(
        self,
        tables: dict[str, set[str]],
        functions: frozenset[str] | None = None,
        strict: bool = False,
    ):
        self.strict = strict
        self.tables = {t.lower(): {c.lower() for c in cs} for t, cs in tables.items()}
        self.columns = set().union(*self.tables.values()) if self.tables else set()
        self.functions = functions
        self._marks: dict[str, tuple] = {}  # a walked text -> a checkpoint of its pass

    def __call__(self, prefix: bytes | str) -> float:
        return self.walk(prefix)[0]

    def dead(self, prefix: bytes | str) -> bool:
        """Whether no completion of ``prefix`` can compile against the schema."""
        return self.walk(prefix)[0] == float("-inf")

    def slot(self, prefix: bytes | str) -> AbstractSet[str] | None:
        """The names an identifier starting right after ``prefix`` may spell (lower case;
        ``None``: any), for a prefix not ending inside a name."""
        text = _decode(prefix) if isinstance(prefix, bytes) else prefix
        return self.walk(text + "a")[1]

    def walk(self, prefix: bytes | str) -> tuple[float, AbstractSet[str] | None]:
        """``(log-weight, names)``: the prefix's log-weight and the names the identifier being
        typed at the end may grow into (``None``: any, or no identifier is being typed)."""
        text = _decode(prefix) if isinstance(prefix, bytes) else prefix
        mark = self._resume(text)
        pos, ctx, snap = mark if mark is not None else (0, [], None)
        toks = [(m.group(), m.end()) for m in _TOKEN.finditer(text, pos)]
        ends_open = bool(toks) and not _blank(toks[-1][0])
        sig = ctx + [
            (t, i == len(toks) - 1 and ends_open, end)
            for i, (t, end) in enumerate(toks)
            if not _blank(t)
        ]
        scan = _Scan(self, sig)
        if snap is not None:
            scan.restore(snap)
        keep = len(sig) - 3  # tokens before it are judged alike in every extension
        logw = scan.run(len(ctx), keep)
        if logw != float("-inf"):
            if scan.mark is not None and keep >= 2:
                mark = (sig[keep - 1][2], sig[keep - 2 : keep], scan.mark)
            if mark is not None:  # (else the one resumed from still holds for extensions)
                if len(self._marks) >= 20_000:
                    self._marks.clear()
                self._marks[text] = mark
        return logw, scan.last

    def _resume(self, text: str):
        """The checkpoint of the longest recently walked prefix of ``text`` (few bytes back)."""
        marks = self._marks
        for cut in range(1, min(len(text), _RESUME_BACK) + 1):
            mark = marks.get(text[:-cut])
            if mark is not None:
                return mark
        return None


#: the old name of :class:`SchemaNames` (``awrs.constraints.sql.critic.SchemaCritic``)
SchemaCritic = SchemaNames


class _Scan:
    """One left-to-right pass of :class:`SchemaNames` over the significant tokens."""

    __slots__ = (
        "schema",
        "sig",
        "aliases",
        "ctes",
        "defined",
        "clause",
        "prelude",
        "last",
        "logw",
        "mark",
    )

    def __init__(self, schema: SchemaNames, sig: list[tuple[str, bool, int]]):
        self.schema, self.sig = schema, sig
        self.aliases: dict[str, set[str]] = {}
        self.ctes: set[str] = set()
        self.defined: set[str] = set()
        self.clause = ["select"]
        self.prelude = bool(sig) and sig[0][0].lower() == "with"
        self.last: AbstractSet[str] | None = None
        self.logw = 0.0
        self.mark: tuple | None = None

    def snapshot(self) -> tuple:
        return (
            {a: set(t) for a, t in self.aliases.items()},
            set(self.ctes),
            set(self.defined),
            list(self.clause),
            self.prelude,
            self.logw,
        )

    def restore(self, snap: tuple) -> None:
        aliases, ctes, defined, clause, self.prelude, self.logw = snap
        self.aliases = {a: set(t) for a, t in aliases.items()}
        self.ctes, self.defined, self.clause = set(ctes), set(defined), list(clause)

    def run(self, start: int = 0, keep: int = -1) -> float:
        """The log-weight after judging the tokens from ``start``; a snapshot of the pass
        before token ``keep`` is left in ``mark``."""
        sig = self.sig
        for k in range(start, len(sig)):
            if k == keep:
                self.mark = self.snapshot()
            tok, open_ = sig[k][0], sig[k][1]
            low = _ident(tok)
            prev = sig[k - 1][0].lower() if k else ""
            if tok == "(":  # in the prelude, after a CTE's name: its column names
                cols = (
                    self.prelude
                    and len(self.clause) == 1
                    and prev != "materialized"
                    and _ident(sig[k - 1][0]) is not None
                )
                self.clause.append("cols" if cols else self.clause[-1])
            elif tok == ")" and len(self.clause) > 1:
                self.clause.pop()
            if low is None:
                word = tok.lower()
                if word in ("select", "values") and len(self.clause) == 1:
                    self.prelude = False
                if word in (
                    "select",
                    "from",
                    "where",
                    "group",
                    "having",
                    "order",
                    "limit",
                    "on",
                    "using",
                ) and not (word == "from" and prev == "distinct"):
                    self.clause[-1] = word
                continue
            allowed, soft = self._judge(k, low)
            if open_:
                self.last = allowed
            if (
                allowed is not None
                and low not in allowed
                and not (open_ and _grows(allowed, low, tok[0] not in _QUOTES))
            ):
                self.mark = None
                return float("-inf")
            self.logw += soft
        return self.logw

    def _judge(self, k: int, low: str) -> tuple[frozenset[str] | set[str] | None, float]:
        """The names allowed at identifier ``k`` (``None``: any) and its soft log-weight;
        records the aliases and CTEs it defines."""
        sig, schema = self.sig, self.schema
        prev = sig[k - 1][0].lower() if k else ""
        nxt = sig[k + 1][0] if k + 1 < len(sig) else ""
        if nxt in ("-", "/") and k + 2 == len(sig) and sig[k + 1][1]:
            nxt = ""  # it may still open a comment, after which anything may follow
        if self.clause[-1] == "cols" or (self.prelude and len(self.clause) == 1):
            # WITH name [(cols)] AS (...), ...
            self.ctes.add(low)
            return None, 0.0
        if nxt.upper() == "AS" and k + 2 < len(sig) and sig[k + 2][0] == "(":
            self.ctes.add(low)  # a CTE or a named window
            return None, 0.0
        calls = schema.functions
        if prev in _TABLE_AFTER and sig[k - 2][0].lower() == "distinct" if k >= 2 else False:
            prev = ""  # IS [NOT] DISTINCT FROM x: an expression
        if prev in _TABLE_AFTER or (prev == "," and self.clause[-1] == "from"):
            if nxt == ".":
                return _SCHEMAS, 0.0  # main.t
            if nxt == "(":  # a table-valued function
                return calls, 0.0
            if not nxt:  # last: "." or "(" may still follow
                if calls is None:
                    return None, 0.0
                return frozenset((*schema.tables, *self.ctes, *calls, *_SCHEMAS)), 0.0
            alias = (
                _ident(nxt)
                if nxt.lower() != "as"
                else (_ident(sig[k + 2][0]) if k + 2 < len(sig) else None)
            )
            if alias:
                self.aliases.setdefault(alias, set()).add(low)
            return frozenset((*schema.tables, *self.ctes)), 0.0
        if prev in ("as", ")", "collate") or (
            k and _ident(sig[k - 1][0]) is not None and prev != "."
        ):
            self.defined.add(low)
            return None, 0.0
        if nxt == "(":
            if calls is None or low in _NOT_CALLS:
                return None, 0.0
            return calls, 0.0
        if nxt == ".":
            return None, 0.0
        if prev == "." and k >= 2:
            qual = _ident(sig[k - 2][0])
            bound = (self.aliases.get(qual) if qual is not None else None) or (
                {qual} if qual in schema.tables else None
            )
            if bound and all(t in schema.tables for t in bound):
                return set().union(*(schema.tables[t] for t in bound)), 0.0
            return None, 0.0
        tok, open_ = sig[k][0], sig[k][1]
        if tok.startswith('"') or open_:
            return None, 0.0
        if (
            low not in schema.columns
            and low not in self.defined
            and low not in self.aliases
            and low not in self.ctes
            and low not in _OWN_NAMES
        ):
            if schema.strict and nxt:  # complete (followed by a token), and no known name
                return frozenset(), 0.0
            return None, UNKNOWN_COLUMN_LOGW
        return None, 0.0


def _blank(tok: str) -> bool:
    """Whitespace or a comment."""
    return tok.isspace() or tok.startswith(("--", "/*"))


def _ident(tok: str) -> str | None:
    """The lower-cased identifier a token names (None for keywords, literals, punctuation)."""
    if not tok:
        return None
    c = tok[0]
    if c == '"' or c == "`":
        return (
            tok[1:-1].replace(c * 2, c).lower()
            if len(tok) > 1 and tok[-1] == c
            else tok[1:].lower()
        )
    if c == "[":
        return tok[1:].rstrip("]").lower()
    if c.isalpha() or c == "_" or ord(c) >= 0x80:
        low = tok.lower()
        return None if low in _KEYWORDS else low
    return None


# -- masks -------------------------------------------------------------------------------------

_NAME_BYTES = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$0123456789'\"`[]()."
)


def may_name(text: bytes, token: bytes) -> bool:
    """Whether appending ``token`` may change the schema verdict: it holds a name's byte (or a
    quote, bracket, parenthesis or dot), or it ends the name ``text`` ends with."""
    if text and (text[-1] in _NAME_BYTES or text[-1] >= 0x80):
        return True
    return any(b in _NAME_BYTES or b >= 0x80 for b in token)


_WORD = re.compile(rb"([ \t\r\n]*)([A-Za-z_][A-Za-z0-9_]*)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def schema_mask(
    schema: SchemaNames, text: bytes, todo: np.ndarray, mask: np.ndarray, vocab
) -> None:
    """Clear in ``mask`` the tokens of ``todo`` after which ``text`` is dead for the schema.
    A token that is a plain word (after optional whitespace) is judged by the names allowed at
    its position, found once; inside an open string or comment only a token that may close it
    is checked; the others by :meth:`SchemaNames.dead`."""
    s = _decode(text)
    toks = [m.group() for m in _TOKEN.finditer(s)]
    last = toks[-1] if toks else ""
    closer = _closer(last)
    partial = last if _IDENT.fullmatch(last) else ""
    glue = not closer and (partial or not last or _blank(last) or not _cont(last[-1]))
    # the names allowed for a word typed here, and whether the text before it stays alive
    # once a word follows (a probe word that any position accepts: a keyword's prefix)
    here = schema.slot(s[: len(s) - len(partial)]) if glue else None
    here_ok = glue and (bool(partial) or not schema.dead(s + _PROBE))
    after = schema.slot(s + " ") if not closer else None
    after_ok = not closer and not schema.dead(s + " " + _PROBE)
    quoted = closer is not None and last[0] in '"`['  # an open quoted name: judged
    qslot = schema.slot(s[: len(s) - len(last)]) if quoted else None
    for tid in np.flatnonzero(todo).tolist():
        tb = vocab[tid]
        if closer is not None:
            if closer in tb:
                pass  # may close it: checked in full below
            elif not quoted:
                continue  # still inside the string or comment: nothing changes
            elif tb.isascii():  # the quoted name goes on
                low = (last[1:] + tb.decode()).lower()
                mask[tid] = qslot is None or any(n.startswith(low) for n in qslot)
                continue
        elif (m := _WORD.fullmatch(tb)) is not None and (m.group(1) or glue):
            word = m.group(2).decode()
            if m.group(1):  # a blank, then a word
                mask[tid] = after_ok and _fits(after, word)
            else:  # the word continues the partial name, or starts one
                mask[tid] = here_ok and _fits(here, partial + word)
            continue
        if schema.dead(text + tb):
            mask[tid] = False


_RESUME_BACK = 48  # characters a walk looks back for a walked prefix to resume from
_PROBE = "w"  # alive wherever a word may go: it may become WHERE, WHEN or WITH


def _cont(ch: str) -> bool:
    """Whether ``ch`` may continue a name or number (a following word would join it)."""
    return ch.isalnum() or ch in "_$." or ord(ch) >= 0x80


def _fits(allowed, word: str) -> bool:
    """Whether an unquoted name being typed may still be valid where ``allowed`` names go."""
    low = word.lower()
    return allowed is None or low in allowed or _grows(allowed, low, True)


def _grows(allowed, low: str, bare: bool) -> bool:
    """Whether the name ``low`` being typed may grow into an allowed name (or, ``bare``:
    unquoted, into a keyword); a trailing :data:`_SPLIT` stands for any non-ASCII letter."""
    if low.endswith(_SPLIT):
        stem = low[:-1]
        return any(
            n.startswith(stem) and len(n) > len(stem) and ord(n[len(stem)]) >= 0x80 for n in allowed
        )
    return (bare and low in _KEYWORD_PREFIXES) or any(n.startswith(low) for n in allowed)


#: stands for a character whose UTF-8 bytes are not all written yet (any such character is a
#: name character): a name is judged by what it may still become, not by its complete part
_SPLIT = "\U0010ffff"


def _decode(raw: bytes) -> str:
    """``raw`` as text; an incomplete character at the end becomes :data:`_SPLIT` (other
    invalid bytes are dropped)."""
    text = raw.decode("utf-8", "ignore")
    for n in (1, 2, 3):
        if len(raw) >= n and raw[-n] >= 0xC0:  # a lead byte n - 1 continuation bytes back
            need = 2 if raw[-n] < 0xE0 else 3 if raw[-n] < 0xF0 else 4
            if need > n:
                return raw[:-n].decode("utf-8", "ignore") + _SPLIT
            break
        if len(raw) < n or raw[-n] < 0x80:
            break
    return text


def _closer(tok: str) -> bytes | None:
    """The byte that may end an open string, quoted name or comment ``tok`` (else None)."""
    if tok.startswith("--") and not tok.endswith("\n"):
        return b"\n"
    if tok.startswith("/*") and not (len(tok) >= 4 and tok.endswith("*/")):
        return b"/"
    for q, end in (("'", "'"), ('"', '"'), ("`", "`"), ("[", "]")):
        if tok.startswith(q) and (len(tok) == 1 or not tok.endswith(end)):
            return end.encode()
    return None
