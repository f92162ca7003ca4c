"""Differential tests of the LALR(1) kernel: compiled module vs pure-Python twin."""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from awrs.kernels import load_kernel
from awrs.constraints.grammar import Grammar

TWIN = load_kernel("_lalr", python=True)


def _compiled():
    if os.environ.get("AWRS_NO_EXTENSIONS"):
        pytest.skip("AWRS_NO_EXTENSIONS is set: only the twin is under test")
    return importlib.import_module("awrs.kernels._lalr_c")  # must exist when extensions are on


@functools.cache
def _grammar(name: str) -> Grammar:
    return Grammar(importlib.resources.files("awrs.grammars").joinpath(name).read_text(),
                   parser="lalr")


@functools.cache
def _tables(name: str):
    t = _grammar(name)._c.backend.tables
    args = (t.action, t.goto, t.rule_len, t.rule_lhs, t.end_term, t.end_state)
    return TWIN.LALRTables(*args), args


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(["json.lark", "sql.lark"]), seed=st.integers(0, 2**32 - 1))
def test_feed_and_feed_end_agree(name, seed):
    C = _compiled()
    twin, args = _tables(name)
    comp = C.LALRTables(*args)
    rng = np.random.default_rng(seed)
    n_terms = args[0].shape[1]
    stack = (_grammar(name)._c.backend.start_state,)
    for _ in range(40):
        assert comp.feed_end(stack) == twin.feed_end(stack)
        # prefer terminals the state has an action for, so walks get deep
        legal = np.flatnonzero(args[0][stack[-1]])
        term = int(rng.choice(legal)) if len(legal) and rng.random() < 0.9 else \
            int(rng.integers(n_terms))
        a, b = comp.feed(stack, term), twin.feed(stack, term)
        assert a == b
        assert a is None or type(a) is tuple
        if a is not None:
            stack = a


def test_deep_stacks_beyond_the_local_buffer():
    C = _compiled()
    twin, args = _tables("json.lark")
    comp = C.LALRTables(*args)
    g = _grammar("json.lark")
    state = g.advance(g.start(), b"[" * 700)
    stack = state[0]
    assert len(stack) > 600
    lsqb, rsqb = (g._c.names.index(n) for n in ("LSQB", "RSQB"))
    assert comp.feed(stack, lsqb) == twin.feed(stack, lsqb) == stack + (stack[-1],)
    deeper = comp.feed(stack, rsqb)
    assert deeper == twin.feed(stack, rsqb) and deeper is not None
    assert comp.feed_end(stack) is twin.feed_end(stack) is False
