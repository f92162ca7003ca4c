"""MaxWhitespace: bounded whitespace runs, alone and composed with a grammar."""

import random

import numpy as np
import pytest

import awrs
from awrs.constraints import Constraint, MaxWhitespace, VocabTrie
from awrs.constraints.testing import check_prefix_monotone


def test_runs_are_bounded_across_token_boundaries():
    c = MaxWhitespace(2)
    assert c.accepts("a  b \n") and not c.accepts("a   b")
    s = c.advance(c.start(), b"x ")
    assert c.advance(s, b" y") is not None and c.advance(s, b"  ") is None
    check_prefix_monotone(c, [b"a  b", b"  x", b"\t\t\tz"], alphabet=b" \tab")


def test_bad_bound():
    with pytest.raises(awrs.ConfigurationError, match="k >= 1"):
        MaxWhitespace(0)


def test_conjunction_with_json_grammar():
    from importlib.resources import files

    g = awrs.Grammar(files("awrs.grammars").joinpath("json.lark").read_text())
    c = g & MaxWhitespace(3)
    assert c.accepts('{"a": [1, 2]}') and c.accepts_prefix('{"a":   ')
    assert not c.accepts_prefix('{"a":    ') and g.accepts_prefix('{"a":    ')
    assert not c.accepts_prefix("{x")


@pytest.mark.parametrize("seed", range(4))
def test_token_masks_equal_the_generic_walk(seed):
    rng = random.Random(seed)
    vocab = [bytes(rng.choice(b' \n{}"a1:,') for _ in range(rng.randint(1, 5))) for _ in range(300)]
    vocab += [b"", b"<eos>"]
    trie = VocabTrie(vocab, exclude={len(vocab) - 1})
    from importlib.resources import files

    g = awrs.Grammar(files("awrs.grammars").joinpath("json.lark").read_text())
    for c in (MaxWhitespace(2), g & MaxWhitespace(2)):
        for pre in (b"", b"{ ", b'{"a":  ', b"[1,"):
            state = c.advance(c.start(), pre)
            if state is not None:
                assert np.array_equal(
                    c.token_mask(state, trie), Constraint.token_mask(c, state, trie)
                ), (c, pre)
