"""Read handlers: lists with filters, sort, paging and include; single records; schemas; users."""

from __future__ import annotations

import math
import os
import re
import signal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from emulator.calls import Call
from emulator.errors import ApiError
from emulator.filters import Where, order_by, parse_filters
from emulator.responses import JSONResponse
from emulator.schemas import ObjectDef, render_schemas
from emulator.store import require_object
from emulator.variants import (
    listing_query,
    page_limit,
    rewrites_records,
    shape_body,
    shape_properties,
    shape_records,
    shape_schemas,
)

DEFAULT_PAGE_LIMIT = 500
_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def bracket_parts(key: str) -> tuple[str, ...]:
    """`filter[a.b][Is on or after]` → ('filter', 'a.b', 'Is on or after'); () if malformed."""
    m = _KEY_RE.match(key)
    if not m:
        return ()
    return (m.group(1), *re.findall(r"\[([^\[\]]*)\]", m.group(2)))


def int_param(call: Call, key: str, default: int) -> int:
    raw = call.param(key)
    if raw is None:
        return default
    if not re.fullmatch(r"-?\d+", raw.strip()):
        raise ApiError(400, f"{key} must be an integer, not {raw!r}")
    return int(raw)


def _includes(obj: ObjectDef, call: Call) -> list[str]:
    raw = call.param("include")
    names = [n.strip() for n in raw.split(",") if n.strip()] if raw else []
    for name in names:
        if name not in obj.relationships:
            raise ApiError(400, f"include: {obj.slug} has no relationship {name!r}; known: {sorted(obj.relationships)}")
    return names


def _included(call: Call, obj: ObjectDef, data: list[dict[str, object]], names: list[str]) -> list[object]:
    """Related records named by `include`, each once, in first-seen order."""
    seen: dict[str, str] = {}
    for record in data:
        rels = record.get("relationships", {})
        assert isinstance(rels, dict)
        for name in names:
            for ref in rels[name]["data"]:
                seen.setdefault(ref["id"], ref["type"])
    out: list[object] = []
    for rid, slug in seen.items():
        out.extend(call.emu.store.render([call.emu.store.fetch(slug, rid)]))
    return out


def _page_link(request: Request, offset: int, http_scheme: bool) -> str:
    items = [(k, v) for k, v in request.query_params.multi_items() if k != "page[offset]"]
    items.append(("page[offset]", str(offset)))
    url = request.url.replace(query=urlencode(items))
    return str(url.replace(scheme="http") if http_scheme else url)


def listing_limit(call: Call, default: int) -> int:
    """The page size a listing serves: `page[limit]` (else `default`) as the configured variant applies it."""
    cfg = call.emu.config
    asked = int_param(call, "page[limit]", min(default, cfg.page_cap))
    return page_limit(cfg, asked, nest=call.emu.faults.flag("nest_error_shape", call.request.url.path))


async def list_records(call: Call, slug: str, within: Where | None = None) -> Response:
    """A page of `slug`'s records; `within` narrows the listing to a subset (a list's members)."""
    obj = require_object(slug)
    cfg = call.emu.config
    _churn(call, slug)
    query = _faulty_query(call, listing_query(cfg, slug, call.request.query_params.multi_items()))
    where = parse_filters(obj, query, bracket_parts)
    if within is not None:
        where.add(within.render(), within.params)
        where.floor = None  # the count shortcut holds for a bare `_updated_at` floor only
    sort = dict(query)
    order = order_by(obj, sort.get("sortOrder[column]"), sort.get("sortOrder[dir]"))
    limit = listing_limit(call, DEFAULT_PAGE_LIMIT)
    offset = int_param(call, "page[offset]", 0)
    if offset < 0:
        raise ApiError(400, f"page[offset] must be >= 0, not {offset}")
    includes = _includes(obj, call)
    store = call.emu.store
    total = store.count(slug, where)
    reshape = rewrites_records(cfg, slug)
    data = store.render(store.page(slug, where.render(), where.params, order, limit, offset), raw=not reshape)
    if reshape:
        data = shape_records(cfg, slug, data)

    path = call.request.url.path
    faults = call.emu.faults
    http_scheme = faults.flag("http_next_links", path)
    has_next = offset + limit < total
    if (not data and faults.flag("next_on_empty_page", path)) or (
        data and not has_next and faults.flag("stray_next_on_last_page", path)
    ):
        has_next = True
    body: dict[str, object] = {
        "data": data,
        "meta": {"total_records": total, "total_pages": math.ceil(total / limit), "offset": offset, "limit": limit},
        "links": {
            "prev": _page_link(call.request, max(0, offset - limit), http_scheme) if offset > 0 else None,
            "next": _page_link(call.request, offset + limit, http_scheme) if has_next else None,
        },
    }
    if includes:
        body["included"] = _included(call, obj, data, includes)
    response = JSONResponse(shape_body(cfg, body))
    pid = faults.kill_due(path, "kill_on_page")
    if pid:
        os.kill(pid, signal.SIGKILL)
    return response


def _churn(call: Call, slug: str) -> None:
    """The `churn_every` fault: records change between the pages of a walk."""
    faults = call.emu.faults
    churned = faults.current().churn_objects
    if (churned is None or slug in churned) and faults.every("churn_every", call.request.url.path):
        call.emu.mutate(slug, update_share=0.05, create=1, delete=1)


def _faulty_query(call: Call, query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The query without its `_updated_at` filter under the `odd_page` (once) and `ignore_cursor_filter` faults,
    and without its sort order under `ignore_sort`."""
    path, faults = call.request.url.path, call.emu.faults
    if faults.flag("ignore_sort", path):
        query = [(key, value) for key, value in query if not key.startswith("sortOrder[")]
    kept = [(key, value) for key, value in query if not key.startswith("filter[_updated_at]")]
    if len(kept) == len(query):
        return query
    return kept if faults.flag("ignore_cursor_filter", path) or faults.take("odd_page", path) else query


async def get_record(call: Call, slug: str, rid: str) -> Response:
    obj = require_object(slug)
    includes = _includes(obj, call)
    data = call.emu.store.render([call.emu.store.fetch(slug, rid)])
    body: dict[str, object] = {"data": data[0]}
    if includes:
        body["included"] = _included(call, obj, data, includes)
    return JSONResponse(body)


async def h_schemas(call: Call) -> Response:
    cfg = call.emu.config
    body = render_schemas(cfg.schemas_shape, lambda slug, props: shape_properties(cfg, slug, props))
    return JSONResponse(shape_schemas(cfg, body))


async def h_list(call: Call) -> Response:
    return await list_records(call, call.request.path_params["object"])


async def h_get(call: Call) -> Response:
    p = call.request.path_params
    return await get_record(call, p["object"], p["id"])


async def h_users(call: Call) -> Response:
    return await list_records(call, "user")


async def h_user(call: Call) -> Response:
    return await get_record(call, "user", call.request.path_params["id"])
