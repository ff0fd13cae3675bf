"""Link tables from relationship values: the arrow fast path agrees with the one-by-one reading for any shape."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sources.clarify.records import PageConverter, _relationship_ids
from sources.clarify.schema import ObjectSchema

ABSENT = object()

ids = st.text("abc_1", min_size=1, max_size=4)
linkage_item = st.one_of(
    st.fixed_dictionaries({"type": st.just("company"), "id": ids}),  # the usual shape
    st.fixed_dictionaries({"id": st.integers(0, 9)}),  # a number id
    st.just({"type": "company"}),  # no id
    st.none(),
    ids,  # a bare id
)
value = st.one_of(
    st.fixed_dictionaries({"data": st.lists(linkage_item, max_size=3)}),
    st.fixed_dictionaries({"data": st.lists(st.fixed_dictionaries({"id": ids}), max_size=3)}),
    st.just({"data": None}),
    st.fixed_dictionaries({"type": st.just("company"), "id": ids}),  # to-one without "data"
    st.fixed_dictionaries({"data": st.fixed_dictionaries({"type": st.just("company"), "id": ids})}),  # to-one
    st.fixed_dictionaries({"dat": st.lists(st.fixed_dictionaries({"id": ids}), max_size=2)}),  # no "data"
    ids,
    st.integers(0, 9),
    st.lists(ids, max_size=3),  # a plain list of ids
    st.none(),
    st.just(ABSENT),
)


def expected_links(values: list[Any]) -> tuple[set[str], list[tuple[str, str]]]:
    """Owners (parents whose link rows are replaced) and (parent, target) rows, read value by value."""
    owners: set[str] = set()
    rows: list[tuple[str, str]] = []
    for n, v in enumerate(values):
        if v is ABSENT:
            continue
        found = _relationship_ids(v)
        if found is not None:
            owners.add(f"p{n}")
            rows.extend((f"p{n}", target) for target in found)
    return owners, rows


@settings(max_examples=150, deadline=None)
@given(st.lists(value, min_size=1, max_size=12))
def test_link_rows_match_the_one_by_one_reading(values: list[Any]) -> None:
    records = [
        {"id": f"p{n}", "attributes": {}, "relationships": {} if v is ABSENT else {"companies": v}}
        for n, v in enumerate(values)
    ]
    converter = PageConverter(ObjectSchema("person", relationships={"companies": "company"}))
    batches = dict(converter.convert(records))
    owners, rows = expected_links(values)
    if not owners:
        assert "person__companies" not in batches or batches["person__companies"].num_rows == 0
        return
    table = batches["person__companies"].to_pylist()
    markers = {r["person_id"] for r in table if r["_deleted"]}
    links = [(r["person_id"], r["company_id"]) for r in table if not r["_deleted"]]
    assert markers == owners
    assert links == rows
