"""Response types shared by the API routes: orjson bodies, deliberately broken bodies, and errors."""

from __future__ import annotations

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from emulator.errors import ApiError


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


class CutResponse(Response):
    """Announces the full Content-Length, sends `keep` bytes, then hangs up: an incomplete response."""

    def __init__(self, inner: Response, keep: int) -> None:
        super().__init__(status_code=inner.status_code)
        self.inner, self.keep = inner, keep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = self.inner.raw_headers
        await send({"type": "http.response.start", "status": self.inner.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": self.inner.body[: self.keep], "more_body": True})


def error_response(err: ApiError, nest: bool) -> Response:
    body = err.nest() if nest or err.nest_shape else err.jsonapi()
    return JSONResponse(body, status_code=err.status, headers=err.headers)
