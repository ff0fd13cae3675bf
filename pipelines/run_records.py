"""Run records: each `sync`, `push` and `timeseries sync|push` appends one row per object to `_clarify_sync_runs`.

    @recorded("sync")
    def run_sync(connection, warehouse, *, objects=None, ..., notice=None): ...

The decorator reads the last rows of the command (cursor and declared fields: the "before" of this run), runs the
function, and appends a row per object: `succeeded` with the report's counts, or `failed` with the error's first
line. A run that lost the lock to another one (exit code 3) did nothing and records nothing. Dry runs record
nothing (they write nothing anywhere). The HTTP counts come from the run's client (`watch_requests`).

The rows are appended right after the run's last commit, not inside it: dlt commits each table of a load on
its own, and the push commits per batch. A crash between the two loses the row, never data, and `check` then
sees an older last success: the error is always toward "unhealthy".

`note_schemas` compares what `GET /schemas` declares with the last run's declaration: each object with a field
added, removed or retyped gets one line (`notice`) and the `schema_changes` column; with the contract frozen
(`--fail-on-type-change` or `[sources.clarify] schema_contract = "freeze"`), a retyped field fails the run
before anything is written.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from core.errors import ClarifySyncError, ConfigError, ExitCode, first_line
from core.http import RequestStats
from core.warehouse.options import WarehouseOptions
from pipelines import noop_probe
from pipelines.runs_table import append, decode_fields, encode_fields, last_rows, read_then_append
from sources.clarify.schema import ObjectSchema
from sources.clarify.schema_changes import describe, diff_fields, field_types
from sources.clarify.settings import TRANSCRIPT_TABLE

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
CONTRACTS = ("evolve", "freeze")


class SchemaChangedError(ClarifySyncError):
    """A field changed type and the schema contract is frozen: nothing was written."""

    exit_code = ExitCode.SCHEMA_CHANGED


@dataclass
class Run:
    command: str
    notice: Callable[[str], None]
    freeze: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    before: dict[str, dict[str, Any]] = field(default_factory=dict)  # object -> its last row
    objects: list[str] = field(default_factory=list)
    fields: dict[str, dict[str, str]] = field(default_factory=dict)  # object -> declared field types now
    changes: dict[str, str] = field(default_factory=dict)  # object -> one-line schema change
    stats: RequestStats | None = None

    def rows(self, status: str, counts: dict[str, dict[str, Any]], error: str | None) -> list[dict[str, Any]]:
        finished = datetime.now(UTC)
        objects = list(counts) or self.objects or sorted(self.before) or ["*"]
        return [{**self._row(obj, status, finished), "error": error, **counts.get(obj, {})} for obj in objects]

    def _row(self, obj: str, status: str, finished: datetime) -> dict[str, Any]:
        before = self.before.get(obj, {})
        # A failed run applied no schema change: the next run compares with the old declaration again.
        fields = self.fields.get(obj) if status == "succeeded" else None
        return {
            "run_id": self.run_id,
            "command": self.command,
            "object": obj,
            "started_at": self.started,
            "finished_at": finished,
            "seconds": round((finished - self.started).total_seconds(), 3),
            "status": status,
            "cursor_before": before.get("cursor_after"),
            "schema_changes": self.changes.get(obj),
            "fields": encode_fields(fields or decode_fields(before.get("fields"))),
            **self._requests(obj),
        }

    def _requests(self, obj: str) -> dict[str, int]:
        s = self.stats
        if s is None:
            return {}
        if self.command.startswith("timeseries"):  # one row for the whole run
            return {"requests": s.requests, "retries": s.retries, "rate_limited": sum(s.rate_limited_by_tag.values())}
        # CRM calls are tagged with their object (list calls with `lists`)
        return {"requests": s.by_tag[obj], "retries": s.retries_by_tag[obj], "rate_limited": s.rate_limited_by_tag[obj]}


_current: ContextVar[Run | None] = ContextVar("clarify_sync_run", default=None)


def recorded(command: str) -> Callable[[F], F]:
    """Record every call of the decorated run function (its `warehouse` argument says where)."""

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(*args: Any, fail_on_type_change: bool | None = None, **kwargs: Any) -> Any:
            arguments = signature.bind(*args, **kwargs).arguments
            if arguments.get("dry_run"):
                return fn(*args, **kwargs)
            warehouse: WarehouseOptions = arguments["warehouse"]
            notice = arguments.get("notice") or log.warning
            record = Run(command, notice, freeze=command == "sync" and _frozen(fail_on_type_change))
            record.objects = _named_objects(command, arguments)
            record.before = _quietly(lambda: last_rows(warehouse, command), notice) or {}
            token = _current.set(record)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                if getattr(exc, "exit_code", None) != ExitCode.BUSY:
                    failed = record.rows("failed", {}, first_line(exc))
                    _quietly(lambda: append(warehouse, failed), notice)
                raise
            finally:
                _current.reset(token)
            rows = record.rows("succeeded", COUNTS[command](result), None)
            _append(warehouse, lambda: append(warehouse, rows), notice)
            return result

        return run  # type: ignore[return-value]

    return wrap


def record_answered(command: str, warehouse: WarehouseOptions, report: Any, notice: Callable[[str], None]) -> None:
    """A run the nothing-changed probe answered without the run function still leaves its rows."""
    run = Run(command, notice)
    counts = COUNTS[command](report)
    for obj, row in counts.items():
        row["requests"] = report.objects[obj].requests if obj in report.objects else None

    def rows(before: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        run.before = before
        return run.rows("succeeded", counts, None)

    _append(warehouse, lambda: read_then_append(warehouse, command, rows), notice)  # one connection reads and writes


def _append(warehouse: WarehouseOptions, write: Callable[[], bool], notice: Callable[[str], None]) -> None:
    """Append after the run's commit; the nothing-changed probe's note then describes the warehouse again."""
    if _quietly(write, notice):
        noop_probe.restamp(warehouse)


def watch_requests(stats: RequestStats) -> None:
    """Hook: the run's HTTP client counts (read when the run ends, whether it succeeded or not)."""
    run = _current.get()
    if run is not None:
        run.stats = stats


def note_schemas(schemas: dict[str, ObjectSchema], selected: list[str]) -> None:
    """Hook: announce field changes of the selected objects; a retyped field under a frozen contract raises."""
    run = _current.get()
    if run is None:
        return
    run.objects = list(selected)
    retyped: list[str] = []
    for obj in selected:
        run.fields[obj] = field_types(schemas[obj])
        changes = diff_fields(decode_fields(run.before.get(obj, {}).get("fields")), run.fields[obj])
        if changes:
            run.changes[obj] = describe(changes)
            run.notice(f"{obj}: schema changed: {run.changes[obj]}")
            retyped += [f"{obj}.{c.field} {c.before}→{c.after}" for c in changes if c.kind == "type"]
    if run.freeze and retyped:
        raise SchemaChangedError(
            f"field type changed ({', '.join(retyped)}) and the schema contract is frozen, so nothing was loaded: "
            "adapt what reads these columns, then accept it once with `clarify-sync sync --accept-type-change`"
        )


def _named_objects(command: str, arguments: dict[str, Any]) -> list[str]:
    """The objects a run is about before it has asked the API (what a failure is recorded against)."""
    if command.startswith("timeseries"):
        return ["timeseries"]
    if arguments.get("object"):
        return [arguments["object"]]
    return list(arguments.get("objects") or [])


def _frozen(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    import dlt  # only here: a nothing-changed run records itself without loading dlt (pipelines/noop_probe.py)

    try:
        value = dlt.config.get("sources.clarify.schema_contract")
    except Exception:  # no config at all: the default
        value = None
    value = str(value or "evolve").strip().lower()
    if value not in CONTRACTS:
        raise ConfigError(f'sources.clarify.schema_contract = {value!r}: use "evolve" or "freeze"')
    return value == "freeze"


def _quietly(step: Callable[[], Any], notice: Callable[[str], None]) -> Any:
    """Run records must never fail the run they describe: a warehouse that refuses them is said, not raised."""
    try:
        return step()
    except Exception as exc:
        notice(f"_clarify_sync_runs unavailable, this run's record may be missing ({first_line(exc)})")
        return None


def _sync_counts(report: Any) -> dict[str, dict[str, Any]]:
    counts = {
        obj: {
            "records": o.records,
            "pages": o.pages,
            "deleted": o.deleted,
            "cursor_after": o.cursor,
            "seconds": o.seconds,  # the object's own time (objects run in parallel)
        }
        for obj, o in report.objects.items()
    }
    if report.lists is not None and report.lists.available:  # lists and their members: one row, `lists`
        counts["lists"] = {"records": report.lists.lists + report.lists.members}
    if report.transcripts is not None:  # transcripts loaded; artifacts calls and downloads
        t = report.transcripts
        counts[TRANSCRIPT_TABLE] = {
            "records": t.transcribed,
            "deleted": t.deleted,
            "requests": t.requests,
            "seconds": round(t.seconds, 3),
        }
    return counts


def _push_counts(report: Any) -> dict[str, dict[str, Any]]:
    return {report.object: {"records": report.sent, "rejected": report.rejected}}


def _timeseries_counts(report: Any) -> dict[str, dict[str, Any]]:
    deleted = sum(len(ids) for ids in report.deleted.values())
    return {"timeseries": {"records": sum(report.rows.values()), "deleted": deleted}}


def _timeseries_push_counts(report: Any) -> dict[str, dict[str, Any]]:
    return {"timeseries": {"records": report.points_sent, "rejected": report.points_rejected}}


COUNTS: dict[str, Callable[[Any], dict[str, dict[str, Any]]]] = {
    "sync": _sync_counts,
    "push": _push_counts,
    "timeseries sync": _timeseries_counts,
    "timeseries push": _timeseries_push_counts,
}
