"""`clarify-sync --help` and a sync where nothing changed never import dlt; a sync with a change does."""

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
    env.store.update("person", env.store.records("person")[0]["id"], {"title": "changed"})
    changed = without_dlt("sync", "--objects", "person,company")
    assert changed.returncode == 1, changed.stdout + changed.stderr  # it needed the full sync, hence dlt
    logs = "".join(p.read_text() for p in Path(os.environ["CLARIFY_SYNC_LOG_DIR"]).iterdir())
    assert "import of dlt halted" in logs
    assert CliRunner().invoke(app, ["sync", "--objects", "person,company"]).exit_code == 0
