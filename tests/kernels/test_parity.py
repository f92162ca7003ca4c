"""The kernel registry, and every kernel's compiled module against its pure-Python twin.

Each kernel of :data:`awrs.kernels.KERNELS` registers its parity cases with ``@parity(name)``:
functions of ``(twin, compiled)`` that feed both the same inputs and assert the same outputs.
:func:`test_twin_and_compiled_agree` runs every case (skipped with ``AWRS_NO_EXTENSIONS``, where
there is no compiled module to compare), and a kernel without a case fails
:func:`test_every_kernel_has_parity_cases`.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.resources
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import awrs
import awrs.kernels
from awrs.constraints.grammar import Grammar
from awrs.constraints.trie import VocabTrie
from awrs.kernels import KERNELS, NO_EXTENSIONS, load_kernel
from tests.constraints.test_trie import constraint, random_vocab
from tests.kernels.kernel_inputs import problems
from tests.sampling.sampling_helpers import layout, multibyte_constraint, multibyte_lm

PACKAGE = Path(awrs.kernels.__file__).resolve().parent
CSRC = PACKAGE.parents[1] / "csrc"
EXPECTED = "python" if NO_EXTENSIONS else "compiled"

PARITY: dict[str, list[Callable]] = {name: [] for name in KERNELS}


def parity(kernel: str):
    """Register a parity case of ``kernel``: a function of ``(twin, compiled)``."""

    def register(case):
        PARITY[kernel].append(case)
        return case

    return register


def kernel_pair(name: str):
    """(twin, compiled) modules of a kernel; skips when extensions are disabled."""
    if NO_EXTENSIONS:
        pytest.skip("AWRS_NO_EXTENSIONS is set: no compiled kernel to compare")
    # the compiled module must exist when extensions are on
    return load_kernel(name, python=True), importlib.import_module(f"awrs.kernels._{name}_c")


# -- the registry -------------------------------------------------------------------------------
def test_registry_matches_the_files():
    kernels = sorted(KERNELS)
    assert sorted(p.stem[1:-3] for p in PACKAGE.glob("_*_py.py")) == kernels  # twins
    assert sorted(p.stem[1:-2] for p in CSRC.glob("_*_c.pyx")) == kernels  # compiled sources
    selectors = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    assert sorted(selectors) == kernels


def _docstring(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".pyx":  # the module docstring, after the `# cython:` directives
        text = "\n".join(x for x in text.split("\n") if not x.startswith("#"))
        return text.split('"""')[1]
    return ast.get_docstring(ast.parse(text)) or ""


@pytest.mark.parametrize("name", KERNELS)
def test_compiled_source_and_twin_name_each_other(name):
    twin, pyx = PACKAGE / f"_{name}_py.py", CSRC / f"_{name}_c.pyx"
    selector = PACKAGE / f"{name}.py"
    assert f"``awrs/kernels/_{name}_py.py``" in _docstring(pyx)
    assert f"``csrc/_{name}_c.pyx``" in _docstring(twin)
    assert f"``csrc/_{name}_c.pyx``" in _docstring(selector)
    # every path a kernel source names exists
    for path in (twin, pyx, selector):
        for ref in ("awrs/kernels/", "csrc/"):
            for tail in _docstring(path).split(f"``{ref}")[1:]:
                target = PACKAGE.parents[1] / (ref + tail.split("``")[0])
                assert target.exists(), f"{path.name} names {target}, which does not exist"


@pytest.mark.parametrize("name", KERNELS)
def test_selector_binds_the_chosen_implementation(name):
    selector = importlib.import_module(f"awrs.kernels.{name}")
    impl, twin = load_kernel(name), load_kernel(name, python=True)
    assert impl.__name__ == f"awrs.kernels._{name}_{'py' if NO_EXTENSIONS else 'c'}"
    assert selector.__all__, name
    for attr in selector.__all__:
        assert getattr(selector, attr) is getattr(impl, attr), attr
        assert hasattr(twin, attr), f"the twin of {name} lacks {attr}"
        if callable(getattr(twin, attr)):
            assert getattr(selector, attr).__doc__, f"{name}.{attr} has no docstring"
    if not NO_EXTENSIONS:  # constants are the same numbers in both
        for attr in selector.__all__:
            if not callable(getattr(twin, attr)):
                assert getattr(impl, attr) == getattr(twin, attr), attr


def test_native_reports_every_kernel():
    kernels = awrs.native()
    assert kernels == {f"_{name}": EXPECTED for name in KERNELS}
    assert awrs.native is awrs.kernels.native


def test_native_loads_what_is_not_loaded(monkeypatch):
    monkeypatch.setattr(awrs.kernels, "_chosen", {})
    assert awrs.native() == {f"_{name}": EXPECTED for name in KERNELS}
    assert set(awrs.kernels._chosen) == set(KERNELS)


def test_a_missing_compiled_module_falls_back_to_its_twin(monkeypatch):
    monkeypatch.setattr(awrs.kernels, "_chosen", {})
    monkeypatch.setitem(sys.modules, "awrs.kernels._dfa_c", None)  # importing it raises
    assert load_kernel("dfa") is load_kernel("dfa", python=True)
    assert awrs.native()["_dfa"] == "python"
    assert awrs.native()["_lalr"] == EXPECTED


def test_load_kernel_names():
    assert load_kernel("_dfa") is load_kernel("dfa")  # the module stem is accepted too
    assert load_kernel("_dfa", python=True).__name__ == "awrs.kernels._dfa_py"
    with pytest.raises(ValueError, match="expected a kernel in"):
        load_kernel("nope")


# -- awrs ---------------------------------------------------------------------------------------
_T = load_kernel("awrs", python=True)


@parity("awrs")
@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    problem=problems(max_v=40),
    seed=st.integers(0, 2**64 - 1),
    est=st.sampled_from([_T.FIRST, _T.TWO_PASS, _T.RECURSIVE, _T.GEOMETRIC, _T.AUTO]),
    max_rejects=st.sampled_from([0, 0, 1, 2, 5]),
)
def steps_and_checks(twin, comp, problem, seed, est, max_rejects):
    p, accepted, bs = problem
    probs, blocks = layout(p, bs)
    outs = []
    for mod in (twin, comp):
        rng = mod.SplitMix64(seed)
        calls: list[int] = []
        results = []
        for _ in range(5):
            results.append(
                mod.awrs_step(
                    probs,
                    blocks,
                    bs,
                    rng,
                    lambda t, calls=calls: calls.append(t) or t in accepted,
                    est,
                    max_rejects,
                )
            )
        results.append(mod.sample_token(probs, blocks, bs, rng))
        outs.append((results, calls, rng.random()))
    assert outs[0] == outs[1]


@parity("awrs")
def rng_streams(twin, comp):
    for seed in (0, 1, 2**64 - 1, -5, 123456789):
        a, b = twin.SplitMix64(seed), comp.SplitMix64(seed)
        assert [a.next_u64() for _ in range(5)] == [b.next_u64() for _ in range(5)]
        assert np.array_equal(a.randoms(7), b.randoms(7))
        assert a.random() == b.random()


@parity("awrs")
def prepare_blocks(twin, comp):
    for block_size in (1, 3, 8, 256):
        rs = np.random.default_rng(block_size)
        for _ in range(20):
            nb = int(rs.integers(1, 5))
            x = (rs.random((3, nb * block_size)) ** 8).astype(np.float32)
            keep = (rs.random(nb * block_size) < 0.7).astype(np.float32)
            for k in (keep, None):
                a, b = x.copy(), x.copy()
                assert np.array_equal(
                    twin.prepare(a, k, block_size), comp.prepare(b, k, block_size)
                )
                assert np.array_equal(a, b)


@pytest.mark.parametrize("method", ["smc", "awrs", "mask", "rerank"])
def test_generate_is_identical_with_twins_and_compiled_kernels(monkeypatch, method):
    from awrs.kernels import awrs as _awrs
    from awrs.kernels import resample as _resample

    twin, _ = kernel_pair("awrs")
    rtwin, _ = kernel_pair("resample")
    lm, c = multibyte_lm(), multibyte_constraint()
    kwargs = dict(method=method, n_particles=64, max_tokens=10, seed=3)
    if method == "smc":
        kwargs["ess_threshold"] = 0.9
    compiled = awrs.generate(lm, [1], c, **kwargs)
    assert compiled.stats.resampled or method != "smc"
    for name in _awrs.__all__:
        monkeypatch.setattr(_awrs, name, getattr(twin, name))
    for name in _resample.__all__:
        monkeypatch.setattr(_resample, name, getattr(rtwin, name))
    python = awrs.generate(lm, [1], c, **kwargs)
    assert python.samples == compiled.samples
    assert python.posterior == compiled.posterior
    assert python.stats.resampled == compiled.stats.resampled


# -- categorical --------------------------------------------------------------------------------
@parity("categorical")
def draws(twin, comp):
    rng = np.random.default_rng(0)
    for _ in range(300):
        v = int(rng.integers(1, 50))
        p = rng.random(v).astype(np.float32) * (rng.random(v) < 0.6)
        u = float(rng.random())
        assert twin.sample_categorical(p, u) == comp.sample_categorical(p, u)
    probs = rng.random((6, 40)).astype(np.float32)
    us = rng.random(6)
    assert np.array_equal(
        twin.sample_categorical_batch(probs, us), comp.sample_categorical_batch(probs, us)
    )


# -- dfa ----------------------------------------------------------------------------------------
def _random_table(rng, n: int, density: float) -> np.ndarray:
    table = rng.integers(1, n, size=(n, 256), dtype=np.int32)
    table[rng.random((n, 256)) > density] = 0
    table[0] = 0
    return table


def _random_dfa_vocab(rng, size: int) -> list[bytes]:
    pool = b"abc\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 \n"
    return [bytes(rng.choice(list(pool), size=rng.integers(1, 7))) for _ in range(size)]


def _trie_args(trie: VocabTrie) -> tuple:
    return trie.byte, trie.depth, trie.skip, trie.tok_ptr, trie.tok_ids, trie.vocab_size


@parity("dfa")
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), density=st.floats(0.05, 1.0))
def run_and_batch(twin, comp, seed, density):
    rng = np.random.default_rng(seed)
    table = _random_table(rng, int(rng.integers(2, 40)), density)
    n = table.shape[0]
    states = rng.integers(0, n, size=20).astype(np.int32)
    tokens = [
        bytes(rng.integers(0, 256, size=rng.integers(0, 6)).astype(np.uint8)) for _ in range(20)
    ]
    for s, t in zip(states.tolist(), tokens, strict=True):
        assert comp.dfa_run(table, s, t) == twin.dfa_run(table, s, t)
    np.testing.assert_array_equal(
        comp.dfa_run_batch(table, states, tokens), twin.dfa_run_batch(table, states, tokens)
    )


@parity("dfa")
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), density=st.floats(0.05, 1.0))
def token_mask(twin, comp, seed, density):
    rng = np.random.default_rng(seed)
    vocab = _random_dfa_vocab(rng, 300) + [b""]
    trie = VocabTrie(vocab, exclude={len(vocab) - 1})
    table = _random_table(rng, int(rng.integers(2, 30)), density)
    args = _trie_args(trie)
    for s in range(table.shape[0]):
        want = twin.dfa_token_mask(table, s, *args)
        np.testing.assert_array_equal(comp.dfa_token_mask(table, s, *args), want)
        # the twin is itself the definition: token t passes iff dfa_run leaves a live state
        slow = np.array(
            [
                bool(tok) and i != len(vocab) - 1 and twin.dfa_run(table, s, tok) != 0
                for i, tok in enumerate(vocab)
            ]
        )
        np.testing.assert_array_equal(want, slow)


@parity("dfa")
def deep_trie_grows_the_stack(twin, comp):
    table = np.zeros((2, 256), np.int32)
    table[1, ord("a")] = 1
    vocab = [b"a" * 1000, b"a" * 300 + b"b", b"a"]
    args = _trie_args(VocabTrie(vocab))
    assert comp.dfa_token_mask(table, 1, *args).tolist() == [True, False, True]
    assert twin.dfa_token_mask(table, 1, *args).tolist() == [True, False, True]


@pytest.mark.parametrize("impl", ["twin", "compiled"])
def test_dfa_bad_states_raise(impl):
    mod = load_kernel("dfa", python=True) if impl == "twin" else kernel_pair("dfa")[1]
    table = np.zeros((3, 256), np.int32)
    trie = VocabTrie([b"a"])
    for bad in (-1, 3):
        with pytest.raises(ValueError, match=r"expected a DFA state in \[0, 3\)"):
            mod.dfa_run(table, bad, b"a")
        with pytest.raises(ValueError, match="expected a DFA state"):
            mod.dfa_token_mask(table, bad, *_trie_args(trie))
        with pytest.raises(ValueError, match="expected a DFA state"):
            mod.dfa_run_batch(table, np.array([bad], np.int32), [b"a"])
    with pytest.raises(ValueError, match="expected as many tokens as states"):
        mod.dfa_run_batch(table, np.array([1, 1], np.int32), [b"a"])


# -- lalr ---------------------------------------------------------------------------------------
@functools.cache
def _grammar(name: str) -> Grammar:
    return Grammar(
        importlib.resources.files("awrs.grammars").joinpath(name).read_text(), parser="lalr"
    )


@functools.cache
def _tables(name: str):
    t = _grammar(name)._c.backend.tables
    args = (t.action, t.goto, t.rule_len, t.rule_lhs, t.end_term, t.end_state)
    return load_kernel("lalr", python=True).LALRTables(*args), args


@parity("lalr")
@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(["json.lark", "sql.lark"]), seed=st.integers(0, 2**32 - 1))
def feed_and_feed_end(twin_mod, comp_mod, name, seed):
    twin, args = _tables(name)
    comp = comp_mod.LALRTables(*args)
    rng = np.random.default_rng(seed)
    n_terms = args[0].shape[1]
    stack = (_grammar(name)._c.backend.start_state,)
    for _ in range(40):
        assert comp.feed_end(stack) == twin.feed_end(stack)
        # prefer terminals the state has an action for, so walks get deep
        legal = np.flatnonzero(args[0][stack[-1]])
        term = (
            int(rng.choice(legal))
            if len(legal) and rng.random() < 0.9
            else int(rng.integers(n_terms))
        )
        a, b = comp.feed(stack, term), twin.feed(stack, term)
        assert a == b
        assert a is None or type(a) is tuple
        if a is not None:
            stack = a


@parity("lalr")
def deep_stacks_beyond_the_local_buffer(twin_mod, comp_mod):
    twin, args = _tables("json.lark")
    comp = comp_mod.LALRTables(*args)
    g = _grammar("json.lark")
    state = g.advance(g.start(), b"[" * 700)
    stack = state[0]
    assert len(stack) > 600
    lsqb, rsqb = (g._c.names.index(n) for n in ("LSQB", "RSQB"))
    assert comp.feed(stack, lsqb) == twin.feed(stack, lsqb) == stack + (stack[-1],)
    deeper = comp.feed(stack, rsqb)
    assert deeper == twin.feed(stack, rsqb) and deeper is not None
    assert comp.feed_end(stack) is twin.feed_end(stack) is False


# -- resample -----------------------------------------------------------------------------------
@parity("resample")
@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    w=st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 10)), min_size=1, max_size=30).filter(
        lambda w: sum(w) > 0
    ),
    seed=st.integers(0, 2**32),
)
def schemes(twin, comp, w, seed):
    us = np.random.default_rng(seed).random(len(w))
    w = np.array(w)
    for name in ("multinomial", "stratified"):
        a, b = getattr(twin, name)(w, us), getattr(comp, name)(w, us)
        assert np.array_equal(a, b), name
        assert all(w[i] > 0 for i in a)
    a, b = twin.systematic(w, us[0], len(w)), comp.systematic(w, us[0], len(w))
    assert np.array_equal(a, b)
    assert all(w[i] > 0 for i in a)


# -- trie ---------------------------------------------------------------------------------------
@parity("trie")
def walks(twin, comp):
    for seed in range(6):
        t = VocabTrie(random_vocab(100 + seed, n=800))
        c = constraint(seed)
        args = (*_trie_args(t), b"", c.advance)
        assert np.array_equal(twin.trie_walk(*args), comp.trie_walk(*args))


# -- every case of every kernel -----------------------------------------------------------------
def test_every_kernel_has_parity_cases():
    assert [name for name in KERNELS if not PARITY[name]] == []


@pytest.mark.parametrize(
    "kernel,case",
    [(k, c) for k in KERNELS for c in PARITY[k]],
    ids=[f"{k}-{c.__name__}" for k in KERNELS for c in PARITY[k]],
)
def test_twin_and_compiled_agree(kernel, case):
    case(*kernel_pair(kernel))
