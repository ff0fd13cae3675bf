"""The README's example queries run, as written, against a synced warehouse (DuckDB and Postgres)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipelines.sync import run_sync
from tests.sync.conftest import WAREHOUSES, connection_for, query

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_queries() -> list[str]:
    section = README.read_text().split("## Tables and example queries", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


def test_readme_has_five_queries() -> None:
    assert len(readme_queries()) == 5


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_readme_queries_run(kind: str, make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(records=1500, seed=42)
    warehouse = make_warehouse(kind)
    run_sync(connection_for(emu), warehouse)
    for sql in readme_queries():
        # The README names the default dataset; the test warehouse has its own.
        rows = query(warehouse, sql.replace("clarify.", "{ds}."))
        assert rows, f"no rows for README query:\n{sql}"


def transcript_queries() -> list[str]:
    section = README.read_text().split("## Meeting transcripts", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_readme_transcript_query_runs(kind: str, make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(records=1500, seed=42, recordings=20, transcript_format="mixed")
    warehouse = make_warehouse(kind)
    run_sync(connection_for(emu), warehouse, objects=["meeting", "deal", "person"], transcripts=True)
    (sql,) = transcript_queries()
    rows = query(warehouse, sql.replace("clarify.", "{ds}."))
    assert rows and all(r["minutes"] is not None and r["speaker"] for r in rows)
