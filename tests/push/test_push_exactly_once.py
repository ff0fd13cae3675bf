"""Plain creates (task, meeting: no unique field) land exactly once when the answer is lost.

The emulator commits a bulk create and then drops the connection, answers 5xx, cuts the body short, or holds
the answer past the client's timeout; or it SIGKILLs the pusher (a subprocess) once the Nth bulk create is
committed, N drawn from a fixed seed. Each time the push must find out what the server did (records created
since its intent, matched on the pushed values), adopt those, and send only the rest: one record per row.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core.errors import ApiError
from core.http import RetryPolicy
from pipelines.push import run_push
from tests.conftest import killed_once_committed
from tests.push.conftest import child_command

ROOT = Path(__file__).resolve().parents[2]
N = 250
BATCH = 100

SOURCES = {
    "task": """CREATE TABLE {t} AS SELECT 'task-' || i AS _key, 'Do thing ' || i AS title,
               CASE WHEN i % 2 = 0 THEN 'Todo' ELSE 'Done' END AS status FROM {series}""",
    # A plain VARCHAR for the `participants` collection, and several rows with the very same values.
    "meeting": """CREATE TABLE {t} AS SELECT 'm-' || i AS _key, 'Meeting ' || (i % 200) AS title,
                  'P' || (i % 200) || '@Example.com' AS participants,
                  TIMESTAMP '2026-01-05 09:00:00' + (i % 200) * INTERVAL '1 hour' AS start_time FROM {series}""",
}
FAULTS = ("commit_then_drop", "commit_then_5xx", "hold_answer", "truncate_body")
# The held answer outlasts the client's timeout by far: the outcome is unknown, never a race.
FAST_TIMEOUT = RetryPolicy(timeout=1.0)
NO_RETRY = RetryPolicy(max_attempts=1)


def _source(warehouse: Any, obj: str, n: int) -> None:
    warehouse.execute(SOURCES[obj].format(t=warehouse.t("src"), series=warehouse.series(n)))


def _assert_one_record_per_row(emu: Any, warehouse: Any, obj: str, n: int) -> None:
    records = {r["id"]: r["attributes"] for r in emu.store.records(obj)}
    assert len(records) == n
    state = warehouse.query(f"SELECT key, clarify_id FROM {warehouse.t('_clarify_push__' + obj)}")
    assert len(state) == n and len({rid for _, rid in state}) == n and {rid for _, rid in state} == set(records)
    rows = dict(warehouse.query(f"SELECT _key, title FROM {warehouse.t('src')}"))
    assert all(records[rid]["title"] == rows[key] for key, rid in state)  # each row's record, no swap
    assert warehouse.query(f"SELECT count(*) FROM {warehouse.t('_clarify_push_intents')}")[0][0] == 0


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("obj", ["task", "meeting"])
def test_lost_answer_is_looked_up_not_resent(emu, conn, warehouse: Any, obj: str, fault: str) -> None:
    _source(warehouse, obj, N)
    emu.faults.set(**{fault: 2, "hold_seconds": 3.0, "only_paths": [f"/objects/{obj}/records/bulk"]})
    report = run_push(conn, warehouse.options, object=obj, from_table="src", batch_size=BATCH, retry=FAST_TIMEOUT)
    assert report.ok and report.sent == N and report.adopted == 2 * BATCH
    assert emu.faults.current().__dict__[fault] == 0  # both faults really struck
    _assert_one_record_per_row(emu, warehouse, obj, N)
    again = run_push(conn, warehouse.options, object=obj, from_table="src")
    assert (again.sent, again.unchanged, again.requests) == (0, N, 0)


def test_failing_server_then_rerun(emu, conn, duck: Any) -> None:
    """5xx before anything is written, on every try: nothing found, resent a few times, then the run stops with
    the intent kept; the rerun finds nothing for it, forgets it and creates each row once."""
    _source(duck, "task", N)
    emu.faults.set(error_rate=1.0, only_paths=["/objects/task/records/bulk"])
    with pytest.raises(ApiError, match="kept failing"):
        run_push(conn, duck.options, object="task", from_table="src", batch_size=BATCH, retry=NO_RETRY)
    assert len(emu.store.records("task")) == 0
    assert duck.query(f"SELECT count(*) FROM {duck.t('_clarify_push_intents')}")[0][0] == BATCH
    emu.faults.clear()
    report = run_push(conn, duck.options, object="task", from_table="src", batch_size=BATCH)
    assert report.ok and report.sent == N and report.adopted == 0
    _assert_one_record_per_row(emu, duck, "task", N)


CHILD = """
import json, sys
from pipelines.push import run_push
from core.warehouse.options import WarehouseOptions
from sources.clarify.connection import ClarifyConnection
a = json.loads(sys.argv[1])
sys.stdin.readline()  # the test arms the emulator with this process's pid first
run_push(ClarifyConnection(a["base_url"], a["workspace"], a["api_key"]), WarehouseOptions(**a["warehouse"]),
         object=a["object"], from_table="src", batch_size=a["batch"])
"""


def _killed_child(emu: Any, warehouse: Any, obj: str, kill_on: int) -> None:
    argv, env = child_command(emu, warehouse, CHILD, object=obj, batch=BATCH)
    child = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed_once_committed(emu, child, f"/objects/{obj}/records/bulk", kill_on)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("obj", ["task", "meeting"])
def test_sigkill_after_commit_then_rerun(emu, conn, warehouse: Any, obj: str, seed: int) -> None:
    """Killed once the Nth bulk create is committed, before its answer is read: the rerun adopts that batch."""
    n = 600
    kill_on = random.Random(f"{obj}-{seed}").randint(1, n // BATCH)
    _source(warehouse, obj, n)
    _killed_child(emu, warehouse, obj, kill_on)
    assert len(emu.store.records(obj)) == kill_on * BATCH  # the killed batch is on the server, not in state
    report = run_push(conn, warehouse.options, object=obj, from_table="src", batch_size=BATCH)
    assert report.ok and report.adopted == BATCH and report.sent == n - kill_on * BATCH
    _assert_one_record_per_row(emu, warehouse, obj, n)
