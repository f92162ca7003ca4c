"""The output file of a batch job: one line per record, appended as records finish."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import AwrsError, ConfigurationError
from .records import id_key


class OutputWriter:
    """Appends output lines to a JSONL file, flushing each, and knows the ids already there.

    Opening an existing file reads the ids it holds (so a rerun skips them) and cuts off a
    last line left incomplete by a crash (that record is run again). Writing an id twice
    raises: every record has exactly one line. ``path=None`` keeps the lines in memory
    (``lines``).
    """

    def __init__(self, path: str | os.PathLike | None):
        self.path = None if path is None else Path(path)
        self.done: set[str] = set()
        self.lines: list[dict] = []
        self.written = 0
        self._fh = None
        if self.path is not None:
            self._load(self.path)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read output {str(path)!r}: {exc.strerror}") from exc
        end = data.rfind(b"\n") + 1
        if end < len(data):  # an interrupted write: drop the partial line
            with open(path, "r+b") as fh:
                fh.truncate(end)
        for n, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                self.done.add(id_key(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                raise ConfigurationError(
                    f"{path}:{n}: not an awrs batch output line (expected a JSON object "
                    "with an 'id'): refusing to append to it"
                ) from None

    def has(self, rid) -> bool:
        """Whether the record ``rid`` already has its line."""
        return id_key(rid) in self.done

    def write(self, line: dict) -> None:
        """Append one record's line and flush it to the file."""
        key = id_key(line["id"])
        if key in self.done:
            raise AwrsError(f"record {line['id']!r} already has an output line")
        self.done.add(key)
        self.written += 1
        if self._fh is None:
            self.lines.append(line)
            return
        self._fh.write(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
