"""Object definitions (the one source of truth for validation, filters and demo data) and `GET /schemas`.

`GET /schemas` answers in one of three shapes, chosen by `EmulatorConfig.schemas_shape`,
because the sources disagree on what the live API sends. A client must accept all of them.

Shape "entities" (the seed's reading) — a bare JSON array at the top level::

    [
      {"$id": "core/name", "title": "name", "type": "object",
       "properties": {"first_name": {"type": "text"}, "last_name": {"type": "text"},
                      "full_name": {"type": "text"}}},
      {"$id": "core/location", ...}, {"$id": "core/collection", ...}, {"$id": "core/rich-text", ...},
      {"$id": "entities/person", "title": "person",
       "attributes": {"type": "object",
                      "properties": {"email_addresses": {"type": "collection",
                                                         "items": {"type": "email"}, "unique": true},
                                     "tier": {"type": "select", "enum": ["Bronze", "Silver", "Gold"]},
                                     "company_id": {"type": "record-id", "target": "company"},
                                     "_updated_at": {"type": "datetime", "readOnly": true}, ...}},
       "relationships": {"companies": {"target": "company", "cardinality": "many"}}},
      {"$id": "entities/c_sales_order", "title": "c_sales_order", ...}
    ]

  `core/*` entries are shared sub-schemas (value shapes), not objects; every `entities/*`
  entry is an object, built-in or custom, and its `title` is the slug used in URLs.

Shape "docs" (the newer guide's reading) — a JSON:API document::

    {"data": [
      {"type": "schema", "id": "core/person",
       "attributes": {"slug": "person", "properties": {...same property objects...}},
       "relationships": {"companies": {"target": "company", "cardinality": "many"}}},
      {"type": "schema", "id": "entities/sales_order",
       "attributes": {"slug": "c_sales_order", "properties": {...}},
       "relationships": {}}
    ]}

  Here `core/<slug>` are the built-in objects and `entities/<name>` the custom ones; the URL
  slug is always `attributes.slug`. There are no sub-schema entries in this shape.

Shape "keyed" (the public reference site's example) — an object keyed by schema id::

    {"data": {
      "core/person": {"properties": {...}, "relationships": {...}},
      "core/name": {"type": "object", "properties": {"first_name": ..., ...}},
      "entities/sales_order": {"properties": {...}, "relationships": {}}
    }}

  Nothing names the URL slug: `core/<slug>` holds the built-in objects and the shared value
  shapes alike (a client tells them apart by whether the slug can be listed), and the custom
  object `c_sales_order` is keyed `entities/sales_order`.

Property objects are identical in both shapes: `{"type": T}` with T one of `text`, `number`,
`currency`, `date` (`YYYY-MM-DD`), `datetime` (ISO-8601 UTC), `select` (+ `enum`),
`multi-select` (+ `enum`), `checkbox`, `collection` (+ `items: {"type": "email"|"domain"|"phone"|"text"}`,
value `{"items": [...]}`), `location` (object of text parts), `record-id` (+ `target: <slug>`),
`rich-text` (value `{"text": [blocks]}`), `name` (a string or `{first_name, last_name, full_name}`);
`"unique": true` marks the upsert key; system fields carry `"readOnly": true`.
Relationship `cardinality` is `"many"` (PATCH replaces the set) or `"append"` (PATCH adds to it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

FieldType = Literal[
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
]
Cardinality = Literal["many", "append"]

SYSTEM_FIELDS = ("_created_at", "_updated_at", "_created_by", "_updated_by")


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: FieldType
    enum: tuple[str, ...] = ()
    items: str | None = None
    target: str | None = None
    unique: bool = False
    read_only: bool = False

    def as_property(self) -> dict[str, object]:
        prop: dict[str, object] = {"type": self.type}
        if self.enum:
            prop["enum"] = list(self.enum)
        if self.items:
            prop["items"] = {"type": self.items}
        if self.target:
            prop["target"] = self.target
        if self.unique:
            prop["unique"] = True
        if self.read_only:
            prop["readOnly"] = True
        return prop


@dataclass(frozen=True)
class RelDef:
    """One side of a stored link; `side` says which column of the link table this object sits in."""

    name: str
    target: str
    link: str
    side: Literal["src", "dst"]
    cardinality: Cardinality


@dataclass(frozen=True)
class ObjectDef:
    slug: str
    id_prefix: str
    fields: dict[str, FieldDef]
    relationships: dict[str, RelDef] = field(default_factory=dict)
    writable: bool = True

    @property
    def custom(self) -> bool:
        return self.slug.startswith("c_")

    @cached_property  # read per written record; the fields never change
    def unique_field(self) -> str | None:
        return next((f.name for f in self.fields.values() if f.unique), None)


def _fields(*defs: FieldDef) -> dict[str, FieldDef]:
    system = (
        FieldDef("_created_at", "datetime", read_only=True),
        FieldDef("_updated_at", "datetime", read_only=True),
        FieldDef("_created_by", "text", read_only=True),
        FieldDef("_updated_by", "text", read_only=True),
    )
    return {f.name: f for f in (*defs, *system)}


TIERS = ("Bronze", "Silver", "Gold")
TAGS = ("customer", "prospect", "partner", "vip", "churned")
INDUSTRIES = ("Software", "Manufacturing", "Retail", "Finance", "Healthcare", "Energy")
STAGES = ("Lead", "Qualified", "Proposal", "Won", "Lost")
TASK_STATUSES = ("Todo", "In progress", "Done")
ORDER_STATUSES = ("Draft", "Confirmed", "Shipped", "Cancelled")
ROLES = ("admin", "member", "viewer")

OBJECTS: dict[str, ObjectDef] = {
    o.slug: o
    for o in (
        ObjectDef(
            "user",
            "usr",
            _fields(
                FieldDef("name", "text"),
                FieldDef("email", "text"),
                FieldDef("role", "select", enum=ROLES),
            ),
            writable=False,
        ),
        ObjectDef(
            "company",
            "com",
            _fields(
                FieldDef("name", "text"),
                FieldDef("domains", "collection", items="domain", unique=True),
                FieldDef("industry", "select", enum=INDUSTRIES),
                FieldDef("employee_count", "number"),
                FieldDef("annual_revenue", "currency"),
                FieldDef("location", "location"),
                FieldDef("founded", "date"),
                FieldDef("parent_company_id", "record-id", target="company"),
            ),
            {"people": RelDef("people", "person", "person_company", "dst", "many")},
        ),
        ObjectDef(
            "person",
            "per",
            _fields(
                FieldDef("name", "name"),
                FieldDef("email_addresses", "collection", items="email", unique=True),
                FieldDef("phone_numbers", "collection", items="phone"),
                FieldDef("title", "text"),
                FieldDef("company_id", "record-id", target="company"),
                FieldDef("location", "location"),
                FieldDef("birthday", "date"),
                FieldDef("lead_score", "number"),
                FieldDef("tier", "select", enum=TIERS),
                FieldDef("is_vip", "checkbox"),
                FieldDef("tags", "multi-select", enum=TAGS),
            ),
            {"companies": RelDef("companies", "company", "person_company", "src", "many")},
        ),
        ObjectDef(
            "deal",
            "dea",
            _fields(
                FieldDef("name", "text", unique=True),
                FieldDef("amount", "currency"),
                FieldDef("stage", "select", enum=STAGES),
                FieldDef("close_date", "date"),
                FieldDef("owner_id", "record-id", target="user"),
            ),
            {
                "companies": RelDef("companies", "company", "deal_company", "src", "many"),
                "people": RelDef("people", "person", "deal_person", "src", "append"),
            },
        ),
        ObjectDef(
            "meeting",
            "mee",
            _fields(
                FieldDef("title", "text"),
                FieldDef("start_time", "datetime"),
                FieldDef("end_time", "datetime"),
                FieldDef("participants", "collection", items="email"),
            ),
            {"people": RelDef("people", "person", "meeting_person", "src", "append")},
        ),
        ObjectDef(
            "meeting_recording",
            "rec",
            _fields(
                FieldDef("meeting_id", "record-id", target="meeting"),
                FieldDef("title", "text"),
                FieldDef("start", "datetime"),
                FieldDef("duration", "number"),
            ),
        ),
        ObjectDef(
            "task",
            "tas",
            _fields(
                FieldDef("title", "text"),
                FieldDef("description", "rich-text"),
                FieldDef("due_date", "date"),
                FieldDef("status", "select", enum=TASK_STATUSES),
                FieldDef("completed", "checkbox"),
                FieldDef("assignee_id", "record-id", target="user"),
            ),
        ),
        ObjectDef(
            "c_sales_order",
            "cso",
            _fields(
                FieldDef("order_number", "text", unique=True),
                FieldDef("amount", "currency"),
                FieldDef("order_date", "date"),
                FieldDef("status", "select", enum=ORDER_STATUSES),
                FieldDef("company_id", "record-id", target="company"),
                FieldDef("notes", "text"),
            ),
        ),
    )
}

# Value shapes referenced by properties; listed only in the "entities" shape.
_SUB_SCHEMAS: list[dict[str, object]] = [
    {
        "$id": "core/name",
        "title": "name",
        "type": "object",
        "properties": {"first_name": {"type": "text"}, "last_name": {"type": "text"}, "full_name": {"type": "text"}},
    },
    {
        "$id": "core/location",
        "title": "location",
        "type": "object",
        "properties": {k: {"type": "text"} for k in ("address", "city", "state", "postal_code", "country")},
    },
    {"$id": "core/collection", "title": "collection", "type": "object", "properties": {"items": {"type": "array"}}},
    {"$id": "core/rich-text", "title": "rich-text", "type": "object", "properties": {"text": {"type": "array"}}},
]


def get_object(slug: str) -> ObjectDef | None:
    return OBJECTS.get(slug)


PropertiesHook = Callable[[str, dict[str, Any]], dict[str, Any]]


def _properties(obj: ObjectDef, hook: PropertiesHook | None) -> dict[str, Any]:
    props: dict[str, Any] = {name: f.as_property() for name, f in obj.fields.items()}
    return hook(obj.slug, props) if hook is not None else props


def _relationships(obj: ObjectDef) -> dict[str, object]:
    return {r.name: {"target": r.target, "cardinality": r.cardinality} for r in obj.relationships.values()}


def render_schemas(shape: str, properties: PropertiesHook | None = None) -> object:
    """The `GET /schemas` body in the configured shape (see the module docstring); `properties(slug, props)`
    lets an answer variant reshape an object's properties (emulator/variants.py)."""
    if shape == "entities":
        return _SUB_SCHEMAS + [
            {
                "$id": f"entities/{o.slug}",
                "title": o.slug,
                "attributes": {"type": "object", "properties": _properties(o, properties)},
                "relationships": _relationships(o),
            }
            for o in OBJECTS.values()
        ]
    if shape == "keyed":
        return {
            "data": {
                **{
                    str(sub["$id"]): {k: v for k, v in sub.items() if k not in ("$id", "title")} for sub in _SUB_SCHEMAS
                },
                **{
                    _docs_id(o): {"properties": _properties(o, properties), "relationships": _relationships(o)}
                    for o in OBJECTS.values()
                },
            }
        }
    return {
        "data": [
            {
                "type": "schema",
                "id": _docs_id(o),
                "attributes": {"slug": o.slug, "properties": _properties(o, properties)},
                "relationships": _relationships(o),
            }
            for o in OBJECTS.values()
        ]
    }


def _docs_id(obj: ObjectDef) -> str:
    """The schema id of the "docs" and "keyed" shapes: `core/<slug>` built in, `entities/<name>` custom."""
    return f"entities/{obj.slug[2:]}" if obj.custom else f"core/{obj.slug}"
