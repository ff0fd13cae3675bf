"""The push, step by step: read rows, diff against state, classify, send with bisection, record state and rejects.

`push` below reads top to bottom in those steps; each step is a module of its own:
- `plan.py` checks the object and columns against the schema and probes the SQL (`LIMIT 0`) before any
  table is created, so bad input does no partial damage; a dry run opens the warehouse read-only;
- `diff.py` finds the new and changed rows in SQL; `classify.py` converts them and sorts them into requests;
- `sending.py` and `batching.py` send them (bisecting atomic refusals); `report.py` records each finished
  request in `state.py`'s tables.

Zero requests when nothing changed: the object's schema is kept in `_clarify_push_schemas` (state.py).
When it is there the plan and the diff use it; only if the diff finds rows to send (or the cached schema
does not fit the rows) is `GET /schemas` called, and everything is validated against that fresh answer
(the diff is redone if the fresh plan differs). The first push of an object always fetches it.

Sending: up to `concurrency` bulk requests in flight on worker threads (the shared HTTP client paces on
the rate-limit headers); the main thread records finished requests in the state table, a few in one
transaction, and never has more than `concurrency` requests in flight or finished but unrecorded
(batching.Dispatcher). A crash therefore costs at most `concurrency` requests: with a unique field (or a
PATCH) they are resent on the rerun, landing the same values again (no duplicate). Plain creates of objects
without a unique field (task, meeting) are not safe to resend: they go one request at a time, each behind a
committed intent, and a lost answer or a crash is resolved by asking the server (exactly_once.py).

Rows are read, checked and converted a chunk at a time, column-wise (convert.convert_columns).

Objects with a unique field: a row the push state knows the record of, or whose unique value a record of the
synced copy holds (match.py), is a bulk PATCH of that record; only the rest are creates, sent in the dialect the
workspace speaks (dialect.py: with `match_on` until refused; learnt once, kept in `_clarify_push_dialects`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError, WarehouseError, first_line
from core.warehouse.sql import WarehouseSQL
from destinations.clarify.classify import Classifier
from destinations.clarify.dialect import Dialect, UniqueCreates
from destinations.clarify.diff import Diff, DiffCounts, relationship_source, salt
from destinations.clarify.exactly_once import CreateOnce
from destinations.clarify.match import SyncedRecords
from destinations.clarify.plan import Plan, check_relationship, plan_records, source_sql
from destinations.clarify.report import Progress, PushReport, Recorder
from destinations.clarify.sending import Sending
from destinations.clarify.state import (
    PushState,
    load_dialect,
    load_schema,
    save_dialect,
    save_schema,
    state_table_name,
)
from sources.clarify.api import ClarifyApi
from sources.clarify.schema import ObjectSchema, parse_schemas

MODES = ("upsert", "update")
DEFAULT_CONCURRENCY = 4


@dataclass(frozen=True)
class PushRequest:
    """What the user asked for; see pipelines/push.py for the contract."""

    object: str
    from_table: str | None = None
    sql: str | None = None
    mode: str = "upsert"
    mapping: dict[str, str] = field(default_factory=dict)
    relationship: str | None = None
    batch_size: int = 100
    full: bool = False
    dry_run: bool = False
    concurrency: int = DEFAULT_CONCURRENCY

    def check(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}: use upsert or update")
        if self.batch_size < 1:
            raise ConfigError("batch size must be at least 1")
        if self.concurrency < 1:
            raise ConfigError("concurrency must be at least 1")
        if (self.from_table is None) == (self.sql is None):
            raise ConfigError("give exactly one of --from-table or --sql")

    def new_report(self) -> PushReport:
        mode = self.mode if not self.relationship else f"relationship:{self.relationship}"
        return PushReport(object=self.object, mode=mode, dry_run=self.dry_run, batch_size=self.batch_size)


def push(
    wh: WarehouseSQL, api: ClarifyApi, request: PushRequest, report: PushReport, progress: Progress | None
) -> None:
    """Push the changed rows of `request`'s source into Clarify, recording what landed and what was refused."""
    source = source_sql(wh, request.from_table, request.sql)
    columns = _read(lambda: wh.columns_of(source), "reading the source rows")
    if not request.dry_run and not request.relationship:  # before the diff: adopted rows are no longer new
        state = PushState(wh, state_table_name(request.object), request.object)
        CreateOnce(api, state, request.object, report).recover()
    target, counts = _diff_against_state(wh, api, request, source, columns)
    report.new, report.changed, report.unchanged = counts.new, counts.changed, counts.unchanged
    total = counts.total if request.full else counts.new + counts.changed
    if not request.dry_run:
        target.state.ensure()
        target.state.clear_rejudged()
    recorder = Recorder(target.state, report, progress)
    classifier = Classifier(target.obj.slug, target.plan, bool(request.relationship), recorder.invalid)
    unique = target.plan.match_on
    synced = SyncedRecords(wh, target.obj.slug, target.obj.fields[unique]) if unique and total else None
    workspace = api.connection.workspace_url
    dialect = Dialect(load_dialect(wh, workspace) if unique and total else None)
    sending = _sending(api, request, target, recorder, dialect)
    failed = True
    try:
        for size, data in _changed_rows(wh, target.diff, request.full, total, request.batch_size):
            rows = classifier.chunk(size, data)
            if synced is not None:
                synced.route(rows)
            if request.dry_run:
                for item in rows.create + rows.patch + rows.links:
                    recorder.sample(item, rows.new[item.key])
            else:
                sending.add(rows)
        sending.finish()
        failed = False
    finally:
        sending.close(failed=failed)
        if dialect.learnt and dialect.known and not request.dry_run:
            save_dialect(wh, workspace, dialect.known)
    report.batch_size = sending.batch_size
    if not request.dry_run:
        report.rejects_gone = target.state.clear_gone(classifier.live)


@dataclass
class _Target:
    """Everything the diff and the send need, derived from one schema of the object."""

    obj: ObjectSchema
    plan: Plan
    salt: str
    state: PushState
    source: str
    rel_target: str | None
    diff: Diff | None = None

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.salt, self.plan.key_column, self.state.table, self.source)


def _diff_against_state(
    wh: WarehouseSQL, api: ClarifyApi, request: PushRequest, source: str, columns: list[str]
) -> tuple[_Target, DiffCounts]:
    """The diff of the source against the state table, judged with the cached schema when nothing is to be
    sent (no request at all), else with a fresh `GET /schemas`."""
    target: _Target | None = None
    cached = load_schema(wh, request.object)
    if cached is not None:
        try:
            target = _target(wh, request, cached, source, columns)
        except ConfigError:
            target = None  # perhaps the schema changed since: judge against a fresh one
    if target is not None:
        counts = _count(wh, target)
        if not (counts.total if request.full else counts.new + counts.changed):
            return target, counts
    objects = parse_schemas(api.schemas(), api.listable)
    obj = objects.get(request.object)
    if obj is None:
        raise ConfigError(f"unknown object {request.object!r}: use one of {', '.join(sorted(objects))}")
    fresh = _target(wh, request, obj, source, columns)
    if target is None or fresh.identity != target.identity:
        counts = _count(wh, fresh)
    else:
        fresh.diff = target.diff
    if not request.dry_run:
        save_schema(wh, obj)
    return fresh, counts


def _target(wh: WarehouseSQL, request: PushRequest, obj: ObjectSchema, source: str, columns: list[str]) -> _Target:
    if request.relationship:
        name = request.relationship
        rel_target = check_relationship(obj, name, columns)
        return _Target(
            obj,
            Plan("id", {}, None, "id", False),
            salt(object=obj.slug, relationship=name),
            PushState(wh, state_table_name(obj.slug, name), f"{obj.slug}.{name}"),
            relationship_source(wh, source),
            rel_target,
        )
    plan = plan_records(obj, columns, request.mode, request.mapping)
    salt_text = salt(
        object=obj.slug, mode=request.mode, columns={c: a.name for c, a in plan.columns.items()}, key=plan.key_column
    )
    return _Target(obj, plan, salt_text, PushState(wh, state_table_name(obj.slug), obj.slug), source, None)


def _count(wh: WarehouseSQL, target: _Target) -> DiffCounts:
    state = target.state
    target.diff = Diff(wh, target.source, target.plan.key_column, target.salt, state.table if state.exists() else None)
    diff = target.diff
    return _read(diff.counts, "the diff query")


def _sending(api: ClarifyApi, request: PushRequest, target: _Target, recorder: Recorder, dialect: Dialect) -> Sending:
    plan, slug = target.plan, target.obj.slug
    unique = target.obj.fields[plan.match_on] if plan.match_on else None
    if plan.match_on:
        send_create = UniqueCreates(api, slug, plan.match_on, dialect).send
    else:  # plain creates (update mode makes none)
        send_create = CreateOnce(api, target.state, slug, recorder.report).send
    return Sending(
        api,
        slug,
        recorder,
        batch_size=request.batch_size,
        concurrency=1 if request.dry_run else request.concurrency,
        send_create=send_create,
        serial_create=plan.match_on is None,
        unique=unique,
        dialect=dialect if unique else None,
        relationship=(request.relationship, target.rel_target or "") if request.relationship else None,
    )


def _changed_rows(
    wh: WarehouseSQL, diff: Diff | None, full: bool, total: int, batch_size: int
) -> Iterator[tuple[int, dict[str, list[Any]]]]:
    """The rows to send, a chunk at a time, column-wise; a warehouse error becomes a one-line message."""
    if not total or diff is None:
        return
    rows = wh.iter_columns(diff.rows_sql(full=full), max(1000, batch_size * 10))
    while True:
        chunk = _read(lambda: next(rows, None), "reading the changed rows")
        if chunk is None:
            return
        yield chunk


def _read(step: Any, what: str) -> Any:
    """Run a warehouse read; its database error becomes a one-line `WarehouseError` naming the fix."""
    import duckdb
    import psycopg2

    try:
        return step()
    except (duckdb.Error, psycopg2.Error) as exc:
        raise WarehouseError(f"{what} failed ({first_line(exc)}): fix the SQL or --from-table") from None
