"""The benchmark runner behind ``python -m bench`` and ``awrs bench``: resumable, side by side."""

from __future__ import annotations

import argparse
import contextlib
import math
import shlex
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from awrs.errors import AwrsError, ConfigurationError, ConstraintError

from .methods import (
    AWRS_METHODS,
    DEFAULT_METHODS,
    ItemContext,
    Method,
    Missing,
    Outcome,
    RunConfig,
    Unsupported,
    canonical,
    get_method,
    is_slow,
)
from .store import FAILED, UNSUPPORTED, Row, Store, settings_hash
from .suites import SUITES, Item, Suite, get_suite

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the benchmark options to ``parser`` (shared by ``python -m bench`` and
    ``awrs bench``)."""
    parser.add_argument(
        "suites", nargs="+", metavar="SUITE", help=f"one or more of {', '.join(SUITES)}, or 'all'"
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help=f"methods to compare (space or comma separated; default: {','.join(DEFAULT_METHODS)})",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="items per suite (a fixed subset; default: all)",
    )
    parser.add_argument(
        "--particles",
        type=int,
        default=8,
        metavar="N",
        help="particles of smc, rerank and genlm-control (default 8)",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="first seed (default 0)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        metavar="R",
        help="seeds per item: S, S+1, ..., S+R-1 (default 1)",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=128,
        metavar="N",
        help="generated tokens per sequence (default 128)",
    )
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    parser.add_argument(
        "--ess-threshold",
        type=float,
        default=0.5,
        help="SMC resampling threshold as a fraction of N (default 0.5)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="model folder or cached hub name (default: SmolLM2-135M-Instruct)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"output folder (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)"
    )
    parser.add_argument(
        "--slow-limit",
        type=int,
        default=None,
        metavar="N",
        help="items per suite for slow methods (genlm-control: seconds per "
        "token on CPU); default: same as --limit",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds allowed to one run; a run past it is recorded as failed",
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="recompute rows recorded as failed (finished rows are kept)",
    )
    parser.add_argument(
        "--json-policy",
        nargs="+",
        default=None,
        metavar="POLICY",
        help="JSON generation policies to compare on the json suite: every "
        "awrs method runs once per policy, named METHOD@POLICY (one of "
        "natural, compact, natural-open, compact-open; default: the "
        "constraint's default, natural)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return parser


def _split(values: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


@dataclass
class Plan:
    """What one invocation runs, and the problems found while setting it up."""

    suites: list[Suite] = field(default_factory=list)
    methods: list[Method] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    cfg: RunConfig = field(default_factory=RunConfig)
    problems: list[str] = field(default_factory=list)
    items: dict[str, list[Item]] = field(default_factory=dict)
    #: methods that could not be set up, with the reason
    missing: dict[str, str] = field(default_factory=dict)
    #: run limits, shown in the report
    limits: dict[str, object] = field(default_factory=dict)


def make_plan(args: argparse.Namespace) -> Plan:
    """Resolve suites, methods, seeds and settings; unknown names become recorded problems."""
    for name, value, low in (
        ("--particles", args.particles, 1),
        ("--max-tokens", args.max_tokens, 1),
        ("--repeats", args.repeats, 1),
    ):
        if value < low:
            raise ConfigurationError(f"{name} must be >= {low}, got {value}")
    for name, value in (("--limit", args.limit), ("--slow-limit", args.slow_limit)):
        if value is not None and value < 1:
            raise ConfigurationError(f"{name} must be >= 1, got {value}")
    if args.timeout is not None and not args.timeout > 0:
        raise ConfigurationError(f"--timeout must be > 0 seconds, got {args.timeout}")
    if not args.temperature > 0:
        raise ConfigurationError(f"--temperature must be > 0, got {args.temperature}")
    if not 0 <= args.ess_threshold <= 1:
        raise ConfigurationError(f"--ess-threshold must lie in [0, 1], got {args.ess_threshold}")
    plan = Plan(
        cfg=RunConfig(
            args.particles,
            args.max_tokens,
            args.temperature,
            args.ess_threshold,
            str(args.model or "default"),
        ),
        seeds=[args.seed + r for r in range(args.repeats)],
        limits={"limit": args.limit, "slow-limit": args.slow_limit, "timeout": args.timeout},
    )
    names = _split(args.suites)
    if "all" in names:
        names = list(SUITES)
    for name in dict.fromkeys(names):
        try:
            plan.suites.append(get_suite(name))
        except ConfigurationError as exc:
            plan.problems.append(str(exc))
    names = [canonical(m) for m in (_split(args.methods) or DEFAULT_METHODS)]
    policies = _split(getattr(args, "json_policy", None))
    if policies:
        names = [n for m in names for n in _with_policies(m, policies)]
    for name in dict.fromkeys(names):
        try:
            plan.methods.append(get_method(name))
        except ConfigurationError as exc:
            plan.problems.append(str(exc))
        except ImportError as exc:
            plan.problems.append(f"method {name!r} is missing: {exc}")
    return plan


def _with_policies(method: str, policies: list[str]) -> list[str]:
    """``method`` once per json policy when it is an awrs method using a constraint."""
    if method in AWRS_METHODS and method != "direct":
        return [f"{method}@{p}" for p in policies]
    return [method]


class Runner:
    """Runs a plan into a :class:`Store`, loading the model and preparing methods lazily."""

    def __init__(
        self,
        plan: Plan,
        store: Store,
        *,
        model: str | None = None,
        limit: int | None = None,
        slow_limit: int | None = None,
        timeout: float | None = None,
        retry_failed: bool = False,
        lm=None,
    ):
        self.plan, self.store = plan, store
        self.model_name, self.limit, self.retry_failed = model, limit, retry_failed
        self.slow_limit, self.timeout = slow_limit, timeout
        self._lm = lm
        self._ready: dict[str, bool] = {}
        #: (suite, method) -> hash of the settings that change the method's results there
        self.hashes = {
            (s.name, m.name): settings_hash({**m.settings(plan.cfg), "suite_version": s.version})
            for s in plan.suites
            for m in plan.methods
        }

    # -- setup ------------------------------------------------------------------------------
    def lm(self):
        if self._lm is None:
            import awrs

            self._lm = awrs.load_model(self.model_name)
            warm_up(self._lm)
        return self._lm

    def ready(self, method: Method) -> bool:
        """Prepare a method once; a missing peer becomes a recorded problem, not a crash."""
        if method.name not in self._ready:
            try:
                method.prepare(self.lm(), self.plan.cfg)
                self._ready[method.name] = True
            except (Missing, ImportError) as exc:
                self.plan.problems.append(f"method {method.name!r} is missing: {exc}")
                self.plan.missing[method.name] = str(exc)
                self._ready[method.name] = False
        return self._ready[method.name]

    def prompt(self, item: Item) -> list[int] | Exception:
        """The chat-templated prompt ids of an item (or the error encoding it)."""
        try:
            return self.lm().chat(list(item.messages))
        except Exception as exc:  # recorded on each of the item's rows
            return exc

    # -- running ----------------------------------------------------------------------------
    def key(self, suite: Suite, method: Method, item: Item, seed: int) -> tuple:
        return (suite.name, method.name, item.id, seed, self.hashes[suite.name, method.name])

    def todo(self, suite: Suite, items: list[Item]) -> list[tuple[Item, Method, int]]:
        """(item, method, seed) runs not yet recorded, item by item (side by side)."""
        out = []
        for k, item in enumerate(items):
            for m in self.plan.methods:
                if is_slow(m, suite) and self.slow_limit is not None and k >= self.slow_limit:
                    continue
                out += [
                    (item, m, s)
                    for s in self.plan.seeds
                    if not self.store.done(self.key(suite, m, item, s), self.retry_failed)
                ]
        return out

    def run_suite(self, suite: Suite) -> None:
        try:
            items = suite.items(self.limit)
        except FileNotFoundError as exc:
            self.plan.problems.append(f"suite {suite.name!r} skipped: {exc}")
            return
        self.plan.items[suite.name] = items
        jobs = self.todo(suite, items)
        if not jobs:
            return
        from tqdm import tqdm

        contexts: dict[str, ItemContext] = {}
        prompts: dict[str, list[int]] = {}
        bar = tqdm(
            total=len(jobs), desc=suite.name, unit="run", file=sys.stderr, dynamic_ncols=True
        )
        try:
            for item, method, seed in jobs:
                bar.set_postfix_str(f"{method.name} {item.id}", refresh=False)
                if self.ready(method):
                    ctx = contexts.get(item.id)
                    if ctx is None:
                        contexts.clear()  # one item at a time: drop the previous constraints
                        ctx = contexts[item.id] = ItemContext(suite, item)
                    if item.id not in prompts:
                        prompts[item.id] = self.prompt(item)
                        prefill(self.lm(), prompts[item.id])
                    row = self.run_one(suite, method, item, seed, ctx, prompts[item.id])
                    self.store.add(row)
                bar.update(1)
        finally:
            bar.close()

    def run_one(
        self,
        suite: Suite,
        method: Method,
        item: Item,
        seed: int,
        ctx: ItemContext,
        prompt_ids: list[int] | Exception,
    ) -> Row:
        """One method on one item; exceptions become failed or unsupported rows."""
        row = Row(
            suite.name,
            method.name,
            item.id,
            seed,
            self.hashes[suite.name, method.name],
            particles=self.plan.cfg.particles if method.uses_particles else 1,
        )
        if isinstance(prompt_ids, Exception):
            return _mark(row, FAILED, prompt_ids, "prompt: ")
        t0 = time.perf_counter()
        try:
            built = method.build(suite, item, ctx)
        except Unsupported as exc:
            return _mark(row, UNSUPPORTED, exc)
        except ConstraintError as exc:  # awrs refuses the constraint (feature, size, syntax)
            return _mark(row, UNSUPPORTED, exc, "awrs constraint: ")
        except Exception as exc:  # a peer or constraint crashing on one item
            return _mark(row, FAILED, exc)
        row.build_s = (
            ctx.build_time(getattr(method, "policy", None))
            if method.needs_constraint
            else time.perf_counter() - t0
        )
        t0 = time.perf_counter()
        try:
            with time_limit(self.timeout):
                out = method.run(built, prompt_ids, seed, self.plan.cfg)
        except Unsupported as exc:
            return _mark(row, UNSUPPORTED, exc)
        except ConstraintError as exc:  # e.g. a lazily built automaton outgrowing its bound
            return _mark(row, UNSUPPORTED, exc, "awrs constraint: ")
        except Exception as exc:  # anything else: recorded with its reason, the run goes on
            return _mark(row, FAILED, exc)
        row.wall_s = time.perf_counter() - t0
        try:
            score_outcome(suite, item, out, row)
        except Exception as exc:  # a scorer crash is the harness's bug: say so in the row
            return _mark(row, FAILED, exc, "scoring: ")
        return row


class RunTimeout(Exception):
    """A run went past ``--timeout``."""


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Raise :class:`RunTimeout` in the main thread after ``seconds`` (SIGALRM; no-op if None)."""
    if (
        seconds is None
        or threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "setitimer")
    ):
        yield
        return

    def expire(signum, frame):
        raise RunTimeout(f"the run took longer than --timeout {seconds:g} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def warm_up(lm) -> None:
    """A few forward passes so that one-off start-up costs stay out of the first timing."""
    ids = lm.encode("Hello, world. This is a warm-up.")
    for n in (len(ids) - 2, len(ids) - 1, len(ids)):
        lm.next_token_logprobs([ids[:n]])


def prefill(lm, prompt_ids) -> None:
    """Run the item's prompt through the model once, untimed: its key/value cache is kept, so
    no method pays the prompt's forward pass because it happens to run first on the item."""
    if isinstance(prompt_ids, list) and prompt_ids and hasattr(lm, "next_token_logprobs"):
        lm.next_token_logprobs([prompt_ids])


def _mark(row: Row, status: str, exc: BaseException, prefix: str = "") -> Row:
    row.status = status
    plain = status == UNSUPPORTED and isinstance(exc, Unsupported)
    row.reason = prefix + (str(exc) if plain else f"{type(exc).__name__}: {exc}")
    row.reason = row.reason.replace("\n", " ")[:500]
    return row


def score_outcome(suite: Suite, item: Item, out: Outcome, row: Row) -> None:
    """Fill a row's output and score columns from a method's outcome."""
    row.tokens, row.evals, row.log_ml = out.tokens, out.evals, out.log_ml
    row.finished = out.finished
    row.has_output = out.text is not None
    row.text = out.text or ""
    if out.text is None:
        row.metrics = dict(out.extra)
        if out.partial:
            row.metrics["partial"] = out.partial[:300]
        row.valid, row.score = False, suite.no_output_score(item)
        row.score_post = row.score
        return
    row.metrics = dict(out.extra)
    sc = suite.score(item, out.text)
    row.valid, row.score = sc.valid, sc.score
    row.metrics.update(sc.metrics)
    if out.posterior:
        total, acc = 0.0, 0.0
        for text, p in out.posterior.items():
            if not p > 0:  # NaN or zero mass
                continue
            s = sc.score if text == out.text else suite.score(item, text).score
            if not math.isnan(s):
                total += p
                acc += p * s
        row.score_post = acc / total if total > 0 else math.nan
    else:
        row.score_post = row.score


def run(args: argparse.Namespace, lm=None) -> int:
    """Run the benchmark described by parsed ``args`` (see :func:`add_arguments`).

    Returns:
        The exit status: 0 when at least one suite ran, 2 when nothing could run.
    """
    from . import report

    plan = make_plan(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out)
    store = Store(out / "samples.csv")
    runner = Runner(
        plan,
        store,
        model=args.model,
        limit=args.limit,
        slow_limit=args.slow_limit,
        timeout=args.timeout,
        retry_failed=args.retry_failed,
        lm=lm,
    )
    interrupted = False
    try:
        for suite in plan.suites:
            if suite.generative:
                runner.run_suite(suite)
            else:
                suite.run_all(runner)
    except KeyboardInterrupt:
        interrupted = True
        plan.problems.append("interrupted: rerun the same command to resume")
    command = getattr(args, "command", None) or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    path = report.write(out, plan, store, runner.hashes, command=command, plots=not args.no_plots)
    print(f"report: {path}", file=sys.stderr)
    for problem in plan.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if interrupted:
        return 130
    return 0 if plan.suites else 2


def main(argv: Sequence[str] | None = None, prog: str = "python -m bench") -> int:
    """Command-line entry point: parse ``argv`` and :func:`run`."""
    parser = add_arguments(
        argparse.ArgumentParser(
            prog=prog, description="Benchmark awrs against token masking and peer engines."
        )
    )
    args = parser.parse_args(argv)
    args.command = " ".join([prog, shlex.join(argv if argv is not None else sys.argv[1:])])
    try:
        return run(args)
    except AwrsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
