"""`clarify-sync status` shows how each object is read (incremental or cursorless) and since when."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from pipelines.cli import console as cli_console
from pipelines.cli.app import app
from tests.cli.test_exit_codes import env  # noqa: F401  (an emulator and CLARIFY_* settings)


def test_status_shows_each_objects_cursor_mode(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(cli_console.console, "width", 200)  # a terminal wide enough for every cell, whatever runs us
    env.config_update(bare_objects=frozenset({"user"}))
    assert CliRunner().invoke(app, ["sync", "--objects", "person,user"]).exit_code == 0

    result = CliRunner().invoke(app, ["status"])

    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line.split() for line in result.output.splitlines() if line.strip().startswith("│")}
    assert rows["user"][3] == "cursorless" and rows["person"][3] == "incremental"
    assert all(row[5].startswith("20") and row[5].endswith("Z") for row in rows.values())  # since when
