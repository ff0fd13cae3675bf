"""Integration credentials: the JSON file downloaded from Clarify, or environment variables.

File (`CLARIFY_TS_CREDENTIALS` or `--credentials`):
    {"apiUrl": "https://api.clarify.io/v1/", "integration": "<id>",
     "credentials": {"type": "client-credentials", "clientId": "...", "clientSecret": "..."}}
Environment instead: CLARIFY_TS_API_URL, CLARIFY_TS_INTEGRATION, CLARIFY_TS_CLIENT_ID,
CLARIFY_TS_CLIENT_SECRET.
The token endpoint is login.clarify.io for the real API and `<origin>/oauth/token` elsewhere (the
emulator); CLARIFY_TS_TOKEN_URL overrides it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from sources.clarify_timeseries import settings as s
from sources.common.errors import ConfigError


@dataclass(frozen=True)
class TimeseriesCredentials:
    api_url: str
    integration: str
    client_id: str
    client_secret: str = field(repr=False)
    token_url: str = ""

    @property
    def origin(self) -> str:
        parts = urlsplit(self.api_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def rpc_path(self) -> str:
        return urlsplit(self.api_url).path.rstrip("/") + "/rpc"

    @property
    def audience(self) -> str:
        return self.api_url if self.api_url.endswith("/") else self.api_url + "/"


def _token_url(api_url: str) -> str:
    if os.environ.get(s.ENV_TOKEN_URL):
        return os.environ[s.ENV_TOKEN_URL]
    parts = urlsplit(api_url)
    if parts.hostname == s.CLARIFY_API_HOST:
        return s.DEFAULT_TOKEN_URL
    return f"{parts.scheme}://{parts.netloc}/oauth/token"


def _check_url(api_url: str, where: str) -> str:
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"apiUrl {api_url!r} in {where} is not an http(s) URL: use e.g. {s.DEFAULT_API_URL}")
    return api_url


def parse_credentials_file(path: str | Path) -> TimeseriesCredentials:
    where = f"credentials file {path}"
    try:
        raw = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {where} ({exc.strerror}): download it from the integration's page "
            f"in Clarify, or set {s.ENV_CREDENTIALS_FILE}"
        ) from None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ConfigError(f"{where} is not JSON: download it again from the integration's page in Clarify") from None
    creds = doc.get("credentials") if isinstance(doc, dict) else None
    missing = [
        name
        for name, value in (
            ("apiUrl", doc.get("apiUrl") if isinstance(doc, dict) else None),
            ("integration", doc.get("integration") if isinstance(doc, dict) else None),
            ("credentials.clientId", creds.get("clientId") if isinstance(creds, dict) else None),
            ("credentials.clientSecret", creds.get("clientSecret") if isinstance(creds, dict) else None),
        )
        if not isinstance(value, str) or not value
    ]
    if missing:
        raise ConfigError(
            f"{where} lacks {', '.join(missing)}: download it again from the integration's page "
            "in Clarify (client credentials)"
        )
    assert isinstance(creds, dict) and isinstance(doc, dict)
    if creds.get("type", "client-credentials") != "client-credentials":
        raise ConfigError(
            f"{where} has credentials of type {creds.get('type')!r}: create client credentials for the integration"
        )
    api_url = _check_url(doc["apiUrl"], where)
    return TimeseriesCredentials(
        api_url, doc["integration"], creds["clientId"], creds["clientSecret"], _token_url(api_url)
    )


def resolve_credentials(path: str | None = None) -> TimeseriesCredentials:
    """From `path`, else CLARIFY_TS_CREDENTIALS, else the CLARIFY_TS_* variables; ConfigError with the fix."""
    path = path or os.environ.get(s.ENV_CREDENTIALS_FILE)
    if path:
        return parse_credentials_file(path)
    values = {name: os.environ.get(name) for name in (s.ENV_INTEGRATION, s.ENV_CLIENT_ID, s.ENV_CLIENT_SECRET)}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ConfigError(
            f"no time-series credentials: set {s.ENV_CREDENTIALS_FILE} to the integration's "
            f"credentials file (or set {', '.join(missing)})"
        )
    api_url = _check_url(os.environ.get(s.ENV_API_URL) or s.DEFAULT_API_URL, s.ENV_API_URL)
    return TimeseriesCredentials(
        api_url,
        values[s.ENV_INTEGRATION] or "",
        values[s.ENV_CLIENT_ID] or "",
        values[s.ENV_CLIENT_SECRET] or "",
        _token_url(api_url),
    )
