"""The ``awrs serve`` options: loopback by default, limits passed through."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from awrs.cli import build_parser
from awrs.serve.cli import _loopback

ROOT = Path(__file__).resolve().parents[2]


def test_serve_binds_loopback_by_default_and_parses_limits():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.api_key) == ("127.0.0.1", 8000, None)
    args = build_parser().parse_args(
        [
            "serve",
            "--port",
            "9001",
            "--max-pending",
            "3",
            "--timeout",
            "2.5",
            "--max-body-bytes",
            "100",
        ]
    )
    assert (args.port, args.max_pending, args.timeout, args.max_body_bytes) == (9001, 3, 2.5, 100)
    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("localhost")
    assert not _loopback("0.0.0.0") and not _loopback("192.168.1.4")


def test_parsing_the_command_line_does_not_import_the_web_stack():
    code = (
        "import sys, awrs.cli; awrs.cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'uvicorn')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
