"""The nothing-changed probe: answers only when the full sync would have found nothing, and never imports dlt, on
DuckDB (a note beside the file) and Postgres (a note in the dataset)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.warehouse.options import WarehouseOptions
from pipelines import noop_probe
from pipelines.sync import run_sync
from tests.sync.conftest import PG_DSN, WAREHOUSES, assert_synced, connection_for, execute
from tests.sync.test_robustness import child

ROOT = Path(__file__).resolve().parents[2]


def _settings(lag: float = 300) -> dict[str, Any]:
    return noop_probe.settings(base_url=None, workspace=None, objects=None, lag_seconds=lag, page_limit=500)


@pytest.fixture(params=WAREHOUSES)
def noted(request: Any, make_emu: Any, make_warehouse: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """A synced warehouse whose sync left its note; the key in CLARIFY_API_KEY, as cron would set it."""
    emu = make_emu()
    wh = make_warehouse(request.param)
    monkeypatch.setenv("CLARIFY_API_KEY", emu.api_key)
    run_sync(connection_for(emu), wh, probe_settings=_settings())
    emu.clock.advance(3600)  # past the lag window: only real changes show up
    return emu, wh


def note(wh: WarehouseOptions) -> dict[str, Any] | None:
    """The warehouse's note, while it is trusted."""
    return noop_probe.trusted(noop_probe.note_store(wh))


def write_behind_its_back(wh: WarehouseOptions) -> None:
    """Someone else writes the warehouse. DuckDB: any write to the file. Postgres: a dlt load of the sync's schema
    that knows nothing of the note (an older clarify-sync, another dlt pipeline of that schema name, on any
    machine); the `_dlt_loads` row is what such a load leaves (made by hand: a second dlt pipeline of the same
    schema name would also replace the sync's stored schema, which is not what this test is about)."""
    if wh.destination == "duckdb":
        execute(wh, "CREATE TABLE {ds}.scratch AS SELECT 1 AS x")
    else:
        execute(wh, "INSERT INTO {ds}._dlt_loads VALUES ('9999999999.0', 'clarify', 0, now(), NULL)")


def _probe(wh: Any, settings: dict[str, Any] | None = None, reconcile: bool | None = None) -> Any:
    """The probe's report, or None (closing the client it would hand over)."""
    found = noop_probe.probe(wh, run_settings=settings or _settings(), reconcile=reconcile)
    if found.api is not None:
        found.api.close()
    return found.report


def test_nothing_changed_costs_one_request_per_object_and_no_dlt(noted: Any) -> None:
    emu, wh = noted
    before = emu.stats.snapshot()
    report = _probe(wh)
    assert report is not None and report.records == 0
    # Plus `GET /schemas`, and `GET /lists`: lists have no cursor, so every run reads them (the demo has none).
    assert report.requests == len(report.objects) + 2 == sum(emu.stats.snapshot().values()) - sum(before.values())
    assert report.objects["person"].cursor
    code = (
        "import sys, json; from pipelines import noop_probe as p; from core.warehouse.options import WarehouseOptions; "
        "s = p.settings(base_url=None, workspace=None, objects=None, lag_seconds=300, page_limit=500); "
        "r = p.probe(WarehouseOptions(**json.loads(sys.argv[1])), run_settings=s).report; "
        "print(json.dumps([r is not None, sorted(m for m in ('dlt', 'pyarrow', 'duckdb') if m in sys.modules)]))"
    )
    args = [sys.executable, "-c", code, json.dumps(dataclasses.asdict(wh))]
    done = subprocess.run(args, cwd=os.getcwd(), capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout) == [True, []], done.stderr


def test_any_change_sends_the_run_to_the_full_sync(noted: Any) -> None:
    emu, wh = noted
    person = emu.store.records("person")[0]
    emu.store.update("person", person["id"], {"title": "changed after the sync"})
    before = sum(emu.stats.snapshot().values())
    found = noop_probe.probe(wh, run_settings=_settings())
    assert found.report is None and found.api is not None and found.changed == ["person"]
    synced = run_sync(connection_for(emu), wh, probe_settings=_settings(), api=found.api)
    assert_synced(emu, wh)
    # The sync takes over what the probe asked, the list read included (so the sync itself sent none): one
    # request per object, the schema call and `GET /lists`.
    assert synced.lists is not None and synced.lists.requests == 0
    assert synced.requests == len(synced.objects) + 2 == sum(emu.stats.snapshot().values()) - before
    assert _probe(wh) is not None  # the full sync left a new note


def test_other_settings_a_written_file_or_a_due_deletion_check_are_not_trusted(
    noted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu, wh = noted
    assert _probe(wh, _settings(lag=60)) is None
    monkeypatch.setenv("SOURCES__CLARIFY__RECONCILE_EVERY_HOURS", "0")  # dlt config the note cannot judge
    assert _probe(wh) is None
    monkeypatch.delenv("SOURCES__CLARIFY__RECONCILE_EVERY_HOURS")
    assert _probe(wh) is not None
    monkeypatch.delenv("CLARIFY_API_KEY")  # a key only dlt's secrets could supply
    assert _probe(wh) is None
    monkeypatch.setenv("CLARIFY_API_KEY", emu.api_key)

    write_behind_its_back(wh)
    assert _probe(wh) is None

    run_sync(connection_for(emu), wh, probe_settings=_settings(), reconcile_interval=0)
    assert _probe(wh) is None  # a deletion check is due at every run
    assert _probe(wh, reconcile=False) is not None
    assert _probe(wh, reconcile=True) is None


def test_backfills_and_warehouses_without_a_note_are_never_probed() -> None:
    args: dict[str, Any] = {
        "base_url": None,
        "workspace": None,
        "objects": None,
        "full_refresh": False,
        "since": None,
        "lag_seconds": 300,
        "page_limit": 500,
    }
    postgres = WarehouseOptions(destination="postgres", postgres_dsn=PG_DSN)
    for warehouse in (WarehouseOptions(), postgres):
        assert noop_probe.command_settings(warehouse, **args) == _settings()
        assert noop_probe.command_settings(warehouse, **{**args, "full_refresh": True}) is None
        assert noop_probe.command_settings(warehouse, **{**args, "since": "2024-01-01"}) is None
    # A DSN only dlt's secrets hold needs dlt to read; a lake keeps no note.
    for warehouse in (WarehouseOptions(destination="postgres"), WarehouseOptions(destination="filesystem")):
        assert noop_probe.command_settings(warehouse, **args) is None


def test_a_killed_sync_leaves_no_note(noted: Any) -> None:
    emu, wh = noted
    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "after first sync"})
    result = child(emu, wh, {"CLARIFY_SYNC_CRASH_AT": "load"})
    assert result.returncode == 99, result.stdout + result.stderr
    assert note(wh) is None
    assert _probe(wh) is None


def test_a_changed_list_is_not_nothing(noted: Any) -> None:
    """Membership has no cursor: objects that show nothing new do not make a run a no-op when a list changed."""
    emu, wh = noted
    people = [r["id"] for r in emu.store.records("person")[:3]]
    vips = emu.lists.create("person", "VIPs", members=people[:2])
    assert _probe(wh) is None  # a new list
    run_sync(connection_for(emu), wh, probe_settings=_settings())
    assert _probe(wh) is not None  # read again, same digest: nothing to do
    emu.lists.change(vips.id, add=[people[2]])
    assert _probe(wh) is None  # a new member, though no record changed
