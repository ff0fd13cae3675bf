"""A stored login renewed during syncs: short access tokens on the emulator's clock (it moves with every API
request, so nothing sleeps), renewed ahead of expiry or on a 401; two syncs at once on one login; an answer
lost on the way. No refresh token is ever used twice unless a server grace was there for it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from emulator.oauth_app import TOKEN_PATH
from pipelines.sync import run_sync
from sources.clarify.api import ClarifyApi
from sources.clarify.login_store import login_path, read_login, write_login
from sources.clarify.oauth import LoginError
from tests.oauth.conftest import finished, log_in, login_connection, start_cli
from tests.sync.conftest import PG_DSN, PG_OK, assert_synced

STEP = 0.05  # seconds the emulator's clock moves per API request: a 1-second token lasts 20 requests


def _refused(emu: Any) -> int:
    return sum(n for (_, _, status), n in emu.stats.snapshot().items() if status == 401)


@pytest.mark.parametrize("renewed", ["ahead", "on 401"])
def test_a_sync_outlives_many_one_second_tokens(make_emu: Any, make_warehouse: Any, renewed: str) -> None:
    emu = make_emu(records=1500, access_token_seconds=1, rate_limit=None)
    emu.clock.freeze()
    log_in(emu, clock=emu.clock.now)
    emu.config_update(clock_step=STEP)
    conn = login_connection(emu)
    # "ahead": the client reads the emulator's clock and renews half a second early; "on 401": its clock stands
    # still, so every token dies on the server first and the 401 is what renews it.
    stuck = emu.clock.now()
    auth = conn.auth(clock=emu.clock.now if renewed == "ahead" else lambda: stuck)
    wh = make_warehouse("duckdb")
    run_sync(conn, wh, api=ClarifyApi(conn, auth=auth), page_limit=20)  # ~90 requests: the clock moves ~4.5 s
    assert_synced(emu, wh)
    report = emu.oauth.report()
    assert report["refreshes"] == auth.refreshed >= 3  # several one-second tokens
    assert report["max_refresh_token_uses"] == 1 and report["revoked"] == 0
    if renewed == "ahead":
        assert _refused(emu) == 0
    else:  # each dead token refused at least one request, which was sent once more with the new token
        assert _refused(emu) >= report["refreshes"]


def test_two_syncs_at_once_on_one_login(make_emu: Any, make_warehouse: Any, tmp_path: Path) -> None:
    emu = make_emu(records=600, access_token_seconds=1, rate_limit=None)
    path = log_in(emu)
    login = read_login(path)
    assert login is not None
    write_login(path, dataclasses.replace(login, expires_at=0.0))  # both must renew it before their first request
    emu.clock.freeze()
    emu.config_update(clock_step=0.01)
    duck = make_warehouse("duckdb")
    other = make_warehouse("postgres") if PG_OK else dataclasses.replace(duck, duckdb_path=duck.duckdb_path + "2")
    where = {
        "duckdb": lambda wh: ["--duckdb-path", wh.duckdb_path],
        "postgres": lambda wh: ["--destination", "postgres", "--postgres-dsn", PG_DSN, "--dataset", wh.dataset],
    }
    runs = [start_cli(emu, tmp_path, "sync", *where[wh.destination](wh)) for wh in (duck, other)]
    results = [finished(run) for run in runs]
    assert [done.returncode for done in results] == [0, 0], [done.stderr for done in results]
    assert_synced(emu, duck)
    assert_synced(emu, other)
    report = emu.oauth.report()
    assert report["refreshes"] >= 1  # the first to take the lock renewed it, the other re-read the file
    assert report["max_refresh_token_uses"] == 1 and report["reuses_detected"] == 0 and report["revoked"] == 0
    assert read_login(path).refresh_token != login.refresh_token  # type: ignore[union-attr]


@pytest.mark.parametrize("grace", [30.0, 0.0])
def test_a_refresh_whose_answer_was_lost_is_asked_again(make_emu: Any, grace: float) -> None:
    """The server rotated, the answer never arrived: the same refresh token again. A server with a grace for the
    token it just replaced answers it; one without has revoked the login, and the run says to log in again."""
    emu = make_emu(records=20, access_token_seconds=1, rate_limit=None, refresh_grace_seconds=grace)
    emu.clock.freeze()
    log_in(emu, clock=emu.clock.now)
    emu.clock.advance(5)
    emu.faults.set(commit_then_drop=1, only_paths=[TOKEN_PATH])
    conn = login_connection(emu)
    api = ClarifyApi(conn, auth=conn.auth(clock=emu.clock.now))
    report = emu.oauth.report
    if grace:
        assert api.schemas()
        assert report()["graceful_reuses"] == 1 and report()["revoked"] == 0
        assert api.schemas()  # and the login goes on
    else:
        with pytest.raises(LoginError, match="run `clarify-sync login`"):
            api.schemas()
        assert report()["reuses_detected"] == 1 and report()["revoked"] == 1
    assert login_path(emu.base_url, emu.workspace).exists()  # a refused login is kept for `status` to show
