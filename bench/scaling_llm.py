"""Best-of-k with the default model on generated arithmetic problems: judge vs oracle rewards.

Run: ``OMP_NUM_THREADS=1 python -m bench.scaling_llm [--problems 150] [--seed 0]
[--out bench/out/scaling]``. Prints Markdown tables and writes ``llm_accuracy.png`` and
``llm_candidates.json`` into ``--out``.

Setup. Each problem is a small addition or subtraction with a known answer, asked in a
three-shot ``Q: ... A: ...`` prompt (raw text: SmolLM2-135M-Instruct answers far more often
correctly this way than through its chat template). The answer format is constrained to
``[0-9]{1,3}\n`` (AWRS, so every candidate is a number), 16 candidates per problem from one
batched ``best_of_k`` run. Rewards: the oracle (1 if correct), ``Judge`` (the same model as
judge, through its chat template, expected 0-10 score of the bare answer) and ``LogProb``
(length-normalised log-likelihood of the answer under the few-shot prompt). For k in
{1, 2, 4, 8, 16}, random k-subsets of the 16 candidates stand for k independent samples
(subsets of i.i.d. draws are i.i.d.); accuracy is the probability that the selected answer
is correct, exact under softmax(reward / T) selection, averaged over subsets and problems.
Majority vote (self-consistency) is shown for reference. 95% intervals: percentile bootstrap
over problems.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import REPO, markdown_table
from bench.metrics import bootstrap_ci

OUT = REPO / "bench" / "out" / "scaling"
KS = (1, 2, 4, 8, 16)
TEMPS = (0.0, 0.1, 0.3, 1.0, float("inf"))
SHOTS = "Q: What is 2 + 2?\nA: 4\nQ: What is 9 - 3?\nA: 6\nQ: What is 9 + 6?\nA: 15\n"
JUDGE_TEMPLATE = (
    "Check this arithmetic.\n\nQuestion: {prompt}\n\nRate the proposed answer from 0 (wrong) "
    "to 10 (correct). Reply with the rating only.\n\nProposed answer: {response}"
)


@dataclass(frozen=True, slots=True)
class Problem:
    """An arithmetic question, its few-shot prompt and its answer."""

    question: str
    prompt: str
    answer: int


def make_problems(n: int, seed: int) -> list[Problem]:
    """``n`` additions (a, b in 2..9) and subtractions (a in 6..18, 0 < b < a), alternating."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        if i % 2 == 0:
            a, b = (int(x) for x in rng.integers(2, 10, 2))
            q, ans = f"What is {a} + {b}?", a + b
        else:
            a = int(rng.integers(6, 19))
            b = int(rng.integers(1, a))
            q, ans = f"What is {a} - {b}?", a - b
        out.append(Problem(q, SHOTS + f"Q: {q}\nA: ", ans))
    return out


def generate_candidates(lm, problems, k_max: int, seed: int) -> list[dict]:
    """One batched best-of-k run per problem; returns texts and the three rewards."""
    import awrs
    from awrs.rewards import Judge, LogProb
    from awrs.scaling.best_of_k import best_of_k

    judge, logprob = Judge(lm, JUDGE_TEMPLATE), LogProb(lm, raw=True, include_eos=False)
    number = awrs.Regex("[0-9]{1,3}\n")
    rows = []
    for i, prob in enumerate(problems):
        sel = best_of_k(
            lm,
            prob.prompt,
            k_max,
            lambda t, a=prob.answer: float(_parse(t) == a),
            constraint=number,
            seed=seed + i,
            max_tokens=5,
            raw=True,
            answer=_parse,
        )
        texts = [c.text for c in sel.candidates]
        rows.append(
            {
                "question": prob.question,
                "answer": prob.answer,
                "texts": texts,
                "parsed": [c.answer for c in sel.candidates],
                "finished": [c.finished for c in sel.candidates],
                "judge": judge.score([t.strip() for t in texts], prob.question),
                "judge_mass": [float(x) for x in judge.last_mass],
                "logprob": logprob.score(texts, prob.prompt),
            }
        )
    return rows


def _parse(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def evaluate(rows, subsets: int, seed: int) -> dict[str, np.ndarray]:
    """Per-problem accuracy, shape (n_problems, len(KS)) per method (and per T for rewards)."""
    from awrs.scaling.best_of_k import select_candidates

    rng = np.random.default_rng(seed)
    res: dict[str, np.ndarray] = {}
    n = len(rows)

    def put(key, i, j, value):
        res.setdefault(key, np.zeros((n, len(KS))))[i, j] += value / subsets

    for i, row in enumerate(rows):
        correct = np.array([a == row["answer"] for a in row["parsed"]], dtype=float)
        rewards = {
            "oracle": correct,
            "judge": np.array(row["judge"]),
            "logprob": np.array(row["logprob"]),
        }
        for j, k in enumerate(KS):
            for _ in range(subsets):
                idx = rng.choice(len(correct), size=k, replace=False)
                texts = [row["texts"][m] for m in idx]
                answers = [row["parsed"][m] for m in idx]
                for name, r in rewards.items():
                    for t in TEMPS if name != "oracle" else (0.0,):
                        sel = select_candidates(
                            texts, r[idx], temperature=t, rng=rng, answers=answers
                        )
                        probs = np.array([c.probability for c in sel.candidates])
                        put(f"{name}@T={t:g}", i, j, float(probs @ correct[idx]))
                        if name == "judge" and t == 0.0:
                            put(
                                "majority vote",
                                i,
                                j,
                                float(sel.majority_vote.answer == row["answer"]),
                            )
    return res


def pairwise_ranking(rows, name: str) -> float:
    """Share of (correct, incorrect) candidate pairs of one problem that the reward orders
    correctly (ties count half), pooled over problems; NaN without such pairs."""
    won = total = 0.0
    for row in rows:
        r = np.array(row[name])
        ok = np.array([a == row["answer"] for a in row["parsed"]])
        good, bad = r[ok][:, None], r[~ok][None, :]
        won += float((good > bad).sum() + 0.5 * (good == bad).sum())
        total += good.size * bad.size
    return won / total if total else float("nan")


def report(res, rows, seconds: float, threads: int, args) -> str:
    ci = {key: [bootstrap_ci(v[:, j], seed=j) for j in range(len(KS))] for key, v in res.items()}
    main_cols = ["oracle@T=0", "judge@T=0", "logprob@T=0", "majority vote", "judge@T=inf"]
    labels = ["oracle (pass@k)", "judge, T=0", "log-prob, T=0", "majority vote", "random (T=inf)"]
    mass = np.mean([np.mean(r["judge_mass"]) for r in rows])
    pairs = {name: pairwise_ranking(rows, name) for name in ("judge", "logprob")}
    lines = [
        "## Best-of-k with SmolLM2-135M-Instruct on small arithmetic problems",
        "",
        f"{len(rows)} problems, 16 candidates each under the constraint `[0-9]{{1,3}}\\n` (AWRS), "
        f"{args.subsets} random k-subsets per problem; accuracy with 95% bootstrap intervals; "
        f"{seconds:.0f} s in all with {threads} torch thread(s). The judge puts "
        f"{mass:.2f} of its probability on the score strings on average. Within a problem, "
        f"a correct candidate outscores an incorrect one in {pairs['judge']:.2f} of pairs "
        f"under the judge and {pairs['logprob']:.2f} under the log-prob (0.5 = chance; "
        "ties count half).",
        "",
        markdown_table(
            ["k", *labels],
            [[k, *[ci[c][j].format(".3f") for c in main_cols]] for j, k in enumerate(KS)],
        ),
        "",
        "Accuracy against the selection temperature T (k = 16 and k = 4):",
        "",
        markdown_table(
            ["T", "judge, k=4", "judge, k=16", "log-prob, k=4", "log-prob, k=16"],
            [
                [
                    f"{t:g}",
                    *[
                        ci[f"{name}@T={t:g}"][KS.index(k)].format(".3f")
                        for name in ("judge", "logprob")
                        for k in (4, 16)
                    ],
                ]
                for t in TEMPS
            ],
        ),
    ]
    return "\n".join(lines)


def plot(res, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ks = np.array(KS)
    for key, label in [
        ("oracle@T=0", "oracle (pass@k)"),
        ("judge@T=0", "judge, T=0"),
        ("logprob@T=0", "log-prob, T=0"),
        ("majority vote", "majority vote"),
        ("judge@T=inf", "random (T=inf)"),
    ]:
        cis = [bootstrap_ci(res[key][:, j], seed=j) for j in range(len(KS))]
        axes[0].plot(ks, [c.value for c in cis], marker="o", label=label)
        axes[0].fill_between(ks, [c.lo for c in cis], [c.hi for c in cis], alpha=0.2)
    axes[0].set(
        xscale="log",
        xticks=ks,
        xticklabels=[str(k) for k in KS],
        xlabel="k",
        ylabel="accuracy",
        title="accuracy vs k (95% bootstrap bands)",
    )
    axes[0].legend(fontsize=8)
    tplot = np.array([0.03, *TEMPS[1:-1], 3.0])
    for name in ("judge", "logprob"):
        for k in (4, 16):
            cis = [bootstrap_ci(res[f"{name}@T={t:g}"][:, KS.index(k)], seed=1) for t in TEMPS]
            axes[1].errorbar(
                tplot,
                [c.value for c in cis],
                yerr=[[c.value - c.lo for c in cis], [c.hi - c.value for c in cis]],
                marker="o",
                capsize=2,
                label=f"{name}, k={k}",
            )
    axes[1].set(
        xscale="log",
        xticks=tplot,
        xticklabels=["0", *[f"{t:g}" for t in TEMPS[1:-1]], "inf"],
        xlabel="selection temperature T",
        title="accuracy vs T",
    )
    axes[1].legend(fontsize=8)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "llm_accuracy.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=150)
    parser.add_argument("--subsets", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    import torch

    import awrs

    # one thread unless told otherwise: on shared cores more threads oversubscribe badly
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    lm = awrs.load_model()
    rows = generate_candidates(lm, make_problems(args.problems, args.seed), max(KS), args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "llm_candidates.json").write_text(json.dumps(rows, indent=1))
    res = evaluate(rows, args.subsets, args.seed)
    print(report(res, rows, time.perf_counter() - t0, threads, args))
    print(f"\nPlot: {plot(res, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
