"""Every filter operator and shorthand on every field type, checked against the stored records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from emulator import RunningEmulator
from tests.emulator.emulator_helpers import all_ids, error, full_name

A = dict[str, Any]
Pred = Callable[[A], bool]


def _lower(v: Any) -> str:
    return (v or "").lower()


def _items(v: Any) -> list[str]:
    return (v or {}).get("items") or []


CASES: list[tuple[str, str, str, str, Pred]] = [
    # text
    ("person", "title", "Is", "CTO", lambda a: a["title"] == "CTO"),
    ("person", "title", "Is not", "CTO", lambda a: a["title"] != "CTO"),
    ("person", "title", "Contains", "ENG", lambda a: "eng" in _lower(a["title"])),
    ("person", "title", "Does not contain", "eng", lambda a: "eng" not in _lower(a["title"])),
    ("person", "title", "Starts with", "Sales", lambda a: _lower(a["title"]).startswith("sales")),
    ("person", "title", "Ends with", "lead", lambda a: _lower(a["title"]).endswith("lead")),
    ("person", "title", "Is empty", "", lambda a: not a["title"]),
    ("person", "title", "Is not empty", "", lambda a: bool(a["title"])),
    # name: a string or an object, compared on the full name
    ("person", "name", "Contains", "ø", lambda a: "ø" in (full_name(a) or "")),
    ("person", "name", "Starts with", "Ada ", lambda a: (full_name(a) or "").startswith("Ada ")),
    ("person", "name", "Is empty", "", lambda a: not full_name(a)),
    # number and currency
    ("person", "lead_score", "Is", "50", lambda a: a["lead_score"] == 50),
    ("person", "lead_score", "Is not", "50", lambda a: a["lead_score"] != 50),
    ("person", "lead_score", "Greater than", "50", lambda a: (a["lead_score"] or -1) > 50),
    ("person", "lead_score", "Greater than or equal", "50", lambda a: (a["lead_score"] or -1) >= 50),
    ("person", "lead_score", "Less than", "20", lambda a: a["lead_score"] is not None and a["lead_score"] < 20),
    (
        "person",
        "lead_score",
        "Less than or equal",
        "20",
        lambda a: a["lead_score"] is not None and a["lead_score"] <= 20,
    ),
    ("person", "lead_score", "Is empty", "", lambda a: a["lead_score"] is None),
    ("person", "lead_score", "Is not empty", "", lambda a: a["lead_score"] is not None),
    ("company", "annual_revenue", "Greater than", "500000000.5", lambda a: a["annual_revenue"] > 500000000.5),
    # date
    ("person", "birthday", "Is", "1996-04-10", lambda a: a["birthday"] == "1996-04-10"),
    ("person", "birthday", "Is not", "1996-04-10", lambda a: a["birthday"] != "1996-04-10"),
    ("person", "birthday", "Is before", "1980-01-01", lambda a: (a["birthday"] or "9") < "1980-01-01"),
    ("person", "birthday", "Is on or before", "1980-01-01", lambda a: (a["birthday"] or "9") <= "1980-01-01"),
    ("person", "birthday", "Is after", "1980-01-01", lambda a: (a["birthday"] or "") > "1980-01-01"),
    ("person", "birthday", "Is on or after", "1980-01-01", lambda a: (a["birthday"] or "") >= "1980-01-01"),
    ("person", "birthday", "Is empty", "", lambda a: a["birthday"] is None),
    ("person", "birthday", "Is not empty", "", lambda a: a["birthday"] is not None),
    # timestamps: any ISO-8601 spelling; a bare date is the whole UTC day
    (
        "person",
        "_updated_at",
        "Is after",
        "2025-06-01T00:00:00Z",
        lambda a: a["_updated_at"] > "2025-06-01T00:00:00.000Z",
    ),
    (
        "person",
        "_updated_at",
        "Is after",
        "2025-06-01T00:00:00+00:00",
        lambda a: a["_updated_at"] > "2025-06-01T00:00:00.000Z",
    ),
    (
        "person",
        "_updated_at",
        "Is on or after",
        "2025-06-01T02:00:00.000+02:00",
        lambda a: a["_updated_at"] >= "2025-06-01T00:00:00.000Z",
    ),
    ("person", "_updated_at", "Is before", "2025-06-01", lambda a: a["_updated_at"] < "2025-06-01"),
    ("person", "_updated_at", "Is on or before", "2025-06-01", lambda a: a["_updated_at"] < "2025-06-02"),
    ("person", "_updated_at", "Is", "2025-06-01", lambda a: a["_updated_at"][:10] == "2025-06-01"),
    (
        "meeting",
        "start_time",
        "Is after",
        "2025-10-01T12:30:00Z",
        lambda a: a["start_time"] > "2025-10-01T12:30:00.000Z",
    ),
    # select
    ("person", "tier", "Is", "Gold", lambda a: a["tier"] == "Gold"),
    ("person", "tier", "Is not", "Gold", lambda a: a["tier"] != "Gold"),
    ("person", "tier", "One of", "Gold,Silver", lambda a: a["tier"] in ("Gold", "Silver")),
    ("person", "tier", "Not one of", "Gold,Silver", lambda a: a["tier"] not in ("Gold", "Silver")),
    ("person", "tier", "Is empty", "", lambda a: a["tier"] is None),
    ("person", "tier", "Is", "gold", lambda a: False),
    # multi-select
    ("person", "tags", "Contains", "vip", lambda a: "vip" in a["tags"]),
    ("person", "tags", "Does not contain", "vip", lambda a: "vip" not in a["tags"]),
    ("person", "tags", "Is empty", "", lambda a: not a["tags"]),
    ("person", "tags", "Is not empty", "", lambda a: bool(a["tags"])),
    # checkbox
    ("person", "is_vip", "Is", "true", lambda a: a["is_vip"] is True),
    ("person", "is_vip", "Is", "false", lambda a: not a["is_vip"]),
    ("person", "is_vip", "Is not", "true", lambda a: not a["is_vip"]),
    ("person", "is_vip", "Is set", "", lambda a: a["is_vip"] is True),
    ("person", "is_vip", "Is not set", "", lambda a: not a["is_vip"]),
    # location
    ("person", "location", "Contains", "oslo", lambda a: "oslo" in _lower((a["location"] or {}).get("city"))),
    (
        "person",
        "location",
        "Does not contain",
        "Oslo",
        lambda a: "oslo" not in _lower((a["location"] or {}).get("city")),
    ),
    # record ids
    ("person", "company_id", "Is empty", "", lambda a: a["company_id"] is None),
    ("person", "company_id", "Is not empty", "", lambda a: a["company_id"] is not None),
    # collections
    (
        "person",
        "email_addresses",
        "Contains",
        "@MAIL5.",
        lambda a: any("@mail5." in e for e in _items(a["email_addresses"])),
    ),
    (
        "person",
        "email_addresses",
        "Does not contain",
        "@mail5.",
        lambda a: not any("@mail5." in e for e in _items(a["email_addresses"])),
    ),
    ("person", "email_addresses", "Is empty", "", lambda a: not _items(a["email_addresses"])),
    ("person", "email_addresses", "Is not empty", "", lambda a: bool(_items(a["email_addresses"]))),
    # rich text
    ("task", "description", "Contains", "Pilot", lambda a: "Pilot" in str(a["description"] or "")),
    ("task", "description", "Is empty", "", lambda a: a["description"] is None),
]


def expected(emu: RunningEmulator, obj: str, pred: Pred) -> list[str]:
    return sorted(r["id"] for r in emu.store.records(obj) if pred(r["attributes"]))


@pytest.mark.parametrize(("obj", "field", "op", "value", "pred"), CASES, ids=[f"{c[1]}-{c[2]}-{c[3]}" for c in CASES])
def test_operator(
    shared: RunningEmulator, client: httpx.Client, obj: str, field: str, op: str, value: str, pred: Pred
) -> None:
    assert all_ids(client, obj, {f"filter[{field}][{op}]": value}) == expected(shared, obj, pred)


def test_cases_are_not_trivial(shared: RunningEmulator) -> None:
    """Most cases must select some but not all records, or they prove little."""
    informative = [c for c in CASES if 0 < len(expected(shared, c[0], c[4])) < len(shared.store.records(c[0]))]
    assert len(informative) >= len(CASES) - 6


def test_record_id_is_and_is_not(shared: RunningEmulator, client: httpx.Client) -> None:
    people = shared.store.records("person")
    target = next(r["attributes"]["company_id"] for r in people if r["attributes"]["company_id"])
    assert all_ids(client, "person", {"filter[company_id][Is]": target}) == expected(
        shared, "person", lambda a: a["company_id"] == target
    )
    assert all_ids(client, "person", {"filter[company_id][Is not]": target}) == expected(
        shared, "person", lambda a: a["company_id"] != target
    )
    assert all_ids(client, "person", {"filter[id]": target}) == []


SHORTHANDS = [
    ("person", "lead_score", ">50", "Greater than", "50"),
    ("person", "lead_score", ">=50", "Greater than or equal", "50"),
    ("person", "lead_score", "<50", "Less than", "50"),
    ("person", "lead_score", "<=50", "Less than or equal", "50"),
    ("person", "lead_score", "!=50", "Is not", "50"),
    ("person", "lead_score", "50", "Is", "50"),
    ("person", "lead_score", "null", "Is empty", ""),
    ("person", "lead_score", "!null", "Is not empty", ""),
    ("person", "birthday", ">1980-01-01", "Is after", "1980-01-01"),
    ("person", "birthday", ">=1980-01-01", "Is on or after", "1980-01-01"),
    ("person", "birthday", "<1980-01-01", "Is before", "1980-01-01"),
    ("person", "birthday", "<=1980-01-01", "Is on or before", "1980-01-01"),
    ("person", "_updated_at", ">=2025-06-01T00:00:00Z", "Is on or after", "2025-06-01T00:00:00Z"),
    ("person", "title", "*eng*", "Contains", "eng"),
    ("person", "title", "Sales*", "Starts with", "Sales"),
    ("person", "title", "*Lead", "Ends with", "Lead"),
    ("person", "title", "!=CTO", "Is not", "CTO"),
    ("person", "title", "CTO", "Is", "CTO"),
    ("person", "tier", "Gold,Silver", "One of", "Gold,Silver"),
    ("person", "tier", "Gold", "Is", "Gold"),
    ("person", "tags", "vip", "Contains", "vip"),
    ("person", "tags", "*vip*", "Contains", "vip"),
    ("person", "email_addresses", "null", "Is empty", ""),
]


@pytest.mark.parametrize(
    ("obj", "field", "short", "op", "value"), SHORTHANDS, ids=[f"{s[1]}{s[2]}" for s in SHORTHANDS]
)
def test_shorthand_equals_operator(client: httpx.Client, obj: str, field: str, short: str, op: str, value: str) -> None:
    assert all_ids(client, obj, {f"filter[{field}]": short}) == all_ids(client, obj, {f"filter[{field}][{op}]": value})


def test_two_operators_make_a_range(shared: RunningEmulator, client: httpx.Client) -> None:
    got = all_ids(
        client, "person", {"filter[lead_score][Greater than]": "20", "filter[lead_score][Less than or equal]": "40"}
    )
    assert got == expected(shared, "person", lambda a: a["lead_score"] is not None and 20 < a["lead_score"] <= 40)
    assert got


def test_conditions_are_anded(shared: RunningEmulator, client: httpx.Client) -> None:
    got = all_ids(client, "person", {"filter[tier]": "Gold", "filter[is_vip]": "false"})
    assert got == expected(shared, "person", lambda a: a["tier"] == "Gold" and not a["is_vip"])


def _companies(emu: RunningEmulator) -> dict[str, A]:
    return {r["id"]: r["attributes"] for r in emu.store.records("company")}


def test_dotted_path_one_hop(shared: RunningEmulator, client: httpx.Client) -> None:
    companies = _companies(shared)
    name = next(
        companies[r["attributes"]["company_id"]]["name"]
        for r in shared.store.records("person")
        if r["attributes"]["company_id"]
    )
    want = expected(
        shared, "person", lambda a: a["company_id"] is not None and companies[a["company_id"]]["name"] == name
    )
    assert all_ids(client, "person", {"filter[company_id.name]": name}) == want
    assert all_ids(client, "person", {"filter[person.company_id.name][Is]": name}) == want


def test_dotted_path_three_hops(shared: RunningEmulator, client: httpx.Client) -> None:
    companies = _companies(shared)

    def grand_industry(a: A) -> str | None:
        for _ in range(2):
            if a["parent_company_id"] is None:
                return None
            a = companies[a["parent_company_id"]]
        return a["industry"]

    want = expected(shared, "company", lambda a: grand_industry(a) == "Retail")
    assert all_ids(client, "company", {"filter[parent_company_id.parent_company_id.industry]": "Retail"}) == want
    got = all_ids(client, "company", {"filter[parent_company_id.parent_company_id.parent_company_id.name]": "!null"})
    assert isinstance(got, list)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("filter[title][Equals]", "CTO"),
        ("filter[title][is]", "CTO"),
        ("filter[title][IS]", "CTO"),
        ("filter[title][Greater than]", "a"),
        ("filter[title]", ">a"),
        ("filter[tier]", "Gold*"),
        ("filter[tags][Is]", "vip"),
        ("filter[location][Is empty]", ""),
        ("filter[lead_score]", "lots"),
        ("filter[birthday][Is]", "10/04/1996"),
        ("filter[_updated_at][Is after]", "yesterday"),
        ("filter[is_vip]", "yes"),
        ("filter[nope]", "1"),
        ("filter[title.name]", "x"),
        ("filter[company_id.nope]", "x"),
        ("filter[parent_company_id.parent_company_id.parent_company_id.parent_company_id.name]", "x"),
        ("filter[title][Is][extra]", "x"),
        ("filter", "x"),
    ],
)
def test_bad_filters_are_400(client: httpx.Client, key: str, value: str) -> None:
    error(
        client.get("objects/company/resources" if "parent" in key else "objects/person/resources", params={key: value}),
        400,
    )
