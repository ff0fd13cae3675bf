"""Fixtures for the round trip: sync → compute in SQL → push → sync, on DuckDB and Postgres."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.warehouse import WarehouseOptions

PG_DSN = os.environ.get("CLARIFY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def pg_available() -> bool:
    try:
        import psycopg2

        psycopg2.connect(PG_DSN, connect_timeout=3).close()
        return True
    except Exception:
        return False


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt must not touch ~/.dlt nor read a developer's config or credentials."""
    home = tmp_path / "dlt_home"
    home.mkdir()
    monkeypatch.setenv("DLT_DATA_DIR", str(home))
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "ERROR")
    for name in (
        "CLARIFY_API_KEY",
        "CLARIFY_WORKSPACE",
        "CLARIFY_BASE_URL",
        "CLARIFY_POSTGRES_DSN",
        "CLARIFY_ACCESS_TOKEN",
        "CLARIFY_SYNC_CRASH_AT",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_warehouse(tmp_path: Path) -> Iterator[Callable[[str], WarehouseOptions]]:
    datasets: list[str] = []

    def make(kind: str) -> WarehouseOptions:
        pipelines_dir = str(tmp_path / "pipelines")
        if kind == "duckdb":
            return WarehouseOptions(duckdb_path=str(tmp_path / "wh.duckdb"), pipelines_dir=pipelines_dir)
        if not pg_available():
            pytest.skip(f"no Postgres at {PG_DSN} (set CLARIFY_TEST_POSTGRES_DSN)")
        dataset = f"clarify_rt_{uuid.uuid4().hex[:10]}"
        datasets.append(dataset)
        return WarehouseOptions(
            destination="postgres", postgres_dsn=PG_DSN, dataset=dataset, pipelines_dir=pipelines_dir
        )

    yield make
    if datasets:
        import psycopg2

        conn = psycopg2.connect(PG_DSN)
        conn.autocommit = True
        with conn.cursor() as cur:
            for ds in datasets:
                cur.execute(f'DROP SCHEMA IF EXISTS "{ds}" CASCADE')
                cur.execute(f'DROP SCHEMA IF EXISTS "{ds}_staging" CASCADE')
        conn.close()
