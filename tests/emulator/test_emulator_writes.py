"""Create, update, delete, bulk, upsert, validation errors with pointers, relationships."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator import RunningEmulator
from tests.emulator.emulator_helpers import error

PERSON = {
    "name": {"first_name": "Zoë", "last_name": "Ødegård", "full_name": "Zoë Ødegård"},
    "email_addresses": {"items": ["zoe@example.no"]},
    "tier": "Gold",
    "lead_score": 12.5,
}


def _post(api: httpx.Client, obj: str, attributes: Any, **extra: Any) -> httpx.Response:
    return api.post(f"objects/{obj}/records", json={"data": {"type": obj, "attributes": attributes}, **extra})


def test_create_read_update_delete(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.clock.freeze("2026-03-01T10:00:00Z")
    r = _post(api, "person", PERSON)
    assert r.status_code == 201, r.text
    rec = r.json()["data"]
    attrs = rec["attributes"]
    assert rec["type"] == "person" and rec["id"].startswith("per_")
    assert attrs["_created_at"] == attrs["_updated_at"] == "2026-03-01T10:00:00.000Z"
    assert attrs["_created_by"].startswith("api-key|") and attrs["title"] is None
    assert api.get(f"objects/person/records/{rec['id']}").json()["data"] == rec
    assert fresh.store.records("person")[[r["id"] for r in fresh.store.records("person")].index(rec["id"])] == rec

    fresh.clock.advance(2.5)
    r = api.patch(
        f"objects/person/records/{rec['id']}", json={"data": {"type": "person", "attributes": {"title": "CEO"}}}
    )
    after = r.json()["data"]["attributes"]
    assert r.status_code == 200 and after["title"] == "CEO" and after["tier"] == "Gold"
    assert after["_updated_at"] == "2026-03-01T10:00:02.500Z" and after["_created_at"] == attrs["_created_at"]

    assert api.delete(f"objects/person/records/{rec['id']}").status_code == 204
    error(api.get(f"objects/person/records/{rec['id']}"), 404)
    error(api.delete(f"objects/person/records/{rec['id']}"), 404)


def test_resources_alias_creates(api: httpx.Client) -> None:
    r = api.post("objects/company/resources", json={"data": {"type": "company", "attributes": {"name": "Ørsted"}}})
    assert r.status_code == 201 and r.json()["data"]["attributes"]["name"] == "Ørsted"


@pytest.mark.parametrize(
    ("attributes", "status", "pointer"),
    [
        ({"email_addresses": ["a@b.c"]}, 422, "/data/attributes/email_addresses"),
        ({"email_addresses": {"items": ["not-an-email"]}}, 422, "/data/attributes/email_addresses"),
        ({"tier": "gold"}, 422, "/data/attributes/tier"),
        ({"tags": ["VIP"]}, 422, "/data/attributes/tags"),
        ({"tags": "vip"}, 422, "/data/attributes/tags"),
        ({"birthday": "1990-02-30"}, 422, "/data/attributes/birthday"),
        ({"birthday": "1990-2-3"}, 422, "/data/attributes/birthday"),
        ({"lead_score": "12"}, 422, "/data/attributes/lead_score"),
        ({"lead_score": True}, 422, "/data/attributes/lead_score"),
        ({"lead_score": 1e12}, 400, "/data/attributes/lead_score"),
        ({"lead_score": 1.23456}, 400, "/data/attributes/lead_score"),
        ({"is_vip": "yes"}, 422, "/data/attributes/is_vip"),
        ({"title": 5}, 422, "/data/attributes/title"),
        ({"name": ["Ada"]}, 422, "/data/attributes/name"),
        ({"location": {"planet": "Mars"}}, 422, "/data/attributes/location"),
        ({"company_id": "com_missing"}, 422, "/data/attributes/company_id"),
        ({"favourite_colour": "blue"}, 422, "/data/attributes/favourite_colour"),
        ({"_updated_at": "2026-01-01T00:00:00Z"}, 422, "/data/attributes/_updated_at"),
        ({"_created_by": "me"}, 422, "/data/attributes/_created_by"),
    ],
)
def test_validation_errors_point_at_the_field(
    api: httpx.Client, attributes: dict[str, Any], status: int, pointer: str
) -> None:
    assert error(_post(api, "person", attributes), status)["source"] == {"pointer": pointer}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"data": {"type": "person", "id": "per_mine", "attributes": {}}}, "/data/id"),
        ({"data": {"type": "company", "attributes": {}}}, "/data/type"),
        ({"data": {"type": "person"}}, "/data/attributes"),
        ({"data": ["x"]}, "/data"),
        ({"data": {"type": "person", "attributes": ["x"]}}, "/data/attributes"),
    ],
)
def test_envelope_errors(api: httpx.Client, body: dict[str, Any], pointer: str) -> None:
    assert error(api.post("objects/person/records", json=body), 422)["source"]["pointer"] == pointer


def test_rich_text_and_large_but_valid_number(api: httpx.Client) -> None:
    r = _post(api, "task", {"title": "t", "description": {"text": [{"type": "paragraph", "text": "hi"}]}})
    assert r.status_code == 201
    r = _post(api, "c_sales_order", {"order_number": "SO-X", "amount": 999999999999.9999})
    assert r.status_code == 201, r.text


def test_malformed_json_is_400(api: httpx.Client) -> None:
    error(api.post("objects/person/records", content=b"{nope", headers={"content-type": "application/json"}), 400)


def test_duplicate_unique_value_needs_match_on(fresh: RunningEmulator, api: httpx.Client) -> None:
    first = _post(api, "person", PERSON).json()["data"]
    dup = {"email_addresses": {"items": ["other@x.io", "ZOE@example.no"]}, "title": "CTO"}
    assert error(_post(api, "person", dup), 400)["source"]["pointer"] == "/data/attributes/email_addresses"
    r = _post(api, "person", dup, match_on="email_addresses")
    assert r.status_code == 201
    merged = r.json()["data"]
    assert merged["id"] == first["id"] and merged["attributes"]["title"] == "CTO"
    assert merged["attributes"]["tier"] == "Gold"
    new = _post(api, "person", {"email_addresses": {"items": ["new@x.io"]}}, match_on="email_addresses")
    assert new.json()["data"]["id"] != first["id"]
    error(_post(api, "person", {"title": "x"}, match_on="email_addresses"), 422)
    error(_post(api, "person", PERSON, match_on="nope"), 400)


def test_match_on_a_scalar_unique_field(api: httpx.Client) -> None:
    a = _post(api, "c_sales_order", {"order_number": "SO-1", "status": "Draft"}).json()["data"]
    b = _post(api, "c_sales_order", {"order_number": "SO-1", "status": "Shipped"}, match_on="order_number")
    assert b.json()["data"]["id"] == a["id"] and b.json()["data"]["attributes"]["status"] == "Shipped"
    error(_post(api, "deal", {"name": "Big one"}) and _post(api, "deal", {"name": "Big one"}), 400)


def test_bulk_create_is_atomic(fresh: RunningEmulator, api: httpx.Client) -> None:
    before = len(fresh.store.records("company"))
    good = [
        {"type": "company", "attributes": {"name": f"Co {i}", "domains": {"items": [f"co{i}.io"]}}} for i in range(5)
    ]
    bad = [
        *good[:3],
        {"type": "company", "attributes": {"industry": "Space"}},
        good[3],
        {"type": "company", "attributes": {"domains": ["x.io"]}},
    ]
    r = api.post("objects/company/records/bulk", json={"data": bad})
    errors = r.json()["errors"]
    assert r.status_code == 422
    assert [e["source"]["pointer"] for e in errors] == ["/data/3/attributes/industry", "/data/5/attributes/domains"]
    assert len(fresh.store.records("company")) == before
    # A duplicate inside the batch also rejects everything written before it.
    dup = [*good, {"type": "company", "attributes": {"domains": {"items": ["co0.io"]}}}]
    assert (
        error(api.post("objects/company/records/bulk", json={"data": dup}), 400)["source"]["pointer"]
        == "/data/5/attributes/domains"
    )
    assert len(fresh.store.records("company")) == before
    r = api.post("objects/company/records/bulk", json={"data": good})
    assert r.status_code == 200 and [d["attributes"]["name"] for d in r.json()["data"]] == [f"Co {i}" for i in range(5)]
    assert len(fresh.store.records("company")) == before + 5


def test_bulk_upsert_with_match_on(fresh: RunningEmulator, api: httpx.Client) -> None:
    rows = [{"attributes": {"name": f"Co {i}", "domains": {"items": [f"co{i}.io"]}}} for i in range(3)]
    created = api.post("objects/company/records/bulk", json={"data": rows}).json()["data"]
    rows[1]["attributes"]["name"] = "Renamed"
    rows.append({"attributes": {"name": "Co 3", "domains": {"items": ["co3.io"]}}})
    error(api.post("objects/company/records/bulk", json={"data": rows}), 400)
    again = api.post("objects/company/records/bulk", json={"data": rows, "match_on": "domains"}).json()["data"]
    assert [a["id"] for a in again[:3]] == [c["id"] for c in created]
    assert again[1]["attributes"]["name"] == "Renamed" and again[3]["id"] not in {c["id"] for c in created}


def test_bulk_size_limit(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.config_update(bulk_max=3)
    rows = [{"attributes": {"title": f"t{i}"}} for i in range(4)]
    assert "limit of 3" in error(api.post("objects/task/records/bulk", json={"data": rows}), 413)["detail"]
    assert api.post("objects/task/records/bulk", json={"data": rows[:3]}).status_code == 200


def test_bulk_update_and_delete(fresh: RunningEmulator, api: httpx.Client) -> None:
    tasks = fresh.store.records("task")[:3]
    body = {"data": [{"type": "task", "id": t["id"], "attributes": {"status": "Done"}} for t in tasks]}
    r = api.patch("objects/task/records", json=body)
    assert r.status_code == 200 and all(d["attributes"]["status"] == "Done" for d in r.json()["data"])
    assert [d["attributes"]["title"] for d in r.json()["data"]] == [t["attributes"]["title"] for t in tasks]
    body["data"][1] = {"type": "task", "id": "tas_missing", "attributes": {"status": "Todo"}}
    body["data"][0]["attributes"]["status"] = "Todo"
    error(api.patch("objects/task/records", json=body), 404)
    assert fresh.store.records("task")[:1][0]["attributes"]["status"] == "Done"
    error(api.patch("objects/task/records", json={"data": [{"attributes": {}}]}), 422)

    ids = [t["id"] for t in tasks]
    error(api.request("DELETE", "objects/task/records", json={"items": [*ids, "tas_missing"]}), 404)
    assert len([t for t in fresh.store.records("task") if t["id"] in ids]) == 3
    assert api.request("DELETE", "objects/task/records", json={"items": ids}).status_code == 204
    assert not [t for t in fresh.store.records("task") if t["id"] in ids]


def test_single_patch_on_custom_object_is_500_like_live(fresh: RunningEmulator, api: httpx.Client) -> None:
    order = fresh.store.records("c_sales_order")[0]
    url = f"objects/c_sales_order/records/{order['id']}"
    body = {"data": {"type": "c_sales_order", "attributes": {"status": "Shipped"}}}
    error(api.patch(url, json=body), 500)
    bulk = {"data": [{"type": "c_sales_order", "id": order["id"], "attributes": {"status": "Shipped"}}]}
    assert api.patch("objects/c_sales_order/records", json=bulk).status_code == 200
    fresh.config_update(custom_single_patch_500=False)
    assert api.patch(url, json=body).status_code == 200


def test_patch_rejects_mismatched_id(fresh: RunningEmulator, api: httpx.Client) -> None:
    rid = fresh.store.records("deal")[0]["id"]
    r = api.patch(f"objects/deal/records/{rid}", json={"data": {"id": "dea_other", "attributes": {}}})
    assert error(r, 422)["source"]["pointer"] == "/data/id"


def _rel(
    api: httpx.Client, method: str, obj: str, rid: str, name: str, ids: list[str] | None = None, target: str = "person"
) -> httpx.Response:
    body = None if ids is None else {"data": [{"type": target, "id": i} for i in ids]}
    return api.request(method, f"objects/{obj}/records/{rid}/relationships/{name}", json=body)


def test_relationship_replace_append_delete(fresh: RunningEmulator, api: httpx.Client) -> None:
    people = [p["id"] for p in fresh.store.records("person")[:4]]
    companies = [c["id"] for c in fresh.store.records("company")[:3]]
    person = people[0]
    # many-to-many: PATCH replaces the whole set; the inverse side sees it
    r = _rel(api, "PATCH", "person", person, "companies", companies[:2], "company")
    assert [d["id"] for d in r.json()["data"]] == sorted(companies[:2])
    r = _rel(api, "PATCH", "person", person, "companies", [companies[2]], "company")
    assert [d["id"] for d in r.json()["data"]] == [companies[2]]
    assert (companies[2], person) in fresh.store.links("company", "people")
    # append cardinality: PATCH adds
    meeting = fresh.store.records("meeting")[0]["id"]
    start = {t for _, t in fresh.store.links("meeting", "people") if _ == meeting}
    _rel(api, "PATCH", "meeting", meeting, "people", people[:2])
    _rel(api, "PATCH", "meeting", meeting, "people", people[2:3])
    got = [d["id"] for d in _rel(api, "GET", "meeting", meeting, "people").json()["data"]]
    assert got == sorted(start | set(people[:3]))
    # DELETE removes only the listed ones
    assert _rel(api, "DELETE", "meeting", meeting, "people", people[:2]).status_code == 204
    got = [d["id"] for d in _rel(api, "GET", "meeting", meeting, "people").json()["data"]]
    assert got == sorted((start | {people[2]}) - set(people[:2]))
    record = api.get(f"objects/meeting/records/{meeting}").json()["data"]
    assert [d["id"] for d in record["relationships"]["people"]["data"]] == got


@pytest.mark.parametrize(
    ("name", "ids", "status", "pointer"),
    [
        ("nope", ["x"], 404, None),
        ("people", ["per_missing"], 422, "/data/0/id"),
    ],
)
def test_relationship_errors(
    fresh: RunningEmulator, api: httpx.Client, name: str, ids: list[str], status: int, pointer: str | None
) -> None:
    deal = fresh.store.records("deal")[0]["id"]
    err = error(_rel(api, "PATCH", "deal", deal, name, ids), status)
    assert err.get("source", {}).get("pointer") == pointer
    assert (
        error(_rel(api, "PATCH", "deal", deal, "people", ["x"], target="company"), 422)["source"]["pointer"]
        == "/data/0/type"
    )


@pytest.mark.parametrize("fault", ["commit_then_drop", "commit_then_5xx", "hold_answer"])
def test_bulk_create_commits_before_the_answer_fails(fresh: RunningEmulator, api: httpx.Client, fault: str) -> None:
    """The write is committed whatever becomes of its answer: the client cannot tell whether it happened."""
    before = len(fresh.store.records("task"))
    fresh.faults.set(**{fault: 1, "hold_seconds": 1.5, "only_paths": ["/records/bulk"]})
    rows = [{"attributes": {"title": f"t{i}"}} for i in range(3)]
    if fault == "commit_then_5xx":
        assert api.post("objects/task/records/bulk", json={"data": rows}).status_code == 500
    else:
        with pytest.raises(httpx.RemoteProtocolError if fault == "commit_then_drop" else httpx.ReadTimeout):
            api.post("objects/task/records/bulk", json={"data": rows}, timeout=0.5)
    assert len(fresh.store.records("task")) == before + 3
    assert api.post("objects/task/records/bulk", json={"data": rows[:1]}).status_code == 200  # once only
    assert len(fresh.store.records("task")) == before + 4
