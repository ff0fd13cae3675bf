"""A field that appears, disappears or changes type between runs is announced, recorded, and (frozen) fatal."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import emulator.reads
from core.errors import ApiError, ConfigError, ExitCode
from pipelines.run_records import SchemaChangedError
from pipelines.sync import run_sync
from sources.clarify.connection import ClarifyConnection
from sources.clarify.schema_changes import diff_fields
from tests.sync.conftest import WAREHOUSES, connection_for, query, table

README = Path(__file__).resolve().parents[2] / "README.md"
CHANGE = "lead_score number→text, +nickname (text), -tier (select)"


@pytest.fixture
def migrate(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`migrate()`: from now on the emulator's GET /schemas declares person with a field added, one retyped and
    one gone. The emulator has no switch for a schema migration in Clarify, so its answer is reshaped here."""
    original = emulator.reads.shape_properties

    def reshaped(config: Any, slug: str, props: dict[str, Any]) -> dict[str, Any]:
        props = dict(original(config, slug, props))
        if slug == "person":
            props.pop("tier")
            props["lead_score"] = {**props["lead_score"], "type": "text"}
            props["nickname"] = {"type": "text"}
        return props

    return lambda: monkeypatch.setattr(emulator.reads, "shape_properties", reshaped)


def changes(wh: Any) -> list[tuple[str, str, str | None]]:
    return [
        (r["status"], r["object"], r["schema_changes"])
        for r in query(wh, "SELECT * FROM {ds}._clarify_sync_runs ORDER BY finished_at, object")
    ]


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_changes_are_announced_once_and_recorded(make_emu: Any, make_warehouse: Any, migrate: Any, kind: str) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    said: list[str] = []
    run_sync(connection_for(emu), wh, objects=["person", "deal"], notice=said.append)
    migrate()
    run_sync(connection_for(emu), wh, objects=["person", "deal"], notice=said.append)
    run_sync(connection_for(emu), wh, objects=["person", "deal"], notice=said.append)
    assert said == [f"person: schema changed: {CHANGE}"]
    assert changes(wh) == [
        ("succeeded", "deal", None),
        ("succeeded", "person", None),
        ("succeeded", "deal", None),
        ("succeeded", "person", CHANGE),
        ("succeeded", "deal", None),
        ("succeeded", "person", None),
    ]


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_a_frozen_contract_fails_a_type_change_before_loading(
    make_emu: Any, make_warehouse: Any, migrate: Any, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    run_sync(connection_for(emu), wh, objects=["person"])
    migrate()
    person = emu.store.records("person")[0]
    emu.clock.advance(3600)
    emu.store.update("person", person["id"], {"title": "Changed after the migration"})

    with pytest.raises(SchemaChangedError) as failure:
        run_sync(connection_for(emu), wh, objects=["person"], fail_on_type_change=True)
    assert failure.value.exit_code == ExitCode.SCHEMA_CHANGED == 9
    assert "person.lead_score number→text" in str(failure.value) and "--accept-type-change" in str(failure.value)
    assert next(r["title"] for r in table(wh, "person") if r["id"] == person["id"]) != "Changed after the migration"
    assert changes(wh)[-1] == ("failed", "person", CHANGE)

    monkeypatch.setenv("SOURCES__CLARIFY__SCHEMA_CONTRACT", "freeze")  # the same, from dlt config
    with pytest.raises(SchemaChangedError):
        run_sync(connection_for(emu), wh, objects=["person"])
    run_sync(connection_for(emu), wh, objects=["person"], fail_on_type_change=False)  # accepted once
    assert next(r["title"] for r in table(wh, "person") if r["id"] == person["id"]) == "Changed after the migration"
    run_sync(connection_for(emu), wh, objects=["person"])  # still frozen, nothing changed since: passes
    assert [c[0] for c in changes(wh)] == ["succeeded", "failed", "failed", "succeeded", "succeeded"]

    monkeypatch.setenv("SOURCES__CLARIFY__SCHEMA_CONTRACT", "sometimes")
    with pytest.raises(ConfigError, match="schema_contract"):
        run_sync(connection_for(emu), wh, objects=["person"])


def test_diff_fields() -> None:
    assert diff_fields(None, {"a": "text"}) == []  # first sight of an object: nothing to announce
    assert [str(c) for c in diff_fields({"a": "text", "b": "number"}, {"a": "date", "c": "text"})] == [
        "a text→date",
        "-b (number)",
        "+c (text)",
    ]


def readme_queries() -> list[str]:
    text = README.read_text()
    sections = [text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0] for title in ("Run records", "Schema changes")]
    return [q for section in sections for q in re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)]


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_readme_run_queries(make_emu: Any, make_warehouse: Any, migrate: Any, kind: str) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    run_sync(connection_for(emu), wh, objects=["person"])
    migrate()
    run_sync(connection_for(emu), wh, objects=["person"])
    with pytest.raises(ApiError):
        run_sync(ClarifyConnection(emu.base_url, emu.workspace, "not-the-key"), wh, objects=["person"])
    queries = readme_queries()
    assert len(queries) == 3
    for sql in queries:  # the README names the default dataset; the test warehouse has its own
        assert query(wh, sql.replace("clarify.", "{ds}.")), f"no rows for README query:\n{sql}"
