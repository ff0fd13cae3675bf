"""The nothing-changed probe: answers only when the full sync would have found nothing, and never imports dlt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import noop_probe
from pipelines.sync import run_sync
from tests.sync.conftest import assert_synced, connection_for
from tests.sync.test_robustness import child

ROOT = Path(__file__).resolve().parents[2]


def _settings(lag: float = 300) -> dict[str, Any]:
    return noop_probe.settings(base_url=None, workspace=None, objects=None, lag_seconds=lag, page_limit=500)


@pytest.fixture
def noted(make_emu: Any, make_warehouse: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """A synced DuckDB warehouse whose sync left its note; the key in CLARIFY_API_KEY, as cron would set it."""
    emu = make_emu()
    wh = make_warehouse("duckdb")
    monkeypatch.setenv("CLARIFY_API_KEY", emu.api_key)
    run_sync(connection_for(emu), wh, probe_settings=_settings())
    emu.clock.advance(3600)  # past the lag window: only real changes show up
    return emu, wh


def _probe(wh: Any, settings: dict[str, Any] | None = None, reconcile: bool | None = None) -> Any:
    """The probe's report, or None (closing the client it would hand over)."""
    found = noop_probe.probe(wh.duckdb_path, wh.dataset, run_settings=settings or _settings(), reconcile=reconcile)
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
        "import sys, json; from pipelines import noop_probe as p; "
        f"s = p.settings(base_url=None, workspace=None, objects=None, lag_seconds=300, page_limit=500); "
        f"r = p.probe({wh.duckdb_path!r}, {wh.dataset!r}, run_settings=s).report; "
        "print(json.dumps([r is not None, sorted(m for m in ('dlt', 'pyarrow', 'duckdb') if m in sys.modules)]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=os.getcwd(), capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout) == [True, []], done.stderr


def test_any_change_sends_the_run_to_the_full_sync(noted: Any) -> None:
    emu, wh = noted
    person = emu.store.records("person")[0]
    emu.store.update("person", person["id"], {"title": "changed after the sync"})
    before = sum(emu.stats.snapshot().values())
    found = noop_probe.probe(wh.duckdb_path, wh.dataset, run_settings=_settings())
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

    with duckdb.connect(wh.duckdb_path) as con:  # someone wrote the warehouse since
        con.execute("create table clarify.scratch as select 1 as x")
    assert _probe(wh) is None

    run_sync(connection_for(emu), wh, probe_settings=_settings(), reconcile_interval=0)
    assert _probe(wh) is None  # a deletion check is due at every run
    assert _probe(wh, reconcile=False) is not None
    assert _probe(wh, reconcile=True) is None


@pytest.mark.parametrize(
    "change", [{"destination": "postgres"}, {"full_refresh": True}, {"since": "2024-01-01"}], ids=str
)
def test_backfills_and_other_warehouses_are_never_probed(change: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "destination": "duckdb",
        "base_url": None,
        "workspace": None,
        "objects": None,
        "full_refresh": False,
        "since": None,
        "lag_seconds": 300,
        "page_limit": 500,
    }
    assert noop_probe.command_settings(**args) == _settings()
    assert noop_probe.command_settings(**{**args, **change}) is None


def test_a_killed_sync_leaves_no_note(noted: Any) -> None:
    emu, wh = noted
    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "after first sync"})
    result = child(emu, wh, {"CLARIFY_SYNC_CRASH_AT": "load"})
    assert result.returncode == 99, result.stdout + result.stderr
    assert not noop_probe.note_path(wh.duckdb_path, wh.dataset).exists()
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
