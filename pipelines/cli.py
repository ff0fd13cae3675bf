"""The `clarify-sync` command: wires settings, sources, the warehouse and the push step together."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from pipelines.console import print_error, print_table, progress_reporter
from pipelines.warehouse import DEFAULT_DATASET, DEFAULT_DUCKDB_PATH, WarehouseOptions
from sources.common.connection import ClarifyConnection, resolve_connection
from sources.common.errors import ClarifySyncError

app = typer.Typer(
    name="clarify-sync",
    help="Keep Clarify and an analytics warehouse in sync (dlt, DuckDB, Postgres).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

F = TypeVar("F", bound=Callable[..., Any])

# Options shared by every command that talks to the API or the warehouse.
BaseUrl = Annotated[str | None, typer.Option("--base-url", help="API base URL [env: CLARIFY_BASE_URL]",
                                             show_default=False)]
Workspace = Annotated[str | None, typer.Option("--workspace", help="Workspace slug [env: CLARIFY_WORKSPACE]",
                                               show_default=False)]
Destination = Annotated[str, typer.Option("--destination", help="duckdb, postgres or any dlt destination name")]
DuckdbPath = Annotated[str, typer.Option("--duckdb-path", help="DuckDB file for --destination duckdb")]
PostgresDsn = Annotated[str | None, typer.Option(
    "--postgres-dsn", help="Postgres DSN [env: CLARIFY_POSTGRES_DSN; else dlt credentials]", show_default=False)]
Dataset = Annotated[str, typer.Option("--dataset", help="Dataset (schema) name in the warehouse")]


def _root_cause(exc: BaseException) -> ClarifySyncError | None:
    """dlt wraps errors raised inside a pipeline step; find ours to print its one line."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ClarifySyncError):
            return current
        seen.add(id(current))
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return None


def reports_errors(command: F) -> F:
    """Turn a `ClarifySyncError` anywhere in the chain into one line on stderr and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            cause = _root_cause(exc)
            if cause is None:
                raise
            print_error(str(cause))
            raise typer.Exit(cause.exit_code) from None

    return wrapper  # type: ignore[return-value]


def connection_from(base_url: str | None, workspace: str | None) -> ClarifyConnection:
    # Credentials are read from the environment or dlt secrets only, never from flags, so they stay out of
    # shell history and process listings.
    return resolve_connection(base_url=base_url, workspace=workspace)


def warehouse_from(destination: str, duckdb_path: str, postgres_dsn: str | None, dataset: str) -> WarehouseOptions:
    return WarehouseOptions(destination=destination, duckdb_path=duckdb_path, postgres_dsn=postgres_dsn,
                            dataset=dataset)


@app.command()
@reports_errors
def sync(
    base_url: BaseUrl = None,
    workspace: Workspace = None,
    destination: Destination = "duckdb",
    duckdb_path: DuckdbPath = DEFAULT_DUCKDB_PATH,
    postgres_dsn: PostgresDsn = None,
    dataset: Dataset = DEFAULT_DATASET,
    objects: Annotated[str | None, typer.Option(
        "--objects", help="Comma-separated object slugs (default: every object, custom ones included)",
        show_default=False)] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Drop the tables and cursors, reload all")]
    = False,
    since: Annotated[str | None, typer.Option(
        "--since", help="Backfill records updated on or after this date (ISO-8601)", show_default=False)] = None,
    reconcile: Annotated[bool | None, typer.Option(
        "--reconcile/--no-reconcile", help="Detect records deleted in Clarify (default: when the last "
        "reconcile is older than sources.clarify.reconcile_every_hours)", show_default=False)] = None,
) -> None:
    """Mirror the workspace into the warehouse, incrementally."""
    from pipelines.sync import run_sync

    reporter = progress_reporter()
    with reporter.running():
        report = run_sync(
            connection_from(base_url, workspace),
            warehouse_from(destination, duckdb_path, postgres_dsn, dataset),
            objects=[name.strip() for name in objects.split(",") if name.strip()] if objects else None,
            full_refresh=full_refresh,
            since=since,
            reconcile=reconcile,
            progress=reporter,
        )
    print_sync_report(report)


@app.command()
@reports_errors
def status(
    destination: Destination = "duckdb",
    duckdb_path: DuckdbPath = DEFAULT_DUCKDB_PATH,
    postgres_dsn: PostgresDsn = None,
    dataset: Dataset = DEFAULT_DATASET,
) -> None:
    """Each object's cursor, row count and last run."""
    from pipelines.sync import sync_status

    rows = sync_status(warehouse_from(destination, duckdb_path, postgres_dsn, dataset))
    print_table("clarify-sync status", ["object", "cursor", "rows", "last run"],
                [(row.object, row.cursor, row.rows, row.last_run) for row in rows])


@app.command()
def emulator(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port)")] = 8765,
    records: Annotated[int, typer.Option("--records", help="Demo records across all objects")] = 5_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the deterministic demo data")] = 42,
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace slug the emulator serves")] = "demo",
    rate_limit: Annotated[int, typer.Option(
        "--rate-limit", help="Requests per endpoint per minute (0: no limit)")] = 3000,
    page_cap: Annotated[int, typer.Option("--page-cap", help="Largest page[limit] accepted")] = 500,
    bulk_max: Annotated[int, typer.Option("--bulk-max", help="Largest bulk batch accepted")] = 100,
) -> None:
    """Run the local Clarify emulator; prints the three settings to paste into a shell."""
    from emulator import EmulatorConfig
    from emulator.server import serve

    serve(EmulatorConfig(workspace=workspace, records=records, seed=seed, rate_limit=rate_limit or None,
                         page_cap=page_cap, bulk_max=bulk_max), port=port)
