"""Query-string filters and sort order → SQL over the `records` table (alias `r0`, `r1`, ... per hop).

Semantics chosen where the docs are silent (a client relying on anything else is fragile anyway):
- text `Is`/`Is not` are exact; `Contains`/`Starts with`/`Ends with` ignore ASCII case;
- negative operators (`Is not`, `Does not contain`, `Not one of`) also match empty values;
- a plain `filter[f]=v` means `Is`, or `Contains` for types without `Is` (multi-select,
  collection, location, rich text); the shorthands `>v >=v <v <=v !=v *v* v* *v a,b null !null`
  map to the type's operator, and a shorthand the type does not support is a 400;
  `a,b` means `One of` only on selects (elsewhere a comma is literal);
- a date-only value on a timestamp field means that whole UTC day (`Is 2026-01-01` = that day).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from emulator.errors import ApiError
from emulator.schemas import OBJECTS, FieldDef, ObjectDef
from emulator.timefmt import is_date, normalize_ts

MAX_HOPS = 3

_EMPTY = ("Is empty", "Is not empty")
OPERATORS: dict[str, tuple[str, ...]] = {
    "text": ("Is", "Is not", "Contains", "Does not contain", "Starts with", "Ends with", *_EMPTY),
    "number": ("Is", "Is not", "Greater than", "Greater than or equal", "Less than", "Less than or equal", *_EMPTY),
    "date": ("Is", "Is not", "Is before", "Is on or before", "Is after", "Is on or after", *_EMPTY),
    "select": ("Is", "Is not", "One of", "Not one of", *_EMPTY),
    "multi-select": ("Contains", "Does not contain", *_EMPTY),
    "checkbox": ("Is", "Is not", "Is set", "Is not set"),
    "location": ("Contains", "Does not contain"),
    "record-id": ("Is", "Is not", *_EMPTY),
    "collection": ("Contains", "Does not contain", *_EMPTY),
    "rich-text": ("Contains", "Does not contain", *_EMPTY),
}
# Field types that share another type's operator table.
_FAMILY = {"name": "text", "currency": "number", "datetime": "date"}
UNSORTABLE = frozenset({"multi-select", "collection", "location", "rich-text"})

# Shorthand prefix → (operator for numbers, operator for dates); longest prefixes first.
_COMPARE_SHORTHANDS = (
    (">=", "Greater than or equal", "Is on or after"),
    ("<=", "Less than or equal", "Is on or before"),
    (">", "Greater than", "Is after"),
    ("<", "Less than", "Is before"),
)


@dataclass(frozen=True)
class Floor:
    """`_updated_at` lower bound of a query that has no other condition: the incremental sync's query."""

    ts: str
    inclusive: bool


@dataclass
class Where:
    sql: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)
    floor: Floor | None = None

    def add(self, sql: str, params: list[object]) -> None:
        self.sql.append(sql)
        self.params.extend(params)

    def render(self) -> str:
        return " AND ".join(self.sql) if self.sql else "1"


def family(f: FieldDef) -> str:
    return _FAMILY.get(f.type, f.type)


def field_def(obj: ObjectDef, name: str) -> FieldDef | None:
    if name == "id":
        return FieldDef("id", "record-id", target=obj.slug)
    return obj.fields.get(name)


def field_expr(f: FieldDef, alias: str) -> str:
    """SQL for a field's scalar value; system timestamps and ids are real (indexed) columns."""
    if f.name == "id":
        return f"{alias}.id"
    if f.name in ("_updated_at", "_created_at"):
        return f"{alias}.{f.name[1:]}"
    if f.type == "name":
        # Person name is a string or an object; compare on its full form either way.
        return f"COALESCE(json_extract({alias}.attrs, '$.name.full_name'), json_extract({alias}.attrs, '$.name'))"
    return f"json_extract({alias}.attrs, '$.{f.name}')"


def _like(value: str, start: bool, end: bool) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return ("%" if start else "") + escaped + ("%" if end else "")


def _shorthand(f: FieldDef, raw: str) -> tuple[str, str]:
    """Map a plain `filter[f]=raw` to (operator, value)."""
    fam = family(f)
    if raw == "null":
        return "Is empty", ""
    if raw == "!null":
        return "Is not empty", ""
    if raw.startswith("!="):
        return "Is not", raw[2:]
    for prefix, number_op, date_op in _COMPARE_SHORTHANDS:
        if raw.startswith(prefix):
            return (date_op if fam == "date" else number_op), raw[len(prefix) :]
    if len(raw) >= 2 and raw.startswith("*") and raw.endswith("*"):
        return "Contains", raw[1:-1]
    if len(raw) >= 2 and raw.endswith("*"):
        return "Starts with", raw[:-1]
    if len(raw) >= 2 and raw.startswith("*"):
        return "Ends with", raw[1:]
    if fam == "select" and "," in raw:
        return "One of", raw
    return ("Is" if "Is" in OPERATORS[fam] else "Contains"), raw


def _empty_sql(f: FieldDef, alias: str) -> str:
    if f.type == "multi-select":
        return f"COALESCE(json_array_length({alias}.attrs, '$.{f.name}'), 0) = 0"
    if f.type == "collection":
        return f"COALESCE(json_array_length({alias}.attrs, '$.{f.name}.items'), 0) = 0"
    expr = field_expr(f, alias)
    return f"COALESCE({expr}, '') = ''" if family(f) == "text" else f"{expr} IS NULL"


def _number(value: str, key: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ApiError(400, f"{key}: {value!r} is not a number") from None


def _compare(f: FieldDef, op: str, value: str, alias: str, key: str) -> tuple[str, list[object]]:
    """The condition for one operator on one field of the record at `alias`."""
    if op == "Is empty":
        return _empty_sql(f, alias), []
    if op == "Is not empty":
        return f"NOT ({_empty_sql(f, alias)})", []
    fam = family(f)
    x = field_expr(f, alias)
    if fam == "text" or fam == "record-id":
        return _text_like(x, op, value)
    if fam == "number":
        n = _number(value, key)
        sym = {
            "Is": "=",
            "Greater than": ">",
            "Greater than or equal": ">=",
            "Less than": "<",
            "Less than or equal": "<=",
        }
        return (f"{x} IS NOT ?", [n]) if op == "Is not" else (f"{x} {sym[op]} ?", [n])
    if fam == "date":
        return _date_compare(f, x, op, value, key)
    if fam == "select":
        values = value.split(",") if op in ("One of", "Not one of") else [value]
        marks = ", ".join("?" * len(values))
        if op in ("Is", "One of"):
            return f"{x} IN ({marks})", list(values)
        return f"({x} IS NULL OR {x} NOT IN ({marks}))", list(values)
    if fam == "checkbox":
        if op in ("Is set", "Is not set"):
            want = op == "Is set"
        elif value in ("true", "false"):
            want = (value == "true") == (op == "Is")
        else:
            raise ApiError(400, f"{key}: checkbox values are true or false, not {value!r}")
        return (f"{x} = 1", []) if want else (f"COALESCE({x}, 0) = 0", [])
    # Containment families: multi-select (exact member), collection (item substring),
    # location (part substring), rich text (anywhere in the JSON text).
    if fam == "multi-select":
        sql, params = f"EXISTS (SELECT 1 FROM json_each({alias}.attrs, '$.{f.name}') WHERE value = ?)", [value]
    elif fam in ("collection", "location"):
        path = f"$.{f.name}.items" if fam == "collection" else f"$.{f.name}"
        sql = f"EXISTS (SELECT 1 FROM json_each({alias}.attrs, '{path}') WHERE value LIKE ? ESCAPE '\\')"
        params = [_like(value, True, True)]
    else:
        sql, params = f"{x} LIKE ? ESCAPE '\\'", [_like(value, True, True)]
    return (sql, params) if op == "Contains" else (f"NOT ({sql})", params)


def _text_like(x: str, op: str, value: str) -> tuple[str, list[object]]:
    if op == "Is":
        return f"{x} = ?", [value]
    if op == "Is not":
        return f"{x} IS NOT ?", [value]
    start, end = {
        "Contains": (True, True),
        "Does not contain": (True, True),
        "Starts with": (False, True),
        "Ends with": (True, False),
    }[op]
    sql = f"{x} LIKE ? ESCAPE '\\'"
    params: list[object] = [_like(value, start, end)]
    return (f"({x} IS NULL OR NOT ({sql}))", params) if op == "Does not contain" else (sql, params)


def _date_compare(f: FieldDef, x: str, op: str, value: str, key: str) -> tuple[str, list[object]]:
    if f.type == "date" or is_date(value):
        if not is_date(value):
            raise ApiError(400, f"{key}: {value!r} is not a date YYYY-MM-DD")
        lo, hi = value, (date.fromisoformat(value) + timedelta(days=1)).isoformat()
        if f.type == "datetime":
            lo, hi = lo + "T00:00:00.000Z", hi + "T00:00:00.000Z"
    else:
        try:
            lo = hi = normalize_ts(value)
        except ValueError:
            raise ApiError(400, f"{key}: {value!r} is not an ISO-8601 timestamp") from None
    exact = lo == hi or f.type == "date"
    if exact:
        sym = {"Is": "=", "Is before": "<", "Is on or before": "<=", "Is after": ">", "Is on or after": ">="}
        return (f"{x} IS NOT ?", [lo]) if op == "Is not" else (f"{x} {sym[op]} ?", [lo])
    day = {
        "Is": (f"({x} >= ? AND {x} < ?)", [lo, hi]),
        "Is not": (f"({x} IS NULL OR {x} < ? OR {x} >= ?)", [lo, hi]),
        "Is before": (f"{x} < ?", [lo]),
        "Is on or before": (f"{x} < ?", [hi]),
        "Is after": (f"{x} >= ?", [hi]),
        "Is on or after": (f"{x} >= ?", [lo]),
    }
    return day[op]


def _resolve_path(obj: ObjectDef, path: str, key: str) -> tuple[list[FieldDef], FieldDef]:
    """Split `company_id.name` into the record-id hops and the final field."""
    parts = path.split(".")
    if len(parts) > 1 and parts[0] == obj.slug and parts[0] not in obj.fields:
        parts = parts[1:]
    if len(parts) - 1 > MAX_HOPS:
        raise ApiError(400, f"{key}: filters reach at most {MAX_HOPS} related records deep")
    hops: list[FieldDef] = []
    current = obj
    for part in parts[:-1]:
        f = field_def(current, part)
        if f is None or f.type != "record-id" or f.name == "id":
            raise ApiError(400, f"{key}: {part!r} is not a record-id field of {current.slug}")
        assert f.target is not None
        hops.append(f)
        current = OBJECTS[f.target]
    final = field_def(current, parts[-1])
    if final is None:
        raise ApiError(400, f"{key}: unknown field {parts[-1]!r} on {current.slug}")
    return hops, final


def _floor(path: str, op: str, value: str) -> Floor | None:
    if path != "_updated_at" or op not in ("Is after", "Is on or after") or is_date(value):
        return None
    return Floor(normalize_ts(value), op == "Is on or after")


def condition(obj: ObjectDef, path: str, op: str | None, raw: str) -> tuple[str, list[object], Floor | None]:
    """SQL for one `filter[path][op]=raw` parameter on records of `obj` (alias `r0`)."""
    key = f"filter[{path}]" + (f"[{op}]" if op else "")
    hops, final = _resolve_path(obj, path, key)
    if op is None:
        op, value = _shorthand(final, raw)
    else:
        value = raw
    allowed = OPERATORS[family(final)]
    if op not in allowed:
        raise ApiError(
            400, f"{key}: operator {op!r} is not supported for {final.type} fields; use one of {list(allowed)}"
        )
    sql, params = _compare(final, op, value, f"r{len(hops)}", key)
    for depth in range(len(hops), 0, -1):
        hop = hops[depth - 1]
        outer = field_expr(hop, f"r{depth - 1}")
        sql = f"{outer} IN (SELECT r{depth}.id FROM records r{depth} WHERE r{depth}.object = '{hop.target}' AND {sql})"
    return sql, params, _floor(path, op, value)


def parse_filters(obj: ObjectDef, query: list[tuple[str, str]], parse_key: Callable[[str], tuple[str, ...]]) -> Where:
    """AND together every `filter[...]` parameter; malformed keys are a 400."""
    where = Where()
    for key, raw in query:
        if not key.startswith("filter"):
            continue
        parts = parse_key(key)
        if len(parts) not in (2, 3) or parts[0] != "filter" or not parts[1]:
            raise ApiError(400, f"malformed filter parameter {key!r}; use filter[field] or filter[field][Operator]")
        sql, params, floor = condition(obj, parts[1], parts[2] if len(parts) == 3 else None, raw)
        where.add(sql, params)
        where.floor = floor if len(where.sql) == 1 else None
    return where


def order_by(obj: ObjectDef, column: str | None, direction: str | None) -> str:
    """`ORDER BY` body; ties always fall back to id in the same direction so order is total."""
    direction = direction if direction is not None else "ASC"
    if direction not in ("ASC", "DESC"):
        raise ApiError(400, f"sortOrder[dir] must be ASC or DESC, not {direction!r}")
    if column is None or column == "id":
        return f"r0.id {direction}"
    f = field_def(obj, column)
    if f is None:
        raise ApiError(400, f"sortOrder[column]: unknown field {column!r} on {obj.slug}")
    if f.type in UNSORTABLE:
        raise ApiError(400, f"sortOrder[column]: cannot sort by {f.type} field {column!r}")
    return f"{field_expr(f, 'r0')} {direction}, r0.id {direction}"
