"""Records and output checks shared by the batch tests."""

from __future__ import annotations

import json

import awrs

BOOLS = {"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 2}


def records(n: int, bad: int | None = None) -> list[dict]:
    """``n`` records cycling through two regexes and a JSON schema, text and chat prompts;
    record ``bad`` gets a malformed schema. (No ``pattern``: ``awrs.Pattern`` accepts a
    partial UTF-8 character after a complete match, a dead end for short budgets.)"""
    out = []
    for i in range(n):
        rec = {"id": f"r{i}"}
        if i == bad:
            rec.update(prompt="Anything", json_schema={"type": "nonsense"})
        elif i % 3 == 0:
            rec.update(prompt=f"Phone number {i}:", regex=r"[0-9]{3}-[0-9]{4}")
        elif i % 3 == 1:
            rec.update(
                prompt=[{"role": "user", "content": f"Is {i} even? JSON list."}], json_schema=BOOLS
            )
        else:
            rec.update(prompt=f"A year after {1900 + i}:", regex=r"(19|20)[0-9]{2}")
        out.append(rec)
    return out


def write_jsonl(path, objs) -> None:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def constraint_of(rec: dict):
    if "regex" in rec:
        return awrs.Regex(rec["regex"])
    if "pattern" in rec:
        return awrs.Pattern(rec["pattern"])
    return awrs.JSONSchema(rec["json_schema"])


def check_output(recs: list[dict], lines: list[dict], bad: set[str] = frozenset()) -> None:
    """Every id exactly once; results valid under their own constraint; ``bad`` ids errors."""
    ids = [line["id"] for line in lines]
    assert sorted(ids) == sorted(r["id"] for r in recs), "every id exactly once"
    by_id = {r["id"]: r for r in recs}
    for line in lines:
        if line["id"] in bad:
            assert line["error"]["type"] == "ConstraintError", line
            continue
        assert "error" not in line, line
        c = constraint_of(by_id[line["id"]])
        assert line["empty"] == (line["text"] is None)
        for text in [line["text"], *line["posterior"]]:
            assert text is None or c.accepts(text), (line["id"], text)
        assert line["stats"]["tokens"] > 0
