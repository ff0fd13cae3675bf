"""`GET /schemas` in each shape the sources document syncs every object exactly (issue 19, item 4): the seed's array,
the JSON:API document, and the public reference site's object keyed by schema id, where `core/*` holds built-in
objects and value shapes alike and only a listing tells them apart."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.schemas import OBJECTS
from pipelines.sync import run_sync
from sources.clarify.schema import parse_schemas
from tests.sync.conftest import assert_synced, connection_for

# The example on the public reference site (clarify-api-docs.vercel.app, "Schema"), trimmed.
REFERENCE_EXAMPLE = {
    "data": {
        "core/person": {"properties": {"name": {"type": "text"}, "email_addresses": {"type": "collection"}}},
        "entities/investor": {"properties": {"fund": {"type": "text"}}},
    }
}


@pytest.mark.parametrize("shape", ["entities", "docs", "keyed"])
def test_every_schemas_shape_syncs_exactly(make_emu: Any, make_warehouse: Any, shape: str) -> None:
    emu = make_emu(schemas_shape=shape, records=60)
    wh = make_warehouse("duckdb")

    report = run_sync(connection_for(emu), wh)

    assert set(report.objects) == set(OBJECTS)
    assert_synced(emu, wh)


def test_the_reference_sites_example_reads_as_two_objects() -> None:
    asked: list[str] = []

    objects = parse_schemas(REFERENCE_EXAMPLE, lambda slug: asked.append(slug) or slug == "investor")

    assert set(objects) == {"person", "investor"} and asked == ["investor"]
    assert objects["investor"].fields["fund"].type == "text"
