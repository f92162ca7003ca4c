"""The pattern-matching suite of the AWRS paper: write a string that fully matches a regex."""

from __future__ import annotations

import csv
import random

import regex

from bench.common import data_path

from . import Item, Score, Spec, Suite

SYSTEM = (
    "You write strings that match regular expressions. Reply with one string that the whole "
    "pattern matches, and nothing else."
)
#: few-shot (pattern, answer) pairs shown before each task, as in the paper's prompt
EXAMPLES = (("(ab)+", "abab"), ("(ab|cd)+", "cd"), ("[a-z]+", "hello"))
#: seconds allowed to one fullmatch (some patterns backtrack badly)
MATCH_TIMEOUT = 1.0


def messages(pattern: str) -> tuple[dict[str, str], ...]:
    """System prompt, few-shot turns and the task, as chat messages."""
    out = [{"role": "system", "content": SYSTEM}]
    for pat, answer in EXAMPLES:
        out += [
            {"role": "user", "content": f"Pattern: {pat}"},
            {"role": "assistant", "content": answer},
        ]
    out.append({"role": "user", "content": f"Pattern: {pattern}"})
    return tuple(out)


def subset(n_total: int, limit: int | None) -> list[int]:
    """A fixed shuffled order of ``range(n_total)`` (seed 0), cut to ``limit``.

    Growing ``limit`` keeps the earlier items, so quick runs are prefixes of full ones.
    """
    order = list(range(n_total))
    random.Random(0).shuffle(order)
    return order if limit is None else order[:limit]


class PatternsSuite(Suite):
    """``patterns/patterns-open.csv``; score: ``regex.fullmatch`` of the output."""

    name = "patterns"
    metric = "match"
    version = "1"

    def items(self, limit=None):
        path = data_path("patterns", "patterns-open.csv")
        with path.open(newline="", encoding="utf-8") as fh:
            patterns = [rec["regex"] for rec in csv.DictReader(fh)]
        return [
            Item(f"p{i:03d}", messages(patterns[i]), {"pattern": patterns[i]})
            for i in subset(len(patterns), limit)
        ]

    def constraint(self, item):
        from awrs.request import ConstraintSpec

        return ConstraintSpec("pattern", item.data["pattern"]).build()

    def spec(self, item, constraint=None):
        return Spec("regex", item.data["pattern"], constraint)

    def score(self, item, text):
        try:
            ok = regex.fullmatch(item.data["pattern"], text, timeout=MATCH_TIMEOUT) is not None
        except TimeoutError:
            return Score(False, 0.0, {"timeout": True})
        return Score(ok, float(ok))


SUITE = PatternsSuite()
