"""Value conversion and schema parsing, without HTTP."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from destinations.clarify.convert import Invalid, convert_columns, convert_row, convert_value
from emulator.schemas import OBJECTS, render_schemas
from sources.clarify.schema import FieldSpec, parse_schemas


@pytest.mark.parametrize(
    ("attr", "value", "expected"),
    [
        (FieldSpec("e", "collection", items="email"), ["a@x.com", None], {"items": ["a@x.com"]}),
        (FieldSpec("e", "collection", items="email"), "a@x.com", {"items": ["a@x.com"]}),
        (FieldSpec("e", "collection", items="email"), '["a@x.com"]', {"items": ["a@x.com"]}),
        (FieldSpec("d", "collection", items="domain"), {"items": ["x.com"]}, {"items": ["x.com"]}),
        (FieldSpec("b", "date"), dt.date(2024, 2, 29), "2024-02-29"),
        (FieldSpec("b", "date"), dt.datetime(2024, 2, 29, 23, 0), "2024-02-29"),
        (FieldSpec("b", "date"), "2024-02-29", "2024-02-29"),
        (FieldSpec("n", "number"), Decimal("1.23456"), 1.2346),
        (FieldSpec("n", "number"), 3.0, 3),
        (FieldSpec("n", "currency"), Decimal("999999999999.9999"), 999999999999.9999),
        (FieldSpec("n", "number"), float("nan"), None),
        (FieldSpec("n", "number"), None, None),
        (FieldSpec("c", "checkbox"), 1, True),
        (FieldSpec("c", "checkbox"), "false", False),
        (FieldSpec("s", "select", enum=("Gold",)), "Gold", "Gold"),
        (FieldSpec("m", "multi-select", enum=("vip", "churned")), ["vip"], ["vip"]),
        (FieldSpec("t", "rich-text"), "hello", {"text": [{"type": "paragraph", "children": [{"text": "hello"}]}]}),
        (FieldSpec("t", "datetime"), dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), "2024-01-01T12:00:00.000Z"),
        (FieldSpec("x", "text"), 42, "42"),
    ],
)
def test_convert(attr: FieldSpec, value: object, expected: object) -> None:
    assert convert_value(attr, value) == expected


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        (FieldSpec("n", "number"), Decimal("1e12")),
        (FieldSpec("n", "number"), True),
        (FieldSpec("n", "number"), "abc"),
        (FieldSpec("b", "date"), "31/12/2024"),
        (FieldSpec("s", "select", enum=("Gold",)), "gold"),
        (FieldSpec("m", "multi-select", enum=("vip",)), ["VIP"]),
        (FieldSpec("e", "collection", items="email"), ["not-an-email"]),
        (FieldSpec("c", "checkbox"), "maybe"),
    ],
)
def test_convert_refuses(attr: FieldSpec, value: object) -> None:
    with pytest.raises(Invalid):
        convert_value(attr, value)


def test_nan_is_null() -> None:
    assert convert_value(FieldSpec("n", "number"), math.inf) is None


def test_column_wise_conversion_matches_row_by_row() -> None:
    """The column-wise fast paths give exactly what `convert_row` gives, errors included (and typed alike)."""
    columns = {
        "email": FieldSpec("email_addresses", "collection", items="email"),
        "score": FieldSpec("lead_score", "number"),
        "title": FieldSpec("title", "text"),
    }
    data = {
        "email": ["a@x.com", '["b@x.com"]', "no-at", None, "c@x.com", "d@x.com", "e@x.com", "f@x.com", "g@x.com"],
        "score": [1.0, 2.5, 0.1, 1e12, float("nan"), 1.23456, -0.0, 7, True],
        "title": ["t", 42, None, "x", "y", "z", "w", "v", "u"],
    }
    rows = len(data["email"])
    attributes, errors = convert_columns(data, columns, rows)
    for i in range(rows):
        expected, expected_errors = convert_row({c: v[i] for c, v in data.items()}, columns)
        assert errors.get(i, []) == expected_errors
        if not expected_errors:
            assert attributes[i] == expected
            assert [type(v) for v in attributes[i].values()] == [type(v) for v in expected.values()]
    assert set(errors) == {2, 3, 8}


@pytest.mark.parametrize("shape", ["entities", "docs", "keyed"])
def test_parse_every_schema_shape(shape: str) -> None:
    asked: list[str] = []
    objects = parse_schemas(render_schemas(shape), lambda slug: asked.append(slug) or slug in OBJECTS)
    assert set(objects) == set(OBJECTS)
    # Only the keyed shape leaves an entry's slug to a listing: its value shapes and its custom object.
    keyed = ["name", "location", "collection", "rich-text", "meeting_recording", "sales_order", "c_sales_order"]
    assert asked == ([] if shape != "keyed" else keyed)
    assert "name" not in objects and "collection" not in objects  # core sub-schemas are not objects
    assert objects["person"].unique_field == "email_addresses"
    assert objects["company"].unique_field == "domains"
    assert objects["deal"].unique_field == "name"
    assert objects["c_sales_order"].unique_field == "order_number"
    assert objects["task"].unique_field is None
    assert "_updated_at" not in objects["person"].writable
    assert objects["deal"].relationships["people"] == "person"
