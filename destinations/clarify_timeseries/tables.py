"""The push step's own tables: per-input watermarks, rejected rows with their error, signal hashes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.timefmt import from_us, parse_us, to_us
from core.warehouse.sql import WarehouseSQL
from destinations.common.tables import ensure_tables as ensure

WATERMARKS = "_clarify_ts_push_watermarks"
REJECTS = "_clarify_ts_push_rejects"
SIGNAL_HASHES = "_clarify_ts_push_signals"


def ensure_tables(wh: WarehouseSQL) -> None:
    ensure(
        wh,
        {
            WATERMARKS: "input_id varchar primary key, last_time {ts} not null, pushed_at {ts} not null",
            REJECTS: "kind varchar not null, input_id varchar not null, time {ts}, value double precision, "
            "error varchar not null, trace varchar, attempts integer not null, last_failed_at {ts} not null",
            SIGNAL_HASHES: "input_id varchar primary key, hash varchar not null, saved_at {ts} not null",
        },
    )


def as_us(value: Any) -> int:
    """A warehouse timestamp (a datetime, or text from a database that returns it so) in microseconds."""
    if isinstance(value, datetime):
        return to_us(value)
    if isinstance(value, str):
        return parse_us(value)
    raise ValueError(f"not a timestamp: {value!r}")


def watermarks(wh: WarehouseSQL) -> dict[str, int]:
    rows = wh.fetchall(f"select input_id, last_time from {wh.table(WATERMARKS)}")
    return {input_id: as_us(last) for input_id, last in rows}


def set_watermark(wh: WarehouseSQL, input_id: str, last_us: int, now: datetime) -> None:
    q, p = wh.table(WATERMARKS), wh.param
    wh.execute(f"delete from {q} where input_id = {p}", (input_id,))
    wh.execute(
        f"insert into {q} (input_id, last_time, pushed_at) values ({p}, {p}, {p})", (input_id, from_us(last_us), now)
    )


def point_rejects(wh: WarehouseSQL) -> list[tuple[str, int, float, int]]:
    """(input_id, time in microseconds, value, attempts) of rejected data points."""
    rows = wh.fetchall(f"select input_id, time, value, attempts from {wh.table(REJECTS)} where kind = 'point'")
    return [(input_id, as_us(time), value, attempts) for input_id, time, value, attempts in rows]


def clear_point_rejects(wh: WarehouseSQL, input_id: str, times: list[int]) -> None:
    q, p = wh.table(REJECTS), wh.param
    for us in times:
        wh.execute(f"delete from {q} where kind = 'point' and input_id = {p} and time = {p}", (input_id, from_us(us)))


def add_rejects(
    wh: WarehouseSQL,
    kind: str,
    rows: list[tuple[str, int | None, float | None]],
    error: str,
    trace: str | None,
    attempts: dict[tuple[str, int | None], int],
    now: datetime,
) -> None:
    q, p = wh.table(REJECTS), wh.param
    for input_id, us, value in rows:
        when = from_us(us) if us is not None else None
        if when is None:
            wh.execute(f"delete from {q} where kind = {p} and input_id = {p} and time is null", (kind, input_id))
        else:
            wh.execute(f"delete from {q} where kind = {p} and input_id = {p} and time = {p}", (kind, input_id, when))
        wh.execute(
            f"insert into {q} (kind, input_id, time, value, error, trace, attempts, last_failed_at) "
            f"values ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
            (kind, input_id, when, value, error[:2000], trace, attempts.get((input_id, us), 0) + 1, now),
        )


def signal_hashes(wh: WarehouseSQL) -> dict[str, str]:
    return {str(k): str(v) for k, v in wh.fetchall(f"select input_id, hash from {wh.table(SIGNAL_HASHES)}")}


def set_signal_hash(wh: WarehouseSQL, input_id: str, digest: str, now: datetime) -> None:
    q, p = wh.table(SIGNAL_HASHES), wh.param
    wh.execute(f"delete from {q} where input_id = {p}", (input_id,))
    wh.execute(f"insert into {q} (input_id, hash, saved_at) values ({p}, {p}, {p})", (input_id, digest, now))
    wh.execute(f"delete from {wh.table(REJECTS)} where kind = 'signal' and input_id = {p}", (input_id,))
