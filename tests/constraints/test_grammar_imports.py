"""A grammar given as text may ``%import`` only lark's ``common`` and the grammars shipped with
awrs; the refusal says nothing about the files around the process."""

from __future__ import annotations

import os

import pytest

import awrs
from awrs import ConstraintError, Grammar


@pytest.fixture
def in_tmp(tmp_path):
    """The working directory is ``tmp_path``, which holds ``foo.lark`` (a terminal X)."""
    (tmp_path / "foo.lark").write_text('X: "x"\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.lark").write_text('X: "x"\n')
    cwd = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(cwd)


def refusal(text: str) -> str:
    with pytest.raises(ConstraintError) as info:
        Grammar(text)
    return str(info.value)


@pytest.mark.parametrize("name", [".foo.X", "foo.X", ".sub.deep.X", "sub.deep.X", "foo (X)"])
def test_other_imports_are_refused_alike_whether_or_not_the_file_exists(in_tmp, name):
    present = refusal(f"start: X\n%import {name}\n")  # foo.lark, sub/deep.lark exist
    absent = refusal(f"start: X\n%import {name.replace('foo', 'qux').replace('deep', 'qux')}\n")
    assert present.replace("foo", "qux").replace("deep", "qux") == absent
    assert "common" in present and "sql" in present and "line 2" in present


@pytest.mark.parametrize(
    "name", ["lark.X", "python.X", "unicode.X", "common.sub.X", "..foo.X", ".common.WS"]
)
def test_lark_library_files_other_than_common_are_refused(in_tmp, name):
    assert "line 2" in refusal(f"start: X\n%import {name}\n")


def test_common_and_the_shipped_grammars_import():
    g = Grammar("start: WORD (WS WORD)*\n%import common.WORD\n%import common.WS\n")
    assert g.accepts("ab cd") and not g.accepts("ab  ")
    assert Grammar("start: NUMBER\n%import common (NUMBER)\n").accepts("12")
    assert Grammar("start: value\n%import json.value\n").accepts('{"a":[1,true]}')
    assert Grammar("start: W\n%import common.WS -> W\n").accepts(" ")


def test_files_and_import_paths_still_import_for_library_callers(tmp_path):
    (tmp_path / "inner.lark").write_text("WORD: /[a-z]+/\n")
    outer = tmp_path / "outer.lark"
    outer.write_text('start: WORD ("," WORD)*\n%import .inner.WORD\n')
    assert Grammar.from_file(outer).accepts("ab,c")
    g = Grammar("start: WORD\n%import inner.WORD\n", import_paths=(str(tmp_path),))
    assert g.accepts("abc")


def test_served_and_batch_grammars_are_guarded(in_tmp):
    from awrs.jobs import build_constraint

    with pytest.raises(ConstraintError, match="not allowed in a grammar given as text"):
        build_constraint("grammar", "start: X\n%import .foo.X\n")
    assert build_constraint("grammar", "start: X\n%import common.DIGIT -> X\n").accepts("7")
    assert isinstance(awrs.Grammar('start: X\nX: "x"\n'), Grammar)
