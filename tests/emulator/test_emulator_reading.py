"""Auth, routing, schemas, users, sorting, paging (meta and links exactly) and include."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from emulator import RunningEmulator
from tests.emulator.emulator_helpers import all_ids, error, full_name


@pytest.mark.parametrize(
    ("header", "detail_part"),
    [
        (None, "missing"),
        ("api-key wrong", "invalid"),
        ("Bearer test-key", "api-key"),
        ("Bearer some-token", "invalid"),
        ("Basic dGVzdC1rZXk=", "invalid"),
        ("test-key", "invalid"),
    ],
)
def test_auth_failures(shared: RunningEmulator, header: str | None, detail_part: str) -> None:
    headers = {"Authorization": header} if header else {}
    r = httpx.get(f"{shared.base_url}/workspaces/acme/schemas", headers=headers)
    assert detail_part in error(r, 401)["detail"]


def test_oauth_token_is_accepted_only_when_configured(fresh: RunningEmulator) -> None:
    url = f"{fresh.base_url}/workspaces/acme/users"
    error(httpx.get(url, headers={"Authorization": "Bearer tok-1"}), 401)
    fresh.config_update(access_tokens=frozenset({"tok-1"}))
    assert httpx.get(url, headers={"Authorization": "Bearer tok-1"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/v1/workspaces/nope/schemas", 404, "Workspace not found"),
        ("/workspaces/acme/schemas", 404, "no route"),
        ("/v1/workspaces/acme/objects/spaceship/resources", 404, "spaceship"),
        ("/v1/workspaces/acme/objects/person/records", 405, "GET"),
        ("/v1/workspaces/acme/objects/person/records/per_missing", 404, "per_missing"),
    ],
)
def test_not_found_and_not_allowed(shared: RunningEmulator, path: str, status: int, detail: str) -> None:
    r = httpx.get(shared.base_url.removesuffix("/v1") + path, headers={"Authorization": "api-key test-key"})
    assert detail in error(r, status)["detail"]


def test_schemas_entities_shape(client: httpx.Client) -> None:
    body = client.get("schemas").json()
    assert isinstance(body, list)
    by_id = {s["$id"]: s for s in body}
    assert {"core/name", "core/location"} <= set(by_id)
    person = by_id["entities/person"]
    props = person["attributes"]["properties"]
    assert props["email_addresses"] == {"type": "collection", "items": {"type": "email"}, "unique": True}
    assert props["tier"] == {"type": "select", "enum": ["Bronze", "Silver", "Gold"]}
    assert props["company_id"] == {"type": "record-id", "target": "company"}
    assert props["_updated_at"] == {"type": "datetime", "readOnly": True}
    assert person["relationships"]["companies"] == {"target": "company", "cardinality": "many"}
    assert by_id["entities/c_sales_order"]["attributes"]["properties"]["order_number"]["unique"] is True


def test_schemas_docs_shape(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.config_update(schemas_shape="docs")
    data = api.get("schemas").json()["data"]
    by_id = {s["id"]: s for s in data}
    assert by_id["core/person"]["type"] == "schema"
    assert by_id["core/person"]["attributes"]["slug"] == "person"
    assert by_id["entities/sales_order"]["attributes"]["slug"] == "c_sales_order"
    assert by_id["entities/sales_order"]["attributes"]["properties"]["amount"] == {"type": "currency"}


def test_users_three_ways(shared: RunningEmulator, client: httpx.Client) -> None:
    users = client.get("users").json()["data"]
    assert len(users) >= 5 and all(u["type"] == "user" for u in users)
    assert [u["id"] for u in users] == all_ids(client, "user")
    assert client.get(f"users/{users[0]['id']}").json()["data"] == users[0]


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_users_are_read_only(client: httpx.Client, method: str) -> None:
    path = "objects/user/records" if method == "POST" else "objects/user/records/usr_x"
    error(client.request(method, path, json={"data": {"attributes": {"name": "x"}}}), 405)


def _sort_key(column: str) -> Callable[[dict[str, Any]], Any]:
    def key(rec: dict[str, Any]) -> Any:
        a = rec["attributes"]
        value = full_name(a) if column == "name" else a[column]
        return (value is not None, value if value is not None else 0, rec["id"])  # SQLite: NULLs first

    return key


@pytest.mark.parametrize("column", ["lead_score", "tier", "_updated_at", "name", "birthday", "is_vip"])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_sort_is_total_with_id_tiebreak(
    shared: RunningEmulator, client: httpx.Client, column: str, direction: str
) -> None:
    records = sorted(shared.store.records("person"), key=_sort_key(column), reverse=direction == "DESC")
    got = all_ids(client, "person", {"sortOrder[column]": column, "sortOrder[dir]": direction})
    assert got == [r["id"] for r in records]


def test_default_order_and_direction(client: httpx.Client, shared: RunningEmulator) -> None:
    assert all_ids(client, "person") == sorted(r["id"] for r in shared.store.records("person"))
    assert all_ids(client, "person", {"sortOrder[column]": "lead_score"}) == all_ids(
        client, "person", {"sortOrder[column]": "lead_score", "sortOrder[dir]": "ASC"}
    )


@pytest.mark.parametrize(
    "params",
    [
        {"sortOrder[column]": "nope"},
        {"sortOrder[column]": "tags"},
        {"sortOrder[column]": "title", "sortOrder[dir]": "UP"},
        {"page[limit]": "501"},
        {"page[limit]": "0"},
        {"page[limit]": "-5"},
        {"page[limit]": "ten"},
        {"page[limit]": "2.5"},
        {"page[offset]": "-1"},
        {"page[offset]": "x"},
        {"include": "spaceships"},
    ],
)
def test_bad_query_is_400(client: httpx.Client, params: dict[str, str]) -> None:
    error(client.get("objects/person/resources", params=params), 400)


def test_paging_meta_and_links_exact(shared: RunningEmulator, client: httpx.Client) -> None:
    total = len(shared.store.records("person"))
    limit = 7
    url = f"{shared.base_url}/workspaces/acme/objects/person/resources"
    params = {"filter[lead_score]": "!null", "page[limit]": str(limit)}
    total = sum(1 for r in shared.store.records("person") if r["attributes"]["lead_score"] is not None)
    seen: list[str] = []
    offset = 0
    while offset < total:
        body = client.get("objects/person/resources", params={**params, "page[offset]": str(offset)}).json()
        assert body["meta"] == {
            "total_records": total,
            "total_pages": math.ceil(total / limit),
            "offset": offset,
            "limit": limit,
        }
        links = body["links"]
        expect_prev = httpx.URL(url, params={**params, "page[offset]": str(max(0, offset - limit))})
        assert links["prev"] == (str(expect_prev) if offset else None)
        last = offset + limit >= total
        expect_next = httpx.URL(url, params={**params, "page[offset]": str(offset + limit)})
        assert links["next"] == (None if last else str(expect_next))
        assert len(body["data"]) == (total - offset if last else limit)
        seen.extend(r["id"] for r in body["data"])
        offset += limit
    assert len(seen) == len(set(seen)) == total


def test_offset_beyond_end_and_default_limit(client: httpx.Client, shared: RunningEmulator) -> None:
    body = client.get("objects/person/resources", params={"page[offset]": "100000", "page[limit]": "10"}).json()
    assert body["data"] == [] and body["links"]["next"] is None
    assert "page%5Boffset%5D=99990" in body["links"]["prev"]
    assert client.get("objects/person/resources").json()["meta"]["limit"] == 500
    empty = client.get("objects/person/resources", params={"filter[title]": "Astronaut"}).json()
    assert empty["data"] == [] and empty["meta"]["total_records"] == 0 and empty["meta"]["total_pages"] == 0
    assert empty["links"] == {"prev": None, "next": None}


def test_page_cap_is_configurable(fresh: RunningEmulator, api: httpx.Client) -> None:
    fresh.config_update(page_cap=10)
    assert api.get("objects/person/resources").json()["meta"]["limit"] == 10
    assert error(api.get("objects/person/resources", params={"page[limit]": "11"}), 400)["detail"] == (
        "page[limit] must be between 1 and 10, not 11"
    )
    assert error(api.get("lists", params={"page[limit]": "11"}), 400)  # every listing, lists too
    fresh.faults.set(nest_error_shape=True)  # as an independent server answers, in class-validator's words
    nest = api.get("objects/person/resources", params={"page[limit]": "11"}).json()
    assert nest == {"statusCode": 400, "message": ["page.limit must not be greater than 10"], "error": "Bad Request"}
    fresh.faults.clear()
    fresh.config_update(over_page_cap="refuse-unnamed")
    assert error(api.get("objects/person/resources", params={"page[limit]": "11"}), 400)["detail"] == (
        "page[limit] is too large"
    )
    fresh.config_update(over_page_cap="clamp")
    body = api.get("objects/person/resources", params={"page[limit]": "11"}).json()
    assert len(body["data"]) == body["meta"]["limit"] == 10


def test_record_shape_and_include(shared: RunningEmulator, client: httpx.Client) -> None:
    body = client.get("objects/person/resources", params={"include": "companies", "page[limit]": "50"}).json()
    record = body["data"][0]
    assert set(record) == {"type", "id", "attributes", "relationships"}
    assert {"_created_at", "_updated_at", "_created_by", "_updated_by"} <= set(record["attributes"])
    assert record["attributes"]["_updated_at"].endswith("Z") and len(record["attributes"]["_updated_at"]) == 24
    wanted = {ref["id"] for r in body["data"] for ref in r["relationships"]["companies"]["data"]}
    included = body["included"]
    assert {i["id"] for i in included} == wanted and len(included) == len(wanted)
    assert all(i["type"] == "company" for i in included)
    one = client.get(f"objects/person/records/{record['id']}", params={"include": "companies"}).json()
    assert one["data"] == record
    assert [i["id"] for i in one["included"]] == [ref["id"] for ref in record["relationships"]["companies"]["data"]]
    assert "included" not in client.get(f"objects/person/records/{record['id']}").json()


def test_deal_relationships_and_inverse(shared: RunningEmulator) -> None:
    person_side = shared.store.links("person", "companies")
    company_side = shared.store.links("company", "people")
    assert sorted((c, p) for p, c in person_side) == company_side
    assert shared.store.links("deal", "people") and shared.store.links("meeting", "people")


def test_total_records_for_moving_cursor_floors(fresh: RunningEmulator, api: httpx.Client) -> None:
    """The sync's query gets exact totals whichever way its floor moves, also across writes."""
    stamps = sorted(r["attributes"]["_updated_at"] for r in fresh.store.records("person"))
    floors = [stamps[i * len(stamps) // 7] for i in (0, 2, 2, 5, 1, 6)] + [stamps[-1]]
    for _ in range(2):
        for ts in floors:
            for op, keep in (("Is on or after", lambda x, t: x >= t), ("Is after", lambda x, t: x > t)):
                body = api.get(
                    "objects/person/resources",
                    params={f"filter[_updated_at][{op}]": ts, "sortOrder[column]": "_updated_at", "page[limit]": "5"},
                ).json()
                assert body["meta"]["total_records"] == sum(1 for s in stamps if keep(s, ts))
        fresh.clock.freeze(stamps[len(stamps) // 2])
        fresh.store.create("person", {"title": "new"})
        stamps = sorted(r["attributes"]["_updated_at"] for r in fresh.store.records("person"))
