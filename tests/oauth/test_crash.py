"""kill -9 during a refresh: at the worst moment (the server has rotated the refresh token, the process never
stored the new one) and while holding the login's lock. The rerun needs no new login where the server keeps a
grace for the token it just replaced; where it keeps none, the rerun says in one line to log in again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emulator.oauth_app import TOKEN_PATH
from sources.clarify.api import ClarifyApi
from sources.clarify.login_store import login_lock, login_path, read_login
from tests.conftest import killed_once_committed
from tests.oauth.conftest import ROOT, cli, cli_env, log_in, login_connection, one_error_line, start_cli
from tests.sync.conftest import assert_synced


@pytest.mark.parametrize("grace", [30.0, 0.0])
def test_killed_between_the_rotation_and_storing_it(
    make_emu: Any, make_warehouse: Any, tmp_path: Path, grace: float
) -> None:
    emu = make_emu(records=100, access_token_seconds=60, refresh_grace_seconds=grace)
    path = log_in(emu)
    before = read_login(path)
    emu.clock.advance(120)  # the stored access token is dead on the server: the first request renews it
    wh = make_warehouse("duckdb")
    child = start_cli(emu, tmp_path, "sync", "--duckdb-path", wh.duckdb_path, wait_for_go=True)
    killed_once_committed(emu, child, TOKEN_PATH)  # the server has issued the new pair, its answer never leaves
    assert emu.oauth.report()["refreshes"] == 1
    assert read_login(path) == before  # the file still holds the token the server just replaced

    again = cli(emu, tmp_path, "sync", "--duckdb-path", wh.duckdb_path)
    report = emu.oauth.report()
    if grace:
        assert again.returncode == 0, again.stderr
        assert_synced(emu, wh)
        assert report["graceful_reuses"] == 1 and report["revoked"] == 0
        assert read_login(path).refresh_token != before.refresh_token  # type: ignore[union-attr]
    else:  # the answer that held the only valid refresh token died with the process: nothing to recover
        assert again.returncode == 4
        assert "run `clarify-sync login`" in one_error_line(again)
        assert report["reuses_detected"] == 1 and not Path(wh.duckdb_path).exists()


HOLDER = """
import sys
from pathlib import Path
from sources.clarify.login_store import login_lock
with login_lock(Path(sys.argv[1]), timeout=10):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_lock_holder_killed_never_blocks_the_next_run(make_emu: Any) -> None:
    emu = make_emu(records=20, access_token_seconds=60)
    path = log_in(emu)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        env={**cli_env(emu), "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()  # SIGKILL with the lock held
    holder.wait(timeout=30)
    emu.clock.advance(120)
    conn = login_connection(emu)
    with login_lock(path, timeout=0):  # the kernel released it: free at once
        pass
    assert ClarifyApi(conn, auth=conn.auth(clock=emu.clock.now)).schemas()
    assert emu.oauth.report()["refreshes"] == 1
    assert login_path(emu.base_url, emu.workspace) == path
