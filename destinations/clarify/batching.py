"""Send rows in bulk requests; isolate the bad rows of an atomic batch; shrink the batch when refused.

Bulk batches are atomic: one invalid record rejects the whole request. On a row-level refusal
(400/422, or 404 for an unknown id in a bulk PATCH) the batch is split:
- when the error pointers name rows (`/data/<i>/...`), the unnamed rows are resent together and each named
  row alone (one extra request for the good rows in the common case);
- otherwise it is bisected, recursively, until each bad row stands alone and is rejected with its error.
Good rows land in the same run. A refusal of the batch *size* (413, or 400 saying too large / too many /
at most) halves the batch size for the rest of the run instead. Anything else (401, 5xx after the client's
retries, unreachable) stops the push: state already committed stays, the rest is sent on the next run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sources.common.errors import ApiError

ROW_LEVEL = frozenset({400, 404, 422})
_TOO_LARGE = re.compile(r"too large|too many|at most|exceed|maximum|payload|limit of", re.I)
_ROW_POINTER = re.compile(r"^/data/(\d+)(/|$)")


@dataclass
class Item:
    key: str
    fingerprint: str
    attributes: dict[str, Any]
    clarify_id: str | None = None  # the record to PATCH, when known


@dataclass(frozen=True)
class Failure:
    status: str
    pointer: str | None
    detail: str


Send = Callable[[list[Item]], list[str | None]]
Landed = Callable[[list[Item], list[str | None]], None]
Rejected = Callable[[list[tuple[Item, Failure]]], None]


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


def failure_of(err: ApiError) -> Failure:
    """The first error of a single-row refusal, pointer made row-relative (`/data/attributes/x`)."""
    first = err.errors[0] if err.errors else {}
    pointer = _pointer(first)
    if pointer:
        pointer = _ROW_POINTER.sub(lambda m: "/data" + m.group(2), pointer, count=1).rstrip("/") or "/data"
    details = [str(e.get("detail") or e.get("title") or "") for e in err.errors if isinstance(e, dict)]
    detail = "; ".join(d for d in details if d) or str(err)
    status = str(first.get("status") or err.status or "")
    return Failure(status=status, pointer=pointer, detail=detail)


class BatchSender:
    """Sends items through `send`, reporting each landed request and each isolated bad row."""

    def __init__(self, send: Send, on_landed: Landed, on_rejected: Rejected, batch_size: int):
        self.send = send
        self.on_landed = on_landed
        self.on_rejected = on_rejected
        self.batch_size = max(1, batch_size)

    def push(self, items: Sequence[Item]) -> None:
        pending = list(items)
        while pending:
            size = self.batch_size
            batch, pending = pending[:size], pending[size:]
            leftover = self._send(batch)
            pending = leftover + pending

    def _send(self, batch: list[Item]) -> list[Item]:
        """Send one batch; returns the rows to requeue (after the batch size shrank), else []."""
        try:
            ids = self.send(batch)
        except ApiError as err:
            if is_too_large(err) and len(batch) > 1:
                self.batch_size = max(1, min(self.batch_size, len(batch)) // 2)
                return batch
            if err.status not in ROW_LEVEL:
                raise
            self._isolate(batch, err)
            return []
        self.on_landed(batch, ids)
        return []

    def _isolate(self, batch: list[Item], err: ApiError) -> None:
        if len(batch) == 1:
            self.on_rejected([(batch[0], failure_of(err))])
            return
        named = flagged_rows(err, len(batch))
        if named and len(named) < len(batch):
            groups = [[it for i, it in enumerate(batch) if i not in named]] + [[batch[i]] for i in sorted(named)]
        else:
            half = len(batch) // 2
            groups = [batch[:half], batch[half:]]
        for group in groups:
            self._retry(group)

    def _retry(self, group: list[Item]) -> None:
        try:
            ids = self.send(group)
        except ApiError as err:
            if is_too_large(err) and len(group) > 1:
                self.batch_size = max(1, len(group) // 2)
                half = len(group) // 2
                self._retry(group[:half])
                self._retry(group[half:])
                return
            if err.status not in ROW_LEVEL:
                raise
            self._isolate(group, err)
            return
        self.on_landed(group, ids)
