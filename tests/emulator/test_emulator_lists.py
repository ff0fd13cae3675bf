"""Lists in the emulator: metadata, static membership, dynamic lists evaluated by the listing's filter engine."""

from __future__ import annotations

import httpx

from emulator import RunningEmulator
from tests.emulator.emulator_helpers import error


def _member_ids(api: httpx.Client, obj: str, list_id: str, **params: str) -> list[str]:
    r = api.get(f"objects/{obj}/lists/{list_id}/resources", params={"page[limit]": "500", **params})
    assert r.status_code == 200, r.text
    return [rec["id"] for rec in r.json()["data"]]


def test_static_list_members_follow_adds_removes_and_deletions(fresh: RunningEmulator, api: httpx.Client) -> None:
    people = [p["id"] for p in fresh.store.records("person")]
    lst = fresh.lists.create("person", "VIPs", members=people[:3])
    assert sorted(_member_ids(api, "person", lst.id)) == sorted(people[:3])

    fresh.lists.change(lst.id, add=[people[5]], remove=[people[0]])
    fresh.store.delete("person", people[1])  # a deleted record leaves every list
    assert sorted(_member_ids(api, "person", lst.id)) == sorted([people[2], people[5]])
    # Members are read like `resources`: paged, with meta.
    r = api.get(f"objects/person/lists/{lst.id}/resources", params={"page[limit]": "1", "page[offset]": "1"})
    assert len(r.json()["data"]) == 1 and r.json()["meta"]["total_records"] == 2


def test_dynamic_list_is_its_filter_evaluated_on_every_read(fresh: RunningEmulator, api: httpx.Client) -> None:
    deals = fresh.store.records("deal")
    stage = deals[0]["attributes"]["stage"]
    r = fresh.lists.create("deal", "One stage", type="dynamic", filters={"filter[stage]": stage})
    won = {d["id"] for d in deals if d["attributes"]["stage"] == stage}
    assert won and set(_member_ids(api, "deal", r.id)) == won
    other = next(d for d in deals if d["attributes"]["stage"] != stage)
    fresh.store.update("deal", other["id"], {"stage": stage})
    assert set(_member_ids(api, "deal", r.id)) == won | {other["id"]}


def test_list_metadata_endpoints_and_control_routes(fresh: RunningEmulator, api: httpx.Client) -> None:
    control = httpx.Client(base_url=fresh.origin)
    made = control.post("/_emulator/lists", json={"object": "company", "title": "Targets", "members": []}).json()
    company = fresh.store.records("company")[0]["id"]
    control.post("/_emulator/lists/members", json={"list": made["id"], "add": [company]})
    dyn = control.post(
        "/_emulator/lists",
        json={"object": "deal", "title": "Big", "type": "dynamic", "filters": {"filter[amount]": ">50000"}},
    ).json()
    assert (
        control.post(
            "/_emulator/lists",
            json={"object": "deal", "title": "x", "type": "dynamic", "filters": {"filter[amount][Nope]": "1"}},
        ).status_code
        == 400
    )
    body = api.get("lists").json()
    assert [d["id"] for d in body["data"]] == [made["id"], dyn["id"]] and body["meta"]["total_records"] == 2
    attrs = body["data"][1]["attributes"]
    assert attrs["type"] == "dynamic" and attrs["object"] == "deal" and attrs["state"] == "published"
    assert attrs["query"] and attrs["_created_at"] and attrs["_updated_at"]
    assert [d["id"] for d in api.get("objects/company/lists").json()["data"]] == [made["id"]]
    assert api.get(f"objects/company/lists/{made['id']}").json()["data"]["attributes"]["title"] == "Targets"
    assert _member_ids(api, "company", made["id"]) == [company]
    error(api.get(f"objects/person/lists/{made['id']}/resources"), 404)
    error(api.get("objects/company/lists/lst_nope"), 404)
