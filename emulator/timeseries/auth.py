"""Authentication as the official SDKs do it: an OAuth token endpoint at `{apiUrl}oauth/token`, and Basic auth.

- Token: `POST {apiUrl}oauth/token`, form-encoded `grant_type=client_credentials` and `audience={apiUrl}`; the
  client authenticates with `client_id`/`client_secret` in the form (pyclarify `jsonrpc/oauth2.py`) or with an
  HTTP Basic header of the URL-encoded pair (golang.org/x/oauth2 `clientcredentials`, used by clarify-go
  `credentials.go`, tries that first). A JSON body is refused: no SDK sends one.
- RPC: `Authorization: Bearer <token>`, or, for `basic-auth` credentials, HTTP Basic with the integration id
  and its password (clarify-go `credentials.go`, `basicAuthTransport`).
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from starlette.requests import Request

from emulator.timeseries.state import TimeseriesState

API_PREFIX = "/v1/"  # the path of `apiUrl`; the RPC and token endpoints hang below it


class AuthFailure(Exception):
    """A refused token request or RPC call: HTTP status, OAuth error code and a one-line description."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


async def token_client(state: TimeseriesState, request: Request) -> None:
    """Check a token request; AuthFailure says why it is refused."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise AuthFailure(400, "invalid_request", "send the token request form-encoded (x-www-form-urlencoded)")
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    if form.get("grant_type") != "client_credentials":
        raise AuthFailure(400, "unsupported_grant_type", "grant_type must be client_credentials")
    header = basic_credentials(request.headers.get("authorization", ""))
    if header is not None:
        # RFC 6749 §2.3.1: the header carries the form-urlencoded id and secret.
        client = (unquote_plus(header[0]), unquote_plus(header[1]))
        if "client_id" in form and form["client_id"] != client[0]:
            raise AuthFailure(400, "invalid_request", "client_id in the form differs from the Basic header")
    else:
        client = (form.get("client_id", ""), form.get("client_secret", ""))
    audience = form.get("audience")
    if not audience:
        raise AuthFailure(400, "invalid_request", "audience is required: the apiUrl of the credentials file")
    if urlsplit(audience).path.rstrip("/") + "/" != API_PREFIX:
        raise AuthFailure(403, "access_denied", f"audience {audience!r} is not this API ({API_PREFIX})")
    config = state.config
    if client != (config.client_id, config.client_secret):
        raise AuthFailure(401, "access_denied", "Unauthorized")


def rpc_integration(state: TimeseriesState, request: Request) -> str:
    """The integration a JSON-RPC request acts for, from its Bearer token or Basic credentials."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        integration = state.token_integration(token)
        if integration is not None:
            return integration
    basic = basic_credentials(header)
    if basic is not None and basic == (state.config.integration, state.config.password):
        return state.config.integration
    raise AuthFailure(401, "unauthorized", "missing, invalid or expired access token or password")
