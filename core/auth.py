"""Credentials as an `httpx.Auth` for `HttpClient(auth=...)`: sent to their own origin and nowhere else.

`OriginAuth` sets `Authorization` only on requests to the origin it was made for, so even a request that
reached another host through the same client (a signed download URL, a token endpoint) would go without it.
A credential that can be renewed (an OAuth access token) is asked for a fresh value once when the API answers
401, and the request is sent once more with it; a second 401 is the caller's error to report. Subclasses give
`credential()`; none of them shows its secret in `repr`.
"""

from __future__ import annotations

from collections.abc import Generator
from urllib.parse import urlsplit

import httpx

REFRESH_MARGIN = 60.0  # seconds before expiry a token is renewed (one living less than twice that, at half-life)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def refresh_due(now: float, expires_at: float, lifetime: float) -> bool:
    """Whether a token that expires at `expires_at` and lived `lifetime` seconds should be renewed at `now`."""
    return now >= expires_at - min(REFRESH_MARGIN, lifetime / 2)


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int]:
    return scheme, host.lower(), port or _DEFAULT_PORTS.get(scheme, 0)


class OriginAuth(httpx.Auth):
    """An `Authorization` header for requests to `origin` (a URL; its scheme, host and port count)."""

    renewable = False  # True: after a 401, `credential(rejected=...)` gives a fresh value worth one more try

    def __init__(self, origin: str) -> None:
        parts = urlsplit(origin)
        self._origin = _origin(parts.scheme, parts.hostname or "", parts.port)

    def credential(self, rejected: str | None = None) -> str:
        """The header value; `rejected`: the value the API just refused (renew it unless another did already)."""
        raise NotImplementedError

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _origin(request.url.scheme, request.url.host, request.url.port) != self._origin:
            yield request  # not ours to authenticate: nothing secret goes there
            return
        value = self.credential()
        request.headers["Authorization"] = value
        response = yield request
        if response.status_code == 401 and self.renewable:
            request.headers["Authorization"] = self.credential(rejected=value)
            yield request


class HeaderAuth(OriginAuth):
    """A fixed credential: an API key (`api-key <KEY>`) or a token obtained elsewhere (`Bearer <TOKEN>`)."""

    def __init__(self, origin: str, value: str) -> None:
        super().__init__(origin)
        self._value = value

    def __repr__(self) -> str:
        return f"HeaderAuth(scheme={self._value.partition(' ')[0]!r})"

    def credential(self, rejected: str | None = None) -> str:
        return self._value
