"""Input records: parsing, defaults, errors; output lines are strict JSON."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awrs import ConfigurationError
from awrs.jobs.records import check_ids, error_line, parse_record, read_input, result_line


def test_defaults_fill_missing_options_and_record_options_win():
    rec = parse_record(
        {"id": 1, "prompt": "p", "regex": "a", "max_tokens": 5},
        {"n_particles": 3, "max_tokens": 9, "method": "awrs"},
    )
    assert rec.constraint == ("regex", "a")
    assert rec.options["max_tokens"] == 5 and rec.options["n_particles"] == 3
    assert rec.options["method"] == "awrs"
    chat = parse_record({"id": 2, "prompt": [{"role": "user", "content": "hi"}]})
    assert chat.constraint is None and chat.prompt[0]["content"] == "hi"


@pytest.mark.parametrize(
    "obj, match",
    [
        ({"id": 1}, "prompt must be"),
        ({"id": 1, "prompt": [{"role": "user"}]}, "prompt must be"),
        ({"id": 1, "prompt": "p", "regex": "a", "pattern": "b"}, "at most one constraint"),
        ({"id": 1, "prompt": "p", "schema": {}}, "unknown keys"),
        ({"id": 1, "prompt": "p", "max_tokens": 0}, "max_tokens must be"),
        ({"id": 1, "prompt": "p", "n_particles": True}, "n_particles must be"),
        ({"id": 1, "prompt": "p", "seed": 1.5}, "seed must be"),
    ],
)
def test_bad_records_are_named(obj, match):
    with pytest.raises(ConfigurationError, match=match) as info:
        parse_record(obj)
    assert "record 1" in str(info.value)


def test_input_lines_get_their_line_number_as_default_id(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"prompt": "a"}\n\n{"id": "x", "prompt": "b"}\n')
    assert [obj["id"] for _, obj in read_input(path)] == [1, "x"]
    path.write_text('{"prompt": "a"}\n[1, 2]\n')
    with pytest.raises(ConfigurationError, match=r"in.jsonl:2: expected a JSON object"):
        list(read_input(path))
    path.write_text('{"prompt": \n')
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        list(read_input(path))
    with pytest.raises(ConfigurationError, match="cannot read input"):
        list(read_input(tmp_path / "missing.jsonl"))


def test_ids_are_unique_and_typed():
    assert check_ids([{"id": 1}, {"id": "1"}, {"id": 2}]) == 3  # 1 and "1" differ
    with pytest.raises(ConfigurationError, match="duplicate record id 'a'"):
        check_ids([{"id": "a"}, {"id": "a"}])
    with pytest.raises(ConfigurationError, match="string or a number"):
        check_ids([{"id": [1]}])


def test_lines_are_strict_json(toy_lm):
    import awrs

    res = awrs.generate(
        toy_lm, "q", awrs.Regex("[0-9]"), method="awrs", n_particles=2, max_tokens=3, seed=0
    )
    assert math.isnan(res.log_ml)
    line = result_line("a", res, top=1)
    text = json.dumps(line, allow_nan=False)
    assert json.loads(text)["log_ml"] is None and len(line["posterior"]) == 1
    assert line["stats"]["method"] == "awrs" and "dead" in line["stats"]
    err = error_line(3, ConfigurationError("bad"))
    assert err == {"id": 3, "error": {"type": "ConfigurationError", "message": "bad"}}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_keys = st.sampled_from(
    [
        "id",
        "prompt",
        "regex",
        "json_schema",
        "grammar",
        "method",
        "n_particles",
        "max_tokens",
        "seed",
        "temperature",
        "other",
    ]
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_keys, _json, max_size=6))
def test_any_json_object_parses_or_is_refused_clearly(obj):
    try:
        rec = parse_record(obj)
    except ConfigurationError as exc:
        assert str(exc).startswith("record ")
    else:
        assert rec.options["max_tokens"] >= 1 and rec.prompt
