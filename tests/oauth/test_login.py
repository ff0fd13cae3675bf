"""`clarify-sync login` as a user runs it: the printed address opened by a (scripted) browser, the emulator
checking PKCE, `state` and `offline_access`; the login kept in an owner-only file; `logout` and `status`."""

from __future__ import annotations

import os
import stat
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.auth import HeaderAuth
from pipelines.login import LoginRequest, run_login
from sources.clarify.api import ClarifyApi
from sources.clarify.login_store import login_path, read_login
from sources.clarify.oauth import LoginError, OAuthClient
from tests.oauth.conftest import browse, cli, finished, log_in, login_connection, one_error_line, start_cli


@pytest.fixture
def emu(make_emu: Any) -> Any:
    return make_emu(records=50)


def _assert_checked_by_the_emulator(emu: Any) -> None:
    report = emu.oauth.report()
    (asked,) = report["authorizations"]
    assert asked["code_challenge_method"] == "S256" and asked["state"]
    assert "offline_access" in asked["scope"].split()
    assert asked["redirect_uri"].startswith("http://127.0.0.1:") and asked["redirect_uri"].endswith("/callback")
    assert report["exchanges"] == 1  # the code came back with a verifier matching the challenge


def _assert_private_login(emu: Any, state: Path) -> Path:
    path = login_path(emu.base_url, emu.workspace)
    assert path.parent == state and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700  # the folder was made for it
    login = read_login(path)
    assert login is not None and login.refresh_token and login.client_id == "demo-client"
    assert login.access_token not in repr(login) and login.refresh_token not in repr(login)
    return path


def test_scripted_login_with_the_printed_address(emu: Any, tmp_path: Path, state: Path) -> None:
    proc = start_cli(emu, tmp_path, "login", "--no-browser", "--timeout", "120")
    try:
        assert proc.stdout is not None
        printed = [proc.stdout.readline() for _ in range(2)]
        url = printed[1].strip()  # a line of its own, after the line saying what to do with it
        assert url.startswith(f"{emu.auth_url}/authorize?") and "code_challenge_method=S256" in url, printed
        page = browse(url)
        assert page.status_code == 200 and "Logged in" in page.text
    finally:
        done = finished(proc)
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, err
    _assert_checked_by_the_emulator(emu)
    path = _assert_private_login(emu, state)
    assert str(path) in out and "readable only by you" in out
    assert not any(secret in "".join(printed) + out + err for secret in emu.oauth.issued())


def test_the_browser_is_opened_where_there_is_one(emu: Any, tmp_path: Path, state: Path) -> None:
    browser = tmp_path / "browser"
    browser.write_text(f"#!{sys.executable}\nimport sys, httpx\nhttpx.get(sys.argv[1], follow_redirects=True)\n")
    browser.chmod(0o755)
    done = cli(emu, tmp_path, "login", "--timeout", "120", BROWSER=str(browser))  # webbrowser runs $BROWSER
    assert done.returncode == 0, done.stderr
    _assert_checked_by_the_emulator(emu)
    _assert_private_login(emu, state)


def _request(emu: Any, timeout: float = 60) -> LoginRequest:
    return LoginRequest(emu.base_url, emu.workspace, OAuthClient(emu.auth_url, "demo-client"), timeout=timeout)


def test_an_answer_with_another_state_is_refused(emu: Any) -> None:
    def forged(url: str) -> None:  # the answer arrives with a state this login never made
        location = httpx.get(url).headers["location"]
        threading.Thread(target=httpx.get, args=(location.replace("state=", "state=x"),), daemon=True).start()

    with pytest.raises(LoginError, match="another state"):
        run_login(_request(emu), announce=lambda line: None, open_url=forged)
    assert not login_path(emu.base_url, emu.workspace).exists() and emu.oauth.report()["exchanges"] == 0


def test_no_answer_times_out_with_one_line(emu: Any) -> None:
    with pytest.raises(LoginError, match="no answer from the browser within") as caught:
        run_login(_request(emu, timeout=0.2), announce=lambda line: None, open_url=lambda url: None)
    assert "\n" not in str(caught.value)
    assert not login_path(emu.base_url, emu.workspace).exists()


def test_logout_forgets_the_login_and_status_says_how_runs_authenticate(emu: Any, tmp_path: Path) -> None:
    path = log_in(emu)
    status = cli(emu, tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert f"auth: stored login for workspace '{emu.workspace}'" in status.stdout
    assert "access token valid until" in status.stdout and "the login holds until revoked" in status.stdout
    assert not any(secret in status.stdout for secret in emu.oauth.issued())
    keyed = cli(emu, tmp_path, "status", CLARIFY_API_KEY=emu.api_key)
    assert "auth: API key (workspace" in keyed.stdout  # a key outranks the login

    done = cli(emu, tmp_path, "logout")
    assert done.returncode == 0 and str(path) in done.stdout and not path.exists()
    refused = cli(emu, tmp_path, "sync")
    assert refused.returncode == 2 and "run `clarify-sync login`" in one_error_line(refused)


def test_credentials_never_reach_another_origin(emu: Any) -> None:
    """The API's credential is set only on requests to the API's origin, even on a client that reaches others."""
    with httpx.Client(auth=HeaderAuth(emu.base_url, f"api-key {emu.api_key}")) as client:
        to_auth = client.post(f"{emu.auth_url}/token", data={"grant_type": "refresh_token"})
        to_api = client.get(f"{emu.base_url}/workspaces/{emu.workspace}/schemas")
    assert "authorization" not in to_auth.request.headers and to_auth.status_code == 401
    assert to_api.request.headers["authorization"] == f"api-key {emu.api_key}" and to_api.status_code == 200


def test_a_login_file_others_can_read_is_refused(emu: Any, tmp_path: Path) -> None:
    path = log_in(emu)
    os.chmod(path, 0o644)
    done = cli(emu, tmp_path, "sync")
    assert done.returncode == 2 and f"chmod 600 {path}" in one_error_line(done)


def test_a_confidential_client_logs_in_and_refreshes_with_its_secret(emu: Any) -> None:
    emu.config_update(oauth_client_secret="partner-secret")
    with pytest.raises(LoginError, match="invalid_client"):
        log_in(emu)  # no secret: the code exchange is refused
    path = log_in(emu, secret="partner-secret")
    emu.clock.advance(7200)  # the access token is dead: the next request renews it, with the stored secret
    conn = login_connection(emu)
    assert ClarifyApi(conn, auth=conn.auth(clock=emu.clock.now)).schemas()
    assert emu.oauth.report()["refreshes"] == 1 and read_login(path).client_secret == "partner-secret"  # type: ignore[union-attr]
