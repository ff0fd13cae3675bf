"""The one HTTP client, against the emulator over real HTTP (and a mock transport for pacing)."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import httpx
import pytest

from core.errors import ApiError
from core.http import HttpClient, RetryPolicy, parse_error_body
from sources.clarify.api import ClarifyApi
from sources.clarify.connection import ClarifyConnection
from tests.sync.conftest import connection_for

NO_WAIT = RetryPolicy(backoff_base=0.01, backoff_max=0.05, max_attempts=6)


def api_for(emu: Any, sleeps: list[float] | None = None, **conn: Any) -> ClarifyApi:
    c = connection_for(emu)
    c = ClarifyConnection(
        conn.get("base_url", c.base_url), conn.get("workspace", c.workspace), conn.get("api_key", c.api_key)
    )
    return ClarifyApi(c, retry=NO_WAIT, sleep=(sleeps.append if sleeps is not None else None))


def test_retries_5xx_409_dropped_and_truncated(make_emu: Any) -> None:
    emu = make_emu(records=50)
    sleeps: list[float] = []
    api = api_for(emu, sleeps)
    emu.faults.set(conflict_409=1, drop_connection=1, truncate_body=1)
    body = api.list_page("person", {"page[limit]": 5})
    assert len(body["data"]) == 5
    assert api.http.stats.retries == 3 and len(sleeps) == 3
    emu.faults.set(error_rate=1.0)
    with pytest.raises(ApiError) as err:
        api.list_page("person", {"page[limit]": 5})
    assert err.value.status in (500, 502, 503) and "try again later" in str(err.value)
    assert all(0 < s <= 0.05 for s in sleeps)  # exponential, capped, jittered


def test_retry_after_is_honoured(make_emu: Any) -> None:
    emu = make_emu(records=50)
    sleeps: list[float] = []
    api = ClarifyApi(connection_for(emu), retry=RetryPolicy(backoff_base=0.001), sleep=sleeps.append)
    emu.faults.set(burst_429=2, burst_retry_after=True)
    api.list_page("person", {"page[limit]": 1})
    # The server's Retry-After (1 s from its response), not our backoff (at most 0.001 s).
    assert len(sleeps) == 2 and all(0.9 < s <= 1 for s in sleeps)


def test_next_link_with_http_scheme_is_rewritten_and_foreign_host_refused(make_emu: Any) -> None:
    emu = make_emu(records=50)
    api = api_for(emu)
    emu.faults.set(http_next_links=True)
    body = api.list_page("person", {"page[limit]": 5})
    nxt = body["links"]["next"]
    assert nxt.startswith("http://")
    https_variant = "https://" + nxt.split("://", 1)[1]
    assert api.http.resolve(https_variant).startswith(emu.base_url.split("/v1")[0])
    assert len(api.http.get_json(https_variant)["data"]) == 5
    sent = api.http.stats.requests
    with pytest.raises(ApiError) as err:
        api.http.get_json("https://evil.example.com/v1/workspaces/demo/schemas")
    assert "evil.example.com" in str(err.value) and api.http.stats.requests == sent


def test_error_messages_name_the_fix(make_emu: Any) -> None:
    emu = make_emu(records=10)
    with pytest.raises(ApiError) as err:
        api_for(emu, api_key="nope").schemas()
    assert "api-key" in str(err.value) and err.value.status == 401
    with pytest.raises(ApiError) as err:
        api_for(emu, workspace="nowhere").schemas()
    assert "CLARIFY_WORKSPACE" in str(err.value)
    with pytest.raises(ApiError) as err:
        api_for(emu).list_page("c_missing", {})
    assert "c_missing" in str(err.value)
    emu.faults.set(nest_error_shape=True)
    with pytest.raises(ApiError) as err:
        api_for(emu).list_page("person", {"sortOrder[dir]": "SIDEWAYS"})
    assert err.value.status == 400 and "SIDEWAYS" in str(err.value)


def test_both_error_shapes_parse() -> None:
    detail, errors = parse_error_body(
        b'{"errors":[{"status":"422","title":"x","detail":"bad email","source":{"pointer":"/data/attributes/email"}}]}'
    )
    assert detail == "bad email (/data/attributes/email)" and errors[0]["status"] == "422"
    detail, _ = parse_error_body(b'{"statusCode":400,"message":["a","b"],"error":"Bad Request"}')
    assert detail == "a; b"


def test_pacing_goes_at_the_steady_rate_when_low_and_waits_for_a_slot_when_none_left() -> None:
    sleeps: list[float] = []
    remaining = iter(["50", "3", "0", "5", "99"])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"data": []},
            headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": next(remaining), "X-RateLimit-Reset": "8"},
        )

    client = HttpClient("https://api.example.com/v1", sleep=sleeps.append, transport=httpx.MockTransport(handler))
    client.get_json("/a")
    assert sleeps == []
    client.get_json("/a")  # 50 left: plenty, no wait
    assert sleeps == []
    client.get_json("/a")  # 3 left (under 10%): paced; the first paced request goes at once
    client.get_json("/a")  # none left: wait for the oldest request to leave the window (8 s)
    assert len(sleeps) == 1 and 7.5 < sleeps[0] <= 8.0
    client.get_json("/b")  # another endpoint has its own budget
    assert len(sleeps) == 1


def test_pacing_spaces_low_budget_requests_by_window_over_limit() -> None:
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"data": []},
            headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "60"},
        )

    client = HttpClient("https://api.example.com/v1", sleep=sleeps.append, transport=httpx.MockTransport(handler))
    for _ in range(3):
        client.get_json("/a")
    # Not the whole reset (60 s) but the steady rate: 60 s / 100 requests apart, less the time since the last.
    assert sleeps and all(0 < s <= 0.6 for s in sleeps)


def test_endpoint_key_keeps_objects_and_collapses_ids() -> None:
    from sources.clarify.api import endpoint_key

    base = "/v1/workspaces/w/objects"
    assert endpoint_key("get", f"{base}/person/resources") == f"GET {base}/person/resources"
    assert endpoint_key("PATCH", f"{base}/person/records/per_1") == f"PATCH {base}/person/records/{{id}}"
    assert endpoint_key("POST", f"{base}/deal/records/bulk") == f"POST {base}/deal/records/bulk"
    assert endpoint_key("GET", f"{base}/deal/records/d1/relationships/company") == (
        f"GET {base}/deal/records/{{id}}/relationships/company"
    )


def test_parallel_objects_use_their_own_budgets_with_few_429s(make_emu: Any) -> None:
    """Four threads (two share `person`) against a 30-per-second rolling budget, several windows long."""
    emu = make_emu(records=50)
    emu.config_update(rate_limit=30, rate_window=1.0)
    emu.stats.reset()
    api = ClarifyApi(connection_for(emu), retry=RetryPolicy(backoff_base=0.05, backoff_max=0.5))
    per_thread = 60
    jobs = ["person", "person", "company", "deal"]
    errors: list[BaseException] = []

    def run(slug: str) -> None:
        try:
            for _ in range(per_thread):
                api.list_page(slug, {"page[limit]": 1})
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(slug,)) for slug in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    emu.config_update(rate_limit=None, rate_window=60.0)
    assert not errors
    by_endpoint = emu.stats.endpoints()
    for slug in ("person", "company", "deal"):
        counts = by_endpoint[f"GET /objects/{slug}/resources"]
        ok = counts.get(200, 0)
        assert ok == per_thread * jobs.count(slug)
        assert counts.get(429, 0) <= 0.01 * ok + 1  # under 1% (one stray allowed per endpoint)


def test_secrets_never_logged(make_emu: Any, caplog: pytest.LogCaptureFixture) -> None:
    emu = make_emu(records=10)
    caplog.set_level("DEBUG")
    api_for(emu).schemas()
    assert emu.api_key not in caplog.text


class _ManualClock:
    """Seconds that pass only when someone sleeps: the client and the emulator's rate limiter share it, so a
    paced run takes the same time however loaded the machine is."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def test_pacer_uses_the_whole_budget_of_a_long_running_endpoint(make_emu: Any) -> None:
    """One endpoint, sequential pages, many windows of a 10-per-second rolling budget whose Reset the server
    rounds up to whole seconds (here: a whole window). The client knows when its own slots free, so 61 requests
    take exactly six windows (ten per window, the 61st at the start of the seventh), none answered 429."""
    emu = make_emu(records=50)
    limit, window = 10, 1.0
    clock = _ManualClock()
    emu.emulator.limiter.clock = clock.now
    emu.config_update(rate_limit=limit, rate_window=window)
    conn = connection_for(emu)
    http = HttpClient(conn.base_url, auth=conn.auth(), clock=clock.now, sleep=clock.sleep)
    try:
        for _ in range(limit * 6 + 1):
            http.request("GET", f"{conn.workspace_url}/objects/person/resources", params={"page[limit]": 1})
    finally:
        emu.config_update(rate_limit=None, rate_window=60.0)
        http.close()
    assert (http.stats.requests, http.stats.retries) == (limit * 6 + 1, 0)  # a 429 would have been retried
    assert clock.t == pytest.approx(6 * window)


def test_responses_are_freed_without_the_cyclic_collector(make_emu: Any) -> None:
    """Syncs run the cyclic collector rarely (pipelines/gc_tuning.py): a response and its body must be freed
    by reference counting alone, or a 1,000,000-record sync holds every page it fetched."""
    emu = make_emu(records=50)
    api = api_for(emu)
    gc.disable()
    try:
        response = api.http.request("GET", api.url("schemas"))
        assert response.content
        ref = weakref.ref(response)
        del response
        assert ref() is None
    finally:
        gc.enable()
