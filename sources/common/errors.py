"""Errors that reach the user as one line naming the fix.

Every failure a user can cause or fix (bad settings, a refused key, an unreachable host) is raised as a
`ClarifySyncError`; the CLI prints its message and exits non-zero. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

from typing import Any


class ClarifySyncError(Exception):
    """A failure with a one-line message that tells the user what to change."""

    exit_code: int = 1


class ConfigError(ClarifySyncError):
    """Settings are missing, malformed or contradict each other."""

    exit_code = 2


class ApiError(ClarifySyncError):
    """The API answered with an error that retrying will not fix."""

    def __init__(self, message: str, *, status: int | None = None, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class ApiUnreachableError(ClarifySyncError):
    """The API could not be reached (DNS, refused connection, repeated timeouts)."""


class WarehouseError(ClarifySyncError):
    """The warehouse cannot be opened or written."""
