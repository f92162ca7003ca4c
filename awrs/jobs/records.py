"""Input records and output lines of a batch job (one JSON object per line each)."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

#: the constraint keys a record may carry (at most one)
CONSTRAINT_KEYS = ("json_schema", "regex", "pattern", "grammar", "sql", "smiles")
#: per-record options, with their defaults when neither the record nor the job sets them
OPTIONS = {"method": None, "n_particles": 4, "max_tokens": 128, "seed": None, "temperature": 1.0}
_KNOWN = {"id", "prompt", *CONSTRAINT_KEYS, *OPTIONS}


@dataclass(frozen=True, slots=True)
class Record:
    """One unit of work: a prompt, an optional constraint spec, and the sampling options.

    Attributes:
        id: the record's id (any JSON scalar), written back on its output line.
        prompt: text, or chat messages (a list of ``{"role", "content"}`` objects).
        constraint: ``(kind, value)`` with kind in :data:`CONSTRAINT_KEYS`, or ``None``.
        options: ``method``, ``n_particles``, ``max_tokens``, ``seed``, ``temperature``.
    """

    id: Any
    prompt: Any
    constraint: tuple[str, Any] | None
    options: dict = field(default_factory=dict)


def parse_record(obj: dict, defaults: dict | None = None) -> Record:
    """A :class:`Record` from one decoded input object; job ``defaults`` fill missing options.

    Raises:
        ConfigurationError: a missing prompt, two constraints, an unknown key, an option of
            the wrong type (the message names the record's id).
    """
    rid = obj.get("id")
    unknown = sorted(set(obj) - _KNOWN)
    if unknown:
        raise ConfigurationError(
            f"record {rid!r}: unknown keys {unknown}: expected some of {sorted(_KNOWN)}"
        )
    prompt = obj.get("prompt")
    if not (isinstance(prompt, str) and prompt) and not _is_messages(prompt):
        raise ConfigurationError(
            f"record {rid!r}: prompt must be non-empty text or a list of chat messages "
            f"({{'role': ..., 'content': ...}}), got {_short(prompt)}"
        )
    kinds = [k for k in CONSTRAINT_KEYS if obj.get(k) is not None]
    if len(kinds) > 1:
        raise ConfigurationError(f"record {rid!r}: expected at most one constraint, got {kinds}")
    options = {**OPTIONS, **(defaults or {})}
    options.update({k: obj[k] for k in OPTIONS if obj.get(k) is not None})
    _check_options(rid, options)
    spec = (kinds[0], obj[kinds[0]]) if kinds else None
    return Record(rid, prompt, spec, options)


def _is_messages(prompt) -> bool:
    return (
        isinstance(prompt, list)
        and bool(prompt)
        and all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in prompt
        )
    )


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_options(rid, o: dict) -> None:
    for key in ("n_particles", "max_tokens"):
        if not _is_int(o[key]) or o[key] < 1:
            raise ConfigurationError(
                f"record {rid!r}: {key} must be an integer >= 1, got {o[key]!r}"
            )
    if o["seed"] is not None and not _is_int(o["seed"]):
        raise ConfigurationError(f"record {rid!r}: seed must be an integer, got {o['seed']!r}")
    if o["method"] is not None and not isinstance(o["method"], str):
        raise ConfigurationError(f"record {rid!r}: method must be a string, got {o['method']!r}")


def _short(x, n: int = 60) -> str:
    s = repr(x)
    return s if len(s) <= n else s[: n - 3] + "..."


def read_input(path: str | Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line of a JSONL file; a missing ``id``
    becomes the line number (1-based).

    Raises:
        ConfigurationError: the file cannot be read, or a line is not a JSON object.
    """
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 - entered below, open errors apart
    except OSError as exc:
        raise ConfigurationError(f"cannot read input {str(path)!r}: {exc.strerror}") from exc
    with fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield n, _decode(line, n, path)


def _decode(line: str, n: int, path) -> dict:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{path}:{n}: not valid JSON ({exc.msg}): expected one JSON object per line"
        ) from None
    if not isinstance(obj, dict):
        raise ConfigurationError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
    obj.setdefault("id", n)
    return obj


def check_ids(objs: Iterable[dict]) -> int:
    """Count the records, raising :class:`ConfigurationError` on a duplicate or unusable id."""
    seen: set = set()
    for obj in objs:
        rid = obj.get("id")
        if isinstance(rid, (dict, list)) or rid is None:
            raise ConfigurationError(f"record id must be a string or a number, got {_short(rid)}")
        key = id_key(rid)
        if key in seen:
            raise ConfigurationError(f"duplicate record id {rid!r}: expected unique ids")
        seen.add(key)
    return len(seen)


def id_key(rid) -> str:
    """The id's canonical JSON text (so ``1`` and ``"1"`` stay distinct)."""
    return json.dumps(rid, sort_keys=True)


# -- output lines -------------------------------------------------------------------------------
def _finite(x):
    return float(x) if isinstance(x, numbers.Real) and math.isfinite(x) else None


def result_line(rid, result, top: int = 5) -> dict:
    """The output line of a finished :class:`~awrs.Result`: text, top ``top`` posterior
    entries, ``log_ml`` (``null`` when not finite), ``empty`` and a stats summary."""
    s = result.stats
    stats = {
        "method": s.method,
        "seed": s.seed,
        "n_particles": s.n_particles,
        "tokens": s.tokens,
        "steps": s.steps,
        "lm_calls": s.lm_calls,
        "evaluations": s.total_evaluations,
        "wall_time": round(s.wall_time, 4),
    }
    for extra in ("dead", "out_of_budget"):
        value = getattr(s, extra, None)
        if value is not None:
            stats[extra] = value
    posterior = dict(list(result.posterior.items())[:top])
    return {
        "id": rid,
        "text": result.text,
        "posterior": posterior,
        "log_ml": _finite(result.log_ml),
        "empty": bool(result.empty),
        "stats": stats,
    }


def error_line(rid, exc: BaseException | str, kind: str | None = None) -> dict:
    """The output line of a record that failed: ``{"id", "error": {"type", "message"}}``."""
    if isinstance(exc, BaseException):
        kind, message = kind or type(exc).__name__, str(exc)
    else:
        kind, message = kind or "Error", exc
    return {"id": rid, "error": {"type": kind, "message": message}}
