"""Each answer-variant switch changes exactly what it says (emulator/variants.py), live through config_update."""

from __future__ import annotations

import uuid

import httpx

from emulator import RunningEmulator
from emulator.variants import IGNORED_LIMIT_PAGE, uuid_for


def _page(api: httpx.Client, path: str = "objects/person/resources", **params: str) -> dict:  # type: ignore[type-arg]
    r = api.get(path, params={"page[limit]": "10", **params})
    assert r.status_code == 200, r.text
    return r.json()


def test_links_meta_and_page_limit_variants(fresh: RunningEmulator, api: httpx.Client) -> None:
    assert set(_page(api)["links"]) == {"prev", "next"} and _page(api)["links"]["next"]
    fresh.config_update(links="null")
    assert _page(api)["links"] == {"prev": None, "next": None}
    fresh.config_update(links="absent", meta=False)
    body = _page(api)
    assert "links" not in body and "meta" not in body and len(body["data"]) == 10
    fresh.config_update(links="full", meta=True, ignore_page_limit=True)
    body = _page(api)
    people = len(fresh.store.records("person"))
    assert len(body["data"]) == min(IGNORED_LIMIT_PAGE, people) > 10 and body["meta"]["limit"] == IGNORED_LIMIT_PAGE


def test_bare_objects_have_no_system_fields_and_ignore_filters_on_them(
    fresh: RunningEmulator, api: httpx.Client
) -> None:
    fresh.config_update(bare_objects=["user"])
    users = _page(api, "users", **{"filter[_updated_at][Is on or after]": "2999-01-01T00:00:00.000Z"})["data"]
    assert len(users) == len(fresh.store.records("user"))
    assert all(not any(k.startswith("_") for k in u["attributes"]) for u in users)
    people = _page(api)["data"]
    assert "_updated_at" in people[0]["attributes"]  # other objects keep theirs
    schemas = {e["title"]: e for e in api.get("schemas").json() if "title" in e}
    assert "_updated_at" not in schemas["user"]["attributes"]["properties"]
    assert "_updated_at" in schemas["person"]["attributes"]["properties"]


def test_uuid_ids_and_unknown_field_types(fresh: RunningEmulator, api: httpx.Client) -> None:
    stored = fresh.store.records("person")[0]["id"]
    fresh.config_update(uuid_ids=True, unknown_field_types=True)
    ids = [r["id"] for r in _page(api, **{"sortOrder[column]": "id"})["data"]]
    assert uuid_for(stored) in ids and all(uuid.UUID(i) for i in ids)
    person = next(e for e in api.get("schemas").json() if e.get("title") == "person")
    assert person["attributes"]["properties"]["lead_score"]["type"] == "formula"
