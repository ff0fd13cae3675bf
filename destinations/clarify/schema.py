"""What the push needs to know about one Clarify object, read from `GET /schemas`.

The live API answers `GET /schemas` in (at least) two shapes; both are accepted:
- a bare array of `{"$id": "entities/<slug>" | "core/<sub-schema>", "title", "attributes": {"properties"}}`
  where every `entities/*` entry is an object and `core/*` entries are value sub-schemas;
- a JSON:API document `{"data": [{"id": "core/person" | "entities/x", "attributes": {"slug", "properties"}}]}`.
The attribute that carries `"unique": true` is the upsert key (`match_on`); the documented built-in keys
are the fallback when a schema does not mark one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BUILTIN_UNIQUE = {"person": "email_addresses", "company": "domains", "deal": "name"}
BUILTIN_OBJECTS = ("person", "company", "deal", "meeting", "task", "user")
SYSTEM_FIELDS = frozenset({"_created_at", "_updated_at", "_created_by", "_updated_by"})
# Relationship name → target object, used when a schema does not say.
RELATIONSHIP_TARGETS = {
    "people": "person",
    "companies": "company",
    "deals": "deal",
    "meetings": "meeting",
    "tasks": "task",
}


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str
    enum: tuple[str, ...] = ()
    items: str | None = None
    unique: bool = False
    read_only: bool = False


@dataclass(frozen=True)
class ObjectSchema:
    slug: str
    attributes: dict[str, Attribute]
    relationships: dict[str, str] = field(default_factory=dict)  # name → target slug

    @property
    def unique_field(self) -> str | None:
        marked = next((a.name for a in self.attributes.values() if a.unique), None)
        if marked:
            return marked
        fallback = BUILTIN_UNIQUE.get(self.slug)
        return fallback if fallback in self.attributes or not self.attributes else None

    @property
    def writable(self) -> dict[str, Attribute]:
        return {n: a for n, a in self.attributes.items() if not a.read_only and n not in SYSTEM_FIELDS}


def _attribute(name: str, prop: Any) -> Attribute:
    if not isinstance(prop, dict):
        return Attribute(name, "unknown")
    items = prop.get("items")
    enum = prop.get("enum") or ()
    return Attribute(
        name=name,
        type=str(prop.get("type") or "unknown"),
        enum=tuple(str(e) for e in enum) if isinstance(enum, list | tuple) else (),
        items=str(items.get("type")) if isinstance(items, dict) and items.get("type") else None,
        unique=bool(prop.get("unique")),
        read_only=bool(prop.get("readOnly") or prop.get("read_only") or name in SYSTEM_FIELDS),
    )


def _properties(entry: dict[str, Any]) -> dict[str, Any] | None:
    attrs = entry.get("attributes")
    for holder in (attrs, attrs.get("schema") if isinstance(attrs, dict) else None, entry):
        if isinstance(holder, dict) and isinstance(holder.get("properties"), dict):
            return holder["properties"]
    return None


def _relationships(entry: dict[str, Any]) -> dict[str, str]:
    rels = entry.get("relationships")
    out: dict[str, str] = {}
    if isinstance(rels, dict):
        for name, spec in rels.items():
            target = spec.get("target") if isinstance(spec, dict) else None
            out[str(name)] = str(target or RELATIONSHIP_TARGETS.get(str(name), name))
    return out


def parse_schemas(body: Any) -> dict[str, ObjectSchema]:
    """All objects in a `GET /schemas` body, by URL slug."""
    entries = body.get("data") if isinstance(body, dict) else body
    if not isinstance(entries, list):
        return {}
    jsonapi = isinstance(body, dict)
    objects: dict[str, ObjectSchema] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        key = str(entry.get("$id") or entry.get("id") or entry.get("key") or "")
        attrs = entry.get("attributes") if isinstance(entry.get("attributes"), dict) else {}
        slug = attrs.get("slug") or (entry.get("title") if not jsonapi else None) or key.rsplit("/", 1)[-1]
        if not jsonapi and key.startswith("core/") and slug not in BUILTIN_OBJECTS:
            continue  # a value sub-schema (core/name, core/collection, ...), not an object
        props = _properties(entry)
        if props is None:
            continue
        objects[str(slug)] = ObjectSchema(
            slug=str(slug),
            attributes={str(n): _attribute(str(n), p) for n, p in props.items()},
            relationships=_relationships(entry),
        )
    return objects
