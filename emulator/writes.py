"""Write handlers: create/upsert, update, delete (single and bulk), relationships.

Creates speak the configured push dialect (`EmulatorConfig.push_dialect`), one per source we have:
- `match_on`: a top-level `"match_on": "<field>"` beside `data` upserts on that field; without it a taken unique
  value refuses the batch with 400 naming the field and the record holding it (the newer guide);
- `upsert`: any property beside `data` is refused as a validating framework does (400, class-validator's
  `property match_on should not exist`); creates upsert on the object's unique field by themselves (the seed);
- `strict`: the same refusal; a taken unique value fails the whole batch with 422 "Duplicate record found for
  email: x@y", no pointer (the reference site's error example).
The batch cap and the faults are the same in every dialect.
"""

from __future__ import annotations

import asyncio
import os
import signal

from starlette.responses import Response

from emulator.calls import Call
from emulator.errors import ApiError, ErrorItem, TakenError
from emulator.responses import CutResponse, JSONResponse
from emulator.schemas import ObjectDef
from emulator.store import RecordStore, WriteItem, require_object


def _writable(call: Call) -> ObjectDef:
    obj = require_object(call.request.path_params["object"])
    if not obj.writable:
        raise ApiError(405, f"{obj.slug} records are read-only")
    return obj


def _item(obj: ObjectDef, raw: object, base: str, need_id: bool) -> WriteItem:
    """Check the envelope of one `data` element; attribute rules are the store's business."""
    if not isinstance(raw, dict):
        raise ApiError(422, "expected a resource object", pointer=base)
    rid = raw.get("id")
    if need_id and not isinstance(rid, str):
        raise ApiError(422, "id is required to update a record", pointer=f"{base}/id")
    if not need_id and "id" in raw:
        raise ApiError(422, "id is assigned by the server; do not send it on create", pointer=f"{base}/id")
    if "type" in raw and raw["type"] != obj.slug:
        raise ApiError(422, f"type must be {obj.slug!r}", pointer=f"{base}/type")
    if "attributes" not in raw:
        raise ApiError(422, "attributes are required", pointer=f"{base}/attributes")
    return WriteItem(raw["attributes"], f"{base}/attributes", rid if need_id else None)


def _match_on(call: Call, obj: ObjectDef, body: dict[str, object]) -> str | None:
    """The field a create upserts on, as the dialect decides (None: plain creates)."""
    dialect = call.emu.config.push_dialect
    if dialect != "match_on":
        extra = sorted(k for k in body if k != "data")
        if extra:
            items = [ErrorItem(400, f"property {k} should not exist") for k in extra]
            raise ApiError(400, items[0].detail, items=items, nest_shape=True)
        return obj.unique_field if dialect == "upsert" else None
    value = body.get("match_on")
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "match_on must be a field name", pointer="/match_on")
    return value


_LABELS = {"email_addresses": "email", "domains": "domain"}  # how the reference site's example names the field


def _create(call: Call, obj: ObjectDef, items: list[WriteItem], match_on: str | None) -> list[dict[str, object]]:
    try:
        return call.emu.store.write(obj.slug, items, call.actor, match_on)
    except TakenError as err:
        if call.emu.config.push_dialect != "strict":
            raise
        field = obj.unique_field or ""
        raise ApiError(422, f"Duplicate record found for {_LABELS.get(field, field)}: {err.key}") from None


def _batch(body: dict[str, object], cfg_max: int) -> list[object]:
    data = body.get("data")
    if not isinstance(data, list):
        raise ApiError(422, "data must be an array of records", pointer="/data")
    if len(data) > cfg_max:
        raise ApiError(413, f"batch of {len(data)} records exceeds the limit of {cfg_max}; split it", pointer="/data")
    return data


async def h_create(call: Call) -> Response:
    obj = _writable(call)
    body = await call.body()
    item = _item(obj, body.get("data"), "/data", need_id=False)
    record = _create(call, obj, [item], _match_on(call, obj, body))[0]
    return JSONResponse({"data": record}, status_code=201)


async def h_bulk_create(call: Call) -> Response:
    obj = _writable(call)
    body = await call.body()
    match_on = _match_on(call, obj, body)
    data = _batch(body, call.emu.config.bulk_max)
    items = [_item(obj, raw, f"/data/{i}", need_id=False) for i, raw in enumerate(data)]
    response = JSONResponse({"data": _create(call, obj, items, match_on)})
    return await _after_commit(call, response)


async def _after_commit(call: Call, response: Response) -> Response:
    """Faults that strike once the write is committed: the client cannot know whether it happened."""
    faults, path = call.emu.faults, call.request.url.path
    pid = faults.kill_due(path)
    if pid:
        os.kill(pid, signal.SIGKILL)
    if faults.take("commit_then_drop", path):
        return CutResponse(response, 0)
    if faults.take("commit_then_5xx", path):
        raise ApiError(faults.current().error_status, "injected server error after commit")
    if faults.take("hold_answer", path):
        await asyncio.sleep(faults.current().hold_seconds)
    return response


async def h_update(call: Call) -> Response:
    obj = _writable(call)
    if obj.custom and call.emu.config.custom_single_patch_500:
        raise ApiError(500, "Internal server error")  # the live API's answer; bulk PATCH works
    body = await call.body()
    rid = call.request.path_params["id"]
    raw = body.get("data")
    if isinstance(raw, dict) and raw.get("id", rid) != rid:
        raise ApiError(422, "data.id does not match the URL", pointer="/data/id")
    call.emu.store.fetch(obj.slug, rid)
    item = _item(obj, {**raw, "id": rid} if isinstance(raw, dict) else raw, "/data", need_id=True)
    return JSONResponse({"data": call.emu.store.write(obj.slug, [item], call.actor)[0]})


async def h_bulk_update(call: Call) -> Response:
    obj = _writable(call)
    data = _batch(await call.body(), call.emu.config.bulk_max)
    items = [_item(obj, raw, f"/data/{i}", need_id=True) for i, raw in enumerate(data)]
    return JSONResponse({"data": call.emu.store.write(obj.slug, items, call.actor)})


async def h_delete(call: Call) -> Response:
    obj = _writable(call)
    call.emu.store.delete_many(obj.slug, [call.request.path_params["id"]])
    return Response(status_code=204)


async def h_bulk_delete(call: Call) -> Response:
    obj = _writable(call)
    ids = (await call.body()).get("items")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(422, "items must be an array of record ids", pointer="/items")
    if len(ids) > call.emu.config.bulk_max:
        raise ApiError(413, f"{len(ids)} ids exceed the batch limit of {call.emu.config.bulk_max}", pointer="/items")
    call.emu.store.delete_many(obj.slug, ids)
    return Response(status_code=204)


def _refs(obj: ObjectDef, name: str, data: object) -> list[str]:
    rel = RecordStore.relationship(obj, name)
    if not isinstance(data, list):
        raise ApiError(422, "data must be an array of {id, type}", pointer="/data")
    ids: list[str] = []
    for i, ref in enumerate(data):
        if not isinstance(ref, dict) or not isinstance(ref.get("id"), str):
            raise ApiError(422, "each entry needs an id", pointer=f"/data/{i}/id")
        if ref.get("type", rel.target) != rel.target:
            raise ApiError(422, f"type must be {rel.target!r}", pointer=f"/data/{i}/type")
        ids.append(ref["id"])
    return ids


async def h_relationship(call: Call) -> Response:
    p = call.request.path_params
    obj = require_object(p["object"])
    rel = RecordStore.relationship(obj, p["name"])
    store = call.emu.store
    method = call.request.method
    if method == "GET":
        store.fetch(obj.slug, p["id"])
        targets = store.related(obj, [p["id"]])[rel.name].get(p["id"], [])
    else:
        if not obj.writable:
            raise ApiError(405, f"{obj.slug} records are read-only")
        ids = _refs(obj, rel.name, (await call.body()).get("data"))
        mode = "remove" if method == "DELETE" else "replace" if rel.cardinality == "many" else "append"
        targets = store.set_links(obj.slug, p["id"], rel.name, ids, mode, call.actor)
        if method == "DELETE":
            return Response(status_code=204)
    return JSONResponse({"data": [{"type": rel.target, "id": t} for t in targets]})
