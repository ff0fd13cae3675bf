"""Match first: a row whose unique value belongs to a record in the synced copy of the object is an update.

The sync keeps each object in the dataset the push writes its state to: `<object>` with `id`, a collection
field's items in `<object>__<field>` (`<object>_id`, `value`; sources/clarify/settings.py). A new row (no id in
the push state) whose unique value (any email, any domain, the deal name, a custom object's unique field) is
held by a live record there is sent as a bulk PATCH of that record's id instead of a create. That keeps the push
exact where creates do not upsert (the reference site's dialect fails a whole batch on a duplicate), and costs
one warehouse query per chunk of rows, no request. Collections compare trimmed and lowercased, as the API keeps
them unique; other values trimmed. Soft-deleted rows (`_deleted_at`) and closed history versions
(`_dlt_valid_to`) hold no live record. A record gone since the sync answers the PATCH with 404: sending.py then
creates the row after all.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.warehouse.sql import WarehouseSQL, quote
from destinations.clarify.batching import Item
from destinations.clarify.classify import Classified
from sources.clarify.schema import FieldSpec
from sources.clarify.settings import CHILD_VALUE, SOFT_DELETED_COLUMN, child_table, parent_column

CHUNK = 500
_CLOSED_VERSIONS = "_dlt_valid_to"  # history mode: only the open version is the record as it is now


def unique_values(field: FieldSpec, value: Any) -> list[str]:
    """The values of an attribute as the API keeps them unique: each item of a collection, lowercased."""
    if value is None:
        return []
    if field.type == "collection":
        items = value.get("items") if isinstance(value, dict) else value
        return sorted({str(x).strip().lower() for x in items or [] if x is not None and str(x).strip()})
    text = str(value).strip()
    return [text] if text else []


class SyncedRecords:
    """The synced copy of one object, asked which record holds a unique value."""

    def __init__(self, wh: WarehouseSQL, slug: str, field: FieldSpec):
        self.wh = wh
        self.field = field
        self._sql = self._query(slug)

    def _query(self, slug: str) -> str | None:
        """The SELECT of (value, record id) pairs, `IN ({marks})` to fill; None when the sync never loaded it."""
        wh, name = self.wh, self.field.name
        collection = self.field.type == "collection"
        items = child_table(slug, name)
        columns = wh.table_columns([slug, items] if collection else [slug])
        if slug not in columns or (collection and items not in columns):
            return None
        live = [f"r.{quote(c)} IS NULL" for c in (SOFT_DELETED_COLUMN, _CLOSED_VERSIONS) if c in columns[slug]]
        if collection:
            value = f"lower(trim({wh.text('c.' + quote(CHILD_VALUE))}))"
            source = (
                f"{wh.table(items)} AS c JOIN {wh.table(slug)} AS r ON r.{quote('id')} = c.{quote(parent_column(slug))}"
            )
        else:
            value = f"trim({wh.text('r.' + quote(name))})"
            source = f"{wh.table(slug)} AS r"
        where = " AND ".join([*live, f"{value} IN ({{marks}})"])
        return f"SELECT {value}, min({wh.text('r.' + quote('id'))}) FROM {source} WHERE {where} GROUP BY 1"

    def holders(self, values: list[str]) -> dict[str, str]:
        """value → id of the live synced record holding it, for the `values` that have one."""
        if self._sql is None or not values:
            return {}
        found: dict[str, str] = {}
        for i in range(0, len(values), CHUNK):
            part = values[i : i + CHUNK]
            sql = self._sql.format(marks=", ".join([self.wh.param] * len(part)))
            found.update((str(v), str(rid)) for v, rid in self.wh.fetchall(sql, part))
        return found

    def route(self, rows: Classified) -> None:
        """Turn the creates of `rows` whose unique value a synced record holds into PATCHes of that record."""
        if self._sql is None or not rows.create:
            return
        values = {it.key: unique_values(self.field, it.attributes.get(self.field.name)) for it in rows.create}
        held = self.holders(sorted({v for vs in values.values() for v in vs}))
        creates: list[Item] = []
        for it in rows.create:
            rid = next((held[v] for v in values[it.key] if v in held), None)
            if rid is None:
                creates.append(it)
            else:
                rows.patch.append(replace(it, clarify_id=rid, matched=True))
        rows.create = creates
