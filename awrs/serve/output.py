"""From a sampler's Result to OpenAI response bodies: choices, stop, logprobs, usage, chunks."""

from __future__ import annotations

import codecs
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..sampling.population import call_lm


@dataclass(frozen=True, slots=True)
class Choice:
    """One returned text: its tokens, why it ended, its posterior probability."""

    text: str
    token_ids: tuple[int, ...]
    finish_reason: str
    probability: float | None = None


def choose(result, n: int, seed: int) -> list[Choice]:
    """Up to ``n`` distinct complete texts drawn from the posterior without replacement.

    Seeded by the run's seed, so a request with a seed is reproduced exactly. When no
    complete text exists, the unfinished live samples stand in (``finish_reason="length"``),
    and when none lives an empty text does.
    """
    posterior = result.posterior
    ids_of: dict[str, tuple[int, ...]] = {}
    for s in result.samples:
        ids_of.setdefault(s.text, tuple(s.token_ids))
    if posterior:
        texts = list(posterior)
        p = np.array([posterior[t] for t in texts], dtype=np.float64)
        rng = np.random.default_rng([int(seed) & (2**63 - 1), 0x5E7E])
        k = min(n, len(texts))
        picks = rng.choice(len(texts), size=k, replace=False, p=p / p.sum())
        return [Choice(texts[i], ids_of[texts[i]], "stop", float(p[i])) for i in picks]
    alive = sorted(
        (s for s in result.samples if s.log_weight > -math.inf), key=lambda s: -s.log_weight
    )
    out, seen = [], set()
    for s in alive:
        if s.text not in seen:
            seen.add(s.text)
            out.append(Choice(s.text, tuple(s.token_ids), "length"))
    return out[:n] or [Choice("", (), "length")]


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the first stop sequence; whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def kept_ids(lm, ids: Sequence[int], chars: int) -> tuple[int, ...]:
    """The shortest prefix of ``ids`` whose decoding covers its first ``chars`` characters.

    The rule for a cut text (``stop``): a token is kept when it contributes a byte to a kept
    character, so a token straddling the cut (part kept text, part stop sequence) is kept —
    every returned character has its token, log-probability and count, and the decoding of
    the kept ids is the returned text, followed by the straddling token's excess when the cut
    falls inside a token. Characters are counted as ``lm.decode`` makes them (UTF-8,
    invalid bytes replaced), across tokens that split a character.
    """
    if chars <= 0:
        return ()
    dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
    emitted = 0
    for k, tid in enumerate(ids):
        if emitted >= chars:  # everything from token k on lies past the cut
            return tuple(ids[:k])
        emitted += len(dec.decode(lm.vocab[tid]))
    return tuple(ids)


def stop_choice(lm, c: Choice, stop: Sequence[str]) -> Choice:
    """``c`` cut before its first stop sequence: text, token ids (so logprobs and usage) and
    finish reason together."""
    text, hit = apply_stop(c.text, stop)
    if not hit:
        return c
    return Choice(text, kept_ids(lm, c.token_ids, len(text)), "stop", c.probability)


def stopped(lm, choices: list[Choice], stop: Sequence[str]) -> list[Choice]:
    return [stop_choice(lm, c, stop) for c in choices]


# -- logprobs (computed on the engine thread: they use the model) ------------------------------
def token_logprobs(
    lm, prompt_ids: list[int], ids: Sequence[int], temperature: float, top: int
) -> list[tuple[int, float, list[tuple[int, float]]]]:
    """The model's log-probability of each generated token (at ``temperature``), plus the
    ``top`` most probable alternatives at each position; one batched forward."""
    if not ids:
        return []
    contexts = [list(prompt_ids) + list(ids[:i]) for i in range(len(ids))]
    logp = torch.as_tensor(call_lm(lm, contexts, temperature))  # (T, V)
    picked = logp[torch.arange(len(ids)), torch.as_tensor(list(ids))].tolist()
    alts: list[list[tuple[int, float]]] = [[] for _ in ids]
    if top:
        vals, idx = torch.topk(logp, top, dim=-1)
        alts = [
            list(zip(i.tolist(), v.tolist(), strict=True)) for i, v in zip(idx, vals, strict=True)
        ]
    return [(int(t), float(lp), a) for t, lp, a in zip(ids, picked, alts, strict=True)]


def _tok(lm, tid: int) -> tuple[str, list[int]]:
    b = lm.vocab[tid]
    return b.decode("utf-8", errors="replace"), list(b)


def chat_logprobs(lm, rows) -> dict[str, Any]:
    content = []
    for tid, lp, alts in rows:
        tok, raw = _tok(lm, tid)
        content.append(
            {
                "token": tok,
                "logprob": lp,
                "bytes": raw,
                "top_logprobs": [
                    {"token": _tok(lm, a)[0], "logprob": alp, "bytes": _tok(lm, a)[1]}
                    for a, alp in alts
                ],
            }
        )
    return {"content": content, "refusal": None}


def completion_logprobs(lm, rows) -> dict[str, Any]:
    tokens, lps, tops, offsets, pos = [], [], [], [], 0
    for tid, lp, alts in rows:
        tok = _tok(lm, tid)[0]
        tokens.append(tok)
        lps.append(lp)
        tops.append({_tok(lm, a)[0]: alp for a, alp in alts})
        offsets.append(pos)
        pos += len(tok)
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}


# -- bodies ------------------------------------------------------------------------------------
def new_id(chat: bool) -> str:
    return ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]


def usage(prompt_ids: Sequence[int], choices: list[Choice], particle_tokens: int) -> dict:
    completion = sum(len(c.token_ids) for c in choices)
    return {
        "prompt_tokens": len(prompt_ids),
        "completion_tokens": completion,
        "total_tokens": len(prompt_ids) + completion,
        "particle_tokens": particle_tokens,
    }


def extension(result, method: str) -> dict[str, Any]:
    """The ``awrs`` field of a response: what the run did."""
    st = result.stats
    log_ml = None if math.isnan(result.log_ml) else result.log_ml
    if log_ml is not None and math.isinf(log_ml):
        log_ml = None
    return {
        "method": method,
        "seed": st.seed,
        "n_particles": st.n_particles,
        "log_ml": log_ml,
        "empty": result.empty,
        "steps": st.steps,
    }


def body(
    chat: bool,
    rid: str,
    model: str,
    choices: list[Choice],
    logprobs: list | None,
    usage_: dict,
    ext: dict,
) -> dict[str, Any]:
    out = []
    for i, c in enumerate(choices):
        lp = None if logprobs is None else logprobs[i]
        if chat:
            item = {
                "index": i,
                "message": {"role": "assistant", "content": c.text},
                "logprobs": lp,
                "finish_reason": c.finish_reason,
            }
        else:
            item = {"index": i, "text": c.text, "logprobs": lp, "finish_reason": c.finish_reason}
        if c.probability is not None:
            item["probability"] = c.probability
        out.append(item)
    kind = "chat.completion" if chat else "text_completion"
    return {
        "id": rid,
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": out,
        "usage": usage_,
        "awrs": ext,
    }


def chunk(
    chat: bool,
    rid: str,
    model: str,
    index: int,
    text: str | None,
    finish_reason: str | None = None,
    *,
    first: bool = False,
    created: int,
    with_usage: bool = False,
) -> dict[str, Any]:
    """One server-sent event: a text delta of choice ``index`` (and/or its finish reason).

    ``created`` is the stream's (one value for all its chunks); ``with_usage`` (the request
    asked for ``stream_options.include_usage``) adds ``"usage": null``, as every chunk but the
    final usage chunk carries."""
    if chat:
        delta: dict[str, Any] = {"role": "assistant"} if first else {}
        if text is not None:
            delta["content"] = text
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        kind = "chat.completion.chunk"
    else:
        choice = {
            "index": index,
            "text": text or "",
            "logprobs": None,
            "finish_reason": finish_reason,
        }
        kind = "text_completion"
    out = {"id": rid, "object": kind, "created": created, "model": model, "choices": [choice]}
    if with_usage:
        out["usage"] = None
    return out
