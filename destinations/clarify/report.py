"""What one push did (`PushReport`), and the step that records outcomes into state, rejects and the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from destinations.clarify.batching import Failure, Item, Outcome
from destinations.clarify.state import Landed, PushState, Rejected

Progress = Callable[[int, int], None]  # (rows done, batches sent)
SAMPLES = 5


@dataclass
class PushReport:
    """What one push did. `rejected` > 0 means some rows are waiting in `_clarify_push_rejects`."""

    object: str
    mode: str
    dry_run: bool = False
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    invalid: int = 0  # refused by local checks (counted in `rejected` too unless dry run)
    sent: int = 0  # rows that landed in Clarify
    adopted: int = 0  # rows whose create had an unknown outcome, found on the server and recorded, not resent
    rejected: int = 0  # rows refused (locally or by the API) in this run
    rejects_gone: int = 0  # earlier rejects cleared because their row is no longer in the source
    requests: int = 0  # HTTP requests made, retries included
    seconds: float = 0.0
    batch_size: int = 0  # the batch size in force at the end (it shrinks if the server refuses the size)
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.invalid == 0


class Recorder:
    """Turns outcomes into committed state and rejects, counts them in the report, and reports progress.

    A dry run records nothing: it keeps a few samples of what would be sent and of what is invalid.
    """

    def __init__(self, state: PushState, report: PushReport, progress: Progress | None):
        self.state = state
        self.report = report
        self.progress = progress
        self.done = 0
        self.batches = 0

    def record(self, outcomes: list[Outcome], intend: list[Item] | None = None) -> None:
        """One transaction for every finished request in `outcomes` (and the intent of the creates about to
        be sent, `intend`), then one progress call."""
        landed = Landed()
        rejected: list[Rejected] = []
        for outcome in outcomes:
            for items, ids in outcome.landed:
                landed.add(items, ids)
            rejected.extend(
                Rejected(i.reject_key, i.attributes, f.status, f.pointer, f.detail) for i, f in outcome.rejected
            )
        self.state.record(landed, rejected, intend or [])
        self.report.sent += len(landed)
        self.report.rejected += len(rejected)
        self.batches += len(outcomes)
        self._advance(len(landed) + len(rejected))

    def landed(self, items: list[Item], ids: list[str | None]) -> None:
        self.record([Outcome(landed=[(items, ids)])])

    def rejected(self, pairs: list[tuple[Item, Failure]]) -> None:
        self.record([Outcome(rejected=list(pairs))])

    def invalid(self, key: str, payload: Any, pointer: str | None, detail: str) -> None:
        """A row refused by the local checks: no request is spent on it."""
        self.report.invalid += 1
        if self.report.dry_run:
            if len(self.report.samples) < SAMPLES * 2:
                self.report.samples.append({"key": key, "change": "invalid", "pointer": pointer, "detail": detail})
            return
        self.state.record(Landed(), [Rejected(key, payload, "invalid", pointer, detail)])
        self.report.rejected += 1
        self._advance(1)

    def sample(self, item: Item, new: bool) -> None:
        """A dry run's record of what would be sent (the first few rows only)."""
        if len(self.report.samples) < SAMPLES:
            change = "new" if new else "changed"
            self.report.samples.append({"key": item.key, "change": change, "attributes": item.attributes})

    def _advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None and n:
            self.progress(self.done, self.batches)


def _rejected(item: Item, failure: Failure) -> Rejected:
    return Rejected(item.reject_key, item.attributes, failure.status, failure.pointer, failure.detail)
