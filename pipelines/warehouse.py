"""Which warehouse to write to: the options `sync` and `push` share, and the dlt destination they make."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dlt
from dlt.common.destination import Destination

from sources.common.errors import ConfigError, WarehouseError

DEFAULT_DATASET = "clarify"
# Not `clarify.duckdb`: DuckDB names the catalog after the file, and a catalog named like the `clarify` schema
# makes every `clarify.<table>` reference ambiguous (a binder error, for dlt and for analysts alike).
DEFAULT_DUCKDB_PATH = "clarify_sync.duckdb"
POSTGRES_DSN_ENV = "CLARIFY_POSTGRES_DSN"


@dataclass(frozen=True)
class WarehouseOptions:
    """Where rows land. `destination` is any dlt destination name; duckdb and postgres get first-class flags."""

    destination: str = "duckdb"
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    postgres_dsn: str | None = field(default=None, repr=False)
    dataset: str = DEFAULT_DATASET
    pipelines_dir: str | None = None

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
            dsn = self.postgres_dsn or os.environ.get(POSTGRES_DSN_ENV)
            # Without a DSN, dlt reads [destination.postgres.credentials] from its config and secrets.
            return dlt.destinations.postgres(credentials=_with_password(dsn)) if dsn else dlt.destinations.postgres()
        try:
            return Destination.from_reference(self.destination)
        except Exception:
            raise ConfigError(
                f"unknown destination {self.destination!r}: use duckdb, postgres or a dlt destination name"
            ) from None


def _with_password(dsn: str) -> str:
    """dlt insists on a password; a DSN without one (trust auth, .pgpass) gets an explicit empty one."""
    parts = urlsplit(dsn)
    if parts.username and parts.password is None and "@" in parts.netloc:
        user, _, host = parts.netloc.rpartition("@")
        return urlunsplit((parts.scheme, f"{user}:@{host}", parts.path, parts.query, parts.fragment))
    return dsn
