"""What a person (or cron's mail) sees: live progress on a terminal, plain log lines otherwise, a summary."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from core.errors import first_line
from core.state_files import STATE_DIR_ENV, state_dir

console = Console()
err_console = Console(stderr=True)


_SINGULAR = {"pages": "page", "batches": "batch"}


class ProgressReporter:
    """Per object: a bar on a terminal (how far, records, rate, time left); under cron one line when it starts
    and one when it ends (`finish`), with its true counts. `units` names the two counts (the push counts rows
    and batches)."""

    def __init__(self, interactive: bool, units: tuple[str, str] = ("records", "pages")):
        self._interactive = interactive
        self._units = units
        self._progress = Progress(
            TextColumn("{task.fields[name]:<18}"),
            BarColumn(bar_width=None),
            TaskProgressColumn(),
            TextColumn("{task.completed:>10,.0f} " + units[0]),
            TextColumn("{task.fields[rate]:>8,.0f}/s"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._started = time.monotonic()  # objects run in parallel, so rates share the run's start
        self._lock = threading.Lock()  # objects report from worker threads
        self._open: dict[str, tuple[int, int]] = {}  # under cron: (records, pages) of objects not finished yet

    def __call__(self, name: str, records: int, pages: int, expected: int | None = None) -> None:
        now = time.monotonic()
        rate = records / (now - self._started) if now > self._started else 0.0
        with self._lock:
            first = name not in self._tasks
            if self._interactive:
                if first:
                    self._tasks[name] = self._progress.add_task("", total=None, name=name, rate=0.0)
                total = max(expected, records) if expected is not None else None
                self._progress.update(self._tasks[name], completed=records, total=total, rate=rate)
            else:
                if first:
                    self._tasks[name] = None
                    about = f", {expected:,} to read" if expected is not None else ""
                    console.print(f"{name}: started{about}", highlight=False, soft_wrap=True)
                self._open[name] = (records, pages)

    def finish(
        self,
        name: str,
        records: int,
        pages: int,
        seconds: float | None = None,
        deleted: int = 0,
        units: tuple[str, str] | None = None,
    ) -> None:
        """The object's true counts once its run is over: a full bar, or the end line (`units` names its counts
        when they are not the reporter's)."""
        with self._lock:
            self._open.pop(name, None)
            if self._interactive:
                if name not in self._tasks:
                    self._tasks[name] = self._progress.add_task("", total=None, name=name, rate=0.0)
                rate = records / max(seconds, 1e-9) if seconds is not None else 0.0
                self._progress.update(self._tasks[name], completed=records, total=records, rate=rate)
                return
        gone = f", {deleted:,} deleted" if deleted else ""
        took = f", {seconds:.1f} s" if seconds is not None else ""
        things, steps = units or self._units
        steps_text = f"1 {_SINGULAR.get(steps, steps)}" if pages == 1 else f"{pages:,} {steps}"
        console.print(
            f"{name}: done, {records:,} {things} in {steps_text}{gone}{took}", highlight=False, soft_wrap=True
        )

    def note(self, message: str) -> None:
        """A line a person should read once (printed above the bars on a terminal)."""
        console.print(message, highlight=False, markup=False, soft_wrap=True)

    @contextmanager
    def running(self) -> Iterator[ProgressReporter]:
        """Draws the bars while the block runs; after it, under cron, objects nobody called `finish` for (the
        time-series tables) get their end line with the last counts reported."""
        if self._interactive:
            with self._progress:
                yield self
            return
        yield self
        for name, (records, pages) in sorted(self._open.items()):
            self.finish(name, records, pages)


def progress_reporter(units: tuple[str, str] = ("records", "pages")) -> ProgressReporter:
    return ProgressReporter(interactive=console.is_terminal and sys.stdout.isatty(), units=units)


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


def report_internal_error(exc: BaseException, command: str) -> None:
    """A bug (or an answer nothing here expected): one line naming the log file with the full traceback."""
    text = "".join(traceback.format_exception(exc))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    try:
        folder = state_dir()  # tracebacks go to the state folder (core/state_files.py)
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / f"error-{command}-{stamp}.log"
        log.write_text(f"clarify-sync {command}\n{text}")
        where = f"the full traceback is in {log}"
    except OSError:  # a read-only home must not hide the error itself
        where = f"set {STATE_DIR_ENV} to a writable folder to keep the traceback"
    first = first_line(exc, fallback="")
    print_error(
        f"internal error ({exc.__class__.__name__}{': ' + first if first else ''}): {where}; "
        "rerun with --verbose to print it, and please report it"
    )
    if verbosity.verbose:
        err_console.print(text, highlight=False, markup=False, soft_wrap=True)
