"""Which warehouse to write to: the options every command shares, the dlt destination they make, and the one
place the Postgres DSN is resolved."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dlt
from dlt.common.configuration.specs import ConnectionStringCredentials
from dlt.common.destination import Destination
from dlt.common.pipeline import get_dlt_pipelines_dir

from core.errors import ConfigError, WarehouseError

DEFAULT_DATASET = "clarify"
# Not `clarify.duckdb`: DuckDB names the catalog after the file, and a catalog named like the `clarify` schema
# makes every `clarify.<table>` reference ambiguous (a binder error, for dlt and for analysts alike).
DEFAULT_DUCKDB_PATH = "clarify_sync.duckdb"
POSTGRES_DSN_ENV = "CLARIFY_POSTGRES_DSN"
DEFAULT_BUCKET_URL = "clarify_lake"  # a folder in the working directory; or s3://, gs://, az://, abfss://, ...
TABLE_FORMATS = ("delta", "parquet")
# dlt destinations (and bucket protocols) whose client libraries come with a dlt extra we do not install.
_EXTRAS: dict[str, tuple[str, str]] = {
    "snowflake": ("snowflake.connector", "snowflake"),
    "bigquery": ("google.cloud.bigquery", "bigquery"),
    "databricks": ("databricks.sql", "databricks"),
    "redshift": ("psycopg2", "redshift"),
    "mssql": ("pyodbc", "mssql"),
    "synapse": ("pyodbc", "synapse"),
    "clickhouse": ("clickhouse_driver", "clickhouse"),
    "athena": ("pyathena", "athena"),
    "s3": ("s3fs", "s3"),
    "gs": ("gcsfs", "gs"),
    "gcs": ("gcsfs", "gs"),
    "az": ("adlfs", "az"),
    "abfs": ("adlfs", "az"),
    "abfss": ("adlfs", "az"),
}


@dataclass(frozen=True)
class WarehouseOptions:
    """Where rows land. `destination` is any dlt destination name; duckdb and postgres get first-class flags."""

    destination: str = "duckdb"
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    postgres_dsn: str | None = field(default=None, repr=False)
    dataset: str = DEFAULT_DATASET
    pipelines_dir: str | None = None
    # --destination filesystem: a local folder or a bucket URL (None: `[destination.filesystem] bucket_url`
    # in dlt config, else ./clarify_lake); `delta` tables merge, `parquet` files are rewritten by every sync.
    bucket_url: str | None = None
    table_format: str = "delta"

    @property
    def snapshot(self) -> bool:
        """Plain parquet files cannot merge or delete: every sync rewrites a full snapshot."""
        return self.destination == "filesystem" and self.table_format == "parquet"

    def resolved_bucket_url(self) -> str:
        url = self.bucket_url
        if not url:
            try:
                url = dlt.config.get("destination.filesystem.bucket_url")
            except Exception:
                url = None
        url = str(url or DEFAULT_BUCKET_URL)
        if "://" not in url:
            return str(Path(url).expanduser().resolve())
        return url

    def resolved_postgres_dsn(self) -> str | None:
        """The DSN from the flag, else the environment; None leaves it to dlt's credentials."""
        return self.postgres_dsn or os.environ.get(POSTGRES_DSN_ENV)

    def required_postgres_dsn(self) -> str:
        """The DSN for a direct connection: flag, environment, else dlt's `[destination.postgres.credentials]`."""
        dsn = self.resolved_postgres_dsn()
        if dsn:
            return dsn
        try:
            value = dlt.secrets.get("destination.postgres.credentials")
        except Exception:
            value = None
        if isinstance(value, str) and value:
            return value
        if value:
            creds = ConnectionStringCredentials(dict(value))
            creds.drivername = creds.drivername or "postgresql"
            return str(creds.to_native_representation())
        raise ConfigError(f"no Postgres DSN: pass --postgres-dsn or set {POSTGRES_DSN_ENV}")

    def resolved_pipelines_dir(self) -> str:
        """dlt's pipelines folder, one subfolder per warehouse: each warehouse keeps its own local state and
        pending loads, and a run against another warehouse neither discards them nor makes dlt warn that the
        state's destination differs. (`dlt pipeline --pipelines-dir <this> clarify_sync info` inspects it.)"""
        base = Path(self.pipelines_dir).expanduser() if self.pipelines_dir else Path(get_dlt_pipelines_dir())
        digest = hashlib.sha256(self.identity().encode()).hexdigest()[:12]
        return str(base / f"{self.destination}-{digest}")

    def is_missing(self) -> bool:
        """True when a DuckDB warehouse file does not exist, so no local state can describe it."""
        return self.destination == "duckdb" and not Path(self.duckdb_path).expanduser().exists()

    def identity(self) -> str:
        """What makes two runs write to the same tables (secrets stripped)."""
        if self.destination == "duckdb":
            return f"duckdb:{Path(self.duckdb_path).expanduser().resolve()}:{self.dataset}"
        if self.destination == "filesystem":
            return f"filesystem:{self.resolved_bucket_url()}:{self.dataset}"
        if self.destination == "postgres":
            dsn = self.resolved_postgres_dsn()
            if dsn:
                parts = urlsplit(dsn)
                return f"postgres:{parts.hostname}:{parts.port or 5432}{parts.path}:{self.dataset}"
            return f"postgres:dlt-credentials:{self.dataset}"
        return f"{self.destination}:{self.dataset}"

    def make_destination(self) -> Destination[Any, Any]:
        """Build the dlt destination, checking what can be checked before any data moves."""
        if self.destination == "duckdb":
            path = Path(self.duckdb_path).expanduser().resolve()
            if not path.parent.is_dir():
                raise WarehouseError(f"DuckDB folder {path.parent} does not exist: create it or pass --duckdb-path")
            if path.stem == self.dataset:
                raise ConfigError(
                    f"DuckDB file {path.name} would name its catalog like the dataset {self.dataset!r}, which "
                    "DuckDB cannot tell apart: pass another --duckdb-path or --dataset"
                )
            if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
                raise WarehouseError(f"DuckDB file {path} is not writable: fix its permissions or pass --duckdb-path")
            return dlt.destinations.duckdb(credentials=str(path))
        if self.destination == "postgres":
            dsn = self.resolved_postgres_dsn()
            # Without a DSN, dlt reads [destination.postgres.credentials] from its config and secrets.
            return dlt.destinations.postgres(credentials=_with_password(dsn)) if dsn else dlt.destinations.postgres()
        if self.destination == "filesystem":
            return self._filesystem()
        _require_extra(self.destination)
        try:
            return Destination.from_reference(self.destination)
        except Exception:
            raise ConfigError(
                f"unknown destination {self.destination!r}: use duckdb, postgres or a dlt destination name"
            ) from None

    def _filesystem(self) -> Destination[Any, Any]:
        if self.table_format not in TABLE_FORMATS:
            raise ConfigError(f"--table-format {self.table_format!r} is not one of: {', '.join(TABLE_FORMATS)}")
        url = self.resolved_bucket_url()
        protocol = url.split("://", 1)[0] if "://" in url else "file"
        _require_extra(protocol)
        if self.table_format == "delta" and importlib.util.find_spec("deltalake") is None:
            raise ConfigError('Delta tables need the deltalake package: pip install "dlt[deltalake]"')
        if protocol == "file":
            path = Path(url.removeprefix("file://"))
            parent = path if path.exists() else path.parent
            if not parent.is_dir() or not os.access(parent, os.W_OK):
                raise WarehouseError(f"lake folder {path} cannot be created or written: pass another --bucket-url")
        if self.table_format == "delta" and protocol != "file":
            from core.warehouse.delta_probe import install  # imports deltalake: only for Delta on a bucket

            install()
        # Credentials for s3/gs/az come from [destination.filesystem.credentials] in .dlt/secrets.toml.
        return dlt.destinations.filesystem(bucket_url=url)


def _require_extra(name: str) -> None:
    """A missing client library fails here, in one line naming the extra, not deep inside dlt's load step."""
    module, extra = _EXTRAS.get(name, ("", ""))
    if not module:
        return
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package (google.cloud) is missing too
        found = False
    if not found:
        raise ConfigError(f'{name} needs an extra client library: pip install "dlt[{extra}]"')


def _with_password(dsn: str) -> str:
    """dlt insists on a password; a DSN without one (trust auth, .pgpass) gets an explicit empty one."""
    parts = urlsplit(dsn)
    if parts.username and parts.password is None and "@" in parts.netloc:
        user, _, host = parts.netloc.rpartition("@")
        return urlunsplit((parts.scheme, f"{user}:@{host}", parts.path, parts.query, parts.fragment))
    return dsn
