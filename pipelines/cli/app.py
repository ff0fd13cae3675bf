"""The `clarify-sync` root command and its CRM commands (`sync`, `push`, `status`, `demo`), and `run`, the console
script: each command turns flags into settings and hands them to the orchestration in `pipelines/`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import click
import typer

from core.errors import ConfigError, ExitCode, RowsRejectedError
from core.http import RetryPolicy
from core.warehouse.options import DEFAULT_DUCKDB_PATH, WarehouseOptions
from emulator.command import emulator as emulator_command
from pipelines import noop_probe
from pipelines.check import DEFAULT_MAX_AGE
from pipelines.cli.console import console, print_error, print_table, progress_reporter, verbosity
from pipelines.cli.login import login as login_command
from pipelines.cli.login import logout as logout_command
from pipelines.cli.options import BaseUrl, DuckdbPath, Workspace, connection_from, reports_errors, warehouse_options
from pipelines.cli.reports import finish_objects, print_push_report, print_sync_report
from pipelines.cli.timeseries import timeseries_app
from sources.clarify.settings import DEFAULT_LAG_SECONDS, PAGE_LIMIT

app = typer.Typer(
    name="clarify-sync",
    help="Keep Clarify and an analytics warehouse in sync (dlt, DuckDB, Postgres).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(timeseries_app, name="timeseries")


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Print the traceback of unexpected errors, and dlt's INFO log")
    ] = False,
) -> None:
    verbosity.verbose = verbose
    # dlt logs through its own stderr handler; at the default level only its errors reach a person or cron.
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "INFO" if verbose else "ERROR")


def _objects_option(flag: str, what: str) -> Any:
    """A repeatable object-list option that adds to `sources.clarify.<key>.objects` in dlt config."""
    key = flag.lstrip("-").replace("-", "_")
    return typer.Option(
        flag,
        help=f"{what} (an object; repeat or comma-separate; adds to sources.clarify.{key}.objects)",
        show_default=False,
    )


# The sync command's options (declared here so the command reads as what it does).
Objects = Annotated[
    str | None,
    typer.Option(
        "--objects",
        help="Comma-separated object slugs (default: every object, custom ones included)",
        show_default=False,
    ),
]
FullRefresh = Annotated[bool, typer.Option("--full-refresh", help="Drop the tables and cursors, reload all")]
Since = Annotated[
    str | None,
    typer.Option("--since", help="Backfill records updated on or after this date (ISO-8601)", show_default=False),
]
Reconcile = Annotated[
    bool | None,
    typer.Option(
        "--reconcile/--no-reconcile",
        help="Detect records deleted in Clarify (default: when the last "
        "reconcile is older than sources.clarify.reconcile_every_hours)",
        show_default=False,
    ),
]
LagSeconds = Annotated[
    float,
    typer.Option("--lag-seconds", help="Re-read this window before the cursor to catch late commits", min=0),
]
TypeChange = Annotated[
    bool | None,
    typer.Option(
        "--fail-on-type-change/--accept-type-change",
        help="Fail, before loading, when a field changed type since the last run (default: "
        "sources.clarify.schema_contract: evolve or freeze)",
        show_default=False,
    ),
]
History = Annotated[
    list[str] | None, _objects_option("--history", "Keep every version of its records in <object>_history")
]
SoftDelete = Annotated[
    list[str] | None, _objects_option("--soft-delete", "Keep its deleted records, with _deleted_at set")
]
Transcripts = Annotated[
    bool | None,
    typer.Option(
        "--transcripts/--no-transcripts",
        help="Also load meeting transcripts: meeting_transcript and its segments (default: "
        "sources.clarify.transcripts)",
        show_default=False,
    ),
]


@app.command()
@reports_errors
@warehouse_options()
def sync(
    warehouse: WarehouseOptions,
    base_url: BaseUrl = None,
    workspace: Workspace = None,
    objects: Objects = None,
    full_refresh: FullRefresh = False,
    since: Since = None,
    reconcile: Reconcile = None,
    lag_seconds: LagSeconds = DEFAULT_LAG_SECONDS,
    fail_on_type_change: TypeChange = None,
    history: History = None,
    soft_delete: SoftDelete = None,
    transcripts: Transcripts = None,
) -> None:
    """Mirror the workspace into the warehouse, incrementally."""
    selected = [name.strip() for name in objects.split(",") if name.strip()] if objects else None
    probe_settings = noop_probe.command_settings(
        warehouse,
        base_url=base_url,
        workspace=workspace,
        objects=selected,
        full_refresh=full_refresh,
        since=since,
        lag_seconds=lag_seconds,
        page_limit=PAGE_LIMIT,
        controls={
            "history": _names(history),
            "soft_delete": _names(soft_delete),
            "type_change": fail_on_type_change,
            "transcripts": transcripts,
        },
    )
    reporter = progress_reporter()
    with reporter.running():
        report, api = _answered_without_dlt(warehouse, probe_settings, reconcile, reporter.note)
        if report is None:
            from pipelines.sync import run_sync

            report = run_sync(
                connection_from(base_url, workspace),
                warehouse,
                objects=selected,
                full_refresh=full_refresh,
                since=since,
                reconcile=reconcile,
                lag=lag_seconds,
                progress=reporter,
                notice=reporter.note,
                fail_on_type_change=fail_on_type_change,
                history=_names(history),
                soft_delete=_names(soft_delete),
                transcripts=transcripts,
                probe_settings=probe_settings,
                api=api,  # what the probe asked is not asked again
            )
        finish_objects(reporter, report)
    print_sync_report(report)


PUSH_HELP = """Push rows that changed in the warehouse back to a Clarify object, in bulk.

Columns map to attributes by name (--map renames). Objects with a unique field (person, company, deal) are
upserted on it. Objects without one (task, meeting) need a `_key` column that names each row (never sent):
reruns update the record created for it, and each row is created once even if an answer is lost.

Shapes: a text, list (VARCHAR[]) or JSON column for a collection field is sent as {"items": [...]}; dates as
YYYY-MM-DD; numbers (DECIMAL(16,4)) and select values (case-sensitive) are checked first, and a value that
does not fit is rejected locally, without a request. Rejected rows wait in _clarify_push_rejects.

--relationship NAME reads a link table (id, target_id) and sets each record's NAME to its targets.
--dry-run prints the counts table and a few sample rows (what would be sent, or why a row is invalid).
"""


@app.command(help=PUSH_HELP)
@reports_errors
@warehouse_options(lake=False)
def push(
    warehouse: WarehouseOptions,
    object_slug: Annotated[str, typer.Option("--object", help="Target object slug, e.g. person or c_sales_order")],
    from_table: Annotated[
        str | None,
        typer.Option("--from-table", help="Warehouse table (in --dataset) whose rows to push", show_default=False),
    ] = None,
    sql: Annotated[
        str | None, typer.Option("--sql", help="A SELECT against the warehouse whose rows to push", show_default=False)
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            "--mode", help="upsert (on the unique field, or by `_key` where there is none) or update (by an id column)"
        ),
    ] = "upsert",
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="column=attribute rename; repeat for several", show_default=False)
    ] = None,
    relationship: Annotated[
        str | None,
        typer.Option(
            "--relationship",
            help="Set this relationship of each record from a link table (columns id, target_id)",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Records per bulk request", min=1)] = 100,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Bulk requests in flight at once (plain creates go one by one)", min=1)
    ] = 4,
    full: Annotated[bool, typer.Option("--full", help="Resend every row, changed or not")] = False,
    rate_limit_wait: Annotated[
        float,
        typer.Option("--rate-limit-wait", help="Seconds one request may wait out 429s (Retry-After) in total", min=0),
    ] = RetryPolicy.rate_limit_deadline,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Diff and check; print counts and a few sample rows; write nothing")
    ] = False,
    base_url: BaseUrl = None,
    workspace: Workspace = None,
) -> None:
    from pipelines.push import run_push

    if (from_table is None) == (sql is None):
        raise ConfigError("give exactly one of --from-table or --sql")
    reporter = progress_reporter(units=("rows", "batches"))
    with reporter.running():
        report = run_push(
            connection_from(base_url, workspace),
            warehouse,
            object=object_slug,
            from_table=from_table,
            sql=sql,
            mode=mode,
            mapping=parse_mapping(mapping or []),
            relationship=relationship,
            batch_size=batch_size,
            concurrency=concurrency,
            full=full,
            dry_run=dry_run,
            progress=lambda rows, batches: reporter(object_slug, rows, batches),
            retry=RetryPolicy(rate_limit_deadline=rate_limit_wait),
        )
    print_push_report(report)
    if report.rejected:
        raise RowsRejectedError(
            f"{report.rejected} row(s) rejected: see the _clarify_push_rejects table; fix them and push again"
        )


def _answered_without_dlt(
    warehouse: WarehouseOptions,
    probe_settings: dict[str, Any] | None,
    reconcile: bool | None,
    notice: Callable[[str], None],
) -> tuple[Any, Any]:
    """(report, None) when nothing changed since the last sync, or a few records changed and were loaded without
    dlt (recorded like any run; dlt is not even imported); else (None, the probe's API client or None) for the
    dlt sync to take over."""
    if probe_settings is None:
        return None, None
    found = noop_probe.probe(warehouse, run_settings=probe_settings, reconcile=reconcile)
    report = found.report
    if report is None and found.changed:
        from pipelines.small_changes import load_small_changes

        report = load_small_changes(warehouse, found)
        if report is not None and found.api is not None:
            found.api.close()
    if report is None:
        return None, found.api
    from pipelines.run_records import record_answered

    record_answered("sync", warehouse, report, notice=notice)
    return report, None


def _names(values: list[str] | None) -> list[str]:
    """`--history deal --history person` and `--history deal,person` alike."""
    return [name.strip() for value in values or () for name in value.split(",") if name.strip()]


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, attribute = pair.partition("=")
        if not sep or not column.strip() or not attribute.strip():
            raise ConfigError(f"--map {pair!r} is not column=attribute")
        mapping[column.strip()] = attribute.strip()
    return mapping


@app.command()
@reports_errors
@warehouse_options()
def status(warehouse: WarehouseOptions, base_url: BaseUrl = None, workspace: Workspace = None) -> None:
    """How runs authenticate (and until when a stored login holds), and each object's cursor mode (incremental or
    cursorless) and since when, cursor, rows and last run."""
    from pipelines.login import describe_auth
    from pipelines.sync import sync_status

    console.print(f"auth: {describe_auth(base_url, workspace)}", highlight=False, markup=False, soft_wrap=True)
    rows = sync_status(warehouse)
    print_table(
        "clarify-sync status",
        ["object", "mode", "since", "cursor", "rows", "last run"],
        [(row.object, row.mode, row.mode_since, row.cursor, row.rows, row.last_run) for row in rows],
    )


@app.command()
@reports_errors
@warehouse_options(lake=False)
def check(
    warehouse: WarehouseOptions,
    max_age: Annotated[
        str, typer.Option("--max-age", help="Fail when an object's last successful run is older (30m, 2h, 1d)")
    ] = DEFAULT_MAX_AGE,
    max_rejects: Annotated[
        int, typer.Option("--max-rejects", help="Fail when the push rejects tables hold more rows", min=0)
    ] = 0,
    command: Annotated[
        list[str] | None,
        typer.Option("--command", help="Only runs of this command (sync, push, ...); repeat for several"),
    ] = None,
) -> None:
    """Health gate for cron: one line per failing object and exit code 8; silent when healthy."""
    from pipelines.check import failing, parse_age

    lines = failing(warehouse, max_age=parse_age(max_age), max_rejects=max_rejects, commands=command or ())
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    if lines:
        raise typer.Exit(ExitCode.UNHEALTHY)


app.command(name="emulator")(reports_errors(emulator_command))
app.command(name="login")(reports_errors(login_command))
app.command(name="logout")(reports_errors(logout_command))


@app.command()
@reports_errors
def demo(
    records: Annotated[int, typer.Option("--records", help="Demo records across all objects")] = 5_000,
    duckdb_path: DuckdbPath = DEFAULT_DUCKDB_PATH,
) -> None:
    """Start an emulator with demo data, sync CRM and time series into DuckDB, answer two questions.

    Needs no credentials and no network beyond loopback.
    """
    from pipelines.demo import run_demo

    warehouse = WarehouseOptions(duckdb_path=duckdb_path)
    reporter = progress_reporter()
    with reporter.running():
        result = run_demo(
            records,
            warehouse,
            announce=lambda line: console.print(line, highlight=False, soft_wrap=True),
            progress=reporter,
        )
        finish_objects(reporter, result.crm)
    print_sync_report(result.crm)
    print_table(
        "clarify-sync timeseries summary",
        ["table", "rows loaded"],
        sorted(result.timeseries.rows.items()),
    )
    for title, (columns, rows) in result.answers.items():
        print_table(f"{title} ({duckdb_path})", columns, rows)


def run(argv: list[str] | None = None, prog_name: str = "clarify-sync") -> None:
    """The console script: like `app()`, but a usage error (unknown option, bad value) is one line too."""
    try:
        code = app(args=argv, prog_name=prog_name, standalone_mode=False)
    except typer.Abort:
        print_error("interrupted")
        sys.exit(130)
    except click.ClickException as exc:  # usage errors and bad values
        message = str(exc.format_message()) if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        if "\n" in message.strip():  # not an error: the help screen of a bare `clarify-sync`
            exc.show()  # type: ignore[attr-defined]
        else:
            print_error(f"{message.rstrip('.')}: see `{ctx.command_path if ctx else prog_name} --help`")
        sys.exit(int(getattr(exc, "exit_code", ExitCode.SETTINGS)))
    sys.exit(code if isinstance(code, int) else 0)
