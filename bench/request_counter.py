"""A loopback HTTP proxy that counts the requests a measured client sends to the emulator's time-series API.

The emulator's request statistics cover its CRM routes only; the time-series scenario points each client's
credentials file (`apiUrl`) at this proxy instead, so both sides are counted the same way, outside the
measured processes (the proxy runs in the bench's own process).
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

_FORWARDED = ("content-type", "authorization", "x-api-version")


class RequestCounter:
    """`with RequestCounter(origin) as proxy:` serves `proxy.origin`, forwarding every POST to `origin`."""

    def __init__(self, target_origin: str) -> None:
        self.target = target_origin.rstrip("/")
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=600.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def __enter__(self) -> RequestCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the clients use it

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with proxy._lock:
                    proxy.counts[self.path] += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() in _FORWARDED}
                answer = proxy._http.post(proxy.target + self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                self.send_header("content-type", answer.headers.get("content-type", "application/json"))
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
                pass

        return Handler
