"""What a sync did, per object: what `run_sync` and the nothing-changed probe return and the CLI prints.

Apart from `pipelines/sync.py` so that a run answered by the probe (`noop_probe.py`) never imports dlt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sources.clarify.stats import ObjectStats

if TYPE_CHECKING:
    from core.http import RequestStats


@dataclass
class ObjectReport(ObjectStats):
    """One object's counts from the source, plus what only the run knows: requests made, cursor reached."""

    requests: int = 0
    cursor: str | None = None


@dataclass
class ListsReport:
    lists: int = 0
    members: int = 0
    requests: int = 0
    loaded: bool = False  # False when nothing changed since the last run (or the workspace has no lists API)
    available: bool = True  # False when `GET /lists` answered 404
    digest: str | None = None  # what was read (`ListsSnapshot.digest`), for the nothing-changed note


@dataclass
class TranscriptsReport:
    """The transcripts step (`pipelines/transcripts_sync.py`): recordings asked for, and what each came to."""

    due: int = 0  # recordings the warehouse lacked a current transcript for
    transcribed: int = 0  # transcripts loaded
    pending: int = 0  # not transcribed yet: asked again next run
    failed: int = 0  # refused or unreachable for now: asked again next run, nothing written
    other: int = 0  # unreadable, or no meeting to ask: asked again when the recording changes
    waiting: int = 0  # recordings the next run asks for again (pending within the wait, or failed)
    deleted: int = 0  # transcripts of recordings that are gone
    problems: int = 0
    requests: int = 0  # artifacts calls and downloads, retries included
    downloads: int = 0  # of those, the downloads (not API requests: another host)
    seconds: float = 0.0

    def count(self, fetched: list[Any]) -> None:
        for f in fetched:
            if f.status in ("transcribed", "pending", "failed"):
                setattr(self, f.status, getattr(self, f.status) + 1)
            else:
                self.other += 1


@dataclass
class SyncReport:
    objects: dict[str, ObjectReport] = field(default_factory=dict)
    loads: int = 0
    reconciled: list[str] = field(default_factory=list)
    requests: int = 0  # all API requests of the run, retries and the schema call included
    retries: int = 0
    seconds: float = 0.0
    lists: ListsReport | None = None  # None when the run did not sync lists
    transcripts: TranscriptsReport | None = None  # None when the run did not read transcripts

    @classmethod
    def answered(
        cls, http: RequestStats, cursors: dict[str, str | None], counts: Mapping[str, ObjectStats] | None = None
    ) -> SyncReport:
        """A run answered without dlt: its client's requests, each object's cursor and what it read (`counts`)."""
        report = cls(requests=http.requests, retries=http.retries)
        for obj, cursor in cursors.items():
            read = (counts or {}).get(obj, ObjectStats())
            report.objects[obj] = ObjectReport(
                records=read.records,
                pages=read.pages,
                seconds=round(read.seconds, 3),
                requests=http.by_tag.get(obj, 0),
                cursor=cursor,
            )
        return report

    @property
    def records(self) -> int:
        return sum(o.records for o in self.objects.values())

    @property
    def pages(self) -> int:
        return sum(o.pages for o in self.objects.values())

    @property
    def deleted(self) -> int:
        return sum(o.deleted for o in self.objects.values())

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0
