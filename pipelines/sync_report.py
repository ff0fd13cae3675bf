"""What a sync did, per object: what `run_sync` and the nothing-changed probe return and the CLI prints.

Apart from `pipelines/sync.py` so that a run answered by the probe (`noop_probe.py`) never imports dlt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sources.clarify.stats import ObjectStats


@dataclass
class ObjectReport(ObjectStats):
    """One object's counts from the source, plus what only the run knows: requests made, cursor reached."""

    requests: int = 0
    cursor: str | None = None


@dataclass
class SyncReport:
    objects: dict[str, ObjectReport] = field(default_factory=dict)
    loads: int = 0
    reconciled: list[str] = field(default_factory=list)
    requests: int = 0  # all API requests of the run, retries and the schema call included
    retries: int = 0
    seconds: float = 0.0

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
