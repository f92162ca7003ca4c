"""Helpers for the serve tests: free ports, health waits, a uvicorn server in a thread."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "test-key-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base: str, timeout: float, proc: subprocess.Popen | None = None, log=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            if log is not None:
                log.seek(0)
            text = log.read().decode(errors="replace")[-2000:] if log is not None else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {text}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server at {base} not healthy after {timeout} s")


class ThreadServer:
    """uvicorn serving an app in a thread of the test process (toy models: no model load)."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.clients: list = []

    def __enter__(self):
        self.thread.start()
        wait_healthy(self.base, 20)
        return self

    def __exit__(self, *exc):
        for client in self.clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def client(self, **kw):
        import openai

        client = openai.OpenAI(base_url=f"{self.base}/v1", api_key="none", max_retries=0, **kw)
        self.clients.append(client)
        return client

    def health(self) -> dict:
        return httpx.get(f"{self.base}/health", timeout=5).json()
