"""Meeting recordings: which are transcribed (and how often), signed artifact URLs, and the storage origin's log.

Recordings are records of the `meeting_recording` object (listed like any object); this holds what the records do
not: whether a recording has a transcript yet and its revision (a re-transcription bumps it and touches the
record's `_updated_at`). `POST /meetings/{meeting}/recordings/{id}/artifacts` (`emulator/artifacts.py`) answers URLs
on the storage origin, signed with a secret only this emulator knows and expiring `artifact_ttl` seconds later on the
emulator's clock; the storage origin refuses (403) an expired URL or a bad signature, and keeps every request's
method, path and headers (`storage_requests`), so a test can prove no credential ever reached it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import orjson

from emulator.clock import Clock
from emulator.config import EmulatorConfig
from emulator.errors import ApiError
from emulator.store import SYSTEM_ACTOR, RecordStore, WriteItem
from emulator.transcripts import Transcript, generate

OBJECT = "meeting_recording"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass
class _State:
    transcribed: bool = True
    revision: int = 0
    ordinal: int = 0  # creation order: `transcript_format = "mixed"` alternates on it, so any two differ


@dataclass(frozen=True)
class StorageRequest:
    method: str
    path: str
    headers: dict[str, str]


class Recordings:
    def __init__(self, store: RecordStore, clock: Clock, seed: int) -> None:
        self.store, self.clock, self.seed = store, clock, seed
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}
        self._expire_next = 0
        self.storage_origin = ""  # set by the server once the storage socket is bound
        self.storage_requests: list[StorageRequest] = []

    # -- recordings ---------------------------------------------------------------------------------------
    def create(self, count: int, *, transcribed: bool = True, meetings: list[str] | None = None) -> list[str]:
        """`count` recordings, one per meeting in turn (the first meetings by id unless `meetings` says)."""
        pool = meetings or self.store.ids("meeting")
        if count and not pool:
            raise ApiError(422, "no meetings to record")
        items = []
        for n in range(count):
            meeting = pool[n % len(pool)]
            attrs = orjson.loads(self.store.fetch("meeting", meeting)[2])
            items.append(
                WriteItem(
                    {
                        "meeting_id": meeting,
                        "title": f"Recording of {attrs.get('title') or meeting}",
                        "start": attrs.get("start_time"),
                        "duration": None,
                    },
                    f"/data/{n}/attributes",
                )
            )
        ids = [str(r["id"]) for r in self.store.write(OBJECT, items, SYSTEM_ACTOR)] if items else []
        with self._lock:
            first = len(self._states)
            self._states.update({rid: _State(transcribed, ordinal=first + n) for n, rid in enumerate(ids)})
        if ids:  # a recording lasts as long as its transcript
            lengths = [
                WriteItem({"duration": self.transcript(rid).duration_ms / 1000}, f"/data/{n}/attributes", rid)
                for n, rid in enumerate(ids)
            ]
            self.store.write(OBJECT, lengths, SYSTEM_ACTOR)
        return ids

    def transcribe(self, ids: list[str]) -> None:
        """Transcripts become available (the record is not touched: whether the live API touches it is unknown)."""
        with self._lock:
            for rid in ids:
                self._states.setdefault(rid, _State()).transcribed = True

    def retranscribe(self, ids: list[str]) -> None:
        """A new transcript for each; the record's `_updated_at` moves."""
        with self._lock:
            for rid in ids:
                state = self._states.setdefault(rid, _State())
                state.transcribed, state.revision = True, state.revision + 1
        self.store.touch(OBJECT, ids, SYSTEM_ACTOR)

    def expire_next(self, count: int) -> None:
        """The next `count` transcript downloads answer 403 "expired", as a URL that expired in a slow queue."""
        with self._lock:
            self._expire_next = count

    def transcribed(self, rid: str) -> bool:
        with self._lock:
            return self._states.get(rid, _State()).transcribed

    def transcript(self, rid: str) -> Transcript:
        """The current transcript of a recording (what a download serves, and what a test expects)."""
        with self._lock:
            revision = self._states.get(rid, _State()).revision
        title = orjson.loads(self.store.fetch(OBJECT, rid)[2]).get("title") or rid
        return generate(self.seed, rid, revision, title)

    def format_of(self, config: EmulatorConfig, rid: str) -> str:
        if config.transcript_format != "mixed":
            return config.transcript_format
        with self._lock:
            ordinal = self._states.get(rid, _State()).ordinal
        return "json" if ordinal % 2 else "vtt"

    # -- artifacts ----------------------------------------------------------------------------------------
    def artifacts(self, config: EmulatorConfig, meeting: str, rid: str) -> dict[str, str | None]:
        """The `data` of an artifacts answer: signed URLs in the configured key spelling."""
        base = f"/recordings/{meeting}/{rid}"
        transcript = None
        if self.transcribed(rid):
            transcript = self._signed(f"{base}/transcript.{self.format_of(config, rid)}", config.artifact_ttl)
        elif config.not_transcribed == "404":
            raise ApiError(404, f"recording {rid!r} has no transcript yet")
        video = self._signed(f"{base}/video.mp4", config.artifact_ttl)
        if config.artifact_keys == "snake":
            return {"video_url": video, "transcript_url": transcript}
        return {"videoUrl": video, "transcriptionUrl": transcript}

    def _signed(self, path: str, ttl: float) -> str:
        date = datetime.fromtimestamp(self.clock.now(), UTC).strftime(_DATE_FORMAT)
        expires = str(int(ttl))
        query = {"X-Amz-Date": date, "X-Amz-Expires": expires, "X-Amz-Signature": self._signature(path, date, expires)}
        return f"{self.storage_origin}{path}?{urlencode(query)}"

    def _signature(self, path: str, date: str, expires: str) -> str:
        return hmac.new(self._secret, f"GET\n{path}\n{date}\n{expires}".encode(), hashlib.sha256).hexdigest()

    # -- the storage origin -------------------------------------------------------------------------------
    def log(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.storage_requests.append(StorageRequest(method, path, headers))

    def refusal(self, path: str, query: dict[str, str]) -> str | None:
        """Why the storage origin refuses a signed request (None: it is valid now)."""
        date, expires, signature = (query.get(k, "") for k in ("X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature"))
        if not hmac.compare_digest(signature, self._signature(path, date, expires)):
            return "SignatureDoesNotMatch"
        issued = datetime.strptime(date, _DATE_FORMAT).replace(tzinfo=UTC).timestamp()
        with self._lock:
            forced = path.rsplit("/", 1)[-1].startswith("transcript") and self._expire_next > 0
            if forced:
                self._expire_next -= 1
        if forced or self.clock.now() > issued + int(expires):
            return "AccessDenied: Request has expired"
        return None
