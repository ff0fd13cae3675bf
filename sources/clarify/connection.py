"""Connection settings for the Clarify APIs: where to call and how to authenticate.

Settings come from, in order of precedence: explicit arguments (CLI flags), environment variables
(`CLARIFY_BASE_URL`, `CLARIFY_WORKSPACE`, `CLARIFY_API_KEY`, `CLARIFY_ACCESS_TOKEN`,
`SOURCES__CLARIFY__MAX_REQUESTS_PER_MINUTE`), then dlt's config and secrets providers (`[sources.clarify]` in
`.dlt/config.toml` and `.dlt/secrets.toml`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from core.errors import ConfigError

DEFAULT_BASE_URL = "https://api.clarify.ai/v1"
_SECTION = "sources.clarify"


@dataclass(frozen=True)
class ClarifyConnection:
    """Where the CRM API lives and the credential to send there (never printed)."""

    base_url: str
    workspace: str
    api_key: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
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

    def authorization(self) -> str:
        """The `Authorization` header value: an API key uses the `api-key` scheme, an OAuth token `Bearer`."""
        if self.api_key:
            return f"api-key {self.api_key}"
        return f"Bearer {self.access_token}"


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


def resolve_connection(
    base_url: str | None = None,
    workspace: str | None = None,
    api_key: str | None = None,
    access_token: str | None = None,
) -> ClarifyConnection:
    """Resolve settings by precedence and check them, raising `ConfigError` with the fix."""
    resolved_url = _pick(base_url, "CLARIFY_BASE_URL", "base_url") or DEFAULT_BASE_URL
    parts = urlsplit(resolved_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"CLARIFY_BASE_URL {resolved_url!r} is not an http(s) URL: use e.g. {DEFAULT_BASE_URL}")
    resolved_workspace = _pick(workspace, "CLARIFY_WORKSPACE", "workspace")
    if not resolved_workspace:
        raise ConfigError("no workspace: set CLARIFY_WORKSPACE (or --workspace) to your workspace slug")
    key = _pick(api_key, "CLARIFY_API_KEY", "api_key")
    token = None if key else _pick(access_token, "CLARIFY_ACCESS_TOKEN", "access_token")
    if not key and not token:
        raise ConfigError("no credentials: set CLARIFY_API_KEY (or CLARIFY_ACCESS_TOKEN for an OAuth token)")
    cap = _pick(None, "SOURCES__CLARIFY__MAX_REQUESTS_PER_MINUTE", "max_requests_per_minute")
    return ClarifyConnection(resolved_url.rstrip("/"), resolved_workspace, key, token, _per_minute(cap))


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
