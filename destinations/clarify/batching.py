"""Send rows in bulk requests; isolate the bad rows of an atomic batch; shrink the batch when refused.

Bulk batches are atomic: one invalid record rejects the whole request. On a row-level refusal
(400/422, or 404 for an unknown id in a bulk PATCH) the batch is split:
- when the error pointers name rows (`/data/<i>/...`), the unnamed rows are resent together and each named
  row alone (one extra request for the good rows in the common case);
- otherwise it is bisected, recursively, until each bad row stands alone and is rejected with its error.
Good rows land in the same run. Before splitting, the sender's `rescue` (if any) may land some rows another
way (a create refused as a duplicate is looked up and updated, duplicates.py; a PATCH of a matched record
that is gone becomes a create): those land, the rest is sent again. A refusal of the batch *size* (413, or
400 saying too large / too many / at most) halves the batch size for the rest of the run instead. Anything
else (401, 5xx after the client's retries, unreachable) stops the push: state already committed stays, the
rest is sent on the next run.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from core.errors import ApiError

ROW_LEVEL = frozenset({400, 404, 422})
_TOO_LARGE = re.compile(r"too large|too many|at most|exceed|maximum|payload|limit of", re.I)
_ROW_POINTER = re.compile(r"^/data/(\d+)(/|$)")


@dataclass
class Item:
    key: str  # the key column's text: the state table's key
    fingerprint: str
    attributes: dict[str, Any]
    clarify_id: str | None = None  # the record to PATCH, when known
    identity: str | None = None  # the key as the API compares it (rejects are kept under it); None: `key`
    matched: bool = False  # `clarify_id` was found by its unique value, not given: a create if it is gone

    @property
    def reject_key(self) -> str:
        return self.identity or self.key


@dataclass(frozen=True)
class Failure:
    status: str
    pointer: str | None
    detail: str


Send = Callable[[list[Item]], list[str | None]]


def record_ids(records: list[dict[str, Any]]) -> list[str | None]:
    """The ids of the records a bulk request returned, in order."""
    return [str(r["id"]) if r.get("id") is not None else None for r in records]


def is_too_large(err: ApiError) -> bool:
    if err.status == 413:
        return True
    if err.status != 400:
        return False
    texts = [str(e.get("detail") or e.get("title") or "") for e in err.errors] or [str(err)]
    return any(
        _TOO_LARGE.search(t) and not _ROW_POINTER.match(_pointer(e) or "")
        for t, e in zip(texts, err.errors or [{}] * len(texts), strict=False)
    )


def _pointer(error: dict[str, Any]) -> str | None:
    source = error.get("source")
    return source.get("pointer") if isinstance(source, dict) else None


def flagged_rows(err: ApiError, size: int) -> set[int]:
    rows = set()
    for e in err.errors:
        m = _ROW_POINTER.match(_pointer(e) or "")
        if m and int(m.group(1)) < size:
            rows.add(int(m.group(1)))
    return rows


def error_details(err: ApiError) -> list[str]:
    """Each error's `detail` (else its `title`), in order: the words a refusal's meaning is read from."""
    return [str(e.get("detail") or e.get("title") or "") for e in err.errors if isinstance(e, dict)]


def failure_of(err: ApiError) -> Failure:
    """The first error of a single-row refusal, pointer made row-relative (`/data/attributes/x`)."""
    first = err.errors[0] if err.errors else {}
    pointer = _pointer(first)
    if pointer:
        pointer = _ROW_POINTER.sub(lambda m: "/data" + m.group(2), pointer, count=1).rstrip("/") or "/data"
    detail = "; ".join(d for d in error_details(err) if d) or str(err)
    status = str(first.get("status") or err.status or "")
    return Failure(status=status, pointer=pointer, detail=detail)


@dataclass
class Outcome:
    """What one batch came to: the requests that landed (rows, returned ids), the rows isolated as bad, and
    the error that stopped it (raised by the caller after recording the rest)."""

    landed: list[tuple[list[Item], list[str | None]]] = field(default_factory=list)
    rejected: list[tuple[Item, Failure]] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def rows(self) -> int:
        return sum(len(items) for items, _ in self.landed) + len(self.rejected)


@dataclass
class Rescued:
    """Rows of a refused batch that landed (or were refused) another way, and the rest, to be sent again."""

    outcome: Outcome
    rest: list[Item]


# (the refusal, the batch) → what was rescued, or None to split the batch as usual. It must rescue at least one
# row when it answers, so that a batch shrinks every round.
Rescue = Callable[[ApiError, list[Item]], Rescued | None]


class BatchSender:
    """Sends one batch through `send` (splitting it as needed) and returns its `Outcome`.

    `run` touches nothing but the HTTP calls, so several batches can run on worker threads; the caller
    records outcomes. The batch size is shared: a refusal of the size shrinks it for every later batch.
    """

    def __init__(self, send: Send, batch_size: int, rescue: Rescue | None = None):
        self.send = send
        self.batch_size = max(1, batch_size)
        self.rescue = rescue
        self._lock = threading.Lock()

    def run(self, batch: list[Item]) -> Outcome:
        outcome = Outcome()
        try:
            self._send(batch, outcome)
        except Exception as exc:  # recorded with what landed before it, then re-raised by the caller
            outcome.error = exc
        return outcome

    def _shrink(self, refused: int) -> int:
        with self._lock:  # concurrent refusals of the same size halve it once, not once each
            self.batch_size = max(1, min(self.batch_size, refused // 2))
            return self.batch_size

    def _send(self, batch: list[Item], out: Outcome) -> None:
        try:
            ids = self.send(batch)
        except ApiError as err:
            if is_too_large(err) and len(batch) > 1:
                size = self._shrink(len(batch))
                for i in range(0, len(batch), size):
                    self._send(batch[i : i + size], out)
                return
            if err.status not in ROW_LEVEL:
                raise
            rescued = self.rescue(err, batch) if self.rescue is not None else None
            if rescued is None:
                self._isolate(batch, err, out)
                return
            out.landed += rescued.outcome.landed
            out.rejected += rescued.outcome.rejected
            if rescued.outcome.error is not None:
                raise rescued.outcome.error from None
            if rescued.rest:
                self._send(rescued.rest, out)
            return
        out.landed.append((batch, ids))

    def _isolate(self, batch: list[Item], err: ApiError, out: Outcome) -> None:
        if len(batch) == 1:
            out.rejected.append((batch[0], failure_of(err)))
            return
        named = flagged_rows(err, len(batch))
        if named and len(named) < len(batch):
            groups = [[it for i, it in enumerate(batch) if i not in named]] + [[batch[i]] for i in sorted(named)]
        else:
            half = len(batch) // 2
            groups = [batch[:half], batch[half:]]
        for group in groups:
            self._send(group, out)


class Dispatcher:
    """Keeps up to `concurrency` batches in flight or finished-but-unrecorded, and records finished ones in groups.

    The resend window after a crash is therefore at most `concurrency` batches: a batch is only submitted while
    the batches in flight plus those finished but not yet recorded number fewer than `concurrency`. Finished
    batches are recorded in one transaction (`record` gets a list) once `group` of them are waiting, or when
    nothing else is in flight, or when one failed: every commit of the state table costs the warehouse a few
    milliseconds of CPU whatever its size, so committing two requests at a time halves that cost while half the
    window stays in flight. `serial=True` batches (plain creates of objects without a unique field, which are
    not safe to resend) wait for everything in flight, run alone and are recorded before anything else is sent.
    """

    def __init__(self, concurrency: int, record: Callable[[list[Outcome]], None]):
        self.concurrency = max(1, concurrency)
        self.group = max(1, self.concurrency // 2)
        self.record = record
        self._pool = ThreadPoolExecutor(self.concurrency, "clarify-push") if self.concurrency > 1 else None
        self._inflight: set[Future[Outcome]] = set()
        self._finished: list[Outcome] = []  # finished, not yet recorded

    def submit(self, sender: BatchSender, batch: list[Item], *, serial: bool = False) -> None:
        if not batch:
            return
        if serial or self._pool is None:
            self.drain()
            self._finish([sender.run(batch)])
            return
        while len(self._inflight) + len(self._finished) >= self.concurrency:
            self._collect()
        self._inflight.add(self._pool.submit(sender.run, batch))

    def _collect(self) -> None:
        """Record the finished batches if it is time to, else wait for at least one more to finish."""
        if self._inflight and len(self._finished) < self.group:
            done, self._inflight = wait(self._inflight, return_when=FIRST_COMPLETED)
            self._finished.extend(f.result() for f in done)
            if not any(o.error is not None for o in self._finished):
                return
        outcomes, self._finished = self._finished, []
        self._finish(outcomes)

    def _finish(self, outcomes: list[Outcome]) -> None:
        self.record(outcomes)
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error

    def drain(self) -> None:
        while self._inflight or self._finished:
            self._collect()

    def close(self, *, failed: bool) -> None:
        """Shut down; after a failure, still wait for and record what is in flight (it may have landed)."""
        try:
            if failed and (self._inflight or self._finished):
                finished = self._finished + [f.result() for f in wait(self._inflight).done]
                self._inflight, self._finished = set(), []
                self.record([o for o in finished if o.rows])
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
