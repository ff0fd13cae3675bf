"""The small-change load: a few changed records merged without dlt, exactly as dlt's merge leaves them, and the
dlt sync taking over (from the newer cursors) whenever it declines or is killed; on DuckDB and Postgres."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.errors import WarehouseError
from pipelines import noop_probe, small_changes
from pipelines.small_changes import load_small_changes
from pipelines.sync import run_sync, sync_status
from tests.sync.conftest import WAREHOUSES, assert_synced, connection_for, execute, table
from tests.sync.test_noop_probe import (  # noqa: F401  (`noted`, the fixture: a synced, noted warehouse)
    _settings,
    note,
    noted,
    write_behind_its_back,
)

ROOT = Path(__file__).resolve().parents[2]


def _change(emu: Any) -> list[str]:
    """An edited title, replaced collection and multi-select items and a new record. (A link set from the other
    side of a relationship waits for the deletion check, as in any incremental sync: `_updated_at` stays.)"""
    people = [r["id"] for r in emu.store.records("person")[:2]]
    emu.store.update("person", people[0], {"title": "edited after the sync"})
    emu.store.update("person", people[1], {"email_addresses": {"items": []}, "tags": ["vip", "partner"]})
    now = emu.clock.now_iso()
    stamps = {"_created_at": now, "_updated_at": now, "_created_by": "system", "_updated_by": "system"}
    emu.store.insert_generated("company", [("com_new", {**stamps, "name": "New Co"})])
    return people


def _probe(wh: Any) -> noop_probe.ProbeResult:
    return noop_probe.probe(wh, run_settings=_settings())


def test_a_small_change_is_merged_exactly(noted: Any) -> None:  # noqa: F811
    emu, wh = noted
    _change(emu)
    found = _probe(wh)
    assert found.report is None and sorted(found.changed) == ["company", "person"]
    before = sum(emu.stats.snapshot().values())
    report = load_small_changes(wh, found)
    assert report is not None and report.records >= 3
    assert sum(emu.stats.snapshot().values()) == before  # every page was the probe's
    assert_synced(emu, wh)  # main, child and link tables equal the emulator's records
    again = _probe(wh)  # the rewritten note answers the next run
    assert again.report is not None and again.report.records == 0


def test_the_next_dlt_sync_starts_from_its_cursors(noted: Any) -> None:  # noqa: F811
    emu, wh = noted
    _change(emu)
    found = _probe(wh)
    report = load_small_changes(wh, found)
    assert report is not None
    cursors = {obj: o.cursor for obj, o in report.objects.items()}
    assert {row.object: row.cursor for row in sync_status(wh)} == cursors
    # dlt's own state still holds the older cursors: without adopting the note's, this would re-read the change.
    synced = run_sync(connection_for(emu), wh, probe_settings=_settings(), reconcile=False)
    assert synced.records == 0 and {obj: o.cursor for obj, o in synced.objects.items()} == cursors
    assert_synced(emu, wh)


def _with_controls(emu: Any, wh: Any) -> None:
    run_sync(connection_for(emu), wh, probe_settings=_settings(), soft_delete=["deal"])
    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "edited"})


def _new_column(emu: Any, wh: Any) -> None:
    now = emu.clock.now_iso()
    stamps = {"_created_at": now, "_updated_at": now, "_created_by": "system", "_updated_by": "system"}
    emu.store.insert_generated("person", [("per_badvalue", {**stamps, "name": "Bad", "lead_score": "lots"})])


def _many_pages(emu: Any, wh: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(small_changes, "SMALL_CHANGE_PAGES", 1)
    emu.config_update(ignore_page_limit=True)  # pages of 25
    for record in emu.store.records("person")[:30]:
        emu.store.update("person", record["id"], {"title": "one of many"})


@pytest.mark.parametrize("case", ["controls", "new column", "many pages", "written"])
def test_it_declines_and_the_dlt_sync_takes_over(
    noted: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    emu, wh = noted
    if case == "controls":
        _with_controls(emu, wh)
    elif case == "new column":
        _new_column(emu, wh)
    elif case == "many pages":
        _many_pages(emu, wh, monkeypatch)
    else:
        emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "edited"})
    found = _probe(wh)
    assert found.changed and found.api is not None
    if case == "written":  # another writer between the probe and the lock
        write_behind_its_back(wh)
    kept = note(wh)
    assert load_small_changes(wh, found) is None
    assert note(wh) == kept  # declined before writing anything
    run_sync(connection_for(emu), wh, probe_settings=_settings(), api=found.api, reconcile=False)
    if case == "new column":  # dlt added it (assert_synced cannot compare a word in a number field)
        rows = {r["id"]: r for r in table(wh, "person")}
        assert rows["per_badvalue"]["lead_score__v_text"] == "lots"
    else:
        assert_synced(emu, wh)


def test_a_refused_row_changes_nothing_and_dlt_says_why(noted: Any) -> None:  # noqa: F811
    emu, wh = noted
    execute(wh, "ALTER TABLE {ds}.person ALTER title TYPE INTEGER USING NULL")  # someone retyped a column
    before = sorted(table(wh, "person"), key=lambda r: r["id"])
    _change(emu)
    found = _probe(wh)
    assert load_small_changes(wh, found) is None
    assert sorted(table(wh, "person"), key=lambda r: r["id"]) == before  # rolled back
    refusal = "Could not convert string" if wh.destination == "duckdb" else "column .title. is of type integer"
    with pytest.raises(WarehouseError, match=refusal) as failure:
        run_sync(connection_for(emu), wh, probe_settings=_settings(), api=found.api, reconcile=False)
    assert "\n" not in str(failure.value)


def test_killed_after_its_commit_the_next_run_converges(noted: Any) -> None:  # noqa: F811
    emu, wh = noted
    _change(emu)
    code = (
        "import json, sys; from core.warehouse.options import WarehouseOptions as W; "
        "from pipelines import noop_probe as p, small_changes as s; from tests.sync.test_noop_probe import _settings; "
        "wh = W(**json.loads(sys.argv[1])); "
        "s.load_small_changes(wh, p.probe(wh, run_settings=_settings()))"
    )
    env = {**os.environ, "CLARIFY_SYNC_CRASH_AT": "small-change"}  # the key is already in CLARIFY_API_KEY
    args = [sys.executable, "-c", code, json.dumps(dataclasses.asdict(wh))]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 96, done.stdout + done.stderr
    synced = run_sync(connection_for(emu), wh, probe_settings=_settings(), reconcile=False)
    if wh.destination == "duckdb":  # the note goes before the commit and comes back after it
        assert synced.records > 0  # from dlt's older cursors: the change is read again, and merged once
    else:  # the note's row is replaced in the commit's own transaction: the next run starts from its cursors
        assert synced.records == 0
    assert_synced(emu, wh)


@pytest.mark.parametrize("noted", [WAREHOUSES[1]], indirect=True)  # Postgres: a DuckDB file has one writer
def test_a_second_machine_is_not_fooled(noted: Any, tmp_path: Path) -> None:  # noqa: F811
    """Postgres: the note lives in the dataset, so another machine (its own dlt folder) reads the same note: a
    small change one loads is adopted by the other's dlt sync, and the other's sync replaces the note."""
    emu, wh = noted
    other = dataclasses.replace(wh, pipelines_dir=str(tmp_path / "other-machine"))
    _change(emu)
    assert load_small_changes(wh, _probe(wh)) is not None
    synced = run_sync(connection_for(emu), other, probe_settings=_settings(), reconcile=False)
    assert synced.records == 0  # restored dlt's state from the warehouse, then adopted the note's newer cursors
    emu.store.update("person", emu.store.records("person")[5]["id"], {"title": "edited on the other machine"})
    assert run_sync(connection_for(emu), other, probe_settings=_settings(), reconcile=False).records > 0
    found = _probe(wh)  # the first machine trusts the note the other one wrote: it describes this warehouse
    assert found.report is not None and found.report.records == 0
    assert_synced(emu, wh)
