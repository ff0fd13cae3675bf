"""What one object's walk counted (records, pages, deletions, time): filled by the source, read by the run's report.

Its own module so that a report can be built without importing the dlt source (`pipelines/noop_probe.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ObjectStats:
    records: int = 0
    pages: int = 0
    deleted: int = 0
    seconds: float = 0.0
    deleted_ids: list[str] = field(default_factory=list, repr=False)
    # Soft-delete objects: ids no longer listed, for the pipeline to mark `_deleted_at` after the load.
    soft_gone: list[str] | None = field(default=None, repr=False)
    # The ids a mirror listed when the warehouse ids were not read before extraction (the object turned out
    # cursorless during this walk): its deletions wait for the reconcile pass the wiring runs next, which needs
    # no listing of its own.
    live_ids: set[str] | None = field(default=None, repr=False)
