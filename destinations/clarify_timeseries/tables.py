"""The push step's own tables: per-input watermarks, rejected rows with their error, signal hashes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sources.clarify_timeseries.frames import EPOCH, parse_us, to_us

WATERMARKS = "_clarify_ts_push_watermarks"
REJECTS = "_clarify_ts_push_rejects"
SIGNAL_HASHES = "_clarify_ts_push_signals"


def ensure_tables(sql: Any) -> None:
    if not sql.has_dataset():
        sql.create_dataset()
    q = sql.make_qualified_table_name
    sql.execute_sql(
        f"create table if not exists {q(WATERMARKS)} (input_id varchar primary key, "
        "last_time timestamptz not null, pushed_at timestamptz not null)"
    )
    sql.execute_sql(
        f"create table if not exists {q(REJECTS)} (kind varchar not null, input_id varchar not null, "
        "time timestamptz, value double precision, error varchar not null, trace varchar, "
        "attempts integer not null, last_failed_at timestamptz not null)"
    )
    sql.execute_sql(
        f"create table if not exists {q(SIGNAL_HASHES)} (input_id varchar primary key, "
        "hash varchar not null, saved_at timestamptz not null)"
    )


def as_us(value: Any) -> int:
    """A warehouse timestamp (a datetime, or text from a database that returns it so) in microseconds."""
    if isinstance(value, datetime):
        return to_us(value)
    if isinstance(value, str):
        return parse_us(value)
    raise ValueError(f"not a timestamp: {value!r}")


def to_dt(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def watermarks(sql: Any) -> dict[str, int]:
    rows = sql.execute_sql(f"select input_id, last_time from {sql.make_qualified_table_name(WATERMARKS)}")
    return {input_id: as_us(last) for input_id, last in rows or []}


def set_watermark(sql: Any, input_id: str, last_us: int, now: datetime) -> None:
    q = sql.make_qualified_table_name(WATERMARKS)
    sql.execute_sql(f"delete from {q} where input_id = %s", input_id)
    sql.execute_sql(
        f"insert into {q} (input_id, last_time, pushed_at) values (%s, %s, %s)", input_id, to_dt(last_us), now
    )


def point_rejects(sql: Any) -> list[tuple[str, int, float, int]]:
    """(input_id, time in microseconds, value, attempts) of rejected data points."""
    rows = sql.execute_sql(
        f"select input_id, time, value, attempts from {sql.make_qualified_table_name(REJECTS)} where kind = 'point'"
    )
    return [(input_id, as_us(time), value, attempts) for input_id, time, value, attempts in rows or []]


def clear_point_rejects(sql: Any, input_id: str, times: list[int]) -> None:
    q = sql.make_qualified_table_name(REJECTS)
    for us in times:
        sql.execute_sql(f"delete from {q} where kind = 'point' and input_id = %s and time = %s", input_id, to_dt(us))


def add_rejects(
    sql: Any,
    kind: str,
    rows: list[tuple[str, int | None, float | None]],
    error: str,
    trace: str | None,
    attempts: dict[tuple[str, int | None], int],
    now: datetime,
) -> None:
    q = sql.make_qualified_table_name(REJECTS)
    for input_id, us, value in rows:
        when = to_dt(us) if us is not None else None
        if when is None:
            sql.execute_sql(f"delete from {q} where kind = %s and input_id = %s and time is null", kind, input_id)
        else:
            sql.execute_sql(f"delete from {q} where kind = %s and input_id = %s and time = %s", kind, input_id, when)
        sql.execute_sql(
            f"insert into {q} (kind, input_id, time, value, error, trace, attempts, last_failed_at) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s)",
            kind,
            input_id,
            when,
            value,
            error[:2000],
            trace,
            attempts.get((input_id, us), 0) + 1,
            now,
        )


def signal_hashes(sql: Any) -> dict[str, str]:
    rows = sql.execute_sql(f"select input_id, hash from {sql.make_qualified_table_name(SIGNAL_HASHES)}")
    return dict(rows or [])


def set_signal_hash(sql: Any, input_id: str, digest: str, now: datetime) -> None:
    q = sql.make_qualified_table_name(SIGNAL_HASHES)
    sql.execute_sql(f"delete from {q} where input_id = %s", input_id)
    sql.execute_sql(f"insert into {q} (input_id, hash, saved_at) values (%s, %s, %s)", input_id, digest, now)
    sql.execute_sql(
        f"delete from {sql.make_qualified_table_name(REJECTS)} where kind = 'signal' and input_id = %s",
        input_id,
    )
