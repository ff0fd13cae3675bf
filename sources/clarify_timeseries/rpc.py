"""JSON-RPC 2.0 over the shared `HttpClient`: one request per POST, errors mapped by code.

Retries live in the shared transport: `retry_if` tells it which in-body errors are transient
(-32000, -32603, -32015, -32009 with backoff; -32011 with a longer wait, i.e. slow down). What is left
after the retries becomes an `RpcError` subclass whose one-line message quotes the error's `trace`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import httpx
import orjson

import sources.clarify_timeseries.settings as s
from core.errors import ApiError
from core.http import HttpClient, RetryPolicy
from sources.clarify_timeseries.auth import auth_for
from sources.clarify_timeseries.credentials import TimeseriesCredentials


class RpcError(ApiError):
    """A JSON-RPC error response that retrying did not (or cannot) fix."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        code: int,
        trace: str | None,
        params: dict[str, list[str]] | None = None,
        partial_result: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.method = method
        self.code = code
        self.trace = trace
        self.params = params or {}
        self.partial_result = partial_result


class InvalidParamsError(RpcError):
    """-32602: the request is wrong; `params` says where."""


class MethodNotFoundError(RpcError):
    """-32601."""


class ForbiddenError(RpcError):
    """-32003: the token may not do this, or the resource is not visible to it."""


class PartialFailureError(RpcError):
    """-32021: part of the operation was done. `partial_result` (the error's `data.partialResult`, shaped like
    the method's result) holds what was done; `params` names the parts that were not."""


class TooManyRequestsError(RpcError):
    """-32011 still after backing off."""


_FIXES = {
    -32700: "this is a bug in clarify-sync: report it with the trace",
    -32600: "this is a bug in clarify-sync: report it with the trace",
    -32601: "the API does not offer this method: check the API URL and version",
    -32602: "fix the parameters shown",
    -32603: "the API kept failing: try again later, or report the trace to Clarify support",
    -32000: "the API kept failing: try again later, or report the trace to Clarify support",
    -32001: "report the trace to Clarify support",
    -32002: "report the trace to Clarify support",
    -32003: (
        "the integration's access does not cover this: grant it in Clarify (integration access, "
        "e.g. admin access for admin.* methods) or check the integration id"
    ),
    -32009: "another writer changed the same resources: run again",
    -32011: "rate limited: run again later or sync fewer items at a time",
    -32015: "the API is unavailable: try again later",
    -32021: "the rest was done; the parts listed were not: run again to retry them",
    -32023: "select fewer items",
}
_CLASSES: dict[int, type[RpcError]] = {
    -32602: InvalidParamsError,
    -32601: MethodNotFoundError,
    -32003: ForbiddenError,
    -32021: PartialFailureError,
    -32011: TooManyRequestsError,
}


def format_params(params: dict[str, list[str]]) -> str:
    return "; ".join(f"{path or '<request>'}: {', '.join(map(str, issues))}" for path, issues in params.items())


def error_from(method: str, error: dict[str, Any]) -> RpcError:
    code = error.get("code") if isinstance(error.get("code"), int) else -32000
    data = error.get("data") if isinstance(error.get("data"), dict) else {}
    trace = data.get("trace") if isinstance(data.get("trace"), str) else None
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    partial = data.get("partialResult") if isinstance(data.get("partialResult"), dict) else None
    shown = f" [{format_params(params)}]" if params else ""
    message = (
        f"{method} failed with {code} {error.get('message') or ''}{shown} "
        f"(trace {trace or 'none'}): {_FIXES.get(code, 'report the trace to Clarify support')}"
    )
    return _CLASSES.get(code, RpcError)(
        " ".join(message.split()), method=method, code=code, trace=trace, params=params, partial_result=partial
    )


def _describe_transport(status: int, path: str, detail: str) -> str:
    if status == 401:
        return (
            f"the time-series API refused the integration's credentials (HTTP 401: {detail}): check the "
            f"integration's credentials file ({s.ENV_CREDENTIALS_FILE})"
        )
    if status == 400 and "version" in detail.lower():
        return (
            f"the time-series API does not accept X-API-Version {s.API_VERSION} (HTTP 400: {detail}): "
            "check the API URL in the credentials file points at Clarify's v1 API"
        )
    if status == 403:
        return f"the time-series API refused access (HTTP 403: {detail}): check the integration's access"
    if status == 404:
        return f"no JSON-RPC endpoint at {path} (HTTP 404): check apiUrl in the credentials file"
    if status == 429:
        return "the time-series API kept rate limiting (HTTP 429): run again later"
    return f"the time-series API answered HTTP {status} on {path}: {detail or 'no detail'}"


def _classify(response: httpx.Response) -> float | None:
    """For the shared transport: seconds to wait before retrying an in-body error, or None to accept."""
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if code == s.SLOW_DOWN_CODE:
        return s.SLOW_DOWN_SECONDS
    if code in s.RETRY_CODES:
        return 0.0
    return None


class RpcClient:
    """`call(method, params)` → result object. Thread-safe; one HTTP request per call (plus retries)."""

    def __init__(
        self,
        credentials: TimeseriesCredentials,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        extra: dict[str, Any] = {"retry": retry}
        if sleep is not None:
            extra["sleep"] = sleep
        self.credentials = credentials
        self.auth = auth_for(credentials, **extra)
        self.http = HttpClient(
            credentials.origin,
            headers={"X-API-Version": s.API_VERSION},
            describe_error=_describe_transport,
            auth=self.auth,
            transport=transport,
            origin_hint=f"check apiUrl in the credentials file ({s.ENV_CREDENTIALS_FILE})",
            **extra,
        )
        self._ids = itertools.count(1)

    @property
    def integration(self) -> str:
        return self.credentials.integration

    def close(self) -> None:
        self.http.close()
        self.auth.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, params: dict[str, Any] | list[Any] | None = None) -> dict[str, Any]:
        request_id = next(self._ids)
        payload = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        response = self.http.request(
            "POST", self.credentials.rpc_path, json=payload, tag=method, idempotent=True, retry_if=_classify
        )
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ApiError(
                f"{method}: the API answered with a body that is not JSON: check apiUrl in the credentials file"
            ) from None
        if not isinstance(body, dict) or body.get("jsonrpc") != "2.0":
            raise ApiError(f"{method}: the API answered with something that is not JSON-RPC 2.0: check apiUrl")
        if body.get("id") != request_id:
            raise ApiError(f"{method}: response id {body.get('id')!r} does not match request id {request_id}")
        if "error" in body and body["error"] is not None:
            raise error_from(method, body["error"] if isinstance(body["error"], dict) else {})
        result = body.get("result")
        if not isinstance(result, dict):
            raise ApiError(f"{method}: the API answered without a result object: check apiUrl")
        return result
