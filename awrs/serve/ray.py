"""``awrs serve --engine ray``: the OpenAI-compatible server as a Ray Serve application.

Two deployments. ``AwrsEngine`` replicas each own one model and one engine (the local server's
request layer, :class:`~awrs.serve.app.Served`): requests routed to a replica share its
forwards. ``AwrsIngress`` is a thin FastAPI front: it checks the API key and body size,
validates bodies (the local server's error shapes), forwards each request to an engine replica
through a ``DeploymentHandle`` (streams with ``stream=True``) and turns every Ray failure
(back-pressure, a dead replica, a cancelled request) into an OpenAI-style error body.

Run it from the command line (``awrs serve --engine ray --replicas 2``), with Ray's CLI
(``serve run awrs.serve.ray:app replicas=2``) or from a ``serve deploy`` config whose
``import_path`` is ``awrs.serve.ray:app`` (see ``docs/serving-ray.md``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigurationError
from ..limits import DEFAULT_CACHE_BYTES, DEFAULT_PREFILL_CHUNK
from .errors import APIError
from .plan import Limits
from .schemas import ChatCompletionRequest, CompletionRequest

try:
    from ray import serve
    from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ConfigurationError(
        f"awrs serve --engine ray needs Ray Serve: pip install 'awrs[ray]' ({_exc})"
    ) from _exc

logger = logging.getLogger("ray.serve")
_D = Limits()
ENGINE, INGRESS = "AwrsEngine", "AwrsIngress"


class RaySettings(BaseModel):
    """The application's arguments (``serve run awrs.serve.ray:app key=value`` or the
    ``args`` of a ``serve deploy`` config); the names and defaults of ``awrs serve``'s options."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    api_key: str | None = None
    replicas: Annotated[int, Field(ge=1)] = 1
    min_replicas: Annotated[int | None, Field(ge=0)] = None
    max_replicas: Annotated[int | None, Field(ge=1)] = None
    threads: Annotated[int | None, Field(ge=0)] = None
    num_cpus: Annotated[float | None, Field(ge=0)] = None  # CPUs Ray reserves per engine replica
    ingress_replicas: Annotated[int, Field(ge=1)] = 1
    max_rows: int = 64
    prefill_chunk: int = DEFAULT_PREFILL_CHUNK
    max_cache_mib: int = DEFAULT_CACHE_BYTES >> 20
    max_pending: Annotated[int, Field(ge=1)] = _D.max_pending
    max_queued: Annotated[int | None, Field(ge=1)] = None
    timeout: float = _D.timeout
    max_tokens_limit: int = _D.max_tokens
    max_particles: int = _D.max_particles
    max_body_bytes: int = _D.max_body_bytes
    max_prompt_tokens: int | None = _D.max_prompt_tokens
    drain_timeout: float = _D.drain_timeout

    @property
    def model_id(self) -> str:
        from ..models.loading import DEFAULT_MODEL

        return DEFAULT_MODEL if self.model is None else Path(self.model).name

    @property
    def limits(self) -> Limits:
        return Limits(
            max_body_bytes=self.max_body_bytes,
            max_tokens=self.max_tokens_limit,
            max_particles=self.max_particles,
            max_pending=self.max_pending,
            timeout=self.timeout,
            max_prompt_tokens=self.max_prompt_tokens or None,
            drain_timeout=self.drain_timeout,
        )

    @property
    def queued(self) -> int:
        """Requests the ingress holds while every replica is at ``max_pending``; more get 429."""
        return self.max_queued or self.max_pending


# -- engine replicas -------------------------------------------------------------------------------
class AwrsEngine:
    """One replica: the model, its engine thread and the local server's request layer."""

    def __init__(self, settings: dict[str, Any]):
        from ..models.loading import load_model
        from ..threads import configure
        from .app import Served
        from .engine import Engine

        s = RaySettings.model_validate(settings)
        threads = configure(s.threads)
        lm = load_model(s.model, threads=threads)
        self.engine = Engine(
            lm,
            max_rows=s.max_rows,
            max_pending=s.max_pending,
            prefill_chunk=s.prefill_chunk or None,
            max_cache_bytes=(s.max_cache_mib << 20) or None,
        )
        self.engine.start()
        self.served = Served(self.engine, lm, s.model_id, s.limits)
        self.model_id = s.model_id
        logger.info("awrs engine replica: %s, %d threads", s.model_id, threads)

    async def complete(self, req) -> dict[str, Any]:
        """A non-streaming request: ``{"status", "body", "headers"}`` (errors included)."""
        try:
            out = await self.served.answer(req)
        except APIError as exc:
            return _reply(exc)
        except Exception as exc:  # noqa: BLE001 - answered as an OpenAI error body
            return _reply(_internal(exc))
        if not isinstance(out, dict):  # not reached: the ingress sends streams to stream()
            await out.aclose()  # type: ignore[attr-defined]
            return _reply(_internal(TypeError("a stream on the non-streaming path")))
        return {"status": 200, "body": out, "headers": {}}

    async def stream(self, req) -> AsyncIterator[Any]:
        """A streaming request: first a head (``{"status"...}``, with ``body`` on an error
        answered before the stream), then the server-sent events as strings."""
        try:
            out = await self.served.answer(req)
        except APIError as exc:
            yield _reply(exc)
            return
        except Exception as exc:  # noqa: BLE001 - answered as an OpenAI error body
            yield _reply(_internal(exc))
            return
        if isinstance(out, dict):
            yield {"status": 200, "body": out, "headers": {}}
            return
        yield {"status": 200, "stream": True}
        async for event in out:
            yield event

    def health(self) -> dict[str, Any]:
        """The engine's counters (``/health`` of the local server) and this replica's name."""
        import ray

        from .app import engine_health

        out = engine_health(self.engine, self.model_id)
        out["replica"] = ray.get_runtime_context().get_actor_name()
        return out

    def check_health(self) -> None:
        """Ray's periodic health check: a replica whose engine thread died is replaced."""
        if not self.engine.alive:
            raise RuntimeError("the awrs engine thread is not running")

    def __del__(self) -> None:  # Ray calls this after the drain (graceful shutdown)
        served = getattr(self, "served", None)
        if served is not None:
            served.drain_expired()
            self.engine.stop()


def _reply(exc: APIError) -> dict[str, Any]:
    return {"status": exc.status, "body": exc.body(), "headers": dict(exc.headers)}


def _internal(exc: BaseException) -> APIError:
    return APIError(500, f"internal error: {type(exc).__name__}: {exc}", code="internal_error")


# -- the ingress -----------------------------------------------------------------------------------
def ray_error(exc: BaseException) -> APIError:
    """An OpenAI-style error for a failure of Ray between the ingress and a replica."""
    from ray.exceptions import GetTimeoutError, RayActorError, TaskCancelledError
    from ray.serve.exceptions import (
        BackPressureError,
        DeploymentUnavailableError,
        ReplicaUnavailableError,
    )

    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, BackPressureError):
        return APIError(
            429,
            f"server busy: every replica holds its limit of requests and the queue is full "
            f"({exc.message}); retry later",
            code="queue_full",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, TaskCancelledError):  # RequestCancelledError included
        return APIError(499, "the request was cancelled", code="client_closed")
    if isinstance(exc, (RayActorError, ReplicaUnavailableError, DeploymentUnavailableError)):
        return APIError(
            503,
            f"the engine replica serving this request died or is unavailable "
            f"({type(exc).__name__}); the request was not completed; retry",
            code="replica_unavailable",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, (GetTimeoutError, TimeoutError)):
        return APIError(504, f"the engine replica did not answer in time: {exc}", code="timeout")
    return _internal(exc)


def _event(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


async def _relay(gen) -> AsyncIterator[str]:
    """The replica's events; a Ray failure mid-stream ends it with an error event and
    ``[DONE]`` (as the local server ends a stream that fails after it started)."""
    done = False
    try:
        async for event in gen:
            yield event
        done = True
    except Exception as exc:  # noqa: BLE001 - reported in-band: the stream has started
        done = True
        yield _event(ray_error(exc).body())
        yield "data: [DONE]\n\n"
    finally:
        if not done:  # the client went away: cancel the work on the replica
            gen.cancel()


def _answer(reply: dict[str, Any]):
    from fastapi.responses import JSONResponse

    return JSONResponse(reply["body"], status_code=reply["status"], headers=reply["headers"])


def _ingress_app(engine: DeploymentHandle, s: RaySettings):
    """The FastAPI front: the local server's routes, auth, limits and error shapes."""
    import time

    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    from .errors import install
    from .guard import Guard

    app = FastAPI(title="awrs", docs_url=None, redoc_url=None)
    install(app)
    app.add_middleware(Guard, api_key=s.api_key, max_body_bytes=s.max_body_bytes)
    model_id, created = s.model_id, int(time.time())
    card = {"id": model_id, "object": "model", "created": created, "owned_by": "awrs"}

    def check_model(name: str) -> None:
        if name not in (model_id, "default"):
            raise APIError(
                404,
                f"model {name!r} does not exist: this server serves {model_id!r} (or 'default')",
                param="model",
                code="model_not_found",
            )

    async def forward(req):
        check_model(req.model)
        try:
            if not req.stream:
                return _answer(await engine.complete.remote(req))
            gen = cast(DeploymentResponseGenerator, engine.options(stream=True).stream.remote(req))
            head = await gen.__anext__()
        except Exception as exc:  # noqa: BLE001 - every Ray failure becomes an OpenAI error
            raise ray_error(exc) from None
        if "body" in head:
            gen.cancel()
            return _answer(head)
        return StreamingResponse(
            _relay(gen), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """One engine replica's counters; every replica at its bound: ``busy``; none
        answering: 503 (Ray's own health checks call each replica's ``check_health``)."""
        from ray.serve.exceptions import BackPressureError

        try:
            out = await asyncio.wait_for(engine.health.remote(), timeout=10)
        except BackPressureError:
            return {"status": "ok", "engine": "ray", "model": model_id, "busy": True}
        except Exception as exc:  # noqa: BLE001
            raise ray_error(exc) from None
        return {**out, "engine": "ray"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [card]}

    @app.get("/v1/models/{name:path}")
    async def model(name: str) -> dict[str, Any]:
        check_model(name)
        return card

    @app.post("/v1/chat/completions")
    async def chat(req: ChatCompletionRequest):
        return await forward(req)

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest):
        return await forward(req)

    return app


@serve.ingress()
class AwrsIngress:
    """The HTTP front of the application (FastAPI, built when the replica starts)."""

    def __init__(self, engine: DeploymentHandle, settings: dict[str, Any]):
        self.engine, self.settings = engine, RaySettings.model_validate(settings)

    def __serve_build_asgi_app__(self):
        return _ingress_app(self.engine, self.settings)


# -- the application -------------------------------------------------------------------------------
def engine_options(s: RaySettings) -> dict[str, Any]:
    """Deployment options of the engine replicas: count or autoscaling, per-replica bound."""
    opts: dict[str, Any] = {
        "name": ENGINE,
        "max_ongoing_requests": s.max_pending,  # the engine's admission bound
        "max_queued_requests": s.queued,  # beyond: BackPressureError, answered 429
        "graceful_shutdown_timeout_s": s.drain_timeout,
        "health_check_period_s": 5,
        "ray_actor_options": {
            "num_cpus": s.num_cpus if s.num_cpus is not None else float(s.threads or 1)
        },
    }
    if s.min_replicas is not None or s.max_replicas is not None:
        lo = s.min_replicas if s.min_replicas is not None else 1
        hi = s.max_replicas if s.max_replicas is not None else max(lo, 1)
        if hi < lo:
            raise ConfigurationError(f"max_replicas={hi} is below min_replicas={lo}")
        opts["autoscaling_config"] = {
            "min_replicas": lo,
            "max_replicas": hi,
            "target_ongoing_requests": max(1, s.max_pending // 2),
        }
    else:
        opts["num_replicas"] = s.replicas
    return opts


def build(s: RaySettings):
    """The Ray Serve application for ``s``: the ingress bound to the engine replicas."""
    engine = serve.deployment(**engine_options(s))(AwrsEngine).bind(s.model_dump())
    replicas = s.max_replicas or s.replicas
    ingress = serve.deployment(
        name=INGRESS,
        num_replicas=s.ingress_replicas,
        # the engine replicas bound the work; the ingress only forwards (never back-pressured)
        max_ongoing_requests=max(1000, 2 * replicas * (s.max_pending + s.queued)),
        graceful_shutdown_timeout_s=s.drain_timeout + 5,
        ray_actor_options={"num_cpus": 0},
    )(AwrsIngress)
    return ingress.bind(engine, s.model_dump())


def app(args: dict[str, Any] | None = None):
    """Application builder: ``serve run awrs.serve.ray:app model=/path replicas=2`` or
    ``import_path: awrs.serve.ray:app`` in a ``serve deploy`` config. ``api_key`` defaults to
    ``$AWRS_API_KEY``."""
    args = dict(args or {})
    if not args.get("api_key") and os.environ.get("AWRS_API_KEY"):
        args["api_key"] = os.environ["AWRS_API_KEY"]
    try:
        settings = RaySettings.model_validate(args)
    except ValueError as exc:
        raise ConfigurationError(f"awrs.serve.ray:app: invalid arguments: {exc}") from exc
    return build(settings)


def serve_until_stopped(
    settings: RaySettings, *, address: str | None, host: str, port: int, name: str = "awrs"
) -> None:
    """Join (``address``, else ``$RAY_ADDRESS``) or start a local Ray, run the application
    behind Serve's proxy on ``host:port`` and block until SIGTERM / SIGINT; then delete it
    (its replicas drain for at most ``drain_timeout``) and, if Ray was started here, stop it."""
    import signal
    import sys
    import threading

    import ray

    ray.init(address=address, configure_logging=False)
    joined = bool(address or os.environ.get("RAY_ADDRESS"))
    stop = threading.Event()
    try:
        serve.start(http_options={"host": host, "port": port})
        serve.run(build(settings), name=name, route_prefix="/", blocking=False)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        print(
            f"awrs serve: {settings.model_id} on http://{host}:{port}/v1 (Ray Serve, "
            f"application {name!r})",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(1):
            pass
        serve.delete(name)  # graceful: in-flight requests drain, then replicas stop
    finally:
        if not joined:
            serve.shutdown()
        ray.shutdown()
