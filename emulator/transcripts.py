"""Meeting transcripts: generated from (seed, recording, revision), served as WebVTT or as JSON format 1.11.

A transcript is made once as data (`Transcript`: speakers, and segments with times in milliseconds), then rendered;
tests compare what a client stored with the data, never with a parse of the rendering.

WebVTT (the reference site's `transcript.vtt`), with what real files carry: a header line with text after `WEBVTT`,
sometimes a `Language:` header, a `NOTE` block over two lines, cue ids on some recordings and none on others, hours
left out while under an hour, voice spans `<v Name>` (with a class on some: `<v.loud Name>`), cues over two lines,
a cue with no voice, and `&`, `<`, `>` escaped as `&amp;`, `&lt;`, `&gt;` (in names too).

JSON (the reference site's upload format, version "1.11"): `{version, title, date, duration, participants: [{id,
name, email}], segments: [{speakerId, startTime, endTime, text}]}`, times in seconds from the start.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from html import escape

import orjson

SPEAKERS = (
    ("Ada Lovelace", "ada@acme.example"),
    ("Søren Øster", "soren@nordlys.example"),
    ("Siobhán O'Brien", "siobhan@initech.example"),
    ("R&D <Bot>", "bot@clarify.example"),
    ("李 王", "li@tokyo.example"),
)
PHRASES = (
    "Thanks for joining, let's start with the numbers.",
    "Q3 revenue is < target & the pipeline > last year.",
    "Can you share the deck after the call?",
    "We need sign-off from legal before Friday.",
    "The pilot went well: 3 of 4 teams use it daily.",
    "Pricing is the open question — 10% or 15%?",
    "I'll follow up by email with the contract.",
    "Café ☕ budget approved.",
)
LANGUAGES = ("en", "en-GB", None)


@dataclass(frozen=True)
class Segment:
    speaker: int | None  # index into `Transcript.speakers`; None: nobody named (music, noise)
    start_ms: int
    end_ms: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Transcript:
    recording: str
    revision: int
    title: str
    language: str | None
    cue_ids: bool
    speakers: tuple[tuple[str, str], ...]  # (name, email)
    segments: tuple[Segment, ...] = field(default=())

    @property
    def duration_ms(self) -> int:
        return self.segments[-1].end_ms if self.segments else 0

    def speaker_id(self, index: int | None) -> str | None:
        return None if index is None else f"spk_{index + 1}"


def generate(seed: int, recording: str, revision: int, title: str) -> Transcript:
    """The transcript of one revision of a recording: same inputs, same transcript."""
    rng = random.Random(f"transcript:{seed}:{recording}:{revision}")
    speakers = tuple(rng.sample(SPEAKERS, rng.randint(2, 4)))
    segments = []
    at = rng.randint(0, 3000)
    # Some recordings run past an hour, so both timestamp forms (with and without hours) are served.
    step = rng.choice((20_000, 400_000))
    for n in range(rng.randint(3, 24)):
        length = rng.randint(1_000, step)
        lines = [rng.choice(PHRASES)] + ([rng.choice(PHRASES)] if rng.random() < 0.3 else [])
        if revision:
            lines[0] = f"(take {revision + 1}) {lines[0]}"
        speaker = None if n and rng.random() < 0.1 else rng.randrange(len(speakers))
        segments.append(Segment(speaker, at, at + length, tuple(lines)))
        at += length + rng.randint(0, 2_000)
    return Transcript(recording, revision, title, rng.choice(LANGUAGES), rng.random() < 0.5, speakers, tuple(segments))


def _timestamp(ms: int, hours: bool) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    clock = f"{m:02d}:{s:02d}.{milli:03d}"
    return f"{h:02d}:{clock}" if hours else clock


def render_vtt(t: Transcript) -> bytes:
    hours = t.duration_ms >= 3_600_000
    out = ["WEBVTT - Clarify meeting transcript"]
    if t.language:
        out.append(f"Language: {t.language}")
    out += ["", "NOTE", f"Transcribed by Clarify, revision {t.revision}", ""]
    for n, seg in enumerate(t.segments, 1):
        if t.cue_ids:
            out.append(f"cue-{n}")
        out.append(f"{_timestamp(seg.start_ms, hours)} --> {_timestamp(seg.end_ms, hours)}")
        lines = [escape(line, quote=False) for line in seg.lines]
        if seg.speaker is not None:
            name = escape(t.speakers[seg.speaker][0], quote=False)
            tag = "<v.loud " if n % 5 == 0 else "<v "
            lines[0] = f"{tag}{name}>{lines[0]}"
            lines[-1] += "</v>"
        out += [*lines, ""]
    return "\n".join(out).encode()


def render_json(t: Transcript, date: str) -> bytes:
    return orjson.dumps(
        {
            "version": "1.11",
            "title": t.title,
            "date": date,
            "duration": t.duration_ms / 1000,
            "participants": [
                {"id": t.speaker_id(i), "name": name, "email": email} for i, (name, email) in enumerate(t.speakers)
            ],
            "segments": [
                {
                    "speakerId": t.speaker_id(seg.speaker),
                    "startTime": seg.start_ms / 1000,
                    "endTime": seg.end_ms / 1000,
                    "text": seg.text,
                }
                for seg in t.segments
            ],
        }
    )
