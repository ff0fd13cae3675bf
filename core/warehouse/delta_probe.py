"""A working `DeltaTable.is_deltatable` for object stores.

deltalake 1.6's `is_deltatable` never returns on S3: it builds its object store without the IO runtime that drives
its HTTP client, so its first request never completes (seen with deltalake 1.6.6 against an S3 server: the
connection opens and nothing follows; local folders are unaffected). dlt asks it before every Delta load job and
every table read, so Delta on S3 hung. Opening the table answers the same question through the path that works.
"""

from __future__ import annotations

from typing import Any

from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError


def _is_deltatable(table_uri: Any, storage_options: dict[str, str] | None = None) -> bool:
    try:
        DeltaTable(str(table_uri), storage_options=storage_options)
    except TableNotFoundError:
        return False
    return True


def install() -> None:
    """Replace `DeltaTable.is_deltatable` (dlt calls it as a static method); idempotent."""
    DeltaTable.is_deltatable = staticmethod(_is_deltatable)  # type: ignore[method-assign,assignment]
