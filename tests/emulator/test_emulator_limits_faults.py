"""Rate limiting, every injected fault, and the controllable clock."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from emulator import RunningEmulator
from tests.emulator.emulator_helpers import all_ids, error


def test_rate_limit_headers_and_429(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.config_update(rate_limit=3)
    remaining = []
    for _ in range(3):
        r = api.get("objects/person/resources", params={"page[limit]": "1"})
        assert r.status_code == 200 and r.headers["X-RateLimit-Limit"] == "3"
        assert 1 <= int(r.headers["X-RateLimit-Reset"]) <= 60
        remaining.append(r.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    r = api.get("objects/person/resources")
    error(r, 429)
    assert int(r.headers["Retry-After"]) >= 1 and r.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in r.headers
    # Each endpoint (method + concrete path) has its own budget; a bulk request counts once.
    assert api.get("schemas").headers["X-RateLimit-Remaining"] == "2"
    rows = [{"attributes": {"title": f"t{i}"}} for i in range(50)]
    assert api.post("objects/task/records/bulk", json={"data": rows}).headers["X-RateLimit-Remaining"] == "2"
    fresh.config_update(rate_limit=None)
    r = api.get("objects/person/resources")
    assert r.status_code == 200 and "X-RateLimit-Limit" not in r.headers


def test_rate_limit_is_per_object(fresh: RunningEmulator, api: httpx.Client) -> None:
    """`GET /objects/person/resources` and `GET /objects/company/resources` are separate endpoints."""
    fresh.config_update(rate_limit=2)
    for _ in range(2):
        assert api.get("objects/person/resources", params={"page[limit]": "1"}).status_code == 200
    error(api.get("objects/person/resources"), 429)
    r = api.get("objects/company/resources", params={"page[limit]": "1"})
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "1"
    assert api.get("objects/deal/resources", params={"page[limit]": "1"}).headers["X-RateLimit-Remaining"] == "1"
    # Another method on the same path is another endpoint; record ids share one budget per object.
    assert api.get("objects/person/records/per_missing_1").headers["X-RateLimit-Remaining"] == "1"
    error(api.get("objects/person/records/per_missing_2"), 404)
    error(api.get("objects/person/records/per_missing_3"), 429)
    assert api.get("objects/company/records/com_missing").headers["X-RateLimit-Remaining"] == "1"
    fresh.config_update(rate_limit=None)


def test_rate_limit_window_rolls(fresh: RunningEmulator, api: httpx.Client) -> None:
    """A slot frees when the oldest request leaves the window; Reset counts down to that."""
    fresh.config_update(rate_limit=2, rate_window=0.5)
    first = api.get("objects/person/resources", params={"page[limit]": "1"})
    assert first.headers["X-RateLimit-Reset"] == "1"  # whole seconds, rounded up
    api.get("objects/person/resources", params={"page[limit]": "1"})
    r = api.get("objects/person/resources", params={"page[limit]": "1"})
    error(r, 429)
    assert r.headers["Retry-After"] == "1"
    time.sleep(0.6)
    r = api.get("objects/person/resources", params={"page[limit]": "1"})
    assert r.status_code == 200
    fresh.config_update(rate_limit=None, rate_window=60.0)


def test_workspace_wide_rate_limit_with_bare_429s(fresh: RunningEmulator, api: httpx.Client) -> None:
    """One budget for every endpoint (an independent server's "100 API requests a minute"), and no rate-limit
    header on any answer: the 429 says nothing but its status."""
    fresh.config_update(rate_limit=2, rate_limit_scope="workspace", rate_limit_headers=False)
    ok = api.get("schemas")
    assert ok.status_code == 200 and not any(name.lower().startswith("x-ratelimit") for name in ok.headers)
    assert api.get("objects/person/resources", params={"page[limit]": "1"}).status_code == 200
    refused = api.get("objects/company/resources", params={"page[limit]": "1"})  # another endpoint, same budget
    assert "workspace" in error(refused, 429)["detail"]
    assert not any(name.lower() in ("retry-after", "x-ratelimit-limit") for name in refused.headers)
    fresh.config_update(rate_limit_scope="endpoint", rate_limit_headers=True)
    assert api.get("objects/company/resources", params={"page[limit]": "1"}).headers["X-RateLimit-Remaining"] == "1"


def test_endpoint_key() -> None:
    from emulator.ratelimit import endpoint_key

    assert endpoint_key("get", "/objects/{object}/resources", {"workspace": "w", "object": "deal"}) == (
        "GET /objects/deal/resources"
    )
    assert endpoint_key("PATCH", "/objects/{object}/records/{id}", {"object": "person", "id": "p1"}) == (
        "PATCH /objects/person/records/{id}"
    )
    assert endpoint_key(
        "GET",
        "/objects/{object}/records/{id}/relationships/{name}",
        {"object": "person", "id": "p1", "name": "company"},
    ) == ("GET /objects/person/records/{id}/relationships/company")


def test_server_errors_by_rate_and_path(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.faults.set(error_rate=1.0, error_status=503, only_paths=["/resources"])
    error(api.get("objects/person/resources"), 503)
    assert api.get("schemas").status_code == 200
    assert httpx.get(f"{fresh.origin}/_emulator/health").status_code == 200
    fresh.faults.set(error_rate=0.5, error_status=502, only_paths=None, seed=1)
    statuses = {api.get("users").status_code for _ in range(40)}
    assert statuses == {200, 502}
    fresh.faults.clear()
    assert api.get("objects/person/resources").status_code == 200


@pytest.mark.parametrize("retry_after", [True, False])
def test_burst_429(fresh: RunningEmulator, api: httpx.Client, retry_after: bool) -> None:
    fresh.faults.set(burst_429=2, burst_retry_after=retry_after)
    for _ in range(2):
        r = api.get("users")
        error(r, 429)
        assert ("Retry-After" in r.headers) is retry_after
    assert api.get("users").status_code == 200


def test_conflict_409(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.faults.set(conflict_409=1)
    assert error(api.get("schemas"), 409)["detail"] == "schema is being modified by another request"
    assert api.get("schemas").status_code == 200


def test_latency_delays_answers(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.faults.set(latency_ms=60)
    start = time.monotonic()
    assert api.get("users").status_code == 200
    assert time.monotonic() - start >= 0.06


def test_drop_connection_loses_request_before_handling(fresh: RunningEmulator, api: httpx.Client) -> None:
    before = len(fresh.store.records("task"))
    fresh.faults.set(drop_connection=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("objects/task/records", json={"data": {"attributes": {"title": "lost"}}})
    assert len(fresh.store.records("task")) == before
    assert api.post("objects/task/records", json={"data": {"attributes": {"title": "kept"}}}).status_code == 201
    assert fresh.stats.snapshot() == {
        ("POST", "/objects/{object}/records", 0): 1,
        ("POST", "/objects/{object}/records", 201): 1,
    }


def test_truncated_body_after_the_write(fresh: RunningEmulator, api: httpx.Client) -> None:
    before = len(fresh.store.records("task"))
    fresh.faults.set(truncate_body=1, only_paths=["/objects/task"])
    assert api.get("users").status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("objects/task/records", json={"data": {"attributes": {"title": "written"}}})
    assert len(fresh.store.records("task")) == before + 1
    assert api.get("objects/task/resources").status_code == 200


def test_link_faults(fresh: RunningEmulator, api: httpx.Client) -> None:
    total = len(fresh.store.records("person"))
    last = {"page[limit]": "10", "page[offset]": str((total - 1) // 10 * 10)}
    assert api.get("objects/person/resources", params=last).json()["links"]["next"] is None
    fresh.faults.set(stray_next_on_last_page=True, next_on_empty_page=True, http_next_links=True)
    stray = api.get("objects/person/resources", params=last).json()["links"]["next"]
    assert stray is not None and stray.startswith("http://")
    empty = httpx.get(stray, headers=api.headers).json()
    assert empty["data"] == [] and empty["links"]["next"] is not None
    fresh.faults.clear()
    assert all_ids(api, "person") == sorted(r["id"] for r in fresh.store.records("person"))


def test_nest_error_shape(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.faults.set(nest_error_shape=True)
    r = api.get("objects/person/records/per_missing")
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": ["No person record with id 'per_missing'"], "error": "Not Found"}


def test_unknown_fault_is_refused(fresh: RunningEmulator) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        fresh.faults.set(explode=True)


def test_frozen_clock_makes_many_records_share_updated_at(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.clock.freeze("2026-05-05T05:05:05.5+00:00")
    rows = [{"attributes": {"title": f"t{i}"}} for i in range(60)]
    created = api.post("objects/task/records/bulk", json={"data": rows}).json()["data"]
    assert {c["attributes"]["_updated_at"] for c in created} == {"2026-05-05T05:05:05.500Z"}
    fresh.clock.advance(1)
    later = fresh.store.create("task", {"title": "later"})
    assert later["attributes"]["_updated_at"] == "2026-05-05T05:05:06.500Z"
    assert later["attributes"]["_created_by"] == "system"
    page = api.get(
        "objects/task/resources",
        params={
            "filter[_updated_at][Is on or after]": "2026-05-05T05:05:05.500Z",
            "sortOrder[column]": "_updated_at",
            "page[limit]": "50",
        },
    ).json()
    assert page["meta"]["total_records"] == 61
    assert [d["id"] for d in page["data"]] == sorted(c["id"] for c in created)[:50]
    fresh.clock.resume()
    assert fresh.store.create("task", {"title": "now"})["attributes"]["_updated_at"] > "2026-11"


def test_html_server_errors(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.faults.set(error_rate=1.0, error_status=502, html_errors=True)
    r = api.get("objects/person/resources")
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html") and "<html>" in r.text


def test_cursor_filter_faults(fresh: RunningEmulator, api: httpx.Client) -> None:
    """`odd_page` answers the next filtered listings as if unfiltered, once each; `ignore_cursor_filter` always."""
    stamps = sorted(r["attributes"]["_updated_at"] for r in fresh.store.records("person"))
    params = {"filter[_updated_at][Is on or after]": stamps[-1], "page[limit]": "500"}
    honoured = len(api.get("objects/person/resources", params=params).json()["data"])
    fresh.faults.set(odd_page=1)
    assert len(api.get("objects/person/resources", params=params).json()["data"]) == len(stamps)
    assert len(api.get("objects/person/resources", params=params).json()["data"]) == honoured < len(stamps)
    fresh.faults.set(ignore_cursor_filter=True)
    for _ in range(2):
        assert len(api.get("objects/person/resources", params=params).json()["data"]) == len(stamps)


def test_churn_between_pages(fresh: RunningEmulator, api: httpx.Client) -> None:
    before = {r["id"] for r in fresh.store.records("task")}
    fresh.faults.set(churn_every=2, churn_objects=["task"])
    api.get("objects/person/resources")
    api.get("objects/task/resources")
    assert {r["id"] for r in fresh.store.records("task")} == before  # the first task listing: no change yet
    api.get("objects/task/resources")
    after = {r["id"] for r in fresh.store.records("task")}
    assert len(after - before) == 1 and len(before - after) == 1


def test_kill_on_page(fresh: RunningEmulator, api: httpx.Client) -> None:
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        fresh.faults.set(kill_on_page=2, kill_pid=victim.pid)
        api.get("objects/person/resources")
        api.get("schemas")  # not a listing page
        assert victim.poll() is None
        assert api.get("objects/task/resources").status_code == 200  # its answer is built, then the kill
        assert victim.wait(timeout=10) == -9
    finally:
        if victim.poll() is None:
            victim.kill()
