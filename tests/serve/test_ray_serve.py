"""``awrs serve --engine ray``: the application on a local Ray (2 CPUs), 2 engine replicas.

One application is shared by the module (``threads=1``, ``num_cpus=0`` per replica so two
replicas and the ingress fit 2 CPUs); the kill test runs last and waits for the replacement.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from ray_helpers import deploy, local_ray, openai_error, replica_names, wait_running
from serve_helpers import API_KEY, ROOT

httpx = pytest.importorskip("httpx")
pytest.importorskip("ray.serve")

AUTH = {"Authorization": f"Bearer {API_KEY}"}
PERSON = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 99},
    },
}
PHONE = r"\([0-9]{3}\) [0-9]{3}-[0-9]{4}"
MAX_PENDING, MAX_QUEUED = 2, 1


# -- without a Ray runtime -----------------------------------------------------------------------
def test_local_server_does_not_import_ray():
    code = "import sys, awrs.serve.app, awrs.serve.cli; print('ray' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_without_ray_a_configuration_error_names_the_extra(monkeypatch):
    import importlib

    from awrs.errors import ConfigurationError

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.delitem(sys.modules, "awrs.serve.ray", raising=False)
    with pytest.raises(ConfigurationError, match=re.escape("awrs[ray]")):
        importlib.import_module("awrs.serve.ray")


def test_settings_and_deployment_options():
    from awrs.errors import ConfigurationError
    from awrs.serve.ray import RaySettings, app, engine_options

    s = RaySettings.model_validate({"replicas": "3", "max_pending": "8", "threads": "2"})
    opts = engine_options(s)
    assert opts["num_replicas"] == 3
    assert opts["max_ongoing_requests"] == 8 and opts["max_queued_requests"] == 8
    assert opts["ray_actor_options"] == {"num_cpus": 2.0}
    auto = engine_options(RaySettings(min_replicas=1, max_replicas=4, max_pending=16))
    assert "num_replicas" not in auto
    assert auto["autoscaling_config"]["max_replicas"] == 4
    with pytest.raises(ConfigurationError, match="replicas"):
        engine_options(RaySettings(min_replicas=3, max_replicas=2))
    with pytest.raises(ConfigurationError, match="modle"):
        app({"modle": "x"})


def test_ray_failures_become_openai_errors():
    from ray.exceptions import ActorDiedError, GetTimeoutError
    from ray.serve.exceptions import BackPressureError, RequestCancelledError

    from awrs.serve.ray import ray_error

    busy = ray_error(BackPressureError(num_queued_requests=4, max_queued_requests=4))
    assert (busy.status, busy.code, busy.headers) == (429, "queue_full", {"Retry-After": "1"})
    died = ray_error(ActorDiedError())
    assert (died.status, died.code) == (503, "replica_unavailable")
    assert died.headers == {"Retry-After": "1"}
    assert ray_error(RequestCancelledError("r")).status == 499
    assert ray_error(GetTimeoutError("slow")).status == 504
    assert ray_error(KeyError("x")).status == 500
    for exc in (busy, died):
        assert openai_error(exc.body())


def test_a_stream_cut_by_ray_ends_with_an_error_event_then_done():
    import asyncio

    from ray.exceptions import ActorDiedError

    from awrs.serve.ray import _relay

    class Gen:
        cancelled = False

        def __init__(self):
            self.items = iter(["data: {}\n\n"])

        def __aiter__(self):
            return self

        async def __anext__(self):
            try:
                return next(self.items)
            except StopIteration:
                raise ActorDiedError() from None

        def cancel(self):
            self.cancelled = True

    async def collect(gen):
        return [e async for e in _relay(gen)]

    gen = Gen()
    events = asyncio.run(collect(gen))
    assert events[0] == "data: {}\n\n" and events[-1] == "data: [DONE]\n\n"
    err = json.loads(events[1].removeprefix("data: "))
    assert openai_error(err) and err["error"]["code"] == "replica_unavailable"
    assert not gen.cancelled  # it ended: nothing to cancel


@pytest.mark.slow
@pytest.mark.one_pass
def test_cli_serves_and_drains_on_sigterm():
    """``awrs serve --engine ray``: answers, and SIGTERM ends a request past the drain time
    with an OpenAI error, stops the application and Ray, and exits 0."""
    import signal
    import tempfile

    from serve_helpers import free_port, wait_healthy

    port = free_port()
    cmd = [sys.executable, "-m", "awrs", "serve", "--engine", "ray", "--port", str(port)]
    cmd += ["--threads", "1", "--replica-cpus", "0", "--drain-timeout", "2"]
    cmd += ["--api-key", API_KEY, "--max-tokens-limit", "64"]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, 180, proc, log)
        out: list = [None]
        t = threading.Thread(target=_post, args=(base, _long(0, False), out, 0))
        t.start()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
        t.join(timeout=60)
        kind, status, body, _ = out[0]
        assert kind == "ok" or (status == 503 and openai_error(body)), out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


# -- on a local Ray --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base():
    with local_ray(num_cpus=2):
        yield deploy(
            replicas=2,
            api_key=API_KEY,
            max_tokens_limit=64,
            max_particles=8,
            max_pending=MAX_PENDING,
            max_queued=MAX_QUEUED,
            max_body_bytes=65536,
        )


@pytest.fixture(scope="module")
def client(base):
    import openai

    with openai.OpenAI(base_url=f"{base}/v1", api_key=API_KEY, max_retries=0, timeout=120) as c:
        yield c


@pytest.mark.slow
@pytest.mark.one_pass
def test_json_schema_and_n(client):
    r = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "Describe a person as JSON."}],
        max_tokens=40,
        seed=1,
        n=2,
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}},
        extra_body={"n_particles": 4},
    )
    assert 1 <= len(r.choices) <= 2
    texts = [c.message.content for c in r.choices]
    assert len(set(texts)) == len(texts)  # distinct
    for c in r.choices:
        if c.finish_reason == "stop":
            doc = json.loads(c.message.content)
            assert set(doc) == {"name", "age"}
    assert r.model_extra["awrs"]["n_particles"] == 4


@pytest.mark.slow
@pytest.mark.one_pass
def test_regex_completion(client):
    r = client.completions.create(
        model="SmolLM2-135M-Instruct",
        prompt="A phone number: ",
        max_tokens=16,
        seed=0,
        extra_body={"regex": PHONE, "method": "awrs"},
    )
    assert re.fullmatch(PHONE, r.choices[0].text)
    assert r.usage.model_extra["particle_tokens"] > 0


@pytest.mark.slow
@pytest.mark.one_pass
def test_streaming_through_the_proxy(client):
    stream = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "A phone number, please."}],
        max_tokens=16,
        seed=3,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"regex": PHONE, "method": "awrs"},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert re.fullmatch(PHONE, text)
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1  # token by token
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


@pytest.mark.slow
@pytest.mark.one_pass
def test_api_key_and_error_shapes(base):
    body = {"model": "default", "prompt": "x", "max_tokens": 4}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = httpx.post(f"{base}/v1/completions", json=body, headers=headers, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(f"{base}/v1/models", timeout=30).status_code == 401
    h = httpx.get(f"{base}/health", timeout=30)  # open, reports an engine's state
    assert h.status_code == 200 and h.json()["engine"] == "ray" and "pending" in h.json()
    cases = [
        ({**body, "model": "gpt-4"}, 404, "model_not_found"),
        ({**body, "regex": "("}, 400, "invalid_constraint"),
        ({**body, "bogus": 1}, 400, "unknown_field"),
        ({**body, "max_tokens": 10_000}, 413, "limit_exceeded"),
    ]
    for payload, status, code in cases:
        r = httpx.post(f"{base}/v1/completions", json=payload, headers=AUTH, timeout=60)
        assert r.status_code == status, r.text
        assert openai_error(r.json()), r.text
        if code:
            assert r.json()["error"]["code"] == code
    big = httpx.post(f"{base}/v1/completions", content=b"x" * 100_000, headers=AUTH, timeout=60)
    assert big.status_code == 413 and openai_error(big.json())


def _post(base: str, payload: dict[str, Any], out: list, i: int) -> None:
    """Send one request (streamed or not) and record what came back."""
    try:
        if payload.get("stream"):
            with httpx.stream(
                "POST", f"{base}/v1/chat/completions", json=payload, headers=AUTH, timeout=180
            ) as r:
                if r.status_code != 200:
                    r.read()
                    out[i] = ("error", r.status_code, r.json(), dict(r.headers))
                    return
                events = [ln[6:] for ln in r.iter_lines() if ln.startswith("data: ")]
            out[i] = ("stream", 200, events, {})
            return
        r = httpx.post(f"{base}/v1/chat/completions", json=payload, headers=AUTH, timeout=180)
        kind = "ok" if r.status_code == 200 else "error"
        out[i] = (kind, r.status_code, r.json(), dict(r.headers))
    except Exception as exc:  # noqa: BLE001 - a lost request: the test fails on it
        out[i] = ("lost", None, repr(exc), {})


def _payload(i: int, stream: bool = False, max_tokens: int = 24) -> dict[str, Any]:
    return {
        "model": "default",
        "messages": [{"role": "user", "content": "Describe a person as JSON."}],
        "max_tokens": max_tokens,
        "seed": i,
        "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}},
        "method": "awrs" if stream else "smc",
        "n_particles": 1 if stream else 4,
        "stream": stream,
    }


def _fire(base: str, payloads: list[dict[str, Any]], during=None) -> list:
    out: list = [None] * len(payloads)
    threads = [
        threading.Thread(target=_post, args=(base, p, out, i)) for i, p in enumerate(payloads)
    ]
    for t in threads:
        t.start()
    if during is not None:
        during()
    for t in threads:
        t.join(timeout=240)
    return out


def _check_stream(events: list[str]) -> str:
    """'ok' (finished), or 'error' (an error event, then [DONE]); anything else fails."""
    assert events and events[-1] == "[DONE]", events[-3:]
    objs = [json.loads(e) for e in events[:-1]]
    errors = [o for o in objs if "error" in o]
    if errors:
        assert openai_error(errors[-1]) and objs[-1] is errors[-1], objs[-2:]
        return "error"
    assert objs[-1]["choices"][0]["finish_reason"] in ("stop", "length"), objs[-1]
    return "ok"


@pytest.mark.slow
@pytest.mark.one_pass
def test_429_past_every_replicas_bound(base):
    n = 2 * MAX_PENDING + MAX_QUEUED + 4
    out = _fire(base, [_payload(i, max_tokens=32) for i in range(n)])
    kinds = [o[0] for o in out]
    assert "lost" not in kinds, out
    refused = [o for o in out if o[0] == "error"]
    assert len(refused) >= n - (2 * MAX_PENDING + MAX_QUEUED)
    for _, status, body, headers in refused:
        assert status == 429 and openai_error(body) and body["error"]["code"] == "queue_full"
        assert headers.get("retry-after") == "1"
    assert "ok" in kinds  # (Ray's router may refuse more than the bound in a burst)


@pytest.mark.slow
@pytest.mark.one_pass
def test_client_disconnect_cancels_the_work(base):
    from ray import serve

    from awrs.serve.ray import ENGINE

    handle = serve.get_deployment_handle(ENGINE, app_name="awrs")

    def cancelled() -> int:
        seen: dict[str, int] = {}
        for _ in range(30):
            h = handle.health.remote().result(timeout_s=30)
            seen[h["replica"]] = h["cancelled"]
            if len(seen) == 2:
                break
        return sum(seen.values())

    before = cancelled()
    payload = {**_payload(7, stream=True, max_tokens=64), "response_format": None}
    with httpx.stream(
        "POST", f"{base}/v1/chat/completions", json=payload, headers=AUTH, timeout=60
    ) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        next(line for line in lines if line.startswith("data: "))
    deadline = time.monotonic() + 30
    while cancelled() <= before:
        assert time.monotonic() < deadline, "the replica kept the disconnected request's work"
        time.sleep(0.5)


def _long(i: int, stream: bool) -> dict[str, Any]:
    """A request that runs all its ``max_tokens`` (the regex cannot end sooner)."""
    return {
        "model": "default",
        "messages": [{"role": "user", "content": "Write a long sentence."}],
        "max_tokens": 64,
        "seed": i,
        "regex": "[a-z ]{200}",
        "method": "awrs" if stream else "smc",
        "n_particles": 1 if stream else 4,
        "stream": stream,
    }


@pytest.mark.slow
@pytest.mark.one_pass
def test_a_killed_replica_loses_no_request(base):
    """Requests in flight while an engine replica is killed: each answered once or cleanly
    failed with an OpenAI error (a stream: an error event, then [DONE]); then the
    application is healthy again and requests go to the live replicas."""
    import ray

    victim = sorted(replica_names(2))[0]
    out: list = [None] * (2 * MAX_PENDING)
    threads = []
    for i in range(len(out)):  # one at a time: Ray's router refuses a burst past max_queued
        threads.append(threading.Thread(target=_post, args=(base, _long(i, i % 2 == 1), out, i)))
        threads[-1].start()
        time.sleep(0.3)
    time.sleep(1.0)
    ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
    for t in threads:
        t.join(timeout=240)
    assert all(o is not None and o[0] != "lost" for o in out), out
    outcomes = []
    for kind, status, body, _ in out:
        if kind == "stream":
            outcomes.append(_check_stream(body))
        elif kind == "error":
            assert openai_error(body), body
            assert status == 503 and body["error"]["code"] == "replica_unavailable", body
            outcomes.append("error")
        else:
            assert body["choices"], body
            outcomes.append("ok")
    assert "ok" in outcomes and "error" in outcomes, outcomes  # one replica each
    wait_running(2)
    assert victim not in replica_names(2)
    after = _fire(base, [_payload(100 + i) for i in range(2)])
    assert [o[0] for o in after] == ["ok", "ok"], after
