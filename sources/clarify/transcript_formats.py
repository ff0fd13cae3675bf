"""Transcript files → one `Transcript`: WebVTT (read by webvtt-py) or Clarify's JSON format (version "1.11").

WebVTT (W3C): a `WEBVTT` line, optional header lines (`Language: en`), then blocks: `NOTE` comments, cues of an
optional id, a timing line `[hh:]mm:ss.ttt --> [hh:]mm:ss.ttt [settings]` and one or more text lines. A speaker is the
cue's voice span `<v Name>` (`<v.class Name>` too); its text has its tags removed and `&amp;`, `&lt;`, `&gt;` (and any
other character reference) decoded here, since webvtt-py leaves them as written. A cue without a voice has no speaker.

JSON 1.11 (the reference site's upload format): `{version, title, date, duration, participants: [{id, name, email}],
segments: [{speakerId, startTime, endTime, text}]}`, times in seconds; a segment's speaker is the participant whose
`id` is its `speakerId`. A `language` key is read when present (the format does not list one).

Which format a file is comes from its first bytes (`WEBVTT` or `{`), not from a name or content type a store may
get wrong. Anything else, or a file that does not hold what its format promises, is `UnreadableTranscript`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

WEBVTT = "webvtt"
JSON = "json"
_LANGUAGE = re.compile(r"^\s*language\s*:\s*(\S+)", re.IGNORECASE)


class UnreadableTranscript(ValueError):
    """The file is neither WebVTT nor JSON 1.11 as documented (the message says why, never what the file held)."""


@dataclass(frozen=True)
class Participant:
    id: str | None
    name: str | None
    email: str | None


@dataclass(frozen=True)
class Segment:
    speaker: str | None
    speaker_id: str | None
    start: float  # seconds from the start of the recording
    end: float
    text: str


@dataclass
class Transcript:
    format: str
    version: str | None = None
    language: str | None = None
    title: str | None = None
    date: str | None = None
    duration: float | None = None  # seconds: the file's own figure, else where the last segment ends
    participants: list[Participant] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)


def parse_transcript(body: bytes) -> Transcript:
    text = body.decode("utf-8-sig", errors="replace")
    head = text.lstrip()
    if head.startswith("WEBVTT"):
        return _webvtt(text)
    if head.startswith("{"):
        return _json(body)
    raise UnreadableTranscript("neither WebVTT nor JSON")


def _webvtt(text: str) -> Transcript:
    try:
        captions = webvtt.from_string(text)
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise UnreadableTranscript(f"malformed WebVTT ({exc.__class__.__name__})") from None
    # webvtt-py skips a malformed cue block; a timing line is the one place `-->` may appear, so none was lost
    # only if every such line became a cue.
    timings = sum("-->" in line for line in text.splitlines())
    if timings != len(captions.captions):
        raise UnreadableTranscript(f"{timings - len(captions.captions)} malformed WebVTT cue(s)")
    segments = [
        Segment(
            speaker=html.unescape(c.voice) if c.voice else None,
            speaker_id=None,
            start=c.start_time.in_milliseconds() / 1000,
            end=c.end_time.in_milliseconds() / 1000,
            text=html.unescape(c.text),
        )
        for c in captions.captions
    ]
    names = list(dict.fromkeys(s.speaker for s in segments if s.speaker))
    language = next((m.group(1) for line in captions.metadata if (m := _LANGUAGE.match(line))), None)
    return Transcript(
        WEBVTT,
        language=language,
        duration=max((s.end for s in segments), default=None),
        participants=[Participant(None, name, None) for name in names],
        segments=segments,
    )


def _json(body: bytes) -> Transcript:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UnreadableTranscript("malformed JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("segments"), list):
        raise UnreadableTranscript("JSON without a segments list")
    people = [p for p in doc.get("participants") or [] if isinstance(p, dict)]
    participants = [Participant(_text(p.get("id")), _text(p.get("name")), _text(p.get("email"))) for p in people]
    names = {p.id: p.name for p in participants if p.id is not None}
    segments = [_json_segment(raw, names) for raw in doc["segments"]]
    duration = None if doc.get("duration") is None else _seconds(doc["duration"], "duration")
    return Transcript(
        JSON,
        version=_text(doc.get("version")),
        language=_text(doc.get("language")),
        title=_text(doc.get("title")),
        date=_text(doc.get("date")),
        duration=duration if duration is not None else max((s.end for s in segments), default=None),
        participants=participants,
        segments=segments,
    )


def _json_segment(raw: Any, names: dict[str, str | None]) -> Segment:
    if not isinstance(raw, dict):
        raise UnreadableTranscript("a segment that is not an object")
    speaker_id = _text(raw.get("speakerId"))
    start, end = _seconds(raw.get("startTime"), "startTime"), _seconds(raw.get("endTime"), "endTime")
    return Segment(names.get(speaker_id) if speaker_id else None, speaker_id, start, end, _text(raw.get("text")) or "")


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnreadableTranscript(f"{name} is not a number of seconds")
    return float(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
