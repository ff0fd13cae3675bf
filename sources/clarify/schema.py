"""Discover objects and their fields from `GET /schemas`, in each shape the API is known to send.

Shape "entities" (the seed): a bare array; `entities/<slug>` entries are objects (`title` is the slug, fields
under `attributes.properties`), `core/*` entries are shared value shapes. Shape "docs" (the newer guide): a
JSON:API document whose `data[*].attributes.slug` is the object slug (`core/<slug>` built-in, `entities/<name>`
custom) with fields under `attributes.properties`. Shape "keyed" (the public reference site): `data` is an object
keyed by schema id, each value carrying `properties` and nothing that names the slug. All carry
`relationships: {name: {target, cardinality}}`.

Where only the schema id names an entry (the keyed shape), `core/<built-in>` is that object, and any other entry
with properties is an object when its slug can be listed (`listable`: `core/*` holds value shapes in one source
and built-in objects in another; `entities/<name>` is listed as `<name>` or as the custom slug `c_<name>`).
One parser serves the sync (field types → columns) and the push (`unique: true` marks the upsert key, with
the documented built-in keys as fallback; `readOnly` and system fields are not writable; enums and
collection item types are checked before sending).

Anything the schema does not describe is typed from the values the records carry (`infer_type`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import ApiError, ConfigError
from sources.clarify.settings import BUILTIN_OBJECTS, SYSTEM_TEXT, SYSTEM_TIMESTAMPS

# Field types we map; anything else is kept as text (JSON text for structured values).
KNOWN_TYPES = frozenset(
    {
        "text",
        "number",
        "currency",
        "date",
        "datetime",
        "select",
        "multi-select",
        "checkbox",
        "collection",
        "location",
        "record-id",
        "rich-text",
        "name",
        "json",
    }
)
_JSON_SCHEMA_TYPES = {
    "string": "text",
    "integer": "number",
    "number": "number",
    "boolean": "checkbox",
    "array": "multi-select",
    "object": "json",
    "email": "text",
    "url": "text",
    "phone": "text",
    "timestamp": "datetime",
    "date-time": "datetime",
    "record_id": "record-id",
    "record": "record-id",
    "reference": "record-id",
    "multiselect": "multi-select",
    "multi_select": "multi-select",
    "boolean_checkbox": "checkbox",
    "richtext": "rich-text",
    "rich_text": "rich-text",
}


BUILTIN_UNIQUE = {"person": "email_addresses", "company": "domains", "deal": "name"}
SYSTEM_FIELDS = frozenset(SYSTEM_TIMESTAMPS + SYSTEM_TEXT)
# Relationship name -> target object, used when a schema does not say.
RELATIONSHIP_TARGETS = {
    "people": "person",
    "companies": "company",
    "deals": "deal",
    "meetings": "meeting",
    "tasks": "task",
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    target: str | None = None
    enum: tuple[str, ...] = ()
    items: str | None = None  # collection item type: email, domain, phone, text
    unique: bool = False
    read_only: bool = False


@dataclass
class ObjectSchema:
    slug: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    relationships: dict[str, str] = field(default_factory=dict)  # name -> target slug

    @property
    def unique_field(self) -> str | None:
        """The upsert key (`match_on`): the field marked unique, else the documented built-in key."""
        marked = next((f.name for f in self.fields.values() if f.unique), None)
        if marked:
            return marked
        fallback = BUILTIN_UNIQUE.get(self.slug)
        return fallback if fallback in self.fields or not self.fields else None

    @property
    def writable(self) -> dict[str, FieldSpec]:
        return {n: f for n, f in self.fields.items() if not f.read_only}


def normalize_type(prop: dict[str, Any]) -> str:
    raw = str(prop.get("type") or "text").lower()
    fmt = str(prop.get("format") or "").lower()
    if raw == "string" and fmt in ("date-time", "datetime"):
        return "datetime"
    if raw == "string" and fmt == "date":
        return "date"
    if raw in KNOWN_TYPES:
        return raw
    return _JSON_SCHEMA_TYPES.get(raw, "text")


def _entries(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        for key in ("data", "schemas", "items"):
            if isinstance(body.get(key), list):
                return [e for e in body[key] if isinstance(e, dict)]
            if isinstance(body.get(key), dict):  # keyed by schema id
                return [{**e, "$id": k} for k, e in body[key].items() if isinstance(e, dict)]
        return []
    if isinstance(body, list):
        return [e for e in body if isinstance(e, dict)]
    return []


def _target(spec: Any) -> str | None:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        for key in ("target", "type", "object", "slug"):
            if isinstance(spec.get(key), str):
                return spec[key]
    return None


def _field(name: str, prop: dict[str, Any]) -> FieldSpec:
    items, enum = prop.get("items"), prop.get("enum")
    return FieldSpec(
        name,
        normalize_type(prop),
        _target(prop.get("target")),
        enum=tuple(str(e) for e in enum) if isinstance(enum, list | tuple) else (),
        items=str(items["type"]) if isinstance(items, dict) and items.get("type") else None,
        unique=bool(prop.get("unique")),
        read_only=bool(prop.get("readOnly") or prop.get("read_only")) or name in SYSTEM_FIELDS,
    )


def parse_schemas(body: Any, listable: Callable[[str], bool] | None = None) -> dict[str, ObjectSchema]:
    """Objects by slug, in the order the API lists them. `listable(slug)` (one request, `ClarifyApi.listable`)
    decides entries only a schema id names; without it those are read as in the other shapes."""
    objects: dict[str, ObjectSchema] = {}
    for entry in _entries(body):
        attrs = entry.get("attributes") if isinstance(entry.get("attributes"), dict) else {}
        nested = attrs.get("schema") if isinstance(attrs.get("schema"), dict) else {}
        props = attrs.get("properties") or nested.get("properties") or entry.get("properties") or {}
        if not isinstance(props, dict):
            props = {}
        slug = _object_slug(entry, attrs, bool(props), listable)
        if slug is None:
            continue  # a shared value shape such as core/name
        obj = ObjectSchema(slug)
        for name, prop in props.items():
            obj.fields[name] = _field(name, prop if isinstance(prop, dict) else {"type": prop})
        rels = entry.get("relationships") or attrs.get("relationships") or {}
        if isinstance(rels, dict):
            for name, spec in rels.items():
                obj.relationships[name] = _target(spec) or RELATIONSHIP_TARGETS.get(name, name)
        objects[slug] = obj
    if not objects:
        raise ApiError("GET /schemas listed no objects: check CLARIFY_BASE_URL points at the Clarify API")
    return objects


def _object_slug(
    entry: dict[str, Any], attrs: dict[str, Any], has_props: bool, listable: Callable[[str], bool] | None
) -> str | None:
    """The URL slug of an entry that is an object, None for anything else."""
    prefix, _, tail = str(entry.get("$id") or entry.get("id") or "").rpartition("/")
    named = attrs.get("slug") or entry.get("slug") or entry.get("title")
    slug = named or tail
    if not isinstance(slug, str) or not slug:
        return None
    if slug in BUILTIN_OBJECTS or slug.startswith("c_") or "slug" in attrs:
        return slug
    if named or listable is None:
        return slug if prefix.endswith("entities") else None
    if not has_props:
        return None
    candidates = [tail, f"c_{tail}"] if prefix.endswith("entities") else [tail]
    return next((c for c in candidates if listable(c)), None)


def select_objects(available: dict[str, ObjectSchema], wanted: list[str] | tuple[str, ...] | None) -> list[str]:
    """The objects to sync: all by default; an unknown name is a `ConfigError` naming the known ones."""
    if not wanted:
        return list(available)
    unknown = [o for o in wanted if o not in available]
    if unknown:
        raise ConfigError(f"unknown object(s) {', '.join(unknown)}: available are {', '.join(available)}")
    return list(dict.fromkeys(wanted))


def infer_type(value: Any) -> str | None:
    """A field type for a value the schema did not describe (None: cannot tell yet)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "checkbox"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        if set(value) == {"items"}:
            return "collection"
        if value and set(value) <= {"first_name", "last_name", "full_name"}:
            return "name"
        return "json"
    if isinstance(value, list):
        return "multi-select" if all(isinstance(v, str) for v in value) else "json"
    return "json"
