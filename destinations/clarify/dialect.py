"""Which upsert dialect a workspace's bulk create speaks: found from its answers, remembered in the push's state.

Our three sources disagree (../shared/api/clarify-crm.md, "Writing" and "A third source"): the newer guide
upserts on a top-level `"match_on": "<field>"` beside `data`; the seed says creates upsert on the unique field
by themselves; the reference site says a duplicate unique value fails the whole batch, and neither of those two
knows `match_on` (a validating framework refuses it: 400 `property match_on should not exist`).

So the push sends `match_on` until the workspace refuses it. A 400 or 422 that names `match_on` or an unknown
property, and points at no row, is the API's verdict on the request, not on a row: it is never split and never
a reject. The batch goes again without `match_on`, and the verdict is kept per workspace in
`_clarify_push_dialects` (state.py), so later runs go straight to plain creates: no refused request once the
dialect is known. While it is unknown the first batch of creates goes alone (sending.py), so a run learning it
spends one refused request, not one per batch in flight. Plain creates stay exact either way: rows of known
records are PATCHed by id (match.py), and a create refused as a duplicate is looked up and updated
(duplicates.py); where creates upsert by themselves, they simply do.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from core.errors import ApiError
from destinations.clarify.batching import Item, error_details, flagged_rows, record_ids
from sources.clarify.api import ClarifyApi

MATCH_ON = "match_on"  # bulk creates take `match_on`
PLAIN = "plain"  # they refuse it: plain creates (which upsert by themselves, or fail on a duplicate)
_UNKNOWN_PROPERTY = re.compile(
    r"should not exist|(unknown|unrecognized|unexpected|additional|extra) (top-level )?(propert|field|key|param)"
    r"|not (allowed|permitted)",
    re.I,
)


def refuses_property(err: ApiError, name: str) -> bool:
    """Is `err` a refusal of the request's top-level property `name`, rather than of a row?"""
    if err.status not in (400, 422) or flagged_rows(err, 1 << 30):
        return False
    texts = error_details(err) or [str(err)]
    return any(name in t or _UNKNOWN_PROPERTY.search(t) for t in texts)


@dataclass
class Dialect:
    """What one workspace's bulk create accepts: `known` is MATCH_ON, PLAIN or None (not learnt yet)."""

    known: str | None = None
    learnt: bool = False  # `known` changed in this run: save it
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def learn(self, dialect: str) -> None:
        with self._lock:  # batches in flight on worker threads may answer together
            if self.known != dialect:
                self.known, self.learnt = dialect, True


@dataclass
class UniqueCreates:
    """The `send` of bulk creates of an object with a unique field, in the dialect the workspace speaks."""

    api: ClarifyApi
    slug: str
    unique: str
    dialect: Dialect

    def send(self, batch: list[Item]) -> list[str | None]:
        attributes = [it.attributes for it in batch]
        if self.dialect.known != PLAIN:
            try:
                created = self.api.bulk_create(self.slug, attributes, self.unique)
            except ApiError as err:
                if not refuses_property(err, MATCH_ON):
                    raise
                self.dialect.learn(PLAIN)
            else:
                self.dialect.learn(MATCH_ON)
                return record_ids(created)
        # Safe to resend after a 5xx: creates upsert by themselves, or a resent row is refused as a duplicate
        # and then looked up (duplicates.py).
        return record_ids(self.api.bulk_create(self.slug, attributes, None, idempotent=True))
