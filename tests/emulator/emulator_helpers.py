"""Small helpers for emulator tests: fetching every page and computing expected answers from the store."""

from __future__ import annotations

from typing import Any

import httpx

Record = dict[str, Any]


def all_ids(client: httpx.Client, obj: str, params: dict[str, str] | None = None) -> list[str]:
    """Ids of every matching record, in the server's order, following `links.next`."""
    out: list[str] = []
    url: str | None = f"objects/{obj}/resources"
    query: dict[str, str] | None = {"page[limit]": "500", **(params or {})}
    while url:
        r = client.get(url, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(rec["id"] for rec in body["data"])
        url, query = body["links"]["next"], None
    return out


def full_name(attrs: Record) -> str | None:
    name = attrs["name"]
    return name.get("full_name") if isinstance(name, dict) else name


def error(r: httpx.Response, status: int) -> Record:
    """Assert a JSON:API error answer and return its first error."""
    assert r.status_code == status, r.text
    errors = r.json()["errors"]
    assert errors and errors[0]["status"] == str(status) and errors[0]["title"] and errors[0]["detail"]
    return errors[0]
