"""Errors that leave the server only as OpenAI-style JSON bodies: ``{"error": {...}}``."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import ConfigurationError, ConstraintError, ConstraintEvaluationError, RewardError

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
    504: "timeout_error",
}
_POINTER = re.compile(r" at (/[^\s:,]*)")


class APIError(Exception):
    """An error answered with ``status`` and an OpenAI error body.

    Args:
        status: the HTTP status.
        message: what was given and what was expected.
        param: the request field at fault (dotted path), if any.
        code: a short machine-readable code.
        headers: extra response headers (``Retry-After``).
        extra: more fields for the error object (``pointer`` of a refused schema).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.headers, self.extra = headers or {}, extra

    def body(self) -> dict[str, Any]:
        err = {
            "message": self.message,
            "type": _TYPES.get(self.status, "server_error"),
            "param": self.param,
            "code": self.code,
            **self.extra,
        }
        return {"error": err}

    def response(self):
        from fastapi.responses import JSONResponse

        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def from_awrs(exc: Exception, param: str | None) -> APIError:
    """Translate an awrs error raised while building a request's constraint or sampler."""
    msg = str(exc)
    if isinstance(exc, ConstraintError):
        m = _POINTER.search(msg)
        extra: dict[str, Any] = {"pointer": m.group(1)} if m else {}
        return APIError(
            400,
            f"{param or 'constraint'} refused: {msg}",
            param=param,
            code="invalid_constraint",
            **extra,
        )
    if isinstance(exc, ConstraintEvaluationError):  # the request's own constraint raised
        return APIError(
            400, f"the constraint failed while generating: {msg}", code="constraint_failed"
        )
    if isinstance(exc, RewardError):
        return APIError(400, msg, param="reward", code="reward_error")
    if isinstance(exc, ConfigurationError):
        if "not used by method" in msg or "method='direct' samples without" in msg:
            return APIError(422, msg, param="method", code="unsupported_option")
        return APIError(400, msg, param=param, code="invalid_value")
    return APIError(500, f"{type(exc).__name__}: {msg}", code="internal_error")


_HTTP_CODES = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed"}


def _what(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes that are not a JSON object"
    return "JSON " + {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        type(None): "null",
    }.get(type(value), "number")


def _loc(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or None


def install(app) -> None:
    """Route every error (ours, validation, routing, unexpected) to an OpenAI body."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(APIError)
    async def _api(_: Request, exc: APIError):
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        kind = first.get("type", "")
        if kind == "json_invalid":
            return APIError(
                400, f"malformed JSON body: {first.get('msg')}", code="invalid_json"
            ).response()
        if kind == "missing" and tuple(first.get("loc", ())) == ("body",):
            return APIError(
                400, "expected a JSON object body, got none", code="invalid_json"
            ).response()
        if tuple(first.get("loc", ())) == ("body",):  # JSON, but not an object (or not JSON)
            return APIError(
                400,
                "expected the body to be a JSON object (with Content-Type: "
                f"application/json), got {_what(first.get('input'))}",
                code="invalid_json",
            ).response()
        param = _loc(tuple(first.get("loc", ())))
        detail = "; ".join(
            f"{_loc(tuple(e.get('loc', ()))) or 'body'}: {e.get('msg')}" for e in errors[:5]
        )
        code = "unknown_field" if kind == "extra_forbidden" else "invalid_value"
        return APIError(400, f"invalid request body: {detail}", param=param, code=code).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        msg = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 400:  # FastAPI's only 400: a body it could not parse as JSON
            cause = exc.__cause__
            if isinstance(cause, UnicodeDecodeError):
                msg = (
                    f"the request body is not valid UTF-8 (byte {cause.start}: "
                    f"{cause.reason}): expected a JSON object encoded as UTF-8"
                )
            else:
                msg = f"the request body could not be parsed as JSON: {msg}"
            code = "invalid_json"
        elif exc.status_code == 404:
            msg = f"no route {request.method} {request.url.path}: {msg}"
        elif exc.status_code == 405:
            msg = f"method {request.method} is not allowed on {request.url.path}: {msg}"
        return APIError(exc.status_code, msg, code=code, headers=dict(exc.headers or {})).response()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception):
        return APIError(
            500, f"internal error: {type(exc).__name__}: {exc}", code="internal_error"
        ).response()
