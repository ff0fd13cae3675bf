"""Where the last sync's note lives, and how a reader knows nobody wrote the warehouse since it was written.

The note (`pipelines/noop_probe.py` says what it holds) lets a run that finds nothing new, or a few changed
records, skip dlt. It may be trusted only while it still describes the warehouse, which each store judges by a
stamp it writes with the note and checks on every read:
- DuckDB (`DuckDBNote`): a file beside the database, `<file>.<dataset>.sync.json`, stamped with the database
  file's and its WAL's size and mtime: any write to the file since makes it stale.
- Postgres (`PostgresNote`): the one row of `<dataset>._clarify_sync_note`, stamped with the newest
  `_dlt_loads` row of the sync's dlt schema: a dlt load since, from this machine or any other, makes it stale.
  The note lives in the warehouse, not beside a local pipeline folder, so a second machine syncing the same
  dataset reads the same note and the same stamp, and every sync deletes it as soon as it holds the
  warehouse's advisory lock (which every machine takes). Reading it costs one connection and one query.

A sync deletes the note (`forget`) as soon as it holds the lock and writes it (`write`) after its last load,
so a crashed or failed run never leaves one behind. The small-change load replaces it through `changing` and
`commit`: on DuckDB the note is deleted before the transaction and written after it (a crash in between
leaves none); on Postgres the note's row is replaced inside the transaction that writes the rows it describes.
Nothing here imports dlt: the runs that read a note must not pay for it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import orjson

from core.errors import WarehouseError
from core.warehouse.locking import duckdb_lock, postgres_lock
from core.warehouse.options import WarehouseOptions
from core.warehouse.sql import DuckDBSQL, PostgresSQL, WarehouseSQL

NOTE_TABLE = "_clarify_sync_note"
_STAMP = "stamp"  # the key under which a note read back carries its store's stamp


def file_stamp(path: Path) -> list[int] | None:
    """(mtime in ns, size) of a file, None when there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


class SyncNote:
    """The note of one warehouse and dataset; `read` returns it with its stamp, only while still valid."""

    def read(self) -> dict[str, Any] | None:
        raise NotImplementedError

    def write(self, note: dict[str, Any]) -> None:
        """Store `note`, stamped now (after the sync's last load)."""
        raise NotImplementedError

    def forget(self) -> None:
        """A sync is about to change the warehouse: no later run may trust the note until it finishes."""
        raise NotImplementedError

    def take(self) -> dict[str, Any] | None:
        """The valid note, forgotten: what a sync that holds the lock adopts before it writes."""
        note = self.read()
        self.forget()
        return note

    def restamp(self) -> None:
        """A run record was appended after the note: the note still describes the synced tables."""

    @contextmanager
    def changing(self, note: dict[str, Any], lock_timeout: float) -> Iterator[WarehouseSQL | None]:
        """The warehouse, locked against other syncs and open for writing, while `note` (as `read` returned it)
        is still its note; None when another run changed the warehouse since."""
        raise NotImplementedError
        yield  # pragma: no cover

    def commit(self, sql: WarehouseSQL, updated: dict[str, Any], write: Callable[[], None]) -> bool:
        """Inside `changing`: `write()` in one transaction, after which `updated` is the note. False, with
        nothing written, when the warehouse refused a statement or the note changed meanwhile."""
        raise NotImplementedError


def _unstamped(note: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in note.items() if k != _STAMP}


class DuckDBNote(SyncNote):
    def __init__(self, warehouse: WarehouseOptions) -> None:
        self.warehouse = warehouse
        self.db = Path(warehouse.duckdb_path).expanduser().resolve()
        self.path = self.db.with_name(f"{self.db.name}.{warehouse.dataset}.sync.json")
        self._pending: dict[str, Any] | None = None

    def _stamp(self) -> list[Any]:
        return [file_stamp(self.db), file_stamp(self.db.with_name(self.db.name + ".wal"))]

    def _load(self) -> dict[str, Any] | None:
        try:
            note = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return note if isinstance(note, dict) else None

    def _store(self, note: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(orjson.dumps({**_unstamped(note), _STAMP: self._stamp()}, default=str))
        os.replace(tmp, self.path)  # whole or not at all: a reader never sees half a note

    def read(self) -> dict[str, Any] | None:
        note = self._load()
        return note if note is not None and note.get(_STAMP) == self._stamp() else None

    def write(self, note: dict[str, Any]) -> None:
        self._store(note)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)

    def restamp(self) -> None:
        """Only a note that exists is touched, and a sync deletes it before it writes, so no other sync's write
        is hidden; a push's write (its own tables) is, which the note does not describe."""
        note = self._load()
        if note is not None:
            self._store(note)

    @contextmanager
    def changing(self, note: dict[str, Any], lock_timeout: float) -> Iterator[WarehouseSQL | None]:
        with duckdb_lock(self.warehouse, lock_timeout):
            if self.read() != note:
                yield None
                return
            self._pending = None
            sql = DuckDBSQL(self.warehouse.duckdb_path, self.warehouse.dataset, read_only=False)
            try:
                yield sql
            finally:
                sql.close()
            if self._pending is not None:  # stamped after the file is closed (and checkpointed)
                self.write(self._pending)

    def commit(self, sql: WarehouseSQL, updated: dict[str, Any], write: Callable[[], None]) -> bool:
        self.forget()  # a crash between the commit and the new note leaves none
        try:
            with sql.transaction():
                write()
        except sql.error:
            return False  # rolled back; the note is gone, so the dlt sync starts from dlt's own cursors
        self._pending = updated
        return True


class _Stale(Exception):
    """The note's row changed since it was read: roll the transaction back."""


class PostgresNote(SyncNote):
    def __init__(self, warehouse: WarehouseOptions, dsn: str, schema_name: str) -> None:
        self.warehouse = warehouse
        self.dsn = dsn
        self.schema_name = schema_name  # the dlt schema whose loads stamp the note
        self._token: str | None = None  # the note `changing` found

    def _open(self) -> PostgresSQL:
        return PostgresSQL(self.dsn, self.warehouse.dataset, read_only=False)

    def _newest_load(self, sql: WarehouseSQL) -> str:
        return f"(SELECT max(load_id) FROM {sql.table('_dlt_loads')} WHERE schema_name = {sql.param})"

    def _delete(self, sql: PostgresSQL) -> None:
        if sql.table_exists(NOTE_TABLE):
            sql.execute(f"DELETE FROM {sql.table(NOTE_TABLE)}")

    def _read(self, sql: PostgresSQL) -> dict[str, Any] | None:
        query = f"SELECT body, token, loads IS NOT DISTINCT FROM {self._newest_load(sql)} FROM {sql.table(NOTE_TABLE)}"
        try:
            rows = sql.fetchall(query, (self.schema_name,))
        except sql.error:  # no note table, or no dataset yet
            sql.con.rollback()
            return None
        if len(rows) != 1 or not rows[0][2]:
            return None
        body, token, _ = rows[0]
        return {**orjson.loads(body), _STAMP: token}

    def read(self) -> dict[str, Any] | None:
        try:
            sql = self._open()
        except WarehouseError:  # no note to trust: the dlt sync then says what is wrong, in its own order
            return None
        try:
            return self._read(sql)
        finally:
            sql.close()

    def write(self, note: dict[str, Any]) -> None:
        sql = self._open()
        try:
            if not sql.schema_exists():
                return
            columns = "body TEXT NOT NULL, token TEXT NOT NULL, loads TEXT"  # loads: the stamp
            sql.execute(f"CREATE TABLE IF NOT EXISTS {sql.table(NOTE_TABLE)} ({columns})")
            with sql.transaction():
                sql.execute(f"DELETE FROM {sql.table(NOTE_TABLE)}")
                sql.execute(
                    f"INSERT INTO {sql.table(NOTE_TABLE)} (body, token, loads) SELECT %s, %s, {self._newest_load(sql)}",
                    (orjson.dumps(_unstamped(note), default=str).decode(), uuid.uuid4().hex, self.schema_name),
                )
        finally:
            sql.close()

    def forget(self) -> None:
        sql = self._open()
        try:
            self._delete(sql)
        finally:
            sql.close()

    def take(self) -> dict[str, Any] | None:
        sql = self._open()
        try:
            note = self._read(sql)
            self._delete(sql)
            return note
        finally:
            sql.close()

    @contextmanager
    def changing(self, note: dict[str, Any], lock_timeout: float) -> Iterator[WarehouseSQL | None]:
        identity = self.warehouse.identity()
        with postgres_lock(self.dsn, identity, lock_timeout, f"this warehouse ({identity})"):
            sql = self._open()
            try:
                found = self._read(sql)
                self._token = found[_STAMP] if found is not None and found == note else None
                yield sql if self._token is not None else None
            finally:
                sql.close()

    def commit(self, sql: WarehouseSQL, updated: dict[str, Any], write: Callable[[], None]) -> bool:
        """The note's row is replaced first (locking it, so a sync that starts meanwhile waits to delete it),
        only while its token and stamp are still those `changing` saw."""
        pg = cast(PostgresSQL, sql)  # what `changing` opened
        replace = (
            f"UPDATE {sql.table(NOTE_TABLE)} SET body = %s, token = %s "
            f"WHERE token = %s AND loads IS NOT DISTINCT FROM {self._newest_load(sql)}"
        )
        body = orjson.dumps(_unstamped(updated), default=str).decode()
        try:
            with sql.transaction():
                if pg.execute_count(replace, (body, uuid.uuid4().hex, self._token, self.schema_name)) != 1:
                    raise _Stale
                write()
        except (_Stale, sql.error):
            return False  # rolled back: the rows and the note are as they were
        return True


def sync_note(warehouse: WarehouseOptions, schema_name: str, dsn: str | None = None) -> SyncNote | None:
    """The note store of `warehouse` (None where there is none). Postgres needs its DSN without dlt (`dsn`, else
    the flag or the environment): a DSN only dlt's secrets know leaves the note to runs that import dlt."""
    if warehouse.destination == "duckdb":
        return DuckDBNote(warehouse)
    if warehouse.destination == "postgres":
        dsn = dsn or warehouse.resolved_postgres_dsn()
        return PostgresNote(warehouse, dsn, schema_name) if dsn else None
    return None
