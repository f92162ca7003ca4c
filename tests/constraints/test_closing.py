"""Known short completions (Closing): they complete the state, and their token count is exact
for the string they spell."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import awrs
from awrs.constraints.closing import Closing
from awrs.constraints.json_schema import JSONSchema
from awrs.errors import ConstraintError

BYTES = [bytes([b]) for b in range(256)]


def closes(c, prefix: bytes, closing: Closing) -> bytes | None:
    state = c.advance(c.start(), prefix)
    assert state is not None, prefix
    tail = closing.completion(state)
    if tail is not None:
        assert c.accepts(prefix + tail), (prefix, tail)
    return tail


def test_json_completions_close_every_open_structure():
    schema = {
        "type": "object",
        "required": ["name", "tags", "loc"],
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "loc": {
                "type": "object",
                "required": ["zip"],
                "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
            },
        },
    }
    c = JSONSchema(schema)
    cl = Closing(c, BYTES)
    assert closes(c, b'{"name": "ab', cl) == b'","tags":["",""],"loc":{"zip":"11111"}}'
    assert closes(c, b'{"name": "", "tags": ["x", "y"], "loc": {', cl) == b'"zip":"11111"}}'
    assert closes(c, b'{"name": "", "tags": ["x", "y"], "loc": {"zip": "00000"}}', cl) == b""
    # a free string: every plain character keeps the state's key, so one search serves all
    a, b = (c.advance(c.start(), p) for p in (b'{"name": "ab', b'{"name": "ab cd'))
    assert c.state_key(a) == c.state_key(b) and cl.tokens(a) == cl.tokens(b)


def test_grammar_and_sql_completions(data_dir):
    g = awrs.Grammar('start: "(" start ")" | "x"\n')
    assert closes(g, b"(((", Closing(g, BYTES)) == b"x)))"
    db = data_dir / "spider" / "concert_singer.sqlite"
    if not db.exists():
        pytest.skip(f"{db} is absent")
    sql = awrs.SQL(str(db))
    cl = Closing(sql, BYTES)
    for prefix in (
        b"SELECT name FROM singer WHERE age > ",
        b"SELECT count(*) FROM (SELECT",
        b"SELECT name FROM singer ORDER BY",
    ):
        assert closes(sql, prefix, cl) is not None, prefix


def test_tokens_counts_the_fewest_tokens_spelling_the_completion():
    g = awrs.Grammar('start: "(" start ")" | "x"\n')
    cl = Closing(g, [b"(", b")", b"x", b"x)", b"))"])
    for depth, want in ((0, 1), (1, 1), (2, 2), (3, 2), (4, 3)):
        state = g.advance(g.start(), b"(" * depth)
        assert cl.tokens(state) == want, depth  # x), then "))" pairs
    assert cl.tokens(g.advance(g.start(), b"(x)")) == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from([b"a", b"b", b"ab", b"ba", b"aab", b"bb"]),
        min_size=1,
        max_size=6,
        unique=True,
    ),
    st.text("ab", min_size=0, max_size=9),
)
def test_spell_is_the_minimum_over_all_tokenisations(vocab, text):
    cl = Closing(awrs.Grammar('start: "x"\n'), vocab)
    data = text.encode()
    best = None
    for n in range(len(data) + 1):  # brute force: the shortest sequence spelling it
        if any(b"".join(seq) == data for seq in itertools.product(vocab, repeat=n)):
            best = n
            break
    assert cl.spell(data) == best


SUBSET, SEED = 60, 5


@pytest.fixture(scope="module")
def maskbench(maskbench_sample):
    return maskbench_sample(SUBSET, SEED, max_schema_chars=6000)


def test_maskbench_prefixes_have_known_completions(maskbench):
    """Cut valid documents anywhere: the completion found is accepted, and one is found for
    nearly every prefix (the search is bounded; a miss only turns closing off there)."""
    rng = random.Random(2)
    found = total = 0
    for rec in maskbench:
        try:
            c = JSONSchema(rec["schema"])
        except ConstraintError:
            continue
        cl = Closing(c, BYTES)
        for t in rec["tests"][:2]:
            text = json.dumps(t["data"], indent=2, ensure_ascii=False).encode()
            if not t["valid"] or not c.accepts(text):
                continue
            for k in rng.sample(range(len(text) + 1), min(5, len(text) + 1)):
                total += 1
                found += closes(c, text[:k], cl) is not None
    assert total > 100
    assert found >= 0.9 * total, (found, total)


def test_learn_records_a_given_completion_without_searching():
    c = awrs.JSONSchema({"type": "array", "items": {"type": "string"}})
    cl = Closing(c, frozenset([b"[", b"]", b'"', b'"]', b"a", b","]))
    s = c.advance(c.start(), b'["a')
    assert cl.cached(s) is None
    n0 = cl.nodes
    assert cl.learn(s, b'"]') == (1, b'"]') and cl.nodes == n0 and cl.searches == 0
    assert cl.entry(s) == (1, b'"]') and cl.searches == 0  # no search: already known
    assert cl.learn(c.advance(c.start(), b"["), b"\x00") == (None, None)  # unspellable


def test_searches_stop_at_their_transition_limit():
    c = awrs.Grammar('start: "(" start ")" | "x"\n')
    state = c.advance(c.start(), b"((((((")
    cl = Closing(c, BYTES)
    assert cl.entry(state, limit=3) == (None, None) and cl.advances <= 3
    assert cl.searches == cl.failures == 1
    fresh = Closing(c, BYTES)
    assert fresh.entry(state)[1] == b"x))))))" and fresh.advances > 3


def test_searches_stop_at_the_constraints_node_limit(data_dir):
    # a grammar whose only completion is 30 bytes away: found with the default node limit,
    # not when the constraint lowers it (each of the two passes stops after closing_nodes)
    g = awrs.Grammar('start: "ab"~15\n')
    assert closes(g, b"", Closing(g, BYTES)) == b"ab" * 15

    class Few(awrs.Grammar):
        closing_nodes = 5

    few = Few('start: "ab"~15\n')
    cl = Closing(few, BYTES)
    assert closes(few, b"", cl) is None and cl.nodes <= 2 * (5 + 1)
    # wrappers keep it: a conjunction the larger of two limits, the default when one has none
    assert (few & few).closing_nodes == 5 and (few & g).closing_nodes is None
    db = data_dir / "spider" / "concert_singer.sqlite"
    if db.exists():
        assert awrs.SQL(str(db)).closing_nodes < 200  # its hints find its completions
