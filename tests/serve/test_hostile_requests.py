"""Hostile requests against a real ``python -m awrs serve`` subprocess on loopback.

Each case asserts the status and the body, that no file appeared, and that the server still
answers a normal request within a bound afterwards. Every loop is bounded in count and time
and every server is stopped by its fixture. One pass of ``make test`` only (``one_pass``).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from serve_helpers import API_KEY, free_port, wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.one_pass]
psutil = pytest.importorskip("psutil")

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
TIMEOUT = 3.0  # the server's --timeout


def _start(cwd, *extra: str):
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "awrs",
        "serve",
        "--port",
        str(port),
        "--threads",
        "1",
        "--api-key",
        API_KEY,
        "--max-tokens-limit",
        "1024",
        "--max-particles",
        "8",
        "--max-body-bytes",
        str(2 << 20),
        "--timeout",
        str(TIMEOUT),
        "--max-pending",
        "2",
        *extra,
    ]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - returned; the caller closes it
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "AWRS_API_KEY": ""}
    )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, 180, proc, log)
    return proc, base, log


def _stop(proc, log) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve-cwd")
    (d / "secret.lark").write_text('word: "secret"\n')
    db = sqlite3.connect(d / "secret.db")
    db.execute("CREATE TABLE k(x)")
    db.execute('INSERT INTO k VALUES (\'{"a": "TOPSECRET"}\')')
    db.commit()
    db.close()
    return d


@pytest.fixture(scope="module")
def hostile(workdir):
    proc, base, log = _start(workdir, "--max-prompt-tokens", "7000")
    try:
        yield base, proc
    finally:
        _stop(proc, log)


def _post(base: str, body: dict, timeout: float = 60, path: str = "completions"):
    return httpx.post(
        f"{base}/v1/{path}", json={"model": "default", **body}, headers=HEADERS, timeout=timeout
    )


def _normal(base: str) -> float:
    """A normal request: 200 and a matching text; returns its latency."""
    t = time.monotonic()
    r = _post(
        base,
        {"prompt": "Count: ", "regex": "[0-9]{2}", "max_tokens": 4, "method": "awrs", "seed": 0},
    )
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["text"].isdigit()
    return time.monotonic() - t


def _cpu(proc) -> float:
    p = psutil.Process(proc.pid)
    return sum(p.cpu_times()[:2]) + sum(sum(c.cpu_times()[:2]) for c in p.children())


def _quiet(proc, seconds: float = 2.0) -> float:
    """CPU seconds the server spends over ``seconds`` of wall time."""
    before = _cpu(proc)
    time.sleep(seconds)
    return _cpu(proc) - before


def _grammar(rules: int) -> str:
    """A valid Lark grammar whose analysis takes seconds (~2 s per 1,500 rules here)."""
    head = "start: " + " | ".join(f'"k{i}" x{i}' for i in range(rules))
    body = "\n".join(
        f'x{i}: "a" x{(i + 1) % rules} "b" | "c" x{(i * 7) % rules} | "d"' for i in range(rules)
    )
    return head + "\n" + body


# -- SQL DDL: a sandbox, never the server's files ---------------------------------------------
def _probes(d) -> dict[str, str]:
    evil, copy, secret = d / "evil.db", d / "copy.db", d / "secret.db"
    return {
        "attach": f"CREATE TABLE t(a); ATTACH '{evil}' AS e; CREATE TABLE e.x(a);",
        "attach-case": f"create table t(a); aTtAcH /* x */ database '{evil}' as e;",
        "vacuum-into": f"CREATE TABLE t(a); VACUUM INTO '{copy}';",
        "pragma": "CREATE TABLE t(a); PRAGMA writable_schema = ON;",
        "trigger": "CREATE TABLE t(a); CREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; END;",
        "virtual": "CREATE TABLE t(a); CREATE VIRTUAL TABLE v USING fts5(a);",
        "insert": "CREATE TABLE t(a); INSERT INTO t VALUES (1);",
        "secret": f"CREATE TABLE t(a); ATTACH '{secret}' AS s; CREATE TABLE u AS SELECT "
        "json_extract(x, '$.a') AS y FROM s.k;",
        "load-extension": "CREATE TABLE t(a); CREATE VIEW v AS SELECT load_extension('x');",
        "slow-cte": "CREATE TABLE t AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT "
        "x + 1 FROM c WHERE x < 120000000) SELECT x FROM c;",
    }


@pytest.mark.parametrize("case", list(_probes(Path("/d"))))
def test_sql_probes_answer_4xx_and_leave_no_file(hostile, workdir, case):
    base, _ = hostile
    before = sorted(p.name for p in workdir.iterdir())
    t = time.monotonic()
    r = _post(base, {"prompt": "SELECT", "sql": _probes(workdir)[case], "max_tokens": 4})
    assert 400 <= r.status_code < 500, r.text
    assert time.monotonic() - t < TIMEOUT + 2
    err = r.json()["error"]
    assert err["code"] == "timeout" or (
        err["param"] == "sql" and err["code"] == "invalid_constraint"
    ), err
    assert "TOPSECRET" not in r.text and str(workdir) not in err["message"]
    assert sorted(p.name for p in workdir.iterdir()) == before
    assert _normal(base) < 30


def test_a_spider_style_schema_still_loads(hostile):
    base, _ = hostile
    ddl = (
        'CREATE TABLE "singer" ("Singer_ID" NUMERIC, "attach_id" TEXT, "Name" TEXT, '
        'PRIMARY KEY ("Singer_ID")); CREATE INDEX i ON singer(Name); '
        "CREATE VIEW v AS SELECT Name FROM singer;"
    )
    r = _post(base, {"prompt": "SELECT", "sql": ddl, "max_tokens": 4})
    assert r.status_code == 200, r.text


# -- grammar imports ----------------------------------------------------------------------------
def test_grammar_imports_reveal_nothing_of_the_server_files(hostile):
    base, _ = hostile
    bodies = [f"start: word\n%import .{name} (word)\n" for name in ("secret", "absent")]
    answers = [_post(base, {"prompt": "x", "grammar": g, "max_tokens": 2}) for g in bodies]
    assert [a.status_code for a in answers] == [400, 400]
    messages = [a.json()["error"]["message"] for a in answers]
    assert messages[0].replace("secret", "NAME") == messages[1].replace("absent", "NAME")
    ok = _post(
        base,
        {
            "prompt": "x",
            "grammar": "start: NUMBER\n%import common.NUMBER\n",
            "max_tokens": 2,
            "method": "awrs",
        },
    )
    assert ok.status_code == 200, ok.text


# -- builds under the request's deadline --------------------------------------------------------
def test_a_build_past_the_deadline_answers_504_and_stops_computing(hostile):
    base, proc = hostile
    t = time.monotonic()
    r = _post(base, {"prompt": "x", "grammar": _grammar(6000), "max_tokens": 2})
    took = time.monotonic() - t
    assert r.status_code == 504 and r.json()["error"]["code"] == "timeout", r.text
    assert took < TIMEOUT + 2  # the build alone takes ~10 s
    assert _quiet(proc) < 0.5  # the build stopped computing
    assert httpx.get(f"{base}/health").json()["pending"] == 0
    assert _normal(base) < 30


def test_a_disconnect_during_a_build_frees_its_slot_and_stops_it(hostile):
    base, proc = hostile
    with pytest.raises(httpx.ReadTimeout):
        _post(base, {"prompt": "x", "grammar": _grammar(6000), "max_tokens": 2}, timeout=0.5)
    t = time.monotonic()
    while httpx.get(f"{base}/health").json()["pending"] and time.monotonic() - t < 5:
        time.sleep(0.05)
    assert time.monotonic() - t < 1.5  # freed within a second of the disconnect
    # the build stops: at once from Python code, when it returns from a C call (Lark's regex
    # compilation) otherwise, well before the ~8 s the whole build takes unloaded
    t = time.monotonic()
    while _quiet(proc, 1.0) > 0.3:
        assert time.monotonic() - t < 4.0, "the build kept computing after the disconnect"


def test_fifty_hostile_builds_leave_a_normal_request_as_it_was(hostile):
    base, proc = hostile
    before = sorted(_normal(base) for _ in range(5))[2]
    grammar = _grammar(3000)
    t0 = time.monotonic()
    for _ in range(50):
        with pytest.raises(httpx.ReadTimeout):
            _post(base, {"prompt": "x", "grammar": grammar, "max_tokens": 2}, timeout=0.3)
        while httpx.get(f"{base}/health").json()["pending"]:  # its slot frees at once
            assert time.monotonic() - t0 < 120
            time.sleep(0.05)
    time.sleep(1.0)
    # a build interrupted inside a long C call (Lark's regex compilation) stops when it
    # returns: wait, bounded, for the server to go quiet before measuring
    t_quiet = time.monotonic()
    while _quiet(proc, 1.0) > 0.3:
        assert time.monotonic() - t_quiet < 60, "the server kept computing after the builds"
    after = sorted(_normal(base) for _ in range(5))[2]
    assert after < 2 * before + 1.0, (before, after)  # medians: as it was, up to load noise
    assert httpx.get(f"{base}/health").json()["pending"] == 0


# -- long prompts ---------------------------------------------------------------------------------
def _long_prompt(tokens: int) -> str:
    return " ".join(f"w{i % 97}" for i in range(tokens // 3))  # ~3 tokens a word


def test_prompt_over_the_limit_gets_413(hostile):
    base, _ = hostile
    r = _post(base, {"prompt": _long_prompt(9000), "max_tokens": 2})
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["param"] == "prompt" and "7000" in err["message"]


def test_a_short_request_beside_a_long_prompt_is_answered_first(workdir):
    proc, base, log = _start(workdir, "--timeout", "600", "--max-pending", "8")
    try:
        out: dict = {}

        def long_request():
            t = time.monotonic()
            r = _post(base, {"prompt": _long_prompt(6000), "max_tokens": 4}, timeout=600)
            out["long"] = (r.status_code, time.monotonic() - t)

        th = threading.Thread(target=long_request)
        th.start()
        time.sleep(1.0)
        t = time.monotonic()
        r = _post(base, {"prompt": "Say hi.", "max_tokens": 4}, timeout=600)
        short = time.monotonic() - t
        th.join(timeout=600)
        assert r.status_code == 200 and out["long"][0] == 200
        assert short < 0.5 * out["long"][1], (short, out["long"])
    finally:
        _stop(proc, log)


# -- SIGTERM drains --------------------------------------------------------------------------------
def test_sigterm_drains_then_ends_requests_in_flight_with_503(workdir):
    proc, base, log = _start(workdir, "--timeout", "120", "--drain-timeout", "2")
    try:
        out: dict = {}

        def request(key: str, body: dict):
            try:
                r = _post(base, body, timeout=60)
                out[key] = (r.status_code, r.json())
            except httpx.HTTPError as exc:
                out[key] = (None, repr(exc))

        long_body = {
            "prompt": "Digits: ",
            "regex": "[0-9]{900}",
            "max_tokens": 1000,
            "method": "awrs",
            "n_particles": 1,
        }
        threads = [threading.Thread(target=request, args=("long", long_body))]
        threads[0].start()
        time.sleep(1.5)
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        for th in threads:
            th.join(timeout=30)
        proc.wait(timeout=20)
        took = time.monotonic() - t
        status, body = out["long"]
        assert status == 503 and body["error"]["code"] == "server_shutting_down", out
        assert took < 2 + 8  # drain time, then a prompt exit
    finally:
        if proc.poll() is None:
            _stop(proc, log)
        else:
            log.close()
