"""Field changes between two runs, from what `GET /schemas` declares (field name → type).

The API's declaration is compared, not the warehouse's columns: it is known before any record is read, so a
frozen contract can stop a run before it writes anything, and a field that disappears is seen even though its
column stays in the warehouse with the values it had.
"""

from __future__ import annotations

from dataclasses import dataclass

from sources.clarify.schema import ObjectSchema


@dataclass(frozen=True)
class FieldChange:
    field: str
    kind: str  # "added", "removed" or "type"
    before: str | None  # the type before (None when added)
    after: str | None  # the type now (None when removed)

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+{self.field} ({self.after})"
        if self.kind == "removed":
            return f"-{self.field} ({self.before})"
        return f"{self.field} {self.before}→{self.after}"


def field_types(schema: ObjectSchema) -> dict[str, str]:
    """What a run remembers of an object's schema."""
    return {name: spec.type for name, spec in sorted(schema.fields.items())}


def diff_fields(before: dict[str, str] | None, after: dict[str, str]) -> list[FieldChange]:
    """Changes from `before` (None: the object was never seen, so nothing to announce) to `after`."""
    if before is None:
        return []
    changes = [FieldChange(n, "added", None, t) for n, t in after.items() if n not in before]
    changes += [FieldChange(n, "removed", t, None) for n, t in before.items() if n not in after]
    changes += [FieldChange(n, "type", before[n], t) for n, t in after.items() if n in before and before[n] != t]
    return sorted(changes, key=lambda c: c.field)


def describe(changes: list[FieldChange]) -> str:
    """One line: `+nickname (text), -fax (text), score text→number`."""
    return ", ".join(str(c) for c in changes)
