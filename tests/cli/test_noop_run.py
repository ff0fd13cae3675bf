"""`clarify-sync --help`, a sync where nothing changed and one with a few changes never import dlt; a change
that needs a new column does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from pipelines.cli.app import app
from tests.cli.test_exit_codes import env  # noqa: F401  (the fixture: an emulator and CLARIFY_* settings)

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


def test_nothing_changed_needs_no_dlt(env: Any) -> None:  # noqa: F811
    assert CliRunner().invoke(app, ["sync", "--objects", "person,company"]).exit_code == 0
    done = without_dlt("sync", "--objects", "person,company")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "summary" in done.stdout and "person" in done.stdout
    # A run the probe answered still leaves its run record, and its note stays valid for the next one.
    again = without_dlt("sync", "--objects", "person,company")
    assert again.returncode == 0, again.stdout + again.stderr
    with duckdb.connect("clarify_sync.duckdb", read_only=True) as db:
        runs = db.execute("SELECT count(DISTINCT run_id) FROM clarify._clarify_sync_runs WHERE status = 'succeeded'")
        assert runs.fetchall() == [(3,)]

    env.clock.advance(3600)
    person = env.store.records("person")[0]["id"]
    env.store.update("person", person, {"title": "changed"})
    small = without_dlt("sync", "--objects", "person,company")  # a few changed records: loaded without dlt
    assert small.returncode == 0, small.stdout + small.stderr
    with duckdb.connect("clarify_sync.duckdb", read_only=True) as db:
        titles = db.execute("SELECT title FROM clarify.person WHERE id = ?", [person]).fetchall()
        assert titles == [("changed",)]

    now = env.clock.now_iso()
    stamps = {"_created_at": now, "_updated_at": now, "_created_by": "system", "_updated_by": "system"}
    bad = {**stamps, "name": "Bad Value", "lead_score": "lots"}  # a word in a number field: a new column
    env.store.insert_generated("person", [("per_badvalue", bad)])
    evolves = without_dlt("sync", "--objects", "person,company")
    assert evolves.returncode == 1, evolves.stdout + evolves.stderr  # it needed dlt to add the column
    logs = "".join(p.read_text() for p in Path(os.environ["CLARIFY_SYNC_LOG_DIR"]).iterdir())
    assert "import of dlt halted" in logs
    assert CliRunner().invoke(app, ["sync", "--objects", "person,company"]).exit_code == 0
