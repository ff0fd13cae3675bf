"""Lists: `lists` (metadata) and `list_members`, re-read every run and mirrored exactly, on DuckDB and Postgres."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.sync import run_sync
from tests.sync.conftest import WAREHOUSES, connection_for, query, table


def _expected_members(emu: Any) -> list[tuple[str, str, str]]:
    """Membership as the emulator defines it, computed here from its store (not through the API)."""
    out = []
    for lst in emu.lists.all():
        live = {r["id"]: r for r in emu.store.records(lst.object)}
        if lst.type == "static":
            ids = lst.members & set(live)
        else:
            ((key, value),) = lst.filters
            field = key.removeprefix("filter[").removesuffix("]")
            ids = {rid for rid, r in live.items() if r["attributes"].get(field) == value}
        out.extend((lst.id, lst.object, rid) for rid in ids)
    return sorted(out)


def _stored_members(wh: Any) -> list[tuple[str, str, str]]:
    return sorted((r["list_id"], r["object"], r["record_id"]) for r in table(wh, "list_members"))


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_static_and_dynamic_lists_are_mirrored_exactly_between_runs(
    make_emu: Any, make_warehouse: Any, kind: str
) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    conn = connection_for(emu)
    people = [p["id"] for p in emu.store.records("person")]
    deals = emu.store.records("deal")
    stage = deals[0]["attributes"]["stage"]
    vips = emu.lists.create("person", "VIPs", members=people[:4], description="hand-picked")
    staged = emu.lists.create("deal", f"Deals in {stage}", type="dynamic", filters={"filter[stage]": stage})
    doomed = emu.lists.create("company", "Old targets", members=[emu.store.records("company")[0]["id"]])

    # Deals are not synced, yet their list gets its members.
    report = run_sync(conn, wh, objects=["person", "lists"])
    assert list(report.objects) == ["person"] and report.lists is not None and report.lists.loaded
    assert _stored_members(wh) == _expected_members(emu) and len(_stored_members(wh)) > 5
    rows = {r["id"]: r for r in table(wh, "lists")}
    assert set(rows) == {vips.id, staged.id, doomed.id}
    assert (rows[vips.id]["title"], rows[vips.id]["type"], rows[vips.id]["object"]) == ("VIPs", "static", "person")
    assert rows[staged.id]["type"] == "dynamic" and rows[staged.id]["_updated_at"] is not None

    # Members added and removed, a member deleted, a record that starts and one that stops matching, a list gone.
    emu.lists.change(vips.id, add=[people[10]], remove=[people[0]])
    emu.store.delete("person", people[1])
    joiner = next(d for d in deals if d["attributes"]["stage"] != stage)
    emu.store.update("deal", joiner["id"], {"stage": stage})
    leaver = next(d for d in deals if d["attributes"]["stage"] == stage)
    emu.store.update("deal", leaver["id"], {"stage": joiner["attributes"]["stage"]})
    emu.lists.delete(doomed.id)
    report = run_sync(conn, wh, objects=["lists"])
    assert report.objects == {} and report.lists is not None and report.lists.loaded
    assert _stored_members(wh) == _expected_members(emu)
    assert {r["id"] for r in table(wh, "lists")} == {vips.id, staged.id}

    # Nothing changed: the lists are read again, but nothing is loaded.
    report = run_sync(conn, wh, objects=["lists"])
    assert report.lists is not None and not report.lists.loaded and report.loads == 0
    assert report.lists.requests == 3  # GET /lists and one page of members per list

    # Every member gone: the table empties (a replace with no rows must still replace).
    emu.lists.change(vips.id, remove=list(vips.members))
    emu.lists.delete(staged.id)
    run_sync(conn, wh, objects=["lists"])
    assert _stored_members(wh) == [] and [r["id"] for r in table(wh, "lists")] == [vips.id]


def test_objects_without_lists_skip_them_and_the_readme_query_runs(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu()
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    people = [p["id"] for p in emu.store.records("person")]
    emu.lists.create("person", "Newsletter", members=people[:5])
    report = run_sync(conn, wh, objects=["person"])
    assert report.lists is None and query(wh, "SELECT * FROM {ds}.list_members") == []
    report = run_sync(conn, wh)  # every object, and lists
    assert report.lists is not None and report.lists.members == 5
    stage = emu.store.records("deal")[0]["attributes"]["stage"]
    emu.lists.create("deal", "Staged", type="dynamic", filters={"filter[stage]": stage})
    run_sync(conn, wh, objects=["deal", "lists"])
    readme = Path(__file__).resolve().parents[2] / "README.md"
    sql = readme.read_text().split("-- Pipeline in each deal list", 1)[1].split("```", 1)[0]
    rows = query(wh, sql.replace("clarify.", "{ds}."))
    staged = [d for d in emu.store.records("deal") if d["attributes"]["stage"] == stage]
    assert [(r["title"], r["deals"]) for r in rows] == [("Staged", len(staged))]
