"""The output writer: resumable, repairs an interrupted last line, never writes an id twice."""

from __future__ import annotations

import pytest
from batch_helpers import read_lines

from awrs import AwrsError, ConfigurationError
from awrs.jobs import OutputWriter


def test_ids_already_written_are_known_on_reopen(tmp_path):
    path = tmp_path / "out.jsonl"
    with OutputWriter(path) as w:
        w.write({"id": 1, "text": "a"})
        w.write({"id": "1", "error": {"type": "X", "message": "m"}})
        with pytest.raises(AwrsError, match="already has an output line"):
            w.write({"id": 1, "text": "b"})
    with OutputWriter(path) as w:
        assert w.has(1) and w.has("1") and not w.has(2)
        w.write({"id": 2, "text": "c"})
    assert [line["id"] for line in read_lines(path)] == [1, "1", 2]


def test_an_interrupted_last_line_is_cut_and_its_record_redone(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": 1, "text": "a"}\n{"id": 2, "te')
    with OutputWriter(path) as w:
        assert w.has(1) and not w.has(2)
        w.write({"id": 2, "text": "b"})
    assert read_lines(path) == [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}]


def test_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("hello\n")
    with pytest.raises(ConfigurationError, match="out.jsonl:1: not an awrs batch output"):
        OutputWriter(path)


def test_no_path_keeps_lines_in_memory():
    w = OutputWriter(None)
    w.write({"id": 1})
    assert w.lines == [{"id": 1}] and w.written == 1
