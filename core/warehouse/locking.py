"""Cron safety: one sync per pipeline working folder and per warehouse at a time.

Locks are exclusive `fcntl.flock` locks on files (released by the kernel when a process dies, so a killed
sync never leaves a stale lock) and, for Postgres, a session advisory lock that guards the warehouse from
syncs on other machines. A second sync waits `timeout` seconds, then fails naming the holder's pid.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any

from core.errors import ClarifySyncError, ExitCode, WarehouseError, first_line
from core.warehouse.options import WarehouseOptions

POLL_SECONDS = 0.05
DEFAULT_LOCK_TIMEOUT = 10.0  # seconds a second sync waits for the first


class SyncLockedError(ClarifySyncError):
    """Another sync holds the lock."""

    exit_code = ExitCode.BUSY


@contextmanager
def file_lock(path: str, timeout: float, what: str) -> Iterator[None]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WarehouseError(f"cannot create lock file {path} ({exc.strerror}): make its folder writable") from None
    try:
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    raise SyncLockedError(
                        f"another sync of {what} is running (pid {holder}): wait for it to finish or stop it"
                    ) from None
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_key(identity: str) -> int:
    """A stable signed 64-bit advisory-lock key for a warehouse identity."""
    return int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big", signed=True)


@contextmanager
def postgres_lock(dsn: str, identity: str, timeout: float, what: str) -> Iterator[None]:
    """Session advisory lock held for the whole sync; also proves Postgres is reachable before any work."""
    import psycopg2

    try:
        conn: Any = psycopg2.connect(dsn, connect_timeout=10)
    except psycopg2.Error as exc:
        raise WarehouseError(
            f"cannot connect to Postgres ({first_line(exc)}): check --postgres-dsn / CLARIFY_POSTGRES_DSN"
        ) from None
    try:
        conn.autocommit = True
        key = lock_key(identity)
        deadline = time.monotonic() + max(0.0, timeout)
        with conn.cursor() as cur:
            while True:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                if cur.fetchone()[0]:
                    break
                if time.monotonic() >= deadline:
                    raise SyncLockedError(
                        f"another sync of {what} is running (a Postgres session holds its advisory lock): "
                        "wait for it to finish or stop it"
                    )
                time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        conn.close()


def duckdb_lock(warehouse: WarehouseOptions, timeout: float) -> AbstractContextManager[None]:
    """The lock beside a DuckDB file: all a write without dlt needs (it never touches dlt's local folder)."""
    db = Path(warehouse.duckdb_path).expanduser().resolve()
    return file_lock(f"{db}.{warehouse.dataset}.sync.lock", timeout, f"this warehouse ({warehouse.identity()})")


@contextmanager
def warehouse_lock(warehouse: WarehouseOptions, pipeline_name: str, timeout: float) -> Iterator[None]:
    """Everything one sync of `warehouse` holds: the warehouse (a file beside the DuckDB file, else one per
    identity in the pipelines folder, plus Postgres's advisory lock) and the pipeline's local folder."""
    identity = warehouse.identity()
    what = f"this warehouse ({identity})"
    pipelines_dir = warehouse.resolved_pipelines_dir()
    os.makedirs(pipelines_dir, exist_ok=True)
    with ExitStack() as stack:
        if warehouse.destination == "duckdb":
            stack.enter_context(duckdb_lock(warehouse, timeout))
        else:
            digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
            stack.enter_context(file_lock(os.path.join(pipelines_dir, f".{digest}.sync.lock"), timeout, what))
            dsn = warehouse.resolved_postgres_dsn() if warehouse.destination == "postgres" else None
            if dsn:
                stack.enter_context(postgres_lock(dsn, identity, timeout, what))
        where = f"pipeline {pipeline_name} in {pipelines_dir}"
        stack.enter_context(file_lock(os.path.join(pipelines_dir, f".{pipeline_name}.lock"), timeout, where))
        yield
