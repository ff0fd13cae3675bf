"""Change detection, done by the warehouse in SQL: only changed rows ever reach Python.

The fingerprint of a row is `md5(salt || <canonical text of the source row>)`, computed by the warehouse
itself (DuckDB `to_json(row)`, Postgres the record text `row::text`). The source query and the state table
live in the same warehouse, so the two dialects never compare fingerprints with each other. The
salt covers everything else that shapes the payload (object, mode, mapping, relationship, converter
version): changing the mapping makes every row "changed" once. Hashing the source row instead of the
converted payload keeps the whole diff in one SQL join (1,000,000 unchanged rows diff in about a second
on DuckDB; see bench/ and the module report); the converted payload is a pure function of row + salt.

Queries (`<src>` is the table or the user's SQL):
    WITH src AS (<src>), f AS (SELECT <key> AS __key, md5(...) AS __fp, s.* FROM src AS s)
    SELECT f.*, st.clarify_id AS __clarify_id, st.key IS NULL AS __new
    FROM f LEFT JOIN <state> AS st ON st.key = f.__key
    WHERE st.key IS NULL OR st.fingerprint <> f.__fp          -- dropped when full=True
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from core.warehouse.sql import WarehouseSQL, quote

CONVERTER_VERSION = "1"
SEP = "chr(31)"  # unit separator joins relationship targets


def salt(**parts: object) -> str:
    return orjson.dumps({"v": CONVERTER_VERSION, **parts}, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True)
class DiffCounts:
    total: int
    new: int
    changed: int

    @property
    def unchanged(self) -> int:
        return self.total - self.new - self.changed


class Diff:
    """The diff of one source against one state table."""

    def __init__(self, wh: WarehouseSQL, source_sql: str, key_column: str, salt_text: str, state_table: str | None):
        self.wh = wh
        self.state_table = state_table
        key = wh.text(f"s.{quote(key_column)}")
        self._cte = (
            f"WITH src AS ({source_sql}), "
            f"f AS (SELECT {key} AS __key, {wh.fingerprint(salt_text, 's')} AS __fp, s.* FROM src AS s)"
        )

    def _joined(self) -> str:
        if self.state_table is None:
            return (
                f"{self._cte} SELECT f.*, CAST(NULL AS TEXT) AS __clarify_id, CAST(NULL AS TEXT) AS __old_fp, "
                "TRUE AS __new FROM f"
            )
        return (
            f"{self._cte} SELECT f.*, st.clarify_id AS __clarify_id, st.fingerprint AS __old_fp, "
            f"(st.key IS NULL) AS __new FROM f LEFT JOIN {self.wh.table(self.state_table)} AS st "
            "ON st.key = f.__key"
        )

    def counts(self) -> DiffCounts:
        sql = (
            f"SELECT count(*), sum(CASE WHEN __new THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN NOT __new AND __old_fp <> __fp THEN 1 ELSE 0 END) FROM ({self._joined()}) AS j"
        )
        total, new, changed = self.wh.fetchall(sql)[0]
        return DiffCounts(int(total or 0), int(new or 0), int(changed or 0))

    def rows_sql(self, *, full: bool) -> str:
        where = "" if full else " WHERE __new OR __old_fp <> __fp"
        return f"SELECT * FROM ({self._joined()}) AS j{where}"


def relationship_source(wh: WarehouseSQL, source_sql: str) -> str:
    """Group a link table (id, target_id) into one row per record: id, its sorted targets joined by chr(31)."""
    target = wh.text('l."target_id"')
    rid = wh.text('l."id"')
    return (
        f'SELECT {rid} AS "id", '
        f"string_agg(DISTINCT {target}, {SEP} ORDER BY {target}) AS __targets "
        f'FROM ({source_sql}) AS l WHERE l."id" IS NOT NULL AND l."target_id" IS NOT NULL GROUP BY 1'
    )
