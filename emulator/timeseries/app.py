"""The JSON-RPC endpoint, the OAuth token endpoint and the control routes, as a list of starlette Routes.

Transport-level refusals (unknown API version, failed authentication, rate limiting) are HTTP errors;
everything that reaches the API is a JSON-RPC response (or nothing, for a notification).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.timeseries.auth import API_PREFIX, AuthFailure, rpc_integration, token_client
from emulator.timeseries.durations import duration_ms
from emulator.timeseries.methods import Call, RpcError, canonical_method, invoke
from emulator.timeseries.query import ParamIssues
from emulator.timeseries.state import TimeseriesState
from emulator.timeseries.times import parse_us

RPC_PATH = f"{API_PREFIX}rpc"
TOKEN_PATH = f"{API_PREFIX}oauth/token"
CONTROL_PATH = "/_emulator/timeseries"
DEFAULT_API_VERSION = "1.1"
TOKEN_SCOPE = "invoke:integration"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _error(
    state: TimeseriesState,
    request_id: Any,
    code: int,
    message: str,
    params: dict[str, list[str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    data: dict[str, Any] = {"trace": state.trace()}
    if params:
        data["params"] = params
    data.update(extra or {})
    return _json({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message, "data": data}})


def _transport_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": error, "error_description": description}, status, headers)


def _refusal(state: TimeseriesState, request: Request) -> tuple[Response | None, str]:
    """(an HTTP error for a request the transport refuses, else None; the caller's integration)."""
    version = request.headers.get("x-api-version", DEFAULT_API_VERSION)
    if version not in state.config.api_versions:
        description = (
            f"X-API-Version {version!r} is not supported; use one of {', '.join(sorted(state.config.api_versions))}"
        )
        return _transport_error(400, "unsupported_api_version", description), ""
    try:
        integration = rpc_integration(state, request)
    except AuthFailure as exc:
        return _transport_error(exc.status, exc.error, exc.description, {"WWW-Authenticate": "Bearer"}), ""
    wait = state.over_rate_limit()
    if wait is not None:
        retry_after = {"Retry-After": str(max(1, int(wait + 0.999)))}
        return _transport_error(429, "too_many_requests", "rate limit exceeded", retry_after), ""
    return None, integration


def _envelope_issues(body: Any) -> dict[str, list[str]]:
    issues: dict[str, list[str]] = {}
    if body.get("jsonrpc") != "2.0":
        issues["jsonrpc"] = ['must be "2.0"']
    if not isinstance(body.get("method"), str):
        issues["method"] = ["must be a string"]
    if "params" in body and body["params"] is not None and not isinstance(body["params"], dict | list):
        issues["params"] = ["must be an object or an array"]
    for key in sorted(set(body) - {"jsonrpc", "id", "method", "params"}):
        issues[key] = ["unknown field"]
    return issues


def _answer(state: TimeseriesState, integration: str, request_id: Any, method: str, params: Any) -> Response:
    """Run one well-formed call; every outcome is a JSON-RPC response."""
    name = canonical_method(method)  # the API matches method names case-insensitively
    if name is None:
        return _error(state, request_id, -32601, "Method not found", {"method": [f"unknown method {method}"]})
    if name in state.config.forbidden_methods:
        return _error(state, request_id, -32003, "Forbidden")
    call = Call(state, integration, state.faults.take(name))
    try:
        result = invoke(call, name, params)
    except ParamIssues as exc:
        return _error(state, request_id, -32602, "Invalid params", exc.issues)
    except RpcError as exc:
        return _error(state, request_id, exc.code, exc.message, exc.params, exc.data)
    except Exception:  # a bug in the emulator still answers in protocol
        return _error(state, request_id, -32603, "Internal error")
    return _json({"jsonrpc": "2.0", "id": request_id, "result": result})


def routes(state: TimeseriesState) -> list[Route]:
    """Routes to mount in the emulator app: RPC, token, and the control endpoints for faults/config."""

    async def rpc(request: Request) -> Response:
        refused, integration = _refusal(state, request)
        if refused is not None:
            return refused
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(state, None, -32700, "Parse error")
        if isinstance(body, list):
            return _error(state, None, -32600, "Invalid request", {"": ["batch requests are not supported"]})
        if not isinstance(body, dict):
            return _error(state, None, -32600, "Invalid request", {"": ["must be an object"]})
        request_id = body.get("id")
        issues = _envelope_issues(body)
        if issues:
            return _error(state, request_id, -32600, "Invalid request", issues)
        method, params = body["method"], body.get("params")
        version = request.headers.get("x-api-version", DEFAULT_API_VERSION)
        state.calls.append({"method": method, "id": request_id, "version": version, "params": params})
        response = _answer(state, integration, request_id, method, params)
        return Response(status_code=204) if request_id is None else response

    async def token(request: Request) -> Response:
        try:
            await token_client(state, request)
        except AuthFailure as exc:
            return _transport_error(exc.status, exc.error, exc.description)
        access_token, ttl = state.issue_token()
        return _json(
            {"access_token": access_token, "scope": TOKEN_SCOPE, "expires_in": ttl, "token_type": "Bearer"},
            headers={"Cache-Control": "no-store"},
        )

    return [
        Route(RPC_PATH, rpc, methods=["POST"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
        *_control_routes(state),
    ]


def _control_routes(state: TimeseriesState) -> list[Route]:
    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
        elif request.method == "POST":
            spec = orjson.loads(await request.body())
            try:
                state.faults.add(int(spec["code"]), spec.get("method"), spec.get("times", 1), spec.get("ids"))
            except (KeyError, ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"faults": state.faults.pending()})

    async def config(request: Request) -> Response:
        if request.method == "PATCH":
            changes = orjson.loads(await request.body())
            try:
                state.configure(**changes)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        cfg = state.config
        return JSONResponse(
            {
                "integration": cfg.integration,
                "items": cfg.items,
                "now": state.clock.now_iso(),
                "rate_limit": cfg.rate_limit,
                "api_versions": sorted(cfg.api_versions),
                "enum_rollup": cfg.enum_rollup,
            }
        )

    async def backfill(request: Request) -> Response:
        spec = orjson.loads(await request.body())
        try:
            lo, hi = parse_us(spec["from"]), parse_us(spec["to"])
            every = duration_ms(spec.get("every", "PT1H")) * 1000
            written = state.store.backfill(list(spec["items"]), lo, hi, every)
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"error": f"{exc}: send items, from, to and every (e.g. PT5M)"}, status_code=400)
        return JSONResponse({"samples": written})

    async def items(request: Request) -> Response:
        spec = orjson.loads(await request.body() or b"{}")
        return JSONResponse({"id": state.store.create_item(str(spec.get("name") or "Late starter"))})

    return [
        Route(f"{CONTROL_PATH}/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(f"{CONTROL_PATH}/config", config, methods=["GET", "PATCH"]),
        Route(f"{CONTROL_PATH}/backfill", backfill, methods=["POST"]),
        Route(f"{CONTROL_PATH}/items", items, methods=["POST"]),
    ]


def credentials_file(state: TimeseriesState, base_url: str, kind: str = "client-credentials") -> dict[str, Any]:
    """The integration credentials file a user would download, pointing at this emulator.

    `kind` is `client-credentials` (OAuth) or `basic-auth` (integration id and password, clarify-go's
    `BasicAuthCredentials` shape: the id in `clientId`, the password in `clientSecret`).
    """
    config = state.config
    if kind == "basic-auth":
        secret = {"type": kind, "clientId": config.integration, "clientSecret": config.password}
    elif kind == "client-credentials":
        secret = {"type": kind, "clientId": config.client_id, "clientSecret": config.client_secret}
    else:
        raise ValueError(f"unknown credentials type {kind!r}: use client-credentials or basic-auth")
    return {"apiUrl": f"{base_url.rstrip('/')}{API_PREFIX}", "integration": config.integration, "credentials": secret}
