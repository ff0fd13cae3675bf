"""OAuth 2.0 client credentials as an `httpx.Auth`: fetch a token, refresh it before it expires.

The token request goes through the shared `HttpClient` (pinned to the token endpoint's origin), so it
gets the same retries and error mapping. Neither the secret nor the token is ever logged or repr'd.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from urllib.parse import urlsplit

import httpx

from sources.clarify_timeseries import settings as s
from sources.clarify_timeseries.credentials import TimeseriesCredentials
from sources.common.errors import ApiError
from sources.common.http import HttpClient


def _describe_token_error(status: int, path: str, detail: str) -> str:
    if status in (400, 401, 403):
        return (
            f"the token endpoint refused the integration's client credentials (HTTP {status}: {detail}): "
            f"download a fresh credentials file from the integration in Clarify ({s.ENV_CREDENTIALS_FILE})"
        )
    return f"token endpoint answered HTTP {status} on {path}: {detail or 'no detail'}"


class ClientCredentialsAuth(httpx.Auth):
    def __init__(
        self,
        credentials: TimeseriesCredentials,
        http: HttpClient,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._credentials = credentials
        self._http = http
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._margin = 0.0
        self.fetched = 0

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(integration={self._credentials.integration!r})"

    @classmethod
    def for_credentials(cls, credentials: TimeseriesCredentials, **http_kwargs: object) -> ClientCredentialsAuth:
        parts = urlsplit(credentials.token_url)
        http = HttpClient(
            f"{parts.scheme}://{parts.netloc}",
            describe_error=_describe_token_error,
            unreachable_hint=f"check the token URL ({s.ENV_TOKEN_URL})",
            **http_kwargs,
        )  # type: ignore[arg-type]
        return cls(credentials, http)

    def token(self, *, force: bool = False) -> str:
        with self._lock:
            if force or self._token is None or self._clock() >= self._expires_at - self._margin:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        c = self._credentials
        body = self._http.request_json(
            "POST",
            urlsplit(c.token_url).path,
            tag="token",
            idempotent=True,
            json={
                "grant_type": "client_credentials",
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "audience": c.audience,
            },
        )
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ApiError("the token endpoint answered without an access_token: check CLARIFY_TS_TOKEN_URL")
        expires_in = body.get("expires_in")
        ttl = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        self._token = body["access_token"]
        # Refresh `margin` before expiry; a token living less than twice that is refreshed at half-life.
        self._expires_at = self._clock() + ttl
        self._margin = min(s.TOKEN_REFRESH_MARGIN, ttl / 2)
        self.fetched += 1

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        response = yield request
        if response.status_code == 401:  # revoked or expired early: one fresh token, one more try
            request.headers["Authorization"] = f"Bearer {self.token(force=True)}"
            yield request

    def close(self) -> None:
        self._http.close()
