"""Integration credentials: the JSON file downloaded from Clarify, or environment variables.

File (`CLARIFY_TS_CREDENTIALS` or `--credentials`), as both SDKs read it (clarify-go credentials.go,
pyclarify jsonrpc/oauth2.py):
    {"apiUrl": "https://api.clarify.io/v1/", "integration": "<id>",
     "credentials": {"type": "client-credentials" | "basic-auth", "clientId": "...", "clientSecret": "..."}}
Environment instead (client credentials): CLARIFY_TS_API_URL, CLARIFY_TS_INTEGRATION, CLARIFY_TS_CLIENT_ID,
CLARIFY_TS_CLIENT_SECRET.
Every URL derives from `apiUrl`: calls go to `{apiUrl}rpc`, tokens come from `{apiUrl}oauth/token`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

import sources.clarify_timeseries.settings as s
from core.errors import ConfigError

_TYPES = (s.CLIENT_CREDENTIALS, s.BASIC_AUTH)


@dataclass(frozen=True)
class TimeseriesCredentials:
    api_url: str  # always ends with "/", as the SDKs make it
    integration: str
    client_id: str
    client_secret: str = field(repr=False)
    kind: str = s.CLIENT_CREDENTIALS

    @property
    def origin(self) -> str:
        parts = urlsplit(self.api_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def rpc_path(self) -> str:
        return urlsplit(self.api_url).path + s.RPC_PATH

    @property
    def token_path(self) -> str:
        return urlsplit(self.api_url).path + s.TOKEN_PATH

    @property
    def audience(self) -> str:
        return self.api_url


def _api_url(value: str, where: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"apiUrl {value!r} in {where} is not an http(s) URL: use e.g. {s.DEFAULT_API_URL}")
    return value.rstrip("/") + "/"


def _read(path: str | Path, where: str) -> Any:
    try:
        raw = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {where} ({exc.strerror}): download it from the integration's page "
            f"in Clarify, or set {s.ENV_CREDENTIALS_FILE}"
        ) from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ConfigError(f"{where} is not JSON: download it again from the integration's page in Clarify") from None


def parse_credentials_file(path: str | Path) -> TimeseriesCredentials:
    where = f"credentials file {path}"
    doc = _read(path, where)
    doc = doc if isinstance(doc, dict) else {}
    creds = doc.get("credentials") if isinstance(doc.get("credentials"), dict) else {}
    fields = {
        "apiUrl": doc.get("apiUrl"),
        "integration": doc.get("integration"),
        "credentials.clientId": creds.get("clientId"),
        "credentials.clientSecret": creds.get("clientSecret"),
    }
    missing = [name for name, value in fields.items() if not isinstance(value, str) or not value]
    if missing:
        raise ConfigError(
            f"{where} lacks {', '.join(missing)}: download it again from the integration's page in Clarify"
        )
    kind = creds.get("type", s.CLIENT_CREDENTIALS)  # pyclarify reads files without a type as client credentials
    if kind not in _TYPES:
        raise ConfigError(
            f"{where} has credentials of type {kind!r}: Clarify issues {' or '.join(_TYPES)}; download it again"
        )
    return TimeseriesCredentials(
        _api_url(doc["apiUrl"], where), doc["integration"], creds["clientId"], creds["clientSecret"], kind
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
    return TimeseriesCredentials(
        _api_url(os.environ.get(s.ENV_API_URL) or s.DEFAULT_API_URL, s.ENV_API_URL),
        values[s.ENV_INTEGRATION] or "",
        values[s.ENV_CLIENT_ID] or "",
        values[s.ENV_CLIENT_SECRET] or "",
    )
