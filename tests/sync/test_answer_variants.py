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
