"""The one HTTP client every API call goes through: origin pinning, retries, pacing, error mapping.

`HttpClient` is generic (CRM REST, the time-series JSON-RPC source and the push step share it); what is
specific to an API (which paths share a rate-limit budget, how to word its errors, which setting names its
origin) comes from the caller:

- credentials go only to the configured origin: absolute URLs on the same host but another scheme
  (the live API's `http://` `links.next`) are rewritten to the configured scheme and port, any other
  host is refused before a byte is sent; redirects are never followed;
- retries with exponential backoff and full jitter on 5xx, 409, timeouts, refused/dropped connections and
  truncated or unparsable bodies, all from one attempt budget per request; a 429 is waited out as long as its
  `Retry-After` asks (else a backoff that doubles with each 429 the request meets), using no attempt, until one
  request has waited `RetryPolicy.rate_limit_deadline` (600 s) in total. Requests that are not idempotent (POST)
  are retried only when the server cannot have acted on them (429, 409, connect errors);
- pacing per endpoint (the caller's `endpoint_key`, by default method + path) for a rolling window: the client
  keeps a log of when its own requests were counted (the response's arrival, never earlier than the server
  counted it), so it knows exactly when each of its slots frees, `window` after that (the window learnt from
  the largest `X-RateLimit-Reset` seen, or `RetryPolicy.rate_window`). `X-RateLimit-Limit` / `-Remaining`
  correct the log: requests the server counts that are not ours (another client on the same budget) are
  logged as if just sent, and while such requests share the budget and few slots are left, requests go at
  the steady rate (window / limit apart). A 429's `Retry-After` is the authority on when to try again.
  Thread-safe: turns are handed out under a lock, so threads on one endpoint queue behind each other;
- pacing of the whole client (`core/client_budget.py`): at most `max_per_minute` requests in any minute (a cap
  the user sets), and, once a 429 came with neither `Retry-After` nor `X-RateLimit-*`, at most the limit learnt
  from such 429s (additive increase, multiplicative decrease) in any `RetryPolicy.rate_window` (a minute unless
  set), across all endpoints and threads;
- errors that retrying will not fix become `ApiError` with a one-line message; the caller supplies
  `describe_error` to name the fix for its API, and `origin_hint` to name the setting that holds the origin.
  Unreachable hosts become `ApiUnreachableError`;
- request counts per tag (the sync reports requests per object) and per endpoint.

Secrets never reach logs: only the method, path, query and status are logged; a client made with
`show_paths=False` (downloads of signed URLs, whose signature is in the query or the path) names only the origin,
in logs and in errors alike.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import orjson

from core.client_budget import ClientBudget
from core.errors import ApiError, ApiUnreachableError

log = logging.getLogger("clarify_sync.http")


class _HiddenPaths(logging.Filter):
    """httpx logs every request's full URL (at INFO): for the origins of `show_paths=False` clients, only the
    origin, so a signed URL's signature never reaches a log whatever level the application configures."""

    def __init__(self) -> None:
        super().__init__()
        self.origins: set[tuple[str, int]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.origins and isinstance(record.args, tuple):
            record.args = tuple(self._hidden(arg) for arg in record.args)
        return True

    def _hidden(self, arg: object) -> object:
        if isinstance(arg, httpx.URL) and (arg.host, arg.port or _DEFAULT_PORTS.get(arg.scheme, 0)) in self.origins:
            return f"{arg.scheme}://{arg.netloc.decode()}"
        return arg


_HIDDEN_PATHS = _HiddenPaths()
logging.getLogger("httpx").addFilter(_HIDDEN_PATHS)

RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Errors where the request never reached the server: safe to retry even for POST.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Backoff for attempt n is uniform in [0, min(max, base * 2**n)] (full jitter)."""

    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0  # a Retry-After above this is capped, not obeyed blindly
    # 429s are waited out (Retry-After, else backoff) without using attempts, until one request has waited
    # this long in total; then the rate-limit error is raised.
    rate_limit_deadline: float = 600.0
    timeout: float = 30.0
    connect_attempts: int = 3  # refused connections: a wrong URL should fail fast
    pace_below: float = 0.1  # start pacing when remaining < this fraction of the limit
    # The rate limit's rolling window in seconds; None: learn it from X-RateLimit-Reset, and a minute for the
    # limit learnt from 429s without headers (`core/client_budget.py`).
    rate_window: float | None = None


@dataclass
class RequestStats:
    """Counts of requests actually sent (retries included)."""

    requests: int = 0
    retries: int = 0
    by_tag: Counter[str] = field(default_factory=Counter)
    retries_by_tag: Counter[str] = field(default_factory=Counter)  # per tag, for the run records
    rate_limited_by_tag: Counter[str] = field(default_factory=Counter)  # 429 answers per tag
    by_endpoint: Counter[str] = field(default_factory=Counter)
    slept: float = 0.0


@dataclass
class _Budget:
    """One endpoint's rolling-window budget as this client sees it (guarded by the client lock)."""

    limit: int | None = None  # X-RateLimit-Limit; None until a response said
    window: float = 0.0  # the rolling window's length: the largest Reset seen (or RetryPolicy.rate_window)
    # When each request counted in the window was counted: ours at the arrival of their response (the server
    # counted them before that), others' (inferred from Remaining) at the time we learnt of them.
    log: deque[float] = field(default_factory=deque)
    in_flight: int = 0  # sent or waiting for their turn, response not yet in
    foreign_until: float = 0.0  # requests not ours were counted in the window until then
    next_at: float = 0.0  # earliest time the next steady-rate request may go
    hold_until: float = 0.0  # a 429's Retry-After: nothing goes before then

    def prune(self, now: float) -> None:
        while self.log and self.log[0] + self.window <= now:
            self.log.popleft()


@dataclass
class _Try:
    """Where one request stands in its attempt budget."""

    attempt: int = 0
    connect_failures: int = 0
    refusals: int = 0  # 429s met (those use no attempt)
    rate_limited: float = 0.0  # seconds waited on 429s, and for a turn after one


class HttpClient:
    """An httpx.Client pinned to one origin, with retries, pacing and error mapping."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        describe_error: Callable[[int, str, str], str] | None = None,
        origin_hint: str = "check the base URL",
        endpoint_key: Callable[[str, str], str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
        auth: httpx.Auth | None = None,
        show_paths: bool = True,
        max_per_minute: int | None = None,
    ) -> None:
        """`origin_hint` ends the messages for a wrong origin (unreachable, foreign links, bodies that are not
        JSON); `endpoint_key(method, path)` names the rate-limit budget a request counts against; `show_paths`
        False keeps paths and queries out of logs and errors (`describe_error` is given the origin instead);
        `max_per_minute` caps the requests of this client in any minute (None: no cap)."""
        parts = urlsplit(base_url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"base URL must be http(s): {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._host = parts.hostname.lower()
        self._port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self._show_paths = show_paths
        if not show_paths:
            _HIDDEN_PATHS.origins.add((self._host, self._port))
        self.retry = retry or RetryPolicy()
        self._describe = describe_error or _default_describe
        self._origin_hint = origin_hint
        self._endpoint_key = endpoint_key or _per_path
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._budgets: dict[str, _Budget] = {}
        self._shared = ClientBudget(window=self.retry.rate_window or 60.0, per_minute=max_per_minute, clock=clock)
        self.stats = RequestStats()
        self._client = httpx.Client(
            headers=dict(headers or {}),
            timeout=httpx.Timeout(self.retry.timeout, connect=min(10.0, self.retry.timeout)),
            follow_redirects=False,
            transport=transport,
            auth=auth,  # e.g. a token provider that sets and refreshes `Authorization: Bearer`
        )

    # -- lifecycle ----------------------------------------------------------------------------------------
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- origin ---------------------------------------------------------------------------------------------
    def resolve(self, url_or_path: str) -> str:
        """An absolute URL on the configured origin; another scheme on the same host is rewritten."""
        parts = urlsplit(url_or_path)
        if not parts.scheme and not parts.netloc:
            path = url_or_path if url_or_path.startswith("/") else "/" + url_or_path
            return self.base_url + path
        host = (parts.hostname or "").lower()
        port = parts.port
        if (
            parts.scheme not in _DEFAULT_PORTS
            or host != self._host
            or (port is not None and port != self._port and port != _DEFAULT_PORTS[parts.scheme])
        ):
            raise ApiError(
                f"refusing to call {parts.scheme}://{parts.netloc}: only {self._scheme}://{self._netloc} "
                f"receives credentials ({self._origin_hint})"
            )
        return urlunsplit((self._scheme, self._netloc, parts.path, parts.query, ""))

    # -- requests -------------------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url_or_path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        tag: str | None = None,
        idempotent: bool | None = None,
        retry_if: Callable[[httpx.Response], float | None] | None = None,
    ) -> httpx.Response:
        """Send with retries; returns a successful response with its body read, or raises.

        `retry_if` classifies a successful (2xx) response whose body reports a transient error (JSON-RPC
        puts errors in a 200 body): None accepts it; a number retries after at least that many seconds
        (0: the usual backoff). After the last attempt the response is returned for the caller to map.
        """
        url = self.resolve(url_or_path)
        endpoint = self._endpoint_key(method, urlsplit(url).path)
        shown = self._shown_path(url)
        resend = _may_resend(method, idempotent)
        content, headers = _encode(json, form)
        state = _Try()
        while True:
            state.attempt += 1
            sent_at = self._pace(endpoint, state)
            self._count(endpoint, tag, retry=state.attempt > 1 or state.refusals > 0)
            try:
                response = self._client.request(method, url, params=params, content=content, headers=headers)
            except httpx.TransportError as exc:
                self._after_transport_error(exc, method, url, endpoint, state, resend=resend, sent_at=sent_at)
                continue
            _break_stream_cycle(response)
            self._record_budget(endpoint, response, sent_at=sent_at)
            log.debug("%s %s -> %s", method, self._shown(str(response.request.url)), response.status_code)
            if response.status_code == 429 and tag:
                with self._lock:
                    self.stats.rate_limited_by_tag[tag] += 1
            if not self._sends_again(response, shown, endpoint, state, resend=resend, retry_if=retry_if):
                return response

    def request_json(
        self,
        method: str,
        url_or_path: str,
        *,
        retry_if: Callable[[httpx.Response], float | None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Like `request`, parsing the body with orjson; a truncated or garbled body is retried.

        The parse is `request`'s `retry_if`, so a bad body uses an attempt of the one budget (retrying
        around `request` would multiply the budgets).
        """
        resend = _may_resend(method, kwargs.get("idempotent"))
        parsed: list[tuple[httpx.Response, Any]] = []  # the last response that parsed, and its body

        def parse_then(response: httpx.Response) -> float | None:
            try:
                body = _json_body(method, response)
            except orjson.JSONDecodeError:
                if resend:
                    log.info("%s %s: unparsable body, retrying", method, self._shown(url_or_path))
                    return 0.0
                return None
            parsed[:] = [(response, body)]
            return retry_if(response) if retry_if is not None else None

        response = self.request(method, url_or_path, retry_if=parse_then, **kwargs)
        if parsed and parsed[0][0] is response:
            return parsed[0][1]
        try:  # the last attempt's response (retry_if is not asked about it)
            return _json_body(method, response)
        except orjson.JSONDecodeError:
            raise ApiError(
                f"{method} {self._shown_path(url_or_path)} returned a body that is not JSON: {self._origin_hint}"
            ) from None

    def get_json(self, url_or_path: str, params: Mapping[str, Any] | None = None, *, tag: str | None = None) -> Any:
        return self.request_json("GET", url_or_path, params=params, tag=tag)

    # -- internals ------------------------------------------------------------------------------------------
    def _shown(self, url: str) -> str:
        """What logs may say of a URL: all but user-info, or only the origin when paths are not to be shown."""
        return _loggable(url) if self._show_paths else f"{self._scheme}://{self._netloc}"

    def _shown_path(self, url: str) -> str:
        """What errors may say of a URL's path: the path, or the origin when paths are not to be shown."""
        return urlsplit(url).path if self._show_paths else f"{self._scheme}://{self._netloc}"

    def _after_transport_error(
        self,
        exc: httpx.TransportError,
        method: str,
        url: str,
        endpoint: str,
        state: _Try,
        *,
        resend: bool,
        sent_at: float,
    ) -> None:
        """A request that failed in transport: back off for another attempt, or raise if it is the last."""
        not_sent = isinstance(exc, _NOT_SENT)
        self._record_budget(endpoint, None, sent_at=sent_at, counted=not not_sent)
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            state.connect_failures += 1
            if state.connect_failures >= self.retry.connect_attempts:
                raise ApiUnreachableError(
                    f"cannot reach {self._scheme}://{self._netloc} ({exc.__class__.__name__}): {self._origin_hint}"
                ) from None
        if (not_sent or resend) and state.attempt < self.retry.max_attempts:
            log.info("%s %s: %s, retrying", method, self._shown(url), exc.__class__.__name__)
            self._backoff(state.attempt)
            return
        if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
            raise ApiUnreachableError(
                f"{method} {self._shown_path(url)} kept failing ({exc.__class__.__name__}) after "
                f"{state.attempt} attempts: {self._origin_hint}"
            ) from None
        raise exc

    def _sends_again(
        self,
        response: httpx.Response,
        path: str,
        endpoint: str,
        state: _Try,
        *,
        resend: bool,
        retry_if: Callable[[httpx.Response], float | None] | None,
    ) -> bool:
        """Whether the answer asks for another attempt (waited for here); an error retrying cannot fix raises."""
        policy = self.retry
        status = response.status_code
        if status == 429 and state.rate_limited < policy.rate_limit_deadline:
            # Waited out, not counted as an attempt. Retry-After says when to come back; without it, a backoff that
            # doubles with each 429 this request meets (a 429 without any header also taught the client budget).
            state.refusals += 1
            state.attempt -= 1
            asked = _retry_after(response)
            wait = min(asked if asked is not None else self._backoff_delay(state.refusals), policy.retry_after_max)
            if asked is not None:
                state.rate_limited += 1e-3  # the wait is counted when the request's turn comes (`_pace`)
                self._hold(endpoint, wait)  # the endpoint's next turn waits for it
            else:
                state.rate_limited += max(wait, 1e-3)
                self._wait(wait)
            return True
        last = state.attempt >= policy.max_attempts
        if status in RETRY_STATUSES and not last and (resend or status == 409):
            self._backoff(state.attempt)
            return True
        if status >= 400:
            detail, errors = parse_error_body(response.content)
            raise ApiError(" ".join(self._describe(status, path, detail).split()), status=status, errors=errors)
        at_least = retry_if(response) if retry_if is not None and not last else None
        if at_least is None:
            return False
        self._backoff(state.attempt, at_least)
        return True

    def _count(self, endpoint: str, tag: str | None, *, retry: bool) -> None:
        with self._lock:
            self.stats.requests += 1
            self.stats.by_endpoint[endpoint] += 1
            if tag:
                self.stats.by_tag[tag] += 1
            if retry:
                self.stats.retries += 1
                self.stats.retries_by_tag[tag or ""] += 1

    def _backoff(self, attempt: int, at_least: float = 0.0) -> None:
        self._wait(max(min(at_least, self.retry.retry_after_max), self._backoff_delay(attempt)))

    def _backoff_delay(self, attempt: int) -> float:
        p = self.retry
        return min(p.backoff_max, p.backoff_base * (2 ** (attempt - 1))) * (0.5 + self._rng() / 2)

    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self.stats.slept += seconds
        self._sleep(seconds)

    def _record_budget(
        self, endpoint: str, response: httpx.Response | None, *, sent_at: float, counted: bool = True
    ) -> None:
        """Log a finished request (sent at `sent_at`) and take the server's count from its headers.

        `response` None: the request failed in transport; `counted` says whether the server may have counted it.
        """
        limit = remaining = reset = None
        if response is not None:
            counted = response.status_code != 429  # a refused request does not use the budget
            limit = _int_header(response, "x-ratelimit-limit")
            remaining = _int_header(response, "x-ratelimit-remaining")
            reset = _float_header(response, "x-ratelimit-reset")
        self._shared.finish(sent_at, counted=counted, bare_429=response is not None and _bare_429(response))
        now = self._clock()
        with self._lock:
            budget = self._budgets.setdefault(endpoint, _Budget())
            budget.in_flight = max(0, budget.in_flight - 1)
            if limit is not None and limit >= 1:
                budget.limit = limit
            if reset is not None:
                budget.window = self.retry.rate_window or max(budget.window, reset, 1e-3)
            elif self.retry.rate_window:
                budget.window = self.retry.rate_window
            if budget.window <= 0:
                return
            if counted:
                budget.log.append(now)
            budget.prune(now)
            if budget.limit is None or remaining is None:
                return
            # The server counts ours (those still in flight may be counted already) and anyone else's.
            others = (budget.limit - max(0, remaining)) - len(budget.log) - budget.in_flight
            if others > 0:
                budget.log.extend([now] * others)  # as young as they can be: free no sooner than a window on
                budget.foreign_until = now + budget.window

    def _hold(self, endpoint: str, seconds: float) -> None:
        """A 429: the server's Retry-After says when a slot frees, whatever the log says."""
        with self._lock:
            budget = self._budgets.setdefault(endpoint, _Budget())
            now = self._clock()
            budget.hold_until = max(budget.hold_until, now + seconds)
            if budget.limit is not None and budget.window > 0:
                budget.prune(now)
                while budget.log and len(budget.log) + budget.in_flight >= budget.limit:
                    budget.log.popleft()  # freed by then, on the server's word

    def _pace(self, endpoint: str, state: _Try) -> float:
        """Wait, if the endpoint's budget or the client's is used up, for this request's turn, which it takes
        before waiting; returns when it went. A wait after a 429 counts towards the request's rate-limit deadline.

        A free slot: go now. None: wait until the oldest request that holds one leaves the window (turns are
        handed out in order under the lock, so parallel threads on one endpoint queue behind each other instead
        of all going when a slot frees). While requests not ours share the budget and few slots are left, go
        at the steady rate (window / limit apart), which leaves the others room.
        """
        shared_at = self._shared.take_turn()
        with self._lock:
            budget = self._budgets.setdefault(endpoint, _Budget())
            now = self._clock()
            limit, window = budget.limit, budget.window
            at = max(now, budget.hold_until, shared_at)
            if limit is not None and window > 0:
                budget.prune(now)
                held = len(budget.log) + budget.in_flight  # slots held before this request
                steady = budget.foreign_until > now and limit - held <= max(2, int(limit * self.retry.pace_below))
                if held >= limit:
                    oldest = held - limit  # the log entry whose expiry frees this request's slot
                    at = max(at, budget.log[oldest] + window if oldest < len(budget.log) else now + window)
                if steady:
                    at = max(at, budget.next_at)
                    budget.next_at = at + window / limit
            budget.in_flight += 1
        self._wait(at - now)
        if state.refusals:
            state.rate_limited += max(0.0, at - now)
        return at


def _per_path(method: str, path: str) -> str:
    """The default rate-limit budget: one per method and path."""
    return f"{method.upper()} {path}"


def _may_resend(method: str, idempotent: bool | None) -> bool:
    """Whether a request may be sent again after the server may have acted on it; POST only when told."""
    return idempotent if idempotent is not None else method.upper() != "POST"


def _encode(json: Any, form: Mapping[str, str] | None) -> tuple[bytes | None, dict[str, str] | None]:
    """The body and its content type: JSON, or a form (OAuth token requests are form-encoded, RFC 6749)."""
    if form is not None:
        return urlencode(form).encode(), {"content-type": "application/x-www-form-urlencoded"}
    if json is not None:
        return orjson.dumps(json), {"content-type": "application/json"}
    return None, None


def _json_body(method: str, response: httpx.Response) -> Any:
    """The parsed body; no content is None, except for a GET, where it is a truncated body (JSONDecodeError)."""
    if not response.content and (response.status_code == 204 or method.upper() != "GET"):
        return None
    return orjson.loads(response.content)


def parse_error_body(body: bytes) -> tuple[str, list[dict[str, Any]]]:
    """(one-line detail, JSON:API-style errors) from the two common JSON error shapes, or the raw text.

    JSON:API's `{"errors": [{"detail", "source": {"pointer"}}]}` and NestJS's `{"statusCode", "message", "error"}`
    (Clarify answers with both, depending on the endpoint).
    """
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip(), []
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            parts = []
            for err in errors:
                if not isinstance(err, dict):
                    continue
                text = err.get("detail") or err.get("title") or ""
                pointer = (err.get("source") or {}).get("pointer") if isinstance(err.get("source"), dict) else None
                parts.append(f"{text} ({pointer})" if pointer else str(text))
            return "; ".join(p for p in parts if p), [e for e in errors if isinstance(e, dict)]
        if "message" in data or "statusCode" in data:
            msg = data.get("message")
            text = "; ".join(map(str, msg)) if isinstance(msg, list) else str(msg or data.get("error") or "")
            return text, [{"status": str(data.get("statusCode", "")), "title": data.get("error"), "detail": text}]
    return (str(data)[:200] if data is not None else ""), []


def _default_describe(status: int, path: str, detail: str) -> str:
    return f"HTTP {status} on {path}: {detail or 'no detail'}"


def _break_stream_cycle(response: httpx.Response) -> None:
    """httpx's response and its (already read and closed) stream reference each other, so every response and
    its body would outlive their last use until the cyclic collector runs, which syncs make rare
    (`pipelines/gc_tuning.py`): 300 kB per page, hundreds of MB at 1,000,000 records. Reference counting frees
    them once the stream is swapped for an empty one (the body stays in `response.content`)."""
    response.stream = httpx.ByteStream(b"")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def _bare_429(response: httpx.Response) -> bool:
    """A 429 that says neither when to come back nor what the budget is: the client budget learns from it."""
    headers = response.headers
    return response.status_code == 429 and not any(
        name in headers for name in ("retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
    )


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = _float_header(response, name)
    return None if value is None else int(value)


def _float_header(response: httpx.Response, name: str) -> float | None:
    value = response.headers.get(name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _loggable(url: str) -> str:
    """URL without user-info (credentials never travel in the URL, but be safe)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
