"""Fixtures for the push suite: an emulator over real HTTP, and a real DuckDB file or Postgres schema.

Warehouse tables are built directly with SQL (no dependency on the sync). `warehouse` is parametrized over
DuckDB and Postgres; Postgres uses `CLARIFY_TEST_POSTGRES_DSN` (default a local `test` database) and a
fresh schema per test, dropped afterwards; it is skipped when no server answers.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest

from core.warehouse.options import WarehouseOptions
from sources.clarify.connection import ClarifyConnection

PG_DSN = os.environ.get("CLARIFY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
WRITE_METHODS = ("POST", "PATCH", "DELETE")


@pytest.fixture
def make_emulator(request: pytest.FixtureRequest) -> Any:
    """`make(**config)` → a running emulator; the shared `emulator_factory` when present."""
    try:
        return request.getfixturevalue("emulator_factory")
    except pytest.FixtureLookupError:
        pass
    from contextlib import ExitStack

    from emulator.config import EmulatorConfig
    from emulator.server import run_in_thread

    stack = ExitStack()
    request.addfinalizer(stack.close)

    def make(**config: Any) -> Any:
        return stack.enter_context(run_in_thread(EmulatorConfig(**config)))

    return make


DIALECTS = ("match_on", "upsert", "strict")  # emulator/writes.py: what bulk creates accept


@pytest.fixture
def dialect() -> str:
    """The emulator's push dialect; tests for every dialect parametrize `dialect` with `DIALECTS`."""
    return "match_on"


@pytest.fixture
def emu(make_emulator: Any, dialect: str) -> Any:
    return make_emulator(records=0, rate_limit=None, push_dialect=dialect)


@pytest.fixture
def conn(emu: Any) -> ClarifyConnection:
    return ClarifyConnection(emu.base_url, emu.workspace, emu.api_key)


@pytest.fixture
def writes() -> Any:
    """`writes(emu)`: write requests the emulator has answered so far."""

    def count(emu: Any) -> int:
        return sum(n for (method, _route, _status), n in emu.stats.snapshot().items() if method in WRITE_METHODS)

    return count


@dataclass
class Warehouse:
    """A real warehouse for one test: its options, and plain SQL access to build and inspect tables."""

    kind: str
    options: WarehouseOptions
    dataset: str

    def series(self, n: int) -> str:
        """A FROM item yielding integers i = 0..n-1."""
        return f"range({n}) AS t(i)" if self.kind == "duckdb" else f"generate_series(0, {n - 1}) AS t(i)"

    def execute(self, sql: str) -> None:
        if self.kind == "duckdb":
            con = duckdb.connect(self.options.duckdb_path)
            try:
                con.execute(sql)
            finally:
                con.close()
        else:
            con = psycopg2.connect(PG_DSN, options=f"-c search_path={self.dataset}")
            try:
                with con, con.cursor() as cur:
                    cur.execute(sql)
            finally:
                con.close()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "duckdb":
            con = duckdb.connect(self.options.duckdb_path, read_only=True)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
        con = psycopg2.connect(PG_DSN, options=f"-c search_path={self.dataset}")
        try:
            with con, con.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            con.close()

    def t(self, name: str) -> str:
        return f'"{self.dataset}"."{name}"'

    def tables(self) -> list[str]:
        return sorted(
            r[0]
            for r in self.query(
                f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{self.dataset}'"
            )
        )

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table of the dataset, rows sorted: to prove a run changed nothing."""
        return {t: sorted(map(repr, self.query(f"SELECT * FROM {self.t(t)}"))) for t in self.tables()}


def child_command(emu: Any, warehouse: Warehouse, script: str, **args: Any) -> tuple[list[str], dict[str, str]]:
    """(argv, env) to run `script` in a fresh interpreter: a push there can be killed like a real one. The
    script reads its arguments (the emulator's address, the warehouse options, `args`) from `sys.argv[1]`."""
    opts = warehouse.options
    args |= {
        "base_url": emu.base_url,
        "workspace": emu.workspace,
        "api_key": emu.api_key,
        "warehouse": {
            "destination": opts.destination,
            "duckdb_path": opts.duckdb_path,
            "postgres_dsn": opts.postgres_dsn,
            "dataset": opts.dataset,
        },
    }
    root = Path(__file__).resolve().parents[2]
    return [sys.executable, "-c", script, json.dumps(args)], {**os.environ, "PYTHONPATH": str(root)}


def _pg_available() -> bool:
    try:
        psycopg2.connect(PG_DSN, connect_timeout=3).close()
        return True
    except psycopg2.Error:
        return False


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    yield from _warehouse(request.param, tmp_path)


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Warehouse]:
    yield from _warehouse("duckdb", tmp_path)


def _warehouse(kind: str, tmp_path: Path) -> Iterator[Warehouse]:
    if kind == "duckdb":
        path = tmp_path / "wh.duckdb"
        wh = Warehouse(
            "duckdb", WarehouseOptions(destination="duckdb", duckdb_path=str(path), dataset="clarify"), "clarify"
        )
        wh.execute("CREATE SCHEMA clarify")
        yield wh
        return
    if not _pg_available():
        pytest.skip(f"no Postgres at {PG_DSN} (set CLARIFY_TEST_POSTGRES_DSN)")
    schema = f"push_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(PG_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Warehouse(
            "postgres", WarehouseOptions(destination="postgres", postgres_dsn=PG_DSN, dataset=schema), schema
        )
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()
