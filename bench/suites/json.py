"""The JSON suite: MaskBench open schemas; valid-JSON rate and schema compliance."""

from __future__ import annotations

import json
from functools import lru_cache

from bench.common import data_path

from . import Item, Score, Spec, Suite
from .patterns import subset

SYSTEM = "You are a helpful assistant that answers with JSON only."
INSTRUCTION = (
    "Write a realistic JSON value that conforms to the following JSON Schema. Reply with the "
    "JSON value only, without explanations or code fences.\n\nSchema:\n{schema}"
)
#: JSON generation policies (``--json-policy``): ``awrs.JSONSchema`` options. ``natural`` is
#: the constraint's default; ``compact-open`` is the language generated before it.
POLICIES = {
    "natural": {"whitespace": "natural", "strict": True},
    "compact": {"whitespace": "compact", "strict": True},
    "natural-escapes": {"whitespace": "natural", "strict": True, "literal_keys": False},
    "natural-open": {"whitespace": "natural", "strict": False},
    "compact-open": {"whitespace": "compact", "strict": False},
}
#: schemas longer than this (compact JSON characters) are left out to keep prompts in context
MAX_SCHEMA_CHARS = 4000


def messages(schema: dict) -> tuple[dict[str, str], ...]:
    """The instruction with the schema, as chat messages."""
    text = json.dumps(schema, separators=(",", ":"))
    return (
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": INSTRUCTION.format(schema=text)},
    )


def check(schema: dict, text: str) -> tuple[bool, bool, str]:
    """(parses as JSON, conforms to the schema, error message) of an output text."""
    import jsonschema

    try:
        value = json.loads(text)
    except ValueError as exc:
        return False, False, f"json: {exc}"
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        errors = list(cls(schema, format_checker=jsonschema.FormatChecker()).iter_errors(value))
    except Exception as exc:  # an unresolvable $ref, a broken schema: not compliant, say why
        return True, False, f"schema: {type(exc).__name__}: {exc}"[:200]
    return True, not errors, (errors[0].message[:200] if errors else "")


@lru_cache(maxsize=2)
def _records(path: str) -> list[dict]:
    """MaskBench records whose schema fits :data:`MAX_SCHEMA_CHARS`, in file order."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if len(json.dumps(rec["schema"], separators=(",", ":"))) <= MAX_SCHEMA_CHARS:
                records.append(rec)
    return records


class JSONSuite(Suite):
    """``maskbench/maskbench-open.jsonl``; score: schema compliance (jsonschema).

    Formats are assertions (every format jsonschema knows, whatever the schema's draft), as
    in MaskBench's labels.
    """

    name = "json"
    metric = "schema_ok"
    version = "2"  # 2: JSONSchema's default policy became natural layout, declared properties
    extra_metrics = ("valid_json",)
    policies = POLICIES

    def items(self, limit=None):
        records = _records(str(data_path("maskbench", "maskbench-open.jsonl")))
        return [
            Item(records[i]["id"], messages(records[i]["schema"]), {"schema": records[i]["schema"]})
            for i in subset(len(records), limit)
        ]

    def constraint(self, item, policy: str | None = None):
        """``awrs.JSONSchema`` of the item, under a policy of :data:`POLICIES` (default: the
        constraint's own defaults)."""
        from awrs.request import ConstraintSpec

        policy_options = POLICIES.get(policy or "natural", {})
        return ConstraintSpec("json_schema", item.data["schema"], policy_options).build()

    def spec(self, item, constraint=None):
        return Spec("json_schema", item.data["schema"], constraint)

    def score(self, item, text):
        parsed, ok, err = check(item.data["schema"], text)
        metrics = {"valid_json": float(parsed)}
        if err:
            metrics["error"] = err
        return Score(ok, float(ok), metrics)


SUITE = JSONSuite()
