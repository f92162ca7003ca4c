"""The ``awrs serve`` command: options (no heavy imports) and the function that runs them."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from ..limits import DEFAULT_CACHE_BYTES, DEFAULT_PREFILL_CHUNK
from .plan import Limits


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``serve`` options to a (sub)parser and return it."""
    d = Limits()
    p.add_argument(
        "--model", default=None, help="local model folder (default: SmolLM2-135M-Instruct)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--api-key",
        default=None,
        help="require 'Authorization: Bearer KEY' on every route but /health "
        "(default: $AWRS_API_KEY)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: the usable cores, at most 8; OpenMP waits "
        "passively unless OMP_WAIT_POLICY is set)",
    )
    p.add_argument("--max-rows", type=int, default=64, help="rows per batched forward (64)")
    p.add_argument(
        "--prefill-chunk",
        type=int,
        default=DEFAULT_PREFILL_CHUNK,
        help="prompt tokens computed per step for a long prompt, beside the "
        f"decoding requests ({DEFAULT_PREFILL_CHUNK}; 0: whole prompts at once)",
    )
    p.add_argument(
        "--max-prompt-tokens",
        type=int,
        default=d.max_prompt_tokens,
        help="longest prompt in tokens; longer ones get 413 (default: the model's "
        "context length, past which prompt + max_tokens get 400 "
        "context_length_exceeded)",
    )
    p.add_argument(
        "--max-cache-mib",
        type=int,
        default=DEFAULT_CACHE_BYTES >> 20,
        help="bound on the batch's cached keys/values in MiB: rows x longest "
        f"context x bytes per token ({DEFAULT_CACHE_BYTES >> 20})",
    )
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=d.drain_timeout,
        help="seconds SIGTERM waits for requests in flight before ending them "
        f"with 503 ({d.drain_timeout:g})",
    )
    p.add_argument(
        "--max-pending",
        type=int,
        default=d.max_pending,
        help=f"requests queued or running at once; more get 429 ({d.max_pending})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=d.timeout,
        help=f"seconds per request before it is cancelled ({d.timeout:g})",
    )
    p.add_argument(
        "--max-tokens-limit",
        type=int,
        default=d.max_tokens,
        help=f"largest max_tokens a request may ask for ({d.max_tokens})",
    )
    p.add_argument(
        "--max-particles",
        type=int,
        default=d.max_particles,
        help=f"largest n_particles / best_of_k / n ({d.max_particles})",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=d.max_body_bytes,
        help=f"largest request body ({d.max_body_bytes})",
    )
    p.add_argument("--log-level", default="warning", help="uvicorn log level (warning)")
    _add_ray_arguments(p)
    return p


def _add_ray_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Ray Serve (--engine ray; pip install 'awrs[ray]')")
    g.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: one process, one engine; ray: a Ray Serve application, one engine per "
        "replica behind Ray's HTTP proxy (local)",
    )
    g.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join ('auto', 'ray://host:10001'; default: $RAY_ADDRESS, "
        "else a new local Ray)",
    )
    scale = g.add_mutually_exclusive_group()
    scale.add_argument("--replicas", type=int, default=1, help="engine replicas (1)")
    scale.add_argument(
        "--autoscale",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=None,
        help="autoscale between MIN and MAX replicas on ongoing requests",
    )
    g.add_argument(
        "--replica-cpus",
        type=float,
        default=None,
        help="CPUs Ray reserves per engine replica (default: --threads, else 1)",
    )
    g.add_argument(
        "--max-queued",
        type=int,
        default=None,
        help="requests held while every replica is at --max-pending; more get 429 "
        "(default: --max-pending)",
    )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run(args: argparse.Namespace) -> int:
    """Load the model and serve until interrupted (SIGTERM drains, see ``--drain-timeout``)."""
    if getattr(args, "engine", "local") == "ray":
        return run_ray(args)
    from ..threads import configure

    threads = configure(args.threads)  # before torch loads
    try:
        import uvicorn

        from .app import create_app
    except ImportError as exc:
        raise SystemExit(
            "awrs serve needs the serve extra: pip install 'awrs[serve]' ({exc})"
        ) from exc
    from pathlib import Path

    from ..models.loading import DEFAULT_MODEL, load_model

    key = args.api_key or os.environ.get("AWRS_API_KEY") or None
    if not _loopback(args.host) and key is None:
        print(f"awrs serve: warning: binding {args.host} without an API key", file=sys.stderr)
    limits = Limits(
        max_body_bytes=args.max_body_bytes,
        max_tokens=args.max_tokens_limit,
        max_particles=args.max_particles,
        max_pending=args.max_pending,
        timeout=args.timeout,
        max_prompt_tokens=args.max_prompt_tokens or None,
        drain_timeout=args.drain_timeout,
    )
    lm = load_model(args.model, threads=threads)
    model_id = DEFAULT_MODEL if args.model is None else Path(args.model).name
    app = create_app(
        lm,
        model_id,
        api_key=key,
        limits=limits,
        max_rows=args.max_rows,
        prefill_chunk=args.prefill_chunk or None,
        max_cache_bytes=(args.max_cache_mib << 20) or None,
    )
    print(
        f"awrs serve: {model_id} on http://{args.host}:{args.port}/v1 ({threads} threads)",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=args.drain_timeout + 5,
    )
    _DrainingServer(config, app.state.served, args.drain_timeout).run()
    return 0


def ray_settings(args: argparse.Namespace, key: str | None) -> dict:
    """The Ray application's arguments (:class:`awrs.serve.ray.RaySettings`) from the options."""
    lo, hi = args.autoscale if args.autoscale else (None, None)
    return {
        "model": args.model,
        "api_key": key,
        "replicas": args.replicas,
        "min_replicas": lo,
        "max_replicas": hi,
        "threads": args.threads,
        "num_cpus": args.replica_cpus,
        "max_rows": args.max_rows,
        "prefill_chunk": args.prefill_chunk,
        "max_cache_mib": args.max_cache_mib,
        "max_pending": args.max_pending,
        "max_queued": args.max_queued,
        "timeout": args.timeout,
        "max_tokens_limit": args.max_tokens_limit,
        "max_particles": args.max_particles,
        "max_body_bytes": args.max_body_bytes,
        "max_prompt_tokens": args.max_prompt_tokens,
        "drain_timeout": args.drain_timeout,
    }


def run_ray(args: argparse.Namespace) -> int:
    """``--engine ray``: run the application on Ray Serve until SIGTERM / SIGINT."""
    from ..errors import AwrsError

    key = args.api_key or os.environ.get("AWRS_API_KEY") or None
    if not _loopback(args.host) and key is None:
        print(f"awrs serve: warning: binding {args.host} without an API key", file=sys.stderr)
    try:
        from . import ray as ray_app  # ConfigurationError without Ray Serve

        settings = ray_app.RaySettings.model_validate(ray_settings(args, key))
        ray_app.serve_until_stopped(settings, address=args.address, host=args.host, port=args.port)
    except AwrsError as exc:
        print(f"awrs serve: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _DrainingServer(config, served, drain_timeout: float):
    """uvicorn's server, which on SIGTERM / SIGINT stops accepting, lets requests in flight
    finish for ``drain_timeout`` seconds, then ends the rest with 503 (``Served.drain_expired``)."""
    import threading

    import uvicorn

    class Server(uvicorn.Server):
        timer: threading.Timer | None = None

        def handle_exit(self, sig, frame) -> None:
            if self.timer is None:
                self.timer = threading.Timer(drain_timeout, served.drain_expired)
                self.timer.daemon = True
                self.timer.start()
            super().handle_exit(sig, frame)

    return Server(config)
