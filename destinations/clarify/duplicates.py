"""A create refused because its unique value is taken: look the holder up and update it instead.

Where creates do not upsert (the reference site: a duplicate fails the whole batch with 400, or 422
"Duplicate record found for email: x@y"; the newer guide without `match_on`: 400 naming the field), a row whose
record exists but is not in the synced copy (created since the last sync, or by this push's own lost answer)
is refused. That is not the row's fault, so it never becomes a reject: the rows the refusal names (by a
`/data/<i>` pointer, or by a unique value quoted in its text; a lone row is named by being alone) are looked up,
one request per value (`ClarifyApi.find`: `filter[<field>][Contains]=<value>` for a collection, else
`filter[<field>]=<value>`), PATCHed by the id found, and the rest of the batch is sent again. A refusal that
names no row is split like any other (batching.py) until the row stands alone.

A refusal names one row at a time where the API quotes only the first duplicate, and a batch resent after a lost
answer is all duplicates: three requests a row. So when rows already refused once are refused again, every row of
the batch is looked up at once: a lost batch of 100 then costs about 105 requests, not 300, and a lone duplicate
among new rows still costs three. The lookups of one refusal run `LOOKUPS` at a time (each is a small GET).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from core.errors import ApiError
from destinations.clarify.batching import Item, Outcome, Rescued, error_details, flagged_rows
from destinations.clarify.match import unique_values
from sources.clarify.api import ClarifyApi
from sources.clarify.schema import FieldSpec

LOOKUPS = 4  # lookups of one refusal in flight at once
_DUPLICATE = re.compile(
    r"duplicate|already (exists|belongs|taken|in use|used)|(must be|not) unique|unique (constraint|value)", re.I
)


def is_duplicate(err: ApiError) -> bool:
    return err.status in (400, 409, 422) and bool(_DUPLICATE.search(_text(err)))


def _text(err: ApiError) -> str:
    return " ".join([*error_details(err), str(err)])


def _quoted(value: str, text: str) -> bool:
    """Does `text` (lowercased) name `value` as a whole, not as part of a longer email or name?"""
    return re.search(rf"(?<![\w.+-]){re.escape(value.lower())}(?![\w-]|\.\w)", text) is not None


class Duplicates:
    """The `rescue` of bulk creates of an object with a unique field (batching.BatchSender)."""

    def __init__(self, api: ClarifyApi, slug: str, field: FieldSpec, patch: Callable[[list[Item]], Outcome]):
        self.api = api
        self.slug = slug
        self.field = field
        self.patch = patch
        self._refused: set[str] = set()  # keys of rows in a batch refused as a duplicate
        self._lock = threading.Lock()  # batches run on worker threads

    def rescue(self, err: ApiError, batch: list[Item]) -> Rescued | None:
        if not is_duplicate(err):
            return None
        with self._lock:
            again = any(it.key in self._refused for it in batch)
            self._refused.update(it.key for it in batch)
        suspects = batch if again else self._named(err, batch)
        with ThreadPoolExecutor(min(LOOKUPS, max(1, len(suspects))), "clarify-lookup") as pool:
            holders = list(pool.map(self._holder, suspects))
        pairs = zip(suspects, holders, strict=True)
        found = [replace(it, clarify_id=rid, matched=False) for it, rid in pairs if rid is not None]
        if not found:
            return None  # split as usual; alone, the row is rejected with the API's reason
        keys = {it.key for it in found}
        return Rescued(self.patch(found), [it for it in batch if it.key not in keys])

    def _values(self, item: Item) -> list[str]:
        return unique_values(self.field, item.attributes.get(self.field.name))

    def _named(self, err: ApiError, batch: list[Item]) -> list[Item]:
        if len(batch) == 1:
            return batch
        pointed = flagged_rows(err, len(batch))
        text = _text(err).lower()
        return [it for i, it in enumerate(batch) if i in pointed or any(_quoted(v, text) for v in self._values(it))]

    def _holder(self, item: Item) -> str | None:
        """The id of the record holding one of the row's unique values (the filter may match more: check)."""
        collection = self.field.type == "collection"
        for value in self._values(item):
            for record in self.api.find(self.slug, self.field.name, value, collection=collection):
                held = unique_values(self.field, (record.get("attributes") or {}).get(self.field.name))
                if value in held and record.get("id") is not None:
                    return str(record["id"])
        return None
