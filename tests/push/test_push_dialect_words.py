"""How refusals are read: a refused `match_on` (never a row's fault) and a duplicate unique value (looked up), in
the wordings and error shapes our sources show, against row-level refusals that must stay rejects."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ApiError
from core.http import parse_error_body
from destinations.clarify.dialect import MATCH_ON, refuses_property
from destinations.clarify.duplicates import is_duplicate


def _error(status: int, body: bytes) -> ApiError:
    detail, errors = parse_error_body(body)
    return ApiError(detail, status=status, errors=errors)


def _jsonapi(status: int, detail: str, pointer: str | None = None) -> ApiError:
    item: dict[str, Any] = {"status": str(status), "detail": detail}
    if pointer:
        item["source"] = {"pointer": pointer}
    return ApiError(detail, status=status, errors=[item])


REFUSED = [
    _error(400, b'{"statusCode": 400, "message": ["property match_on should not exist"], "error": "Bad Request"}'),
    _jsonapi(400, "property match_on should not exist"),
    _jsonapi(422, "Unrecognized key(s) in object: 'match_on'"),
    _jsonapi(400, "Additional properties are not allowed", "/match_on"),
]
NOT_REFUSED = [
    _jsonapi(400, "email_addresses: 'a@x.com' already belongs to person per_1; send \"match_on\"", "/data/0/x"),
    _jsonapi(422, "no company record with id 'com_missing'", "/data/3/attributes/company_id"),
    _jsonapi(413, "batch of 100 records exceeds the limit of 25; split it", "/data"),
    _jsonapi(500, "property match_on should not exist"),
]
DUPLICATE = [
    _jsonapi(422, "Duplicate record found for email: a@x.com"),
    _jsonapi(400, "Duplicate record found for email: a@x.com"),
    _jsonapi(400, "email_addresses: 'a@x.com' already belongs to person per_1", "/data/0/attributes/email_addresses"),
    _error(400, b'{"statusCode": 400, "message": ["A person with this email already exists"], "error": "Bad"}'),
]
NOT_DUPLICATE = [
    _jsonapi(422, "no company record with id 'com_missing'", "/data/3/attributes/company_id"),
    _jsonapi(422, "tier must be one of Gold, Silver"),
    _jsonapi(500, "Duplicate record found for email: a@x.com"),
]


@pytest.mark.parametrize("err", REFUSED)
def test_refused_property(err: ApiError) -> None:
    assert refuses_property(err, MATCH_ON)


@pytest.mark.parametrize("err", NOT_REFUSED)
def test_row_refusals_are_not_a_refused_property(err: ApiError) -> None:
    assert not refuses_property(err, MATCH_ON)


@pytest.mark.parametrize("err", DUPLICATE)
def test_duplicate(err: ApiError) -> None:
    assert is_duplicate(err)


@pytest.mark.parametrize("err", NOT_DUPLICATE)
def test_not_duplicate(err: ApiError) -> None:
    assert not is_duplicate(err)
