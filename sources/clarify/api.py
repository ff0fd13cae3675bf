"""The CRM side of the HTTP client: workspace URLs, credentials (`ClarifyConnection.auth()`, sent to the API's
origin only) and error messages that name the fix.

The sync reads through it and the push writes through it. For writes, `idempotent` says what may be resent
after a 5xx: a bulk create with `match_on` is an upsert (safe), so is a plain one of an object with a unique field
(it upserts, or a resent row is refused as a duplicate), a plain bulk create of an object without one is not, a
PATCH always is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from core.errors import ApiError
from core.http import HttpClient, RetryPolicy
from sources.clarify.connection import ClarifyConnection
from sources.clarify.page_size import PageSize

_OBJECT_PATH = re.compile(r"/workspaces/[^/]+/objects/([^/]+)/(?:resources|records(?:/bulk)?)/?$")
_RECORD_PATH = re.compile(r"/workspaces/[^/]+/objects/([^/]+)/records/([^/]+)")
# Path segments after these name one record (or user, meeting, recording): collapsed to `{id}` so all records
# of an object share one endpoint budget, as the API counts them. `records/bulk` is its own endpoint.
_ID_AFTER = frozenset({"records", "users", "meetings", "recordings"})
_NOT_IDS = frozenset({"bulk"})
# A bare filter value the API reads as an operator: `>v`, `!=v`, `*v*`, `v*`, `a,b`, `null`, `!null`.
_SHORTHAND = re.compile(r"^[<>!*]|\*$|,|^!?null$")


def endpoint_key(method: str, path: str) -> str:
    """The rate-limit budget a request counts against: method + path with record ids collapsed.

    `GET /v1/workspaces/w/objects/person/resources` keeps the object (each object has its own budget);
    `PATCH /v1/workspaces/w/objects/person/records/per_1` becomes `.../records/{id}`.
    """
    parts = path.split("/")
    for i in range(1, len(parts)):
        if parts[i - 1] in _ID_AFTER and parts[i] and parts[i] not in _NOT_IDS:
            parts[i] = "{id}"
    return f"{method.upper()} {'/'.join(parts)}"


class ClarifyApi:
    """Calls to one Clarify workspace; every request goes through `self.http`."""

    def __init__(
        self,
        connection: ClarifyConnection,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        auth: httpx.Auth | None = None,
    ) -> None:
        """`auth`: the connection's credential (`ClarifyConnection.auth()`) unless given (tests pass one that
        reads the emulator's clock)."""
        self.connection = connection
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.http = HttpClient(
            connection.base_url,
            headers={"Accept": "application/vnd.api+json"},
            auth=auth or connection.auth(),
            retry=retry,
            describe_error=self._describe,
            origin_hint="check CLARIFY_BASE_URL points at the Clarify API",
            endpoint_key=endpoint_key,
            transport=transport,
            max_per_minute=connection.max_requests_per_minute,
            **extra,
        )
        self.page_size = PageSize()  # every listing's `page[limit]`, learnt from the API's refusals
        self._users_endpoint = False  # set once `/objects/user/resources` answers 404
        # Answers fetched with `keep=True`, served to the next identical request (see `list_page`).
        self._kept: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        self._listable: dict[str, bool] = {}  # `listable` answers, by slug

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ClarifyApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return f"{self.connection.workspace_url}/{path.lstrip('/')}"

    def schemas(self, *, keep: bool = False) -> Any:
        """`GET /schemas`; `keep=True`: the nothing-changed probe keeps it for the sync it may hand over to."""
        return self._remembered("schemas", {}, keep, lambda: self.http.get_json(self.url("schemas"), tag="schemas"))

    def listable(self, obj: str) -> bool:
        """Whether `GET /objects/{obj}/resources` answers (404: no such object); asked once per slug."""
        if obj not in self._listable:
            try:
                self._get_page(obj, {"page[limit]": 1})
                self._listable[obj] = True
            except ApiError as exc:
                if exc.status != 404:
                    raise
                self._listable[obj] = False
        return self._listable[obj]

    def list_page(self, obj: str, params: dict[str, Any], *, keep: bool = False) -> dict[str, Any]:
        """One page of `GET /objects/{obj}/resources`; `user` falls back to `GET /users`.

        `keep=True` (the nothing-changed check's first page) keeps the answer for the walk that follows when
        something did change: its first request is the same one, and is answered from memory, once. The walk
        is as exact as if it had sent it (a record changed since has a later `_updated_at` and is read by a
        later page or the next run), and a changed run costs one request per object less. A kept answer asked
        for with `keep=True` again (the probe's page, then the sync's own check) stays kept for the walk.

        `page[limit]` is lowered in `params` to what the API accepts (`page_size.py`): the walk reads it back."""
        return self._remembered(obj, params, keep, lambda: self._get_page(obj, params))

    def _remembered(self, name: str, params: dict[str, Any], keep: bool, fetch: Callable[[], Any]) -> Any:
        """A kept answer for (`name`, `params`) if there is one (kept again when `keep`), else `fetch()` at a page
        size the API accepts (kept when `keep`, under the size it was asked at)."""
        self.page_size.fit(params)
        body = self._kept.pop(_answer_key(name, params), None)
        if body is None:
            body = self.page_size.fetch(params, fetch)
        if keep:
            self._kept[_answer_key(name, params)] = body
        return body

    def _get_page(self, obj: str, params: dict[str, Any]) -> dict[str, Any]:
        path = "users" if obj == "user" and self._users_endpoint else f"objects/{obj}/resources"
        try:
            body = self.http.get_json(self.url(path), params, tag=obj)
        except ApiError as exc:
            if obj != "user" or self._users_endpoint or exc.status != 404:
                raise
            self._users_endpoint = True
            body = self.http.get_json(self.url("users"), params, tag=obj)
        return body if isinstance(body, dict) else {"data": body or []}

    def get_page(self, path: str, params: dict[str, Any], *, tag: str, keep: bool = False) -> dict[str, Any]:
        """One page of any other listing under the workspace (`lists`, a list's `resources`); `keep` and the
        page size as for `list_page` (the probe's read of the lists, served again to the sync that takes over)."""
        fetch = lambda: self.http.get_json(self.url(path), params, tag=tag)  # noqa: E731
        body = self._remembered(f"/{path}", params, keep, fetch)  # "/": never an object slug
        return body if isinstance(body, dict) else {"data": body or []}

    def artifacts(self, meeting: str, recording: str, *, tag: str) -> dict[str, Any]:
        """`POST /meetings/{meeting}/recordings/{recording}/artifacts`: the recording's signed URLs (`data`). Safe to
        send again (it only signs URLs); a 404 says there is nothing to sign yet, or no such recording."""
        url = self.url(f"meetings/{meeting}/recordings/{recording}/artifacts")
        answer = self.http.request_json("POST", url, tag=tag, idempotent=True)
        data = answer.get("data") if isinstance(answer, dict) else None
        return data if isinstance(data, dict) else {}

    def bulk_create(
        self, obj: str, attributes: list[dict[str, Any]], match_on: str | None, *, idempotent: bool | None = None
    ) -> list[dict[str, Any]]:
        """`POST /objects/{obj}/records/bulk`: an upsert on `match_on` when given, else plain creates.

        `idempotent` (default: whether `match_on` is sent) says whether a 5xx may be resent: creates of an object
        with a unique field are, where creates upsert by themselves or a resent row is refused as a duplicate."""
        body: dict[str, Any] = {"data": [{"type": obj, "attributes": a} for a in attributes]}
        if match_on:
            body["match_on"] = match_on
        url = self.url(f"objects/{obj}/records/bulk")
        safe = bool(match_on) if idempotent is None else idempotent
        return _records(self.http.request_json("POST", url, json=body, tag=obj, idempotent=safe))

    def find(self, obj: str, field: str, value: str, *, collection: bool) -> list[dict[str, Any]]:
        """The records whose `field` holds `value`: `filter[field][Contains]` for a collection (an item's substring,
        so the caller checks the items), `filter[field]=value` otherwise (`[Is]` when the bare value would read as a
        shorthand such as `a,b` or `*v`). One page: a unique value has one holder."""
        if collection:
            key = f"filter[{field}][Contains]"
        else:
            key = f"filter[{field}][Is]" if _SHORTHAND.search(value) else f"filter[{field}]"
        return _records(self.list_page(obj, {key: value, "page[limit]": 100}))

    def bulk_update(self, obj: str, rows: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """`PATCH /objects/{obj}/records` for (record id, attributes) pairs."""
        body = {"data": [{"type": obj, "id": rid, "attributes": a} for rid, a in rows]}
        return _records(self.http.request_json("PATCH", self.url(f"objects/{obj}/records"), json=body, tag=obj))

    def set_relationship(self, obj: str, record_id: str, name: str, target_type: str, target_ids: list[str]) -> None:
        body = {"data": [{"id": t, "type": target_type} for t in target_ids]}
        url = self.url(f"objects/{obj}/records/{record_id}/relationships/{name}")
        self.http.request("PATCH", url, json=body, tag=obj)

    def _describe(self, status: int, path: str, detail: str) -> str:
        conn = self.connection
        low = detail.lower()
        if status == 401:
            if conn.api_key:
                return "API key refused: check CLARIFY_API_KEY; keys use the `api-key` scheme, not Bearer"
            if conn.access_token:
                return "access token refused: check CLARIFY_ACCESS_TOKEN (expired or revoked OAuth token)"
            return f"the stored login for workspace {conn.workspace!r} was refused ({detail}): run `clarify-sync login`"
        if status == 403:
            return f"access denied to {path}: the key lacks permission for workspace {conn.workspace} ({detail})"
        if status == 404:
            if "workspace" in low:
                return f"workspace {conn.workspace!r} not found: check CLARIFY_WORKSPACE"
            match = _OBJECT_PATH.search(path)
            if match:
                return (
                    f"object {match.group(1)!r} not found in workspace {conn.workspace!r}: "
                    "check the objects you asked for"
                )
            match = _RECORD_PATH.search(path)
            if match:
                return f"{match.group(1)} record {match.group(2)!r} not found ({detail})"
            return f"{path} not found ({detail}): check CLARIFY_BASE_URL (it normally ends in /v1)"
        if status == 429:
            return f"rate limit still exceeded on {path} after retries: run again later ({detail})"
        if status >= 500:
            return f"Clarify kept failing on {path} (HTTP {status}: {detail}): try again later"
        return f"HTTP {status} on {path}: {detail or 'no detail'}"


def _records(answer: Any) -> list[dict[str, Any]]:
    data = answer.get("data") if isinstance(answer, dict) else answer
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def _answer_key(name: str, params: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What makes two requests the same, for kept answers: the object or path, and the parameters."""
    return name, tuple(sorted((k, str(v)) for k, v in params.items()))
