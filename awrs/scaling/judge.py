"""LLM-as-judge reward: the expected score read off the judge's distribution over score strings."""

from __future__ import annotations

import math
import string
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import ConfigurationError, RewardError
from ..models.base import LanguageModel
from .reward import Reward
from .scoring import forced_logprobs

DEFAULT_TEMPLATE = (
    "Rate the response to the request below on a scale from 0 (wrong or useless) to 10 "
    "(correct and complete).\n\nRequest: {prompt}\n\nResponse: {response}\n\n"
    "Reply with the rating only, a whole number from 0 to 10."
)


def check_template(template: str) -> None:
    """Raise ConfigurationError unless the template has exactly the fields {prompt}, {response}."""
    if not isinstance(template, str):
        raise ConfigurationError(f"judge template must be a str, got {type(template).__name__}")
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConfigurationError(f"judge template is not a valid format string: {exc}") from None
    names = set(fields)
    extra = names - {"prompt", "response"}
    if extra:
        raise ConfigurationError(
            "judge template may only use {prompt} and {response}, got "
            + ", ".join("{" + e + "}" for e in sorted(extra))
            + " (write literal braces as {{ and }})"
        )
    missing = {"prompt", "response"} - names
    if missing:
        raise ConfigurationError(
            "judge template must contain the placeholders {prompt} and {response}; missing "
            + ", ".join("{" + m + "}" for m in sorted(missing))
            + f" in {template[:80]!r} (write literal braces as {{{{ and }}}})"
        )


class Judge(Reward):
    """LLM-as-judge: the judge model's expected score for a response.

    The template is filled with the prompt and the response and sent to ``lm`` (through its
    chat template when it has one, unless ``raw``). Then, without sampling, each score string
    ``prefix + str(s)`` is teacher-forced and its probability read, with one correction: a
    score that is a prefix of another (``"1"`` of ``"10"``) only counts when the judge does not
    go on to the longer one. The probabilities are renormalised over the scale and the expected
    score is the reward. Scores are read in their canonical tokenisation (``lm.encode``).

    Args:
        lm: the judge model (the generator itself or another model).
        template: text with ``{prompt}`` and ``{response}`` placeholders.
        scale: the possible scores, numbers (their ``str`` is what the judge writes).
        prefix: text forced before the score (e.g. ``"Rating: "``), part of every score string.
        raw: send the filled template as raw text, not as a chat message.

    Raises:
        ConfigurationError: a template without both placeholders, an empty or duplicated
            scale, or a score string the model cannot tokenise.
    """

    def __init__(
        self,
        lm: LanguageModel,
        template: str = DEFAULT_TEMPLATE,
        scale: Iterable[float] = range(0, 11),
        *,
        prefix: str = "",
        raw: bool = False,
    ):
        check_template(template)
        values = list(scale)
        if not values:
            raise ConfigurationError("judge scale must hold at least one score, got none")
        labels = [str(v) for v in values]
        if len(set(labels)) != len(labels):
            raise ConfigurationError(f"judge scale has duplicate scores: {labels}")
        try:
            self.values = np.array([float(v) for v in values])
        except (TypeError, ValueError):
            raise ConfigurationError(f"judge scale must hold numbers, got {values!r}") from None
        self.lm, self.template, self.prefix, self.raw = lm, template, prefix, raw
        self.labels = labels
        self.seqs = [tuple(lm.encode(prefix + label)) for label in labels]
        for label, seq in zip(labels, self.seqs, strict=True):
            if not seq:
                raise ConfigurationError(f"score string {prefix + label!r} encodes to no tokens")
        self._extensions = self._find_extensions()
        #: probability mass the judge put on the scale, per text of the last call
        self.last_mass: np.ndarray = np.empty(0)

    def _find_extensions(self) -> list[list[int]]:
        """Per score: tokens after which the text reads as a longer score instead."""
        vocab, eos = self.lm.vocab, self.lm.eos_token_ids
        by_first: dict[int, list[int]] = defaultdict(list)
        full = [self.lm.decode_bytes(s) for s in self.seqs]
        needed = {f[len(g)] for g in full for f in full if len(f) > len(g) and f.startswith(g)}
        if needed:
            for tid, b in enumerate(vocab):
                if b and b[0] in needed and tid not in eos:
                    by_first[b[0]].append(tid)
        out = []
        for g in full:
            rests = [f[len(g) :] for f in full if len(f) > len(g) and f.startswith(g)]
            ext = {
                tid
                for rest in rests
                for tid in by_first[rest[0]]
                if vocab[tid].startswith(rest) or rest.startswith(vocab[tid])
            }
            out.append(sorted(ext))
        return out

    def prompt_ids(self, response: str, prompt: str = "") -> list[int]:
        """Token ids of the judge's prompt for one response."""
        filled = self.template.format(prompt=prompt, response=response)
        ids = self.lm.prompt_ids(filled, raw=self.raw)
        return ids or [min(self.lm.eos_token_ids)]

    def distributions(self, texts: Sequence[str], prompt: str = "") -> np.ndarray:
        """The judge's distribution over the scale for each text, shape (len(texts), len(scale)).

        Raises:
            RewardError: the judge gives probability 0 to every score of some text.
        """
        bases = [self.prompt_ids(t, prompt) for t in texts]
        wanted: dict[tuple[int, tuple[int, ...]], set[int]] = defaultdict(set)
        for i in range(len(texts)):
            for seq, ext in zip(self.seqs, self._extensions, strict=True):
                for j, tok in enumerate(seq):
                    wanted[(i, seq[:j])].add(tok)
                if ext:
                    wanted[(i, seq)].update(ext)
        order = {key: sorted(ids) for key, ids in wanted.items()}
        got = forced_logprobs(self.lm, bases, order)
        logp = np.empty((len(texts), len(self.seqs)))
        for i in range(len(texts)):
            for s, (seq, ext) in enumerate(zip(self.seqs, self._extensions, strict=True)):
                lp = sum(_at(got, order, (i, seq[:j]), tok) for j, tok in enumerate(seq))
                if ext:
                    key = (i, seq)
                    cont = np.exp(got[key][np.searchsorted(order[key], ext)]).sum()
                    lp += math.log1p(-min(float(cont), 1.0)) if cont < 1.0 else -math.inf
                logp[i, s] = lp
        top = logp.max(axis=1, keepdims=True)
        for bad in np.flatnonzero(~np.isfinite(top[:, 0])).tolist():
            raise RewardError(
                f"judge gives probability 0 to every score {self.labels} for candidate {bad} "
                f"({texts[bad][:60]!r}): check the template, prefix and scale"
            )
        p = np.exp(logp - top)
        self.last_mass = np.exp(top[:, 0]) * p.sum(axis=1)
        return p / p.sum(axis=1, keepdims=True)

    def score(self, texts: Sequence[str], prompt: str = "") -> list[float]:
        if not texts:
            return []
        unique = list(dict.fromkeys(texts))  # duplicates are common among samples
        dist = self.distributions(unique, prompt)
        where = {t: i for i, t in enumerate(unique)}
        self.last_mass = self.last_mass[[where[t] for t in texts]]
        values = dist @ self.values
        return [float(values[where[t]]) for t in texts]

    def __repr__(self) -> str:
        return f"Judge(scale={self.labels[0]}..{self.labels[-1]}, prefix={self.prefix!r})"


def _at(got, order, key, tok) -> float:
    return float(got[key][np.searchsorted(order[key], tok)])
