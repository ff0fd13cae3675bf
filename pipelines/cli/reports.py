"""The tables and lines a person reads after `sync`, `push` and `demo`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.cli.console import ProgressReporter, console, print_table
from sources.clarify.settings import TRANSCRIPT_TABLE

if TYPE_CHECKING:  # the commands import the orchestration when they run, keeping `--help` fast
    from destinations.clarify.report import PushReport
    from pipelines.sync_report import SyncReport


def print_sync_report(report: SyncReport) -> None:
    rows = [
        (name, o.records, o.pages, o.requests, o.deleted, f"{o.seconds:.1f}")
        for name, o in sorted(report.objects.items())
    ]
    t = report.transcripts
    if t is not None:
        rows.append((TRANSCRIPT_TABLE, t.transcribed, None, t.requests, t.deleted, f"{t.seconds:.1f}"))
    requests = report.requests + (t.downloads if t is not None else 0)  # the API's, and the storage host's
    rows.append(("total", report.records, report.pages, requests, report.deleted, f"{report.seconds:.1f}"))
    print_table(
        f"clarify-sync summary: {report.records_per_second:,.0f} records/s",
        ["object", "records", "pages", "requests", "deleted", "seconds"],
        rows,
    )
    if t is not None and (t.pending or t.failed or t.other):
        console.print(
            f"transcripts: {t.pending:,} not transcribed yet, {t.failed:,} refused or unreachable for now "
            f"({t.waiting:,} asked again next run), {t.other:,} unreadable or without a meeting",
            highlight=False,
            soft_wrap=True,
        )


def finish_objects(reporter: ProgressReporter, report: SyncReport) -> None:
    """Each object's bar completed, or its end line under cron, with the run's true counts."""
    for name, o in sorted(report.objects.items()):
        reporter.finish(name, o.records, o.pages, o.seconds, o.deleted)
    if (t := report.transcripts) is not None:
        reporter.finish(
            TRANSCRIPT_TABLE, t.transcribed, t.due, t.seconds, t.deleted, units=("transcripts", "recordings")
        )


def print_push_report(report: PushReport) -> None:
    title = f"clarify-sync push → {report.object} ({report.mode}{', dry run' if report.dry_run else ''})"
    print_table(
        title,
        ["new", "changed", "unchanged", "invalid", "sent", "rejected", "requests", "seconds"],
        [
            (
                report.new,
                report.changed,
                report.unchanged,
                report.invalid,
                report.sent,
                report.rejected,
                report.requests,
                f"{report.seconds:.1f}",
            )
        ],
    )
    if report.samples:
        print_table("samples (first rows only)", ["key", "change", "what"], [_sample_row(s) for s in report.samples])
    if report.adopted:
        console.print(f"{report.adopted} row(s) found already created after a lost answer: recorded, not resent")
    if report.rejects_gone:
        console.print(f"{report.rejects_gone} reject(s) cleared: their rows are no longer in the source")


def _sample_row(sample: dict[str, Any]) -> tuple[str, str, str]:
    """One line per sample: the attributes that would be sent, or why the row is invalid."""
    if sample["change"] == "invalid":
        what = str(sample["detail"])
    else:
        what = ", ".join(f"{k}={v!r}" for k, v in sample["attributes"].items())
    return str(sample["key"]), str(sample["change"]), what if len(what) <= 100 else what[:99] + "…"
