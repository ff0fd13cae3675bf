"""Classify changed rows: convert each to the API's shape and sort it into create, patch, link or invalid.

Rows arrive a chunk at a time, column-wise, from the diff (`__key`, `__fp`, `__clarify_id`, `__new` and, for a
relationship, `__targets`, beside the source columns). A row without a key, a second row with the same key, or
a value that cannot be converted is invalid: rejected locally, with the reason, before any request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from destinations.clarify.batching import Item
from destinations.clarify.convert import convert_columns, match_identity
from destinations.clarify.plan import KEY_COLUMN, Plan

Invalid = Callable[[str, Any, str | None, str], None]  # (key, payload, pointer, detail)


@dataclass
class Classified:
    """One chunk's rows that are to be sent, by the request that sends them; `new` says which rows are new."""

    create: list[Item] = field(default_factory=list)
    patch: list[Item] = field(default_factory=list)
    links: list[Item] = field(default_factory=list)
    new: dict[str, bool] = field(default_factory=dict)


class Classifier:
    """Sorts the rows of each chunk; remembers the keys seen so far to refuse duplicates across chunks."""

    def __init__(self, slug: str, plan: Plan, relationship: bool, invalid: Invalid):
        self.slug = slug
        self.plan = plan
        self.relationship = relationship
        self.invalid = invalid
        self.seen: set[str] = set()
        self.live: set[str] = set()  # the reject keys of every row seen: rejects of other rows are gone

    def chunk(self, size: int, data: dict[str, list[Any]]) -> Classified:
        out = Classified()
        if self.relationship:
            converted: list[dict[str, Any]] = []
            errors: dict[int, list[tuple[str, str]]] = {}
        else:
            converted, errors = convert_columns(data, self.plan.columns, size)
        for i in range(size):
            key = self._key(data, i)
            if key is None:
                continue
            identity = self._identity(key, data, i)
            self.live.add(identity)
            if self.relationship:
                item = Item(key, data["__fp"][i], {"targets": data["__targets"][i].split("\x1f")}, key, identity)
                out.links.append(item)
            else:
                item = self._record(key, identity, data, i, converted[i], errors.get(i), out)
                if item is None:
                    continue
            out.new[key] = bool(data["__new"][i])
        return out

    def _key(self, data: dict[str, list[Any]], i: int) -> str | None:
        """The row's key, or None after rejecting a row without one or with one seen before."""
        key, fp = data["__key"][i], data["__fp"][i]
        if key is None:
            what = self.plan.match_on or self.plan.key_column
            detail = f"no value for {what!r}: every row needs one to be matched"
            self.invalid(f"#null:{fp}", _plain(data, i), f"/data/attributes/{what}", detail)
            return None
        if key in self.seen:
            self.invalid(f"#dup:{key}", _plain(data, i), None, f"duplicate key {key!r} in the source rows: keep one")
            return None
        self.seen.add(key)
        return str(key)

    def _identity(self, key: str, data: dict[str, list[Any]], i: int) -> str:
        """The row's key as the API compares it: the rejects table keeps rows under it."""
        column = self.plan.key_column
        if self.plan.match_on is None or column == KEY_COLUMN:
            return key.strip()
        return match_identity(self.plan.columns[column], data[column][i])

    def _record(
        self,
        key: str,
        identity: str,
        data: dict[str, list[Any]],
        i: int,
        attributes: dict[str, Any],
        errors: list[tuple[str, str]] | None,
        out: Classified,
    ) -> Item | None:
        plan = self.plan
        if not errors and plan.match_on and attributes.get(plan.match_on) in (None, {"items": []}, ""):
            detail = f"no value for {plan.match_on!r}, which {self.slug} upserts on"
            errors = [(f"/data/attributes/{plan.match_on}", detail)]
        if errors:
            self.invalid(identity, _plain(data, i), errors[0][0], "; ".join(d for _, d in errors))
            return None
        fp, known_id = data["__fp"][i], data["__clarify_id"][i]
        if plan.id_column:
            item = Item(key, fp, attributes, str(data[plan.id_column][i]), identity)
            out.patch.append(item)
        elif known_id:  # landed by an earlier push: update that record (a unique object's, if gone, is created)
            item = Item(key, fp, attributes, known_id, identity, matched=plan.unique)
            out.patch.append(item)
        else:
            item = Item(key, fp, attributes, known_id, identity)
            out.create.append(item)
        return item


def _plain(data: dict[str, list[Any]], i: int) -> dict[str, Any]:
    """Row `i` of a column-wise chunk, without the diff's own `__` columns."""
    return {k: v[i] for k, v in data.items() if not k.startswith("__")}
