"""The ``awrs best-of-k`` command: argparse options and the function that runs them."""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

from ..errors import ConfigurationError


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the best-of-k options to a (sub)parser and return it."""
    parser.add_argument("prompt", help="the prompt (chat template applied unless --raw)")
    parser.add_argument("--k", type=int, default=8, help="number of candidates (default 8)")
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.0,
        help="selection temperature T: softmax(reward / T); 0 = argmax (default)",
    )
    reward = parser.add_mutually_exclusive_group()
    reward.add_argument(
        "--judge",
        metavar="TEMPLATE",
        default=None,
        help="LLM-as-judge reward with this template, which must contain "
        "{prompt} and {response} (default reward: the judge with a built-in "
        "0-10 template)",
    )
    reward.add_argument(
        "--logprob",
        action="store_true",
        help="reward = length-normalised log-likelihood under the model",
    )
    parser.add_argument(
        "--judge-scale",
        type=int,
        nargs=2,
        metavar=("LO", "HI"),
        default=(0, 10),
        help="judge score range, inclusive (default 0 10)",
    )
    parser.add_argument(
        "--judge-prefix", default="", help="text forced before the judge's score (e.g. 'Rating: ')"
    )
    parser.add_argument(
        "--regex",
        metavar="PATTERN",
        default=None,
        help="constrain every candidate to match PATTERN",
    )
    parser.add_argument(
        "--answer",
        metavar="REGEX",
        default=None,
        help="extract an answer with REGEX (first group, else the match) and "
        "report majority and reward-weighted votes",
    )
    parser.add_argument("--method", choices=("awrs", "smc", "direct"), default="awrs")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--raw", action="store_true", help="do not apply the chat template")
    parser.add_argument("--json", action="store_true", help="print the full selection as JSON")
    return parser


def answer_extractor(pattern: str):
    """A function text -> first group (or whole match) of ``pattern``, None when absent."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise ConfigurationError(f"--answer is not a valid regular expression: {exc}") from None

    def extract(text: str) -> str | None:
        m = rx.search(text)
        if m is None:
            return None
        return m.group(1) if rx.groups else m.group(0)

    return extract


def run_best_of_k(args: argparse.Namespace, lm: Any = None) -> dict[str, Any]:
    """Run best-of-k from parsed options; returns :meth:`Selection.to_dict` plus the settings.

    Args:
        args: options from :func:`add_arguments`.
        lm: the model (default: ``awrs.load_model()``).
    """
    from ..rewards import DEFAULT_TEMPLATE, Judge, LogProb
    from .best_of_k import best_of_k
    from .reward import Reward

    if lm is None:
        from ..models.loading import load_model

        lm = load_model()
    reward: Reward
    if args.logprob:
        reward = LogProb(lm, raw=args.raw)
        reward_name = "logprob"
    else:
        lo, hi = args.judge_scale
        if hi < lo:
            raise ConfigurationError(f"--judge-scale expects LO <= HI, got {lo} {hi}")
        reward = Judge(
            lm, args.judge or DEFAULT_TEMPLATE, scale=range(lo, hi + 1), prefix=args.judge_prefix
        )
        reward_name = "judge"
    constraint = None
    if args.regex is not None:
        from ..request import ConstraintSpec

        constraint = ConstraintSpec("regex", args.regex).build()
    selection = best_of_k(
        lm,
        args.prompt,
        args.k,
        reward,
        temperature=args.temperature,
        constraint=constraint,
        method=args.method,
        seed=args.seed,
        max_tokens=args.max_tokens,
        raw=args.raw,
        answer=None if args.answer is None else answer_extractor(args.answer),
    )
    out = selection.to_dict()
    out.update(reward=reward_name, k=args.k, method=args.method, seed=args.seed)
    return out


def format_text(result: dict[str, Any]) -> str:
    """Human-readable summary: the selected text, then one line per candidate."""
    lines = [result["text"] if not result["empty"] else "(empty: every reward is -inf)", ""]
    for i, c in enumerate(result["candidates"]):
        mark = "*" if i == result["index"] else " "
        r = c["reward"]
        shown = f"{r:.4g}" if math.isfinite(r) else "-inf"
        lines.append(f"{mark} p={c['probability']:.3f} reward={shown:>8} {c['text']!r}")
    lines.append(f"expected reward: {result['expected_reward']:.4g}")
    for key in ("majority_vote", "weighted_vote"):
        if result.get(key):
            lines.append(f"{key.replace('_', ' ')}: {result[key]['answer']!r}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (``python -m awrs.scaling.cli``)."""
    import json

    args = add_arguments(argparse.ArgumentParser(prog="awrs best-of-k")).parse_args(argv)
    result = run_best_of_k(args)
    print(json.dumps(result, indent=2) if args.json else format_text(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
