"""Connection settings for the Clarify APIs: where to call and how to authenticate.

Settings come from, in order of precedence: explicit arguments (CLI flags), environment variables
(`CLARIFY_BASE_URL`, `CLARIFY_WORKSPACE`, `CLARIFY_API_KEY`, `CLARIFY_ACCESS_TOKEN`,
`SOURCES__CLARIFY__MAX_REQUESTS_PER_MINUTE`, and for `clarify-sync login` `CLARIFY_OAUTH_CLIENT_ID`,
`CLARIFY_OAUTH_CLIENT_SECRET`, `CLARIFY_AUTH_URL`), then dlt's config and secrets providers (`[sources.clarify]` in
`.dlt/config.toml` and `.dlt/secrets.toml`, keys in lower case without the `CLARIFY_` prefix). A run authenticates
with the API key, else the access token, else the workspace's stored login (`sources/clarify/oauth.py`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.auth import HeaderAuth, OriginAuth
from core.errors import ConfigError
from sources.clarify.login_store import login_path

if TYPE_CHECKING:
    from sources.clarify.oauth import OAuthClient

DEFAULT_BASE_URL = "https://api.clarify.ai/v1"
_SECTION = "sources.clarify"


@dataclass(frozen=True)
class ClarifyConnection:
    """Where the CRM API lives and the credential to send there (never printed)."""

    base_url: str
    workspace: str
    api_key: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    stored_login: bool = False  # no key and no token: the workspace's stored login (`clarify-sync login`)
    # At most this many requests in any minute, for a workspace whose API budget other integrations share.
    max_requests_per_minute: int | None = None

    @property
    def workspace_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/workspaces/{self.workspace}"

    @property
    def origin(self) -> tuple[str, str]:
        """(scheme, host:port) that credentials may be sent to, and nowhere else."""
        parts = urlsplit(self.base_url)
        return parts.scheme, parts.netloc

    @property
    def credential(self) -> str:
        """Which credential a run sends: `API key`, `access token` or `stored login`."""
        return "API key" if self.api_key else "access token" if self.access_token else "stored login"

    def auth(self, clock: Callable[[], float] = time.time) -> OriginAuth:
        """The credential as an `httpx.Auth` bound to the API's origin: an API key in the `api-key` scheme, an
        OAuth token as `Bearer`, a stored login as `Bearer` with its access token, renewed as it expires."""
        if self.api_key:
            return HeaderAuth(self.base_url, f"api-key {self.api_key}")
        if self.access_token:
            return HeaderAuth(self.base_url, f"Bearer {self.access_token}")
        from sources.clarify.oauth import StoredLoginAuth  # imported only by runs that use a login

        return StoredLoginAuth(self.base_url, self.workspace, clock)


def _from_dlt(key: str) -> str | None:
    import dlt  # here, not at the top: with every setting in flags or the environment, dlt is never imported

    try:
        value = dlt.config.get(f"{_SECTION}.{key}") or dlt.secrets.get(f"{_SECTION}.{key}")
    except Exception as exc:  # dlt wraps TOML syntax errors in several exception types
        raise ConfigError(
            f"cannot read dlt config/secrets ({exc.__class__.__name__}): fix .dlt/config.toml or .dlt/secrets.toml"
        ) from None
    return str(value) if value not in (None, "") else None


def _pick(explicit: str | None, env: str, key: str) -> str | None:
    if explicit:
        return explicit
    if os.environ.get(env):
        return os.environ[env]
    return _from_dlt(key)


def resolve_workspace(base_url: str | None = None, workspace: str | None = None) -> tuple[str, str]:
    """(API base URL, workspace slug), by precedence and checked; a login is kept per pair of them."""
    resolved_url = _pick(base_url, "CLARIFY_BASE_URL", "base_url") or DEFAULT_BASE_URL
    parts = urlsplit(resolved_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"CLARIFY_BASE_URL {resolved_url!r} is not an http(s) URL: use e.g. {DEFAULT_BASE_URL}")
    resolved_workspace = _pick(workspace, "CLARIFY_WORKSPACE", "workspace")
    if not resolved_workspace:
        raise ConfigError("no workspace: set CLARIFY_WORKSPACE (or --workspace) to your workspace slug")
    return resolved_url.rstrip("/"), resolved_workspace


def resolve_connection(
    base_url: str | None = None,
    workspace: str | None = None,
    api_key: str | None = None,
    access_token: str | None = None,
) -> ClarifyConnection:
    """Resolve settings by precedence and check them, raising `ConfigError` with the fix."""
    base, resolved_workspace = resolve_workspace(base_url, workspace)
    key = _pick(api_key, "CLARIFY_API_KEY", "api_key")
    token = None if key else _pick(access_token, "CLARIFY_ACCESS_TOKEN", "access_token")
    login = not key and not token and login_path(base, resolved_workspace).exists()
    if not key and not token and not login:
        raise ConfigError(
            "no credentials: set CLARIFY_API_KEY (or CLARIFY_ACCESS_TOKEN for an OAuth token), "
            "or run `clarify-sync login` once"
        )
    cap = _pick(None, "SOURCES__CLARIFY__MAX_REQUESTS_PER_MINUTE", "max_requests_per_minute")
    return ClarifyConnection(base, resolved_workspace, key, token, login, _per_minute(cap))


def _per_minute(value: str | None) -> int | None:
    """`max_requests_per_minute` as a positive whole number (None: no cap)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if number < 1 or number != int(number):
        raise ConfigError(
            f"sources.clarify.max_requests_per_minute = {value!r} is not a whole number of requests a minute "
            "(at least 1): fix it in .dlt/config.toml or SOURCES__CLARIFY__MAX_REQUESTS_PER_MINUTE"
        )
    return int(number)


def resolve_oauth_client(auth_url: str | None = None) -> OAuthClient:
    """The OAuth client `clarify-sync login` logs in with (a stored login keeps its own, see `login_store.py`)."""
    from sources.clarify.oauth import DEFAULT_AUTH_URL, OAuthClient

    resolved = (_pick(auth_url, "CLARIFY_AUTH_URL", "auth_url") or DEFAULT_AUTH_URL).rstrip("/")
    parts = urlsplit(resolved)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"CLARIFY_AUTH_URL {resolved!r} is not an http(s) URL: use e.g. {DEFAULT_AUTH_URL}")
    client_id = _pick(None, "CLARIFY_OAUTH_CLIENT_ID", "oauth_client_id")
    if not client_id:
        raise ConfigError(
            "no OAuth client: set CLARIFY_OAUTH_CLIENT_ID (and CLARIFY_OAUTH_CLIENT_SECRET for a confidential "
            "client) to the partner app Clarify registered for you"
        )
    return OAuthClient(resolved, client_id, _pick(None, "CLARIFY_OAUTH_CLIENT_SECRET", "oauth_client_secret"))
