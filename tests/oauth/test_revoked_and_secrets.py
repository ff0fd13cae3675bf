"""A revoked login ends a run with exit code 4 and one line, writing what a refused API key writes (a failed
run record) and nothing else; and no code or token the auth server ever issued appears in any output, log file,
dlt state (local or in the warehouse) or table, through login, syncs that renew the token, a push, status, a
nothing-changed run the probe answers with the stored login, and the revoked run."""

from __future__ import annotations

import dataclasses
import gzip
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from core.warehouse.options import WarehouseOptions
from pipelines.cli.app import app
from sources.clarify.login_store import read_login, write_login
from tests.history.test_column_controls import _cells as warehouse_cells
from tests.oauth.conftest import cli, log_in, one_error_line
from tests.sync.conftest import query

DATA = ("person", "company", "deal", "user")


def _data(wh: Any) -> dict[str, list[Any]]:
    return {name: sorted(map(str, query(wh, f'SELECT * FROM {{ds}}."{name}"'))) for name in DATA}


def _runs(wh: Any) -> list[dict[str, Any]]:
    return query(wh, "SELECT run_id, object, status, error FROM {ds}._clarify_sync_runs ORDER BY started_at")


def test_a_revoked_login_ends_in_exit_4_with_one_line_and_writes_nothing(
    make_emu: Any, make_warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = make_emu(records=100)
    wh = make_warehouse("duckdb")
    monkeypatch.setenv("CLARIFY_BASE_URL", emu.base_url)
    monkeypatch.setenv("CLARIFY_WORKSPACE", emu.workspace)
    log_in(emu)
    sync = ["sync", "--duckdb-path", wh.duckdb_path, "--objects", ",".join(DATA)]
    assert CliRunner().invoke(app, sync).exit_code == 0
    data = _data(wh)
    emu.oauth.revoke_all()  # the user took the app's access away in Clarify
    emu.clock.advance(3600)
    emu.store.update("person", emu.store.records("person")[0]["id"], {"title": "changed"})  # something to load

    def refused(args: list[str]) -> tuple[str, list[tuple[str, str]]]:
        """The one error line, and the run records the failure added (object, status)."""
        before = len(_runs(wh))
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 4 and "Traceback" not in done.output
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
        assert _data(wh) == data  # no warehouse change
        added = _runs(wh)[before:]
        assert {r["error"] for r in added} <= {lines[0].removeprefix("error: ")}
        return lines[0], sorted((r["object"], r["status"]) for r in added)

    # the run the nothing-changed probe starts, and the full sync (--reconcile): each writes what a refused API
    # key writes there today (nothing, or a failed record per object)
    for extra in ([], ["--reconcile"]):
        line, by_login = refused(sync + extra)
        assert "was refused (invalid_grant" in line and line.endswith("run `clarify-sync login`")
        monkeypatch.setenv("CLARIFY_API_KEY", "wrong")
        assert refused(sync + extra)[1] == by_login
        monkeypatch.delenv("CLARIFY_API_KEY")
    assert by_login == sorted((name, "failed") for name in DATA)


def _texts(folder: Path, skip: set[Path]) -> list[tuple[Path, str]]:
    """Every file below `folder` as text (gzip-compressed load files opened), but the DuckDB file itself (its
    tables are read cell by cell) and `skip`."""
    found = []
    for path in folder.rglob("*"):
        if not path.is_file() or path in skip or path.suffix in (".duckdb", ".wal"):
            continue
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        found.append((path, raw.decode(errors="replace")))
    return found


def test_no_token_appears_in_any_output_log_state_or_table(make_emu: Any, tmp_path: Path, state: Path) -> None:
    emu = make_emu(records=200, access_token_seconds=1)
    browser = tmp_path / "browser"
    browser.write_text(f"#!{sys.executable}\nimport sys, httpx\nhttpx.get(sys.argv[1], follow_redirects=True)\n")
    browser.chmod(0o755)
    outputs = [cli(emu, tmp_path, "login", BROWSER=str(browser))]
    path = next(state.glob("login-*.json"))
    login = read_login(path)
    write_login(path, dataclasses.replace(login, expires_at=0.0))  # type: ignore[arg-type]  (renewed at once)
    emu.clock.freeze()
    emu.config_update(clock_step=0.1)  # and again every ten requests
    warehouse = ["--duckdb-path", str(tmp_path / "wh.duckdb")]
    outputs.append(cli(emu, tmp_path, "--verbose", "sync", *warehouse))
    push = "select id, 'Head of Data' as title from clarify.person order by id limit 3"
    outputs.append(cli(emu, tmp_path, "push", "--object", "person", "--mode", "update", "--sql", push, *warehouse))
    emu.store.update("company", emu.store.records("company")[0]["id"], {"name": "Renamed"})
    outputs.append(cli(emu, tmp_path, "--verbose", "sync", *warehouse))  # a small change
    outputs.append(cli(emu, tmp_path, "sync", *warehouse, block_dlt=True))  # nothing changed: the probe's answer
    outputs.append(cli(emu, tmp_path, "status", *warehouse))
    assert [done.returncode for done in outputs] == [0] * len(outputs), [done.stderr for done in outputs]
    httpx.post(f"{emu.origin}/_emulator/oauth/revoke").raise_for_status()  # the app's access taken away
    outputs.append(cli(emu, tmp_path, "--verbose", "sync", "--reconcile", *warehouse))
    assert outputs[-1].returncode == 4 and "clarify-sync login" in one_error_line(outputs[-1])
    assert emu.oauth.report()["refreshes"] >= 3

    secrets = emu.oauth.issued()
    assert len(secrets) >= 8  # the code, and a pair per login and refresh
    said = "".join(done.stdout + done.stderr for done in outputs)
    assert "summary" in said and "auth: stored login" in said
    assert not [s for s in secrets if s in said], "a token reached the output"
    files = _texts(tmp_path, skip={path})  # the login file is the one place they belong
    assert any(p.parent == state for p, _ in files) and any("pipelines" in p.parts for p, _ in files)
    assert not [(p, s) for p, text in files for s in secrets if s in text], "a token reached a file"
    cells = warehouse_cells(WarehouseOptions(duckdb_path=str(tmp_path / "wh.duckdb")))
    assert cells and not [s for s in secrets if any(s in c for c in cells)], "a token reached the warehouse"
