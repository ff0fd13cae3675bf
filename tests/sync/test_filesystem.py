"""The dlt filesystem destination on a local path: Delta tables (merge, exact) and plain parquet (snapshots)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from core.warehouse.options import WarehouseOptions
from pipelines.sync import run_sync, sync_status
from tests.sync.conftest import assert_synced, connection_for, lake_table, table

OBJECTS = ["person", "company"]


def lake(tmp_path: Path, table_format: str = "delta") -> WarehouseOptions:
    return WarehouseOptions(
        destination="filesystem",
        bucket_url=str(tmp_path / "lake"),
        table_format=table_format,
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def test_delta_full_then_incremental_update_and_delete_are_exact(make_emu: Any, tmp_path: Path) -> None:
    emu = make_emu()
    wh = lake(tmp_path)
    conn = connection_for(emu)
    run_sync(conn, wh, objects=OBJECTS)
    assert (tmp_path / "lake" / "clarify" / "person" / "_delta_log").is_dir()
    assert_synced(emu, wh, OBJECTS)

    people = emu.store.records("person")
    person, gone = people[0], people[1]
    assert (person["attributes"].get("email_addresses") or {}).get("items"), "demo person needs e-mails"
    emu.clock.advance(3600)  # beyond the lag window
    emu.store.update(
        "person", person["id"], {"title": "Chief Lake Officer", "email_addresses": {"items": []}, "tags": ["vip"]}
    )
    company = emu.store.create("company", {"name": "Lakeco", "domains": {"items": ["lake.example"]}})
    emu.store.set_links("person", person["id"], "companies", [company["id"]], "replace", "system")
    emu.store.delete("person", gone["id"])
    report = run_sync(conn, wh, objects=OBJECTS, reconcile=True)
    assert report.objects["person"].deleted == 1
    assert_synced(emu, wh, OBJECTS)
    # A collection that became empty lost its old items; the deleted record's children went with it.
    assert [r for r in table(wh, "person__email_addresses") if r["person_id"] in (person["id"], gone["id"])] == []
    assert [r for r in table(wh, "person__companies") if r["person_id"] == person["id"]] == [
        {"person_id": person["id"], "company_id": company["id"], "_deleted": None}
    ]

    # The pipeline folder is wiped: state (cursor) comes back from the lake, nothing is re-read.
    shutil.rmtree(tmp_path / "pipelines")
    report = run_sync(conn, wh, objects=OBJECTS, reconcile=False)
    assert report.records <= 2 * len(OBJECTS)  # the lag window at most, no full walk
    assert_synced(emu, wh, OBJECTS)
    rows = {r.object: r for r in sync_status(wh)}
    assert rows["person"].rows == len(emu.store.records("person"))
    assert rows["person"].cursor is not None


def test_parquet_rewrites_a_full_snapshot_every_run(make_emu: Any, tmp_path: Path) -> None:
    emu = make_emu()
    wh = lake(tmp_path, "parquet")
    conn = connection_for(emu)
    first = run_sync(conn, wh, objects=OBJECTS)
    assert not list((tmp_path / "lake" / "clarify" / "person").glob("_delta_log"))
    assert_synced(emu, wh, OBJECTS)
    assert lake_table(wh, "person__email_addresses").num_rows > 0

    person, gone = emu.store.records("person")[:2]
    emu.clock.advance(3600)
    emu.store.update("person", person["id"], {"title": "Snapshot", "email_addresses": {"items": []}})
    emu.store.delete("person", gone["id"])
    second = run_sync(conn, wh, objects=OBJECTS)
    # No merge on plain files: every run reads everything and replaces the files; no marker rows are written.
    assert second.records == first.records - 1
    assert_synced(emu, wh, OBJECTS)
    assert all(r["_deleted"] is None for r in table(wh, "person__email_addresses"))


def test_filesystem_options_fail_early_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--table-format"):
        WarehouseOptions(destination="filesystem", bucket_url=str(tmp_path), table_format="csv").make_destination()
    # s3fs is a dependency (S3 is tested in test_object_store.py); the other clouds' clients are extras.
    with pytest.raises(ConfigError, match=r'pip install "dlt\[gs\]"'):
        WarehouseOptions(destination="filesystem", bucket_url="gs://bucket/lake").make_destination()
    with pytest.raises(ConfigError, match=r'pip install "dlt\[snowflake\]"'):
        WarehouseOptions(destination="snowflake").make_destination()
    with pytest.raises(ConfigError, match=r'pip install "dlt\[bigquery\]"'):
        WarehouseOptions(destination="bigquery").make_destination()
    assert WarehouseOptions(destination="motherduck").make_destination().destination_name == "motherduck"
    url = WarehouseOptions(destination="filesystem").resolved_bucket_url()
    assert url == str(Path("clarify_lake").resolve())
