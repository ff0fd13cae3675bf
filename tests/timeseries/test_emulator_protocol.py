"""Every JSON-RPC rule of the seed, pinned against the emulator over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from emulator.timeseries import TimeseriesState
from emulator.timeseries.data import DAY_MS, iso
from tests.timeseries.conftest import demo_item_ids


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
    return demo_item_ids(ts, "PT15M")[:n]


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
            {"query": {"limit": 1}, "data": {**_window(ts, 401), "rollup": "PT1H"}},
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


def result_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200 and "error" not in body, body
    return body["result"]


@pytest.mark.parametrize("spelling", ["clarify.selectItems", "clarify.SelectItems", "CLARIFY.SELECTITEMS"])
def test_method_names_are_case_insensitive(http: httpx.Client, spelling: str) -> None:
    assert len(result_of(rpc(http, req(spelling, {"query": {"limit": 2}})))["data"]) == 2


@pytest.mark.parametrize("grouped", [True, False])
def test_selection_has_meta_format_and_included_by_type_or_flat(
    http: httpx.Client, ts: TimeseriesState, grouped: bool
) -> None:
    params = {
        "integration": ts.config.integration,
        "query": {"filter": {"input": {"$regex": "^demo_000"}}, "limit": 3, "total": True},
        "include": ["item"],
        "format": {"dataAsArray": True, "groupIncludedByType": grouped},
    }
    result = result_of(rpc(http, req("admin.selectSignals", params)))
    assert result["meta"] == {"total": 10, "format": {"dataAsArray": True, "groupIncludedByType": grouped}}
    linked = sorted(s["relationships"]["item"]["data"]["id"] for s in result["data"])
    included = result["included"]["items"] if grouped else result["included"]
    assert sorted(v["id"] for v in included) == linked and len(linked) == 3
    assert all(v["type"] == "items" for v in included)


def test_included_is_empty_without_include(http: httpx.Client) -> None:
    fmt = {"dataAsArray": True, "groupIncludedByType": True}
    assert result_of(rpc(http, req("clarify.selectItems", {"query": {"limit": 1}, "format": fmt})))["included"] == {}
    assert result_of(rpc(http, req("clarify.selectItems", {"query": {"limit": 1}})))["included"] == []


def test_unknown_include_is_invalid_params(http: httpx.Client) -> None:
    body = error_of(rpc(http, req("clarify.selectItems", {"include": ["signals"]})))
    assert body["error"]["code"] == -32602 and "include" in body["error"]["data"]["params"]


def _frame(http: httpx.Client, ids: list[str], data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    params = {"query": {"filter": {"id": {"$in": ids}}, "limit": len(ids)}, "data": data, **extra}
    return result_of(rpc(http, req("clarify.dataFrame", params)))


def test_data_frame_takes_what_pyclarify_sends_and_answers_times_and_series(
    http: httpx.Client, ts: TimeseriesState
) -> None:
    ids = _ids(ts, 2)
    data = {**_window(ts, 1), "rollup": None, "timeZone": "UTC", "firstDayOfWeek": 1, "origin": None, "last": -1}
    fmt = {"dataAsArray": False, "groupIncludedByType": True}
    result = _frame(http, ids, data, include=["items"], format=fmt)
    assert set(result["data"]) == {"times", "series"} and set(result["data"]["series"]) == set(ids)
    assert result["meta"]["format"] == fmt and sorted(v["id"] for v in result["included"]["items"]) == sorted(ids)
    lo = ts.store.now_ms() - DAY_MS
    expected = ts.store.samples(ids[0], lo, ts.store.now_ms())
    got = {
        t: v for t, v in zip(result["data"]["times"], result["data"]["series"][ids[0]], strict=True) if v is not None
    }
    assert got == {iso(ms): value for ms, value in expected.items()}


def _rollup_times(http: httpx.Client, ts: TimeseriesState, rollup: str, tz: str, days: int, **data: Any) -> list[str]:
    window = _window(ts, days)
    result = _frame(http, _ids(ts, 1), {**window, "rollup": rollup, "timeZone": tz, **data})
    return result["data"]["times"]


def test_monthly_rollup_buckets_on_local_month_starts(http: httpx.Client, ts: TimeseriesState) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    times = _rollup_times(http, ts, "P1M", "Europe/Oslo", 19)
    oslo = [datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(ZoneInfo("Europe/Oslo")) for t in times]
    assert times and all((d.day, d.hour, d.minute) == (1, 0, 0) for d in oslo[1:])
    assert oslo[0] <= datetime.fromtimestamp(ts.store.now_ms() / 1000 - 19 * 86400, ZoneInfo("Europe/Oslo"))


@pytest.mark.parametrize("first_day", [1, 3, 7])
def test_weekly_rollup_starts_on_first_day_of_week(http: httpx.Client, ts: TimeseriesState, first_day: int) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    times = _rollup_times(http, ts, "P1W", "America/New_York", 19, firstDayOfWeek=first_day)
    local = [datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(ZoneInfo("America/New_York")) for t in times]
    assert len(local) >= 3 and all(d.isoweekday() == first_day and (d.hour, d.minute) == (0, 0) for d in local)


def test_rollup_counts_every_sample_once(http: httpx.Client, ts: TimeseriesState) -> None:
    item = _ids(ts, 1)[0]
    result = _frame(http, [item], {**_window(ts, 10), "rollup": "P1D", "timeZone": "Asia/Kolkata"})
    expected = ts.store.samples(item, ts.store.now_ms() - 10 * DAY_MS, ts.store.now_ms())
    assert sum(c for c in result["data"]["series"][f"{item}_count"] if c) == len(expected)
    assert max(v for v in result["data"]["series"][f"{item}_max"] if v is not None) == max(expected.values())


def test_last_keeps_the_newest_points(http: httpx.Client, ts: TimeseriesState) -> None:
    item = _ids(ts, 1)[0]
    result = _frame(http, [item], {**_window(ts, 3), "last": 2})
    newest = list(ts.store.samples(item, ts.store.now_ms() - 3 * DAY_MS, ts.store.now_ms()).items())[-2:]
    assert result["data"] == {"times": [iso(t) for t, _ in newest], "series": {item: [v for _, v in newest]}}


def test_microseconds_survive_insert_and_data_frame(http: httpx.Client, ts: TimeseriesState) -> None:
    integration = ts.config.integration
    times = ["2025-01-02T03:04:05.123456Z", "2025-01-02T03:04:05.123457+00:00", "2025-01-02T04:04:05.5+01:00"]
    data = {"times": times, "series": {"usec_input": [1.0, 2.0, 3.0]}}
    signal_id = result_of(rpc(http, req("integration.insert", {"integration": integration, "data": data})))[
        "signalsByInput"
    ]["usec_input"]["id"]
    published = {"itemsBySignal": {signal_id: {"name": "usec"}}, "integration": integration}
    item_id = result_of(rpc(http, req("admin.publishSignals", published)))["itemsBySignal"][signal_id]["id"]
    window = {"filter": {"times": {"$gte": "2025-01-02T00:00:00Z", "$lt": "2025-01-03T00:00:00Z"}}}
    result = _frame(http, [item_id], window)
    assert result["data"]["times"] == [
        "2025-01-02T03:04:05.123456Z",
        "2025-01-02T03:04:05.123457Z",
        "2025-01-02T03:04:05.5Z",
    ]
    assert result["data"]["series"][item_id] == [1.0, 2.0, 3.0]


def test_save_signals_by_input_with_annotations_and_summaries(http: httpx.Client, ts: TimeseriesState) -> None:
    integration = ts.config.integration

    def save(views: dict[str, Any], key: str = "signalsByInput", **extra: Any) -> dict[str, Any]:
        params = {"integration": integration, key: views, **extra}
        return result_of(rpc(http, req("integration.saveSignals", params)))["signalsByInput"]

    first = save({"ann_a": {"name": "A", "annotations": {"origin/key": "v1"}}})["ann_a"]
    assert (first["created"], first["updated"]) == (True, False)
    assert {k: v for k, v in save({"ann_a": {"name": "A"}})["ann_a"].items() if k != "id"} == {
        "created": False,
        "updated": False,
    }
    assert save({"ann_a": {"name": "B"}}, key="inputs")["ann_a"]["updated"] is True  # the legacy name still works
    assert save({"ann_a": {"name": "C"}}, createOnly=True)["ann_a"]["updated"] is False
    query = {"filter": {"input": "ann_a"}}
    selected = result_of(rpc(http, req("admin.selectSignals", {"integration": integration, "query": query})))
    view = selected["data"][0]
    assert view["meta"]["annotations"] == {"origin/key": "v1"} and view["attributes"]["name"] == "B"
    both = error_of(
        rpc(http, req("integration.saveSignals", {"integration": integration, "inputs": {}, "signalsByInput": {}}))
    )
    assert both["error"]["code"] == -32602


def test_publish_summaries_say_created_and_updated(http: httpx.Client, ts: TimeseriesState) -> None:
    integration = ts.config.integration
    saved = rpc(
        http, req("integration.saveSignals", {"integration": integration, "signalsByInput": {"pub_a": {"name": "P"}}})
    )
    signal_id = result_of(saved)["signalsByInput"]["pub_a"]["id"]

    def publish(view: dict[str, Any]) -> dict[str, Any]:
        params = {"integration": integration, "itemsBySignal": {signal_id: view}}
        return result_of(rpc(http, req("admin.publishSignals", params)))["itemsBySignal"][signal_id]

    created = publish({"name": "P", "visible": True, "annotations": {"k": "v"}})
    assert (created["created"], created["updated"]) == (True, False)
    assert (publish({"name": "P"})["updated"], publish({"name": "Q"})["updated"]) == (False, True)
    item = ts.store.items[created["id"]].resource.view()
    assert item["meta"]["annotations"] == {"k": "v"} and item["attributes"]["name"] == "Q"


def test_partial_failure_carries_the_partial_result(http: httpx.Client, ts: TimeseriesState) -> None:
    ts.faults.add(-32021, method="integration.insert", ids=["pr_b"])
    data = {"times": ["2025-01-01T00:00:00Z"], "series": {"pr_a": [1.0], "pr_b": [2.0]}}
    body = error_of(rpc(http, req("integration.insert", {"integration": ts.config.integration, "data": data})))
    partial = body["error"]["data"]["partialResult"]["signalsByInput"]
    assert list(partial) == ["pr_a"] and partial["pr_a"]["created"] is True


def test_the_clock_setting_pins_the_demo_data(ts: TimeseriesState) -> None:
    """Two emulators built with the same `now` serve the same data, whatever the wall clock says."""
    from emulator.timeseries import TimeseriesConfig
    from emulator.timeseries import TimeseriesState as State

    twins = [State(TimeseriesConfig(seed=3, items=5, history_days=3, now="2030-01-01T00:30:00Z")) for _ in range(2)]
    frames = [[twin.store.samples(i, 0, twin.store.now_ms() + 1) for i in sorted(twin.store.items)] for twin in twins]
    assert frames[0] == frames[1] and any(frames[0])
    assert twins[0].store.now_ms() == 1_893_457_800_000


@pytest.mark.parametrize(
    "case, code, path",
    [
        ("groups", -32602, "groups"),
        ("alias", -32602, "calculations.0.formula"),
        ("state", -32602, "items.0.aggregation"),
        ("syntax", -32602, "calculations.0.formula"),
        ("no_rollup", -32602, "data.rollup"),
        ("too_many", -32023, "items"),
    ],
)
def test_evaluate_refusals(http: httpx.Client, ts: TimeseriesState, case: str, code: int, path: str) -> None:
    item = _ids(ts, 1)[0]
    agg = {"id": item, "aggregation": "avg", "alias": "i1"}
    data = {**_window(ts, 1), "rollup": "PT1H"}
    params: dict[str, Any] = {"items": [agg], "calculations": [{"alias": "c1", "formula": "i1 + 1"}], "data": data}
    changes: dict[str, Any] = {
        "groups": {"groups": [{"alias": "g1", "filter": {}, "timeAggregation": "avg", "groupAggregation": "sum"}]},
        "alias": {"calculations": [{"alias": "c1", "formula": "i1 + nope"}]},
        "state": {"items": [{**agg, "aggregation": "state-seconds", "state": 1}]},
        "syntax": {"calculations": [{"alias": "c1", "formula": "__import__('os')"}]},
        "no_rollup": {"data": _window(ts, 1)},
        "too_many": {"items": [{**agg, "alias": f"i{n}"} for n in range(51)]},
    }[case]
    body = error_of(rpc(http, req("clarify.evaluate", {**params, **changes})))
    assert body["error"]["code"] == code and path in body["error"]["data"]["params"], body["error"]
