"""`clarify-sync login`: the authorization code flow with PKCE for a native app, as RFC 8252 describes it.

A one-shot listener on the loopback interface (`http://127.0.0.1:<free port>/callback`, an IP literal as RFC
8252 §7.3 asks, any port), a PKCE verifier with its S256 challenge (RFC 7636) and a random `state` (Authlib's
`OAuth2Client.create_authorization_url`); the authorize address is printed on a line of its own and opened in a
browser where there is one (`webbrowser`; `--no-browser` only prints it). The browser is sent back to this
machine's loopback, so on a server reached over SSH pick the port (`--port 8400`) and forward it
(`ssh -L 8400:127.0.0.1:8400 server`) before opening the address on the laptop. The browser's answer must carry
the same `state`; the code is exchanged with the verifier, the workspace is asked once with the new token (a
wrong workspace or URL stops here), and the login is stored (`sources/clarify/login_store.py`). No token is
ever printed.
"""

from __future__ import annotations

import secrets
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from authlib.common.security import generate_token

from core.errors import ConfigError
from sources.clarify.api import ClarifyApi
from sources.clarify.connection import ClarifyConnection, resolve_connection
from sources.clarify.login_store import (
    StoredLogin,
    forget_login,
    login_lock,
    login_path,
    read_login,
    token_times,
    write_login,
)
from sources.clarify.oauth import SCOPES, LoginError, OAuthClient, TokenRefused, token_request

DEFAULT_TIMEOUT = 300.0
CALLBACK_PATH = "/callback"


@dataclass(frozen=True)
class LoginRequest:
    base_url: str
    workspace: str
    client: OAuthClient
    open_browser: bool = True
    timeout: float = DEFAULT_TIMEOUT
    port: int = 0  # the listener's port; 0: a free one


def run_login(
    request: LoginRequest,
    announce: Callable[[str], None],
    open_url: Callable[[str], object] = webbrowser.open,
    clock: Callable[[], float] = time.time,
) -> Path:
    """Log in and store the login; returns the file. Raises `LoginError` (refused, timed out) and the errors of
    the workspace check."""
    client = request.client
    verifier = generate_token(64)  # RFC 7636 §4.1: 43-128 unreserved characters
    with _listener(request.port) as callback:
        session = client.session(scope=SCOPES, redirect_uri=callback.redirect_uri)
        url, state = session.create_authorization_url(client.authorize_url, code_verifier=verifier)
        announce(
            f"Open this address in a browser to log in to workspace {request.workspace!r} (waiting "
            f"{request.timeout:.0f} s for the answer at {callback.redirect_uri}):"
        )
        announce(url)
        if request.open_browser:
            _open(open_url, url)
        code = _code(callback.wait(request.timeout), state, request.timeout)
        try:
            token = token_request(
                lambda: session.fetch_token(client.token_url, code=code, code_verifier=verifier), client.auth_url
            )
        except TokenRefused as refused:
            raise LoginError(f"the auth server refused the code ({refused}): run `clarify-sync login` again") from None
    if not token.get("refresh_token"):
        raise LoginError(
            "the auth server issued no refresh token (offline_access was not granted): the login could not "
            "outlive its first access token; ask Clarify to allow offline_access for the app"
        )
    _check_workspace(request, token["access_token"])
    login = _stored(request, dict(token), clock())
    path = login_path(request.base_url, request.workspace)
    with login_lock(path, timeout=60):
        write_login(path, login)
    return path


@dataclass
class _Callback:
    redirect_uri: str
    answered: threading.Event
    answer: dict[str, str]

    def wait(self, timeout: float) -> dict[str, str] | None:
        return self.answer if self.answered.wait(timeout) else None


@contextmanager
def _listener(port: int) -> Iterator[_Callback]:
    """A loopback HTTP server that takes one answer at `/callback`, in its own thread (a browser started by
    `webbrowser` may only return once it has loaded the page)."""
    callback = _Callback("", threading.Event(), {})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            if parts.path != CALLBACK_PATH or callback.answered.is_set():
                self.send_error(404)
                return
            callback.answer.update(parse_qsl(parts.query))
            ok = "code" in callback.answer
            body = (
                "Logged in: you can close this tab and go back to clarify-sync."
                if ok
                else "The login did not succeed: see the terminal where clarify-sync runs."
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(body.encode())
            callback.answered.set()

        def log_message(self, format: str, *args: Any) -> None:  # the request line holds the code: never logged
            pass

    try:
        server = HTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): pass another --port") from None
    callback.redirect_uri = f"http://127.0.0.1:{server.server_port}{CALLBACK_PATH}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield callback
    finally:
        server.shutdown()
        server.server_close()


def _open(open_url: Callable[[str], object], url: str) -> None:
    """The user's browser, if this machine has one; the printed address is there either way."""
    try:
        open_url(url)
    except Exception:  # noqa: BLE001 - webbrowser raises whatever its launcher raised; printing the URL suffices
        pass


def _code(answer: dict[str, str] | None, state: str, timeout: float) -> str:
    if answer is None:
        raise LoginError(
            f"no answer from the browser within {timeout:.0f} s: run `clarify-sync login` again and open the "
            "printed address (on a machine without a browser: --no-browser, and forward the port over SSH)"
        )
    if not secrets.compare_digest(answer.get("state", ""), state):
        raise LoginError(
            "the browser's answer carries another state than this login asked for (an old tab, or a request not "
            "made by you): run `clarify-sync login` again"
        )
    if "code" not in answer:
        reason = answer.get("error", "no code")
        detail = answer.get("error_description")
        raise LoginError(
            f"the auth server refused the login ({reason}{': ' + detail if detail else ''}): "
            "run `clarify-sync login` again"
        )
    return answer["code"]


def _check_workspace(request: LoginRequest, access_token: str) -> None:
    """One request with the new token: a workspace or URL it cannot reach is said now, not by the first cron run."""
    with ClarifyApi(ClarifyConnection(request.base_url, request.workspace, access_token=access_token)) as api:
        api.schemas()


def _stored(request: LoginRequest, token: dict[str, Any], now: float) -> StoredLogin:
    lifetime, refresh_ends = token_times(token, now)
    return StoredLogin(
        base_url=request.base_url,
        workspace=request.workspace,
        auth_url=request.client.auth_url,
        client_id=request.client.client_id,
        client_secret=request.client.client_secret,
        scope=str(token.get("scope") or SCOPES),
        access_token=token["access_token"],
        refresh_token=token["refresh_token"],
        expires_at=now + lifetime,
        lifetime=lifetime,
        refresh_expires_at=refresh_ends,
        logged_in_at=now,
    )


def logout(base_url: str, workspace: str) -> Path | None:
    """Forget the stored login of the workspace; the file it was in, or None when there was none."""
    path = login_path(base_url, workspace)
    return path if forget_login(path) else None


def describe_auth(base_url: str | None, workspace: str | None, clock: Callable[[], float] = time.time) -> str:
    """How a run with these settings authenticates, and until when a stored login holds; never a secret."""
    try:
        connection = resolve_connection(base_url=base_url, workspace=workspace)
    except ConfigError as exc:
        return f"not set up: {exc}"
    if not connection.stored_login:
        return f"{connection.credential} (workspace {connection.workspace!r} at {connection.base_url})"
    login = read_login(login_path(connection.base_url, connection.workspace))
    if login is None:
        return f"no stored login for workspace {connection.workspace!r}: run `clarify-sync login`"
    access = "expired" if clock() >= login.expires_at else f"valid until {_when(login.expires_at)}"
    holds = f"until {_when(login.refresh_expires_at)}" if login.refresh_expires_at else "until revoked"
    return (
        f"stored login for workspace {login.workspace!r} at {login.base_url} (client {login.client_id}, logged in "
        f"{_when(login.logged_in_at)}): access token {access}, renewed as needed; the login holds {holds}"
    )


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
