"""Answer variants the live API may send and our notes cannot rule out, each behind an `EmulatorConfig` switch.

- `bare_objects`: records of these objects carry no system fields (`_created_at`, `_updated_at`, ...), as an
  independent stand-in served `GET /users`; their listing ignores filters and sorting on those fields.
- `links`: `full` (prev/next URLs), `null` (both keys, always null) or `absent` (no `links` key).
- `meta`: False leaves `meta` out of list answers.
- `ignore_page_limit`: `page[limit]` is ignored and every page holds the server default of 25.
- `over_page_cap`: a `page[limit]` above `page_cap` is refused with a 400 naming the cap (`refuse`, the newer
  guide's live API; under the `nest_error_shape` fault in class-validator's words, `page.limit must not be
  greater than 100`, as an independent server answers), refused naming no size (`refuse-unnamed`), or served at
  the cap with `meta.limit` saying so (`clamp`).
- `uuid_ids`: record ids (and relationship targets) are served as UUIDs. A read-side rewrite: writes still
  address records by their stored ids, so keep it off for push tests.
- `unknown_field_types`: `GET /schemas` describes some fields with types no client knows.
- `recording_meeting`: a recording names its meeting by its `meeting_id` attribute (`attribute`), or by a to-one
  relationship `meeting` (`{"data": {"type": "meeting", "id": ...}}`, declared in `GET /schemas`) instead.
"""

from __future__ import annotations

import uuid
from typing import Any

from emulator.config import EmulatorConfig
from emulator.errors import ApiError
from emulator.schemas import SYSTEM_FIELDS

IGNORED_LIMIT_PAGE = 25
_UUID_NAMESPACE = uuid.UUID("5f0c6a57-3c43-4a5e-9b8e-0d6b7f3f1c2a")
# Field name -> a type name from outside the documented set (the values stay as they are).
UNKNOWN_TYPES = {"tier": "status", "lead_score": "formula", "industry": "ai-classification", "stage": "pipeline-stage"}


def uuid_for(record_id: str) -> str:
    """The UUID a record id is served as under `uuid_ids` (deterministic, so tests can predict it)."""
    return str(uuid.uuid5(_UUID_NAMESPACE, record_id))


RECORDING = "meeting_recording"
MEETING_LINK = "meeting_id"


def _meeting_relationship(config: EmulatorConfig, slug: str) -> bool:
    return slug == RECORDING and config.recording_meeting == "relationship"


def rewrites_records(config: EmulatorConfig, slug: str) -> bool:
    """Whether records must be parsed (not embedded raw) to apply a variant."""
    return config.uuid_ids or slug in config.bare_objects or _meeting_relationship(config, slug)


def listing_query(config: EmulatorConfig, slug: str, query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The query parameters the server acts on: a bare object's server knows no system fields to filter or sort."""
    if slug not in config.bare_objects:
        return query
    return [
        (key, value)
        for key, value in query
        if not any(f"[{name}]" in key for name in SYSTEM_FIELDS)
        and not (key.startswith("sortOrder") and value in SYSTEM_FIELDS)
    ]


def page_limit(config: EmulatorConfig, asked: int, *, nest: bool = False) -> int:
    """The page size served for `page[limit]=asked`, or the 400 refusing it (`over_page_cap`)."""
    cap = config.page_cap
    if asked < 1:
        raise ApiError(400, f"page[limit] must be between 1 and {cap}, not {asked}")
    if asked > cap and config.over_page_cap != "clamp":
        if config.over_page_cap == "refuse-unnamed":
            raise ApiError(400, "page[limit] is too large")
        raise ApiError(
            400,
            f"page.limit must not be greater than {cap}"
            if nest
            else f"page[limit] must be between 1 and {cap}, not {asked}",
        )
    return IGNORED_LIMIT_PAGE if config.ignore_page_limit else min(asked, cap)


def shape_records(config: EmulatorConfig, slug: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as this variant serves them (parsed records only: see `rewrites_records`)."""
    if slug in config.bare_objects:
        for record in records:
            attrs = record["attributes"]
            for name in SYSTEM_FIELDS:
                attrs.pop(name, None)
    if config.uuid_ids:
        for record in records:
            record["id"] = uuid_for(record["id"])
            for rel in (record.get("relationships") or {}).values():
                for ref in rel["data"]:
                    ref["id"] = uuid_for(ref["id"])
    if _meeting_relationship(config, slug):
        for record in records:
            meeting = record["attributes"].pop(MEETING_LINK, None)
            if meeting is not None and config.uuid_ids:
                meeting = uuid_for(meeting)
            link = None if meeting is None else {"type": "meeting", "id": meeting}
            record.setdefault("relationships", {})["meeting"] = {"data": link}
    return records


def shape_body(config: EmulatorConfig, body: dict[str, Any]) -> dict[str, Any]:
    """`meta` and `links` of a list answer as this variant sends them."""
    if not config.meta:
        body.pop("meta", None)
    if config.links == "absent":
        body.pop("links", None)
    elif config.links == "null":
        body["links"] = {"prev": None, "next": None}
    return body


def shape_properties(config: EmulatorConfig, slug: str, props: dict[str, Any]) -> dict[str, Any]:
    """An object's schema properties as this variant describes them."""
    if slug in config.bare_objects:
        props = {name: prop for name, prop in props.items() if name not in SYSTEM_FIELDS}
    if _meeting_relationship(config, slug):
        props = {name: prop for name, prop in props.items() if name != MEETING_LINK}
    if config.unknown_field_types:
        props = {
            name: {**prop, "type": UNKNOWN_TYPES[name]} if name in UNKNOWN_TYPES else prop
            for name, prop in props.items()
        }
    return props


def shape_schemas(config: EmulatorConfig, body: Any) -> Any:
    """`GET /schemas` as this variant describes relationships: under `recording_meeting = "relationship"` the
    recording's schema declares its to-one `meeting`, whichever shape the body has (an array of entries, a
    `data` array, or entries keyed by schema id)."""
    if config.recording_meeting != "relationship":
        return body
    entries = body.get("data", body) if isinstance(body, dict) else body
    for key, entry in entries.items() if isinstance(entries, dict) else enumerate(entries):
        attrs = entry.get("attributes") if isinstance(entry.get("attributes"), dict) else {}
        ids = (key, entry.get("$id"), entry.get("id"))
        names = {entry.get("title"), attrs.get("slug"), *(str(i).rpartition("/")[2] for i in ids if i)}
        if RECORDING in names:
            entry.setdefault("relationships", {})["meeting"] = {"target": "meeting", "cardinality": "one"}
    return body
