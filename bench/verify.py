"""After a measured run (never during one): what each DuckDB file holds, and whether two agree."""

from __future__ import annotations

from pathlib import Path

import duckdb

DATASET = "clarify"
# Ours also syncs lists, which the baseline's configuration does not know: only CRM objects are compared.
NOT_OBJECTS = frozenset({"lists", "list_members"})


def object_tables(duckdb_path: Path, dataset: str = DATASET) -> list[str]:
    """Top-level object tables: no bookkeeping (`_dlt_*`, `_clarify_*`), no `parent__child` tables, no lists."""
    if not duckdb_path.exists():
        return []
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        rows = con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1", [dataset]
        ).fetchall()
    return [name for (name,) in rows if not name.startswith("_") and "__" not in name and name not in NOT_OBJECTS]


def row_counts(duckdb_path: Path, dataset: str = DATASET) -> dict[str, int]:
    tables = object_tables(duckdb_path, dataset)
    if not tables:
        return {}
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        return {t: con.execute(f'select count(*) from "{dataset}"."{t}"').fetchone()[0] for t in tables}


def ids(duckdb_path: Path, table: str, dataset: str = DATASET) -> set[str]:
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        return {row[0] for row in con.execute(f'select id from "{dataset}"."{table}"').fetchall()}


def compare_ids(ours: Path, baseline: Path, dataset: str = DATASET) -> dict[str, object]:
    """Per table present in either file: both counts and whether the id sets are equal."""
    ours_tables = set(object_tables(ours, dataset))
    base_tables = set(object_tables(baseline, dataset))
    tables: dict[str, dict[str, object]] = {}
    for table in sorted(ours_tables | base_tables):
        a = ids(ours, table, dataset) if table in ours_tables else set()
        b = ids(baseline, table, dataset) if table in base_tables else set()
        tables[table] = {
            "ours": len(a),
            "baseline": len(b),
            "same_ids": a == b,
            "only_ours": len(a - b),
            "only_baseline": len(b - a),
        }
    return {"same_ids": bool(tables) and all(t["same_ids"] for t in tables.values()), "tables": tables}
