"""The push, end to end: check the input, diff in the warehouse, convert, send in batches, record state.

Order matters for "no partial damage": the object and columns are checked against the schema and the
SQL is probed (`LIMIT 0`) before any table is created; a dry run opens the warehouse read-only and never
creates a table.

Zero requests when nothing changed: the object's schema is kept in `_clarify_push_schemas` (state.py).
When it is there the plan and the diff use it; only if the diff finds rows to send (or the cached schema
does not fit the rows) is `GET /schemas` called, and everything is validated against that fresh answer
(the diff is redone if the fresh plan differs). The first push of an object always fetches it.

Sending: up to `concurrency` bulk requests in flight on worker threads (the shared HTTP client paces on
the rate-limit headers); the main thread records finished requests in the state table, a few in one
transaction, and never has more than `concurrency` requests in flight or finished but unrecorded
(batching.Dispatcher). A crash therefore costs at most `concurrency` requests: with a unique field (or a
PATCH) they are resent on the rerun, landing the same values again (no duplicate). Plain creates of objects
without a unique field (task, meeting) are not safe to resend, so they go one request at a time and their
created ids are committed before the next one is sent: their rows could be created once more only if the
crash falls between the server's answer and that commit.

Rows are read, checked and converted a chunk at a time, column-wise (convert.convert_columns).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from destinations.clarify.batching import ROW_LEVEL, BatchSender, Dispatcher, Failure, Item, Outcome, failure_of
from destinations.clarify.convert import convert_columns
from destinations.clarify.diff import Diff, DiffCounts, relationship_source, salt
from destinations.clarify.state import (
    REJECTS_TABLE,
    Landed,
    PushState,
    Rejected,
    load_schema,
    save_schema,
    state_table_name,
)
from destinations.clarify.warehouse_sql import WarehouseSQL, one_line, open_warehouse, quote
from pipelines.warehouse import WarehouseOptions
from sources.clarify.api import ClarifyApi
from sources.clarify.schema import RELATIONSHIP_TARGETS, FieldSpec, ObjectSchema, parse_schemas
from sources.common.connection import ClarifyConnection
from sources.common.errors import ApiError, ConfigError, WarehouseError

Progress = Callable[[int, int], None]
KEY_COLUMN = "_key"
SAMPLES = 5
MODES = ("upsert", "update")
DEFAULT_CONCURRENCY = 4


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
    columns: dict[str, FieldSpec]  # source column → attribute
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
    concurrency: int = DEFAULT_CONCURRENCY,
) -> PushReport:
    """Push changed warehouse rows into Clarify object `object`; see pipelines/push.py for the contract."""
    started = time.monotonic()
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}: use upsert or update")
    if batch_size < 1:
        raise ConfigError("batch size must be at least 1")
    if concurrency < 1:
        raise ConfigError("concurrency must be at least 1")
    if (from_table is None) == (sql is None):
        raise ConfigError("give exactly one of --from-table or --sql")
    report = PushReport(
        object=object,
        mode=mode if not relationship else f"relationship:{relationship}",
        dry_run=dry_run,
        batch_size=batch_size,
    )
    api = ClarifyApi(connection)
    try:
        wh = open_warehouse(warehouse, read_only=dry_run)
        try:
            _push(
                wh,
                api,
                object,
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
                concurrency=concurrency,
            )
        finally:
            wh.close()
    finally:
        report.requests = api.http.stats.requests
        report.seconds = time.monotonic() - started
        api.close()
    return report


@dataclass
class _Prepared:
    """Everything the diff needs, derived from one schema of the object."""

    obj: ObjectSchema
    plan: _Plan
    salt: str
    state: PushState
    source: str
    rel_target: str | None

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.salt, self.plan.key_column, self.state.table, self.source)


def _push(
    wh: WarehouseSQL,
    api: ClarifyApi,
    object_slug: str,
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
    concurrency: int,
) -> None:
    db_errors = _db_errors()
    source = _source_sql(wh, from_table, sql)
    try:
        columns = wh.columns_of(source)
    except db_errors as exc:
        raise _sql_error(exc, "reading the source rows") from None

    def prepare(obj: ObjectSchema) -> _Prepared:
        if relationship:
            rel_target = _check_relationship(obj, relationship, columns)
            return _Prepared(
                obj,
                _Plan("id", {}, None, "id", False),
                salt(object=obj.slug, relationship=relationship),
                PushState(wh, state_table_name(obj.slug, relationship), f"{obj.slug}.{relationship}"),
                relationship_source(wh, source),
                rel_target,
            )
        plan = _plan_records(obj, columns, mode, mapping)
        salt_text = salt(
            object=obj.slug,
            mode=mode,
            columns={c: a.name for c, a in plan.columns.items()},
            key=plan.key_column,
        )
        return _Prepared(obj, plan, salt_text, PushState(wh, state_table_name(obj.slug), obj.slug), source, None)

    def diff_of(prep: _Prepared) -> tuple[Diff, DiffCounts]:
        try:
            state = prep.state
            diff = Diff(wh, prep.source, prep.plan.key_column, prep.salt, state.table if state.exists() else None)
            return diff, diff.counts()
        except db_errors as exc:
            raise _sql_error(exc, "the diff query") from None

    def to_send(counts: DiffCounts) -> int:
        return counts.total if full else counts.new + counts.changed

    # The cached schema first: when nothing is to be sent, the push makes no request at all.
    prep: _Prepared | None = None
    cached = load_schema(wh, object_slug)
    if cached is not None:
        try:
            prep = prepare(cached)
        except ConfigError:
            prep = None  # perhaps the schema changed since: judge against a fresh one
    if prep is not None:
        diff, counts = diff_of(prep)
    if prep is None or to_send(counts):
        objects = parse_schemas(api.schemas())
        obj = objects.get(object_slug)
        if obj is None:
            raise ConfigError(f"unknown object {object_slug!r}: use one of {', '.join(sorted(objects))}")
        fresh = prepare(obj)
        if prep is None or fresh.identity != prep.identity:
            diff, counts = diff_of(fresh)
        prep = fresh
        if not dry_run:
            save_schema(wh, obj)
    obj, plan, state, rel_target = prep.obj, prep.plan, prep.state, prep.rel_target
    report.new, report.changed, report.unchanged = counts.new, counts.changed, counts.unchanged
    total = to_send(counts)
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
        if progress is not None and n:
            progress(done, total)

    def record(outcomes: list[Outcome]) -> None:
        """One transaction for every finished request in `outcomes`, then one progress call."""
        landed_rows = Landed()
        rejected_rows: list[Rejected] = []
        for outcome in outcomes:
            for items, ids in outcome.landed:
                landed_rows.keys.extend(it.key for it in items)
                landed_rows.fingerprints.extend(it.fingerprint for it in items)
                n = len(ids)
                landed_rows.clarify_ids.extend(
                    (ids[i] if i < n and ids[i] else it.clarify_id) for i, it in enumerate(items)
                )
            rejected_rows.extend(
                Rejected(it.key, it.attributes, f.status, f.pointer, f.detail) for it, f in outcome.rejected
            )
        state.record(landed_rows, rejected_rows)
        report.sent += len(landed_rows)
        report.rejected += len(rejected_rows)
        advance(len(landed_rows) + len(rejected_rows))

    def landed(items: list[Item], ids: list[str | None]) -> None:
        record([Outcome(landed=[(items, ids)])])

    def rejected(pairs: list[tuple[Item, Failure]]) -> None:
        record([Outcome(rejected=list(pairs))])

    def invalid(key: str, payload: Any, pointer: str | None, detail: str) -> None:
        report.invalid += 1
        if dry_run:
            if len(report.samples) < SAMPLES * 2:
                report.samples.append({"key": key, "change": "invalid", "pointer": pointer, "detail": detail})
            return
        state.record(Landed(), [Rejected(key, payload, "invalid", pointer, detail)])
        report.rejected += 1
        advance(1)

    create = BatchSender(
        lambda b: _ids(api.bulk_create(object_slug, [i.attributes for i in b], plan.match_on)), batch_size
    )
    patch = BatchSender(
        lambda b: _ids(api.bulk_update(object_slug, [(str(i.clarify_id), i.attributes) for i in b])), batch_size
    )
    # A plain create (no unique field to match on) is not safe to resend: one at a time, recorded before the next.
    create_serial = plan.match_on is None
    dispatcher = Dispatcher(1 if dry_run else concurrency, record)
    pending_create: list[Item] = []
    pending_patch: list[Item] = []

    def flush(sender: BatchSender, pending: list[Item], serial: bool, final: bool = False) -> None:
        while len(pending) >= sender.batch_size or (final and pending):
            size = sender.batch_size
            batch = pending[:size]
            del pending[:size]
            dispatcher.submit(sender, batch, serial=serial)

    seen: set[str] = set()
    chunk = max(1000, batch_size * 10)
    failed = True
    try:
        stream = wh.iter_columns(diff.rows_sql(full=full), chunk) if total else iter(())
        for size, data in stream:
            keys, fps = data["__key"], data["__fp"]
            if relationship:
                converted, conversion_errors = [], {}
            else:
                converted, conversion_errors = convert_columns(data, plan.columns, size)
            for i in range(size):
                key, fp = keys[i], fps[i]
                if key is None:
                    what = plan.match_on or plan.key_column
                    invalid(
                        f"#null:{fp}",
                        _plain(data, i),
                        f"/data/attributes/{what}",
                        f"no value for {what!r}: every row needs one to be matched",
                    )
                    continue
                if key in seen:
                    invalid(
                        f"#dup:{key}",
                        _plain(data, i),
                        None,
                        f"duplicate key {key!r} in the source rows: keep one",
                    )
                    continue
                seen.add(key)
                if relationship:
                    item = Item(key, fp, {"targets": data["__targets"][i].split("\x1f")}, key)
                    if dry_run:
                        _sample(report, data, i, item)
                    else:
                        _send_relationship(api, object_slug, relationship, rel_target or "", item, landed, rejected)
                    continue
                attributes, errors = converted[i], conversion_errors.get(i)
                if not errors and plan.match_on and attributes.get(plan.match_on) in (None, {"items": []}, ""):
                    errors = [
                        (
                            f"/data/attributes/{plan.match_on}",
                            f"no value for {plan.match_on!r}, which {obj.slug} upserts on",
                        )
                    ]
                if errors:
                    invalid(key, _plain(data, i), errors[0][0], "; ".join(d for _, d in errors))
                    continue
                if plan.id_column:
                    item = Item(key, fp, attributes, str(data[plan.id_column][i]))
                    target = pending_patch
                elif not plan.unique and data["__clarify_id"][i]:
                    item = Item(key, fp, attributes, data["__clarify_id"][i])
                    target = pending_patch
                else:
                    item = Item(key, fp, attributes, data["__clarify_id"][i])
                    target = pending_create
                if dry_run:
                    _sample(report, data, i, item)
                else:
                    target.append(item)
            flush(create, pending_create, create_serial)
            flush(patch, pending_patch, False)
        flush(create, pending_create, create_serial, final=True)
        flush(patch, pending_patch, False, final=True)
        dispatcher.drain()
        failed = False
    except db_errors as exc:
        raise _sql_error(exc, "reading the changed rows") from None
    finally:
        dispatcher.close(failed=failed)
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
    api: ClarifyApi,
    obj: str,
    name: str,
    target: str,
    item: Item,
    landed: Callable[[list[Item], list[str | None]], None],
    rejected: Callable[[list[tuple[Item, Failure]]], None],
) -> None:
    try:
        api.set_relationship(obj, item.key, name, target, item.attributes["targets"])
    except ApiError as err:
        if err.status not in ROW_LEVEL:
            raise
        rejected([(item, failure_of(err))])
        return
    landed([item], [item.key])


def _sample(report: PushReport, data: dict[str, list[Any]], i: int, item: Item) -> None:
    if len(report.samples) < SAMPLES:
        report.samples.append(
            {
                "key": item.key,
                "change": "new" if data["__new"][i] else "changed",
                "attributes": item.attributes,
            }
        )


def _plain(data: dict[str, list[Any]], i: int) -> dict[str, Any]:
    """Row `i` of a column-wise chunk, without the diff's own `__` columns."""
    return {k: v[i] for k, v in data.items() if not k.startswith("__")}


def _ids(records: list[dict[str, Any]]) -> list[str | None]:
    return [str(r["id"]) if r.get("id") is not None else None for r in records]
