"""Transcript files → segments: WebVTT (webvtt-py) and JSON 1.11, against hand-written files and the emulator's."""

from __future__ import annotations

import orjson
import pytest

from emulator.transcripts import generate, render_json, render_vtt
from sources.clarify.transcript_formats import JSON, WEBVTT, UnreadableTranscript, parse_transcript

VTT = """\ufeffWEBVTT - a meeting
Kind: captions
Language: de

NOTE written by hand,
over two lines

intro
00:01.000 --> 00:04.250 align:start
<v.loud Ada Lovelace>Hello &amp; welcome, 1 &lt; 2
and a second line</v>

NOTE between cues

00:04.250 --> 01:00:05.5
<v R&amp;D Team>margin &gt; 20%

01:00:06.000 --> 01:00:07.000
[laughter]
"""


def test_webvtt_cues_voices_and_escapes() -> None:
    t = parse_transcript(VTT.replace("\n", "\r\n").encode())
    assert (t.format, t.language, t.version) == (WEBVTT, "de", None)
    assert [(s.speaker, s.start, s.end, s.text) for s in t.segments] == [
        ("Ada Lovelace", 1.0, 4.25, "Hello & welcome, 1 < 2\nand a second line"),
        ("R&D Team", 4.25, 3605.5, "margin > 20%"),
        (None, 3606.0, 3607.0, "[laughter]"),
    ]
    assert [p.name for p in t.participants] == ["Ada Lovelace", "R&D Team"] and t.duration == 3607.0


def test_json_format_1_11() -> None:
    doc = {
        "version": "1.11",
        "title": "Kickoff",
        "date": "2026-03-01",
        "duration": 95.5,
        "participants": [{"id": "p1", "name": "Zoë", "email": "zoe@example.no"}],
        "segments": [
            {"speakerId": "p1", "startTime": 0, "endTime": 2.5, "text": "Hei"},
            {"speakerId": "p9", "startTime": 2.5, "endTime": 4, "text": "who?"},
            {"speakerId": None, "startTime": 4, "endTime": 5, "text": "..."},
        ],
    }
    t = parse_transcript(orjson.dumps(doc))
    assert (t.format, t.version, t.title, t.date, t.duration) == (JSON, "1.11", "Kickoff", "2026-03-01", 95.5)
    assert [(s.speaker, s.speaker_id, s.start) for s in t.segments] == [
        ("Zoë", "p1", 0.0),
        (None, "p9", 2.5),
        (None, None, 4.0),
    ]
    assert t.participants[0].email == "zoe@example.no"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>AccessDenied</html>",
        b"WEBVTT\n\n00:xx --> 00:01.000\nbad",
        b"{not json",
        b'{"segments": 3}',
        b'{"segments": [{"startTime": "soon", "endTime": 1}]}',
        b'{"segments": ["x"]}',
    ],
)
def test_unreadable_files(body: bytes) -> None:
    with pytest.raises(UnreadableTranscript):
        parse_transcript(body)


@pytest.mark.parametrize("recording", [f"rec_{n}" for n in range(12)])
def test_the_emulators_files_read_back_exactly(recording: str) -> None:
    truth = generate(5, recording, 0, "title")
    for body in (render_vtt(truth), render_json(truth, "2026-01-01")):
        t = parse_transcript(body)
        assert [(s.speaker, s.start, s.end, s.text) for s in t.segments] == [
            (None if s.speaker is None else truth.speakers[s.speaker][0], s.start_ms / 1000, s.end_ms / 1000, s.text)
            for s in truth.segments
        ]
