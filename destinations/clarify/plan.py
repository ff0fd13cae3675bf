"""What a push will do, decided before any row moves: which columns become which attributes, and the key.

Everything here is checked against the object's schema and the source's column names only, so a wrong
mapping or a missing key fails before the warehouse or the API is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import ConfigError
from core.warehouse.sql import WarehouseSQL, quote
from sources.clarify.schema import RELATIONSHIP_TARGETS, FieldSpec, ObjectSchema

KEY_COLUMN = "_key"


@dataclass
class Plan:
    key_column: str
    columns: dict[str, FieldSpec]  # source column → attribute
    match_on: str | None
    id_column: str | None  # update mode: the record id column
    unique: bool  # does the object upsert on a unique field


def plan_records(obj: ObjectSchema, columns: list[str], mode: str, mapping: Mapping[str, str]) -> Plan:
    """The plan for pushing rows with `columns` into `obj`; a `ConfigError` naming the fix if it cannot work."""
    missing = [c for c in mapping if c not in columns]
    if missing:
        raise ConfigError(
            f"mapping names column {missing[0]!r} that the source rows do not have: "
            f"fix the mapping (columns: {', '.join(columns)})"
        )
    mapped, seen = _map_columns(obj, columns, mode, mapping)
    if mode == "update":
        if "id" not in columns:
            raise ConfigError("mode update needs an 'id' column holding the Clarify record id: add it to the query")
        return Plan(KEY_COLUMN if KEY_COLUMN in columns else "id", mapped, None, "id", False)
    unique = obj.unique_field
    if unique:
        if unique not in seen:
            raise ConfigError(
                f"{obj.slug} upserts on {unique!r} but the rows have no such column: add it "
                "(or map a column to it), or use --mode update with an id column"
            )
        key = KEY_COLUMN if KEY_COLUMN in columns else seen[unique]
        return Plan(key, mapped, unique, None, True)
    if KEY_COLUMN not in columns:
        raise ConfigError(
            f"{obj.slug} has no unique field to upsert on: add a {KEY_COLUMN!r} column that identifies "
            "each row (reruns then update the record created for it), or use --mode update"
        )
    return Plan(KEY_COLUMN, mapped, None, None, False)


def _map_columns(
    obj: ObjectSchema, columns: list[str], mode: str, mapping: Mapping[str, str]
) -> tuple[dict[str, FieldSpec], dict[str, str]]:
    """(source column → attribute, attribute name → source column) for the columns that are sent."""
    mapped: dict[str, FieldSpec] = {}
    seen: dict[str, str] = {}
    writable = obj.writable
    for col in columns:
        if col == KEY_COLUMN or (mode == "update" and col == "id"):
            continue
        if col == "id":
            raise ConfigError(
                f"column 'id' cannot be written to {obj.slug} in upsert mode: drop it, "
                "or use --mode update to update records by id"
            )
        name = mapping.get(col, col)
        if name in obj.fields and name not in writable:
            raise ConfigError(
                f"column {col!r} maps to system field {name!r} of {obj.slug}, which cannot be "
                "written: drop it from the query"
            )
        if name not in writable:
            raise ConfigError(
                f"column {col!r} is not an attribute of {obj.slug}: rename it with a mapping or drop "
                f"it (attributes: {', '.join(sorted(writable))})"
            )
        if name in seen:
            raise ConfigError(f"columns {seen[name]!r} and {col!r} both map to {name!r}: keep one")
        seen[name] = col
        mapped[col] = writable[name]
    return mapped, seen


def check_relationship(obj: ObjectSchema, relationship: str, columns: list[str]) -> str:
    """The target object of `relationship`, after checking the link table has `id` and `target_id`."""
    if obj.relationships and relationship not in obj.relationships:
        raise ConfigError(
            f"{obj.slug} has no relationship {relationship!r}: use one of {', '.join(sorted(obj.relationships))}"
        )
    for needed in ("id", "target_id"):
        if needed not in columns:
            raise ConfigError(
                f"a relationship push needs columns id and target_id; {needed!r} is missing: "
                "alias your link table's columns"
            )
    return obj.relationships.get(relationship) or RELATIONSHIP_TARGETS.get(relationship, relationship)


def source_sql(wh: WarehouseSQL, from_table: str | None, sql: str | None) -> str:
    """The SELECT that yields the rows to push: the user's SQL, or all of a table."""
    if (from_table is None) == (sql is None):
        raise ConfigError("give exactly one of --from-table or --sql")
    if sql is not None:
        text = sql.strip().rstrip(";").strip()
        if not text:
            raise ConfigError("--sql is empty: pass a SELECT statement")
        return text
    assert from_table is not None
    parts = from_table.split(".")
    if len(parts) == 1:
        return f"SELECT * FROM {wh.table(parts[0])}"
    return "SELECT * FROM " + ".".join(quote(p) for p in parts)
