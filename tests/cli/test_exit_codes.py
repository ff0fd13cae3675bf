"""Every kind of failure ends in one line on stderr and its documented exit code, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.errors import ExitCode
from pipelines.cli.app import app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator_factory: Any) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.setenv("CLARIFY_SYNC_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("CLARIFY_ACCESS_TOKEN", raising=False)
    emu = emulator_factory(records=50)
    monkeypatch.setenv("CLARIFY_BASE_URL", emu.base_url)
    monkeypatch.setenv("CLARIFY_WORKSPACE", emu.workspace)
    monkeypatch.setenv("CLARIFY_API_KEY", emu.api_key)
    return emu


def one_line(args: list[str], code: int) -> str:
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.output + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.exit_code == code, (result.exit_code, result.stderr)
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_settings(env: Any) -> None:
    assert "unknown object(s) nope" in one_line(["sync", "--objects", "nope"], ExitCode.SETTINGS)
    assert "--since" in one_line(["sync", "--since", "yesterday-ish"], ExitCode.SETTINGS)


def test_authentication(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFY_API_KEY", "wrong")
    assert "API key refused" in one_line(["sync"], ExitCode.AUTHENTICATION)


def test_api_unavailable(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFY_BASE_URL", f"http://127.0.0.1:{_closed_port()}/v1")
    assert "CLARIFY_BASE_URL" in one_line(["sync"], ExitCode.API_UNAVAILABLE)


def test_rows_rejected(env: Any) -> None:
    assert CliRunner().invoke(app, ["sync", "--objects", "person"]).exit_code == 0
    line = one_line(
        ["push", "--object", "person", "--mode", "update", "--sql", "select 'per_nope' as id, 'x' as title"],
        ExitCode.ROWS_REJECTED,
    )
    assert "1 row(s) rejected" in line


def test_warehouse(env: Any, tmp_path: Path) -> None:
    line = one_line(["sync", "--duckdb-path", str(tmp_path / "missing" / "wh.duckdb")], ExitCode.WAREHOUSE)
    assert "does not exist" in line


def test_emulator_port_taken(env: Any) -> None:
    port = int(env.base_url.rsplit(":", 1)[1].split("/")[0])
    assert "pass another --port" in one_line(["emulator", "--port", str(port), "--records", "0"], ExitCode.SETTINGS)


def test_internal_error_names_its_log_and_verbose_prints_the_traceback(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing real raises a bug on purpose: replace the sync with one that does.
    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("no such thing")

    monkeypatch.setattr("pipelines.sync.run_sync", broken)
    line = one_line(["sync"], ExitCode.INTERNAL)
    assert "internal error (KeyError: 'no such thing')" in line and "--verbose" in line
    log = Path(line.split("the full traceback is in ", 1)[1].split(";", 1)[0])
    assert log.parent == tmp_path / "logs" and "Traceback" in log.read_text() and "broken" in log.read_text()

    verbose = CliRunner().invoke(app, ["--verbose", "sync"])
    assert verbose.exit_code == ExitCode.INTERNAL and "Traceback" in verbose.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sync", "--bogus"], "No such option '--bogus': see `clarify-sync sync --help`"),
        (["sync", "--lag-seconds", "-1"], "Invalid value for '--lag-seconds'"),
        (["nope"], "No such command 'nope': see `clarify-sync --help`"),
    ],
)
def test_usage_errors_are_one_line_from_the_console_script(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.cli.app import run

    with pytest.raises(SystemExit) as exit_:
        run(args)
    err = capsys.readouterr().err
    assert exit_.value.code == ExitCode.SETTINGS and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and message in err, err
