"""`clarify-sync check`: health gates for cron, read from `_clarify_sync_runs` and the push rejects tables.

An object fails the gate when its last run failed, when its last successful run is older than `max_age`, or
when it never succeeded; the warehouse fails it when a rejects table holds more than `max_rejects` rows. Each
failure is one line; the CLI turns any into exit code 8 (`ExitCode.UNHEALTHY`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from core.errors import ConfigError
from core.warehouse.options import WarehouseOptions
from core.warehouse.sql import WarehouseSQL
from pipelines.runs_table import REJECTS_TABLES, RUNS_TABLE, as_utc, connected

DEFAULT_MAX_AGE = "25h"  # a daily cron, with an hour to spare
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `1d`, or combined: `1h30m`."""
    compact = re.sub(r"\s", "", text.lower())
    if not re.fullmatch(r"(\d+(\.\d+)?[smhd])+", compact):
        raise ConfigError(f"--max-age {text!r} is not a duration: use e.g. 30m, 2h, 1d or 1h30m")
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", compact)
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def failing(
    warehouse: WarehouseOptions,
    *,
    max_age: timedelta,
    max_rejects: int = 0,
    commands: Sequence[str] = (),
    now: datetime | None = None,
) -> list[str]:
    """One line per failing object (and per rejects table over the limit); empty when all is healthy."""
    if warehouse.destination not in ("duckdb", "postgres"):
        raise ConfigError("check reads run records from duckdb or postgres: pass --destination duckdb|postgres")
    now = now or datetime.now(UTC)
    with connected(warehouse, read_only=True) as wh:
        if wh is None or not wh.table_exists(RUNS_TABLE):
            return [f"no runs recorded in {warehouse.dataset}: run `clarify-sync sync` first"]
        lines = _run_lines(wh, max_age, commands, now)
        lines += _reject_lines(wh, max_rejects)
    return lines


def _run_lines(wh: WarehouseSQL, max_age: timedelta, commands: Sequence[str], now: datetime) -> list[str]:
    runs = wh.table(RUNS_TABLE)
    rows = wh.fetchall(
        "SELECT r.command, r.object, r.status, r.finished_at, r.error, g.ok_at FROM "
        f"(SELECT command, object, max(finished_at) AS last_at, "
        f"max(CASE WHEN status = 'succeeded' THEN finished_at END) AS ok_at FROM {runs} GROUP BY command, object) g "
        f"JOIN {runs} r ON r.command = g.command AND r.object = g.object AND r.finished_at = g.last_at "
        "ORDER BY r.command, r.object"
    )
    lines: list[str] = []
    for command, obj, status, finished, error, ok_at in rows:
        if commands and command not in commands:
            continue
        who = f"{'all objects' if obj == '*' else obj} ({command})"
        if status != "succeeded":
            lines.append(f"{who}: last run failed at {_stamp(finished)}: {error}")
        elif obj != "*" and now - as_utc(ok_at) > max_age:
            ago = _duration(now - as_utc(ok_at))
            lines.append(f"{who}: last successful run {ago} ago, at {_stamp(ok_at)} (allowed {_duration(max_age)})")
    if commands and not any(r[0] in commands for r in rows):
        lines.append(f"no {' or '.join(commands)} runs recorded: run it first")
    return lines


def _reject_lines(wh: WarehouseSQL, max_rejects: int) -> list[str]:
    lines = []
    for table in REJECTS_TABLES:
        if not wh.table_exists(table):
            continue
        count = int(wh.fetchall(f"SELECT count(*) FROM {wh.table(table)}")[0][0])
        if count > max_rejects:
            lines.append(f"{table}: {count} rejected row(s) wait (allowed {max_rejects}): fix them and push again")
    return lines


def _stamp(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%SZ")


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return "".join(parts) or f"{seconds}s"
