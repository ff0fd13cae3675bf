"""SQLite-backed records, links and unique keys; every write path (API, control, tests) goes through here."""

from __future__ import annotations

import os
import secrets
import threading
from bisect import bisect_left, insort
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import orjson

from emulator.clock import Clock
from emulator.demo_data import prepare
from emulator.errors import ApiError, ErrorItem
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


class Store:
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
            return self._conn.execute(
                "SELECT 1 FROM records WHERE id = ? AND object = ?", (rid, slug)).fetchone() is not None

    def fetch(self, slug: str, rid: str) -> Row:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, object, attrs FROM records WHERE id = ? AND object = ?", (rid, slug)).fetchone()
        if row is None:
            raise ApiError(404, f"No {slug} record with id {rid!r}")
        return row

    def page(self, slug: str, where: str, params: Sequence[object], order: str, limit: int, offset: int
             ) -> list[Row]:
        sql = (f"SELECT r0.id, r0.object, r0.attrs FROM records r0 WHERE r0.object = ? AND ({where}) "
               f"ORDER BY {order} LIMIT ? OFFSET ?")
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
                (n,) = self._conn.execute(f"SELECT count(*) FROM records r0 WHERE r0.object = ? AND ({sql})",
                                          (slug, *where.params)).fetchone()
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
            f"AND updated_at {'<' if floor.inclusive else '<='} ?", (slug, ts0, floor.ts)).fetchone()
        return n0 - gap

    def related(self, obj: ObjectDef, ids: Sequence[str] | None) -> dict[str, dict[str, list[str]]]:
        """`{relationship: {record id: [target ids]}}` for the given records (all when `ids` is None)."""
        out: dict[str, dict[str, list[str]]] = {}
        for rel in obj.relationships.values():
            me, other = (("src", "dst") if rel.side == "src" else ("dst", "src"))
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
        out: list[dict[str, object]] = []
        for rid, slug, attrs in rows:
            record: dict[str, object] = {
                "type": slug,
                "id": rid,
                "attributes": orjson.Fragment(attrs) if raw else orjson.loads(attrs),
            }
            if rels:
                record["relationships"] = {
                    name: {"data": [{"type": obj.relationships[name].target, "id": t} for t in by.get(rid, [])]}
                    for name, by in rels.items()
                }
            out.append(record)
        return out

    def records(self, slug: str) -> list[dict[str, object]]:
        """Every record of an object, ordered by id, exactly as the API serves them (test helper)."""
        require_object(slug)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, object, attrs FROM records WHERE object = ? ORDER BY id", (slug,)).fetchall()
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

    def create(self, slug: str, attrs: dict[str, object], actor: str = SYSTEM_ACTOR,
               match_on: str | None = None) -> dict[str, object]:
        """Create (or upsert with `match_on`) one record; raises `ApiError` like the API would."""
        return self.write(slug, [WriteItem(attrs, "/data/attributes")], actor, match_on)[0]

    def update(self, slug: str, rid: str, attrs: dict[str, object], actor: str = SYSTEM_ACTOR
               ) -> dict[str, object]:
        return self.write(slug, [WriteItem(attrs, "/data/attributes", rid)], actor)[0]

    def delete(self, slug: str, rid: str) -> None:
        self.delete_many(slug, [rid])

    def write(self, slug: str, items: Sequence[WriteItem], actor: str, match_on: str | None = None
              ) -> list[dict[str, object]]:
        """Atomic batch of creates, upserts and updates: all succeed or none is applied."""
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
            pairs = zip(items, cleaned, strict=True)
            ids = [self._write_one(obj, item, clean, actor, match_on) for item, clean in pairs]
            rows = [self.fetch(slug, rid) for rid in ids]
        return self.render(rows, raw=False)

    def _write_one(self, obj: ObjectDef, item: WriteItem, clean: dict[str, object], actor: str,
                   match_on: str | None) -> str:
        now = self.clock.now_iso()
        rid = item.record_id
        if rid is None and match_on is not None:
            rid = self._match(obj, match_on, clean, item.pointer)
        if rid is not None:
            attrs = orjson.loads(self.fetch(obj.slug, rid)[2])
            attrs.update(clean)
            attrs.update(_updated_at=now, _updated_by=actor)
        else:
            rid = new_id(obj)
            attrs = dict.fromkeys(obj.fields)
            attrs.update(clean)
            attrs.update(_created_at=now, _updated_at=now, _created_by=actor, _updated_by=actor)
        self._claim_unique(obj, rid, attrs, item.pointer)
        self._conn.execute(
            "INSERT OR REPLACE INTO records (id, object, created_at, updated_at, attrs) VALUES (?, ?, ?, ?, ?)",
            (rid, obj.slug, attrs["_created_at"], now, orjson.dumps(attrs).decode()))
        return rid

    def _match(self, obj: ObjectDef, field: str, clean: dict[str, object], pointer: str) -> str | None:
        value = clean.get(field)
        if value is None:
            raise ApiError(422, f"match_on field {field!r} needs a value", pointer=f"{pointer}/{field}")
        if field == obj.unique_field:
            keys = unique_values(obj, {field: value})
            marks = ", ".join("?" * len(keys))
            row = self._conn.execute(
                f"SELECT id FROM unique_keys WHERE object = ? AND value IN ({marks}) ORDER BY id LIMIT 1",
                (obj.slug, *keys)).fetchone() if keys else None
        else:
            scalar = orjson.dumps(value).decode() if isinstance(value, dict | list) else value
            row = self._conn.execute(
                "SELECT id FROM records WHERE object = ? AND json_extract(attrs, ?) = ? ORDER BY id LIMIT 1",
                (obj.slug, f"$.{field}", scalar)).fetchone()
        return None if row is None else row[0]

    def _claim_unique(self, obj: ObjectDef, rid: str, attrs: dict[str, object], pointer: str) -> None:
        """Refuse a unique value held by another record (400, as the live API does), else record it."""
        keys = unique_values(obj, attrs)
        for key in keys:
            row = self._conn.execute(
                "SELECT id FROM unique_keys WHERE object = ? AND value = ?", (obj.slug, key)).fetchone()
            if row is not None and row[0] != rid:
                raise ApiError(400, f"{obj.unique_field}: {key!r} already belongs to {obj.slug} {row[0]}; "
                                    f'send "match_on": "{obj.unique_field}" to update it instead',
                               pointer=f"{pointer}/{obj.unique_field}")
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
                for rel in obj.relationships.values():
                    self._conn.execute(f"DELETE FROM links WHERE link = ? AND {rel.side} = ?", (rel.link, rid))

    def set_links(self, slug: str, rid: str, name: str, targets: Sequence[str], mode: str, actor: str
                  ) -> list[str]:
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
                self._conn.executemany(f"DELETE FROM links WHERE link = ? AND {me} = ? AND {other} = ?",
                                       [(rel.link, rid, t) for t in targets])
            else:
                self._conn.executemany(f"INSERT OR IGNORE INTO links (link, {me}, {other}) VALUES (?, ?, ?)",
                                       [(rel.link, rid, t) for t in targets])
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
            "WHERE id = ? AND object = ?", [(now, now, actor, rid, slug) for rid in ids])

    def ids(self, slug: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT id FROM records WHERE object = ? ORDER BY id", (slug,))]

    def insert_generated(self, slug: str, records: Sequence[tuple[str, dict[str, object]]]) -> None:
        """Insert already-valid generated records (control `mutate` create) with their unique keys."""
        obj = require_object(slug)
        with self._transaction():
            for rid, attrs in records:
                self._claim_unique(obj, rid, attrs, "/data/attributes")
                self._conn.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?)", (
                    rid, slug, attrs["_created_at"], attrs["_updated_at"], orjson.dumps(attrs).decode()))


def new_id(obj: ObjectDef) -> str:
    """Opaque ULID-looking id; API-created ids need not be reproducible, only unique."""
    return f"{obj.id_prefix}_01H{secrets.token_hex(12)[:23]}"


def open_store(directory: str, records: int, seed: int, clock: Clock, cache_dir: str | None) -> Store:
    """A private copy of the cached demo database for one server."""
    path = os.path.join(directory, "clarify.sqlite")
    prepare(path, records, seed, cache_dir)
    return Store(path, clock)
