"""The dlt pipeline of a warehouse: opened for the right warehouse, its steps run with one-line errors.

Sync and time series both load through these; a dlt step failure becomes a `WarehouseError` (or the
`ClarifySyncError` a source raised inside it) here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from core.errors import ClarifySyncError, ConfigError, WarehouseError, first_line
from core.warehouse.options import WarehouseOptions

# Written into a pipeline's local folder: which warehouse that folder's state belongs to.
_IDENTITY_FILE = "clarify_warehouse_identity"
# Load jobs at a time. dlt's default (20) loads every file of a package at once and each DuckDB job holds its
# file's rows, so the load step's peak grew with the package (bench full sync at 1M: 949 MB, 472 MB with 1).
# In code, not only in `.dlt/config.toml`, which dlt reads from the working directory: cron runs elsewhere.
DEFAULT_LOAD_WORKERS = 1
# dlt's best file format per destination: parquet for DuckDB and the lake, csv (COPY) for Postgres.
_LOADER_FORMATS = {"duckdb": "parquet", "postgres": "csv", "filesystem": "parquet"}


DISABLE_COMPRESSION_KEY = "normalize.data_writer.disable_compression"


def load_workers() -> int:
    """`[load] workers` from dlt config when set, else `DEFAULT_LOAD_WORKERS`."""
    value = dlt.config.get("load.workers")
    try:
        return int(value) if value not in (None, "") else DEFAULT_LOAD_WORKERS
    except (TypeError, ValueError):
        raise ConfigError(f"load.workers = {value!r} is not a whole number") from None


def open_pipeline(name: str, warehouse: WarehouseOptions, destination: Any | None = None) -> dlt.Pipeline:
    """The named dlt pipeline for this warehouse. A local pipeline folder left by another warehouse is dropped,
    so its state is restored from this warehouse instead of trusting cursors that belong elsewhere."""
    pipelines_dir = warehouse.resolved_pipelines_dir()
    identity = warehouse.identity()
    destination = destination if destination is not None else warehouse.make_destination()

    def make() -> dlt.Pipeline:
        try:
            return dlt.pipeline(
                name, pipelines_dir=pipelines_dir, destination=destination, dataset_name=warehouse.dataset
            )
        except ClarifySyncError:
            raise
        except Exception as exc:
            raise ConfigError(f"cannot set up the dlt pipeline ({first_line(exc)}): fix .dlt/config.toml") from None

    pipeline = make()
    marker = Path(pipeline.working_dir) / _IDENTITY_FILE
    # No marker: a folder of unknown origin (or a new one, where dropping costs nothing) is not trusted either;
    # nor is any local state when the DuckDB file it describes is gone (deleted, or never written).
    if not marker.exists() or marker.read_text() != identity or warehouse.is_missing():
        pipeline.drop()
        pipeline = make()
    Path(pipeline.working_dir).mkdir(parents=True, exist_ok=True)
    marker.write_text(identity)
    return pipeline


def guard(step: Callable[[], Any], warehouse: WarehouseOptions) -> Any:
    """Run one dlt step; our own error raised inside it comes out unwrapped, a load or connection failure as a
    one-line `WarehouseError` naming the fix (an extract failure that is not ours stays a bug)."""
    try:
        return step()
    except ClarifySyncError:
        raise
    except PipelineStepFailed as exc:
        cause = exc.__cause__ or exc.exception
        while cause is not None and not isinstance(cause, ClarifySyncError) and cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, ClarifySyncError):
            raise cause from None
        if exc.step == "extract":
            raise
        reason = getattr(exc.exception, "client_exception", None) or exc.exception  # a failed job: the database error
        raise WarehouseError(
            f"{exc.step} into {warehouse.destination} failed ({first_line(reason)}): "
            "check the warehouse is reachable and writable, then rerun (pending data is kept)"
        ) from exc
    except Exception as exc:
        if _is_connection_error(exc):
            raise WarehouseError(
                f"cannot open the {warehouse.destination} warehouse ({first_line(exc)}): "
                "check --duckdb-path / --postgres-dsn"
            ) from None
        raise


def _is_connection_error(exc: BaseException) -> bool:
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(names & {"DestinationConnectionError", "OperationalError", "IOException", "CatalogException"})


def finish_pending(pipeline: dlt.Pipeline, warehouse: WarehouseOptions) -> bool:
    """Load what a crashed run extracted or normalised (merge on id makes it harmless to load now); True when
    there was some."""
    if not pipeline.has_pending_data:
        return False
    normalize_and_load(pipeline, warehouse)
    return True


def extract(pipeline: dlt.Pipeline, source: Any, warehouse: WarehouseOptions, refresh: str | None = None) -> None:
    """dlt's extract in the warehouse's best file format (Delta tables on a lake, unless plain parquet)."""
    table_format = "delta" if warehouse.destination == "filesystem" and not warehouse.snapshot else None
    fmt = _LOADER_FORMATS.get(warehouse.destination)
    guard(
        lambda: pipeline.extract(source, refresh=refresh, loader_file_format=fmt, table_format=table_format),  # type: ignore[arg-type]
        warehouse,
    )


def normalize_and_load(pipeline: dlt.Pipeline, warehouse: WarehouseOptions) -> None:
    with uncompressed_load_files(warehouse):
        guard(pipeline.normalize, warehouse)
    guard(lambda: pipeline.load(workers=load_workers()), warehouse)


@contextmanager
def uncompressed_load_files(warehouse: WarehouseOptions) -> Iterator[None]:
    """dlt gzips the load files its normalize step writes unless told otherwise. Postgres gets its rows from files
    on this machine (`COPY` from CSV, `INSERT` statements), sent uncompressed whatever the file, so gzip there is
    only CPU: 2.5 of the 6.4 CPU-seconds of a 100,000-record first load (dlt's parquet files for DuckDB and the
    lake are not gzipped). A `disable_compression` set in dlt's config or environment still decides."""
    if warehouse.destination != "postgres" or dlt.config.get(DISABLE_COMPRESSION_KEY) is not None:
        yield
        return
    with dlt.config.values({DISABLE_COMPRESSION_KEY: True}):
        yield


def create_staging_tables(pipeline: dlt.Pipeline, tables: list[str]) -> None:
    """The staging dataset's `tables`, made as dlt makes them for a merge load, from the schema that made the
    dataset's own: after a first load that appended (and so had no staging dataset), the next merge load finds
    them as it would have after a merge. Otherwise dlt creates them then, from the schema of that later load: on
    Postgres, a field whose type changed in between gets a staging column of the new type, and inserting it into
    the table's old column fails (DuckDB casts it)."""
    with pipeline.destination_client() as client:
        with client.with_staging_dataset():
            client.initialize_storage()
            client.update_stored_schema(only_tables=[*tables, pipeline.default_schema.version_table_name])
