"""ASGI middleware in front of every route: the bearer-token check and the body-size bound."""

from __future__ import annotations

import hmac

from .errors import APIError

OPEN_PATHS = ("/health",)


class Guard:
    """ASGI middleware: bearer-token check (constant time) and the request-body size bound."""

    def __init__(self, app, *, api_key: str | None, max_body_bytes: int):
        self.app, self.max_body = app, max_body_bytes
        self.key = None if api_key is None else f"Bearer {api_key}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.key is not None and scope["path"] not in OPEN_PATHS:
            given = headers.get(b"authorization")
            if given is None or not hmac.compare_digest(given, self.key):
                what = "missing" if given is None else "invalid"
                err = APIError(
                    401,
                    f"{what} API key: expected an 'Authorization: Bearer <key>' "
                    "header with this server's key",
                    code="invalid_api_key",
                )
                return await err.response()(scope, receive, send)
        length = headers.get(b"content-length")
        if length is not None and length.isdigit():
            if int(length) > self.max_body:
                return await self._too_large(int(length))(scope, receive, send)
            return await self.app(scope, receive, send)
        # no declared length (chunked): read the body here, within the bound, then replay it
        chunks, seen, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return
            chunks.append(msg.get("body", b""))
            seen += len(chunks[-1])
            more = msg.get("more_body", False)
            if seen > self.max_body:
                return await self._too_large(seen)(scope, receive, send)
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed():
            return replay.pop() if replay else await receive()

        return await self.app(scope, replayed, send)

    def _message(self, n: int) -> str:
        return f"request body of {n} bytes exceeds this server's limit of {self.max_body} bytes"

    def _too_large(self, n: int):
        return APIError(413, self._message(n), code="request_too_large").response()
