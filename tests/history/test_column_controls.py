"""Column controls, run as a user would: `.dlt/config.toml` excludes a person's phone numbers and title and
hashes the email addresses (salt in `.dlt/secrets.toml`), and `clarify-sync --verbose sync` runs twice.
Known values planted in the emulator must then appear nowhere: not in any cell of any table of the dataset
(staging included), not in dlt's state (the warehouse's copy decompressed, and the local one), not in any
file dlt keeps, not in the command's output; the hashes are the documented HMAC, identical in both runs."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dlt.common.versioned_state import decompress_state

from core.errors import ConfigError
from sources.clarify.controls import load_controls
from tests.sync.conftest import PG_DSN, WAREHOUSES, query

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SALT = "test-salt-7c1d"
EMAIL = "Planted.Person.e4b2@Example.com"
TITLE = "Planted Title e4b2"
PHONE = "+1 555 0100 4e4b2"
CONFIG = """
[sources.clarify.columns.person]
exclude = ["phone_numbers", "title"]
hash = ["email_addresses"]
"""


def _cli(tmp: Path, emu: Any, wh: Any, *args: str) -> str:
    env = {
        **os.environ,
        "CLARIFY_BASE_URL": emu.base_url,
        "CLARIFY_WORKSPACE": emu.workspace,
        "CLARIFY_API_KEY": emu.api_key,
        "CLARIFY_SYNC_LOG_DIR": str(tmp / "logs"),
    }
    env.pop("RUNTIME__LOG_LEVEL", None)  # --verbose sets dlt's INFO log
    where = (
        ["--duckdb-path", wh.duckdb_path]
        if wh.destination == "duckdb"
        else ["--destination", "postgres", "--postgres-dsn", PG_DSN, "--dataset", wh.dataset]
    )
    result = subprocess.run(
        [sys.executable, "-m", "pipelines", "--verbose", "sync", "--objects", "person,company", *where, *args],
        cwd=tmp,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def _cells(wh: Any) -> list[str]:
    """Every value of every table in the dataset and its staging dataset, as text; dlt's state decompressed."""
    if wh.destination == "duckdb":
        tables = query(wh, "SELECT table_schema, table_name FROM information_schema.tables")
    else:
        tables = query(
            wh,
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('{ds}', '{ds}_staging')",
        )
    cells: list[str] = []
    for t in tables:
        for row in query(wh, f'SELECT * FROM "{t["table_schema"]}"."{t["table_name"]}"'):
            cells.extend(str(v) for v in row.values())
            if t["table_name"] == "_dlt_pipeline_state":
                cells.append(str(decompress_state(row["state"])))
    return cells


def _digest(text: str) -> str:
    return hmac.new(SALT.encode(), text.strip().lower().encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_excluded_and_hashed_values_appear_nowhere(
    make_emu: Any, make_warehouse: Any, kind: str, tmp_path: Path
) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(CONFIG)
    (tmp_path / ".dlt" / "secrets.toml").write_text(f'[sources.clarify]\nhash_salt = "{SALT}"\n')
    person = emu.store.records("person")[0]["id"]
    emu.store.update(
        "person", person, {"email_addresses": {"items": [EMAIL]}, "title": TITLE, "phone_numbers": {"items": [PHONE]}}
    )

    output = _cli(tmp_path, emu, wh)
    emu.clock.advance(3600)
    emu.store.update("person", person, {"lead_score": 42})  # the second run reloads the planted person
    output += _cli(tmp_path, emu, wh, "--reconcile")
    assert "person" in output  # the captured output is the run's (summary, dlt's INFO log)

    planted = [EMAIL, EMAIL.lower(), "e4b2@", TITLE, PHONE, SALT]
    cells = _cells(wh)
    for value in planted:
        assert not any(value.lower() in c.lower() for c in cells), f"{value!r} reached the warehouse"
        assert value.lower() not in output.lower(), f"{value!r} reached the output"
    # dlt's local folder (state.json, schemas, load packages of both runs), the logs; .dlt holds the config.
    for path in tmp_path.rglob("*"):
        if path.is_file() and ".dlt" not in path.parts and path.suffix not in (".duckdb", ".wal"):
            text = path.read_bytes().decode(errors="replace").lower()
            assert not any(v.lower() in text for v in planted), f"a planted value is in {path}"

    columns = query(wh, "SELECT * FROM {ds}.person LIMIT 1")[0]
    assert "title" not in columns and not any(c.startswith("phone") for c in columns)
    assert not query(wh, "SELECT * FROM {ds}.person__phone_numbers")  # no table for an excluded collection
    hashes = query(wh, "SELECT value FROM {ds}.person__email_addresses WHERE person_id = '" + person + "'")
    assert [r["value"] for r in hashes] == [_digest(EMAIL)]  # stable: the same after the second run
    every = query(wh, "SELECT value FROM {ds}.person__email_addresses")
    assert all(len(r["value"]) == 64 for r in every)
    section = README.read_text().split("## Column controls", 1)[1].split("\n## ", 1)[0]
    (example,) = re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)
    rows = query(wh, example.replace("clarify.", "{ds}."))
    assert rows and all(len(r["email_hash"]) == 64 for r in rows)


def test_a_hashed_field_without_salt_or_a_protected_field_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__CLARIFY__COLUMNS__PERSON__HASH", '["email_addresses"]')
    monkeypatch.delenv("SOURCES__CLARIFY__HASH_SALT", raising=False)
    with pytest.raises(ConfigError, match="hash_salt"):
        load_controls(["person"])
    monkeypatch.setenv("SOURCES__CLARIFY__HASH_SALT", SALT)
    assert load_controls(["person"]).hashed == {"person": frozenset({"email_addresses"})}
    monkeypatch.setenv("SOURCES__CLARIFY__COLUMNS__PERSON__EXCLUDE", '["_updated_at"]')
    with pytest.raises(ConfigError, match="the sync needs them"):
        load_controls(["person"])
