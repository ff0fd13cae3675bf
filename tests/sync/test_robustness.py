"""Crashes, concurrent runs and bad input: one-line errors, and nothing in the warehouse or cursor moves."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.errors import ApiError, ApiUnreachableError, ConfigError, WarehouseError
from core.warehouse.options import WarehouseOptions
from pipelines.sync import run_sync
from sources.clarify.connection import ClarifyConnection
from tests.sync.conftest import PG_OK, WAREHOUSES, assert_synced, connection_for, cursors, execute, query, table

ROOT = Path(__file__).resolve().parents[2]


def child(
    emu: Any, wh: WarehouseOptions, env: dict[str, str] | None = None, **extra: Any
) -> subprocess.CompletedProcess[str]:
    args = {
        "base_url": emu.base_url,
        "workspace": emu.workspace,
        "api_key": emu.api_key,
        "warehouse": dataclasses.asdict(wh),
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.sync._child", json.dumps(args)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("stage", ["extract", "normalize", "load"])
def test_killed_sync_converges_on_rerun(make_emu: Any, make_warehouse: Any, stage: str) -> None:
    emu = make_emu(records=1200)
    wh = make_warehouse("duckdb")
    run_sync(connection_for(emu), wh, objects=["company"])  # some committed state first
    emu.clock.advance(3600)
    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "after first sync"})
    result = child(emu, wh, {"CLARIFY_SYNC_CRASH_AT": stage}, page_limit=100)
    assert result.returncode in (97, 98, 99), result.stdout + result.stderr
    result = child(emu, wh, page_limit=100)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_synced(emu, wh)


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_a_replayed_first_load_job_leaves_no_copies(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    """A first load appends (no staging, no delete). A load job that ran but was not marked done runs again when
    the next run finishes its package, which would copy its rows. Nothing stops a process between those two
    steps on purpose, so the copies are made by hand while a crashed run's package is pending."""
    emu = make_emu(records=1200)
    wh = make_warehouse(kind)
    run_sync(connection_for(emu), wh, page_limit=100)  # the first load: appended
    emu.clock.advance(3600)
    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "after first sync"})
    result = child(emu, wh, {"CLARIFY_SYNC_CRASH_AT": "normalize"}, page_limit=100)
    assert result.returncode == 98, result.stdout + result.stderr  # its package waits to be loaded
    execute(
        wh,
        *(f"INSERT INTO {{ds}}.{name} SELECT * FROM {{ds}}.{name}" for name in ("company", "person", "person__tags")),
    )
    result = child(emu, wh, page_limit=100)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("company", "person"):
        assert query(wh, f"SELECT count(*) - count(DISTINCT id) AS copies FROM {{ds}}.{name}") == [{"copies": 0}]
    assert_synced(emu, wh)


def test_two_syncs_at_once(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(records=1200)
    wh = make_warehouse("duckdb")
    seen: list[subprocess.CompletedProcess[str]] = []

    def start_second(obj: str, records: int, pages: int, expected: int | None = None) -> None:
        if not seen:  # while the first holds the locks, deterministically
            seen.append(child(emu, wh, lock_timeout=0.2))

    run_sync(connection_for(emu), wh, progress=start_second, page_limit=100, parallel=False)
    second = seen[0]
    assert second.returncode == 3
    assert "another sync of this warehouse" in second.stdout and f"(pid {os.getpid()})" in second.stdout
    assert_synced(emu, wh)


def _untouched(wh: WarehouseOptions) -> tuple[Any, Any]:
    return table(wh, "person"), cursors(wh)


@pytest.fixture
def synced(make_emu: Any, make_warehouse: Any) -> tuple[Any, WarehouseOptions]:
    emu = make_emu(records=100)
    wh = make_warehouse("duckdb")
    run_sync(connection_for(emu), wh, objects=["person"])
    emu.clock.advance(3600)
    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "unsynced change"})
    return emu, wh


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


def test_wrong_key(synced: Any) -> None:
    emu, wh = synced
    before = _untouched(wh)
    with pytest.raises(ApiError) as err:
        run_sync(ClarifyConnection(emu.base_url, emu.workspace, "wrong"), wh)
    assert "api-key" in _one_line(err.value) and "CLARIFY_API_KEY" in str(err.value)
    assert _untouched(wh) == before


def test_unknown_workspace(synced: Any) -> None:
    emu, wh = synced
    before = _untouched(wh)
    with pytest.raises(ApiError) as err:
        run_sync(ClarifyConnection(emu.base_url, "nope", emu.api_key), wh)
    assert "CLARIFY_WORKSPACE" in _one_line(err.value) and "nope" in str(err.value)
    assert _untouched(wh) == before


def test_unreachable_base_url(synced: Any) -> None:
    _, wh = synced
    before = _untouched(wh)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ApiUnreachableError) as err:
        run_sync(ClarifyConnection(f"http://127.0.0.1:{port}/v1", "demo", "k"), wh)
    assert "CLARIFY_BASE_URL" in _one_line(err.value)
    assert _untouched(wh) == before


def test_unknown_object(synced: Any) -> None:
    emu, wh = synced
    before = _untouched(wh)
    with pytest.raises(ConfigError) as err:
        run_sync(connection_for(emu), wh, objects=["person", "c_nope"])
    assert "c_nope" in _one_line(err.value) and "c_sales_order" in str(err.value)
    assert _untouched(wh) == before


def test_malformed_dlt_config(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text("[sources.clarify\nworkspace = ")
    code = (
        "from sources.clarify.connection import resolve_connection\n"
        "from core.errors import ClarifySyncError\n"
        "try:\n    resolve_connection()\nexcept ClarifySyncError as e:\n    print('error:', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLARIFY_")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.startswith("error:") and "config.toml" in out.stdout, out.stdout + out.stderr
    assert len(out.stdout.strip().splitlines()) == 1


def test_unwritable_duckdb_path(synced: Any, tmp_path: Path) -> None:
    emu, wh = synced
    before = _untouched(wh)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    bad = dataclasses.replace(wh, duckdb_path=str(not_a_folder / "x.duckdb"))
    with pytest.raises(WarehouseError) as err:
        run_sync(connection_for(emu), bad)
    assert "--duckdb-path" in _one_line(err.value)
    assert _untouched(wh) == before


def test_postgres_down(synced: Any, tmp_path: Path) -> None:
    emu, wh = synced
    before = _untouched(wh)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = WarehouseOptions(
        destination="postgres",
        postgres_dsn=f"postgresql://postgres:x@127.0.0.1:{port}/test",
        dataset="clarify_down",
        pipelines_dir=wh.pipelines_dir,
    )
    with pytest.raises(WarehouseError) as err:
        run_sync(connection_for(emu), down)
    assert "--postgres-dsn" in _one_line(err.value)
    assert _untouched(wh) == before


@pytest.mark.skipif(not PG_OK, reason="no Postgres")
def test_postgres_dsn_without_password_works(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(records=50)
    wh = make_warehouse("postgres")
    run_sync(connection_for(emu), wh, objects=["user"])
    assert_synced(emu, wh, ["user"])
