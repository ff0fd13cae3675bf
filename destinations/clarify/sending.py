"""Send classified rows: bulk creates and bulk PATCHes in batches, relationship sets one record at a time.

Batches are cut from the rows as they arrive and handed to the `Dispatcher` (batching.py), which keeps a few
in flight and records finished ones. Plain creates (objects without a unique field) are not safe to resend:
they go one batch at a time through `send_create`, which the caller makes exactly-once (exactly_once.py).
Creates of an object with a unique field are rescued from a duplicate refusal (duplicates.py), and go one batch
at a time only while the workspace's dialect is unknown (dialect.py). A PATCH of a record matched by its unique
value that answers 404 (the record is gone) creates the row instead.
"""

from __future__ import annotations

from dataclasses import replace

from core.errors import ApiError
from destinations.clarify.batching import (
    ROW_LEVEL,
    BatchSender,
    Dispatcher,
    Item,
    Outcome,
    Rescued,
    Send,
    failure_of,
    record_ids,
)
from destinations.clarify.classify import Classified
from destinations.clarify.dialect import Dialect
from destinations.clarify.duplicates import Duplicates
from destinations.clarify.report import Recorder
from sources.clarify.api import ClarifyApi
from sources.clarify.schema import FieldSpec


class Sending:
    """The send step of one push: pending rows, their senders and the dispatcher that runs them."""

    def __init__(
        self,
        api: ClarifyApi,
        slug: str,
        recorder: Recorder,
        *,
        batch_size: int,
        concurrency: int,
        send_create: Send,
        serial_create: bool,
        unique: FieldSpec | None = None,  # the field creates are matched on, when they are
        dialect: Dialect | None = None,
        relationship: tuple[str, str] | None = None,  # (name, target object)
    ):
        self.api = api
        self.slug = slug
        self.recorder = recorder
        self.relationship = relationship
        self.patch = BatchSender(
            lambda b: record_ids(api.bulk_update(slug, [(str(i.clarify_id), i.attributes) for i in b])),
            batch_size,
            self._gone,
        )
        rescue = Duplicates(api, slug, unique, self.patch.run).rescue if unique is not None else None
        self.create = BatchSender(send_create, batch_size, rescue)
        self.serial_create = serial_create
        self.dialect = dialect
        self.dispatcher = Dispatcher(concurrency, self._record)
        self.pending_create: list[Item] = []
        self.pending_patch: list[Item] = []

    def add(self, rows: Classified) -> None:
        """Queue a chunk's rows and send every full batch."""
        self.pending_create.extend(rows.create)
        self.pending_patch.extend(rows.patch)
        for item in rows.links:
            self._send_links(item)
        self._flush(final=False)

    def finish(self) -> None:
        """Send the partial batches left and wait for every request to be recorded."""
        self._flush(final=True)
        self.dispatcher.drain()

    def close(self, *, failed: bool) -> None:
        self.dispatcher.close(failed=failed)

    @property
    def batch_size(self) -> int:
        return min(self.create.batch_size, self.patch.batch_size)

    def _flush(self, *, final: bool) -> None:
        queues = ((self.create, self.pending_create, True), (self.patch, self.pending_patch, False))
        for sender, pending, create in queues:
            while len(pending) >= sender.batch_size or (final and pending):
                batch = pending[: sender.batch_size]
                del pending[: sender.batch_size]
                self.dispatcher.submit(sender, batch, serial=create and self._serial_create())

    def _serial_create(self) -> bool:
        """Plain creates always go alone; others while the dialect is unknown (one refusal teaches it)."""
        return self.serial_create or (self.dialect is not None and self.dialect.known is None)

    def _gone(self, err: ApiError, batch: list[Item]) -> Rescued | None:
        """The `rescue` of PATCHes: a record matched by its unique value that answers 404 is gone; create the row."""
        if err.status != 404 or len(batch) != 1 or not batch[0].matched:
            return None
        return Rescued(self.create.run([replace(batch[0], clarify_id=None, matched=False)]), [])

    def _record(self, outcomes: list[Outcome]) -> None:
        # The next batch of plain creates is intended in the same commit: a serial create then costs one
        # commit, not two (its intent is found written when it is sent).
        upcoming = self.pending_create[: self.create.batch_size] if self.serial_create else []
        self.recorder.record(outcomes, upcoming)

    def _send_links(self, item: Item) -> None:
        assert self.relationship is not None
        name, target = self.relationship
        try:
            self.api.set_relationship(self.slug, item.key, name, target, item.attributes["targets"])
        except ApiError as err:
            if err.status not in ROW_LEVEL:
                raise
            self.recorder.rejected([(item, failure_of(err))])
            return
        self.recorder.landed([item], [item.key])
