"""Every JSON-RPC rule of the seed, pinned against the emulator over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from emulator.timeseries import TimeseriesState
from emulator.timeseries.data import DAY_MS, iso


@pytest.fixture
def http(base_url: str, ts: TimeseriesState) -> httpx.Client:
    cfg = ts.config
    token = httpx.post(
        f"{base_url}/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
            "audience": f"{base_url}/v1/",
        },
    ).json()["access_token"]
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}", "X-API-Version": "1.1"}) as c:
        yield c


def rpc(http: httpx.Client, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return http.post("/v1/rpc", content=content, headers={"content-type": "application/json"}, **kwargs)


def req(method: str, params: Any = None, id_: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params if params is not None else {}}


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200
    body = response.json()
    assert "result" not in body and body["jsonrpc"] == "2.0"
    assert isinstance(body["error"]["data"]["trace"], str) and body["error"]["data"]["trace"]
    return body


def test_parse_error(http: httpx.Client) -> None:
    body = error_of(rpc(http, b'{"jsonrpc": "2.0", "id": 1, "method": '))
    assert body["error"]["code"] == -32700 and body["id"] is None


def test_batch_requests_are_refused(http: httpx.Client) -> None:
    body = error_of(rpc(http, [req("clarify.selectItems"), req("clarify.selectItems", id_=2)]))
    assert body["error"]["code"] == -32600 and body["id"] is None


@pytest.mark.parametrize(
    "bad, path",
    [
        ({"id": 1, "method": "clarify.selectItems"}, "jsonrpc"),
        ({"jsonrpc": "1.0", "id": 1, "method": "clarify.selectItems"}, "jsonrpc"),
        ({"jsonrpc": "2.0", "id": 1}, "method"),
        ({"jsonrpc": "2.0", "id": 1, "method": 7}, "method"),
        ({"jsonrpc": "2.0", "id": 1, "method": "clarify.selectItems", "params": "x"}, "params"),
        ({"jsonrpc": "2.0", "id": 1, "method": "clarify.selectItems", "extra": True}, "extra"),
    ],
)
def test_invalid_request(http: httpx.Client, bad: dict[str, Any], path: str) -> None:
    body = error_of(rpc(http, bad))
    assert body["error"]["code"] == -32600
    assert path in body["error"]["data"]["params"]
    assert body["id"] == 1


@pytest.mark.parametrize("not_an_object", [1, "x", None, True])
def test_request_must_be_an_object(http: httpx.Client, not_an_object: Any) -> None:
    assert error_of(rpc(http, not_an_object))["error"]["code"] == -32600


def test_unknown_method(http: httpx.Client) -> None:
    body = error_of(rpc(http, req("clarify.nope")))
    assert body["error"]["code"] == -32601 and "clarify.nope" in str(body["error"]["data"]["params"])


@pytest.mark.parametrize("request_id", [1, 0, -5, 1.5, "abc", "", {"a": [1]}, [1, "two"], True, False])
def test_response_echoes_the_id_whatever_its_type(http: httpx.Client, request_id: Any) -> None:
    ok = rpc(http, req("clarify.selectItems", {"query": {"limit": 1}}, request_id)).json()
    assert ok["id"] == request_id and type(ok["id"]) is type(request_id) and isinstance(ok["result"], dict)
    err = rpc(http, req("clarify.nope", {}, request_id)).json()
    assert err["id"] == request_id and "result" not in err


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "method": "clarify.selectItems", "params": {}},
        {"jsonrpc": "2.0", "id": None, "method": "clarify.selectItems", "params": {}},
        {"jsonrpc": "2.0", "method": "clarify.nope"},
    ],
)
def test_notifications_get_no_response(http: httpx.Client, body: dict[str, Any]) -> None:
    response = rpc(http, body)
    assert response.status_code == 204 and response.content == b""


def test_notification_still_runs(http: httpx.Client, ts: TimeseriesState) -> None:
    before = len(ts.methods_called("integration.saveSignals"))
    rpc(
        http,
        {
            "jsonrpc": "2.0",
            "method": "integration.saveSignals",
            "params": {"integration": ts.config.integration, "inputs": {"notified_input": {"name": "n"}}},
        },
    )
    assert len(ts.methods_called("integration.saveSignals")) == before + 1
    assert ts.store.signal_for_input(ts.config.integration, "notified_input", create=False)[0] is not None


def test_positional_params(http: httpx.Client) -> None:
    body = rpc(http, req("clarify.selectItems", [{"limit": 2}])).json()
    assert len(body["result"]["data"]) == 2


def _ids(ts: TimeseriesState, n: int) -> list[str]:
    return sorted(ts.store.items)[:n]


def _window(ts: TimeseriesState, days: int) -> dict[str, Any]:
    hi = ts.store.now_ms()
    return {"filter": {"times": {"$gte": iso(hi - days * DAY_MS), "$lt": iso(hi)}}}


@pytest.mark.parametrize(
    "case", ["limit", "items", "window", "rollup_window", "unequal", "missing", "unknown", "times", "labels", "regex"]
)
def test_invalid_params_name_the_path(http: httpx.Client, ts: TimeseriesState, case: str) -> None:
    integration = ts.config.integration
    method, params, path = {
        "limit": ("clarify.selectItems", {"query": {"limit": 5000}}, "query.limit"),
        "items": (
            "clarify.dataFrame",
            {"query": {"filter": {"id": {"$in": _ids(ts, 51)}}, "limit": 51}},
            "query.limit",
        ),
        "window": ("clarify.dataFrame", {"query": {"limit": 1}, "data": _window(ts, 41)}, "data.filter.times"),
        "rollup_window": (
            "clarify.dataFrame",
            {"query": {"limit": 1}, "data": {**_window(ts, 401), "rollup": "P1D"}},
            "data.filter.times",
        ),
        "unequal": (
            "integration.insert",
            {
                "integration": integration,
                "data": {"times": ["2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z"], "series": {"x": [1.0]}},
            },
            "data.series.x",
        ),
        "missing": ("integration.insert", {"data": {"times": [], "series": {}}}, "integration"),
        "unknown": ("clarify.selectItems", {"nope": 1}, "nope"),
        "times": (
            "integration.insert",
            {"integration": integration, "data": {"times": ["yesterday"], "series": {"x": [1.0]}}},
            "data.times.0",
        ),
        "labels": (
            "integration.saveSignals",
            {"integration": integration, "inputs": {"x": {"labels": {"a": "b"}}}},
            "inputs.x.labels",
        ),
        "regex": ("clarify.selectItems", {"query": {"filter": {"name": {"$regex": "("}}}}, "query.filter.name.$regex"),
    }[case]
    body = error_of(rpc(http, req(method, params)))
    assert body["error"]["code"] == -32602
    assert path in body["error"]["data"]["params"], body["error"]["data"]["params"]


def test_rollup_allows_a_longer_window(http: httpx.Client, ts: TimeseriesState) -> None:
    body = rpc(
        http, req("clarify.dataFrame", {"query": {"limit": 2}, "data": {**_window(ts, 100), "rollup": "P1D"}})
    ).json()
    series = body["result"]["data"]["series"]
    assert {key.rsplit("_", 1)[1] for key in series} == {"min", "max", "avg", "sum", "count"}


def test_filters_on_labels(http: httpx.Client, ts: TimeseriesState) -> None:
    body = rpc(
        http,
        req(
            "clarify.selectItems",
            {"query": {"filter": {"labels.site": {"$in": ["oslo"]}}, "limit": 1000, "total": True}},
        ),
    ).json()
    expected = [i for i, item in ts.store.items.items() if "oslo" in item.resource.attributes["labels"].get("site", [])]
    assert sorted(v["id"] for v in body["result"]["data"]) == sorted(expected)
    assert body["result"]["meta"]["total"] == len(expected)


def test_wrong_api_version_is_a_transport_error(http: httpx.Client) -> None:
    response = http.post("/v1/rpc", json=req("clarify.selectItems"), headers={"X-API-Version": "0.9"})
    assert response.status_code == 400 and "version" in response.text.lower()


@pytest.mark.parametrize("auth", [None, "Bearer nope", "Basic eDp5"])
def test_bad_bearer_is_a_transport_error(base_url: str, auth: str | None) -> None:
    headers = {"X-API-Version": "1.1", **({"Authorization": auth} if auth else {})}
    response = httpx.post(f"{base_url}/v1/rpc", json=req("clarify.selectItems"), headers=headers)
    assert response.status_code == 401


def _token_form(base_url: str, **changes: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": "demo-client",
        "client_secret": "demo-secret",
        "audience": f"{base_url}/v1/",
    }
    return {k: v for k, v in {**form, **changes}.items() if v}


def test_token_endpoint_sits_below_api_url_and_answers_like_the_sdks_expect(base_url: str) -> None:
    """pyclarify `jsonrpc/oauth2.py` posts the form to `{apiUrl}oauth/token`, parses `OAuthResponse`."""
    response = httpx.post(f"{base_url}/v1/oauth/token", data=_token_form(base_url))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "scope", "expires_in", "token_type"}
    assert (body["scope"], body["expires_in"], body["token_type"]) == ("invoke:integration", 86_400, "Bearer")
    assert httpx.post(f"{base_url}/oauth/token", data=_token_form(base_url)).status_code == 404  # the old, wrong path


def test_token_endpoint_takes_http_basic_client_authentication(base_url: str) -> None:
    """golang.org/x/oauth2 (clarify-go `credentials.go`) sends the URL-encoded id and secret in a Basic header."""
    form = _token_form(base_url, client_id="", client_secret="")
    assert httpx.post(f"{base_url}/v1/oauth/token", data=form, auth=("demo-client", "demo-secret")).status_code == 200
    assert httpx.post(f"{base_url}/v1/oauth/token", data=form, auth=("demo-client", "nope")).status_code == 401


@pytest.mark.parametrize(
    "changes, status",
    [
        ({"client_secret": "wrong"}, 401),
        ({"client_id": "other"}, 401),
        ({"grant_type": "password"}, 400),
        ({"audience": ""}, 400),
        ({"audience": "https://api.example.com/v2/"}, 403),
    ],
)
def test_token_endpoint_refuses_bad_requests(base_url: str, changes: dict[str, str], status: int) -> None:
    assert httpx.post(f"{base_url}/v1/oauth/token", data=_token_form(base_url, **changes)).status_code == status


def test_token_endpoint_refuses_a_json_body(base_url: str) -> None:
    """Both SDKs send `application/x-www-form-urlencoded`; a JSON body is a client bug to surface."""
    response = httpx.post(f"{base_url}/v1/oauth/token", json=_token_form(base_url))
    assert response.status_code == 400 and "form" in response.json()["error_description"]


def test_basic_auth_credentials_call_the_rpc_endpoint(base_url: str, ts: TimeseriesState) -> None:
    """`basic-auth` credentials: HTTP Basic with integration id and password on every call (clarify-go)."""
    good = (ts.config.integration, ts.config.password)
    headers = {"X-API-Version": "1.1"}
    ok = httpx.post(
        f"{base_url}/v1/rpc", json=req("clarify.selectItems", {"query": {"limit": 1}}), auth=good, headers=headers
    )
    assert ok.status_code == 200 and len(ok.json()["result"]["data"]) == 1
    bad = httpx.post(f"{base_url}/v1/rpc", json=req("clarify.selectItems"), auth=(good[0], "nope"), headers=headers)
    assert bad.status_code == 401


def test_rate_limit_is_a_transport_error_with_retry_after(http: httpx.Client, ts: TimeseriesState) -> None:
    ts.configure(rate_limit=1, rate_window=3600.0)
    try:
        statuses = [rpc(http, req("clarify.selectItems", {"query": {"limit": 1}})) for _ in range(2)]
    finally:
        ts.configure(rate_limit=None)
    assert statuses[-1].status_code == 429 and int(statuses[-1].headers["Retry-After"]) >= 1


@pytest.mark.parametrize("code", [-32011, -32015, -32009, -32603, -32000, -32003])
def test_injected_faults_fire_once_then_clear(http: httpx.Client, ts: TimeseriesState, code: int) -> None:
    ts.faults.add(code, method="clarify.selectItems", times=1)
    assert error_of(rpc(http, req("clarify.selectItems")))["error"]["code"] == code
    assert "result" in rpc(http, req("clarify.selectItems")).json()


def test_faults_switch_over_http(http: httpx.Client, ts: TimeseriesState) -> None:
    assert http.post("/_emulator/timeseries/faults", json={"code": -32015, "times": None}).status_code == 200
    assert error_of(rpc(http, req("clarify.selectItems")))["error"]["code"] == -32015
    http.delete("/_emulator/timeseries/faults")
    assert "result" in rpc(http, req("clarify.selectItems")).json()


def test_partial_failure_writes_the_rest(http: httpx.Client, ts: TimeseriesState) -> None:
    ts.faults.add(-32021, method="integration.insert", ids=["pf_b"])
    body = error_of(
        rpc(
            http,
            req(
                "integration.insert",
                {
                    "integration": ts.config.integration,
                    "data": {"times": ["2025-01-01T00:00:00Z"], "series": {"pf_a": [1.0], "pf_b": [2.0]}},
                },
            ),
        )
    )
    assert body["error"]["code"] == -32021 and list(body["error"]["data"]["params"]) == ["data.series.pf_b"]
    assert ts.store.signal_for_input(ts.config.integration, "pf_a", create=False)[0] is not None
    assert ts.store.signal_for_input(ts.config.integration, "pf_b", create=False)[0] is None


def test_other_integration_is_forbidden(http: httpx.Client) -> None:
    body = error_of(rpc(http, req("admin.selectSignals", {"integration": "someoneelse"})))
    assert body["error"]["code"] == -32003


def test_demo_data_is_deterministic(ts: TimeseriesState) -> None:
    from emulator.clock import Clock
    from emulator.timeseries import TimeseriesState as State

    clock = Clock()
    clock.freeze(ts.clock.now())
    twin = State(ts.config, clock)
    item_id = sorted(twin.store.items)[3]
    lo = twin.store.start_ms
    assert twin.store.items[item_id].generator.samples(lo, lo + 5 * DAY_MS) == ts.store.items[
        item_id
    ].generator.samples(lo, lo + 5 * DAY_MS)
