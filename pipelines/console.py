"""What a person (or cron's mail) sees: live progress on a terminal, plain log lines otherwise, a summary."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

_LOG_EVERY_SECONDS = 10.0


class ProgressReporter:
    """Receives (name, records, pages) updates; draws bars on a TTY, throttled log lines under cron."""

    def __init__(self, interactive: bool):
        self._interactive = interactive
        self._progress = Progress(
            TextColumn("{task.fields[name]:<18}"),
            BarColumn(bar_width=None),
            TextColumn("{task.completed:>10,.0f} records"),
            TextColumn("{task.fields[pages]:>6,} pages"),
            TextColumn("{task.fields[rate]:>8,.0f}/s"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._started = time.monotonic()  # objects run in parallel, so rates share the run's start
        self._last_logged: dict[str, float] = {}

    def __call__(self, name: str, records: int, pages: int) -> None:
        now = time.monotonic()
        rate = records / (now - self._started) if now > self._started else 0.0
        if self._interactive:
            if name not in self._tasks:
                self._tasks[name] = self._progress.add_task("", total=None, name=name, pages=0, rate=0.0)
            self._progress.update(self._tasks[name], completed=records, pages=pages, rate=rate)
        elif now - self._last_logged.get(name, 0.0) >= _LOG_EVERY_SECONDS:
            self._last_logged[name] = now
            console.print(f"{name}: {records} records, {pages} pages, {rate:.0f} records/s", highlight=False)

    @contextmanager
    def running(self) -> Iterator[ProgressReporter]:
        if not self._interactive:
            yield self
            return
        with self._progress:
            yield self


def progress_reporter() -> ProgressReporter:
    return ProgressReporter(interactive=console.is_terminal and sys.stdout.isatty())


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(
            *("" if value is None else f"{value:,}" if isinstance(value, int) else str(value) for value in row)
        )
    console.print(table)


def print_error(message: str) -> None:
    """One line on stderr: the reason and the fix, never a traceback."""
    err_console.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)


class _Verbosity:
    """Set by `clarify-sync --verbose`: unexpected errors print their traceback as well."""

    verbose = False


verbosity = _Verbosity()
ERROR_LOG_ENV = "CLARIFY_SYNC_LOG_DIR"


def error_log_dir() -> Path:
    """Where tracebacks of unexpected errors go: $CLARIFY_SYNC_LOG_DIR, else the XDG state folder."""
    configured = os.environ.get(ERROR_LOG_ENV)
    if configured:
        return Path(configured).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state_home) / "clarify-sync"


def report_internal_error(exc: BaseException, command: str) -> None:
    """A bug (or an answer nothing here expected): one line naming the log file with the full traceback."""
    text = "".join(traceback.format_exception(exc))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    try:
        folder = error_log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / f"error-{command}-{stamp}.log"
        log.write_text(f"clarify-sync {command}\n{text}")
        where = f"the full traceback is in {log}"
    except OSError:  # a read-only home must not hide the error itself
        where = f"set {ERROR_LOG_ENV} to a writable folder to keep the traceback"
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    print_error(
        f"internal error ({exc.__class__.__name__}{': ' + first if first else ''}): {where}; "
        "rerun with --verbose to print it, and please report it"
    )
    if verbosity.verbose:
        err_console.print(text, highlight=False, markup=False, soft_wrap=True)
