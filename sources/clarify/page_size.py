"""The page size: the largest `page[limit]` the API accepts, learnt from its refusals and remembered.

The sources disagree: the seed and the public reference site say at most 1,000 records a page, the newer guide
says the live API rejects more than 500, and an independent server caps pages at 100 (its 400 says
`page.limit must not be greater than 100`). So a run asks for `PAGE_LIMIT` (1,000) and, when a listing is
refused with a 400 (or 422) about the page size, asks again with the size the refusal names (any of the usual
phrasings, in either error body shape: `core.http.parse_error_body`) or, when it names none, with the next of
500, 100, 25. What a server clamps without a word (`meta.limit` below the size asked) needs no learning: the
walk pages at the server's size (`pagination.py`).

The size learnt is shared by every thread of the run, and until a listing has been answered the page requests
go one at a time, so learning costs one refused request per run, not one per object. It is remembered in the
sync's dlt state (`STATE_KEY` in the source state, committed with the load) and in the nothing-changed note,
so later runs ask for it straight away. A dlt sync trusts a remembered size for a day (`RECHECK`) and then
asks for the larger page again: a cap the API has raised, or one odd answer, does not shrink pages for good.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from core.errors import ApiError
from sources.clarify.cursor import format_state_ts, parse_ts

T = TypeVar("T")

PARAM = "page[limit]"
STATE_KEY = "page_size"
FALLBACKS = (500, 100, 25)  # tried in turn when a refusal names no size
RECHECK = timedelta(days=1)
_REFUSED = frozenset({400, 422})
_ABOUT_PAGE_SIZE = re.compile(r"page\W*(?:limit|size)|per\W?page|\blimit\b|page size", re.IGNORECASE)
_GENERIC = frozenset({"", "bad request", "unprocessable entity"})
_NUMBER = re.compile(r"\d+")
# "less than 501" (strict) allows 500; "less than or equal to 500" allows 500.
_STRICTLY_BELOW = re.compile(r"(?:less|fewer|smaller|lower) than\s+(\d+)|\bbelow\s+(\d+)|<\s*(\d+)", re.IGNORECASE)


class PageSize:
    """The `page[limit]` this run asks for (thread-safe)."""

    def __init__(self) -> None:
        self.cap: int | None = None  # the largest size the API accepts, as far as this run knows
        self.learnt_at: datetime | None = None  # when `cap` was learnt from a refusal
        self._confirmed = False  # a listing has been answered at the current size
        self._gate = threading.Lock()
        self._lock = threading.Lock()

    def fit(self, params: dict[str, Any]) -> None:
        """Lower the params' `page[limit]` to the cap (in place: the walk reads the size it got)."""
        if PARAM in params and self.cap is not None and int(params[PARAM]) > self.cap:
            params[PARAM] = self.cap

    def fetch(self, params: dict[str, Any], send: Callable[[], T]) -> T:
        """`send()` (which reads `params`) at a page size the API accepts: a refusal of the size is learnt from and
        the request sent again, smaller. Raises what `send` raises otherwise, or when 25 is refused too."""
        if PARAM not in params:
            return send()
        if self._confirmed:
            return self._send(params, send)
        with self._gate:  # the first page requests go one at a time: one refusal teaches every thread
            return self._send(params, send)

    def _send(self, params: dict[str, Any], send: Callable[[], T]) -> T:
        while True:
            self.fit(params)
            try:
                body = send()
            except ApiError as exc:
                if not self._learn(exc, int(params[PARAM])):
                    raise
                continue
            self._confirmed = True
            return body

    def _learn(self, exc: ApiError, asked: int) -> bool:
        """Whether `exc` refused the page size `asked`; if so the cap is lowered (to what it names, or the next
        fallback) and True returned."""
        if exc.status not in _REFUSED:
            return False
        text = _error_text(exc.errors)
        if not _ABOUT_PAGE_SIZE.search(text) and text.strip().lower() not in _GENERIC:
            return False
        size = named_size(text, asked) or next((n for n in FALLBACKS if n < asked), None)
        if size is None:
            return False
        with self._lock:
            if self.cap is None or size < self.cap:
                self.cap, self.learnt_at = size, datetime.now(UTC)
            self._confirmed = False
        return True

    # -- remembering ---------------------------------------------------------------------------------------------
    def stored(self) -> dict[str, Any] | None:
        """What to remember (JSON), or None when nothing was learnt."""
        if self.cap is None or self.learnt_at is None:
            return None
        return {"limit": self.cap, "learnt_at": format_state_ts(self.learnt_at)}

    def adopt(self, stored: Any, *, max_age: timedelta | None = None, now: datetime | None = None) -> None:
        """Start from a remembered size (`stored()` of an earlier run) unless it is older than `max_age`; a size
        this run already knows is kept."""
        if self.cap is not None or not isinstance(stored, dict):
            return
        try:
            limit, learnt_at = int(stored["limit"]), parse_ts(stored["learnt_at"])
        except (KeyError, TypeError, ValueError):
            return  # not ours to read: ask for the full size
        if limit < 1 or (max_age is not None and (now or datetime.now(UTC)) - learnt_at > max_age):
            return
        self.cap, self.learnt_at = limit, learnt_at


def named_size(text: str, asked: int) -> int | None:
    """The largest page size below `asked` that a refusal's text allows (`must not be greater than 100`,
    `between 1 and 500`, `at most 500`, `less than 501`, ...), or None when it names none."""
    strict = {m.end(): int(next(g for g in m.groups() if g)) - 1 for m in _STRICTLY_BELOW.finditer(text)}
    sizes = [strict.get(m.end(), int(m.group())) for m in _NUMBER.finditer(text)]
    allowed = [n for n in sizes if 1 <= n < asked]
    return max(allowed) if allowed else None


def _error_text(errors: list[dict[str, Any]]) -> str:
    """Every error's detail, title and source (`page[limit]` may be named only there), as one text."""
    parts: list[str] = []
    for err in errors:
        source = err.get("source")
        parts += [str(err.get("detail") or ""), str(err.get("title") or "")]
        if isinstance(source, dict):
            parts += [str(v) for v in source.values()]
    return " ".join(p for p in parts if p)
