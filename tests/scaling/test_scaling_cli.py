"""The best-of-k command's options and runner, on the toy generator."""

import argparse
import json

import pytest

import awrs
from awrs.scaling.cli import add_arguments, answer_extractor, format_text, run_best_of_k


def parse(*argv):
    return add_arguments(argparse.ArgumentParser()).parse_args(list(argv))


def test_options_and_defaults():
    args = parse("hi", "--k", "3", "--temperature", "0.5", "--judge", "{prompt}|{response}")
    assert (args.k, args.temperature, args.judge, args.method) == (
        3,
        0.5,
        "{prompt}|{response}",
        "awrs",
    )
    assert parse("hi").judge is None and parse("hi").max_tokens == 128
    with pytest.raises(SystemExit):
        parse("hi", "--judge", "x", "--logprob")


def test_run_with_logprob_reward_and_votes(gen_lm):
    args = parse(
        "q",
        "--k",
        "5",
        "--logprob",
        "--raw",
        "--seed",
        "3",
        "--max-tokens",
        "4",
        "--answer",
        "[ab]",
    )
    out = run_best_of_k(args, lm=gen_lm)
    assert out["reward"] == "logprob" and len(out["candidates"]) == 5 and not out["empty"]
    assert out["text"] == max(out["candidates"], key=lambda c: c["reward"])["text"]
    assert out["majority_vote"] is not None
    json.dumps(out)
    text = format_text(out)
    assert text.splitlines()[0] == out["text"] and "expected reward" in text


def test_bad_judge_template_is_a_clear_error(gen_lm):
    with pytest.raises(awrs.ConfigurationError, match="missing"):
        run_best_of_k(parse("q", "--judge", "rate {response}", "--raw"), lm=gen_lm)


def test_answer_extractor():
    grab = answer_extractor(r"answer is (\d+)")
    assert grab("the answer is 42.") == "42" and grab("no idea") is None
    assert answer_extractor(r"\d+")("x 7 y") == "7"
    with pytest.raises(awrs.ConfigurationError, match="not a valid regular expression"):
        answer_extractor("(")
