"""`clarify-sync --help`, a sync where nothing changed and one with a few changes never import dlt (DuckDB and
Postgres); a change that needs a new column does."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from pipelines.cli.app import app
from tests.cli.test_exit_codes import _closed_port, env, one_line  # noqa: F401  (env: an emulator and CLARIFY_* settings)
from tests.sync.conftest import PG_DSN, PG_OK

ROOT = Path(__file__).resolve().parents[2]


def without_dlt(*args: str) -> subprocess.CompletedProcess[str]:
    """The console script's `run` in a process where `import dlt` fails (a None entry in sys.modules)."""
    code = f"import sys; sys.modules['dlt'] = None; from pipelines.cli.app import run; run({list(args)!r})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_needs_no_dlt() -> None:
    for args in (["--help"], ["sync", "--help"], ["timeseries", "--help"]):
        done = without_dlt(*args)
        assert done.returncode == 0 and "Usage" in done.stdout, (args, done.stderr)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.skipif(not PG_OK, reason="no Postgres"))])
def warehouse(request: Any) -> Iterator[tuple[list[str], Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]]]:
    """(the sync's warehouse flags, a query of that warehouse); the DSN on the command line, as cron would pass it."""
    if request.param == "duckdb":

        def duck(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
            with duckdb.connect("clarify_sync.duckdb", read_only=True) as db:
                return db.execute(sql.replace("{ds}", "clarify"), list(params)).fetchall()

        yield [], duck
        return
    import psycopg2

    dataset = f"clarify_t_{uuid.uuid4().hex[:10]}"

    def pg(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with psycopg2.connect(PG_DSN) as con, con.cursor() as cur:
            cur.execute(sql.replace("{ds}", dataset).replace("?", "%s"), tuple(params))
            rows = cur.fetchall()
        con.close()
        return rows

    yield ["--destination", "postgres", "--postgres-dsn", PG_DSN, "--dataset", dataset], pg
    con = psycopg2.connect(PG_DSN)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{dataset}" CASCADE; DROP SCHEMA IF EXISTS "{dataset}_staging" CASCADE')
    con.close()


def test_nothing_changed_needs_no_dlt(env: Any, warehouse: Any) -> None:  # noqa: F811
    flags, query = warehouse
    sync = ["sync", "--objects", "person,company", *flags]
    assert CliRunner().invoke(app, sync).exit_code == 0
    done = without_dlt(*sync)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "summary" in done.stdout and "person" in done.stdout
    # A run the probe answered still leaves its run record, and its note stays valid for the next one.
    again = without_dlt(*sync)
    assert again.returncode == 0, again.stdout + again.stderr
    runs = query("SELECT count(DISTINCT run_id) FROM {ds}._clarify_sync_runs WHERE status = 'succeeded'", ())
    assert runs == [(3,)]

    env.clock.advance(3600)
    person = env.store.records("person")[0]["id"]
    env.store.update("person", person, {"title": "changed"})
    small = without_dlt(*sync)  # a few changed records: loaded without dlt
    assert small.returncode == 0, small.stdout + small.stderr
    assert query("SELECT title FROM {ds}.person WHERE id = ?", (person,)) == [("changed",)]

    now = env.clock.now_iso()
    stamps = {"_created_at": now, "_updated_at": now, "_created_by": "system", "_updated_by": "system"}
    bad = {**stamps, "name": "Bad Value", "lead_score": "lots"}  # a word in a number field: a new column
    env.store.insert_generated("person", [("per_badvalue", bad)])
    evolves = without_dlt(*sync)
    assert evolves.returncode == 1, evolves.stdout + evolves.stderr  # it needed dlt to add the column
    logs = "".join(p.read_text() for p in Path(os.environ["CLARIFY_SYNC_LOG_DIR"]).iterdir())
    assert "import of dlt halted" in logs
    assert CliRunner().invoke(app, sync).exit_code == 0


def test_an_unreachable_postgres_leaves_the_errors_in_their_order(env: Any, monkeypatch: Any) -> None:  # noqa: F811
    """The probe reads the Postgres note before anything else; a server it cannot reach is no note, and the sync
    says what is wrong in its own order: the API's settings first, then the warehouse."""
    dsn = f"postgresql://postgres@127.0.0.1:{_closed_port()}/test"
    monkeypatch.setenv("CLARIFY_API_KEY", "not-the-key")
    assert "API key refused" in one_line(["sync", "--destination", "postgres", "--postgres-dsn", dsn], 4)
    monkeypatch.setenv("CLARIFY_API_KEY", env.api_key)
    assert "Postgres" in one_line(["sync", "--destination", "postgres", "--postgres-dsn", dsn], 7)
