"""Helpers for the Ray Serve tests: a local Ray (2 CPUs), the awrs application on loopback."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from serve_helpers import free_port

APP = "awrs"


@contextlib.contextmanager
def local_ray(num_cpus: int = 2) -> Iterator[None]:
    """``ray.init`` on this machine (no dashboard), shut down at the end."""
    import ray

    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield
    finally:
        from ray import serve

        with contextlib.suppress(Exception):
            serve.shutdown()
        ray.shutdown()


def deploy(**settings: Any) -> str:
    """Start Serve on a free loopback port (once) and run the application; its base URL."""
    from ray import serve

    from awrs.serve.ray import app

    port = getattr(deploy, "port", None)
    if port is None:
        port = deploy.port = free_port()  # type: ignore[attr-defined]
        serve.start(http_options={"host": "127.0.0.1", "port": port})
    base = {"threads": 1, "num_cpus": 0}
    serve.run(app({**base, **settings}), name=APP, route_prefix="/")
    return f"http://127.0.0.1:{port}"


def replica_names(want: int, tries: int = 40) -> set[str]:
    """The actor names of the engine replicas (asked through the handle until ``want`` seen)."""
    from ray import serve

    from awrs.serve.ray import ENGINE

    handle = serve.get_deployment_handle(ENGINE, app_name=APP)
    names: set[str] = set()
    for _ in range(tries):
        names.add(handle.health.remote().result(timeout_s=30)["replica"])
        if len(names) >= want:
            break
    return names


def wait_running(replicas: int, timeout: float = 120) -> None:
    """Until the engine deployment is healthy with ``replicas`` running replicas."""
    from ray import serve

    from awrs.serve.ray import ENGINE

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = serve.status().applications.get(APP)
        if st is not None:
            dep = st.deployments.get(ENGINE)
            if (
                dep is not None
                and str(dep.status).endswith("HEALTHY")
                and _running(dep.replica_states) == replicas
                and sum(dep.replica_states.values()) == replicas
            ):
                return
        time.sleep(0.5)
    raise RuntimeError(f"{ENGINE} not healthy with {replicas} replicas after {timeout} s")


def _running(states: Any) -> int:
    return sum(n for state, n in states.items() if str(state).endswith("RUNNING"))


def openai_error(body: Any) -> bool:
    """Whether ``body`` is an OpenAI error object: ``{"error": {message, type, param, code}}``."""
    if not isinstance(body, dict) or set(body) != {"error"}:
        return False
    err = body["error"]
    return (
        isinstance(err, dict)
        and {"message", "type", "param", "code"} <= set(err)
        and isinstance(err["message"], str)
        and isinstance(err["type"], str)
    )
