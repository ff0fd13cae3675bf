"""Soft deletes: a person deleted in Clarify keeps its row (and child rows) with `_deleted_at` set by the
reconcile pass, and the mark clears when the record is listed again; other objects are still removed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipelines.sync import run_sync
from sources.clarify.controls import load_controls
from tests.sync.conftest import WAREHOUSES, connection_for, query

README = Path(__file__).resolve().parents[2] / "README.md"


def _marks(wh: Any) -> dict[str, Any]:
    return {r["id"]: r["_deleted_at"] for r in query(wh, "SELECT id, _deleted_at FROM {ds}.person")}


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_soft_deleted_rows_stay_marked_and_clear_when_back(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    conn = connection_for(emu)
    controls = load_controls(soft_delete=["person"])
    run_sync(conn, wh, controls=controls)
    people = emu.store.records("person")
    assert set(_marks(wh).values()) == {None}

    person = next(p for p in people if p["attributes"].get("email_addresses", {}).get("items"))
    company = emu.store.records("company")[0]["id"]
    emu.store.delete("person", person["id"])
    emu.store.delete("company", company)
    report = run_sync(conn, wh, controls=controls, reconcile=True)

    marks = _marks(wh)
    assert len(marks) == len(people)  # the row stayed
    assert marks[person["id"]] is not None
    assert [k for k, v in marks.items() if v is not None] == [person["id"]]
    assert report.objects["person"].deleted == 1 and report.objects["company"].deleted == 1
    emails = query(wh, "SELECT value FROM {ds}.person__email_addresses WHERE person_id = '" + person["id"] + "'")
    assert len(emails) == len(person["attributes"]["email_addresses"]["items"])  # child rows stay too
    assert not query(wh, "SELECT id FROM {ds}.company WHERE id = '" + company + "'")  # default: removed
    first_mark = marks[person["id"]]

    # Another reconcile: the mark (and its time) stays, and nothing is counted twice.
    report = run_sync(conn, wh, controls=controls, reconcile=True)
    assert _marks(wh)[person["id"]] == first_mark and report.objects["person"].deleted == 0

    # The README's query counts live and deleted people.
    sql = re.findall(r"```sql\n(.*?)```", README.read_text().split("## Soft deletes", 1)[1].split("\n## ", 1)[0], re.S)
    (counts,) = query(wh, sql[0].replace("clarify.", "{ds}."))
    assert (counts["live"], counts["deleted"]) == (len(people) - 1, 1)

    # Back in Clarify, unchanged (same id and `_updated_at`): the next reconcile clears the mark.
    emu.store.insert_generated("person", [(person["id"], person["attributes"])])
    run_sync(conn, wh, controls=controls, reconcile=True)
    assert set(_marks(wh).values()) == {None}
