"""End to end over real HTTP against the emulator, into real DuckDB files and a real Postgres."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

from core.http import RetryPolicy
from pipelines.sync import run_sync, sync_status
from tests.sync.conftest import WAREHOUSES, assert_synced, connection_for, query, table

FAST_RETRY = RetryPolicy(backoff_base=0.001, backoff_max=0.01, retry_after_max=0.01, max_attempts=12)


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_full_then_incremental_sync_is_exact(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    conn = connection_for(emu)
    report = run_sync(conn, wh)
    assert report.records == sum(len(emu.store.records(o)) for o in report.objects)
    assert_synced(emu, wh)

    person = emu.store.records("person")[0]
    emu.clock.advance(3600)  # beyond the lag window, so only real changes are re-read
    emu.store.update(
        "person", person["id"], {"title": "Chief Sync Officer", "email_addresses": {"items": []}, "tags": ["vip"]}
    )
    new_company = emu.store.create("company", {"name": "Newco", "domains": {"items": ["newco.example"]}})
    emu.store.set_links("person", person["id"], "companies", [new_company["id"]], "replace", "system")
    before = emu.stats.snapshot()
    report = run_sync(conn, wh, reconcile=False)
    assert report.objects["person"].records >= 1
    # A few changes: the nothing-changed check's first page is also the walk's first page (one request each),
    # plus `GET /schemas` and the list reads (lists have no cursor).
    assert report.lists is not None
    assert report.requests <= len(report.objects) + 1 + report.lists.requests
    assert_synced(emu, wh, ["person"])
    # The inverse side (company__people) did not change `_updated_at` of any company: reconcile refreshes it.
    run_sync(conn, wh, reconcile=True)
    assert_synced(emu, wh)
    assert sum(before.values()) < sum(emu.stats.snapshot().values())
    assert [r["value"] for r in table(wh, "person__email_addresses") if r["person_id"] == person["id"]] == []

    # Nothing changed: about one request per object (plus the schema call).
    report = run_sync(conn, wh, reconcile=False)
    assert report.requests <= len(report.objects) + 1 + report.lists.requests  # + GET /lists
    rows = {r.object: r for r in sync_status(wh)}
    assert rows["person"].rows == len(emu.store.records("person"))
    assert rows["person"].cursor is not None and rows["person"].last_run is not None


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_changes_during_a_sync_converge_after_the_next_run(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    emu = make_emu(records=1500)
    wh = make_warehouse(kind)
    conn = connection_for(emu)
    people = sorted(emu.store.records("person"), key=lambda r: (r["attributes"]["_updated_at"], r["id"]))
    first_id, last_id = people[0]["id"], people[-1]["id"]  # on the first page / on the last page
    done: list[str] = []

    def mutate(obj: str, records: int, pages: int, expected: int | None = None) -> None:
        # On the first page of `person`: update one record already read and one not yet read, create one,
        # delete one. Deterministic: driven by the page walk, not by time.
        if obj == "person" and pages == 1 and not done:
            done.append(obj)
            emu.store.update("person", first_id, {"title": "moved during sync"})
            emu.store.update("person", last_id, {"title": "also moved"})
            emu.store.create("person", {"name": "Mid Sync", "email_addresses": {"items": ["mid@sync.example"]}})
            emu.store.delete("person", people[1]["id"])  # already read on page 1

    run_sync(conn, wh, progress=mutate, page_limit=100, parallel=False)
    assert done
    report = run_sync(conn, wh, reconcile=True, page_limit=100)
    assert report.objects["person"].deleted >= 1
    assert_synced(emu, wh)


def _first_load_updating_the_first_person(emu: Any, wh: Any) -> Any:
    """A first load of `person` in chunks of 2 pages of 100 that updates the first person read while its first page
    is handled (driven by the walk, not by time): the newer version lands at the end of the listing."""
    first = min(emu.store.records("person"), key=lambda r: (r["attributes"]["_updated_at"], r["id"]))
    done: list[str] = []

    def mutate(obj: str, records: int, pages: int, expected: int | None = None) -> None:
        if obj == "person" and pages == 1 and not done:
            done.append(obj)
            emu.store.update("person", first["id"], {"title": "moved during sync", "tags": ["vip", "partner"]})

    report = run_sync(
        connection_for(emu),
        wh,
        objects=["person"],
        progress=mutate,
        page_limit=100,
        max_pages_per_load=2,
        parallel=False,
    )
    assert done
    return report


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_a_first_load_in_chunks_appends_each_record_once(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    """Every chunk of a first load appends. A record updated while the walk runs comes again at the end of the
    listing, in a later chunk: the walk carried over the chunks skips it (no copy in any table), keeps the cursor
    before it, and the next run loads the newer version."""
    emu = make_emu(records=1500)
    wh = make_warehouse(kind)
    conn = connection_for(emu)
    report = _first_load_updating_the_first_person(emu, wh)
    assert report.loads >= 3
    assert query(wh, "SELECT count(*) - count(DISTINCT id) AS copies FROM {ds}.person") == [{"copies": 0}]
    for child in ("person__tags", "person__email_addresses"):
        sql = f"SELECT count(*) - count(DISTINCT (person_id, position)) AS copies FROM {{ds}}.{child}"
        assert query(wh, sql) == [{"copies": 0}]
    if kind == "duckdb":  # no load merged: a merge would have made the staging dataset
        staging = query(wh, "SELECT table_name FROM information_schema.tables WHERE table_schema = '{ds}_staging'")
        assert staging == []
    else:  # loaded by `COPY` from plain CSV files: gzip would only cost CPU (`uncompressed_load_files`)
        jobs = [p.name for p in Path(wh.pipelines_dir or "").glob("**/completed_jobs/*.csv*")]
        assert jobs and not [name for name in jobs if name.endswith(".gz")]
    emu.clock.advance(3600)
    run_sync(conn, wh, objects=["person"], page_limit=100)
    assert_synced(emu, wh, ["person"])


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_a_first_load_past_the_id_bound_merges_its_later_chunks(
    make_emu: Any, make_warehouse: Any, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A walk that would hold more ids than `APPEND_MAX_IDS` lets them go: the object's later chunks merge, and the
    record updated mid-walk is merged over its first copy instead of skipped."""
    monkeypatch.setattr("pipelines.sync.APPEND_MAX_IDS", 150)  # 2 pages of 100 per chunk: over after the first
    emu = make_emu(records=1500)
    wh = make_warehouse(kind)
    report = _first_load_updating_the_first_person(emu, wh)
    assert report.loads >= 3
    assert query(wh, "SELECT count(*) - count(DISTINCT id) AS copies FROM {ds}.person") == [{"copies": 0}]
    if kind == "duckdb":  # the later chunks merged through the staging dataset
        staging = query(wh, "SELECT table_name FROM information_schema.tables WHERE table_schema = '{ds}_staging'")
        assert {"table_name": "person"} in staging
    assert_synced(emu, wh, ["person"])


def test_one_instant_shared_by_more_records_than_a_page(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(records=50)
    wh = make_warehouse("duckdb")
    emu.clock.freeze("2030-01-01T00:00:00.000Z")
    for i in range(2000):
        emu.store.create("task", {"title": f"bulk {i}", "status": "Todo"})
    report = run_sync(connection_for(emu), wh, objects=["task"])
    assert len(table(wh, "task")) == len(emu.store.records("task"))
    assert report.objects["task"].pages < 20  # walked the tie group by offset, no loop
    assert_synced(emu, wh, ["task"])
    emu.clock.resume()


def test_tie_group_while_records_leave_it(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(records=50)
    wh = make_warehouse("duckdb")
    emu.clock.freeze("2030-01-01T00:00:00.000Z")
    ids = [emu.store.create("task", {"title": f"bulk {i}"})["id"] for i in range(1200)]
    state = {"moved": False}

    def move(obj: str, records: int, pages: int, expected: int | None = None) -> None:
        if obj == "task" and pages == 1 and not state["moved"]:
            state["moved"] = True
            emu.clock.advance(1)
            for rid in ids[:40]:  # already read: they leave the tie group and shift everyone left
                emu.store.update("task", rid, {"title": "moved"})

    run_sync(connection_for(emu), wh, objects=["task"], progress=move, parallel=False)
    assert len(table(wh, "task")) == len(emu.store.records("task"))  # nobody skipped
    run_sync(connection_for(emu), wh, objects=["task"])
    assert_synced(emu, wh, ["task"])


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_faults_429_5xx_truncated_bodies(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    emu = make_emu(records=1200)
    wh = make_warehouse(kind)
    emu.faults.set(
        error_rate=0.2,
        burst_429=6,
        truncate_body=4,
        drop_connection=3,
        conflict_409=2,
        http_next_links=True,
        stray_next_on_last_page=True,
        next_on_empty_page=True,
        seed=7,
    )
    # Every counted fault costs one request, and the first endpoint called meets them all in a row: allow
    # more attempts than the 6 + 4 + 3 + 2 stacked here plus the random 5xx.
    patient = dataclasses.replace(FAST_RETRY, max_attempts=30)
    report = run_sync(connection_for(emu), wh, retry=patient, page_limit=100)
    assert report.retries > 0
    emu.faults.clear()
    assert_synced(emu, wh)


def test_state_survives_a_wiped_pipeline_folder(make_emu: Any, make_warehouse: Any, tmp_path: Path) -> None:
    emu = make_emu()
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    run_sync(conn, wh)
    shutil.rmtree(wh.pipelines_dir)
    report = run_sync(conn, wh, reconcile=False)
    assert report.requests <= len(report.objects) + 1 + report.lists.requests  # cursor restored, no full read
    assert_synced(emu, wh)


def test_full_refresh_and_objects_subset(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu()
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    run_sync(conn, wh, objects=["company", "person"])
    assert {r.object for r in sync_status(wh)} == {"company", "person"}
    report = run_sync(conn, wh, objects=["person"], full_refresh=True)
    assert report.objects["person"].records == len(emu.store.records("person"))
    assert_synced(emu, wh, ["company", "person"])


def test_since_backfill(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu()
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    run_sync(conn, wh, objects=["deal"])
    stamps = sorted(r["attributes"]["_updated_at"] for r in emu.store.records("deal"))
    report = run_sync(conn, wh, objects=["deal"], since=stamps[len(stamps) // 2], reconcile=False)
    assert 0 < report.objects["deal"].records <= len(stamps) - len(stamps) // 2 + 1
    assert_synced(emu, wh, ["deal"])


def test_new_field_and_value_that_does_not_fit(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(records=50)
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    run_sync(conn, wh, objects=["person"])
    now = emu.clock.now_iso()
    base = {"_created_at": now, "_updated_at": now, "_created_by": "system", "_updated_by": "system"}
    emu.store.insert_generated(
        "person",
        [
            ("per_newfield", {**base, "name": "New Field", "nickname": "nf", "lead_score": 5}),
            ("per_badvalue", {**base, "name": "Bad Value", "lead_score": "lots", "birthday": "someday"}),
        ],
    )
    run_sync(conn, wh, objects=["person"], reconcile=False)
    rows = {r["id"]: r for r in table(wh, "person")}
    assert rows["per_newfield"]["nickname"] == "nf"
    assert rows["per_badvalue"]["lead_score"] is None
    assert rows["per_badvalue"]["lead_score__v_text"] == "lots"
    assert rows["per_badvalue"]["birthday__v_text"] == "someday"
    assert rows["per_newfield"]["lead_score"] == 5.0


def test_reconcile_deletes_rows_and_their_children_and_links(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu()
    wh = make_warehouse("duckdb")
    conn = connection_for(emu)
    run_sync(conn, wh)
    person = next(p for p in emu.store.records("person") if p["relationships"]["companies"]["data"])
    company_id = person["relationships"]["companies"]["data"][0]["id"]
    emu.store.delete("person", person["id"])
    emu.store.delete("company", company_id)
    report = run_sync(conn, wh)  # last reconcile is recent: not due
    assert report.reconciled == []
    report = run_sync(conn, wh, reconcile=True)
    assert report.objects["person"].deleted == 1 and report.objects["company"].deleted == 1
    assert not [r for r in table(wh, "person__email_addresses") if r["person_id"] == person["id"]]
    assert not [r for r in table(wh, "person__companies") if r["company_id"] == company_id]
    assert_synced(emu, wh)
    # The interval is configurable: zero makes every run reconcile.
    assert run_sync(conn, wh, reconcile_interval=0).reconciled


def test_chunked_loads_resume_inside_a_tie_group(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(records=50)
    wh = make_warehouse("duckdb")
    emu.clock.freeze("2030-01-01T00:00:00.000Z")
    for i in range(700):
        emu.store.create("task", {"title": f"t{i}"})
    report = run_sync(connection_for(emu), wh, objects=["task"], max_pages_per_load=2, page_limit=100)
    assert report.loads > 3
    assert_synced(emu, wh, ["task"])
    assert len(query(wh, "SELECT * FROM {ds}._dlt_loads")) == report.loads
