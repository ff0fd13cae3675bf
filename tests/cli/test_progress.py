"""What a person sees while a sync runs: the expected total from the first page, and under cron one line per
object at its start and one at its end with its true counts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from core.warehouse.options import WarehouseOptions
from pipelines.cli.app import app
from pipelines.cli.console import ProgressReporter
from pipelines.sync import run_sync
from sources.clarify.connection import ClarifyConnection


def test_first_page_gives_the_total_and_bars_fill_up_to_it(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(records=600)
    people = len(emu.store.records("person"))
    calls: list[tuple[int, int | None]] = []
    reporter = ProgressReporter(interactive=True)

    def progress(obj: str, records: int, pages: int, expected: int | None = None) -> None:
        reporter(obj, records, pages, expected)
        if obj == "person":
            calls.append((records, expected))

    wh = WarehouseOptions(duckdb_path=str(tmp_path / "wh.duckdb"), pipelines_dir=str(tmp_path / "p"))
    run_sync(
        ClarifyConnection(emu.base_url, emu.workspace, emu.api_key),
        wh,
        objects=["person"],
        progress=progress,
        page_limit=50,
    )

    assert len(calls) > 2 and all(expected == people for _, expected in calls)
    assert calls[0][0] == 50 and calls[-1][0] == people  # the bar moves page by page, it is not full at once
    task = reporter._progress.tasks[0]
    assert (task.completed, task.total) == (people, people)


def test_cron_lines_show_each_objects_true_counts(emulator_factory: Any, tmp_path: Path, monkeypatch: Any) -> None:
    emu = emulator_factory(records=1200)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.setenv("CLARIFY_BASE_URL", emu.base_url)
    monkeypatch.setenv("CLARIFY_WORKSPACE", emu.workspace)
    monkeypatch.setenv("CLARIFY_API_KEY", emu.api_key)

    result = CliRunner().invoke(app, ["sync"])

    assert result.exit_code == 0, result.output
    for slug in ("person", "company", "user"):
        count = len(emu.store.records(slug))
        lines = [line for line in result.stdout.splitlines() if line.startswith(f"{slug}: ")]
        assert lines[0] == f"{slug}: started, {count:,} to read", lines
        assert re.fullmatch(rf"{slug}: done, {count:,} records in \d+ pages?, \d+\.\d s", lines[1]), lines
        assert len(lines) == 2
