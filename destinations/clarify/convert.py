"""Warehouse values → Clarify attribute values, with the checks that can be done before sending.

Conversions by attribute type (from `GET /schemas`):
- `collection`: a list/array column → `{"items": [...]}`; a scalar string → `{"items": [s]}`; a JSON text of
  a list is parsed first; `{"items": [...]}` passes through.
- `multi-select`: a list (or a JSON text of one, or a comma-free single string) → list of strings.
- `date`: date/datetime → `YYYY-MM-DD`; strings are parsed and re-rendered. `datetime`: ISO-8601 UTC.
- `number`/`currency`: rounded to 4 decimals and checked against DECIMAL(16,4) (12 integer digits).
- `checkbox`: bool (0/1 and "true"/"false" accepted). `text`/`record-id`/`select`: str (select checked against
  its case-sensitive enum). `name`, `location`, `rich-text`: objects pass through; a string name is sent as
  is; a string rich-text becomes one paragraph block.

Null policy: SQL NULL, float NaN and ±inf become JSON `null`, which *clears* the attribute in Clarify.
The warehouse owns every column it pushes; leave a column out of the query to leave its CRM value alone.
A row whose upsert key (`match_on`) is null is invalid (it cannot be matched).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import partial
from typing import Any

import orjson
import pendulum

from sources.clarify.schema import FieldSpec

MAX_ABS = Decimal("1e12")  # DECIMAL(16,4): 12 integer digits
QUANT = Decimal("0.0001")


class Invalid(ValueError):
    """A value that cannot become a valid attribute value; the message is the detail."""


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _as_list(value: Any) -> list[Any]:
    value = _maybe_json(value)
    if isinstance(value, dict) and "items" in value:
        value = value["items"]
    if isinstance(value, list | tuple):
        return list(value)
    if hasattr(value, "tolist"):  # numpy arrays from some drivers
        return list(value.tolist())
    return [value]


def _number(value: Any) -> float | int:
    if isinstance(value, bool):
        raise Invalid("expected a number, got a boolean")
    try:
        d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise Invalid(f"{value!r} is not a number") from None
    if not d.is_finite():
        raise Invalid(f"{value!r} is not a finite number")
    if abs(d) >= MAX_ABS:
        raise Invalid(f"{value} does not fit DECIMAL(16,4) (at most 12 integer digits)")
    d = d.quantize(QUANT, rounding=ROUND_HALF_EVEN)
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            parsed = pendulum.parse(value, exact=True)
        except Exception:
            raise Invalid(f"{value!r} is not a date (use YYYY-MM-DD)") from None
        if isinstance(parsed, dt.datetime):
            return parsed.date().isoformat()
        if isinstance(parsed, dt.date):
            return parsed.isoformat()
    raise Invalid(f"{value!r} is not a date (use YYYY-MM-DD)")


def _datetime(value: Any) -> str:
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, str):
        try:
            stamp = pendulum.parse(value)  # type: ignore[assignment]
        except Exception:
            raise Invalid(f"{value!r} is not an ISO-8601 timestamp") from None
        if not isinstance(stamp, dt.datetime):
            raise Invalid(f"{value!r} is not an ISO-8601 timestamp")
    else:
        raise Invalid(f"{value!r} is not an ISO-8601 timestamp")
    return stamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _checkbox(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "t", "f", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "t", "1", "yes")
    raise Invalid(f"{value!r} is not true or false")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        raise Invalid("expected text, got a structured value")
    return str(value)


def convert_value(attr: FieldSpec, value: Any) -> Any:
    """One warehouse value as the API expects it for `attr`; raises `Invalid` with the reason."""
    if _is_missing(value):
        return None
    kind = attr.type
    if kind == "collection":
        items = [x for x in _as_list(value) if not _is_missing(x)]
        if not all(isinstance(x, str) for x in items):
            raise Invalid("collection items must be text")
        if attr.items == "email" and not all("@" in x for x in items):
            raise Invalid("every item must be an email address")
        return {"items": items}
    if kind == "multi-select":
        items = [_text(x) for x in _as_list(value) if not _is_missing(x)]
        bad = [x for x in items if attr.enum and x not in attr.enum]
        if bad:
            raise Invalid(f"{bad[0]!r} is not one of {list(attr.enum)} (case-sensitive)")
        return items
    if kind in ("number", "currency"):
        return _number(value)
    if kind == "date":
        return _date(value)
    if kind == "datetime":
        return _datetime(value)
    if kind == "checkbox":
        return _checkbox(value)
    if kind == "select":
        text = _text(value)
        if attr.enum and text not in attr.enum:
            raise Invalid(f"{text!r} is not one of {list(attr.enum)} (case-sensitive)")
        return text
    if kind in ("text", "record-id"):
        return _text(value)
    if kind == "rich-text":
        value = _maybe_json(value)
        if isinstance(value, str):
            return {"text": [{"type": "paragraph", "children": [{"text": value}]}]}
        if isinstance(value, dict) and isinstance(value.get("text"), list):
            return value
        raise Invalid('expected rich text {"text": [blocks]} or a string')
    if kind in ("name", "location"):
        value = _maybe_json(value)
        if kind == "name" and isinstance(value, str):
            return value
        if isinstance(value, dict):
            return {k: v for k, v in value.items()}
        raise Invalid(f"expected an object for {kind}")
    # Unknown types: send JSON-able values unchanged and let the API judge.
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return _maybe_json(value)


def match_identity(attr: FieldSpec, value: Any) -> str:
    """An upsert key as the API compares it, so a row keeps its identity whatever its text looked like: the
    items of a collection (emails, domains) trimmed, lowercased, sorted; any other value trimmed."""
    if attr.type == "collection":
        return ", ".join(sorted({str(x).strip().casefold() for x in _as_list(value) if not _is_missing(x)}))
    return str(value).strip()


def convert_row(row: dict[str, Any], columns: dict[str, FieldSpec]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """(attributes, errors) for one row; `columns` maps source column → attribute; errors are (pointer, detail)."""
    attributes: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for column, attr in columns.items():
        try:
            attributes[attr.name] = convert_value(attr, row.get(column))
        except Invalid as bad:
            errors.append((f"/data/attributes/{attr.name}", f"{attr.name}: {bad}"))
    return attributes, errors


def convert_columns(
    data: dict[str, list[Any]], columns: dict[str, FieldSpec], rows: int
) -> tuple[list[dict[str, Any]], dict[int, list[tuple[str, str]]]]:
    """`convert_row` for a whole chunk held column-wise (`data`: column → values): the attributes of each row,
    and the errors of the rows that have any (row index → [(pointer, detail)], in column order).

    Each column is converted in one pass with a fast path for the common plain values (`_fast`); a column with
    an invalid value is redone value by value to collect the errors."""
    names: list[str] = []
    converted: list[list[Any]] = []
    errors: dict[int, list[tuple[str, str]]] = {}
    for column, attr in columns.items():
        values = data.get(column) or [None] * rows
        fast = _fast(attr)
        try:
            out = [fast(v) for v in values]
        except Invalid:
            out = []
            for i, v in enumerate(values):
                try:
                    out.append(convert_value(attr, v))
                except Invalid as bad:
                    out.append(None)
                    errors.setdefault(i, []).append((f"/data/attributes/{attr.name}", f"{attr.name}: {bad}"))
        names.append(attr.name)
        converted.append(out)
    return [dict(zip(names, vals, strict=True)) for vals in zip(*converted, strict=True)], errors


def _fast(attr: FieldSpec) -> Callable[[Any], Any]:
    """`convert_value(attr, ·)` with shortcuts for plain values that give the same result."""
    slow = partial(convert_value, attr)
    kind = attr.type
    if kind in ("text", "record-id"):
        return lambda v: v if type(v) is str else slow(v)
    if kind in ("number", "currency"):

        def number(v: Any) -> Any:
            if type(v) is float and -1e12 < v < 1e12:  # NaN and ±inf fail the range check
                if v.is_integer():
                    return int(v)
                if round(v, 4) == v:  # already at most 4 decimals: the Decimal round trip gives v back
                    return v
            elif type(v) is int and -(10**12) < v < 10**12:
                return v
            return slow(v)

        return number
    if kind == "collection":
        email = attr.items == "email"

        def collection(v: Any) -> Any:
            if type(v) is str and v[:1] not in ("[", "{") and (not email or "@" in v):
                return {"items": [v]}
            return slow(v)

        return collection
    return slow
