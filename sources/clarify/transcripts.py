"""Reading one recording's transcript: one artifacts call to the API, one download from the storage origin.

`POST /meetings/{meeting}/recordings/{id}/artifacts` answers short-lived signed URLs, keyed `videoUrl` /
`transcriptionUrl` (the seed) or `video_url` / `transcript_url` (the reference site); both are read, the video is
never fetched. The transcript URL is fetched with a plain GET by `SignedDownloads`: one `HttpClient` per storage
origin, made without any credential (so the API key or token cannot reach that host whatever the URL says), pinned to
that origin, and told to show neither paths nor queries, so the signature never reaches a log or an error. The URL
itself lives only on this function's stack: it is never stored, logged, put in state or in an exception's message.

What a recording comes to (`Fetched.status`):
- `transcribed`: the transcript was read (WebVTT or JSON 1.11, `transcript_formats.py`);
- `pending`: nothing to read yet (the artifacts call answers 404, or a null transcript URL, or the store has no such
  object): asked again on the next run;
- `unreadable`: the file is neither format: asked again when the recording changes;
- `no_meeting`: the recording names no meeting, so there is no artifacts path to ask;
- `failed`: refused or unreachable for now (a download refused again after a fresh artifacts call, a store that kept
  failing, an artifacts call refused with 403): nothing is written, so the recording stays due for the next run.
A 401 on the artifacts call, or an API that keeps failing (5xx, 429, unreachable), stops the run like any API call.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.errors import ApiError, ApiUnreachableError
from core.http import HttpClient, RetryPolicy
from sources.clarify.api import ClarifyApi
from sources.clarify.settings import TRANSCRIPT_TABLE
from sources.clarify.transcript_formats import Transcript, UnreadableTranscript, parse_transcript

TAG = TRANSCRIPT_TABLE  # the API client's request counter for artifacts calls, and the downloads'
TRANSCRIPT_KEYS = ("transcriptionUrl", "transcript_url")  # the seed's spelling, the reference site's
TRANSCRIBED, PENDING, UNREADABLE, NO_MEETING, FAILED = "transcribed", "pending", "unreadable", "no_meeting", "failed"
_REFUSED = frozenset({400, 401, 403})  # how object stores answer an expired or badly signed URL
_GONE = frozenset({404, 410})


@dataclass(frozen=True)
class Due:
    """A recording whose transcript is to be read, as the warehouse knows it."""

    recording: str
    meeting: str | None
    updated_at: datetime | None  # the recording's `_updated_at` (None when its records carry none)
    first_checked_at: datetime | None = None  # when a pending recording was first asked for
    stored_status: str | None = None  # what the warehouse holds for it now (None: nothing)


@dataclass(frozen=True)
class Fetched:
    due: Due
    status: str
    transcript: Transcript | None = None
    problem: str | None = None  # one line for a person; never a URL


class DownloadError(Exception):
    """A download that did not bring the file: `status` is the store's HTTP status (None: it did not answer)."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


class SignedDownloads:
    """Plain GETs of signed URLs: per storage origin, one credential-free `HttpClient` that shows no paths."""

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self._retry = retry
        self._clients: dict[str, HttpClient] = {}
        self._lock = threading.Lock()

    @property
    def requests(self) -> int:
        with self._lock:
            return sum(client.stats.requests for client in self._clients.values())

    def get(self, url: str) -> bytes:
        """The body at `url`, or `DownloadError` with a message that names the origin only."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.hostname or ''}"
        try:
            response = self._client(parts.scheme, parts.netloc).request("GET", url, tag=TAG)
        except ApiError as exc:
            raise DownloadError(str(exc), exc.status) from None
        except (ApiUnreachableError, httpx.HTTPError, ValueError) as exc:
            raise DownloadError(f"transcript download from {origin} failed ({exc.__class__.__name__})", None) from None
        if response.status_code != 200:  # a redirect, never followed: the URL is not the file it stands for
            raise DownloadError(f"transcript download from {origin} answered HTTP {response.status_code}", 403)
        return response.content

    def _client(self, scheme: str, netloc: str) -> HttpClient:
        origin = f"{scheme}://{netloc}"
        with self._lock:
            client = self._clients.get(origin)
            if client is None:
                client = self._clients[origin] = HttpClient(
                    origin,
                    retry=self._retry,
                    describe_error=_describe_download,
                    origin_hint="the transcript's storage host does not answer",
                    endpoint_key=lambda method, path: f"{method} storage",
                    show_paths=False,
                )
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def _describe_download(status: int, origin: str, detail: str) -> str:
    # Never `detail`: an object store's error body may echo the signature it was given.
    return f"transcript download from {origin} failed with HTTP {status}"


def read_transcript(api: ClarifyApi, downloads: SignedDownloads, due: Due) -> Fetched:
    """One recording's transcript (see the module docstring for what each outcome means); a refused download is
    asked for once more with fresh URLs."""
    if due.meeting is None:
        return Fetched(due, NO_MEETING, problem="names no meeting, so its transcript cannot be asked for")
    for _ in range(2):
        fetched = _attempt(api, downloads, due, due.meeting)
        if fetched is not None:
            return fetched
    return Fetched(due, FAILED, problem="transcript download refused twice: asked again next run")


def _attempt(api: ClarifyApi, downloads: SignedDownloads, due: Due, meeting: str) -> Fetched | None:
    """One artifacts call and its download; None when the store refused the URL (expired, or a bad signature)."""
    try:
        url = _transcript_url(api.artifacts(meeting, due.recording, tag=TAG))
    except ApiError as exc:
        if exc.status == 404:
            return Fetched(due, PENDING)
        if exc.status == 403:
            return Fetched(due, FAILED, problem="artifacts refused (HTTP 403): asked again next run")
        raise
    if url is None:
        return Fetched(due, PENDING)
    try:
        body = downloads.get(url)
    except DownloadError as exc:
        if exc.status in _REFUSED:
            return None
        if exc.status in _GONE:
            return Fetched(due, PENDING)
        return Fetched(due, FAILED, problem=f"{exc}: asked again next run")
    return _parsed(due, body)


def _parsed(due: Due, body: bytes) -> Fetched:
    try:
        return Fetched(due, TRANSCRIBED, parse_transcript(body))
    except UnreadableTranscript as exc:
        return Fetched(due, UNREADABLE, problem=f"transcript unreadable ({exc}): asked again when it changes")


def _transcript_url(data: dict[str, Any]) -> str | None:
    for key in TRANSCRIPT_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None
