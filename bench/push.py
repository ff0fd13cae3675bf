"""Push scenarios (ours only; `clarify-sync push` has no rest_api counterpart).

- `push`: a warehouse table of person rows (unique emails) is pushed once to prime the push state
  (unmeasured), then every row is changed and the measured push sends them all: 100,000 changed
  rows (fewer when the run's size is smaller).
- `diff`: a push with nothing changed over as many rows as the run's size (1,000,000 for the large run):
  the cost of change detection alone, and it should make zero requests.

Both skip with a note until the `clarify-sync push` command exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from bench.harness import run_measured

if TYPE_CHECKING:
    from bench.scenarios import Bench

PUSH_OBJECT = "person"
PUSH_DB = "push.duckdb"
DATASET = "clarify"


def push_rows(bench: Bench) -> int:
    from bench.scenarios import PUSH_ROWS

    return min(PUSH_ROWS, bench.records)


def diff_rows(bench: Bench) -> int:
    from bench.scenarios import DIFF_ROWS

    return min(DIFF_ROWS, bench.records)


def table_name(rows: int) -> str:
    return f"bench_push_{rows}"


def create_table(db: Path, rows: int) -> str:
    """`rows` person rows with unique emails, in the dataset of the push DuckDB file."""
    name = table_name(rows)
    with duckdb.connect(str(db)) as con:
        con.execute(f"create schema if not exists {DATASET}")
        con.execute(
            f"""create or replace table {DATASET}.{name} as
            select 'bench.push.' || i || '@example.com' as email_addresses,
                   'Bench title ' || i || ' v1' as title,
                   (i % 1000)::double as lead_score
            from range({rows}) t(i)"""
        )
    return name


def change_every_row(db: Path, name: str) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute(f"update {DATASET}.{name} set title = replace(title, ' v1', ' v2'), lead_score = lead_score + 1")


def push_command(bench: Bench, name: str) -> list[str]:
    from bench.scenarios import clarify_sync

    return [
        *clarify_sync(),
        "push",
        "--object",
        PUSH_OBJECT,
        "--from-table",
        name,
        "--duckdb-path",
        str(bench.out / PUSH_DB),
    ]


def prime(bench: Bench, name: str) -> bool:
    """The first push of a table (every row new): sets up the push state, not measured."""
    m = run_measured(
        f"setup-push-{name}",
        push_command(bench, name),
        env=bench.env("ours"),
        log_dir=bench.out / "logs",
        timeout_s=bench.timeout_s,
    )
    if not m.ok:
        bench.log(f"  priming push of {name} failed: {m.tail(3)}")
    return m.ok


def scenario_push(bench: Bench) -> None:
    from bench.scenarios import push_unavailable_reason

    reason = push_unavailable_reason()
    if reason:
        bench.skip("push", "ours", reason)
        return
    rows = push_rows(bench)
    db = bench.out / PUSH_DB
    name = create_table(db, rows)
    if not prime(bench, name):
        bench.skip("push", "ours", "the priming push failed (see logs/setup-push-*.log)")
        return
    change_every_row(db, name)
    row, m = bench.measure("push", "ours", push_command(bench, name), rows)
    row.extra["changed_rows"] = rows
    bench.primed.add(name)


def scenario_diff(bench: Bench) -> None:
    from bench.scenarios import push_unavailable_reason

    reason = push_unavailable_reason()
    if reason:
        bench.skip("diff", "ours", reason)
        return
    rows = diff_rows(bench)
    name = table_name(rows)
    if name not in bench.primed:
        create_table(bench.out / PUSH_DB, rows)
        if not prime(bench, name):
            bench.skip("diff", "ours", "the priming push failed (see logs/setup-push-*.log)")
            return
        bench.primed.add(name)
    row, _ = bench.measure("diff", "ours", push_command(bench, name), rows)
    row.extra["unchanged_rows"] = rows
    if row.requests:
        row.note = (row.note + " " if row.note else "") + f"expected zero requests, saw {row.requests}"
