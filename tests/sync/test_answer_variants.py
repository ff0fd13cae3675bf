"""Answers the live API may send that our notes cannot rule out: each variant is an emulator switch, and the
sync must stay exact with it on (emulator/variants.py)."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.sync import run_sync
from tests.sync.conftest import WAREHOUSES, assert_synced, connection_for, table


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_users_without_system_fields_are_mirrored_exactly(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    emu = make_emu(bare_objects={"user"})
    wh = make_warehouse(kind)
    conn = connection_for(emu)
    notices: list[str] = []

    report = run_sync(conn, wh, notice=notices.append)
    assert_synced(emu, wh)
    assert report.objects["user"].records == len(emu.store.records("user"))
    assert notices == [notices[0]] and notices[0].startswith("user: ") and "read in full" in notices[0]

    users = emu.store.records("user")
    emu.store.create("user", {"name": "Ada Newhire", "email": "ada@example.com", "role": "member"})
    emu.store.update("user", users[0]["id"], {"name": "Renamed Person"})
    emu.store.delete("user", users[1]["id"])
    report = run_sync(conn, wh, reconcile=False, notice=notices.append)

    assert_synced(emu, wh)
    assert len(notices) == 1  # said once, when the object was first found without a cursor
    assert report.objects["user"].deleted == 1
    names = {r["id"]: r["name"] for r in table(wh, "user")}
    assert names[users[0]["id"]] == "Renamed Person" and users[1]["id"] not in names
    assert all(r["_updated_at"] is None for r in table(wh, "user"))


def test_one_record_without_updated_at_is_kept(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu()
    wh = make_warehouse("duckdb")
    company = emu.store.records("company")[0]
    emu.store.drop_attribute("company", company["id"], "_updated_at")

    run_sync(connection_for(emu), wh, objects=["company"])

    rows = {r["id"]: r for r in table(wh, "company")}
    assert set(rows) == {r["id"] for r in emu.store.records("company")}
    assert rows[company["id"]]["_updated_at"] is None and rows[company["id"]]["name"] == company["attributes"]["name"]


@pytest.mark.parametrize(
    "variant",
    [
        {"links": "null"},
        {"links": "absent"},
        {"meta": False},
        {"ignore_page_limit": True},
        {"ignore_page_limit": True, "meta": False},
        {"uuid_ids": True},
    ],
    ids=["links-null", "links-absent", "no-meta", "page-limit-ignored", "page-limit-ignored-no-meta", "uuid"],
)
def test_sync_is_exact_with_answer_variant(make_emu: Any, make_warehouse: Any, variant: dict[str, Any]) -> None:
    emu = make_emu(**variant)
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    run_sync(conn, wh, page_limit=100)
    assert_synced(emu, wh)

    person = emu.store.records("person")[0]
    emu.clock.advance(3600)
    emu.store.update("person", person["id"], {"title": "Head of Variants"})
    emu.store.delete("company", emu.store.records("company")[0]["id"])
    run_sync(conn, wh, page_limit=100, reconcile=True)
    assert_synced(emu, wh)


def test_unknown_field_types_land_as_text(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(unknown_field_types=True)
    wh = make_warehouse("duckdb")
    run_sync(connection_for(emu), wh)
    assert_synced(emu, wh, ["company", "deal", "meeting", "task", "user", "c_sales_order"])  # selects: text anyway
    scores = {r["id"]: r["lead_score"] for r in table(wh, "person")}
    served = {r["id"]: r["attributes"].get("lead_score") for r in emu.store.records("person")}
    assert any(v is not None for v in served.values())
    assert scores == {rid: None if v is None else str(v) for rid, v in served.items()}
