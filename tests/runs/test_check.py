"""`clarify-sync check`: the health gate reads `_clarify_sync_runs` and the rejects tables of a real warehouse.

Ages are measured from the recorded `finished_at` with an explicit `now`, never against the wall clock.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.errors import ApiError, ConfigError, ExitCode
from pipelines.check import failing, parse_age
from pipelines.cli.app import app
from pipelines.push import run_push
from pipelines.sync import run_sync
from sources.clarify.connection import ClarifyConnection
from tests.sync.conftest import WAREHOUSES, connection_for, query

HOUR = timedelta(hours=1)


def last_finished(wh: Any) -> Any:
    return query(wh, "SELECT max(finished_at) AS t FROM {ds}._clarify_sync_runs")[0]["t"]


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_gates_age_failure_and_rejects(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    assert failing(wh, max_age=HOUR) == [f"no runs recorded in {wh.dataset}: run `clarify-sync sync` first"]
    run_sync(connection_for(emu), wh, objects=["person", "deal"])
    done = last_finished(wh)
    assert failing(wh, max_age=HOUR, now=done + timedelta(minutes=59)) == []

    stale = failing(wh, max_age=HOUR, now=done + timedelta(hours=2, minutes=5))
    assert [line.split(":")[0] for line in stale] == ["deal (sync)", "person (sync)"]
    assert all("last successful run 2h5m ago" in line and "(allowed 1h)" in line for line in stale)

    with pytest.raises(ApiError) as failure:
        run_sync(ClarifyConnection(emu.base_url, emu.workspace, "not-the-key"), wh, objects=["person"])
    lines = failing(wh, max_age=HOUR, now=done)
    assert len(lines) == 1 and lines[0].startswith("person (sync): last run failed at ")
    assert lines[0].endswith(str(failure.value))
    run_sync(connection_for(emu), wh, objects=["person"])
    assert failing(wh, max_age=HOUR, now=last_finished(wh)) == []  # a later success clears it

    bad = "SELECT 'Badco' AS name, 'badco.example' AS domains, 'Mining' AS industry"  # not a select value
    run_push(connection_for(emu), wh, object="company", sql=bad)
    now = last_finished(wh)
    assert failing(wh, max_age=HOUR, now=now) == [
        "_clarify_push_rejects: 1 rejected row(s) wait (allowed 0): fix them and push again"
    ]
    assert failing(wh, max_age=HOUR, max_rejects=1, now=now) == []
    assert failing(wh, max_age=HOUR, commands=["timeseries sync"], max_rejects=1, now=now) == [
        "no timeseries sync runs recorded: run it first"
    ]


def test_cli_exit_codes(make_emu: Any, make_warehouse: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    emu = make_emu()
    wh = make_warehouse("duckdb")
    monkeypatch.setenv("CLARIFY_SYNC_LOG_DIR", str(Path(wh.duckdb_path).parent / "logs"))
    args = ["check", "--duckdb-path", wh.duckdb_path]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == ExitCode.UNHEALTHY == 8 and "no runs recorded" in result.output

    run_sync(connection_for(emu), wh, objects=["task"])
    result = CliRunner().invoke(app, [*args, "--max-age", "1000d"])
    assert (result.exit_code, result.output) == (0, "")  # healthy is silent: cron mails nothing

    with pytest.raises(ApiError):
        run_sync(ClarifyConnection(emu.base_url, emu.workspace, "not-the-key"), wh, objects=["task"])
    result = CliRunner().invoke(app, [*args, "--max-age", "1000d"])
    assert result.exit_code == 8 and result.output.startswith("task (sync): last run failed at ")
    assert len(result.output.strip().splitlines()) == 1

    result = CliRunner().invoke(app, [*args, "--max-age", "soon"])
    assert result.exit_code == ExitCode.SETTINGS and "is not a duration" in result.stderr


def test_parse_age() -> None:
    assert parse_age("30m") == timedelta(minutes=30)
    assert parse_age("1h30m") == timedelta(minutes=90)
    assert parse_age(" 2d ") == timedelta(days=2)
    for bad in ("", "30", "m", "1h 30x", "-5m"):
        with pytest.raises(ConfigError):
            parse_age(bad)
