"""Kill the push midway, rerun: no duplicate records, each row sent at most once more.

The kill is deterministic: the push runs in a subprocess whose progress callback calls `os._exit` once
`KILL_AFTER` rows have landed (no cleanup, no `finally`, DuckDB left with its WAL), exactly where a real
crash after a committed batch would leave things. An in-process variant raises from the callback instead.
With `CONCURRENCY` requests in flight, the server may hold up to that many batches the state does not know
yet (person: upserts, or creates refused as duplicates and then looked up and updated, resent once on the rerun,
no duplicate); plain creates (task) go one at a time.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipelines.push import run_push
from tests.push.conftest import DIALECTS, child_command

ROOT = Path(__file__).resolve().parents[2]
N = 1_000
KILL_AFTER = 300
BATCH = 100
CONCURRENCY = 4

CHILD = """
import json, os, sys
from pipelines.push import run_push
from core.warehouse.options import WarehouseOptions
from sources.clarify.connection import ClarifyConnection
a = json.loads(sys.argv[1])
def progress(done, batches):
    if done >= a["kill_after"]:
        os._exit(17)
run_push(ClarifyConnection(a["base_url"], a["workspace"], a["api_key"]), WarehouseOptions(**a["warehouse"]),
         object=a["object"], from_table=a["table"], batch_size=a["batch"], concurrency=a["concurrency"],
         progress=progress)
os._exit(0)
"""

SOURCES = {
    "person": """CREATE TABLE {t} AS SELECT 'u' || i || '@x.com' AS email_addresses, 'Title ' || i AS title
                 FROM {series}""",
    "task": """CREATE TABLE {t} AS SELECT 'task-' || i AS _key, 'Do thing ' || i AS title,
               CASE WHEN i % 2 = 0 THEN 'Todo' ELSE 'Done' END AS status FROM {series}""",
}


def _run_child(emu: Any, warehouse: Any, obj: str) -> int:
    argv, env = child_command(
        emu, warehouse, CHILD, object=obj, table="src", kill_after=KILL_AFTER, batch=BATCH, concurrency=CONCURRENCY
    )
    done = subprocess.run(argv, cwd=ROOT, env=env, timeout=120, capture_output=True, text=True)
    assert done.returncode == 17, done.stderr[-2000:]
    return done.returncode


def _titles(emu: Any, obj: str) -> list[str]:
    return sorted(str(r["attributes"]["title"]) for r in emu.store.records(obj))


# Plain creates of a task never carry match_on: the dialect matters for person only.
@pytest.mark.parametrize(("obj", "dialect"), [("person", d) for d in DIALECTS] + [("task", "match_on")])
def test_killed_push_reruns_without_duplicates(emu, conn, warehouse: Any, obj: str) -> None:
    warehouse.execute(SOURCES[obj].format(t=warehouse.t("src"), series=warehouse.series(N)))
    _run_child(emu, warehouse, obj)
    landed = len(emu.store.records(obj))
    assert KILL_AFTER <= landed < N  # it really stopped midway
    state_rows = warehouse.query(f"SELECT count(*) FROM {warehouse.t('_clarify_push__' + obj)}")[0][0]
    if obj == "task":  # plain creates: each committed before the next is sent
        assert state_rows == landed
    else:  # at most the batches in flight landed without being recorded
        assert state_rows <= landed <= state_rows + CONCURRENCY * BATCH

    report = run_push(conn, warehouse.options, object=obj, from_table="src")
    # Each row at most once more: the rerun sends exactly what the state does not hold.
    assert report.sent == N - state_rows and report.unchanged == state_rows and report.rejected == 0
    titles = _titles(emu, obj)
    assert len(titles) == N and len(set(titles)) == N

    # Objects without a unique field are updated through the ids kept in the state table, never re-created.
    warehouse.execute(f"UPDATE {warehouse.t('src')} SET title = title || ' (edited)' WHERE title LIKE '% 1_'")
    edited = run_push(conn, warehouse.options, object=obj, from_table="src")
    assert (edited.changed, edited.sent, edited.new) == (10, 10, 0)
    titles = _titles(emu, obj)
    assert len(titles) == N and sum(t.endswith("(edited)") for t in titles) == 10


class Crash(BaseException):
    """Stands for a crash: not an Exception, so nothing on the way up handles it."""


def test_crash_in_process_then_rerun(emu, conn, duck: Any) -> None:
    duck.execute(SOURCES["task"].format(t=duck.t("src"), series=duck.series(N)))

    def crash(done: int, batches: int) -> None:
        if done >= 500:
            raise Crash

    with pytest.raises(Crash):
        run_push(conn, duck.options, object="task", from_table="src", progress=crash)
    assert len(emu.store.records("task")) == 500
    report = run_push(conn, duck.options, object="task", from_table="src")
    assert (report.sent, report.unchanged) == (500, 500)
    assert len(set(_titles(emu, "task"))) == len(emu.store.records("task")) == N
