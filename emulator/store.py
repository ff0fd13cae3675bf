"""SQLite-backed records, links and unique keys; every write path (API, control, tests) goes through here."""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time
from bisect import bisect_left, insort
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import orjson

from emulator.clock import Clock
from emulator.demo_data import prepare
from emulator.errors import ApiError, ErrorItem, TakenError
from emulator.filters import Floor, Where
from emulator.schemas import OBJECTS, ObjectDef, RelDef
from emulator.tables import DDL, INDEXES, connect, unique_values
from emulator.validation import validate_attributes

Row = tuple[str, str, str]  # (id, object, attrs JSON)
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class WriteItem:
    """One record of a (possibly single-element) write batch, with where its errors point."""

    attrs: object
    pointer: str  # JSON pointer of the item's `attributes`
    record_id: str | None = None


def require_object(slug: str) -> ObjectDef:
    obj = OBJECTS.get(slug)
    if obj is None:
        raise ApiError(404, f"Object {slug!r} not found")
    return obj


class RecordStore:
    """One connection behind one lock: simple, and SQLite serializes writers anyway."""

    def __init__(self, path: str, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self._conn = connect(path)
        self._conn.executescript(DDL + INDEXES)
        self._lock = threading.RLock()
        self._generation = 0
        self._counts: dict[tuple[str, tuple[object, ...]], tuple[int, int]] = {}
        self._floors: dict[str, list[tuple[str, bool, int]]] = {}  # per object, sorted by floor
        self._floors_generation = 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._generation += 1

    # --- reading ---------------------------------------------------------------------------

    def exists(self, slug: str, rid: str) -> bool:
        with self._lock:
            return (
                self._conn.execute("SELECT 1 FROM records WHERE id = ? AND object = ?", (rid, slug)).fetchone()
                is not None
            )

    def fetch(self, slug: str, rid: str) -> Row:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, object, attrs FROM records WHERE id = ? AND object = ?", (rid, slug)
            ).fetchone()
        if row is None:
            raise ApiError(404, f"No {slug} record with id {rid!r}")
        return row

    def page(self, slug: str, where: str, params: Sequence[object], order: str, limit: int, offset: int) -> list[Row]:
        sql = (
            f"SELECT r0.id, r0.object, r0.attrs FROM records r0 WHERE r0.object = ? AND ({where}) "
            f"ORDER BY {order} LIMIT ? OFFSET ?"
        )
        with self._lock:
            return self._conn.execute(sql, (slug, *params, limit, offset)).fetchall()

    def count(self, slug: str, where: Where) -> int:
        """Matching rows; memoized until the next write, so re-reading one query's pages is free.

        The sync's query (only an `_updated_at` floor) moves its floor a page at a time; its count is
        derived from the nearest lower floor counted before, by counting just the gap between them,
        so `total_records` costs a few hundred index entries per page instead of the whole range.
        """
        sql = where.render()
        key = (f"{slug}|{sql}", tuple(where.params))
        with self._lock:
            hit = self._counts.get(key)
            if hit is not None and hit[0] == self._generation:
                return hit[1]
            if self._floors_generation != self._generation:
                self._floors.clear()
                self._floors_generation = self._generation
            n = self._floor_count(slug, where.floor) if where.floor else None
            if n is None:
                (n,) = self._conn.execute(
                    f"SELECT count(*) FROM records r0 WHERE r0.object = ? AND ({sql})", (slug, *where.params)
                ).fetchone()
            if len(self._counts) > 10_000:
                self._counts.clear()
            self._counts[key] = (self._generation, n)
            if where.floor:
                insort(self._floors.setdefault(slug, []), (where.floor.ts, where.floor.inclusive, n))
            return n

    def _floor_count(self, slug: str, floor: Floor) -> int | None:
        known = self._floors.get(slug, [])
        i = bisect_left(known, (floor.ts,)) - 1
        if i < 0:
            return None
        ts0, inclusive0, n0 = known[i]
        (gap,) = self._conn.execute(
            f"SELECT count(*) FROM records WHERE object = ? AND updated_at {'>=' if inclusive0 else '>'} ? "
            f"AND updated_at {'<' if floor.inclusive else '<='} ?",
            (slug, ts0, floor.ts),
        ).fetchone()
        return n0 - gap

    def related(self, obj: ObjectDef, ids: Sequence[str] | None) -> dict[str, dict[str, list[str]]]:
        """`{relationship: {record id: [target ids]}}` for the given records (all when `ids` is None)."""
        out: dict[str, dict[str, list[str]]] = {}
        for rel in obj.relationships.values():
            me, other = ("src", "dst") if rel.side == "src" else ("dst", "src")
            sql = f"SELECT {me}, {other} FROM links WHERE link = ?"
            params: list[object] = [rel.link]
            if ids is not None:
                sql += f" AND {me} IN ({', '.join('?' * len(ids))})"
                params.extend(ids)
            by_id: dict[str, list[str]] = {}
            with self._lock:
                for rid, target in self._conn.execute(sql + f" ORDER BY {me}, {other}", params):
                    by_id.setdefault(rid, []).append(target)
            out[rel.name] = by_id
        return out

    def render(self, rows: Sequence[Row], raw: bool = True) -> list[dict[str, object]]:
        """JSON:API records; `raw` embeds the stored JSON untouched (fast path for responses)."""
        if not rows:
            return []
        obj = OBJECTS[rows[0][1]]
        rels = self.related(obj, [r[0] for r in rows]) if obj.relationships else {}
        return [
            _jsonapi(obj, rid, orjson.Fragment(attrs) if raw else orjson.loads(attrs), rels)
            for rid, _slug, attrs in rows
        ]

    def records(self, slug: str) -> list[dict[str, object]]:
        """Every record of an object, ordered by id, exactly as the API serves them (test helper)."""
        require_object(slug)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, object, attrs FROM records WHERE object = ? ORDER BY id", (slug,)
            ).fetchall()
        return self.render(rows, raw=False)

    def links(self, slug: str, name: str) -> list[tuple[str, str]]:
        """(record id, target id) pairs of one relationship, seen from `slug`'s side."""
        rel = self.relationship(require_object(slug), name)
        by_id = self.related(OBJECTS[slug], None)[rel.name]
        return [(rid, t) for rid, targets in sorted(by_id.items()) for t in targets]

    @staticmethod
    def relationship(obj: ObjectDef, name: str) -> RelDef:
        rel = obj.relationships.get(name)
        if rel is None:
            raise ApiError(404, f"{obj.slug} has no relationship {name!r}; known: {sorted(obj.relationships)}")
        return rel

    # --- writing ---------------------------------------------------------------------------

    def create(
        self, slug: str, attrs: dict[str, object], actor: str = SYSTEM_ACTOR, match_on: str | None = None
    ) -> dict[str, object]:
        """Create (or upsert with `match_on`) one record; raises `ApiError` like the API would."""
        return self.write(slug, [WriteItem(attrs, "/data/attributes")], actor, match_on)[0]

    def update(self, slug: str, rid: str, attrs: dict[str, object], actor: str = SYSTEM_ACTOR) -> dict[str, object]:
        return self.write(slug, [WriteItem(attrs, "/data/attributes", rid)], actor)[0]

    def delete(self, slug: str, rid: str) -> None:
        self.delete_many(slug, [rid])

    def write(
        self, slug: str, items: Sequence[WriteItem], actor: str, match_on: str | None = None
    ) -> list[dict[str, object]]:
        """Atomic batch of creates, upserts and updates: all succeed or none is applied.

        Items apply in order, as if written one by one (a later item sees an earlier one's record and
        unique keys), but the batch costs a few statements: existing records and the unique keys in play
        are read up front, the outcome is kept in memory and written with `executemany` at the end, and
        the response is built from what was written instead of reading it back. The whole batch shares
        one `_updated_at`.
        """
        obj = require_object(slug)
        if match_on is not None and (match_on not in obj.fields or match_on.startswith("_")):
            raise ApiError(400, f"match_on: {match_on!r} is not a field of {slug}", pointer="/match_on")
        with self._transaction():
            cleaned: list[dict[str, object]] = []
            errors: list[ErrorItem] = []
            for item in items:
                clean, errs = validate_attributes(obj, item.attrs, item.pointer, self.exists)
                cleaned.append(clean)
                errors.extend(errs)
            if errors:
                raise ApiError(errors[0].status, errors[0].detail, errors[0].pointer, items=errors)
            batch = _Batch(self, obj, actor, self.clock.now_iso())
            batch.preload(items, cleaned)
            ids = [batch.put(item, clean, match_on) for item, clean in zip(items, cleaned, strict=True)]
            batch.flush()
            rels = self.related(obj, list(dict.fromkeys(ids))) if obj.relationships else {}
        return [_jsonapi(obj, rid, batch.attrs[rid], rels) for rid in ids]

    def _owners(self, obj: ObjectDef, column: str, values: Sequence[str]) -> list[tuple[str, str]]:
        """(value, id) rows of `unique_keys` whose `column` (value or id) is one of `values`."""
        rows: list[tuple[str, str]] = []
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            rows += self._conn.execute(
                f"SELECT value, id FROM unique_keys WHERE object = ? AND {column} IN ({', '.join('?' * len(chunk))})",
                (obj.slug, *chunk),
            ).fetchall()
        return rows

    def _match(self, obj: ObjectDef, field: str, clean: dict[str, object], pointer: str) -> str | None:
        """The record a non-unique `match_on` field points at (the unique field is matched in `_Batch`)."""
        value = clean.get(field)
        if value is None:
            raise ApiError(422, f"match_on field {field!r} needs a value", pointer=f"{pointer}/{field}")
        scalar = orjson.dumps(value).decode() if isinstance(value, dict | list) else value
        row = self._conn.execute(
            "SELECT id FROM records WHERE object = ? AND json_extract(attrs, ?) = ? ORDER BY id LIMIT 1",
            (obj.slug, f"$.{field}", scalar),
        ).fetchone()
        return None if row is None else row[0]

    def _claim_unique(self, obj: ObjectDef, rid: str, attrs: dict[str, object], pointer: str) -> None:
        """Refuse a unique value held by another record (400, as the live API does), else record it."""
        keys = unique_values(obj, attrs)
        for key in keys:
            row = self._conn.execute(
                "SELECT id FROM unique_keys WHERE object = ? AND value = ?", (obj.slug, key)
            ).fetchone()
            if row is not None and row[0] != rid:
                raise _taken(obj, key, row[0], pointer)
        self._conn.execute("DELETE FROM unique_keys WHERE id = ?", (rid,))
        self._conn.executemany("INSERT INTO unique_keys VALUES (?, ?, ?)", [(obj.slug, k, rid) for k in keys])

    def delete_many(self, slug: str, ids: Sequence[str]) -> None:
        """Delete all listed records or none (404 names the first unknown id)."""
        obj = require_object(slug)
        with self._transaction():
            for rid in ids:
                self.fetch(slug, rid)
                self._conn.execute("DELETE FROM records WHERE object = ? AND id = ?", (slug, rid))
                self._conn.execute("DELETE FROM unique_keys WHERE id = ?", (rid,))
                for link, column in _link_ends(obj):
                    self._conn.execute(f"DELETE FROM links WHERE link = ? AND {column} = ?", (link, rid))

    def set_links(self, slug: str, rid: str, name: str, targets: Sequence[str], mode: str, actor: str) -> list[str]:
        """Replace, append to or remove from a relationship; touches the record's `_updated_at`."""
        obj = require_object(slug)
        rel = self.relationship(obj, name)
        with self._transaction():
            self.fetch(slug, rid)
            for i, target in enumerate(targets):
                if not self.exists(rel.target, target):
                    raise ApiError(422, f"no {rel.target} record with id {target!r}", pointer=f"/data/{i}/id")
            me, other = ("src", "dst") if rel.side == "src" else ("dst", "src")
            if mode == "replace":
                self._conn.execute(f"DELETE FROM links WHERE link = ? AND {me} = ?", (rel.link, rid))
            if mode == "remove":
                self._conn.executemany(
                    f"DELETE FROM links WHERE link = ? AND {me} = ? AND {other} = ?",
                    [(rel.link, rid, t) for t in targets],
                )
            else:
                self._conn.executemany(
                    f"INSERT OR IGNORE INTO links (link, {me}, {other}) VALUES (?, ?, ?)",
                    [(rel.link, rid, t) for t in targets],
                )
            self._touch(slug, [rid], actor)
        return self.related(obj, [rid])[rel.name].get(rid, [])

    def touch(self, slug: str, ids: Sequence[str], actor: str) -> None:
        """Bump `_updated_at` without changing attributes (relationship edits, `mutate`)."""
        with self._transaction():
            self._touch(slug, ids, actor)

    def _touch(self, slug: str, ids: Sequence[str], actor: str) -> None:
        now = self.clock.now_iso()
        self._conn.executemany(
            "UPDATE records SET updated_at = ?, attrs = json_set(attrs, '$._updated_at', ?, '$._updated_by', ?) "
            "WHERE id = ? AND object = ?",
            [(now, now, actor, rid, slug) for rid in ids],
        )

    def drop_attribute(self, slug: str, rid: str, name: str) -> None:
        """Serve one record without an attribute, system fields included (tests of records the API sends
        without `_updated_at`); its place in sorts and filters stays where it was."""
        with self._transaction():
            self._conn.execute(
                "UPDATE records SET attrs = json_remove(attrs, ?) WHERE id = ? AND object = ?", (f"$.{name}", rid, slug)
            )

    def ids(self, slug: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT id FROM records WHERE object = ? ORDER BY id", (slug,))]

    def insert_generated(self, slug: str, records: Sequence[tuple[str, dict[str, object]]]) -> None:
        """Insert already-valid generated records (control `mutate` create) with their unique keys."""
        obj = require_object(slug)
        with self._transaction():
            for rid, attrs in records:
                self._claim_unique(obj, rid, attrs, "/data/attributes")
                self._conn.execute(
                    "INSERT INTO records VALUES (?, ?, ?, ?, ?)",
                    (rid, slug, attrs["_created_at"], attrs["_updated_at"], orjson.dumps(attrs).decode()),
                )


def _link_ends(obj: ObjectDef) -> set[tuple[str, str]]:
    """(link, column) of every stored link a record of `obj` can sit in: its own relationships, and those of other
    objects that point at it: a deleted record leaves no link behind on either side (undocumented for the live API;
    the sync drops such links too, `pipelines/sync.py::_drop_dangling_links`)."""
    ends = {(rel.link, rel.side) for rel in obj.relationships.values()}
    for other in OBJECTS.values():
        for rel in other.relationships.values():
            if rel.target == obj.slug:
                ends.add((rel.link, "dst" if rel.side == "src" else "src"))
    return ends


def _taken(obj: ObjectDef, key: str, holder: str, pointer: str) -> TakenError:
    return TakenError(
        400,
        f"{obj.unique_field}: {key!r} already belongs to {obj.slug} {holder}; "
        f'send "match_on": "{obj.unique_field}" to update it instead',
        pointer=f"{pointer}/{obj.unique_field}",
        key=key,
    )


class _Batch:
    """One write batch worked out in memory, item by item, then written by `flush` (see `RecordStore.write`).

    Invariants: `owner` is exact for every key it holds (a key it lacks was not touched by the batch, so
    the database answers for it), and `keys_of` is exact for every record the batch touched.
    """

    def __init__(self, store: RecordStore, obj: ObjectDef, actor: str, now: str) -> None:
        self.store, self.obj, self.actor, self.now = store, obj, actor, now
        self.unique = obj.unique_field
        self.attrs: dict[str, dict[str, object]] = {}  # latest attributes of every record written
        self.loaded: dict[str, str] = {}  # attrs JSON of existing records, read up front
        self.owner: dict[str, str | None] = {}  # unique key -> record holding it (None: free)
        self.keys_of: dict[str, list[str]] = {}  # unique keys of each touched record
        self.stored_keys: dict[str, list[str]] = {}  # ... as the database has them now
        self.dirty: dict[str, None] = {}  # records to write, in order

    def preload(self, items: Sequence[WriteItem], cleaned: Sequence[dict[str, object]]) -> None:
        """Read the records named by id, the unique keys the batch sends, and their holders: 3 queries."""
        store, obj, unique = self.store, self.obj, self.unique
        wanted = {i.record_id for i in items if i.record_id is not None}
        if unique is not None:
            keys = sorted({k for c in cleaned if unique in c for k in unique_values(obj, c)})
            self.owner = dict.fromkeys(keys)
            for value, rid in store._owners(obj, "value", keys):
                self.owner[value] = rid
                wanted.add(rid)
        ids = sorted(wanted)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            self.loaded.update(
                store._conn.execute(
                    f"SELECT id, attrs FROM records WHERE object = ? AND id IN ({', '.join('?' * len(chunk))})",
                    (obj.slug, *chunk),
                )
            )
        self._load_keys(list(self.loaded))

    def _load_keys(self, ids: list[str]) -> None:
        for rid in ids:
            self.keys_of[rid], self.stored_keys[rid] = [], []
        if self.unique is not None and ids:
            for value, rid in self.store._owners(self.obj, "id", ids):
                self.owner[value] = rid
                self.keys_of[rid].append(value)
                self.stored_keys[rid].append(value)

    def _holder(self, key: str) -> str | None:
        if key not in self.owner:
            row = self.store._conn.execute(
                "SELECT id FROM unique_keys WHERE object = ? AND value = ?", (self.obj.slug, key)
            ).fetchone()
            self.owner[key] = None if row is None else row[0]
        return self.owner[key]

    def _current(self, rid: str) -> dict[str, object]:
        if rid in self.attrs:
            return self.attrs[rid]
        text = self.loaded.get(rid)
        if text is None:
            text = self.store.fetch(self.obj.slug, rid)[2]  # 404 for an unknown id
            self.loaded[rid] = text
            self._load_keys([rid])
        return orjson.loads(text)

    def put(self, item: WriteItem, clean: dict[str, object], match_on: str | None) -> str:
        obj, now, actor = self.obj, self.now, self.actor
        rid = item.record_id
        if rid is None and match_on is not None:
            rid = self._match(match_on, clean, item.pointer)
        if rid is not None:
            attrs = {**self._current(rid)}
            attrs.update(clean)
            attrs.update(_updated_at=now, _updated_by=actor)
        else:
            rid = new_id(obj)
            self.keys_of[rid], self.stored_keys[rid] = [], []
            attrs = dict.fromkeys(obj.fields)
            attrs.update(clean)
            attrs.update(_created_at=now, _updated_at=now, _created_by=actor, _updated_by=actor)
        self._claim(rid, attrs, item.pointer)
        self.attrs[rid] = attrs
        self.dirty[rid] = None
        return rid

    def _match(self, field: str, clean: dict[str, object], pointer: str) -> str | None:
        if field != self.unique:
            self.flush()  # the lookup below reads the table, so it must hold the batch so far
            return self.store._match(self.obj, field, clean, pointer)
        value = clean.get(field)
        if value is None:
            raise ApiError(422, f"match_on field {field!r} needs a value", pointer=f"{pointer}/{field}")
        holders = [h for k in unique_values(self.obj, {field: value}) if (h := self._holder(k)) is not None]
        return min(holders) if holders else None  # the lowest id, as `ORDER BY id LIMIT 1` would

    def _claim(self, rid: str, attrs: dict[str, object], pointer: str) -> None:
        """Refuse a unique value held by another record (400, as the live API does), else take it."""
        keys = unique_values(self.obj, attrs)
        for key in keys:
            holder = self._holder(key)
            if holder is not None and holder != rid:
                raise _taken(self.obj, key, holder, pointer)
        for key in self.keys_of[rid]:
            self.owner[key] = None
        for key in keys:
            self.owner[key] = rid
        self.keys_of[rid] = keys

    def flush(self) -> None:
        if not self.dirty:
            return
        conn, slug = self.store._conn, self.obj.slug
        rids = list(self.dirty)
        conn.executemany(
            "INSERT OR REPLACE INTO records (id, object, created_at, updated_at, attrs) VALUES (?, ?, ?, ?, ?)",
            [
                (rid, slug, a["_created_at"], a["_updated_at"], orjson.dumps(a).decode())
                for rid in rids
                for a in (self.attrs[rid],)
            ],
        )
        moved = [rid for rid in rids if set(self.keys_of[rid]) != set(self.stored_keys[rid])]
        conn.executemany("DELETE FROM unique_keys WHERE id = ?", [(rid,) for rid in moved if self.stored_keys[rid]])
        conn.executemany(
            "INSERT INTO unique_keys VALUES (?, ?, ?)", [(slug, k, rid) for rid in moved for k in self.keys_of[rid]]
        )
        for rid in moved:
            self.stored_keys[rid] = list(self.keys_of[rid])
        self.dirty.clear()


def new_id(obj: ObjectDef) -> str:
    """ULID-like: a millisecond timestamp, then randomness. Ids need not be reproducible, only unique;
    being time-ordered (as real ULIDs are), new records land at the end of the record index instead of
    dirtying a page all over it per insert."""
    return f"{obj.id_prefix}_01H{int(time.time() * 1000):011x}{next(_ID_SEQUENCE) & 0xFFFFFFFFFFFF:012x}"


# A random start, then counting: unique within the process without a system call per id.
_ID_SEQUENCE = itertools.count(int.from_bytes(secrets.token_bytes(5)) << 8)


def open_store(directory: str, records: int, seed: int, clock: Clock, cache_dir: str | None) -> RecordStore:
    """A private copy of the cached demo database for one server."""
    path = os.path.join(directory, "clarify.sqlite")
    prepare(path, records, seed, cache_dir)
    return RecordStore(path, clock)


def _jsonapi(obj: ObjectDef, rid: str, attributes: object, rels: dict[str, dict[str, list[str]]]) -> dict[str, object]:
    """One record as the API serves it; `rels` maps relationship name → {record id: target ids}."""
    record: dict[str, object] = {"type": obj.slug, "id": rid, "attributes": attributes}
    if rels:
        record["relationships"] = {
            name: {"data": [{"type": obj.relationships[name].target, "id": t} for t in by.get(rid, [])]}
            for name, by in rels.items()
        }
    return record
