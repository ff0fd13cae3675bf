"""Value conversion and schema parsing, without HTTP."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from destinations.clarify.convert import Invalid, convert_value
from destinations.clarify.schema import Attribute, parse_schemas
from emulator.schemas import render_schemas


@pytest.mark.parametrize(
    ("attr", "value", "expected"),
    [
        (Attribute("e", "collection", items="email"), ["a@x.com", None], {"items": ["a@x.com"]}),
        (Attribute("e", "collection", items="email"), "a@x.com", {"items": ["a@x.com"]}),
        (Attribute("e", "collection", items="email"), '["a@x.com"]', {"items": ["a@x.com"]}),
        (Attribute("d", "collection", items="domain"), {"items": ["x.com"]}, {"items": ["x.com"]}),
        (Attribute("b", "date"), dt.date(2024, 2, 29), "2024-02-29"),
        (Attribute("b", "date"), dt.datetime(2024, 2, 29, 23, 0), "2024-02-29"),
        (Attribute("b", "date"), "2024-02-29", "2024-02-29"),
        (Attribute("n", "number"), Decimal("1.23456"), 1.2346),
        (Attribute("n", "number"), 3.0, 3),
        (Attribute("n", "currency"), Decimal("999999999999.9999"), 999999999999.9999),
        (Attribute("n", "number"), float("nan"), None),
        (Attribute("n", "number"), None, None),
        (Attribute("c", "checkbox"), 1, True),
        (Attribute("c", "checkbox"), "false", False),
        (Attribute("s", "select", enum=("Gold",)), "Gold", "Gold"),
        (Attribute("m", "multi-select", enum=("vip", "churned")), ["vip"], ["vip"]),
        (Attribute("t", "rich-text"), "hello", {"text": [{"type": "paragraph", "children": [{"text": "hello"}]}]}),
        (Attribute("t", "datetime"), dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), "2024-01-01T12:00:00.000Z"),
        (Attribute("x", "text"), 42, "42"),
    ],
)
def test_convert(attr: Attribute, value: object, expected: object) -> None:
    assert convert_value(attr, value) == expected


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        (Attribute("n", "number"), Decimal("1e12")),
        (Attribute("n", "number"), True),
        (Attribute("n", "number"), "abc"),
        (Attribute("b", "date"), "31/12/2024"),
        (Attribute("s", "select", enum=("Gold",)), "gold"),
        (Attribute("m", "multi-select", enum=("vip",)), ["VIP"]),
        (Attribute("e", "collection", items="email"), ["not-an-email"]),
        (Attribute("c", "checkbox"), "maybe"),
    ],
)
def test_convert_refuses(attr: Attribute, value: object) -> None:
    with pytest.raises(Invalid):
        convert_value(attr, value)


def test_nan_is_null() -> None:
    assert convert_value(Attribute("n", "number"), math.inf) is None


@pytest.mark.parametrize("shape", ["entities", "docs"])
def test_parse_both_schema_shapes(shape: str) -> None:
    objects = parse_schemas(render_schemas(shape))
    assert {"person", "company", "deal", "meeting", "task", "c_sales_order"} <= set(objects)
    assert "name" not in objects and "collection" not in objects  # core sub-schemas are not objects
    assert objects["person"].unique_field == "email_addresses"
    assert objects["company"].unique_field == "domains"
    assert objects["deal"].unique_field == "name"
    assert objects["c_sales_order"].unique_field == "order_number"
    assert objects["task"].unique_field is None
    assert "_updated_at" not in objects["person"].writable
    assert objects["deal"].relationships["people"] == "person"
