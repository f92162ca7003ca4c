"""The SQL constraint on the harness's Spider data: every gold query passes byte by byte."""

from __future__ import annotations

import json

import pytest

from awrs.constraints.sql import SQL


@pytest.mark.parametrize("strict", [False, True])
def test_spider_gold_queries_pass_byte_by_byte(data_dir, strict):
    path = data_dir / "spider" / "dev-open.json"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    from bench.suites.sql import schemas

    tables = schemas()
    dev = [q for q in json.loads(path.read_text()) if q["db_id"] in tables]
    built: dict[str, SQL] = {}
    for q in dev[::3]:
        c = built.get(q["db_id"]) or built.setdefault(
            q["db_id"], SQL(tables[q["db_id"]], schema_prefix=True, strict_names=strict)
        )
        state, raw = c.start(), q["query"].encode()
        for i in range(len(raw)):
            state = c.advance(state, raw[i : i + 1])
            assert state is not None, (q["query"], raw[: i + 1])
