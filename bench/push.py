"""Push scenarios (ours only; `clarify-sync push` has no rest_api counterpart).

- `push`: a warehouse table of person rows (unique emails) is pushed once to prime the push state
  (unmeasured), then every row is changed and the measured push sends them all: 100,000 changed
  rows (fewer when the run's size is smaller).
- `diff`: a push with nothing changed over as many rows as the run's size (1,000,000 for the large run):
  the cost of change detection alone, and it should make zero requests.
- `creates`: task rows (no unique field: a `_key` column) pushed for the first time, so every row is a plain
  create that goes one batch at a time behind its committed intent (exactly-once creates).
- `lost`: the same, but the emulator drops the connection after committing every bulk create, so each batch
  is resolved by listing the records created since its intent and matching them: the lookup's cost.
- `first`: person rows pushed for the first time (new emails every repeat): bulk creates of an object with a
  unique field, in the emulator's push dialect (`--push-dialect`): with `match_on`, or plain creates where the
  workspace refuses it (the first run learns that with one refused request and keeps it in the push state).

The push scenarios' rows carry the emulator's push dialect in `extra.push_dialect`.

All skip with a note when `clarify-sync push --help` fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import duckdb

from bench.harness import clarify_sync, cli_ok, run_measured

PUSH_ROWS = 100_000
DIFF_ROWS = 1_000_000
CREATE_ROWS = 10_000  # plain creates go one batch at a time: fewer rows keep the scenario short
BATCH = 100


class PushBench(Protocol):
    """What the push scenarios use of `bench.scenarios.Bench`."""

    records: int
    out: Path
    timeout_s: float | None
    repeats: int
    push_dialect: str
    primed: set[str]
    emu: Any

    def env(self, variant: str) -> dict[str, str]: ...
    def log(self, message: str) -> None: ...
    def skip(self, scenario: str, variant: str, reason: str) -> None: ...
    def measure(self, scenario: str, variant: str, command: list[str], records: int | None) -> tuple[Any, Any]: ...


def push_unavailable_reason() -> str:
    if not cli_ok("push", "--help"):
        return "clarify-sync push --help fails"
    return ""


PUSH_OBJECT = "person"
PUSH_DB = "push.duckdb"
DATASET = "clarify"


def push_rows(bench: PushBench) -> int:
    return min(PUSH_ROWS, bench.records)


def diff_rows(bench: PushBench) -> int:
    return min(DIFF_ROWS, bench.records)


def table_name(rows: int) -> str:
    return f"bench_push_{rows}"


def create_table(db: Path, rows: int, name: str | None = None) -> str:
    """`rows` person rows with emails unique to the table `name`, in the dataset of the push DuckDB file."""
    name = name or table_name(rows)
    with duckdb.connect(str(db)) as con:
        con.execute(f"create schema if not exists {DATASET}")
        con.execute(
            f"""create or replace table {DATASET}.{name} as
            select '{name}.' || i || '@example.com' as email_addresses,
                   'Bench title ' || i || ' v1' as title,
                   (i % 1000)::double as lead_score
            from range({rows}) t(i)"""
        )
    return name


def change_every_row(db: Path, name: str) -> None:
    """Every row gets a new title and score (again on every repeat)."""
    with duckdb.connect(str(db)) as con:
        con.execute(f"update {DATASET}.{name} set title = title || '+', lead_score = lead_score + 1")


def push_command(bench: PushBench, name: str, obj: str = PUSH_OBJECT) -> list[str]:
    return [
        *clarify_sync(),
        "push",
        "--object",
        obj,
        "--from-table",
        name,
        "--duckdb-path",
        str(bench.out / PUSH_DB),
    ]


def prime(bench: PushBench, name: str) -> bool:
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


def scenario_push(bench: PushBench) -> None:
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
    for _ in range(bench.repeats):
        change_every_row(db, name)
        row, m = bench.measure("push", "ours", push_command(bench, name), rows)
    row.extra |= {"changed_rows": rows, "push_dialect": bench.push_dialect}
    bench.primed.add(name)


def scenario_diff(bench: PushBench) -> None:
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
    for _ in range(bench.repeats):
        row, _ = bench.measure("diff", "ours", push_command(bench, name), rows)
    row.extra["unchanged_rows"] = rows
    seen = [r["requests"] for r in row.runs]
    if any(seen):
        row.note = (row.note + " " if row.note else "") + f"expected zero requests, saw {seen}"


def create_tasks(db: Path, rows: int, name: str) -> None:
    """`rows` task rows named by `_key`, in a table of their own (each scenario creates its own records)."""
    with duckdb.connect(str(db)) as con:
        con.execute(f"create schema if not exists {DATASET}")
        con.execute(
            f"""create or replace table {DATASET}.{name} as
            select '{name}-' || i as _key, 'Bench task ' || i as title,
                   case when i % 2 = 0 then 'Todo' else 'Done' end as status
            from range({rows}) t(i)"""
        )


def scenario_creates(bench: PushBench, scenario: str = "creates", lose_answers: bool = False) -> None:
    reason = push_unavailable_reason()
    if reason:
        bench.skip(scenario, "ours", reason)
        return
    rows = min(CREATE_ROWS, bench.records)
    batches = -(-rows // BATCH)
    for repeat in range(1, bench.repeats + 1):
        name = f"bench_{scenario}_{rows}_{repeat}"  # new keys every repeat: every row is a create again
        create_tasks(bench.out / PUSH_DB, rows, name)
        if lose_answers:  # every bulk create commits, then its connection drops: each batch is looked up
            faults = {"commit_then_drop": batches, "only_paths": ["/objects/task/records/bulk"]}
            bench.emu.http.post("/_emulator/faults", json=faults).raise_for_status()
        try:
            row, _ = bench.measure(scenario, "ours", push_command(bench, name, "task"), rows)
        finally:
            if lose_answers:
                bench.emu.http.post("/_emulator/faults", json={}).raise_for_status()
    row.extra["batches"] = batches


def scenario_lost(bench: PushBench) -> None:
    scenario_creates(bench, "lost", lose_answers=True)


def scenario_first(bench: PushBench) -> None:
    reason = push_unavailable_reason()
    if reason:
        bench.skip("first", "ours", reason)
        return
    rows = min(CREATE_ROWS, bench.records)
    for repeat in range(1, bench.repeats + 1):
        name = create_table(bench.out / PUSH_DB, rows, f"bench_first_{rows}_{repeat}")  # new emails: all creates
        row, _ = bench.measure("first", "ours", push_command(bench, name), rows)
    row.extra |= {"new_rows": rows, "push_dialect": bench.push_dialect}
