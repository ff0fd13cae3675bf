"""Authentication as an `httpx.Auth`, for both credential types Clarify issues.

- `client-credentials`: an OAuth 2.0 token from `{apiUrl}oauth/token`, requested with a form body
  (`grant_type=client_credentials`, `client_id`, `client_secret`, `audience={apiUrl}`) exactly as pyclarify's
  `jsonrpc/oauth2.py` posts it (clarify-go's `credentials.go` uses the same URL and audience), sent as
  `Bearer` and refreshed before it expires (`core/auth.py`: a minute early, once more on a 401). The token
  request goes through the shared `HttpClient`, so it gets the same retries and error mapping.
- `basic-auth`: HTTP Basic with the integration id and password on every call (clarify-go's
  `basicAuthTransport`); there is no token.
Neither the secret nor the token is ever logged or repr'd.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

import sources.clarify_timeseries.settings as s
from core.auth import OriginAuth, refresh_due
from core.errors import ApiError
from core.http import HttpClient
from sources.clarify_timeseries.credentials import TimeseriesCredentials


def _describe_token_error(status: int, path: str, detail: str) -> str:
    if status in (400, 401, 403):
        return (
            f"the token endpoint refused the integration's client credentials (HTTP {status}: {detail}): "
            f"download a fresh credentials file from the integration in Clarify ({s.ENV_CREDENTIALS_FILE})"
        )
    if status == 404:
        return f"no token endpoint at {path} (HTTP 404): check apiUrl in the credentials file"
    return f"token endpoint answered HTTP {status} on {path}: {detail or 'no detail'}"


class ClientCredentialsAuth(OriginAuth):
    renewable = True  # a 401 (revoked or expired early) gets one fresh token and one more try

    def __init__(
        self,
        credentials: TimeseriesCredentials,
        http: HttpClient,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(credentials.origin)
        self._credentials = credentials
        self._http = http
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._lifetime = 0.0
        self.fetched = 0

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(integration={self._credentials.integration!r})"

    def token(self, *, force: bool = False) -> str:
        with self._lock:
            if force or self._token is None or refresh_due(self._clock(), self._expires_at, self._lifetime):
                self._fetch()
            assert self._token is not None
            return self._token

    def credential(self, rejected: str | None = None) -> str:
        return f"Bearer {self.token(force=rejected is not None)}"

    def _fetch(self) -> None:
        c = self._credentials
        body = self._http.request_json(
            "POST",
            c.token_path,
            tag="token",
            idempotent=True,
            form={
                "grant_type": "client_credentials",
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "audience": c.audience,
            },
        )
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ApiError(f"{c.token_path} answered without an access_token: check apiUrl in the credentials file")
        expires_in = body.get("expires_in")
        self._lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        self._token = body["access_token"]
        self._expires_at = self._clock() + self._lifetime
        self.fetched += 1

    def close(self) -> None:
        self._http.close()


class IntegrationBasicAuth(httpx.BasicAuth):
    """HTTP Basic with the integration's id and password; nothing to fetch, nothing to close."""

    def __init__(self, credentials: TimeseriesCredentials):
        super().__init__(credentials.client_id, credentials.client_secret)
        self._integration = credentials.integration

    def __repr__(self) -> str:
        return f"IntegrationBasicAuth(integration={self._integration!r})"

    def close(self) -> None:
        pass


def auth_for(credentials: TimeseriesCredentials, **http_kwargs: object) -> ClientCredentialsAuth | IntegrationBasicAuth:
    """The auth the credentials file asks for; a token client shares the API's origin and retry policy."""
    if credentials.kind == s.BASIC_AUTH:
        return IntegrationBasicAuth(credentials)
    http = HttpClient(
        credentials.origin,
        describe_error=_describe_token_error,
        origin_hint=f"check apiUrl in the credentials file ({s.ENV_CREDENTIALS_FILE})",
        **http_kwargs,
    )  # type: ignore[arg-type]
    return ClientCredentialsAuth(credentials, http)
