"""The list endpoints: `GET /lists`, `GET /objects/{object}/lists[/{list}[/resources]]` (see `lists.py`)."""

from __future__ import annotations

import math

from starlette.responses import Response

from emulator.calls import Call
from emulator.errors import ApiError
from emulator.lists import Lists
from emulator.reads import bracket_parts, int_param, list_records, listing_limit
from emulator.responses import JSONResponse
from emulator.store import require_object

DEFAULT_LIMIT = 100


def _paged(call: Call, items: list[dict[str, object]]) -> dict[str, object]:
    """A page of `items` by `page[limit]` / `page[offset]`, with `meta` like a record listing."""
    limit = listing_limit(call, DEFAULT_LIMIT)
    offset = max(0, int_param(call, "page[offset]", 0))
    total = len(items)
    return {
        "data": items[offset : offset + limit],
        "meta": {"total_records": total, "total_pages": math.ceil(total / limit), "offset": offset, "limit": limit},
    }


async def h_lists(call: Call) -> Response:
    return JSONResponse(_paged(call, [lst.render() for lst in call.emu.lists.all()]))


async def h_object_lists(call: Call) -> Response:
    slug = call.request.path_params["object"]
    require_object(slug)
    return JSONResponse(_paged(call, [lst.render() for lst in call.emu.lists.all(slug)]))


async def h_list_meta(call: Call) -> Response:
    p = call.request.path_params
    return JSONResponse({"data": call.emu.lists.get(p["object"], p["list"]).render()})


async def h_list_resources(call: Call) -> Response:
    """The list's live records, read like `resources` (filters, sort and paging apply on top of membership)."""
    p = call.request.path_params
    lst = call.emu.lists.get(p["object"], p["list"])
    return await list_records(call, lst.object, lst.where(bracket_parts))


# --- control: `POST /_emulator/lists` and `POST /_emulator/lists/members` -------------------------------------


def control_create(lists: Lists, body: dict[str, object]) -> object:
    """`{"object", "title", "type": "static"|"dynamic", "members": [...] | "filters": {...}, ...}` → the list."""
    lst = lists.create(**body)  # type: ignore[arg-type]
    try:
        lst.where(bracket_parts)  # a filter the listing would refuse is refused here
    except ApiError:
        lists.delete(lst.id)
        raise
    return lst.render()


def control_members(lists: Lists, body: dict[str, object]) -> object:
    """`{"list": id, "add": [ids], "remove": [ids]}` → the list."""
    add, remove = body.get("add") or [], body.get("remove") or []
    return lists.change(str(body["list"]), list(add), list(remove)).render()  # type: ignore[call-overload]
