"""Attribute validation: the live API's value rules, each rejection carrying status, detail and pointer."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from emulator.errors import ErrorItem
from emulator.schemas import SYSTEM_FIELDS, FieldDef, ObjectDef
from emulator.timefmt import is_date, normalize_ts

RecordExists = Callable[[str, str], bool]
_SYSTEM = frozenset(SYSTEM_FIELDS)

NAME_KEYS = frozenset({"first_name", "last_name", "full_name"})
LOCATION_KEYS = frozenset({"address", "city", "state", "postal_code", "country"})
# DECIMAL(16,4): twelve integer digits, four fractional.
MAX_INTEGER_DIGITS = 12
MAX_SCALE = 4
_INT_LIMIT = 10**MAX_INTEGER_DIGITS


class _Invalid(Exception):
    def __init__(self, detail: str, status: int = 422) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def validate_attributes(
    obj: ObjectDef, attrs: object, pointer: str, exists: RecordExists
) -> tuple[dict[str, object], list[ErrorItem]]:
    """Check every given attribute; returns the normalized values and all errors found.

    `pointer` is the JSON pointer of the `attributes` object (`/data/attributes`, `/data/3/attributes`).
    """
    if not isinstance(attrs, dict):
        return {}, [ErrorItem(422, "attributes must be an object", pointer)]
    clean: dict[str, object] = {}
    errors: list[ErrorItem] = []
    fields = obj.fields
    for name, value in attrs.items():
        fdef = fields.get(name)
        if fdef is None or name in _SYSTEM:
            detail = (
                f"{name} is a system field and cannot be written"
                if name in _SYSTEM
                else f"unknown attribute {name!r} on {obj.slug}"
            )
            errors.append(ErrorItem(422, detail, f"{pointer}/{name}"))
            continue
        if value is None:
            clean[name] = None
            continue
        try:
            clean[name] = _CHECKERS[fdef.type](fdef, value, exists)
        except _Invalid as bad:
            errors.append(ErrorItem(bad.status, f"{name}: {bad.detail}", f"{pointer}/{name}"))
    return clean, errors


def _text(f: FieldDef, v: object, _: RecordExists) -> object:
    if not isinstance(v, str):
        raise _Invalid("expected a string")
    return v


def _name(f: FieldDef, v: object, _: RecordExists) -> object:
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and set(v) <= NAME_KEYS and all(x is None or isinstance(x, str) for x in v.values()):
        return v
    raise _Invalid("expected a string or an object with first_name, last_name, full_name")


def _number(f: FieldDef, v: object, _: RecordExists) -> object:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _Invalid("expected a number")
    if isinstance(v, float) and not math.isfinite(v):
        raise _Invalid("number must be finite", 400)
    if type(v) is int and -_INT_LIMIT < v < _INT_LIMIT:
        return v  # fast path: an integer of at most twelve digits
    text = repr(v)
    if type(v) is float and "e" not in text:  # fast path: plain `123.45` (repr has no trailing zeros but `.0`)
        whole, _, frac = text.lstrip("-").partition(".")
        frac = frac.rstrip("0")
        if len(frac) > MAX_SCALE or len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
            raise _Invalid(f"{v} does not fit DECIMAL(16,4)", 400)
        return v
    try:
        d = Decimal(text).normalize()
    except InvalidOperation as exc:
        raise _Invalid("expected a number") from exc
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    integer_digits = max(0, len(digits) + exponent)
    if scale > MAX_SCALE or integer_digits > MAX_INTEGER_DIGITS:
        raise _Invalid(f"{v} does not fit DECIMAL(16,4)", 400)
    return v


def _date(f: FieldDef, v: object, _: RecordExists) -> object:
    if not isinstance(v, str) or not is_date(v):
        raise _Invalid("expected a date YYYY-MM-DD")
    return v


def _datetime(f: FieldDef, v: object, _: RecordExists) -> object:
    if not isinstance(v, str):
        raise _Invalid("expected an ISO-8601 timestamp")
    try:
        return normalize_ts(v)
    except ValueError as exc:
        raise _Invalid("expected an ISO-8601 timestamp") from exc


def _select(f: FieldDef, v: object, _: RecordExists) -> object:
    if not isinstance(v, str) or v not in f.enum:
        raise _Invalid(f"{v!r} is not one of {list(f.enum)} (case-sensitive)")
    return v


def _multi(f: FieldDef, v: object, _: RecordExists) -> object:
    if not isinstance(v, list) or not all(isinstance(x, str) and x in f.enum for x in v):
        raise _Invalid(f"expected an array of values from {list(f.enum)} (case-sensitive)")
    return v


def _checkbox(f: FieldDef, v: object, _: RecordExists) -> object:
    if not isinstance(v, bool):
        raise _Invalid("expected true or false")
    return v


def _collection(f: FieldDef, v: object, _: RecordExists) -> object:
    if isinstance(v, list):
        raise _Invalid('collections are objects {"items": [...]}, not bare arrays')
    if not isinstance(v, dict) or set(v) != {"items"} or not isinstance(v["items"], list):
        raise _Invalid('expected {"items": [...]}')
    items = v["items"]
    if not all(isinstance(x, str) for x in items):
        raise _Invalid("collection items must be strings")
    if f.items == "email" and not all("@" in x for x in items):
        raise _Invalid("every item must be an email address")
    return v


def _location(f: FieldDef, v: object, _: RecordExists) -> object:
    if (
        not isinstance(v, dict)
        or not set(v) <= LOCATION_KEYS
        or not all(x is None or isinstance(x, str) for x in v.values())
    ):
        raise _Invalid(f"expected an object with text parts {sorted(LOCATION_KEYS)}")
    return v


def _record_id(f: FieldDef, v: object, exists: RecordExists) -> object:
    if not isinstance(v, str):
        raise _Invalid("expected a record id string")
    assert f.target is not None
    if not exists(f.target, v):
        raise _Invalid(f"no {f.target} record with id {v!r}")
    return v


def _rich_text(f: FieldDef, v: object, _: RecordExists) -> object:
    if not isinstance(v, dict) or set(v) != {"text"} or not isinstance(v["text"], list):
        raise _Invalid('expected rich text {"text": [blocks]}')
    return v


_CHECKERS: dict[str, Callable[[FieldDef, object, RecordExists], object]] = {
    "text": _text,
    "name": _name,
    "number": _number,
    "currency": _number,
    "date": _date,
    "datetime": _datetime,
    "select": _select,
    "multi-select": _multi,
    "checkbox": _checkbox,
    "collection": _collection,
    "location": _location,
    "record-id": _record_id,
    "rich-text": _rich_text,
}
