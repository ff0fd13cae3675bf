"""The push's own warehouse tables: what was last pushed per object, and what the API rejected.

`_clarify_push__<object>` (one per destination object; relationship sets get `_clarify_push__<object>__<name>`):
    key TEXT PRIMARY KEY   the row's identity: the upsert key's text, the `id` (update), or `_key`
    fingerprint TEXT       md5 the warehouse computed over the source row (see diff.py), as last pushed
    clarify_id TEXT        the record id Clarify returned (needed to PATCH objects without a unique field)
    pushed_at TIMESTAMPTZ  when the row landed
`_clarify_push_schemas` (one per dataset): object TEXT PRIMARY KEY, schema TEXT (JSON), fetched_at
    the object's attributes as `GET /schemas` last described them: a push with nothing to send diffs with
    these and makes no request; any push with rows to send checks them against a fresh `GET /schemas`.
`_clarify_push_rejects` (one per dataset):
    object, key (primary key), payload (the JSON sent), status, pointer, detail, first_seen, last_tried, attempts
    `key` is the row's identity as the API compares it (the `_key`, the `id`, or the upsert value with a
    collection's items trimmed and lowercased), so a row fixed in a way that changes its key's text still
    clears its reject; rejects of rows the source no longer has are deleted at the end of a run.
`_clarify_push_intents` (one per dataset): object, key, fingerprint, payload, sent_at (no primary key)
    plain creates (objects without a unique field) about to be sent; a row leaves when its outcome is known
    (see exactly_once.py), so a row still here after a crash may or may not exist in Clarify.
`_clarify_push_dialects` (one per dataset): workspace TEXT PRIMARY KEY (its URL), dialect TEXT, learnt_at
    what the workspace's bulk create accepted (dialect.py: `match_on` or `plain`), so a run goes straight to it.
A rejected row never gets its new fingerprint in the state table, so the next run sends it again; when it
lands its rejects row is deleted in the same transaction that records its state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from core.warehouse.sql import WarehouseSQL
from destinations.clarify.batching import Item
from destinations.common.tables import delete_keys, ensure_tables
from sources.clarify.schema import FieldSpec, ObjectSchema

REJECTS_TABLE = "_clarify_push_rejects"
SCHEMAS_TABLE = "_clarify_push_schemas"
INTENTS_TABLE = "_clarify_push_intents"
DIALECTS_TABLE = "_clarify_push_dialects"
STATE_COLUMNS = ("key", "fingerprint", "clarify_id", "pushed_at")
REJECT_COLUMNS = (
    "object",
    "key",
    "payload",
    "status",
    "pointer",
    "detail",
    "first_seen",
    "last_tried",
    "attempts",
)


def state_table_name(obj: str, relationship: str | None = None) -> str:
    return f"_clarify_push__{obj}" + (f"__{relationship}" if relationship else "")


@dataclass
class Landed:
    """Rows that landed, column-wise (one entry per row in each list)."""

    keys: list[str] = dataclasses.field(default_factory=list)
    fingerprints: list[str] = dataclasses.field(default_factory=list)
    clarify_ids: list[str | None] = dataclasses.field(default_factory=list)
    reject_keys: list[str] = dataclasses.field(default_factory=list)  # the rows' keys in the rejects table

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, items: Sequence[Item], ids: Sequence[str | None]) -> None:
        """Rows of one request and the ids it returned (an item keeps its known id where none came back)."""
        n = len(ids)
        self.keys.extend(it.key for it in items)
        self.reject_keys.extend(it.reject_key for it in items)
        self.fingerprints.extend(it.fingerprint for it in items)
        self.clarify_ids.extend((ids[i] if i < n and ids[i] else it.clarify_id) for i, it in enumerate(items))


@dataclass(frozen=True)
class Intent:
    """A plain create that was about to be sent: the row, what was sent, and when."""

    item: Item
    sent_at: dt.datetime


@dataclass(frozen=True)
class Rejected:
    key: str
    payload: object
    status: str
    pointer: str | None
    detail: str


class PushState:
    """Reads and writes one object's state table and the dataset's rejects table."""

    def __init__(self, wh: WarehouseSQL, state_table: str, reject_object: str):
        self.wh = wh
        self.table = state_table
        self.reject_object = reject_object
        self._maybe_rejects = True  # False once we know the rejects table holds nothing for this object
        self._maybe_intents = True  # likewise for the intents table
        self._intended: set[str] = set()  # keys with an intent row written by this run and not yet cleared

    def exists(self) -> bool:
        return self.wh.schema_exists() and self.wh.table_exists(self.table)

    def ensure(self) -> None:
        ensure_tables(
            self.wh,
            {
                self.table: "key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, clarify_id TEXT, pushed_at {ts} NOT NULL",
                REJECTS_TABLE: "object TEXT NOT NULL, key TEXT NOT NULL, payload TEXT, status TEXT, pointer TEXT, "
                "detail TEXT, first_seen {ts} NOT NULL, last_tried {ts} NOT NULL, attempts INTEGER NOT NULL, "
                "PRIMARY KEY (object, key)",
                # No primary key: it holds only the batches in flight, and a plain insert is the cheapest write.
                INTENTS_TABLE: "object TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, "
                "payload TEXT NOT NULL, sent_at {ts} NOT NULL",
            },
        )
        self._maybe_rejects = self._holds(REJECTS_TABLE)
        self._maybe_intents = self._holds(INTENTS_TABLE)

    def _holds(self, table: str) -> bool:
        rows = self.wh.fetchall(
            f"SELECT count(*) FROM {self.wh.table(table)} WHERE object = {self.wh.param}", (self.reject_object,)
        )
        return bool(rows and rows[0][0])

    def clear_rejudged(self) -> None:
        """Forget rejects for a missing or duplicate key (`#...`): those rows are judged afresh every run."""
        self.wh.execute(
            f"DELETE FROM {self.wh.table(REJECTS_TABLE)} WHERE object = {self.wh.param} AND key LIKE {self.wh.param}",
            (self.reject_object, "#%"),
        )

    def clear_gone(self, live: set[str]) -> int:
        """Delete the rejects whose row the source no longer has (not among the `live` reject keys of this
        run's changed rows: a rejected row is never recorded, so while it exists it is always changed)."""
        if not self._maybe_rejects:
            return 0
        rows = self.wh.fetchall(
            f"SELECT key FROM {self.wh.table(REJECTS_TABLE)} WHERE object = {self.wh.param}", (self.reject_object,)
        )
        gone = [r[0] for r in rows if r[0] not in live and not r[0].startswith("#")]
        with self.wh.transaction():
            delete_keys(self.wh, REJECTS_TABLE, "object", self.reject_object, "key", gone)
        return len(gone)

    def record(self, landed: Landed, rejected: Sequence[Rejected], intend: Sequence[Item] = ()) -> None:
        """Commit some requests' outcome in one transaction: landed rows into state (and out of rejects),
        rejected rows into rejects; and the intent of the next creates (`intend`), which then costs no
        commit of its own."""
        if not landed and not rejected:
            return
        now = dt.datetime.now(dt.UTC)
        with self.wh.transaction():
            if intend:
                self.intend(intend)
            if landed:
                columns = (landed.keys, landed.fingerprints, landed.clarify_ids, [now] * len(landed))
                self.wh.upsert_columns(
                    self.table,
                    dict(zip(STATE_COLUMNS, columns, strict=True)),
                    conflict=("key",),
                    update=("fingerprint", "clarify_id", "pushed_at"),
                )
                self._intended.difference_update(landed.keys)
                for table, keys in (
                    (REJECTS_TABLE, landed.reject_keys if self._maybe_rejects else []),
                    (INTENTS_TABLE, landed.keys if self._maybe_intents else []),
                ):
                    delete_keys(self.wh, table, "object", self.reject_object, "key", keys)
            if rejected:
                self._reject(rejected, now)

    def intend(self, items: Sequence[Item]) -> dt.datetime:
        """Commit the intent to create `items` (before the request leaves); returns its time. A row already
        intended keeps its intent (written with the previous batch's record, or before a split)."""
        now = dt.datetime.now(dt.UTC)
        new = [it for it in items if it.key not in self._intended]
        if new:
            self._maybe_intents = True
            self._intended.update(it.key for it in new)
            payloads = [orjson.dumps(it.attributes).decode() for it in new]
            data = {
                "object": [self.reject_object] * len(new),
                "key": [it.key for it in new],
                "fingerprint": [it.fingerprint for it in new],
                "payload": payloads,
                "sent_at": [now] * len(new),
            }
            self.wh.upsert_columns(INTENTS_TABLE, data, conflict=(), update=())  # committed unless in `record`
        return now

    def forget_intents(self, keys: Sequence[str]) -> None:
        """Drop intents whose outcome is known to be "not created" (the request was refused as a whole)."""
        self._intended.difference_update(keys)
        with self.wh.transaction():
            delete_keys(self.wh, INTENTS_TABLE, "object", self.reject_object, "key", keys)

    def intents(self) -> list[Intent]:
        """The creates a run left with an unknown outcome (none when the table does not exist yet)."""
        if not (self.exists() and self.wh.table_exists(INTENTS_TABLE)):
            return []
        rows = self.wh.fetchall(
            f"SELECT key, fingerprint, payload, sent_at FROM {self.wh.table(INTENTS_TABLE)} "
            f"WHERE object = {self.wh.param} ORDER BY key, sent_at",
            (self.reject_object,),
        )
        latest = {k: Intent(Item(k, fp, orjson.loads(p)), _utc(at)) for k, fp, p, at in rows}  # one per key
        return list(latest.values())

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` the state table already holds (records created for other rows)."""
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ", ".join([self.wh.param] * len(part))
            sql = f"SELECT clarify_id FROM {self.wh.table(self.table)} WHERE clarify_id IN ({marks})"
            found.update(str(r[0]) for r in self.wh.fetchall(sql, part))
        return found

    def _reject(self, rejected: Sequence[Rejected], now: dt.datetime) -> None:
        self._maybe_rejects = True
        keys = list(dict.fromkeys(r.key for r in rejected))
        marks = ", ".join([self.wh.param] * len(keys))
        before = dict(
            self.wh.fetchall(
                f"SELECT key, attempts FROM {self.wh.table(REJECTS_TABLE)} WHERE object = {self.wh.param} "
                f"AND key IN ({marks})",
                (self.reject_object, *keys),
            )
        )
        firsts = dict(
            self.wh.fetchall(
                f"SELECT key, first_seen FROM {self.wh.table(REJECTS_TABLE)} WHERE object = {self.wh.param} "
                f"AND key IN ({marks})",
                (self.reject_object, *keys),
            )
        )
        rows = {}
        for r in rejected:  # the last word on a key wins
            rows[r.key] = (
                self.reject_object,
                r.key,
                orjson.dumps(r.payload, default=str).decode(),
                r.status,
                r.pointer,
                r.detail[:2000],
                firsts.get(r.key, now),
                now,
                int(before.get(r.key, 0)) + 1,
            )
        self.wh.upsert(
            REJECTS_TABLE,
            REJECT_COLUMNS,
            list(rows.values()),
            conflict=("object", "key"),
            update=("payload", "status", "pointer", "detail", "last_tried", "attempts"),
        )


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def load_schema(wh: WarehouseSQL, obj: str) -> ObjectSchema | None:
    """The object's schema as last fetched by a push into this dataset, or None."""
    if not (wh.schema_exists() and wh.table_exists(SCHEMAS_TABLE)):
        return None
    rows = wh.fetchall(f"SELECT schema FROM {wh.table(SCHEMAS_TABLE)} WHERE object = {wh.param}", (obj,))
    if not rows or not rows[0][0]:
        return None
    try:
        data = orjson.loads(rows[0][0])
        return ObjectSchema(
            slug=str(data["slug"]),
            fields={str(n): FieldSpec(**{**f, "enum": tuple(f.get("enum") or ())}) for n, f in data["fields"].items()},
            relationships={str(k): str(v) for k, v in (data.get("relationships") or {}).items()},
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None  # unreadable: fetch it again


def save_schema(wh: WarehouseSQL, obj: ObjectSchema) -> None:
    ensure_tables(wh, {SCHEMAS_TABLE: "object TEXT PRIMARY KEY, schema TEXT NOT NULL, fetched_at {ts} NOT NULL"})
    text = orjson.dumps(dataclasses.asdict(obj)).decode()
    with wh.transaction():
        wh.upsert(
            SCHEMAS_TABLE,
            ("object", "schema", "fetched_at"),
            [(obj.slug, text, dt.datetime.now(dt.UTC))],
            conflict=("object",),
            update=("schema", "fetched_at"),
        )


def load_dialect(wh: WarehouseSQL, workspace: str) -> str | None:
    """The dialect a push into this dataset learnt for `workspace` (dialect.py), or None."""
    if not (wh.schema_exists() and wh.table_exists(DIALECTS_TABLE)):
        return None
    rows = wh.fetchall(f"SELECT dialect FROM {wh.table(DIALECTS_TABLE)} WHERE workspace = {wh.param}", (workspace,))
    return str(rows[0][0]) if rows else None


def save_dialect(wh: WarehouseSQL, workspace: str, dialect: str) -> None:
    ensure_tables(wh, {DIALECTS_TABLE: "workspace TEXT PRIMARY KEY, dialect TEXT NOT NULL, learnt_at {ts} NOT NULL"})
    with wh.transaction():
        wh.upsert(
            DIALECTS_TABLE,
            ("workspace", "dialect", "learnt_at"),
            [(workspace, dialect, dt.datetime.now(dt.UTC))],
            conflict=("workspace",),
            update=("dialect", "learnt_at"),
        )
