"""The emulator's partner OAuth server, driven with plain httpx: its own origin, PKCE and state required,
`offline_access` for a refresh token, rotation with reuse detection (and the optional grace), tokens that
expire on the emulator's clock."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from emulator import RunningEmulator

REDIRECT = "http://127.0.0.1:8400/callback"  # nothing listens there: the redirect is read, never followed
SCOPE = "openid profile email offline_access"


@pytest.fixture
def emu(emulator_factory: Callable[..., RunningEmulator], cache_dir: str) -> RunningEmulator:
    return emulator_factory(records=20, cache_dir=cache_dir, rate_limit=None, access_token_seconds=60)


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _authorize(emu: RunningEmulator, **params: str) -> dict[str, str]:
    """The query the authorize endpoint redirects to (or its error page's text under `page`)."""
    query = {"response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT, "scope": SCOPE}
    response = httpx.get(f"{emu.auth_url}/authorize", params={**query, **params})
    if response.status_code != 302:
        return {"page": response.text, "status": str(response.status_code)}
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == params.get("redirect_uri", REDIRECT)
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def _token(emu: RunningEmulator, **form: str) -> httpx.Response:
    return httpx.post(f"{emu.auth_url}/token", data={"client_id": "demo-client", **form})


def _login(emu: RunningEmulator, scope: str = SCOPE) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(48)
    answer = _authorize(emu, state="s1", code_challenge=_challenge(verifier), code_challenge_method="S256", scope=scope)
    assert answer["state"] == "s1"
    response = _token(
        emu, grant_type="authorization_code", code=answer["code"], redirect_uri=REDIRECT, code_verifier=verifier
    )
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store", response.text
    return response.json()


def _api(emu: RunningEmulator, token: str) -> int:
    url = f"{emu.base_url}/workspaces/{emu.workspace}/schemas"
    return httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code


def test_the_auth_server_is_its_own_origin(emu: RunningEmulator) -> None:
    assert emu.auth_port != emu.port
    assert httpx.post(f"{emu.origin}/oauth2/token", data={}).status_code == 404
    assert httpx.get(f"http://127.0.0.1:{emu.auth_port}/v1/workspaces/demo/schemas").status_code == 404


def test_pkce_and_state_are_required(emu: RunningEmulator) -> None:
    verifier = secrets.token_urlsafe(48)
    no_pkce = _authorize(emu, state="s")
    assert no_pkce["error"] == "invalid_request" and no_pkce["state"] == "s"
    plain = _authorize(emu, state="s", code_challenge=verifier, code_challenge_method="plain")
    assert plain["error"] == "invalid_request"
    assert (
        _authorize(emu, code_challenge=_challenge(verifier), code_challenge_method="S256")["error"] == "invalid_request"
    )
    # neither an unknown client nor a redirect off the loopback interface is redirected to
    assert _authorize(emu, client_id="other")["status"] == "400"
    assert _authorize(emu, redirect_uri="http://example.com:8400/callback")["status"] == "400"
    asked = emu.oauth.report()["authorizations"]
    assert [a["code_challenge_method"] for a in asked[:3]] == [None, "plain", "S256"]
    assert [a["state"] for a in asked[:3]] == [True, True, False]


def test_the_code_needs_its_verifier_and_works_once(emu: RunningEmulator) -> None:
    verifier = secrets.token_urlsafe(48)
    code = _authorize(emu, state="s", code_challenge=_challenge(verifier), code_challenge_method="S256")["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    wrong = _token(emu, **form, code_verifier=secrets.token_urlsafe(48))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    first = _token(emu, **form, code_verifier=verifier)
    assert first.status_code == 200
    again = _token(emu, **form, code_verifier=verifier)
    assert again.json()["error"] == "invalid_grant"  # used twice: what it issued is revoked (RFC 6749 §4.1.2)
    assert _api(emu, first.json()["access_token"]) == 401


def test_only_offline_access_brings_a_refresh_token(emu: RunningEmulator) -> None:
    assert "refresh_token" in _login(emu)
    online = _login(emu, scope="openid profile email")
    assert "refresh_token" not in online and _api(emu, online["access_token"]) == 200


def test_refresh_rotates_and_a_reused_token_revokes_the_login(emu: RunningEmulator) -> None:
    first = _login(emu)
    second = _token(emu, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert _api(emu, first["access_token"]) == 200  # an earlier access token lives out its time
    reused = _token(emu, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert _api(emu, second["access_token"]) == 401  # the whole family is gone
    assert _token(emu, grant_type="refresh_token", refresh_token=second["refresh_token"]).status_code == 400
    report = httpx.get(f"{emu.origin}/_emulator/oauth").json()  # what other processes read
    assert report["reuses_detected"] == 1 and report["revoked"] == 1 and report["max_refresh_token_uses"] == 2


def test_the_grace_covers_only_a_lost_answer(emu: RunningEmulator) -> None:
    emu.config_update(refresh_grace_seconds=30)
    emu.clock.freeze()
    first = _login(emu)
    lost = _token(emu, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()  # never received
    again = _token(emu, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert again.status_code == 200, again.text
    assert _api(emu, lost["access_token"]) == 401  # the unused pair is void
    fresh = again.json()
    assert _api(emu, fresh["access_token"]) == 200  # its successor used: no more grace
    assert _token(emu, grant_type="refresh_token", refresh_token=first["refresh_token"]).status_code == 400
    assert emu.oauth.report()["graceful_reuses"] == 1 and emu.oauth.report()["revoked"] == 1

    second = _login(emu)
    _token(emu, grant_type="refresh_token", refresh_token=second["refresh_token"])
    emu.clock.advance(31)  # past the grace
    late = _token(emu, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert late.status_code == 400 and emu.oauth.report()["revoked"] == 2


def test_access_tokens_expire_on_the_emulator_clock(emu: RunningEmulator) -> None:
    emu.clock.freeze()
    token = _login(emu)["access_token"]
    emu.clock.advance(59)
    assert _api(emu, token) == 200
    emu.clock.advance(2)
    assert _api(emu, token) == 401
    emu.config_update(clock_step=40.0)  # every API request moves the clock first
    token = _login(emu)["access_token"]
    assert [_api(emu, token) for _ in range(3)] == [200, 401, 401]


def test_a_confidential_client_must_authenticate(emu: RunningEmulator) -> None:
    httpx.post(f"{emu.origin}/_emulator/config", json={"oauth_client_secret": "s3cret"}).raise_for_status()
    verifier = secrets.token_urlsafe(48)
    code = _authorize(emu, state="s", code_challenge=_challenge(verifier), code_challenge_method="S256")["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    assert _token(emu, **form).status_code == 401
    assert _token(emu, **form, client_secret="s3cret").status_code == 200
