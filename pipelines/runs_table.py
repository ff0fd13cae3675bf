"""`_clarify_sync_runs`: one row per object per run of `sync`, `push` and `timeseries sync|push`.

Written and read over the push's direct connection (DuckDB's Python API, psycopg2), in both dialects with the
same DDL. Only DuckDB and Postgres keep run records: a lake (filesystem destination) has no SQL to append with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
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
    if not rows or warehouse.is_missing():
        return False
    with connected(warehouse, read_only=False) as wh:
        if wh is None or not wh.schema_exists():
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
        if wh is None or not wh.table_exists(RUNS_TABLE):
            return {}
        names = ", ".join(quote(c) for c in COLUMNS)
        rows = wh.fetchall(
            f"SELECT {names} FROM {wh.table(RUNS_TABLE)} WHERE command = {wh.param} ORDER BY finished_at",
            (command,),
        )
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        record = dict(zip(COLUMNS, row, strict=True))
        earlier = newest.get(record["object"], {})
        for carried in ("fields", "cursor_after"):  # a failed run knows neither: the last one known holds
            record[carried] = record[carried] if record[carried] is not None else earlier.get(carried)
        newest[record["object"]] = record
    return newest


def decode_fields(text: str | None) -> dict[str, str] | None:
    return json.loads(text) if text else None


def encode_fields(fields: dict[str, str] | None) -> str | None:
    return json.dumps(fields, sort_keys=True) if fields is not None else None


def as_utc(value: datetime) -> datetime:
    """DuckDB returns TIMESTAMPTZ in the session's zone, psycopg2 with its offset: compare them as UTC."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
