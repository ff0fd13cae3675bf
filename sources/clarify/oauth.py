"""Partner OAuth for the CRM API: the auth server's client, and the stored login as an `httpx.Auth`.

Token requests go to the auth server (`CLARIFY_AUTH_URL`, default `https://auth1.clarify.ai/oauth2`: its
`/token`, form bodies, as Clarify documents) through Authlib's `OAuth2Client` (PKCE, the code exchange, refresh
with its `update_token` hook). That client is a second origin's client: it carries the OAuth client's id and
secret and the refresh token, never the API credential, and the API's `HttpClient` carries only the access
token, and only to the API's origin (`core/auth.py`).

`StoredLoginAuth` keeps a login alive for months of unattended runs:
- it renews the access token a minute before it expires (`core/auth.refresh_due`) and once when the API
  answers 401;
- a refresh holds the login's file lock from reading the file to storing the answer and re-reads the file
  first: another process may have refreshed meanwhile, and refresh tokens rotate (using a replaced one revokes
  the whole login, RFC 9700 §4.14.2), so two processes never refresh with the same token;
- the rotated refresh token is stored (atomically, `update_token`) before the new access token is used;
- an answer lost on the way (dropped connection, 5xx) is asked again with the same refresh token: if the
  server never acted, that is a plain refresh; if it did, only a server with a reuse grace for the
  just-replaced token answers it (Auth0's reuse interval, Okta's grace period), and without one the login
  was lost with that answer either way. A process killed between the server's answer and the file's rename
  is the same case, met by the next run. A refused login ends the run with one line naming
  `clarify-sync login` (exit code 4).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from core.auth import OriginAuth, refresh_due
from core.errors import ApiUnreachableError, ClarifySyncError, ExitCode, first_line
from sources.clarify.login_store import StoredLogin, login_lock, login_path, read_login, write_login

DEFAULT_AUTH_URL = "https://auth1.clarify.ai/oauth2"
SCOPES = "openid profile email offline_access"
LOCK_TIMEOUT = 120.0  # seconds to wait for another process's refresh (its token request may be retried)
_ATTEMPTS = 3  # token requests whose answer was lost, sent again (see the module docstring)
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import OAuth2Client


class LoginError(ClarifySyncError):
    """The login is missing, refused or revoked: only `clarify-sync login` mends it."""

    exit_code = ExitCode.AUTHENTICATION


class LoginBusyError(ClarifySyncError):
    """Another process kept the login's lock longer than any refresh takes."""

    exit_code = ExitCode.BUSY


class TokenRefused(Exception):
    """The auth server's RFC 6749 error answer (`error`, `error_description`)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}" if description else error)


@dataclass(frozen=True)
class OAuthClient:
    """The OAuth client registered with Clarify, and its auth server (`CLARIFY_AUTH_URL`)."""

    auth_url: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)  # None: a public client (PKCE only)

    @property
    def authorize_url(self) -> str:
        return f"{self.auth_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.auth_url}/token"

    def session(self, **kwargs: Any) -> OAuth2Client:
        """Authlib's client for the token endpoint; error answers become `TokenRefused` before Authlib reads them,
        and a 5xx an `httpx.HTTPStatusError` (sent again)."""
        # here, not at the top: a run whose stored access token is still fresh never loads Authlib (0.1 CPU-s)
        from authlib.integrations.httpx_client import OAuth2Client

        client = OAuth2Client(
            self.client_id,
            self.client_secret,
            # the documented token request posts client_id and client_secret in the form
            token_endpoint_auth_method="client_secret_post" if self.client_secret else "none",
            code_challenge_method="S256",
            timeout=_TIMEOUT,
            follow_redirects=False,
            **kwargs,
        )
        client.register_compliance_hook("access_token_response", _accepted)
        client.register_compliance_hook("refresh_token_response", _accepted)
        return client


def _accepted(response: httpx.Response) -> httpx.Response:
    """Before Authlib reads a token answer: a 5xx is raised as such (sent again), an error or an answer without
    an access token is `TokenRefused` with the server's one-line reason."""
    if response.status_code >= 500:
        response.raise_for_status()
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400 or not isinstance(body, dict) or "error" in body:
        error = body.get("error") if isinstance(body, dict) else None
        detail = body.get("error_description") if isinstance(body, dict) else None
        raise TokenRefused(str(error or f"HTTP {response.status_code}"), first_line(detail, fallback=""))
    if not isinstance(body.get("access_token"), str):
        raise TokenRefused("invalid answer", "no access_token")
    return response


def token_request(send: Callable[[], Any], auth_url: str, sleep: Callable[[float], None] = time.sleep) -> Any:
    """`send()` (a code exchange or a refresh through `OAuthClient.session`), sent again when its answer was
    lost on the way (see the module docstring); the token answer."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return send()
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            if attempt == _ATTEMPTS:
                raise ApiUnreachableError(
                    f"the auth server {auth_url} kept failing ({exc.__class__.__name__}): "
                    "check CLARIFY_AUTH_URL, or try again later"
                ) from None
            sleep(0.5 * attempt)
    raise AssertionError("unreachable")


class StoredLoginAuth(OriginAuth):
    """`Bearer` with the access token of the stored login of `base_url` + `workspace` (see the module docstring).
    `clock`: this machine's (tests pass the emulator's); `refreshed` counts this process's refreshes."""

    renewable = True

    def __init__(self, base_url: str, workspace: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(base_url)
        self._path = login_path(base_url, workspace)
        self._what = f"workspace {workspace!r} at {base_url}"
        self._clock = clock
        self._lock = threading.Lock()
        self._login: StoredLogin | None = None
        self.refreshed = 0

    def __repr__(self) -> str:
        return f"StoredLoginAuth({self._what})"

    def credential(self, rejected: str | None = None) -> str:
        with self._lock:
            login = self._login or self._read()  # a file replaced whole can be read without the lock
            if self._stale(login, rejected):
                login = self._renew(rejected)
            self._login = login
            return f"Bearer {login.access_token}"

    def _stale(self, login: StoredLogin, rejected: str | None) -> bool:
        refused = rejected is not None and rejected == f"Bearer {login.access_token}"
        return refused or refresh_due(self._clock(), login.expires_at, login.lifetime)

    def _read(self) -> StoredLogin:
        login = read_login(self._path)
        if login is None:
            raise LoginError(f"no stored login for {self._what}: run `clarify-sync login`")
        return login

    def _renew(self, rejected: str | None) -> StoredLogin:
        from filelock import Timeout

        try:
            with login_lock(self._path, LOCK_TIMEOUT):
                login = self._read()  # another process may have refreshed while this one waited
                if not self._stale(login, rejected):
                    return login
                return self._refresh(login)
        except Timeout:
            raise LoginBusyError(
                f"another clarify-sync has held {self._path}.lock for {LOCK_TIMEOUT:.0f} s while refreshing the "
                "login: stop it, or run again"
            ) from None

    def _refresh(self, login: StoredLogin) -> StoredLogin:
        client = OAuthClient(login.auth_url, login.client_id, login.client_secret)
        stored: list[StoredLogin] = []

        def store(token: dict[str, Any], refresh_token: str | None = None) -> None:
            stored.append(login.renewed(token, self._clock()))
            write_login(self._path, stored[-1])  # before the new access token is used

        with client.session(update_token=store) as session:
            try:
                token_request(
                    lambda: session.refresh_token(client.token_url, refresh_token=login.refresh_token), login.auth_url
                )
            except TokenRefused as refused:
                raise LoginError(
                    f"the stored login for {self._what} was refused ({refused}): run `clarify-sync login`"
                ) from None
        self.refreshed += 1
        return stored[-1]
