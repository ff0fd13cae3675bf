"""`clarify-sync timeseries ...`: sync Clarify time series into the warehouse, push rows back, show status.

Mounted by `app.add_typer(timeseries_app, name="timeseries")` in pipelines/cli/app.py. Credentials come from the
integration's credentials file (`--credentials` or CLARIFY_TS_CREDENTIALS) or CLARIFY_TS_* variables.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer

import sources.clarify_timeseries.settings as s
from core.errors import ConfigError, RowsRejectedError
from core.warehouse.options import WarehouseOptions
from pipelines.cli.console import console, print_table, progress_reporter
from pipelines.cli.options import reports_errors, warehouse_options

timeseries_app = typer.Typer(
    name="timeseries",
    help="Clarify time series (JSON-RPC): sync, push, status.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

Credentials = Annotated[
    str | None,
    typer.Option(
        "--credentials",
        help=f"Integration credentials file [env: {s.ENV_CREDENTIALS_FILE}]",
        show_default=False,
    ),
]

Reconcile = Annotated[
    bool | None,
    typer.Option(
        "--reconcile/--no-reconcile",
        help="Compare each item's samples per day with the API and re-read the days that differ (backfills, "
        "changed or deleted samples; default: when the last reconcile is older than "
        "sources.clarify_timeseries.reconcile_every_hours)",
        show_default=False,
    ),
]


def _client(credentials: str | None) -> Any:
    from sources.clarify_timeseries.credentials import resolve_credentials
    from sources.clarify_timeseries.rpc import RpcClient

    return RpcClient(resolve_credentials(credentials))


def _filter(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise ConfigError('--items is not a JSON object: use e.g. \'{"labels.site": "oslo"}\'')
    return value


@timeseries_app.command()
@reports_errors
@warehouse_options(lake=False)
def sync(
    warehouse: WarehouseOptions,
    credentials: Credentials = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="First sync starts here (default: a year ago)", show_default=False),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Read samples before this time only (default: now)", show_default=False),
    ] = None,
    lag: Annotated[
        int, typer.Option("--lag-seconds", "--lag", help="Seconds re-read before each item's cursor (late samples)")
    ] = s.DEFAULT_LAG_SECONDS,
    rollup: Annotated[
        str | None,
        typer.Option(
            "--rollup",
            help="Load min/max/avg/sum/count per bucket (e.g. PT1H, P1D) into data_rollups",
            show_default=False,
        ),
    ] = None,
    items: Annotated[
        str | None,
        typer.Option("--items", help='Item filter, JSON (e.g. {"labels.site": "oslo"})', show_default=False),
    ] = None,
    signals: Annotated[bool, typer.Option("--signals/--no-signals", help="Also sync the integration's signals")] = True,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Drop the tables and cursors, reload")] = False,
    reconcile: Reconcile = None,
) -> None:
    """Items, signals and data points into the warehouse, incrementally per item."""
    from pipelines.timeseries_sync import TimeseriesSyncOptions, parse_since, run_timeseries_sync

    options = TimeseriesSyncOptions(
        since=since,
        until_us=parse_since(until, "--until"),
        lag_seconds=lag,
        rollup=rollup,
        item_filter=_filter(items),
        with_signals=signals,
        full_refresh=full_refresh,
        reconcile=reconcile,
    )
    reporter = progress_reporter()
    with _client(credentials) as client, reporter.running():
        report = run_timeseries_sync(client, warehouse, options, progress=reporter, raise_on_failures=False)
    print_table(
        "clarify-sync timeseries sync",
        ["table", "rows loaded", "unchanged"],
        [(name, rows, report.unchanged.get(name, 0)) for name, rows in sorted(report.rows.items())],
    )
    if report.reconcile is not None:
        console.print(_reconciled(report.reconcile), highlight=False)
    if report.failures:
        from pipelines.timeseries_sync import PartialSyncError

        raise PartialSyncError(report)


def _reconciled(r: Any) -> str:
    line = (
        f"reconcile: {r.items} items x {r.days} days compared in {r.calls} calls; "
        f"{r.windows} (item, window) pairs differed, {r.rows} samples read again ({r.replaced} windows replaced)"
    )
    if r.uncompared:
        line += f"; {len(r.uncompared)} items could not be counted (first: {r.uncompared[0]})"
    return line


@timeseries_app.command()
@reports_errors
@warehouse_options(lake=False)
def push(
    warehouse: WarehouseOptions,
    credentials: Credentials = None,
    sql: Annotated[
        str | None,
        typer.Option("--sql", help="Query returning time, input_id, value (runs in the dataset)", show_default=False),
    ] = None,
    signals_from: Annotated[
        str | None,
        typer.Option(
            "--signals-from",
            help="Table of signal metadata (input_id, name, labels, ...)",
            show_default=False,
        ),
    ] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Publish pushed signals as items")] = False,
) -> None:
    """Rows newer than the last push → integration.insert; signal metadata → integration.saveSignals."""
    from pipelines.timeseries_sync import run_timeseries_push

    with _client(credentials) as client:
        report = run_timeseries_push(client, warehouse, query=sql, signals_from=signals_from, publish=publish)
    print_table(
        "clarify-sync timeseries push",
        ["what", "count"],
        [
            ("points sent", report.points_sent),
            ("points rejected", report.points_rejected),
            ("rejects retried", report.retried_rejects),
            ("insert calls", report.calls),
            ("signals saved", report.signals_saved),
            ("signals rejected", report.signals_rejected),
            ("items published", report.published),
        ],
    )
    if report.errors:
        raise RowsRejectedError(
            f"{len(report.errors)} call(s) rejected; rows kept in _clarify_ts_push_rejects. First: {report.errors[0]}"
        )


@timeseries_app.command()
@reports_errors
@warehouse_options(lake=False)
def status(
    warehouse: WarehouseOptions,
) -> None:
    """Rows and latest time per time-series table, push watermarks and rejects."""
    from pipelines.timeseries_sync import timeseries_status

    rows, cursors = timeseries_status(warehouse)
    print_table(
        "clarify-sync timeseries status",
        ["table", "rows", "latest"],
        [(row.table, row.rows, row.latest or "") for row in rows],
    )
    console.print(
        f"items with a cursor: {cursors.get('data_points', 0)} (raw), {cursors.get('data_rollups', 0)} (rollups)",
        highlight=False,
    )
