"""The JSON-RPC endpoint, the OAuth token endpoint and the control routes, as a list of starlette Routes.

Transport-level refusals (unknown API version, failed authentication, rate limiting) are HTTP errors;
everything that reaches the API is a JSON-RPC response (or nothing, for a notification).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.clock import Clock
from emulator.timeseries.config import TimeseriesConfig
from emulator.timeseries.data import Store, make_id
from emulator.timeseries.faults import Faults
from emulator.timeseries.methods import METHODS, Call, RpcError, invoke
from emulator.timeseries.query import ParamIssues

RPC_PATH = "/v1/rpc"
TOKEN_PATH = "/oauth/token"
CONTROL_PATH = "/_emulator/timeseries"
DEFAULT_API_VERSION = "1.1"


class TimeseriesState:
    """Everything the time-series routes share: config (swappable), data, faults, tokens, a call log."""

    def __init__(self, config: TimeseriesConfig | None = None, clock: Clock | None = None):
        self.config = config or TimeseriesConfig()
        self.clock = clock or Clock()
        self.store = Store(self.config, self.clock)
        self.faults = Faults()
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, str]] = {}  # token -> (expires at, integration)
        self._hits: deque[float] = deque()
        self._traces = itertools.count(1)
        self.calls: deque[dict[str, Any]] = deque(maxlen=10_000)  # recent calls, for tests to assert on
        self.tokens_issued = 0

    def configure(self, **changes: object) -> None:
        self.config = self.config.updated(**changes)

    def trace(self) -> str:
        return make_id(self.config.seed, "trace", next(self._traces))

    def issue_token(self) -> tuple[str, int]:
        token = "ts-" + secrets.token_urlsafe(24)
        ttl = self.config.token_ttl
        with self._lock:
            self._tokens[token] = (self.clock.now() + ttl, self.config.integration)
            self.tokens_issued += 1
        return token, ttl

    def token_integration(self, token: str) -> str | None:
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[0] <= self.clock.now():
            return None
        return entry[1]

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def over_rate_limit(self) -> float | None:
        """Seconds to wait when this request exceeds the configured rate, else None."""
        limit = self.config.rate_limit
        if limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            while self._hits and self._hits[0] <= now - self.config.rate_window:
                self._hits.popleft()
            if len(self._hits) >= limit:
                return max(0.001, self._hits[0] + self.config.rate_window - now)
            self._hits.append(now)
        return None

    def methods_called(self, method: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.calls if method is None or c["method"] == method]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _error(
    state: TimeseriesState,
    request_id: Any,
    code: int,
    message: str,
    params: dict[str, list[str]] | None = None,
) -> Response:
    data: dict[str, Any] = {"trace": state.trace()}
    if params:
        data["params"] = params
    return _json({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message, "data": data}})


def _transport_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": error, "error_description": description}, status, headers)


def routes(state: TimeseriesState) -> list[Route]:
    """Routes to mount in the emulator app: RPC, token, and the control endpoints for faults/config."""

    async def rpc(request: Request) -> Response:
        version = request.headers.get("x-api-version", DEFAULT_API_VERSION)
        if version not in state.config.api_versions:
            return _transport_error(
                400,
                "unsupported_api_version",
                f"X-API-Version {version!r} is not supported; use one of "
                f"{', '.join(sorted(state.config.api_versions))}",
            )
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        integration = state.token_integration(token) if scheme.lower() == "bearer" and token else None
        if integration is None:
            return _transport_error(
                401,
                "unauthorized",
                "missing, invalid or expired access token",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        wait = state.over_rate_limit()
        if wait is not None:
            return _transport_error(
                429,
                "too_many_requests",
                "rate limit exceeded",
                {"Retry-After": str(max(1, int(wait + 0.999)))},
            )
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(state, None, -32700, "Parse error")
        if isinstance(body, list):
            return _error(state, None, -32600, "Invalid request", {"": ["batch requests are not supported"]})
        if not isinstance(body, dict):
            return _error(state, None, -32600, "Invalid request", {"": ["must be an object"]})
        request_id = body.get("id")
        issues: dict[str, list[str]] = {}
        if body.get("jsonrpc") != "2.0":
            issues["jsonrpc"] = ['must be "2.0"']
        if not isinstance(body.get("method"), str):
            issues["method"] = ["must be a string"]
        if "params" in body and body["params"] is not None and not isinstance(body["params"], dict | list):
            issues["params"] = ["must be an object or an array"]
        extra = set(body) - {"jsonrpc", "id", "method", "params"}
        for key in sorted(extra):
            issues[key] = ["unknown field"]
        if issues:
            return _error(state, request_id, -32600, "Invalid request", issues)
        method = body["method"]
        notification = request_id is None
        state.calls.append({"method": method, "id": request_id, "version": version, "params": body.get("params")})
        if method not in METHODS:
            response = _error(state, request_id, -32601, "Method not found", {"method": [f"unknown method {method}"]})
        elif method in state.config.forbidden_methods:
            response = _error(state, request_id, -32003, "Forbidden")
        else:
            call = Call(state, integration, state.faults.take(method))
            try:
                result = invoke(call, method, body.get("params"))
                response = _json({"jsonrpc": "2.0", "id": request_id, "result": result})
            except ParamIssues as exc:
                response = _error(state, request_id, -32602, "Invalid params", exc.issues)
            except RpcError as exc:
                response = _error(state, request_id, exc.code, exc.message, exc.params)
            except Exception:  # a bug in the emulator still answers in protocol
                response = _error(state, request_id, -32603, "Internal error")
        if notification:
            return Response(status_code=204)
        return response

    async def token(request: Request) -> Response:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return _transport_error(400, "invalid_request", "body is not JSON")
            if not isinstance(form, dict):
                return _transport_error(400, "invalid_request", "body must be an object")
        else:
            form = dict(parse_qsl(raw.decode("utf-8", "replace")))  # urlencoded, as OAuth clients send
        if form.get("grant_type") != "client_credentials":
            return _transport_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        config = state.config
        if form.get("client_id") != config.client_id or form.get("client_secret") != config.client_secret:
            return _transport_error(401, "access_denied", "Unauthorized")
        access_token, ttl = state.issue_token()
        return _json(
            {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": "clarify"},
            headers={"Cache-Control": "no-store"},
        )

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
                "rate_limit": cfg.rate_limit,
                "api_versions": sorted(cfg.api_versions),
            }
        )

    return [
        Route(RPC_PATH, rpc, methods=["POST"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route(f"{CONTROL_PATH}/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(f"{CONTROL_PATH}/config", config, methods=["GET", "PATCH"]),
    ]


def credentials_file(state: TimeseriesState, base_url: str) -> dict[str, Any]:
    """The integration credentials file a user would download, pointing at this emulator."""
    return {
        "apiUrl": f"{base_url.rstrip('/')}/v1/",
        "integration": state.config.integration,
        "credentials": {
            "type": "client-credentials",
            "clientId": state.config.client_id,
            "clientSecret": state.config.client_secret,
        },
    }
