"""What every API handler receives: the request, the workspace and the caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response

from emulator.errors import ApiError
from emulator.state import Emulator


@dataclass
class Call:
    """What a handler needs: the request, the workspace state and who is calling."""

    request: Request
    emu: Emulator
    actor: str

    def param(self, key: str) -> str | None:
        values = self.request.query_params.getlist(key)
        return values[-1] if values else None

    async def body(self) -> dict[str, object]:
        raw = await self.request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body


Handler = Callable[[Call], Awaitable[Response]]
