"""The partner OAuth server's HTTP surface (`/oauth2/authorize`, `/oauth2/token`), served on its own port.

Clarify's auth server is another origin than its API (`auth1.clarify.ai` beside `api.clarify.ai`), so the
emulator serves it on a second port of the same process: a client that sent an API credential to the token
endpoint, or a token request to the API, would be caught by the port it reached. Rules in `emulator/oauth.py`.
"""

from __future__ import annotations

import os
import signal
from urllib.parse import parse_qsl, unquote_plus, urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from emulator.oauth import OAuthFailure
from emulator.responses import CutResponse
from emulator.state import Emulator
from emulator.timeseries.auth import basic_credentials

AUTH_PREFIX = "/oauth2"
TOKEN_PATH = f"{AUTH_PREFIX}/token"
# RFC 6749 §5.1: token answers must not be cached anywhere on the way.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(failure: OAuthFailure) -> Response:
    body = {"error": failure.error, "error_description": failure.description}
    headers = {**_NO_STORE, **({"WWW-Authenticate": "Basic"} if failure.status == 401 else {})}
    return Response(orjson.dumps(body), failure.status, headers=headers, media_type="application/json")


async def authorize(request: Request) -> Response:
    """Consents at once: back to the loopback redirect with `code` and `state`, or with the error."""
    emu: Emulator = request.app.state.emulator
    params = dict(request.query_params)
    try:
        emu.oauth.check_client_and_redirect(params.get("client_id"), params.get("redirect_uri"))
    except OAuthFailure as failure:  # never redirected: the redirect itself is what is in doubt
        return PlainTextResponse(f"{failure.error}: {failure.description}", failure.status)
    try:
        answer = {"code": emu.oauth.authorize(params)}
    except OAuthFailure as failure:
        answer = {"error": failure.error, "error_description": failure.description}
    if params.get("state"):
        answer["state"] = params["state"]
    return RedirectResponse(f"{params['redirect_uri']}?{urlencode(answer)}", status_code=302)


async def token(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    try:
        form, client_id = await _client_form(emu, request)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            answer = emu.oauth.exchange(client_id, form)
        elif grant == "refresh_token":
            answer = emu.oauth.refresh(client_id, form)
        else:
            raise OAuthFailure(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
    except OAuthFailure as failure:
        return _oauth_error(failure)
    response = Response(orjson.dumps(answer), 200, headers=_NO_STORE, media_type="application/json")
    return _after_issue(emu, response)


async def _client_form(emu: Emulator, request: Request) -> tuple[dict[str, str], str]:
    """The form and the authenticated client: `client_secret_basic`, `client_secret_post`, or a public client."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise OAuthFailure(400, "invalid_request", "send the token request form-encoded (x-www-form-urlencoded)")
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    basic = basic_credentials(request.headers.get("authorization", ""))
    if basic is not None:  # RFC 6749 §2.3.1: the header carries the form-urlencoded id and secret
        client_id, secret = unquote_plus(basic[0]), unquote_plus(basic[1])
        if form.get("client_id", client_id) != client_id:
            raise OAuthFailure(400, "invalid_request", "client_id in the form differs from the Basic header")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    return form, emu.oauth.check_client(client_id, secret)


def _after_issue(emu: Emulator, response: Response) -> Response:
    """Faults once a pair is issued, when `only_paths` names `/oauth2/token`: the client is killed
    (`kill_on_commit`) or its answer lost (`commit_then_drop`); the rotation has happened either way."""
    if TOKEN_PATH not in (emu.faults.current().only_paths or ()):
        return response
    pid = emu.faults.kill_due(TOKEN_PATH)
    if pid:
        os.kill(pid, signal.SIGKILL)
    if emu.faults.take("commit_then_drop", TOKEN_PATH):
        return CutResponse(response, 0)
    return response


def create_auth_app(emu: Emulator) -> Starlette:
    app = Starlette(
        routes=[
            Route(f"{AUTH_PREFIX}/authorize", authorize, methods=["GET"]),
            Route(TOKEN_PATH, token, methods=["POST"]),
        ]
    )
    app.state.emulator = emu
    return app
