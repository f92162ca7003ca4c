"""Fixtures for the serve tests: ``python -m awrs serve`` on the default model in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
from serve_helpers import API_KEY, ROOT, free_port, wait_healthy


@pytest.fixture(scope="module")
def server():
    """``python -m awrs serve`` on the default model, 127.0.0.1, a free port, an API key."""
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
        "64",
        "--max-particles",
        "8",
        "--max-body-bytes",
        "65536",
    ]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "AWRS_API_KEY": ""}
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, 180, proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def client(server):
    import openai

    with openai.OpenAI(
        base_url=f"{server}/v1", api_key=API_KEY, max_retries=0, timeout=120
    ) as client:
        yield client
