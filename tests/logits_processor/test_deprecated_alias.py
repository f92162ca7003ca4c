"""``awrs.hf`` is the deprecated name of :mod:`awrs.logits_processor`: it warns and re-exports."""

from __future__ import annotations

import importlib
import sys

import pytest

import awrs
from awrs.logits_processor import ConstraintLogitsProcessor


def test_import_awrs_hf_warns_and_reexports(monkeypatch):
    monkeypatch.delitem(sys.modules, "awrs.hf", raising=False)
    with pytest.warns(DeprecationWarning, match="awrs.logits_processor"):
        hf = importlib.import_module("awrs.hf")
    assert hf.ConstraintLogitsProcessor is ConstraintLogitsProcessor
    assert hf.__all__ == ["ConstraintLogitsProcessor"]


def test_the_new_name_is_exported_and_the_old_one_is_not():
    assert awrs.logits_processor.ConstraintLogitsProcessor is ConstraintLogitsProcessor
    assert "logits_processor" in awrs.__all__ and "hf" not in awrs.__all__
