"""Recording artifacts: the API's `POST /meetings/{meeting}/recordings/{id}/artifacts`, and the storage origin that
serves the signed URLs it answers (a separate ASGI app, reached only on the storage socket: see `server.py`).

The storage origin behaves like an object store's presigned GET: no credentials are needed or looked at, a valid
signature within its lifetime gets the object, anything else a 403 whose XML body echoes the signature it was given
(as S3's `SignatureDoesNotMatch` does), which a client must not copy into its errors.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.calls import Call
from emulator.errors import ApiError
from emulator.recordings import OBJECT
from emulator.responses import JSONResponse
from emulator.state import Emulator
from emulator.transcripts import render_json, render_vtt

STORAGE_ROUTE = "storage:/recordings/{meeting}/{id}/{file}"  # how the stats name a download
_TYPES = {"vtt": "text/vtt; charset=utf-8", "json": "application/json", "mp4": "video/mp4"}


async def h_artifacts(call: Call) -> Response:
    p = call.request.path_params
    emu = call.emu
    emu.store.fetch("meeting", p["meeting"])
    attrs = orjson.loads(emu.store.fetch(OBJECT, p["id"])[2])
    if attrs.get("meeting_id") != p["meeting"]:
        raise ApiError(404, f"meeting {p['meeting']!r} has no recording {p['id']!r}")
    return JSONResponse({"data": emu.recordings.artifacts(emu.config, p["meeting"], p["id"])})


async def _download(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    recordings = emu.recordings
    p = request.path_params
    path = request.url.path
    refusal = recordings.refusal(path, dict(request.query_params))
    ext = p["file"].rsplit(".", 1)[-1]
    if refusal is not None:
        status = 403
        code, _, message = refusal.partition(": ")
        signature = request.query_params.get("X-Amz-Signature", "")
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message or code}</Message>"
            f"<SignatureProvided>{signature}</SignatureProvided></Error>"
        ).encode()
        response = Response(body, status, media_type="application/xml")
    elif not emu.store.exists(OBJECT, p["id"]) or ext not in _TYPES:
        status, response = 404, Response(b"<Error><Code>NoSuchKey</Code></Error>", 404, media_type="application/xml")
    else:
        status, response = 200, Response(_content(emu, p["id"], ext), 200, media_type=_TYPES[ext])
    emu.stats.record(request.method, STORAGE_ROUTE, status)
    return response


def _content(emu: Emulator, rid: str, ext: str) -> bytes:
    if ext == "mp4":
        return b"\x00\x00\x00\x18ftypmp42"  # a video no client of ours should ever ask for
    transcript = emu.recordings.transcript(rid)
    if ext == "vtt":
        return render_vtt(transcript)
    start = orjson.loads(emu.store.fetch(OBJECT, rid)[2]).get("start") or ""
    return render_json(transcript, str(start)[:10])


def storage_app(emu: Emulator) -> ASGIApp:
    """The storage origin: `GET /recordings/{meeting}/{id}/{file}` with a signed query, nothing else; every
    request that reaches it, whatever its path or method, is logged with its headers first."""
    app = Starlette(routes=[Route("/recordings/{meeting}/{id}/{file}", _download, methods=["GET"])])
    app.state.emulator = emu

    async def logged(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            emu.recordings.log(scope["method"], scope["path"], headers)
        await app(scope, receive, send)

    return logged
