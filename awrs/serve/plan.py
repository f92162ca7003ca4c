"""From a validated request body to a plan: prompt ids, constraint, sampler options, limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from ..constraints.sql.schema import looks_like_ddl
from ..errors import AwrsError
from ..request import ConstraintSpec
from .errors import APIError, from_awrs
from .schemas import (
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    ChatCompletionRequest,
    CompletionRequest,
    neutral_violations,
)

_SOURCES = ("response_format", "regex", "pattern", "grammar", "sql")


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request bounds of the server (beyond them: 413), its queue and time limit.

    Attributes:
        max_body_bytes: largest request body.
        max_tokens: largest ``max_tokens``.
        max_particles: largest ``n_particles`` (and ``best_of_k``).
        max_pending: requests queued or running at once; more get 429.
        timeout: seconds a request may run before it is cancelled (504).
        max_whitespace: whitespace-run bound for ``grammar`` and ``sql`` constraints.
        pattern_timeout: seconds per match of a ``pattern`` (a catastrophic pattern fails
            its request with 400 instead of stalling every request).
        max_prompt_tokens: longest prompt in tokens (413 past it; ``None``: the model's
            context length bounds it alone).
        drain_timeout: seconds SIGTERM waits for requests in flight before ending them.
    """

    max_body_bytes: int = 1 << 20
    max_tokens: int = 1024
    max_particles: int = 64
    max_pending: int = 64
    timeout: float = 300.0
    max_whitespace: int = 8
    pattern_timeout: float = 0.5
    max_prompt_tokens: int | None = None
    drain_timeout: float = 10.0


@dataclass(slots=True)
class Plan:
    """What the engine runs for one request and how its answer is shaped."""

    chat: bool
    prompt_ids: list[int]
    prompt_text: str
    constraint: Any
    method: str
    sampler: dict[str, Any]  # keyword arguments of make_sampler
    n: int = 1
    stop: list[str] = field(default_factory=list)
    logprobs: int | None = None  # None: off; k: top-k alternatives per token
    stream: bool = False
    best_of_k: int | None = None
    reward: str = "logprob"
    selection_temperature: float = 0.0


def make_plan(req: ChatCompletionRequest | CompletionRequest, lm, limits: Limits) -> Plan:
    """Validate ``req`` against the model and the limits; build its constraint.

    Raises:
        APIError: 400 (bad value, refused constraint), 413 (over a limit), 422 (an option the
            method does not take, or one awrs does not implement).
    """
    chat = isinstance(req, ChatCompletionRequest)
    # the chat name of max_tokens (None for a completion)
    max_completion = req.max_completion_tokens if isinstance(req, ChatCompletionRequest) else None
    bad = neutral_violations(req)
    if bad:
        raise APIError(
            422,
            f"{bad[0]}={getattr(req, bad[0])!r} is not supported by awrs: "
            "expected it unset (or at its neutral value)",
            param=bad[0],
            code="unsupported_option",
        )
    if isinstance(req, ChatCompletionRequest):
        prompt_ids, prompt_text = _chat_prompt(req, lm)
    else:
        prompt_ids, prompt_text = _text_prompt(req, lm)
    max_tokens = max_completion or req.max_tokens or 256
    _check_limits(req, max_tokens, limits)  # the cheap bounds first, then the build
    _check_prompt(prompt_ids, limits, "messages" if chat else "prompt")
    constraint, _ = _constraint(req, limits)
    method = req.method or ("smc" if constraint is not None else "direct")
    n_particles = (
        req.best_of_k
        or req.n_particles
        or (max(8, req.n) if method in ("smc", "rerank") else req.n)
    )
    _check_options(req, method, n_particles, chat)
    temperature = 1.0 if req.temperature is None else req.temperature
    if temperature == 0:
        raise APIError(
            400,
            "temperature=0 (greedy decoding) is not supported: awrs samples; "
            f"expected {MIN_TEMPERATURE:g} <= temperature <= {MAX_TEMPERATURE:g}",
            param="temperature",
            code="invalid_value",
        )
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        why = (
            f"below the minimum of {MIN_TEMPERATURE:g}: logits divided by a smaller "
            "temperature can overflow float32 to inf/NaN (and the sampled text is "
            f"meaningless), while {MIN_TEMPERATURE:g} already samples nearly greedily"
            if temperature < MIN_TEMPERATURE
            else f"above the maximum of {MAX_TEMPERATURE:g}: the distribution is then "
            "nearly uniform over the vocabulary"
        )
        raise APIError(
            400,
            f"temperature={temperature:g} is {why}; expected "
            f"{MIN_TEMPERATURE:g} <= temperature <= {MAX_TEMPERATURE:g}",
            param="temperature",
            code="invalid_value",
        )
    limit = getattr(lm, "max_length", None)  # the model's context: prompt + generated tokens
    if limit is not None:
        field_ = "messages" if chat else "prompt"
        room = limit - len(prompt_ids) + 1  # the last token drawn is never fed back
        asked = max_completion or req.max_tokens
        if asked is None and room >= 1:
            max_tokens = min(max_tokens, room)  # the default: as much as the context holds
        if max_tokens > room:
            raise APIError(
                400,
                f"this model's maximum context length is {limit} tokens, "
                f"but {len(prompt_ids)} tokens were given in the {field_} and "
                f"max_tokens={max_tokens}: expected {field_} shorter or max_tokens "
                f"<= {room}"
                if room >= 1
                else f"this model's maximum context length is {limit} tokens, but the "
                f"{field_} has {len(prompt_ids)} tokens: expected a shorter one",
                param=field_,
                code="context_length_exceeded",
            )
    sampler = dict(
        method=method,
        n_particles=n_particles,
        max_tokens=max_tokens,
        temperature=float(temperature),
        seed=req.seed,
    )
    if req.ess_threshold is not None:
        sampler["ess_threshold"] = req.ess_threshold
    logprobs = None
    if isinstance(req, ChatCompletionRequest) and req.logprobs:
        logprobs = req.top_logprobs or 0
    elif not chat and req.logprobs is not None:
        logprobs = req.logprobs
    stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    if any(s == "" for s in stop):
        raise APIError(
            400, "stop sequences must be non-empty strings", param="stop", code="invalid_value"
        )
    return Plan(
        chat,
        prompt_ids,
        prompt_text,
        constraint,
        method,
        sampler,
        n=req.n,
        stop=stop,
        logprobs=logprobs,
        stream=req.stream,
        best_of_k=req.best_of_k,
        reward=req.reward or "logprob",
        selection_temperature=req.selection_temperature or 0.0,
    )


# -- prompts -----------------------------------------------------------------------------------
def _content(msg, i: int) -> str:
    if msg.content is None or isinstance(msg.content, str):
        return msg.content or ""
    parts = []
    for part in msg.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise APIError(
                422,
                f"message {i} has a {part.get('type')!r} content part: awrs takes text parts only",
                param=f"messages.{i}.content",
                code="unsupported_option",
            )
        parts.append(part["text"])
    return "".join(parts)


def _chat_prompt(req: ChatCompletionRequest, lm) -> tuple[list[int], str]:
    msgs = [
        {"role": "system" if m.role == "developer" else m.role, "content": _content(m, i)}
        for i, m in enumerate(req.messages)
    ]
    try:
        ids = lm.chat(msgs)
    except AwrsError as exc:
        raise from_awrs(exc, "messages") from exc
    users = [m["content"] for m in msgs if m["role"] == "user"]
    return ids, users[-1] if users else msgs[-1]["content"]


def _text_prompt(req: CompletionRequest, lm) -> tuple[list[int], str]:
    prompt = req.prompt
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        if len(prompt) != 1:
            raise APIError(
                422,
                f"got {len(prompt)} prompts: awrs serves one prompt per request",
                param="prompt",
                code="unsupported_option",
            )
        prompt = cast(str, prompt[0])  # checked: strings
    try:
        if isinstance(prompt, str):
            return lm.encode(prompt), prompt
        return lm.prompt_ids(list(prompt)), lm.decode(list(prompt))
    except AwrsError as exc:
        raise from_awrs(exc, "prompt") from exc


# -- constraint --------------------------------------------------------------------------------
def _constraint(req, limits: Limits):
    """The request's constraint (None: unconstrained) and the field that gave it."""
    given = [
        s
        for s in _SOURCES
        if getattr(req, s) is not None
        and not (s == "response_format" and req.response_format.type == "text")
    ]
    if len(given) > 1:
        raise APIError(
            400,
            f"got constraints from {', '.join(given)}: expected at most one",
            param=given[1],
            code="conflicting_constraints",
        )
    if not given:
        return None, None
    source = given[0]
    try:
        return _spec(req, source, limits).build(), source
    except APIError:
        raise
    except AwrsError as exc:
        param = "response_format.json_schema.schema" if source == "response_format" else source
        raise from_awrs(exc, param) from exc
    except RecursionError as exc:
        raise APIError(
            400,
            f"{source} is nested too deeply to compile",
            param=source,
            code="invalid_constraint",
        ) from exc


def _spec(req, source: str, limits: Limits) -> ConstraintSpec:
    """The spec of the request's constraint field, with the server's whitespace bound (for
    grammars and SQL), pattern timeout, and no SQLite file of the server's disk."""
    settings: dict[str, Any] = {"max_whitespace": limits.max_whitespace, "sql_root": None}
    if source == "response_format":
        fmt = req.response_format
        schema = fmt.json_schema.schema_ if fmt.type == "json_schema" else {"type": "object"}
        return ConstraintSpec("json_schema", schema, settings)
    if source == "pattern":
        settings["timeout"] = limits.pattern_timeout
    db = req.sql
    if source == "sql" and isinstance(db, str) and not looks_like_ddl(db):
        raise APIError(
            400,
            "sql expects DDL text (CREATE TABLE ...) or a Spider tables.json "
            "entry (an object), got text without CREATE TABLE",
            param="sql",
            code="invalid_value",
        )
    return ConstraintSpec(source, getattr(req, source), settings)


# -- options -----------------------------------------------------------------------------------
def _check_limits(req, max_tokens: int, limits: Limits) -> None:
    for name, value, limit in (
        ("max_tokens", max_tokens, limits.max_tokens),
        ("n_particles", req.n_particles, limits.max_particles),
        ("best_of_k", req.best_of_k, limits.max_particles),
        ("n", req.n, limits.max_particles),
    ):
        if value is not None and value > limit:
            raise APIError(
                413,
                f"{name}={value} exceeds this server's limit of {limit}",
                param=name,
                code="limit_exceeded",
            )


def _check_prompt(prompt_ids: list[int], limits: Limits, param: str) -> None:
    bound = limits.max_prompt_tokens
    if bound is not None and len(prompt_ids) > bound:
        raise APIError(
            413,
            f"the {param} has {len(prompt_ids)} tokens, over this server's "
            f"limit of {bound} prompt tokens: expected a shorter one",
            param=param,
            code="limit_exceeded",
        )


def _unsupported(param: str, message: str) -> APIError:
    return APIError(422, message, param=param, code="unsupported_option")


def _check_options(req, method: str, n_particles: int, chat: bool) -> None:
    if req.ess_threshold is not None and method != "smc":
        raise _unsupported(
            "ess_threshold",
            f"ess_threshold is not used by method={method!r}: expected method='smc'",
        )
    if method == "direct" and (
        req.regex
        or req.pattern
        or req.grammar
        or req.sql
        or (req.response_format is not None and req.response_format.type != "text")
    ):
        raise _unsupported(
            "method",
            "method='direct' samples without a constraint, got one: "
            "use 'smc', 'awrs' or 'mask' to sample under it, or 'rerank'",
        )
    if req.best_of_k is None:
        for name in ("reward", "selection_temperature"):
            if getattr(req, name) is not None:
                raise _unsupported(
                    name, f"{name} applies to best_of_k only: expected best_of_k with it"
                )
    else:
        if req.n_particles is not None:
            raise APIError(
                400,
                "best_of_k sets the number of candidates; got n_particles "
                "too: expected one of them",
                param="n_particles",
                code="invalid_value",
            )
        for name, bad in (("n", req.n > 1), ("stream", req.stream)):
            if bad:
                raise _unsupported(
                    name,
                    f"{name} is not supported with best_of_k (it "
                    "returns the one selected candidate)",
                )
    if req.n > n_particles:
        raise APIError(
            400,
            f"n={req.n} distinct samples need n_particles >= n, got n_particles={n_particles}",
            param="n",
            code="invalid_value",
        )
    wants_logprobs = req.logprobs if chat else req.logprobs is not None
    if req.stream and wants_logprobs:
        raise _unsupported(
            "logprobs", "logprobs are not streamed: expected stream=false with logprobs"
        )
