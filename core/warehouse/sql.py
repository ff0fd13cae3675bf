"""SQL reads and writes in the warehouse, one interface (`WarehouseSQL`) over three connections.

- `DuckDBSQL`, `PostgresSQL` (`open_warehouse`): the CRM push reads the warehouse directly (DuckDB's Python
  API, psycopg2) rather than through a dlt pipeline: it needs a few SQL statements the warehouse runs itself
  (the diff join, the fingerprint hash) and per-batch commits of its own state tables. Everything
  dialect-specific lives here: how to open, how to hash a row, how to cast to text, how to stream rows and how
  to upsert rows into a table.
- `PipelineSQL` (`pipeline_sql`): the same statements through the sql_client of the dlt pipeline that loaded
  the tables, for any destination dlt can query: the sync's deletions, the time-series push and status.
- `table_ids`, `delete_where_in`, `row_count`: what sync and status ask of a loaded table, answered by SQL or,
  for Delta tables on a lake, by `lake.py`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, WarehouseError, first_line
from core.warehouse import DELETED_COLUMN
from core.warehouse.options import WarehouseOptions

if TYPE_CHECKING:  # dlt and the lake (pyarrow) load only where a pipeline is used: `check` and run records need neither
    import dlt


def quote(name: str) -> str:
    """Quote one identifier (both dialects use double quotes)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal (only for values we build ourselves, such as the fingerprint salt)."""
    return "'" + text.replace("'", "''") + "'"


_MERGE_SOURCE = "__clarify_merge"  # the batch `merge_arrow` reads from: a registered arrow table, or a temp table


def _on_conflict(conflict: Sequence[str], update: Sequence[str]) -> str:
    if not conflict:
        return ""
    sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
    return f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO UPDATE SET {sets}"


class WarehouseSQL:
    """A live connection to the warehouse holding the dataset; subclasses fill in the dialect."""

    dialect: str
    dataset: str
    error: type[Exception]  # what a refused statement raises

    # --- SQL fragments -------------------------------------------------------------------
    def row_text(self, alias: str) -> str:
        """A canonical text of every column of the row `alias` (stable within this dialect)."""
        raise NotImplementedError

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"

    def fingerprint(self, salt: str, alias: str) -> str:
        return f"md5({literal(salt)} || {self.row_text(alias)})"

    def table(self, name: str) -> str:
        """A table of the dataset, qualified and quoted."""
        return f"{quote(self.dataset)}.{quote(name)}"

    def epoch_day(self, column: str) -> str:
        """The UTC day of a timestamptz column as days since the epoch, whatever the session's time zone."""
        if self.dialect == "duckdb":
            return f"(epoch_us({column}) // 86400000000)"
        if self.dialect == "postgres":
            return f"CAST(floor(extract(epoch FROM {column}) / 86400) AS BIGINT)"
        raise ConfigError(f"days are counted in duckdb or postgres, not {self.dialect}: use one of those destinations")

    @property
    def timestamp_type(self) -> str:
        return "TIMESTAMPTZ" if self.dialect == "postgres" else "TIMESTAMP WITH TIME ZONE"

    # --- statements ----------------------------------------------------------------------
    def columns_of(self, query: str) -> list[str]:
        raise NotImplementedError

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def fetch_named(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The rows of `sql` with its column names."""
        raise NotImplementedError

    def iter_columns(self, sql: str, chunk: int) -> Iterator[tuple[int, dict[str, list[Any]]]]:
        """The rows of `sql` in chunks of at most `chunk`, column-wise: (row count, column → values)."""
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def table_exists(self, name: str) -> bool:
        rows = self.fetchall(
            "SELECT count(*) FROM information_schema.tables "
            f"WHERE table_schema = {self.param} AND table_name = {self.param}",
            (self.dataset, name),
        )
        return bool(rows and rows[0][0])

    def schema_exists(self) -> bool:
        rows = self.fetchall(
            f"SELECT count(*) FROM information_schema.schemata WHERE schema_name = {self.param}",
            (self.dataset,),
        )
        return bool(rows and rows[0][0])

    def ensure_schema(self) -> None:
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.dataset)}")

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        conflict: Sequence[str],
        update: Sequence[str],
    ) -> None:
        """Insert `rows`, replacing `update` columns where the `conflict` key already exists (no conflict
        columns: a plain insert); committed unless inside `transaction()`. A dialect overrides this or
        `upsert_columns`, whichever suits its driver."""
        if rows:
            self.upsert_columns(table, {c: [r[i] for r in rows] for i, c in enumerate(columns)}, conflict, update)

    def upsert_columns(
        self, table: str, data: dict[str, Sequence[Any]], conflict: Sequence[str], update: Sequence[str]
    ) -> None:
        """`upsert` of rows held column-wise (column → values, all of one length)."""
        self.upsert(table, list(data), list(zip(*data.values(), strict=True)), conflict, update)

    def insert_few(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A plain INSERT per row, for a handful of rows (run records): `upsert`'s bulk path goes through
        arrow, whose import (with pandas, which DuckDB then loads) costs more than a no-op sync itself."""
        names = ", ".join(quote(c) for c in columns)
        marks = ", ".join([self.param] * len(columns))
        for row in rows:
            self.execute(f"INSERT INTO {self.table(table)} ({names}) VALUES ({marks})", tuple(row))

    def table_columns(self, tables: Sequence[str]) -> dict[str, dict[str, bool]]:
        """Per dataset table of `tables` that exists: its columns, each with whether it may hold null."""
        rows = (
            self.fetchall(
                "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                f"WHERE table_schema = {self.param} AND table_name IN ({', '.join([self.param] * len(tables))})",
                (self.dataset, *tables),
            )
            if tables
            else []
        )
        columns: dict[str, dict[str, bool]] = {}
        for table, column, nullable in rows:
            columns.setdefault(table, {})[column] = nullable == "YES"
        return columns

    def merge_arrow(self, table: str, key: str, batch: Any, nullable: set[str]) -> None:
        """dlt's `delete-insert` merge of one arrow batch, as the sync's tables declare it: the rows whose `key`
        the batch names go, then its rows come in, except replace markers (`_deleted` true); `_deleted` stays
        null, as dlt leaves its hard-delete column. `nullable`: the table's columns that may hold null."""
        raise NotImplementedError

    def _merge_from(self, table: str, key: str, columns: Sequence[str]) -> list[str]:
        """`merge_arrow`'s statements, to run once the batch is readable as `_MERGE_SOURCE`."""
        target = self.table(table)
        cols = ", ".join(quote(c) for c in columns if c != DELETED_COLUMN)
        live = f" WHERE {quote(DELETED_COLUMN)} IS NOT TRUE" if DELETED_COLUMN in columns else ""
        return [
            f"DELETE FROM {target} WHERE {quote(key)} IN (SELECT {quote(key)} FROM {_MERGE_SOURCE})",
            f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {_MERGE_SOURCE}{live}",
        ]

    def delete_keys(self, table: str, where_col: str, where_val: str, key_col: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        marks = ", ".join([self.param] * len(keys))
        self.execute(
            f"DELETE FROM {self.table(table)} WHERE {quote(where_col)} = {self.param} "
            f"AND {quote(key_col)} IN ({marks})",
            (where_val, *keys),
        )

    def delete_in(self, table: str, column: str, values: Sequence[Any], chunk: int = 1000) -> None:
        """Delete the rows whose `column` is one of `values`, `chunk` values a statement."""
        for i in range(0, len(values), chunk):
            part = values[i : i + chunk]
            marks = ", ".join([self.param] * len(part))
            self.execute(f"DELETE FROM {self.table(table)} WHERE {column} IN ({marks})", part)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield  # pragma: no cover

    def close(self) -> None:
        raise NotImplementedError

    param = "?"


class DuckDBSQL(WarehouseSQL):
    dialect = "duckdb"
    param = "?"

    def __init__(self, path: str, dataset: str, *, read_only: bool):
        import duckdb

        self.dataset = dataset
        resolved = Path(path).expanduser().resolve()
        if not resolved.exists():
            raise WarehouseError(f"no DuckDB file at {resolved}: run `clarify-sync sync` first or pass --duckdb-path")
        try:
            self.con = duckdb.connect(str(resolved), read_only=read_only)
        except duckdb.Error as exc:
            raise WarehouseError(
                f"cannot open DuckDB file {resolved} ({first_line(exc)}): close other writers or pass --duckdb-path"
            ) from None
        self._duckdb = duckdb
        self.error = duckdb.Error

    def row_text(self, alias: str) -> str:
        return f"CAST(to_json({alias}) AS VARCHAR)"

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"

    def columns_of(self, query: str) -> list[str]:
        rel = self.con.execute(f"SELECT * FROM ({query}) AS q LIMIT 0")
        return [d[0] for d in rel.description]

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def fetch_named(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.con.execute(sql, list(params))
        return [d[0] for d in cursor.description], cursor.fetchall()

    def iter_columns(self, sql: str, chunk: int) -> Iterator[tuple[int, dict[str, list[Any]]]]:
        # Materialise the (changed-only) rows as arrow first: the same connection then writes state.
        table = self.con.sql(sql).to_arrow_table()
        for batch in table.to_batches(max_chunksize=chunk):
            yield batch.num_rows, batch.to_pydict()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def upsert_columns(
        self, table: str, data: dict[str, Sequence[Any]], conflict: Sequence[str], update: Sequence[str]
    ) -> None:
        import pyarrow as pa

        self.con.register("__clarify_push_rows", pa.table(data))
        try:
            cols = ", ".join(quote(c) for c in data)
            self.con.execute(
                f"INSERT INTO {self.table(table)} ({cols}) SELECT {cols} FROM __clarify_push_rows"
                + _on_conflict(conflict, update)
            )
        finally:
            self.con.unregister("__clarify_push_rows")

    def merge_arrow(self, table: str, key: str, batch: Any, nullable: set[str]) -> None:
        self.con.register(_MERGE_SOURCE, batch)
        try:
            for statement in self._merge_from(table, key, batch.column_names):
                self.execute(statement)
        finally:
            self.con.unregister(_MERGE_SOURCE)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()


class PostgresSQL(WarehouseSQL):
    dialect = "postgres"
    param = "%s"

    def __init__(self, dsn: str, dataset: str, *, read_only: bool):
        import psycopg2

        self.dataset = dataset
        try:
            self.con = psycopg2.connect(dsn)
        except psycopg2.Error as exc:
            raise WarehouseError(f"cannot connect to Postgres ({first_line(exc)}): check --postgres-dsn") from None
        if read_only:
            self.con.set_session(readonly=True)
        self._in_tx = False
        self._psycopg2 = psycopg2
        self.error = psycopg2.Error

    def row_text(self, alias: str) -> str:
        # The record's text form (record_out): stable per type and ~25% cheaper than row_to_json.
        return f"CAST({alias} AS TEXT)"

    def columns_of(self, query: str) -> list[str]:
        with self.con.cursor() as cur:
            try:
                cur.execute(f"SELECT * FROM ({query}) AS q LIMIT 0")
            finally:
                self.con.rollback()
            return [d[0] for d in cur.description]

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.fetch_named(sql, params)[1]

    def fetch_named(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.con.cursor() as cur:
            cur.execute(sql, tuple(params))
            names, rows = [d[0] for d in cur.description], cur.fetchall()
        if not self._in_tx:
            self.con.commit()
        return names, rows

    def iter_columns(self, sql: str, chunk: int) -> Iterator[tuple[int, dict[str, list[Any]]]]:
        # A server-side cursor on a second connection streams rows while this one commits state per batch.
        reader = self._psycopg2.connect(self.con.dsn)
        reader.set_session(readonly=True)
        try:
            with reader.cursor() as setup:  # plan for reading everything (the diff is a full scan anyway)
                setup.execute("SET cursor_tuple_fraction = 1.0")
            with reader.cursor(name="clarify_push_diff") as cur:
                cur.itersize = chunk
                cur.execute(sql)
                names: list[str] | None = None
                while True:
                    rows = cur.fetchmany(chunk)
                    if names is None:
                        names = [d[0] for d in cur.description]
                    if not rows:
                        break
                    yield len(rows), {n: list(values) for n, values in zip(names, zip(*rows, strict=True), strict=True)}
        finally:
            reader.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.execute_count(sql, params)

    def execute_count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """`execute`, returning how many rows the statement changed."""
        with self.con.cursor() as cur:
            cur.execute(sql, tuple(params))
            count = cur.rowcount
        if not self._in_tx:
            self.con.commit()
        return count

    def merge_arrow(self, table: str, key: str, batch: Any, nullable: set[str]) -> None:
        """The batch goes into a temporary table by `COPY` of its CSV text, written and read as dlt's csv load
        jobs write and read it (quoted only where needed; an empty field is null in a column that may be null).
        Inside `transaction()`: the temporary table lives until its commit at most."""
        import pyarrow.csv as pacsv

        buffer = io.BytesIO()
        pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        buffer.seek(0)
        cols = [quote(c) for c in batch.column_names]
        force_null = [quote(c) for c in batch.column_names if c in nullable]
        options = f", FORCE_NULL ({', '.join(force_null)})" if force_null else ""
        self.execute(f"CREATE TEMPORARY TABLE {_MERGE_SOURCE} (LIKE {self.table(table)}) ON COMMIT DROP")
        with self.con.cursor() as cur:
            cur.copy_expert(
                f"COPY {_MERGE_SOURCE} ({', '.join(cols)}) FROM STDIN WITH (FORMAT CSV, NULL ''{options})", buffer
            )
        # the rest in one round trip: a remote server is a network hop away
        self.execute("; ".join([*self._merge_from(table, key, batch.column_names), f"DROP TABLE {_MERGE_SOURCE}"]))

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        conflict: Sequence[str],
        update: Sequence[str],
    ) -> None:
        if not rows:
            return
        from psycopg2.extras import execute_values

        cols = ", ".join(quote(c) for c in columns)
        with self.con.cursor() as cur:
            execute_values(
                cur,
                f"INSERT INTO {self.table(table)} ({cols}) VALUES %s" + _on_conflict(conflict, update),
                [tuple(r) for r in rows],
                page_size=1000,
            )
        if not self._in_tx:
            self.con.commit()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._in_tx = True
        try:
            yield
        except BaseException:
            self.con.rollback()
            raise
        finally:
            self._in_tx = False
        self.con.commit()

    def close(self) -> None:
        self.con.close()


class PipelineSQL(WarehouseSQL):
    """The same statements through an open dlt `sql_client`: any destination dlt can query, on the
    connection (and credentials) of the pipeline that loaded it. Sync, time series and their status use it."""

    param = "%s"

    def __init__(self, client: Any, dialect: str):
        self.client = client
        self.dataset = client.dataset_name
        self.dialect = dialect

    def table(self, name: str) -> str:
        return str(self.client.make_qualified_table_name(name))

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.client.execute_sql(sql, *params) or []]

    def fetch_named(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.client.execute_query(sql, *params) as cursor:
            return [d[0] for d in cursor.description], [tuple(r) for r in cursor.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.client.execute_sql(sql, *params)

    def schema_exists(self) -> bool:
        return bool(self.client.has_dataset())

    def ensure_schema(self) -> None:
        if not self.client.has_dataset():
            self.client.create_dataset()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.client.begin_transaction():
            yield

    def close(self) -> None:
        self.client.close_connection()


def open_warehouse(options: WarehouseOptions, *, read_only: bool) -> WarehouseSQL:
    """A direct connection to the warehouse the options name; `read_only` for dry runs (nothing can be written)."""
    if options.destination == "duckdb":
        return DuckDBSQL(options.duckdb_path, options.dataset, read_only=read_only)
    if options.destination == "postgres":
        return PostgresSQL(options.required_postgres_dsn(), options.dataset, read_only=read_only)
    raise ConfigError(
        f"push reads from duckdb or postgres, not {options.destination!r}: "
        "pass --destination duckdb or --destination postgres"
    )


@contextmanager
def pipeline_sql(pipeline: dlt.Pipeline) -> Iterator[PipelineSQL]:
    """The warehouse of `pipeline`, open for SQL for the duration of the block."""
    dialect = pipeline.destination.destination_name if pipeline.destination is not None else ""
    with pipeline.sql_client() as client:
        yield PipelineSQL(client, dialect)


def loaded_table(pipeline: dlt.Pipeline, name: str, *, child: bool = False) -> str | None:
    """The normalised name of a table the pipeline's schema knows with columns (i.e. loaded), else None. A `child`
    table's name (`person__companies`) is normalised as dlt names it, as a path, keeping its `__`."""
    if not pipeline.default_schema_name:  # nothing loaded yet
        return None
    naming = pipeline.default_schema.naming
    table = naming.normalize_tables_path(name) if child else naming.normalize_table_identifier(name)
    schema_table = pipeline.default_schema.tables.get(table)
    return table if schema_table and schema_table.get("columns") else None


def table_ids(pipeline: dlt.Pipeline, name: str) -> set[str]:
    """The `id`s stored in a loaded table (none when the table is not there)."""
    from core.warehouse import lake

    table = loaded_table(pipeline, name)
    if table is None:
        return set()
    if lake.is_delta(pipeline, table):
        return {str(v) for v in lake.read_column(pipeline, table, "id")}
    with pipeline_sql(pipeline) as sql:
        try:
            return {str(r[0]) for r in sql.fetchall(f"SELECT id FROM {sql.table(table)}")}
        except Exception as exc:
            if "does not exist" in str(exc).lower():
                return set()
            raise


def delete_where_in(pipeline: dlt.Pipeline, work: Sequence[tuple[str, str, list[str]]]) -> None:
    """For each (table, column, values): delete the rows whose column is one of the values."""
    from core.warehouse import lake

    if not work:
        return
    if lake.is_delta(pipeline, work[0][0]):
        for table, column, values in work:
            lake.delete_where_in(pipeline, table, column, values)
        return
    with pipeline_sql(pipeline) as sql:
        for table, column, values in work:
            sql.delete_in(table, column, values)


# Each row's own address, where a table has no key that tells two copies apart.
_ROW_ADDRESS = {"duckdb": "rowid", "postgres": "ctid"}


def drop_duplicate_keys(pipeline: dlt.Pipeline, work: Sequence[tuple[str, list[str]]]) -> None:
    """For each (table, primary key columns) of a DuckDB or Postgres warehouse: keep one row per key. An appended
    load job that ran but was not marked done runs again when its package is finished, and leaves a copy of its
    rows."""
    name = pipeline.destination.destination_name if pipeline.destination is not None else ""
    if not work or name not in _ROW_ADDRESS:
        return
    row = _ROW_ADDRESS[name]
    with pipeline_sql(pipeline) as sql:
        for table, keys in work:
            target, part = sql.table(table), ", ".join(quote(k) for k in keys)
            numbered = f"SELECT {row} AS r, row_number() OVER (PARTITION BY {part}) AS n FROM {target}"
            sql.execute(f"DELETE FROM {target} WHERE {row} IN (SELECT r FROM ({numbered}) AS d WHERE n > 1)")


def row_count(pipeline: dlt.Pipeline, name: str) -> int | None:
    """Rows in a loaded table, None when it is not there."""
    from core.warehouse import lake

    table = loaded_table(pipeline, name)
    if table is None:
        return None
    if pipeline.destination is not None and pipeline.destination.destination_name == "filesystem":
        return lake.row_count(pipeline, table)
    with pipeline_sql(pipeline) as sql:
        return int(sql.fetchall(f"SELECT count(*) FROM {sql.table(table)}")[0][0])
