"""A batch record's ``sql`` may name an SQLite file only inside the operator's ``--sql-root``,
and every refused path gets one message, whether or not the file exists."""

from __future__ import annotations

import os
import sqlite3

import pytest

import awrs
from awrs.cli import build_parser
from awrs.jobs import ConstraintCache, build_constraint

DDL = "CREATE TABLE singer (id INT, name TEXT);"


def make_db(path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(DDL)
    conn.commit()
    conn.close()


@pytest.fixture
def tree(tmp_path):
    """``root/`` with ``db.sqlite`` and ``sub/inner.sqlite``; ``outside.sqlite`` beside it and
    ``root/link.sqlite`` pointing at it."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    make_db(root / "db.sqlite")
    make_db(root / "sub" / "inner.sqlite")
    make_db(tmp_path / "outside.sqlite")
    os.symlink(tmp_path / "outside.sqlite", root / "link.sqlite")
    os.symlink(tmp_path, root / "uplink")
    return root


def refusal(value, root) -> str:
    with pytest.raises(awrs.ConfigurationError) as info:
        build_constraint("sql", value, sql_root=root)
    return str(info.value).replace(repr(value), "<path>")


def test_a_path_inside_the_root_opens_read_only(tree):
    for value in ("db.sqlite", "sub/inner.sqlite", str(tree / "db.sqlite"), "sub/../db.sqlite"):
        c = build_constraint("sql", value, sql_root=str(tree))
        assert c.accepts("SELECT name FROM singer") and not c.accepts("SELECT x FROM singer")
    assert build_constraint("sql", DDL, sql_root=None).accepts("SELECT id FROM singer")


def test_every_refused_path_gets_the_same_message(tree):
    root = str(tree)
    outside = tree.parent / "outside.sqlite"
    values = [
        str(outside),
        "../outside.sqlite",
        "link.sqlite",
        "uplink/outside.sqlite",
        "missing.sqlite",
        "sub/missing.sqlite",
        "../missing.sqlite",
        str(tree.parent / "no"),
        "/etc/passwd",
        "/nonexistent/x.db",
        "sub",
        ".",
        "",
        "a\0b",
        "../" * 40 + "etc",
    ]
    messages = {refusal(v, root) for v in values}
    assert len(messages) == 1, messages
    (message,) = messages
    assert "--sql-root" in message
    # without a root every path is refused, the existing ones included, again alike
    none = {refusal(v, None) for v in values + ["db.sqlite", str(tree / "db.sqlite")]}
    assert len(none) == 1 and "none was given" in none.pop()


def test_the_cache_and_a_job_carry_the_root(tree, toy_lm):
    cache = ConstraintCache(sql_root=str(tree))
    assert cache.get("sql", "db.sqlite").accepts("SELECT id FROM singer")
    with pytest.raises(awrs.ConfigurationError, match="--sql-root"):
        ConstraintCache().get("sql", "db.sqlite")
    recs = [
        {"id": 1, "prompt": "q", "sql": "db.sqlite"},
        {"id": 2, "prompt": "q", "sql": "../outside.sqlite"},
        {"id": 3, "prompt": "q", "sql": "nothing.sqlite"},
    ]
    s = awrs.batch(recs, model=toy_lm, max_tokens=2, n_particles=1, seed=0, sql_root=tree)
    by_id = {line["id"]: line for line in s.lines}
    assert "error" not in by_id[1]
    assert by_id[2]["error"]["message"].replace("../outside.sqlite", "P") == by_id[3]["error"][
        "message"
    ].replace("nothing.sqlite", "P")
    with pytest.raises(awrs.ConfigurationError, match="sql_root"):
        awrs.batch(recs, model=toy_lm, sql_root=tree / "missing")


def test_the_cli_option():
    args = build_parser().parse_args(["batch", "in.jsonl", "out.jsonl", "--sql-root", "dbs"])
    assert args.sql_root == "dbs"
    assert build_parser().parse_args(["batch", "in.jsonl", "out.jsonl"]).sql_root is None
