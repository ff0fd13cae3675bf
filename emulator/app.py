"""The Clarify CRM HTTP surface (`/v1/workspaces/{workspace}/...`): auth, rate limit, faults, routes."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.artifacts import h_artifacts
from emulator.calls import Call, Handler
from emulator.control import control_routes
from emulator.errors import ApiError
from emulator.list_reads import h_list_meta, h_list_resources, h_lists, h_object_lists
from emulator.oauth import OAuthFailure
from emulator.ratelimit import endpoint_key
from emulator.reads import h_get, h_list, h_schemas, h_user, h_users
from emulator.responses import CutResponse, JSONResponse, error_response
from emulator.state import Emulator
from emulator.timeseries import routes as timeseries_routes
from emulator.writes import (
    h_bulk_create,
    h_bulk_delete,
    h_bulk_update,
    h_create,
    h_delete,
    h_relationship,
    h_update,
)

PREFIX = "/v1/workspaces/{workspace}"


def _actor(scheme: str, credential: str) -> str:
    return f"{scheme}|{hashlib.sha256(credential.encode()).hexdigest()[:8]}"


def _authenticate(emu: Emulator, header: str | None) -> str:
    cfg = emu.config
    if not header:
        raise ApiError(401, "missing Authorization header; send 'Authorization: api-key <KEY>'")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() == "api-key" and credential == cfg.api_key:
        return _actor("api-key", credential)
    if scheme.lower() == "bearer":
        if credential in cfg.access_tokens:
            return _actor("oauth", credential)
        if credential == cfg.api_key:
            raise ApiError(401, "API keys use the 'api-key' scheme, not 'Bearer'")
        login = _oauth_login(emu, credential)
        if login is not None:
            return _actor("oauth", login)
    raise ApiError(401, "invalid API key or access token")


def _oauth_login(emu: Emulator, token: str) -> str | None:
    """The login a token of the partner OAuth server belongs to; expired, revoked or voided ones are 401 (RFC 6750)."""
    try:
        return emu.oauth.bearer(token)
    except OAuthFailure as failure:
        challenge = f'Bearer error="{failure.error}", error_description="{failure.description}"'
        raise ApiError(401, failure.description, headers={"WWW-Authenticate": challenge}) from None


def endpoint(template: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with what every API call gets: workspace, rate limit, auth, faults, stats."""

    async def run(request: Request) -> Response:
        emu: Emulator = request.app.state.emulator
        path = request.url.path
        nest = emu.faults.flag("nest_error_shape", path)
        limit_headers: dict[str, str] = {}
        budget_key = endpoint_key(request.method, template, request.path_params)
        try:
            cfg = emu.config
            if cfg.clock_step:
                emu.clock.advance(cfg.clock_step)
            if request.path_params["workspace"] != cfg.workspace:
                raise ApiError(404, "Workspace not found")
            if cfg.rate_limit is not None:
                workspace_wide = cfg.rate_limit_scope == "workspace"
                key = cfg.workspace if workspace_wide else f"{cfg.workspace}|{budget_key}"
                decision = emu.limiter.hit(key, cfg.rate_limit, cfg.rate_window)
                limit_headers = decision.headers() if cfg.rate_limit_headers else {}
                if not decision.allowed:
                    raise ApiError(
                        429,
                        f"rate limit of {cfg.rate_limit} requests per {cfg.rate_window:g}s exceeded for this "
                        + ("workspace" if workspace_wide else "endpoint"),
                    )
            actor = _authenticate(emu, request.headers.get("authorization"))
            # Read the whole request first: a connection closed on unread bytes ends in a reset instead of the
            # clean cut the drop and truncation faults stand for (and which one the client saw was a race).
            await request.body()
            response = await _with_faults(emu, path, lambda: handler(Call(request, emu, actor)))
        except ApiError as err:
            response = error_response(err, nest)
        except Exception as exc:  # noqa: BLE001 - a bug must still answer like the live API's 500
            response = error_response(ApiError(500, f"internal error: {type(exc).__name__}"), nest)
        for name, value in limit_headers.items():
            if name == "Retry-After" and response.status_code != 429:
                continue
            response.headers.setdefault(name, value)
        # A dropped connection never had a status; count it as 0 so retries stay visible.
        dropped = isinstance(response, CutResponse) and response.keep == 0
        emu.stats.record(request.method, template, 0 if dropped else response.status_code, budget_key)
        return response

    return run


async def _with_faults(emu: Emulator, path: str, call: Callable[[], Awaitable[Response]]) -> Response:
    faults = emu.faults
    latency = faults.current().latency_ms
    if latency and faults.applies(path):
        await asyncio.sleep(latency / 1000)
    if faults.take("drop_connection", path):
        return CutResponse(JSONResponse({"data": None}), 0)
    if faults.take("conflict_409", path):
        raise ApiError(409, "schema is being modified by another request")
    if faults.take("burst_429", path):
        headers = (
            {"Retry-After": str(faults.current().retry_after_seconds)} if faults.current().burst_retry_after else {}
        )
        raise ApiError(429, "too many requests", headers=headers)
    status = faults.server_error(path)
    if status is not None:
        if faults.flag("html_errors", path):  # as a proxy or load balancer in front of the API answers
            return Response(f"<html><body><h1>{status} Server Error</h1></body></html>", status, media_type="text/html")
        raise ApiError(status, "injected server error; retry with backoff")
    response = await call()
    # Only a handled request is cut short (the write happened), so each fault costs a request of its own.
    if faults.take("truncate_body", path):
        return CutResponse(response, len(response.body) // 2)
    return response


ROUTES: list[tuple[str, list[str], Handler]] = [
    ("/schemas", ["GET"], h_schemas),
    ("/users", ["GET"], h_users),
    ("/users/{id}", ["GET"], h_user),
    ("/lists", ["GET"], h_lists),
    ("/objects/{object}/lists", ["GET"], h_object_lists),
    ("/objects/{object}/lists/{list}", ["GET"], h_list_meta),
    ("/objects/{object}/lists/{list}/resources", ["GET"], h_list_resources),
    ("/objects/{object}/resources", ["GET"], h_list),
    ("/objects/{object}/resources", ["POST"], h_create),
    ("/objects/{object}/records", ["POST"], h_create),
    ("/objects/{object}/records", ["PATCH"], h_bulk_update),
    ("/objects/{object}/records", ["DELETE"], h_bulk_delete),
    ("/objects/{object}/records/bulk", ["POST"], h_bulk_create),
    ("/objects/{object}/records/{id}", ["GET"], h_get),
    ("/objects/{object}/records/{id}", ["PATCH"], h_update),
    ("/objects/{object}/records/{id}", ["DELETE"], h_delete),
    ("/objects/{object}/records/{id}/relationships/{name}", ["GET", "PATCH", "DELETE"], h_relationship),
    ("/meetings/{meeting}/recordings/{id}/artifacts", ["POST"], h_artifacts),
]


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = {
        404: f"no route for {request.url.path}; paths start with /v1/workspaces/<workspace>/",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(status, "internal error")
    return error_response(ApiError(status, detail), nest=False)


def create_app(emu: Emulator) -> Starlette:
    """The API and its control routes (the OAuth server and the storage host are other origins: server.py)."""
    routes = [Route(PREFIX + path, endpoint(path, handler), methods=methods) for path, methods, handler in ROUTES]
    if emu.timeseries is not None:
        routes += timeseries_routes(emu.timeseries)
    app = Starlette(
        routes=[*control_routes(), *routes], exception_handlers={404: _not_found, 405: _not_found, 500: _not_found}
    )
    app.state.emulator = emu
    return app
