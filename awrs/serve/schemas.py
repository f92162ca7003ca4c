"""The OpenAI wire format as pydantic models: request bodies and the awrs extension fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..request import Method

#: the temperatures served (plan.py refuses others with 400): logits / T stays finite in
#: float32 for every logit a float16/bfloat16/float32 model gives below 3.4e36 in magnitude,
#: and T = 0.01 already samples nearly greedily (a logit gap of 0.1 becomes 10 nats); above
#: 100 the distribution is nearly uniform.
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-2, 100.0
REWARDS = ("logprob", "judge")


class _Strict(BaseModel):
    """Unknown fields are refused (400), so a misspelled extension is never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class JSONSchemaFormat(_Strict):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | bool = Field(True, alias="schema")
    strict: bool | None = None  # always strict: the output is valid by construction


class ResponseFormatJSONSchema(_Strict):
    type: Literal["json_schema"]
    json_schema: JSONSchemaFormat


class ResponseFormatJSONObject(_Strict):
    type: Literal["json_object"]


class ResponseFormatText(_Strict):
    type: Literal["text"]


ResponseFormat = ResponseFormatJSONSchema | ResponseFormatJSONObject | ResponseFormatText


class Extensions(_Strict):
    """awrs fields, sent by the ``openai`` client through ``extra_body``."""

    regex: str | None = None
    pattern: str | None = None
    grammar: str | None = None
    sql: str | dict[str, Any] | None = None
    method: Method | None = None
    n_particles: int | None = Field(None, ge=1)
    ess_threshold: float | None = Field(None, ge=0, le=1)
    best_of_k: int | None = Field(None, ge=1)
    reward: Literal["logprob", "judge"] | None = None
    selection_temperature: float | None = Field(None, ge=0, allow_inf_nan=False)


class _Common(Extensions):
    """Fields shared by chat and text completions (OpenAI's, then the awrs extensions)."""

    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, allow_inf_nan=False)  # range: plan.py
    n: int = Field(1, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    response_format: ResponseFormat | None = Field(None, discriminator="type")
    # accepted at their neutral values only (anything else: 422)
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    stream_options: dict[str, Any] | None = None
    user: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id, ...: ignored

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(_Common):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None


class CompletionRequest(_Common):
    prompt: str | list[str] | list[int]
    logprobs: int | None = Field(None, ge=0, le=5)
    echo: bool = False
    suffix: str | None = None
    best_of: int | None = None


def neutral_violations(req: _Common) -> list[str]:
    """OpenAI fields set to something awrs does not implement (each one a 422)."""
    bad = []
    if req.top_p not in (None, 1, 1.0):
        bad.append("top_p")
    for name in ("frequency_penalty", "presence_penalty"):
        if getattr(req, name) not in (None, 0, 0.0):
            bad.append(name)
    if req.logit_bias:
        bad.append("logit_bias")
    if isinstance(req, ChatCompletionRequest) and req.tools:
        bad.append("tools")
    if isinstance(req, CompletionRequest):
        if req.echo:
            bad.append("echo")
        if req.suffix:
            bad.append("suffix")
        if req.best_of not in (None, 1):
            bad.append("best_of")
    return bad
