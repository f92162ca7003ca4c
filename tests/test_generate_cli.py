"""The ``awrs generate`` command on the default model: budget on by default, --no-budget off."""

from __future__ import annotations

import json

import pytest

from awrs.cli import build_parser, main


def test_no_budget_flag_parses():
    assert build_parser().parse_args(["generate", "hi"]).no_budget is False
    assert build_parser().parse_args(["generate", "hi", "--no-budget"]).no_budget is True
    assert build_parser().parse_args(["generate", "hi", "--sound-budget"]).sound_budget is True


@pytest.mark.slow
def test_generate_budget_on_by_default_and_off_with_the_flag(capsys):
    # a 7-digit number needs 8 tokens or more with EOS: nothing fits in 4, and only the
    # budget-aware run can tell before the end (its particles are pruned to completion)
    argv = [
        "generate",
        "A phone number:",
        "--regex",
        "[0-9]{3}-[0-9]{4}",
        "--max-tokens",
        "4",
        "--particles",
        "2",
        "--seed",
        "0",
        "--json",
    ]
    for extra, budget_aware in (([], True), (["--no-budget"], False)):
        assert main(argv + extra) == 0
        out = json.loads(capsys.readouterr().out)
        stats = out["stats"]
        assert out["empty"]
        if budget_aware:
            assert stats["out_of_budget"] == 0 and stats["budget_dead"] + stats["dead"] == 2
        else:
            assert stats["budget_pruned"] == 0 and stats["out_of_budget"] == 2


@pytest.mark.one_pass
def test_the_smiles_flag_builds_the_molecule_constraint():
    pytest.importorskip("rdkit")
    from awrs.cli import _constraint

    c = _constraint(build_parser().parse_args(["generate", "hi", "--smiles"]))
    assert type(c).__name__ == "SMILES" and c.accepts("CCO") and not c.accepts("CC(")
    with pytest.raises(SystemExit):  # one constraint at a time
        build_parser().parse_args(["generate", "hi", "--smiles", "--regex", "a"])
