"""After a measured run (never during one): what each variant's warehouse holds, and whether two agree."""

from __future__ import annotations

from bench.warehouse import BenchWarehouse

# Ours also syncs lists, which the baseline's configuration does not know: only CRM objects are compared.
NOT_OBJECTS = frozenset({"lists", "list_members"})


def object_tables(wh: BenchWarehouse, variant: str) -> list[str]:
    """Top-level object tables: no bookkeeping (`_dlt_*`, `_clarify_*`), no `parent__child` tables, no lists."""
    rows = wh.query(
        variant,
        "select table_name from information_schema.tables where table_schema = %s order by 1",
        (wh.dataset(variant),),
    )
    return [name for (name,) in rows if not name.startswith("_") and "__" not in name and name not in NOT_OBJECTS]


def row_counts(wh: BenchWarehouse, variant: str) -> dict[str, int]:
    return {t: wh.query(variant, f'select count(*) from {{ds}}."{t}"')[0][0] for t in object_tables(wh, variant)}


def ids(wh: BenchWarehouse, variant: str, table: str) -> set[str]:
    return {row[0] for row in wh.query(variant, f'select id from {{ds}}."{table}"')}


def compare_ids(wh: BenchWarehouse, ours: str = "ours", baseline: str = "baseline") -> dict[str, object]:
    """Per table present in either variant's warehouse: both counts and whether the id sets are equal."""
    ours_tables = set(object_tables(wh, ours))
    base_tables = set(object_tables(wh, baseline))
    tables: dict[str, dict[str, object]] = {}
    for table in sorted(ours_tables | base_tables):
        a = ids(wh, ours, table) if table in ours_tables else set()
        b = ids(wh, baseline, table) if table in base_tables else set()
        tables[table] = {
            "ours": len(a),
            "baseline": len(b),
            "same_ids": a == b,
            "only_ours": len(a - b),
            "only_baseline": len(b - a),
        }
    return {"same_ids": bool(tables) and all(t["same_ids"] for t in tables.values()), "tables": tables}
