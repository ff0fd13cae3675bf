"""`/_emulator/*`: unauthenticated control routes for other processes (benchmarks, the CLI)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.errors import ApiError
from emulator.list_reads import control_create, control_members

if TYPE_CHECKING:
    from emulator.state import Emulator


def _json(content: object, status: int = 200) -> Response:
    return Response(orjson.dumps(content, default=_default), status_code=status, media_type="application/json")


def _default(value: object) -> object:
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError


def config_json(emu: Emulator) -> dict[str, object]:
    return dataclasses.asdict(emu.config)


ControlHandler = Callable[["Emulator", dict[str, object]], object]


def _route(path: str, method: str, handler: ControlHandler) -> Route:
    async def run(request: Request) -> Response:
        emu: Emulator = request.app.state.emulator
        try:
            raw = await request.body()
            body = orjson.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            return _json(handler(emu, body))
        except (ValueError, TypeError, ApiError, orjson.JSONDecodeError) as exc:
            return _json({"error": str(exc)}, 400)

    return Route(path, run, methods=[method])


def _faults(emu: Emulator, body: dict[str, object]) -> object:
    if body:
        emu.faults.set(**body)
    else:
        emu.faults.clear()
    return dataclasses.asdict(emu.faults.current())


def _clock(emu: Emulator, body: dict[str, object]) -> object:
    if "freeze" in body:
        emu.clock.freeze(body["freeze"])  # type: ignore[arg-type]
    elif "advance" in body:
        emu.clock.advance(float(body["advance"]))  # type: ignore[arg-type]
    elif body.get("resume"):
        emu.clock.resume()
    else:
        raise ValueError('send {"freeze": ts}, {"advance": seconds} or {"resume": true}')
    return emu.clock.state()


def _config(emu: Emulator, body: dict[str, object]) -> object:
    if "access_tokens" in body:
        body = {**body, "access_tokens": frozenset(body["access_tokens"])}  # type: ignore[arg-type]
    emu.config_update(**body)
    return config_json(emu)


def _mutate(emu: Emulator, body: dict[str, object]) -> object:
    return emu.mutate(**body)  # type: ignore[arg-type]


def _recordings(emu: Emulator, body: dict[str, object]) -> object:
    """`{"create": n, "transcribed": false}`, `{"transcribe": [ids]}`, `{"retranscribe": [ids]}` or
    `{"expire_next": n}` (any together); answers the ids created."""
    recordings = emu.recordings
    created = recordings.create(_count(body, "create"), transcribed=bool(body.get("transcribed", True)))
    recordings.transcribe(_ids(body, "transcribe"))
    recordings.retranscribe(_ids(body, "retranscribe"))
    if "expire_next" in body:
        recordings.expire_next(_count(body, "expire_next"))
    return {"created": created}


def _count(body: dict[str, object], key: str) -> int:
    value = body.get(key, 0)
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a count")
    return value


def _ids(body: dict[str, object], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list of recording ids")
    return [str(v) for v in value]


def _storage_requests(emu: Emulator, body: dict[str, object]) -> object:
    return [dataclasses.asdict(r) for r in emu.recordings.storage_requests]


def _reset_stats(emu: Emulator, body: dict[str, object]) -> object:
    emu.stats.reset()
    return emu.stats.as_json()


def _health(emu: Emulator, body: dict[str, object]) -> object:
    return {"status": "ok", "workspace": emu.config.workspace, "clock": emu.clock.state()}


HANDLERS: list[tuple[str, str, ControlHandler]] = [
    ("/_emulator/health", "GET", _health),
    ("/_emulator/stats", "GET", lambda emu, _: emu.stats.as_json()),
    ("/_emulator/stats/reset", "POST", _reset_stats),
    ("/_emulator/faults", "GET", lambda emu, _: dataclasses.asdict(emu.faults.current())),
    ("/_emulator/faults", "POST", _faults),
    ("/_emulator/clock", "POST", _clock),
    ("/_emulator/config", "GET", lambda emu, _: config_json(emu)),
    ("/_emulator/config", "POST", _config),
    ("/_emulator/mutate", "POST", _mutate),
    ("/_emulator/lists", "POST", lambda emu, body: control_create(emu.lists, body)),
    ("/_emulator/lists/members", "POST", lambda emu, body: control_members(emu.lists, body)),
    ("/_emulator/recordings", "POST", _recordings),
    ("/_emulator/storage/requests", "GET", _storage_requests),
    ("/_emulator/oauth", "GET", lambda emu, _: emu.oauth.report()),
    ("/_emulator/oauth/revoke", "POST", lambda emu, _: {"revoked": emu.oauth.revoke_all()}),
]


def control_routes() -> list[Route]:
    return [_route(path, method, handler) for path, method, handler in HANDLERS]
