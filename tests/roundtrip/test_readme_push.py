"""The README's "Push back to Clarify: a worked example", run as written through the CLI (typer's CliRunner).

The `sh` block's `clarify-sync` commands run in order against an emulator (the `emulator` line and the
`export` line are what this test sets up itself: the server, and the three variables pointing at it),
from a fresh folder so the default DuckDB file `clarify_sync.duckdb` is used. Then the `sql` block runs
against that file and must show the scores the push's SQL computed, as Clarify holds them.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from pipelines.cli.app import app

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "## Push back to Clarify: a worked example"


def _section() -> str:
    text = README.read_text()
    assert HEADING in text, f"README.md lost its section {HEADING!r}"
    body = text.split(HEADING, 1)[1]
    return re.split(r"\n## ", body, maxsplit=1)[0]


def _blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


def _commands(block: str) -> list[list[str]]:
    """Shell lines split like the shell would (a quoted argument may span lines)."""
    commands, pending = [], ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        pending = ""
        if words:
            commands.append([w for w in words if w != "&"])
    assert not pending, "unbalanced quotes in the README's sh block"
    return commands


def test_readme_push_example_runs_as_written(
    emulator_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = _section()
    (sh,) = _blocks(section, "sh")
    (sql,) = _blocks(section, "sql")
    commands = _commands(sh)
    assert commands[0][:2] == ["clarify-sync", "emulator"] and commands[1][0] == "export"
    records = int(commands[0][commands[0].index("--records") + 1])
    emu = emulator_factory(records=records, rate_limit=None)
    settings = dict(pair.split("=", 1) for pair in commands[1][1:])
    assert settings == {
        "CLARIFY_BASE_URL": "http://127.0.0.1:8765/v1",
        "CLARIFY_WORKSPACE": emu.workspace,
        "CLARIFY_API_KEY": emu.api_key,
    }
    monkeypatch.setenv("CLARIFY_BASE_URL", emu.base_url)  # the same emulator, on this test's own port
    monkeypatch.setenv("CLARIFY_WORKSPACE", emu.workspace)
    monkeypatch.setenv("CLARIFY_API_KEY", emu.api_key)
    monkeypatch.chdir(tmp_path)

    runner = CliRunner()
    pushes = []
    for i, words in enumerate(commands[2:]):
        assert words[0] == "clarify-sync", words
        if words[1] == "push" and i:
            emu.clock.advance(3600)  # the push's writes fall after the sync cursor, beyond its lag window
        result = runner.invoke(app, words[1:])
        assert result.exit_code == 0, f"{shlex.join(words)}\n{result.output}"
        if words[1] == "push":
            pushes.append(words[words.index("--sql") + 1])
    assert len(pushes) == 1

    db = tmp_path / "clarify_sync.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        computed = dict(con.execute(pushes[0]).fetchall())
        shown = con.execute(sql).fetchall()
        synced = dict(con.execute("SELECT id, lead_score FROM clarify.person").fetchall())
    people = {str(r["id"]): r["attributes"] for r in emu.store.records("person")}
    assert len(computed) == len(people) > 0
    for rid, score in computed.items():
        assert people[rid]["lead_score"] == score  # in Clarify
        assert synced[rid] == score  # and back in the warehouse
    top = sorted(computed.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [(r[0], r[2]) for r in shown] == top

    # Running the push again sends nothing, and makes no request.
    before = sum(emu.stats.snapshot().values())
    (push_words,) = [w for w in commands[2:] if w[1] == "push"]
    result = runner.invoke(app, push_words[1:])
    assert result.exit_code == 0, result.output
    assert sum(emu.stats.snapshot().values()) == before
