"""Fixtures for the CRM sync tests: emulators with cached demo data, DuckDB and Postgres warehouses,
and `assert_synced`, which compares every warehouse table with the emulator's records."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from core.warehouse.options import WarehouseOptions
from sources.clarify.connection import ClarifyConnection

PG_DSN = os.environ.get("CLARIFY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SMALL = 300  # records per emulator unless a test needs more


def _pg_available() -> bool:
    try:
        import psycopg2

        psycopg2.connect(PG_DSN, connect_timeout=3).close()
        return True
    except Exception:
        return False


PG_OK = _pg_available()
WAREHOUSES = ["duckdb", pytest.param("postgres", marks=pytest.mark.skipif(not PG_OK, reason="no Postgres"))]


@pytest.fixture(autouse=True)
def _isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt must not touch ~/.dlt nor read a developer's config: run from an empty folder."""
    home = tmp_path / "dlt_home"
    home.mkdir()
    monkeypatch.setenv("DLT_DATA_DIR", str(home))
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "ERROR")
    for name in (
        "CLARIFY_API_KEY",
        "CLARIFY_ACCESS_TOKEN",
        "CLARIFY_WORKSPACE",
        "CLARIFY_BASE_URL",
        "CLARIFY_POSTGRES_DSN",
        "CLARIFY_SYNC_CRASH_AT",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def emulator_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("emulator-cache"))


@pytest.fixture
def make_emu(emulator_factory: Callable[..., Any], emulator_cache: str) -> Callable[..., Any]:
    def make(**config: Any) -> Any:
        config.setdefault("records", SMALL)
        config.setdefault("cache_dir", emulator_cache)
        return emulator_factory(**config)

    return make


def connection_for(emu: Any) -> ClarifyConnection:
    return ClarifyConnection(emu.base_url, emu.workspace, emu.api_key)


@pytest.fixture
def make_warehouse(tmp_path: Path) -> Iterator[Callable[[str], WarehouseOptions]]:
    """`make("duckdb"|"postgres")`: a fresh warehouse (Postgres: a unique dataset, dropped afterwards)."""
    datasets: list[str] = []

    def make(kind: str) -> WarehouseOptions:
        pipelines_dir = str(tmp_path / "pipelines")
        if kind == "duckdb":
            return WarehouseOptions(duckdb_path=str(tmp_path / "wh.duckdb"), pipelines_dir=pipelines_dir)
        dataset = f"clarify_t_{uuid.uuid4().hex[:10]}"
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


# -- reading the warehouse ----------------------------------------------------------------------------------
def query(wh: WarehouseOptions, sql: str) -> list[dict[str, Any]]:
    """Rows as dicts; `{ds}` in `sql` is the dataset. Missing tables read as no rows."""
    sql = sql.replace("{ds}", wh.dataset)
    if wh.destination == "duckdb":
        import duckdb

        if not Path(wh.duckdb_path).exists():
            return []
        con = duckdb.connect(wh.duckdb_path, read_only=True)
        try:
            cur = con.execute(sql)
        except duckdb.CatalogException:
            return []
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        con.close()
        return rows
    import psycopg2

    conn = psycopg2.connect(PG_DSN)
    try:
        with conn.cursor() as cur:
            try:
                cur.execute(sql)
            except psycopg2.errors.UndefinedTable:
                return []
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        conn.close()


def execute(wh: WarehouseOptions, *statements: str) -> None:
    """Write the warehouse behind the sync's back (`{ds}` in a statement is the dataset), in one transaction."""
    statements = tuple(s.replace("{ds}", wh.dataset) for s in statements)
    if wh.destination == "duckdb":
        import duckdb

        with duckdb.connect(wh.duckdb_path) as con:
            for statement in statements:
                con.execute(statement)
        return
    import psycopg2

    with psycopg2.connect(PG_DSN) as con, con.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    con.close()


def table(wh: WarehouseOptions, name: str) -> list[dict[str, Any]]:
    if wh.destination == "filesystem":
        return lake_table(wh, name).to_pylist()
    return query(wh, f'SELECT * FROM {{ds}}."{name}"')


def lake_table(wh: WarehouseOptions, name: str) -> Any:
    """A table of a local filesystem destination as pyarrow, read with `deltalake` (no DuckDB extension needed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if "://" in wh.resolved_bucket_url():
        return _bucket_table(wh, name)
    folder = Path(wh.resolved_bucket_url()) / wh.dataset / name
    if not folder.is_dir():
        return pa.table({})
    if wh.table_format == "delta":
        from deltalake import DeltaTable

        return DeltaTable(str(folder)).to_pyarrow_table()
    files = sorted(folder.glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive") if files else pa.table({})


def _bucket_table(wh: WarehouseOptions, name: str) -> Any:
    """A table in an S3 bucket, read with the credentials dlt resolves for the filesystem destination."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import s3fs
    from deltalake import DeltaTable
    from dlt.common.configuration import resolve_configuration
    from dlt.common.configuration.specs import AwsCredentials

    creds = resolve_configuration(AwsCredentials(), sections=("destination", "filesystem", "credentials"))
    url = f"{wh.resolved_bucket_url()}/{wh.dataset}/{name}"
    fs = s3fs.S3FileSystem(**creds.to_s3fs_credentials())
    if not fs.exists(url):
        return pa.table({})
    if wh.table_format == "delta":
        return DeltaTable(url, storage_options=creds.to_object_store_rs_credentials()).to_pyarrow_table()
    files = sorted(f for f in fs.ls(url) if f.endswith(".parquet"))
    tables = [pq.read_table(fs.open(f, "rb")) for f in files]
    return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})


def cursors(wh: WarehouseOptions) -> list[dict[str, Any]]:
    """The committed dlt state rows (what a rerun restores)."""
    return query(wh, "SELECT version, state FROM {ds}._dlt_pipeline_state ORDER BY version")


# -- expectations from the emulator ---------------------------------------------------------------------------
def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).replace("Z", "+00:00")
    return datetime.fromisoformat(text).astimezone(UTC)


def _expected_columns(obj_def: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    """What the main table row must hold, derived independently from the emulator's field definitions."""
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        f = obj_def.fields.get(name)
        ftype = f.type if f is not None else ("text" if isinstance(value, str) else "json")
        if ftype in ("collection", "multi-select"):
            continue
        if name in ("_created_at", "_updated_at") or ftype == "datetime":
            out[name] = _ts(value)
        elif ftype == "name":
            if isinstance(value, str):
                first, _, last = value.partition(" ")
                value = {"first_name": first or None, "last_name": last or None, "full_name": value}
            elif value is not None and value.get("full_name") is None:
                value = {
                    **value,
                    "full_name": " ".join(v for v in (value.get("first_name"), value.get("last_name")) if v),
                }
            for part in ("first_name", "last_name", "full_name"):
                out[f"{name}__{part}"] = None if value is None else value.get(part)
        elif ftype == "location":
            for part, text in (value or {}).items():
                out[f"{name}__{part}"] = text
        elif ftype in ("number", "currency"):
            out[name] = None if value is None else float(value)
        elif ftype == "date":
            out[name] = None if value is None else date.fromisoformat(value)
        elif ftype == "rich-text" or (ftype == "json" and value is not None):
            out[name] = None if value is None else json.loads(json.dumps(value))
        else:
            out[name] = value
    return out


def _normalise_row(row: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    got = {}
    for col, want in expected.items():
        value = row.get(col)
        if isinstance(want, datetime):
            value = _ts(value)
        elif isinstance(want, dict | list) and isinstance(value, str):
            value = json.loads(value)
        got[col] = value
    return got


def assert_synced(emu: Any, wh: WarehouseOptions, objects: list[str] | None = None) -> None:
    """Every table equals the emulator, as it serves records (its answer variants applied): ids, `_updated_at`,
    every attribute, child items and links."""
    from emulator import variants
    from emulator.schemas import OBJECTS

    config = emu.emulator.config
    # Fields described with a type no client knows are kept as text (`unknown_field_types`).
    as_text = set(variants.UNKNOWN_TYPES) if config.unknown_field_types else set()
    for slug in objects or list(OBJECTS):
        obj_def = OBJECTS[slug]
        records = variants.shape_records(config, slug, emu.store.records(slug))
        rows = {r["id"]: r for r in table(wh, slug)}
        assert len(rows) == len(table(wh, slug)), f"{slug}: duplicate ids"
        assert set(rows) == {r["id"] for r in records}, f"{slug}: ids differ"
        for rec in records:
            expected = _expected_columns(obj_def, rec["attributes"])
            for name in as_text & set(expected):
                expected[name] = None if rec["attributes"][name] is None else str(rec["attributes"][name])
            assert _normalise_row(rows[rec["id"]], expected) == expected, f"{slug} {rec['id']}"
        for name, f in obj_def.fields.items():
            if f.type not in ("collection", "multi-select"):
                continue
            want = sorted(
                (rec["id"], pos, item)
                for rec in records
                for pos, item in enumerate(
                    (rec["attributes"].get(name) or {}).get("items", [])
                    if f.type == "collection"
                    else rec["attributes"].get(name) or []
                )
            )
            got = sorted((r[f"{slug}_id"], r["position"], r["value"]) for r in table(wh, f"{slug}__{name}"))
            assert got == want, f"{slug}__{name} differs"
        for rel_name, rel in obj_def.relationships.items():
            want_links = sorted(
                (variants.uuid_for(a), variants.uuid_for(b)) if config.uuid_ids else (a, b)
                for a, b in emu.store.links(slug, rel_name)
            )
            target_col = f"related_{rel.target}_id" if rel.target == slug else f"{rel.target}_id"
            got_links = sorted((r[f"{slug}_id"], r[target_col]) for r in table(wh, f"{slug}__{rel_name}"))
            assert got_links == want_links, f"{slug}__{rel_name} differs"


# -- transcripts ----------------------------------------------------------------------------------------------
def expected_segments(emu: Any) -> list[tuple[Any, ...]]:
    """Every transcribed recording's segments, from the emulator's own transcript data (never a parse)."""
    rows = []
    for rec in emu.store.records("meeting_recording"):
        if not emu.recordings.transcribed(rec["id"]):
            continue
        t = emu.recordings.transcript(rec["id"])
        for i, s in enumerate(t.segments):
            name = None if s.speaker is None else t.speakers[s.speaker][0]
            rows.append((rec["id"], i, name, s.start_ms / 1000, s.end_ms / 1000, s.text))
    return sorted(rows, key=str)


def stored_segments(wh: Any) -> list[tuple[Any, ...]]:
    rows = table(wh, "meeting_transcript__segments")
    got = [
        (r["recording_id"], r["position"], r["speaker"], r["start_seconds"], r["end_seconds"], r["text"]) for r in rows
    ]
    return sorted(got, key=str)
