"""Grammar prefixes are exact: the lexer corner case is fixed, and the parser-side condition
(every parser state reached by acceptable terminals completes) holds for the shipped grammars
and the grammars the tests build — checked statically and by completion search."""

from __future__ import annotations

import collections
import functools
import importlib.resources
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awrs.constraints.grammar import Grammar
from awrs.constraints.regex import compile_dfa
from awrs.errors import UnsupportedFeatureError
from tests.constraints.test_grammar import AMBIGUOUS, CONTEXT, KEYWORDS, LARK_JSON

SQL_TEXT = importlib.resources.files("awrs.grammars").joinpath("sql.lark").read_text()
JSON_TEXT = importlib.resources.files("awrs.grammars").joinpath("json.lark").read_text()


@functools.cache
def _g(text: str, parser: str = "auto") -> Grammar:
    return Grammar(text, parser=parser)


# -- the lexer corner case: a live thread that a higher-priority terminal always beats -------

SHADOW = """
start: B | "x" A
A: /a[bc]/
B: /ab/
"""


def test_shadowed_terminal_is_not_a_viable_lexeme():
    g = _g(SHADOW, "earley")  # lark's basic lexer: A is tried before B, and always wins on "ab"
    assert not g.accepts("ab") and g.accepts("xab")
    assert not g.accepts_prefix("a")  # was accepted: B's thread is alive, but can never win
    assert g.accepts_prefix("xa")


def test_keyword_versus_name_stays_viable():
    g = _g(KEYWORDS)
    for p in ["sel", "select", "select x from", "selectx = 1", "fro", "x = 1; sel"]:
        assert g.accepts_prefix(p), p


# -- the parser-side condition, statically ------------------------------------------------------


def _static_conditions(text: str) -> list[str]:
    """Problems that could make an accepted parser state uncompletable: unproductive rules,
    no ignored whitespace, or a terminal whose complete match a space could continue."""
    lk = _g(text).lark()
    problems = []
    productive: set[str] = {t.name for t in lk.terminals}
    rules = lk.rules
    changed = True
    while changed:
        changed = False
        for r in rules:
            if r.origin.name not in productive and all(s.name in productive for s in r.expansion):
                productive.add(r.origin.name)
                changed = True
    problems += [f"unproductive {r.origin.name}" for r in rules if r.origin.name not in productive]
    ignore = set(lk.ignore_tokens)
    spaces = [t for t in lk.terminals if t.name in ignore and _matches(t.pattern.to_regexp(), " ")]
    if not spaces:
        problems.append("no %ignore'd terminal matches a space")
    for t in lk.terminals:
        if t.name in ignore:
            continue
        try:
            dfa = compile_dfa(t.pattern.to_regexp())
        except UnsupportedFeatureError:
            continue  # lazy look-behind strings: decided at their first match, so closed
        acc = [s for s in range(dfa.n_states) if dfa.accept[s]]
        if any(dfa.table[s, 0x20] != 0 for s in acc):
            problems.append(f"terminal {t.name} continues with a space after a match")
    return problems


def _matches(rx: str, s: str) -> bool:
    import re

    return re.fullmatch(rx, s) is not None


@pytest.mark.parametrize("name", ["sql", "json", "lark_json", "keywords"])
def test_shipped_and_test_grammars_meet_the_static_conditions(name):
    text = {"sql": SQL_TEXT, "json": JSON_TEXT, "lark_json": LARK_JSON, "keywords": KEYWORDS}[name]
    assert _static_conditions(text) == []


# -- the parser-side condition, by completion search -----------------------------------------


def _completes(
    g: Grammar, prefix: bytes, moves: list[bytes], depth: int, budget: int = 20_000
) -> bool | None:
    """Whether some sequence of at most ``depth`` moves completes ``prefix`` (breadth first,
    pruned by ``advance``); ``None`` when the budget ran out first."""
    start = g.advance(g.start(), prefix)
    if start is None:
        return False
    queue = collections.deque([(start, 0)])
    seen = 0
    while queue:
        state, d = queue.popleft()
        if g.is_complete(state):
            return True
        if d == depth:
            continue
        for m in moves:
            nxt = g.advance(state, m)
            if nxt is not None:
                seen += 1
                if seen > budget:
                    return None
                queue.append((nxt, d + 1))
    return False


@pytest.mark.parametrize(
    "name,alphabet,n,moves,depth",
    [
        ("keywords", "se x;=1", 5, [b" ", b"x", b"1", b"=", b";", b"select", b"from", b","], 3),
        ("ambiguous", "1+*( )", 5, [b"1", b")"], 6),
        ("context", "xyzq \n", 4, [b"x", b"y", b"z", b"q", b" ", b"\n"], 3),
        ("shadow", "xabc", 4, [b"a", b"b", b"c", b"x"], 3),
    ],
)
def test_every_accepted_prefix_of_small_grammars_completes(name, alphabet, n, moves, depth):
    text = {"keywords": KEYWORDS, "ambiguous": AMBIGUOUS, "context": CONTEXT, "shadow": SHADOW}[
        name
    ]
    g = _g(text, "earley" if name == "shadow" else "auto")
    for k in range(n + 1):
        for tup in itertools.product(alphabet, repeat=k):
            b = "".join(tup).encode()
            if g.prefix_ok(b):
                assert _completes(g, b, moves, depth) is not False, (name, b)


SQL_MOVES = [
    b" ",
    b"1",
    b"a",
    b")",
    b"'",
    b'"',
    b"*/",
    b"\n",
    b"]",
    b"`",
    b" FROM t",
    b" END",
    b" AND 1",
    b" THEN 1",
    b" AS x",
    b" BY 1",
    b" JOIN t",
    b" ON 1",
    b" WHERE 1",
    b" ROW",
    b" PRECEDING",
    b"(",
    b",",
    b"=",
    b" SELECT 1",
    b" ROWS 1",
    b" FOLLOWING",
    b" OTHERS",
    b" DISTINCT FROM 1",
    b" NULL",
    b" OUTER JOIN t",
    b" (",
    b" WHEN 1",
    b" AND",
    b" BETWEEN 1 AND 1",
    b" IN (1)",
    b" CURRENT ROW",
    b"AS",
    b" AS",
    b"(SELECT 1)",
    b" SELECT 1",
    b"SELECT 1",
    b"-",
    b"*",
    b" a AS (SELECT 1) SELECT 1",
]
SQL_SEEDS = [
    "SELECT a, count(*) FILTER (WHERE b > 1) OVER (PARTITION BY c ORDER BY d ROWS BETWEEN "
    "UNBOUNDED PRECEDING AND CURRENT ROW) FROM t AS x -- note\nWHERE a IS NOT DISTINCT FROM "
    "'q' /* c */ GROUP BY a HAVING sum(b) > 2 ORDER BY 1 LIMIT 3;",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT [x] FROM c",
    "VALUES (1, 'a''b'), (2, x'00') UNION SELECT CASE WHEN 1 THEN 2 ELSE 3 END",
]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(SQL_SEEDS), st.floats(0, 1), st.text(alphabet="ab1 ('\"-/*,)=.", max_size=3))
def test_sql_prefixes_complete(seed, cut, tail):
    g = _g(SQL_TEXT, "lalr")
    b = seed[: int(cut * len(seed))].encode() + tail.encode()
    if g.prefix_ok(b):
        assert _completes(g, b, _word_endings(g, b) + SQL_MOVES, 4) is not False, b


def _word_endings(g: Grammar, b: bytes) -> list[bytes]:
    """Moves that finish a keyword begun at the end of ``b``."""
    word = b[len(b.rstrip(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")) :].lower()
    if not word:
        return []
    kws = {
        t.pattern.value.lower().encode()
        for t in g.lark().terminals
        if type(t.pattern).__name__ == "PatternStr" and t.pattern.value.isalpha()
    }
    return sorted(k[len(word) :] for k in kws if k.startswith(word) and k != word)


JSON_MOVES = [
    b"}",
    b"]",
    b'"',
    b"1",
    b",",
    b":",
    b"0",
    b" ",
    b"e",
    b"[",
    b"{",
    b'""',
    b"null",
    b"true",
    b"false",
    b".",
    b"\\n",
    b'"a":1',
    b"0000",
]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=3),
        ),
        lambda c: st.one_of(
            st.lists(c, max_size=3), st.dictionaries(st.text(max_size=2), c, max_size=3)
        ),
        max_leaves=6,
    ),
    st.floats(0, 1),
    st.text(alphabet='{}[]",:1e.-\\ ', max_size=3),
)
def test_json_prefixes_complete(doc, cut, tail):
    g = _g(JSON_TEXT)
    s = json.dumps(doc)
    b = s[: int(cut * len(s))].encode() + tail.encode()
    if g.prefix_ok(b):
        assert _completes(g, b, _word_endings(g, b) + JSON_MOVES, 5) is not False, b


def test_name_lexeme_must_still_be_able_to_become_the_keyword_the_parser_needs():
    """After ``WHERE 1`` a name can only be a keyword (ORDER, GROUP, ...): ``ORDE`` may
    still become ``ORDER``, ``ORDE1`` never can."""
    g = _g(SQL_TEXT, "lalr")
    assert g.accepts_prefix("SELECT a FROM t WHERE 1 ORDE")
    assert g.accepts_prefix("SELECT a FROM t WHERE 1 orde")
    assert not g.accepts_prefix("SELECT a FROM t WHERE 1 ORDE1")
    assert not g.accepts_prefix("SELECT a FROM t WHERE 1 ORDERX")
    assert g.accepts_prefix("SELECT a FROM t ORDE1")  # a table alias
    g2 = _g(KEYWORDS)
    assert g2.accepts_prefix("select x fr") and not g2.accepts_prefix("select x frx")
