"""Exactly once for plain creates (objects without a unique field to upsert on: task, meeting).

A bulk create of such an object cannot be resent blindly: if the server committed it and the answer was
lost (a crash, a timeout, a dropped or truncated answer, a 5xx after the commit), a resend creates every
row twice. So each batch is preceded by an *intent* (state.py's `_clarify_push_intents`: the rows' keys,
fingerprints and payloads, and the time), committed before the request leaves, and deleted in the same
transaction that records the created ids. When the outcome is unknown, the server is asked what it did
before anything is sent again: the object's records created since the intent (`filter[_created_at][Is on
or after]`) are matched to the in-flight rows by their pushed values, ids the state table already holds
for other rows excluded. The listing starts `LOOKBACK` seconds before the intent (the server's clock may
lag ours) or, within a run, at the latest `_created_at` the server returned for this run's creates, so it
lists little more than the batch in question. Rows found are adopted (their ids recorded as if the
answer had come), only the rest are sent again. Within a run that happens up to `ATTEMPTS` times per
batch; intents a crashed run left behind are resolved the same way before the next run's diff (`recover`).

The match compares the attributes the push sent, normalised (case, whitespace, number and timestamp
forms). It can be fooled only by a record with the very same values created by someone else inside the
window; it then adopts that record instead of creating a twin, which for an object without a unique field
is the lesser harm. The no-fault cost is one small commit (the intent) per batch of creates.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
import pendulum

from core.errors import ApiError, ApiUnreachableError
from destinations.clarify.batching import Item, record_ids
from destinations.clarify.report import PushReport
from destinations.clarify.state import Landed, PushState
from sources.clarify.api import ClarifyApi

LOOKBACK = 300.0  # seconds: how far before the intent the lookup starts (clock skew between us and the server)
ATTEMPTS = 3  # sends of one batch's rows whose outcome stays unknown before the run gives up
PAGE = 500


def unknown_outcome(err: BaseException) -> bool:
    """Could the server have acted on the request? (A refusal such as 4xx is atomic: nothing was created.)"""
    if isinstance(err, ApiUnreachableError):
        return True
    return isinstance(err, ApiError) and (err.status is None or err.status >= 500)


@dataclass
class CreateOnce:
    """The `send` of plain creates: intent first; an unknown outcome is looked up before anything is resent."""

    api: ClarifyApi
    state: PushState
    slug: str
    report: PushReport
    adopted: dict[str, str] = field(default_factory=dict)  # key → id of a record found, not from an answer
    # Ids answered in this run: a split batch's landed part is not in the state table yet, and must never be
    # taken for another row with the same values.
    answered: set[str] = field(default_factory=set)
    # The latest `_created_at` of the records this run created, in the server's clock: nothing created after
    # it can be older, so a lookup within a run starts there and lists little more than the latest batch.
    floor: str | None = None

    def send(self, batch: list[Item]) -> list[str | None]:
        rest = [it for it in batch if it.key not in self.adopted]  # a split batch's adopted rows cost nothing
        ids: dict[str, str | None] = {}
        since = self.state.intend(rest) if rest else None
        for attempt in range(1, ATTEMPTS + 1):
            if not rest:
                break
            try:
                created = self.api.bulk_create(self.slug, [it.attributes for it in rest], None)
            except (ApiError, ApiUnreachableError) as err:
                if not unknown_outcome(err):
                    self.state.forget_intents([it.key for it in rest])
                    raise
                if attempt == ATTEMPTS:
                    raise  # the intents stay: the next run resolves them before its diff
                assert since is not None
                self.adopted.update(self.lookup(rest, since))
                rest = [it for it in rest if it.key not in self.adopted]
                continue
            answered = record_ids(created)
            ids.update(zip((it.key for it in rest), answered, strict=False))
            self.answered.update(i for i in answered if i)
            self._raise_floor(created)
            rest = []
        return [self.adopted.get(it.key) or ids.get(it.key) for it in batch]

    def recover(self) -> None:
        """Resolve the intents a crashed run left: adopt the records that exist, forget the rest (they are
        still new in the diff and are sent by this run)."""
        intents = self.state.intents()
        if not intents:
            return
        items = [i.item for i in intents]
        found = self.lookup(items, min(i.sent_at for i in intents))
        landed = Landed()
        adopted = [it for it in items if it.key in found]
        landed.add(adopted, [found[it.key] for it in adopted])
        self.state.record(landed, [])
        self.state.forget_intents([it.key for it in items if it.key not in found])

    def lookup(self, items: list[Item], since: dt.datetime) -> dict[str, str]:
        """key → id of the records created since `since` (less `LOOKBACK`) that carry the rows' pushed values."""
        start = since - dt.timedelta(seconds=LOOKBACK)
        records = self._created_since(self.floor or _stamp(start))
        taken = self.state.known_ids([str(r.get("id")) for r in records]) | set(self.adopted.values()) | self.answered
        fields = sorted({name for it in items for name in it.attributes})
        pool: dict[bytes, list[str]] = defaultdict(list)
        for record in records:
            rid = str(record.get("id"))
            if rid not in taken:
                pool[_signature(record.get("attributes") or {}, fields)].append(rid)
        found: dict[str, str] = {}
        for it in items:
            ids = pool.get(_signature(it.attributes, fields))
            if ids:
                found[it.key] = ids.pop(0)
        self.report.adopted += len(found)
        self._raise_floor(records)
        return found

    def _raise_floor(self, records: list[dict[str, Any]]) -> None:
        stamps = [str(c) for r in records if (c := (r.get("attributes") or {}).get("_created_at"))]
        if stamps:
            self.floor = max([*stamps, self.floor or ""])

    def _created_since(self, stamp: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "filter[_created_at][Is on or after]": stamp,
            "sortOrder[column]": "_created_at",
            "sortOrder[dir]": "ASC",
            "page[limit]": PAGE,
        }
        records: list[dict[str, Any]] = []
        while True:
            page = {**params, "page[offset]": len(records)}
            body = self.api.list_page(self.slug, page)  # may lower page[limit] to what the API accepts
            data = [r for r in body.get("data") or [] if isinstance(r, dict)]
            records.extend(data)
            asked = int(page["page[limit]"])
            limit = min(asked, int((body.get("meta") or {}).get("limit") or asked))
            if len(data) < limit:
                return records


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _signature(attributes: dict[str, Any], fields: list[str]) -> bytes:
    return orjson.dumps([_norm(attributes.get(name)) for name in fields])


def _norm(value: Any) -> Any:
    """A value as the comparison sees it: what the server may have reformatted compares equal."""
    if isinstance(value, dict):
        if set(value) == {"items"}:
            return _norm(value["items"])
        return sorted((str(k), _norm(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list | tuple):
        return sorted((_norm(v) for v in value), key=orjson.dumps)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return float(value)
    text = str(value).strip()
    if len(text) >= 20 and text[4:5] == "-" and text[10:11] == "T":  # a timestamp: compare the instant
        try:
            return pendulum.parse(text).in_timezone("UTC").isoformat()  # type: ignore[union-attr]
        except Exception:
            return text.casefold()
    return text.casefold()
