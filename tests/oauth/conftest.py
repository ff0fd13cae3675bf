"""Partner OAuth tests: the CRM sync fixtures, a state folder of the test's own, and ways to log in as a user
would (the browser is httpx, following the authorize redirect to the loopback listener)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.login import LoginRequest, run_login
from sources.clarify.connection import ClarifyConnection
from sources.clarify.oauth import OAuthClient
from tests.sync.conftest import _isolated_dlt, emulator_cache, make_emu, make_warehouse  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The state folder (stored logins, error logs) of this test alone."""
    folder = tmp_path / "state"
    monkeypatch.setenv("CLARIFY_SYNC_LOG_DIR", str(folder))
    for name in ("CLARIFY_AUTH_URL", "CLARIFY_OAUTH_CLIENT_ID", "CLARIFY_OAUTH_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return folder


def browse(url: str) -> httpx.Response:
    """What a browser does with the authorize address: follow the redirect to the loopback listener."""
    return httpx.get(url, follow_redirects=True, timeout=30)


def log_in(emu: Any, clock: Callable[[], float] = time.time, secret: str | None = None) -> Path:
    """`clarify-sync login` in this process, its browser in a thread; the stored login's file."""
    client = OAuthClient(emu.auth_url, emu.emulator.config.oauth_client_id, secret)
    request = LoginRequest(emu.base_url, emu.workspace, client)
    opened = lambda url: threading.Thread(target=browse, args=(url,), daemon=True).start()  # noqa: E731
    return run_login(request, announce=lambda line: None, open_url=opened, clock=clock)


def login_connection(emu: Any) -> ClarifyConnection:
    return ClarifyConnection(emu.base_url, emu.workspace, stored_login=True)


def cli_env(emu: Any, **extra: str) -> dict[str, str]:
    """The environment of a `clarify-sync` process that authenticates with the stored login (the test's state
    folder and dlt home are in `os.environ` already)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CLARIFY_API_KEY", "CLARIFY_ACCESS_TOKEN")}
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        "CLARIFY_BASE_URL": emu.base_url,
        "CLARIFY_WORKSPACE": emu.workspace,
        "CLARIFY_AUTH_URL": emu.auth_url,
        "CLARIFY_OAUTH_CLIENT_ID": emu.emulator.config.oauth_client_id,
        **extra,
    }


def start_cli(
    emu: Any, tmp: Path, *args: str, block_dlt: bool = False, wait_for_go: bool = False, **extra: str
) -> subprocess.Popen[str]:
    """`clarify-sync ARGS` started from `tmp`, as cron would run it. `block_dlt`: in a process where `import dlt`
    fails, so only a run answered without dlt succeeds; `wait_for_go`: it starts once a line arrives on stdin."""
    steps = ["import sys"]
    steps += ["sys.modules['dlt'] = None"] if block_dlt else []
    steps += ["sys.stdin.readline()"] if wait_for_go else []
    code = "; ".join([*steps, "from pipelines.cli.app import run", "run(sys.argv[1:])"])
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=tmp,
        env=cli_env(emu, **extra),
        stdin=subprocess.PIPE if wait_for_go else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        out, err = proc.communicate(stdin, timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def cli(emu: Any, tmp: Path, *args: str, block_dlt: bool = False, **extra: str) -> subprocess.CompletedProcess[str]:
    return finished(start_cli(emu, tmp, *args, block_dlt=block_dlt, **extra))


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]
