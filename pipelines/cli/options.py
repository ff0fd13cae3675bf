"""Options and error handling shared by every `clarify-sync` command (CRM and time series).

The warehouse options are declared once, here: `@warehouse_options()` adds them to a command and hands it the
`WarehouseOptions` they make, as its `warehouse` argument."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from core.errors import ClarifySyncError, ExitCode
from core.warehouse.options import WarehouseOptions
from pipelines.cli.console import print_error, report_internal_error
from sources.clarify.connection import ClarifyConnection, resolve_connection

F = TypeVar("F", bound=Callable[..., Any])

# Options shared by every command that talks to the API or the warehouse.
BaseUrl = Annotated[
    str | None, typer.Option("--base-url", help="API base URL [env: CLARIFY_BASE_URL]", show_default=False)
]
Workspace = Annotated[
    str | None, typer.Option("--workspace", help="Workspace slug [env: CLARIFY_WORKSPACE]", show_default=False)
]
Destination = Annotated[str, typer.Option("--destination", help="duckdb, postgres or any dlt destination name")]
DuckdbPath = Annotated[str, typer.Option("--duckdb-path", help="DuckDB file for --destination duckdb")]
PostgresDsn = Annotated[
    str | None,
    typer.Option(
        "--postgres-dsn", help="Postgres DSN [env: CLARIFY_POSTGRES_DSN; else dlt credentials]", show_default=False
    ),
]
Dataset = Annotated[str, typer.Option("--dataset", help="Dataset (schema) name in the warehouse")]
BucketUrl = Annotated[
    str | None,
    typer.Option(
        "--bucket-url",
        help="Folder or s3:// gs:// az:// URL for --destination filesystem "
        "[default: destination.filesystem.bucket_url in dlt config, else ./clarify_lake]",
        show_default=False,
    ),
]
TableFormat = Annotated[
    str,
    typer.Option("--table-format", help="filesystem: delta (merged, incremental) or parquet (full snapshot per run)"),
]


def root_cause(exc: BaseException) -> ClarifySyncError | None:
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
    """Every failure ends in one line on stderr and the exit code of its kind (`ExitCode`): a
    `ClarifySyncError` anywhere in the chain prints its message; anything else names a log file holding the
    traceback (printed too with `--verbose`)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            print_error("interrupted: run the command again; a sync carries on from its last committed load")
            raise typer.Exit(130) from None
        except Exception as exc:
            cause = root_cause(exc)
            if cause is None:
                report_internal_error(exc, command.__name__)
                raise typer.Exit(ExitCode.INTERNAL) from None
            print_error(str(cause))
            raise typer.Exit(int(cause.exit_code)) from None

    return wrapper  # type: ignore[return-value]


def connection_from(base_url: str | None, workspace: str | None) -> ClarifyConnection:
    # Credentials are read from the environment or dlt secrets only, never from flags, so they stay out of
    # shell history and process listings.
    return resolve_connection(base_url=base_url, workspace=workspace)


# The options `@warehouse_options` adds, by `WarehouseOptions` field (whose defaults they take); the last two
# are for the lake only.
_WAREHOUSE_FLAGS: dict[str, Any] = {
    "destination": Destination,
    "duckdb_path": DuckdbPath,
    "postgres_dsn": PostgresDsn,
    "dataset": Dataset,
    "bucket_url": BucketUrl,
    "table_format": TableFormat,
}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(WarehouseOptions)}
_LAKE_FLAGS = ("bucket_url", "table_format")


def warehouse_options(*, lake: bool = True) -> Callable[[F], F]:
    """Give a command the warehouse options (`lake=False`: without --bucket-url/--table-format, for commands
    that read with SQL) and call it with `warehouse=WarehouseOptions(...)` instead of the single flags."""
    names = [n for n in _WAREHOUSE_FLAGS if lake or n not in _LAKE_FLAGS]

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name != "warehouse"]
        added = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=_DEFAULTS[n], annotation=_WAREHOUSE_FLAGS[n])
            for n in names
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            flags = {n: kwargs.pop(n) for n in names}
            return command(*args, warehouse=WarehouseOptions(**flags), **kwargs)

        wrapper.__signature__ = signature.replace(parameters=kept + added)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in kept + added}
        return wrapper  # type: ignore[return-value]

    return decorate
