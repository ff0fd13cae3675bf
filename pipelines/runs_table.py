"""`_clarify_sync_runs`: one row per object per run of `sync`, `push` and `timeseries sync|push`.

Written and read over the push's direct connection (DuckDB's Python API, psycopg2), in both dialects with the
same DDL. Only DuckDB and Postgres keep run records: a lake (filesystem destination) has no SQL to append with.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from core.warehouse.options import WarehouseOptions
from core.warehouse.sql import WarehouseSQL, open_warehouse, quote

RUNS_TABLE = "_clarify_sync_runs"
REJECTS_TABLES = ("_clarify_push_rejects", "_clarify_ts_push_rejects")
COLUMNS: dict[str, str] = {
    "run_id": "TEXT NOT NULL",
    "command": "TEXT NOT NULL",  # sync, push, timeseries sync, timeseries push
    "object": "TEXT NOT NULL",  # the object slug; `timeseries` for the time-series commands
    "started_at": "TIMESTAMPTZ NOT NULL",
    "finished_at": "TIMESTAMPTZ NOT NULL",
    "seconds": "DOUBLE PRECISION",
    "status": "TEXT NOT NULL",  # succeeded or failed
    "records": "BIGINT",  # loaded (sync) or sent (push)
    "pages": "BIGINT",
    "requests": "BIGINT",
    "retries": "BIGINT",
    "rate_limited": "BIGINT",  # 429 answers
    "deleted": "BIGINT",
    "rejected": "BIGINT",
    "cursor_before": "TEXT",
    "cursor_after": "TEXT",
    "schema_changes": "TEXT",  # one line, e.g. `+nickname (text), score text→number`
    "fields": "TEXT",  # JSON {field: type} as GET /schemas declared it: the next run's "before"
    "error": "TEXT",  # the failed run's one-line error
}


@contextmanager
def connected(warehouse: WarehouseOptions, *, read_only: bool) -> Iterator[WarehouseSQL | None]:
    """A direct connection, or None where run records are not kept (a lake, or no DuckDB file to read yet)."""
    if warehouse.destination not in ("duckdb", "postgres"):
        yield None
        return
    if warehouse.is_missing():
        yield None
        return
    wh = open_warehouse(warehouse, read_only=read_only)
    try:
        yield wh
    finally:
        wh.close()


def append(warehouse: WarehouseOptions, rows: list[dict[str, Any]]) -> bool:
    """Add one run's rows in one transaction (the table is created on first use); True when written. A run
    that failed before the warehouse had its dataset leaves none: a failed first run must not create it."""
    return read_then_append(warehouse, "", lambda _before: rows)


def read_then_append(
    warehouse: WarehouseOptions, command: str, rows_after: Callable[[dict[str, dict[str, Any]]], list[dict[str, Any]]]
) -> bool:
    """`append(rows_after(last_rows(command)))` over one connection (`command` "": nothing to read)."""
    if warehouse.is_missing():
        return False
    with connected(warehouse, read_only=False) as wh:
        if wh is None or not wh.schema_exists():
            return False
        rows = rows_after(_newest(wh, command) if command else {})
        if not rows:
            return False
        columns = ", ".join(f"{quote(name)} {kind}" for name, kind in COLUMNS.items())
        wh.execute(f"CREATE TABLE IF NOT EXISTS {wh.table(RUNS_TABLE)} ({columns})")
        with wh.transaction():
            wh.insert_few(RUNS_TABLE, list(COLUMNS), [[row.get(c) for c in COLUMNS] for row in rows])
    return True


def last_rows(warehouse: WarehouseOptions, command: str) -> dict[str, dict[str, Any]]:
    """The newest row of each object for `command` (its cursor and declared fields start the next run).
    Opened for writing, as the run that asks will: DuckDB refuses a second configuration of an open file."""
    with connected(warehouse, read_only=False) as wh:
        return _newest(wh, command) if wh is not None else {}


def _newest(wh: WarehouseSQL, command: str) -> dict[str, dict[str, Any]]:
    """Per object, its newest row, with the newest `fields` and `cursor_after` known (a failed run knows
    neither); only those rows are read, however many runs the table holds."""
    if not wh.table_exists(RUNS_TABLE):
        return {}
    newest = _newest_where(wh, command, "TRUE")
    for carried in ("fields", "cursor_after"):
        known = _newest_where(wh, command, f"{quote(carried)} IS NOT NULL")
        for obj, row in newest.items():
            if row[carried] is None and obj in known:
                row[carried] = known[obj][carried]
    return newest


def _newest_where(wh: WarehouseSQL, command: str, condition: str) -> dict[str, dict[str, Any]]:
    names = ", ".join(quote(c) for c in COLUMNS)
    rows = wh.fetchall(
        f"SELECT DISTINCT ON (object) {names} FROM {wh.table(RUNS_TABLE)} "
        f"WHERE command = {wh.param} AND {condition} ORDER BY object, finished_at DESC",
        (command,),
    )
    return {row[2]: dict(zip(COLUMNS, row, strict=True)) for row in rows}


def decode_fields(text: str | None) -> dict[str, str] | None:
    return json.loads(text) if text else None


def encode_fields(fields: dict[str, str] | None) -> str | None:
    return json.dumps(fields, sort_keys=True) if fields is not None else None


def as_utc(value: datetime) -> datetime:
    """DuckDB returns TIMESTAMPTZ in the session's zone, psycopg2 with its offset: compare them as UTC."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
