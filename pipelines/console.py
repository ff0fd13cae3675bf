"""What a person (or cron's mail) sees: live progress on a terminal, plain log lines otherwise, a summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

_LOG_EVERY_SECONDS = 10.0


class ProgressReporter:
    """Receives (name, records, pages) updates; draws bars on a TTY, throttled log lines under cron.

    `units` names the two counts (the push counts rows and batches)."""

    def __init__(self, interactive: bool, units: tuple[str, str] = ("records", "pages")):
        self._interactive = interactive
        self._units = units
        self._progress = Progress(
            TextColumn("{task.fields[name]:<18}"),
            BarColumn(bar_width=None),
            TextColumn("{task.completed:>10,.0f} " + units[0]),
            TextColumn("{task.fields[pages]:>6,} " + units[1]),
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
            things, steps = self._units
            console.print(f"{name}: {records} {things}, {pages} {steps}, {rate:.0f} {things}/s", highlight=False)

    @contextmanager
    def running(self) -> Iterator[ProgressReporter]:
        if not self._interactive:
            yield self
            return
        with self._progress:
            yield self


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
