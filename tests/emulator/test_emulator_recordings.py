"""Meeting recordings: listed as an object, artifacts signed for another origin that expire, transcripts in both
formats, both key spellings, not-transcribed answers, re-transcription, the meeting link variants."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from emulator import RunningEmulator
from emulator.transcripts import render_vtt
from tests.emulator.conftest import API_KEY, WORKSPACE, client_for
from tests.emulator.emulator_helpers import error


@pytest.fixture
def recorded(emulator_factory: Callable[..., RunningEmulator], cache_dir: str) -> Callable[..., RunningEmulator]:
    def make(**config: Any) -> RunningEmulator:
        return emulator_factory(
            workspace=WORKSPACE, api_key=API_KEY, records=60, seed=3, cache_dir=cache_dir, recordings=2, **config
        )

    return make


def _artifacts(emu: RunningEmulator, api: httpx.Client, n: int = 0) -> tuple[str, dict[str, Any]]:
    rec = emu.store.records("meeting_recording")[n]
    r = api.post(f"meetings/{rec['attributes']['meeting_id']}/recordings/{rec['id']}/artifacts")
    assert r.status_code == 200, r.text
    return rec["id"], r.json()["data"]


def test_recordings_are_an_object_named_by_schemas(recorded: Callable[..., RunningEmulator]) -> None:
    for shape in ("entities", "docs"):
        emu = recorded(schemas_shape=shape)
        with client_for(emu) as api:
            body = api.get("schemas").json()
            entries = body["data"] if shape == "docs" else body
            assert any("meeting_recording" in str(e.get("$id") or e.get("id")) for e in entries)
            listed = api.get("objects/meeting_recording/resources").json()["data"]
    rec = listed[0]["attributes"]
    assert len(listed) == 2 and rec["meeting_id"].startswith("mee_") and rec["title"] and rec["duration"] > 0
    assert rec["_updated_at"] and rec["start"]


def test_artifacts_are_signed_for_another_origin_and_expire(recorded: Callable[..., RunningEmulator]) -> None:
    emu = recorded(artifact_ttl=60)
    emu.clock.freeze("2026-05-01T12:00:00Z")
    with client_for(emu) as api:
        rid, data = _artifacts(emu, api)
        assert set(data) == {"videoUrl", "transcriptionUrl"}
        url = data["transcriptionUrl"]
        assert urlsplit(url).netloc != urlsplit(emu.base_url).netloc and "X-Amz-Signature=" in url
        got = httpx.get(url)
        assert got.status_code == 200 and got.content == render_vtt(emu.recordings.transcript(rid))
        tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        assert httpx.get(tampered).status_code == 403
        emu.clock.advance(61)
        expired = httpx.get(url)
        assert expired.status_code == 403 and b"expired" in expired.content
        _, fresh = _artifacts(emu, api)
        assert httpx.get(fresh["transcriptionUrl"]).status_code == 200
    logged = emu.recordings.storage_requests
    assert len(logged) == 4 and not any("authorization" in r.headers for r in logged)
    error(
        httpx.post(
            f"{emu.base_url}/workspaces/{WORKSPACE}/meetings/x/recordings/{rid}/artifacts",
            headers={"Authorization": f"api-key {API_KEY}"},
        ),
        404,
    )


def test_snake_keys_json_format_and_not_transcribed(recorded: Callable[..., RunningEmulator]) -> None:
    emu = recorded(artifact_keys="snake", transcript_format="json", not_transcribed="null")
    with client_for(emu) as api:
        rid, data = _artifacts(emu, api)
        assert set(data) == {"video_url", "transcript_url"}
        doc = orjson.loads(httpx.get(data["transcript_url"]).content)
        truth = emu.recordings.transcript(rid)
        assert doc["version"] == "1.11" and len(doc["segments"]) == len(truth.segments)
        assert doc["segments"][0]["startTime"] == truth.segments[0].start_ms / 1000
        (later,) = emu.recordings.create(1, transcribed=False)
        meeting = emu.store.records("meeting_recording")[-1]["attributes"]["meeting_id"]
        assert api.post(f"meetings/{meeting}/recordings/{later}/artifacts").json()["data"]["transcript_url"] is None
        emu.config_update(not_transcribed="404")
        error(api.post(f"meetings/{meeting}/recordings/{later}/artifacts"), 404)
        emu.recordings.transcribe([later])
        assert api.post(f"meetings/{meeting}/recordings/{later}/artifacts").status_code == 200


def test_retranscription_moves_updated_at_and_changes_the_transcript(recorded: Callable[..., RunningEmulator]) -> None:
    emu = recorded()
    emu.clock.freeze("2030-01-01T00:00:00Z")
    rid = emu.store.records("meeting_recording")[0]["id"]
    before = emu.recordings.transcript(rid)
    emu.recordings.retranscribe([rid])
    after = emu.store.records("meeting_recording")[0]["attributes"]["_updated_at"]
    assert after == "2030-01-01T00:00:00.000Z" and emu.recordings.transcript(rid) != before


def test_webvtt_carries_what_real_files_do(recorded: Callable[..., RunningEmulator]) -> None:
    emu = recorded()
    emu.recordings.create(30)
    texts = [render_vtt(emu.recordings.transcript(r["id"])).decode() for r in emu.store.records("meeting_recording")]
    joined = "\n".join(texts)
    for needle in ("NOTE", "<v ", "<v.loud ", "&amp;", "&lt;", "&gt;", "Language: ", "cue-1\n"):
        assert needle in joined, needle
    assert any(re.search(r"^\d\d:\d\d\.\d{3} --> ", t, re.M) for t in texts)  # hours left out under an hour
    assert any(re.search(r"^\d\d:\d\d:\d\d\.\d{3} --> ", t, re.M) for t in texts)  # and written past one
    assert any("cue-1" not in t for t in texts)  # and recordings without cue ids


def test_meeting_as_a_relationship(recorded: Callable[..., RunningEmulator]) -> None:
    emu = recorded(recording_meeting="relationship")
    with client_for(emu) as api:
        rec = api.get("objects/meeting_recording/resources").json()["data"][0]
        schema = next(e for e in api.get("schemas").json() if e.get("title") == "meeting_recording")
    assert "meeting_id" not in rec["attributes"] and rec["relationships"]["meeting"]["data"]["type"] == "meeting"
    assert schema["relationships"]["meeting"]["target"] == "meeting"
    assert "meeting_id" not in schema["attributes"]["properties"]


def test_control_route_creates_and_retranscribes(recorded: Callable[..., RunningEmulator]) -> None:
    emu = recorded()
    with httpx.Client(base_url=emu.origin) as control:
        created = control.post("/_emulator/recordings", json={"create": 3, "transcribed": False}).json()["created"]
        assert len(created) == 3 and not emu.recordings.transcribed(created[0])
        control.post("/_emulator/recordings", json={"transcribe": created[:1], "retranscribe": created[1:2]})
        assert emu.recordings.transcribed(created[0]) and emu.recordings.transcribed(created[1])
        assert control.post("/_emulator/recordings", json={"create": "x"}).status_code == 400
        assert control.get("/_emulator/storage/requests").json() == []
