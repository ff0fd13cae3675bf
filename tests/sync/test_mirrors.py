"""Objects without a usable cursor are mirrored: read in full, their deleted records deleted, run after run, however
many there are and in parallel, on DuckDB, Postgres and a Delta lake (issue 19, item 1). The warehouse ids the
deletion step needs are read before extraction starts: opening a dlt client inside dlt's extraction threads
corrupted its injected context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.sync import run_sync
from tests.sync.conftest import WAREHOUSES, assert_synced, connection_for, table
from tests.sync.test_filesystem import lake

BARE = frozenset({"user", "meeting", "task", "deal"})


def _churn(emu: Any, round_no: int) -> None:
    """A create, an update and a delete on every bare object, and a deleted company (linked from people and deals)."""
    for slug in sorted(BARE):
        records = emu.store.records(slug)
        emu.store.update(slug, records[0]["id"], {_text_field(slug): f"changed {round_no}"})
        emu.store.delete(slug, records[1]["id"])
    emu.store.create("task", {"title": f"new task {round_no}"})
    emu.store.delete("company", _linked_company(emu))


def _text_field(slug: str) -> str:
    return {"user": "name", "meeting": "title", "task": "title", "deal": "name"}[slug]


def _linked_company(emu: Any) -> str:
    linked = {company for _, company in emu.store.links("person", "companies")}
    return sorted(linked)[0]


@pytest.mark.parametrize("kind", [*WAREHOUSES, "lake"])
def test_four_bare_objects_mirror_exactly_run_after_run(
    make_emu: Any, make_warehouse: Any, kind: str, tmp_path: Path
) -> None:
    emu = make_emu(bare_objects=BARE)
    wh = lake(tmp_path) if kind == "lake" else make_warehouse(kind)
    conn = connection_for(emu)

    for round_no in range(3):
        report = run_sync(conn, wh, reconcile=True)
        assert_synced(emu, wh)
        if round_no:
            assert all(report.objects[slug].deleted == 1 for slug in BARE), report.objects
        _churn(emu, round_no)


def test_mirror_deletions_without_a_reconcile_drop_the_links_to_them(make_emu: Any, make_warehouse: Any) -> None:
    """A deal deleted from a bare (mirrored) object goes from the link tables of objects read incrementally too."""
    emu = make_emu(bare_objects=frozenset({"company"}))
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    run_sync(conn, wh)
    gone = _linked_company(emu)
    emu.store.delete("company", gone)

    report = run_sync(conn, wh, reconcile=False)

    assert report.objects["company"].deleted == 1 and not report.reconciled
    assert gone not in {r["company_id"] for r in table(wh, "person__companies")}
    assert_synced(emu, wh)
