"""The request layer (``awrs/request.py``): constraint specs, sampling options, prompts, METHODS."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import awrs
from awrs.constraints.base import Conjunction
from awrs.errors import ConfigurationError
from awrs.models.toy import ToyLM
from awrs.request import METHODS, ConstraintSpec, SamplingOptions, encode_prompt

DDL = "CREATE TABLE singer (id INT, name TEXT);"
VOCAB = [b"<eos>", b"\n", *(bytes([i]) for i in range(32, 127))]


@pytest.fixture
def lm():
    return ToyLM(VOCAB, 0, lambda ctx: {i: 1 / len(VOCAB) for i in range(len(VOCAB))})


# -- constraint specs --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, source, good, bad",
    [
        ("json_schema", {"type": "integer"}, "12", "1.5"),
        ("json_schema", '{"type": "boolean"}', "true", "1"),
        ("regex", "[0-9]+", "123", "12a"),
        ("pattern", r"(a)\1", "aa", "ab"),
        ("grammar", 'start: "a"+', "aaa", "b"),
        ("sql", DDL, "SELECT name FROM singer", "SELECT FROM"),
        pytest.param("smiles", True, "CCO", "CC(", marks=pytest.mark.one_pass),
        pytest.param("smiles", {"fragments": True}, "CC.O", "CC.", marks=pytest.mark.one_pass),
    ],
)
def test_every_kind_builds(kind, source, good, bad):
    c = ConstraintSpec(kind, source).build()
    assert c.accepts(good) and not c.accepts(bad)


def test_a_spec_is_a_small_frozen_value():
    spec = ConstraintSpec("regex", "a", {"flags": 0})
    assert not hasattr(spec, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.kind = "pattern"
    options = {"timeout": 1.0}
    spec = ConstraintSpec("pattern", "a", options)
    options["timeout"] = 2.0
    assert spec.options == {"timeout": 1.0}  # a copy


def test_the_whitespace_rule_is_shared():
    grammar = 'start: "a" " "* "b"'
    bounded = ConstraintSpec("grammar", grammar, {"max_whitespace": 2}).build()
    assert isinstance(bounded, Conjunction)
    assert bounded.accepts("a  b") and not bounded.accepts("a   b")
    for unbounded in (None, 0):
        c = ConstraintSpec("grammar", grammar, {"max_whitespace": unbounded}).build()
        assert isinstance(c, awrs.Grammar) and c.accepts("a      b")
    assert isinstance(ConstraintSpec("grammar", grammar).build(), awrs.Grammar)
    for given, expected in ((3, 3), (0, None), (None, None)):
        sql = ConstraintSpec("sql", DDL, {"max_whitespace": given}).build()
        assert sql.max_whitespace == expected
    assert ConstraintSpec("sql", DDL).build().max_whitespace == 16  # SQL's own default
    # settings are given once for every kind; the kinds they do not concern ignore them
    c = ConstraintSpec("regex", "a b", {"max_whitespace": 1, "sql_root": None}).build()
    assert isinstance(c, awrs.Regex)


def test_constructor_options_pass_through():
    assert ConstraintSpec("pattern", "a+", {"timeout": 0.25}).build().timeout == 0.25
    assert ConstraintSpec("sql", DDL, {"introspection": True}).build().introspection
    compact = ConstraintSpec("json_schema", {"type": "object"}, {"whitespace": "compact"}).build()
    assert compact.accepts("{}") and not compact.accepts("{ }")


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: ConstraintSpec("xml", "<a/>"),
            "unknown constraint kind 'xml': expected json_schema",
        ),
        (lambda: ConstraintSpec("regex", 5).build(), "regex must be a string, got int"),
        (lambda: ConstraintSpec("grammar", ["x"]).build(), "grammar must be a string, got list"),
        (
            lambda: ConstraintSpec("regex", "a", {"timeout": 1}).build(),
            r"unknown option 'timeout' for a regex constraint: expected one of \[",
        ),
        (
            lambda: ConstraintSpec("regex", "a", ["flags"]),
            "options of a regex spec must be a mapping",
        ),
        (
            lambda: ConstraintSpec("grammar", 'start: "a"', {"max_whitespace": -1}).build(),
            r"max_whitespace must be None or an integer >= 0 \(0: unbounded\), got -1",
        ),
        (lambda: ConstraintSpec("sql", DDL, {"max_whitespace": 2.5}).build(), "max_whitespace"),
        (lambda: ConstraintSpec("smiles", "CCO").build(), "smiles expects true or a mapping"),
        (
            lambda: ConstraintSpec("smiles", {"salts": True}).build(),
            r"unknown option 'salts' for a smiles constraint",
        ),
        (
            lambda: ConstraintSpec("sql", "db.sqlite", {"sql_root": None}).build(),
            "not DDL text .* nor an SQLite file this job may open",
        ),
    ],
)
def test_spec_errors_name_what_was_given_and_expected(make, match):
    if "smiles" in match:
        pytest.importorskip("rdkit")
    with pytest.raises(ConfigurationError, match=match):
        make()


def test_specs_from_files(tmp_path):
    (tmp_path / "digit.lark").write_text("DIGIT: /[0-9]/\n")
    (tmp_path / "g.lark").write_text('start: DIGIT " "* DIGIT\n%import .digit.DIGIT\n')
    spec = ConstraintSpec.from_file("grammar", tmp_path / "g.lark", {"max_whitespace": 1})
    assert spec.options["import_paths"] == (str(tmp_path),)
    c = spec.build()
    assert c.accepts("1 2") and not c.accepts("1  2")
    (tmp_path / "s.json").write_text('{"type": "integer"}')
    assert ConstraintSpec.from_file("json_schema", tmp_path / "s.json").build().accepts("7")
    (tmp_path / "s.sql").write_text(DDL)
    assert ConstraintSpec.from_file("sql", tmp_path / "s.sql").source == DDL
    (tmp_path / "x.sqlite").write_bytes(b"")
    assert ConstraintSpec.from_file("sql", tmp_path / "x.sqlite").source == str(
        tmp_path / "x.sqlite"
    )  # a database: opened by SQL, not read here
    with pytest.raises(ConfigurationError, match="cannot read .*missing.lark"):
        ConstraintSpec.from_file("grammar", tmp_path / "missing.lark")
    with pytest.raises(ConfigurationError, match="sql expects an SQLite file or a DDL file"):
        ConstraintSpec.from_file("sql", tmp_path / "missing.sqlite")


def test_batch_builds_through_the_spec():
    from awrs.jobs import build_constraint

    c = build_constraint("grammar", 'start: "a" " "* "b"', max_whitespace=2)
    assert isinstance(c, Conjunction) and not c.accepts("a   b")
    assert build_constraint("sql", DDL, max_whitespace=None).max_whitespace is None


# -- sampling options --------------------------------------------------------------------------
def test_options_are_validated_once_and_name_the_field():
    with pytest.raises(ConfigurationError, match="n_particles must be an integer >= 1, got 0"):
        SamplingOptions(n_particles=0)
    with pytest.raises(ConfigurationError, match="budget must be True, False or 'sound'"):
        SamplingOptions(budget="maybe")
    with pytest.raises(ConfigurationError, match="budget_twist=True needs method='smc'"):
        SamplingOptions(method="awrs", budget_twist=True)
    with pytest.raises(ConfigurationError, match="guide must be None, True or False"):
        SamplingOptions(guide="yes")
    with pytest.raises(ConfigurationError, match="unknown method 'beam'"):
        dataclasses.replace(SamplingOptions(), method="beam")
    o = SamplingOptions(method="awrs", n_particles=3, seed=7)
    assert not hasattr(o, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.seed = 1
    assert o.draw_seed() == 7 and not o.twist and SamplingOptions().twist


def test_unknown_keywords_are_a_type_error_naming_them(lm):
    with pytest.raises(
        TypeError, match="generate\\(\\) got an unexpected keyword argument 'particles'"
    ):
        awrs.generate(lm, [1], None, method="direct", particles=2)
    with pytest.raises(TypeError, match="make_sampler\\(\\) got an unexpected keyword"):
        awrs.make_sampler(lm, [1], None, method="direct", nope=1)
    with pytest.raises(ConfigurationError, match="options must be an awrs.SamplingOptions"):
        awrs.generate(lm, [1], None, options={"method": "direct"})


def test_options_object_and_keywords_sample_the_same(lm):
    c = awrs.Regex("[0-9]{1,3}")
    kw = dict(method="smc", n_particles=4, max_tokens=5, seed=3)
    by_keywords = awrs.generate(lm, [40], c, **kw)
    by_object = awrs.generate(lm, [40], c, options=SamplingOptions(**kw))
    overridden = awrs.generate(lm, [40], c, options=SamplingOptions(**{**kw, "seed": 9}), seed=3)
    assert by_keywords.samples == by_object.samples == overridden.samples


def test_the_signature_lists_the_options_once():
    import inspect

    fields = [f.name for f in dataclasses.fields(SamplingOptions)]
    for fn in (awrs.generate, awrs.make_sampler):
        params = inspect.signature(fn).parameters
        assert list(params)[:4] == ["lm", "prompt", "constraint", "options"]
        assert list(params)[4:] == fields
        assert params["n_particles"].default == 8


# -- prompts -----------------------------------------------------------------------------------
def test_chat_messages_are_a_prompt(lm):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Age?"}]
    assert encode_prompt(lm, msgs) == lm.chat(msgs) == awrs.chat(lm, msgs)
    c = awrs.Regex("[0-9]{1,3}")
    s = awrs.make_sampler(lm, msgs, c, method="awrs", n_particles=2, max_tokens=4, seed=0)
    assert s.prompt_ids == lm.chat(msgs)
    by_messages = awrs.generate(lm, msgs, c, n_particles=3, max_tokens=4, seed=1, raw=True)
    by_ids = awrs.generate(lm, lm.chat(msgs), c, n_particles=3, max_tokens=4, seed=1)
    assert by_messages.samples == by_ids.samples


@pytest.mark.parametrize(
    "prompt, match",
    [
        (5, "prompt must be a string or a list of token ids or of chat messages"),
        ([{"role": "user"}], "chat messages must be {'role': str, 'content': str} mappings"),
        ([{"role": "user", "content": "a"}, 3], "chat messages must be"),
        ([1, "a"], "prompt token ids must be integers"),
        ([], "the prompt has no tokens"),
    ],
)
def test_anything_else_is_refused(lm, prompt, match):
    with pytest.raises(ConfigurationError, match=match):
        awrs.generate(lm, prompt, None, method="direct")


# -- one METHODS, one make_sampler, no cycle ----------------------------------------------------
def test_methods_is_one_object():
    import awrs.cli
    import awrs.sampling
    import awrs.sampling.api
    import awrs.serve.schemas as schemas

    assert awrs.METHODS is METHODS is awrs.sampling.METHODS is awrs.sampling.api.METHODS
    assert awrs.cli.METHODS is METHODS
    assert METHODS == ("smc", "awrs", "mask", "rerank", "direct")
    field = schemas.Extensions.model_fields["method"].annotation
    assert set(typing.get_args(typing.get_args(field)[0])) == set(METHODS)
    gen = awrs.cli.build_parser()._subparsers._group_actions[0].choices["generate"]
    assert next(a for a in gen._actions if a.dest == "method").choices is METHODS


def test_serve_and_batch_use_the_one_make_sampler():
    import awrs.jobs.worker  # noqa: F401
    import awrs.sampling.api
    import awrs.sampling.sampler
    import awrs.serve.app as app

    assert app.make_sampler is awrs.sampling.api.make_sampler is awrs.make_sampler
    assert not hasattr(awrs.sampling.sampler, "make_sampler")


def test_sampler_does_not_import_api():
    import awrs.sampling.sampler as sampler

    tree = ast.parse(Path(sampler.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(m and m.endswith("api") for m in imported)


@pytest.mark.parametrize("order", [("api", "sampler"), ("sampler", "api")])
def test_either_import_order_works(order):
    code = (
        "; ".join(f"import awrs.sampling.{m}" for m in order)
        + "; import awrs.sampling.api as a; assert a.make_sampler"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
