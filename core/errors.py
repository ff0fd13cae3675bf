"""Errors that reach the user as one line naming the fix, and the exit code of each kind of failure.

Every failure a user can cause or fix (bad settings, a refused key, an unreachable host, a full disk) is raised
as a `ClarifySyncError`; the CLI prints its message and exits with its `exit_code`, so cron and scripts can
tell the kinds apart. Anything else is a bug: the CLI prints one line naming a log file that holds the
traceback (pipelines/cli/console.py).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """What a non-zero exit of `clarify-sync` means (the README lists them)."""

    OK = 0
    INTERNAL = 1  # an unexpected error: a bug, or an answer nothing here expected
    SETTINGS = 2  # flags, environment, dlt config, unknown workspace / object / URL
    BUSY = 3  # another sync of the same warehouse holds the lock
    AUTHENTICATION = 4  # key or token refused, or not allowed to do this
    API_UNAVAILABLE = 5  # unreachable, kept failing after retries, or refused a request
    ROWS_REJECTED = 6  # push: the API refused rows (kept in a rejects table)
    WAREHOUSE = 7  # the warehouse cannot be opened, read or written
    UNHEALTHY = 8  # check: an object's last run failed or is too old, or rejected rows wait
    SCHEMA_CHANGED = 9  # a field changed type and the schema contract is frozen


class ClarifySyncError(Exception):
    """A failure with a one-line message that tells the user what to change."""

    exit_code: int = ExitCode.INTERNAL


class ConfigError(ClarifySyncError):
    """Settings are missing, malformed or contradict each other."""

    exit_code = ExitCode.SETTINGS


class ApiError(ClarifySyncError):
    """The API answered with an error that retrying will not fix; the HTTP status says which kind it is."""

    def __init__(self, message: str, *, status: int | None = None, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []

    @property  # type: ignore[override]
    def exit_code(self) -> int:  # type: ignore[override]
        if self.status in (401, 403):
            return ExitCode.AUTHENTICATION
        if self.status == 404:  # unknown workspace, object or URL: the message names the setting
            return ExitCode.SETTINGS
        return ExitCode.API_UNAVAILABLE


class ApiUnreachableError(ClarifySyncError):
    """The API could not be reached (DNS, refused connection, repeated timeouts)."""

    exit_code = ExitCode.API_UNAVAILABLE


class RowsRejectedError(ClarifySyncError):
    """A push finished, but the API refused some rows (they wait in a rejects table)."""

    exit_code = ExitCode.ROWS_REJECTED


class WarehouseError(ClarifySyncError):
    """The warehouse cannot be opened or written."""

    exit_code = ExitCode.WAREHOUSE


def first_line(exc: BaseException | None, *, fallback: str | None = None, limit: int = 200) -> str:
    """The first non-blank line of an error's message, at most `limit` characters.

    Database and library errors run to many lines (SQL, hints, context); a user message has room for one.
    An empty message gives `fallback`, by default the error's class name.
    """
    for line in str(exc if exc is not None else "").splitlines():
        if line.strip():
            return line.strip()[:limit]
    return fallback if fallback is not None else exc.__class__.__name__
