"""The push, end to end: check the input, diff in the warehouse, convert, send in batches, record state.

Order matters for "no partial damage": the object and columns are checked against `GET /schemas` and the
SQL is probed (`LIMIT 0`) before any table is created; a dry run opens the warehouse read-only and never
creates a table. State is committed after every successful request, so a crash costs at most the
request in flight: with a unique field it is resent as an upsert (no duplicate); without one (task,
meeting) its rows could be created once more only if the crash falls between the server's answer and
the state commit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from destinations.clarify.api import ClarifyWriter, make_client
from destinations.clarify.batching import ROW_LEVEL, BatchSender, Failure, Item, failure_of
from destinations.clarify.convert import convert_row
from destinations.clarify.diff import Diff, relationship_source, salt
from destinations.clarify.schema import RELATIONSHIP_TARGETS, Attribute, ObjectSchema, parse_schemas
from destinations.clarify.state import REJECTS_TABLE, Landed, PushState, Rejected, state_table_name
from destinations.clarify.warehouse_sql import WarehouseSQL, one_line, open_warehouse, quote
from pipelines.warehouse import WarehouseOptions
from sources.common.connection import ClarifyConnection
from sources.common.errors import ApiError, ConfigError, WarehouseError

Progress = Callable[[int, int], None]
KEY_COLUMN = "_key"
SAMPLES = 5
MODES = ("upsert", "update")


@dataclass
class PushReport:
    """What one push did. `rejected` > 0 means some rows are waiting in `_clarify_push_rejects`."""

    object: str
    mode: str
    dry_run: bool = False
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    invalid: int = 0  # refused by local checks (counted in `rejected` too unless dry run)
    sent: int = 0  # rows that landed in Clarify
    rejected: int = 0  # rows refused (locally or by the API) in this run
    requests: int = 0  # HTTP requests made, retries included
    seconds: float = 0.0
    batch_size: int = 0  # the batch size in force at the end (it shrinks if the server refuses the size)
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.invalid == 0


@dataclass
class _Plan:
    key_column: str
    columns: dict[str, Attribute]  # source column → attribute
    match_on: str | None
    id_column: str | None  # update mode: the record id column
    unique: bool  # does the object upsert on a unique field


def _plan_records(obj: ObjectSchema, columns: list[str], mode: str, mapping: Mapping[str, str]) -> _Plan:
    missing = [c for c in mapping if c not in columns]
    if missing:
        raise ConfigError(
            f"mapping names column {missing[0]!r} that the source rows do not have: "
            f"fix the mapping (columns: {', '.join(columns)})"
        )
    mapped: dict[str, Attribute] = {}
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
        if name in obj.attributes and name not in writable:
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
    if mode == "update":
        if "id" not in columns:
            raise ConfigError("mode update needs an 'id' column holding the Clarify record id: add it to the query")
        return _Plan(KEY_COLUMN if KEY_COLUMN in columns else "id", mapped, None, "id", False)
    unique = obj.unique_field
    if unique:
        if unique not in seen:
            raise ConfigError(
                f"{obj.slug} upserts on {unique!r} but the rows have no such column: add it "
                "(or map a column to it), or use --mode update with an id column"
            )
        key = KEY_COLUMN if KEY_COLUMN in columns else seen[unique]
        return _Plan(key, mapped, unique, None, True)
    if KEY_COLUMN not in columns:
        raise ConfigError(
            f"{obj.slug} has no unique field to upsert on: add a {KEY_COLUMN!r} column that identifies "
            "each row (reruns then update the record created for it), or use --mode update"
        )
    return _Plan(KEY_COLUMN, mapped, None, None, False)


def _source_sql(wh: WarehouseSQL, from_table: str | None, sql: str | None) -> str:
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


def _sql_error(exc: Exception, what: str) -> WarehouseError:
    return WarehouseError(f"{what} failed ({one_line(exc)}): fix the SQL or --from-table")


def _db_errors() -> tuple[type[BaseException], ...]:
    import duckdb
    import psycopg2

    return (duckdb.Error, psycopg2.Error)


def run_push(
    connection: ClarifyConnection,
    warehouse: WarehouseOptions,
    *,
    object: str,  # noqa: A002 - the public keyword the CLI passes
    from_table: str | None = None,
    sql: str | None = None,
    mode: str = "upsert",
    mapping: Mapping[str, str] | None = None,
    relationship: str | None = None,
    batch_size: int = 100,
    full: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PushReport:
    """Push changed warehouse rows into Clarify object `object`; see pipelines/push.py for the contract."""
    started = time.monotonic()
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}: use upsert or update")
    if batch_size < 1:
        raise ConfigError("batch size must be at least 1")
    if (from_table is None) == (sql is None):
        raise ConfigError("give exactly one of --from-table or --sql")
    report = PushReport(
        object=object,
        mode=mode if not relationship else f"relationship:{relationship}",
        dry_run=dry_run,
        batch_size=batch_size,
    )
    client = make_client(connection)
    try:
        writer = ClarifyWriter(client, object)
        objects = parse_schemas(writer.schemas())
        obj = objects.get(object)
        if obj is None:
            raise ConfigError(f"unknown object {object!r}: use one of {', '.join(sorted(objects))}")
        wh = open_warehouse(warehouse, read_only=dry_run)
        try:
            _push(
                wh,
                writer,
                obj,
                report,
                from_table=from_table,
                sql=sql,
                mode=mode,
                mapping=dict(mapping or {}),
                relationship=relationship,
                batch_size=batch_size,
                full=full,
                dry_run=dry_run,
                progress=progress,
            )
        finally:
            wh.close()
    finally:
        report.requests = client.stats.requests
        report.seconds = time.monotonic() - started
        client.close()
    return report


def _push(
    wh: WarehouseSQL,
    writer: ClarifyWriter,
    obj: ObjectSchema,
    report: PushReport,
    *,
    from_table: str | None,
    sql: str | None,
    mode: str,
    mapping: dict[str, str],
    relationship: str | None,
    batch_size: int,
    full: bool,
    dry_run: bool,
    progress: Progress | None,
) -> None:
    db_errors = _db_errors()
    source = _source_sql(wh, from_table, sql)
    try:
        columns = wh.columns_of(source)
    except db_errors as exc:
        raise _sql_error(exc, "reading the source rows") from None
    if relationship:
        rel_target = _check_relationship(obj, relationship, columns)
        source = relationship_source(wh, source)
        plan = _Plan("id", {}, None, "id", False)
        salt_text = salt(object=obj.slug, relationship=relationship)
        state = PushState(wh, state_table_name(obj.slug, relationship), f"{obj.slug}.{relationship}")
    else:
        rel_target = None
        plan = _plan_records(obj, columns, mode, mapping)
        salt_text = salt(
            object=obj.slug,
            mode=mode,
            columns={c: a.name for c, a in plan.columns.items()},
            key=plan.key_column,
        )
        state = PushState(wh, state_table_name(obj.slug), obj.slug)
    try:
        diff = Diff(wh, source, plan.key_column, salt_text, state.table if state.exists() else None)
        counts = diff.counts()
    except db_errors as exc:
        raise _sql_error(exc, "the diff query") from None
    report.new, report.changed, report.unchanged = counts.new, counts.changed, counts.unchanged
    total = counts.total if full else counts.new + counts.changed
    if not dry_run:
        state.ensure()
        # Rows refused for a missing or duplicate key are re-judged every run.
        wh.execute(
            f"DELETE FROM {wh.table(REJECTS_TABLE)} WHERE object = {wh.param} AND key LIKE {wh.param}",
            (state.reject_object, "#%"),
        )
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    def landed(items: list[Item], ids: list[str | None]) -> None:
        rows = [
            Landed(it.key, it.fingerprint, (ids[i] if i < len(ids) and ids[i] else it.clarify_id))
            for i, it in enumerate(items)
        ]
        state.record(rows, [])
        report.sent += len(items)
        advance(len(items))

    def rejected(pairs: list[tuple[Item, Failure]]) -> None:
        state.record([], [Rejected(it.key, it.attributes, f.status, f.pointer, f.detail) for it, f in pairs])
        report.rejected += len(pairs)
        advance(len(pairs))

    def invalid(key: str, payload: Any, pointer: str | None, detail: str) -> None:
        report.invalid += 1
        if dry_run:
            if len(report.samples) < SAMPLES * 2:
                report.samples.append({"key": key, "change": "invalid", "pointer": pointer, "detail": detail})
            return
        state.record([], [Rejected(key, payload, "invalid", pointer, detail)])
        report.rejected += 1
        advance(1)

    create = BatchSender(
        lambda b: _ids(writer.bulk_create([i.attributes for i in b], plan.match_on)),
        landed,
        rejected,
        batch_size,
    )
    patch = BatchSender(
        lambda b: _ids(writer.bulk_update([(str(i.clarify_id), i.attributes) for i in b])),
        landed,
        rejected,
        batch_size,
    )
    seen: set[str] = set()
    chunk = max(1000, batch_size * 10)
    try:
        stream = wh.iter_dicts(diff.rows_sql(full=full), chunk) if total else iter(())
        for rows in stream:
            to_create: list[Item] = []
            to_patch: list[Item] = []
            for row in rows:
                key, fp = row["__key"], row["__fp"]
                if key is None:
                    what = plan.match_on or plan.key_column
                    invalid(
                        f"#null:{fp}",
                        _plain(row),
                        f"/data/attributes/{what}",
                        f"no value for {what!r}: every row needs one to be matched",
                    )
                    continue
                if key in seen:
                    invalid(
                        f"#dup:{key}",
                        _plain(row),
                        None,
                        f"duplicate key {key!r} in the source rows: keep one",
                    )
                    continue
                seen.add(key)
                if relationship:
                    item = Item(key, fp, {"targets": row["__targets"].split("\x1f")}, key)
                    if dry_run:
                        _sample(report, row, item)
                    else:
                        _send_relationship(writer, relationship, rel_target or "", item, landed, rejected)
                    continue
                attributes, errors = convert_row(row, plan.columns)
                if not errors and plan.match_on and attributes.get(plan.match_on) in (None, {"items": []}, ""):
                    errors = [
                        (
                            f"/data/attributes/{plan.match_on}",
                            f"no value for {plan.match_on!r}, which {obj.slug} upserts on",
                        )
                    ]
                if errors:
                    invalid(key, _plain(row), errors[0][0], "; ".join(d for _, d in errors))
                    continue
                if plan.id_column:
                    item = Item(key, fp, attributes, str(row[plan.id_column]))
                    target = to_patch
                elif not plan.unique and row.get("__clarify_id"):
                    item = Item(key, fp, attributes, row["__clarify_id"])
                    target = to_patch
                else:
                    item = Item(key, fp, attributes, row.get("__clarify_id"))
                    target = to_create
                if dry_run:
                    _sample(report, row, item)
                else:
                    target.append(item)
            if not dry_run:
                create.push(to_create)
                patch.push(to_patch)
    except db_errors as exc:
        raise _sql_error(exc, "reading the changed rows") from None
    report.batch_size = min(create.batch_size, patch.batch_size)


def _check_relationship(obj: ObjectSchema, relationship: str, columns: list[str]) -> str:
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


def _send_relationship(
    writer: ClarifyWriter,
    name: str,
    target: str,
    item: Item,
    landed: Callable[[list[Item], list[str | None]], None],
    rejected: Callable[[list[tuple[Item, Failure]]], None],
) -> None:
    try:
        writer.set_relationship(item.key, name, target, item.attributes["targets"])
    except ApiError as err:
        if err.status not in ROW_LEVEL:
            raise
        rejected([(item, failure_of(err))])
        return
    landed([item], [item.key])


def _sample(report: PushReport, row: dict[str, Any], item: Item) -> None:
    if len(report.samples) < SAMPLES:
        report.samples.append(
            {
                "key": item.key,
                "change": "new" if row.get("__new") else "changed",
                "attributes": item.attributes,
            }
        )


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("__")}


def _ids(records: list[dict[str, Any]]) -> list[str | None]:
    return [str(r["id"]) if r.get("id") is not None else None for r in records]
