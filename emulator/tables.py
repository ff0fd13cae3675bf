"""SQLite layout shared by the demo-data builder and the live store."""

from __future__ import annotations

import sqlite3

from emulator.schemas import ObjectDef

DDL = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT NOT NULL,
    object TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    attrs TEXT NOT NULL,
    PRIMARY KEY (object, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links (
    link TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL,
    PRIMARY KEY (link, src, dst)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS unique_keys (
    object TEXT NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (object, value)
) WITHOUT ROWID;
"""

# Built after bulk loading: cheaper than maintaining them row by row. Records are clustered on
# (object, id), which already serves the default order; the cursor index serves the sync's query.
INDEXES = """
CREATE INDEX IF NOT EXISTS records_cursor ON records (object, updated_at, id);
CREATE INDEX IF NOT EXISTS links_reverse ON links (link, dst, src);
CREATE INDEX IF NOT EXISTS unique_keys_by_id ON unique_keys (id);
"""


def connect(path: str) -> sqlite3.Connection:
    """Autocommit connection (transactions are explicit) tuned for a throwaway local database."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY;"
        "PRAGMA cache_size=-262144; PRAGMA mmap_size=1073741824;"
    )
    return conn


def unique_values(obj: ObjectDef, attrs: dict[str, object]) -> list[str]:
    """Keys that must be unique per object: each collection item (case-folded) or the scalar value."""
    name = obj.unique_field
    if name is None:
        return []
    value = attrs.get(name)
    if isinstance(value, dict):
        items = value.get("items") or []
        return sorted({str(v).lower() for v in items})  # type: ignore[union-attr]
    return [] if value is None else [str(value)]
