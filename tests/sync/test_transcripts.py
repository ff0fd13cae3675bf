"""`sync --transcripts`: every transcribed recording's segments land once, from both formats and both key spellings;
later transcripts arrive, re-transcriptions replace, deletions go; no credential reaches the storage origin and no
signed URL reaches the warehouse, the state or the logs; an unchanged rerun asks nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.artifacts import STORAGE_ROUTE
from pipelines import noop_probe
from pipelines.small_changes import load_small_changes
from pipelines.sync import run_sync
from sources.clarify.connection import ClarifyConnection
from tests.sync.conftest import WAREHOUSES, connection_for, cursors, expected_segments, query, stored_segments, table

ARTIFACTS = "/meetings/{meeting}/recordings/{id}/artifacts"


def _calls(emu: Any) -> tuple[int, int]:
    """(artifacts calls, storage downloads) so far."""
    snap = emu.stats.snapshot()
    return (
        sum(n for (_, route, _), n in snap.items() if route == ARTIFACTS),
        sum(n for (_, route, _), n in snap.items() if route == STORAGE_ROUTE),
    )


def _statuses(wh: Any) -> dict[str, str]:
    return {r["recording_id"]: r["status"] for r in table(wh, "meeting_transcript")}


def _sync(emu: Any, wh: Any, **kwargs: Any) -> Any:
    return run_sync(connection_for(emu), wh, transcripts=True, **kwargs)


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_segments_land_once_and_an_unchanged_rerun_asks_nothing(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    emu = make_emu(recordings=6, transcript_format="mixed")
    wh = make_warehouse(kind)
    report = _sync(emu, wh).transcripts
    assert (
        report.transcribed == 6 and stored_segments(wh) == expected_segments(emu) and len(expected_segments(emu)) > 30
    )
    formats = {r["format"] for r in table(wh, "meeting_transcript")}
    assert formats == {"webvtt", "json"} and set(_statuses(wh).values()) == {"transcribed"}
    assert _calls(emu) == (6, 6)  # one artifacts call and one download each; the video never
    emu.clock.advance(3600)
    again = _sync(emu, wh)
    assert _calls(emu) == (6, 6) and again.transcripts.requests == 0 and stored_segments(wh) == expected_segments(emu)
    runs = query(wh, "SELECT records, requests FROM {ds}._clarify_sync_runs WHERE object = 'meeting_transcript'")
    assert sorted((r["records"], r["requests"]) for r in runs) == [(0, 0), (6, 12)]


@pytest.mark.parametrize(
    "variant",
    [
        {"artifact_keys": "snake", "transcript_format": "json", "recording_meeting": "relationship"},
        {"artifact_keys": "camel", "transcript_format": "vtt", "bare_objects": frozenset({"meeting_recording"})},
        {"artifact_keys": "snake", "transcript_format": "vtt", "schemas_shape": "docs"},
    ],
    ids=["snake-json-relationship", "camel-vtt-bare", "snake-vtt-docs"],
)
def test_key_spellings_formats_and_recording_variants(make_emu: Any, make_warehouse: Any, variant: Any) -> None:
    emu = make_emu(recordings=3, **variant)
    wh = make_warehouse("duckdb")
    assert _sync(emu, wh).transcripts.transcribed == 3
    assert stored_segments(wh) == expected_segments(emu)
    meetings = {r["recording_id"]: r["meeting_id"] for r in table(wh, "meeting_transcript")}
    assert meetings == {r["id"]: r["attributes"]["meeting_id"] for r in emu.store.records("meeting_recording")}
    emu.clock.advance(3600)
    _sync(emu, wh)
    assert _calls(emu) == (3, 3)  # bare recordings are mirrored on every run, yet asked for once


@pytest.mark.parametrize("not_transcribed", ["404", "null"])
def test_not_transcribed_yet_arrives_on_a_later_run(make_emu: Any, make_warehouse: Any, not_transcribed: str) -> None:
    emu = make_emu(not_transcribed=not_transcribed)
    later = emu.recordings.create(2, transcribed=False)
    wh = make_warehouse("duckdb")
    first = _sync(emu, wh).transcripts
    assert first.pending == 2 and first.waiting == 2 and _statuses(wh) == dict.fromkeys(later, "pending")
    assert stored_segments(wh) == []
    emu.recordings.transcribe(later[:1])
    _sync(emu, wh)
    assert _statuses(wh) == {later[0]: "transcribed", later[1]: "pending"} and stored_segments(wh) == expected_segments(
        emu
    )
    assert _calls(emu)[0] == 4  # the pending one is asked on every run


def test_a_recording_never_transcribed_is_asked_again_when_it_changes(
    make_emu: Any, make_warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__CLARIFY__TRANSCRIPT_WAIT_HOURS", "0")
    emu = make_emu()
    (rid,) = emu.recordings.create(1, transcribed=False)
    wh = make_warehouse("duckdb")
    assert _sync(emu, wh).transcripts.waiting == 0 and _statuses(wh) == {rid: "not_transcribed"}
    _sync(emu, wh)
    assert _calls(emu)[0] == 1  # given up: not asked again
    emu.clock.advance(10)
    emu.recordings.retranscribe([rid])  # the recording changes
    _sync(emu, wh)
    assert _statuses(wh) == {rid: "transcribed"} and stored_segments(wh) == expected_segments(emu)


def test_a_retranscribed_recording_is_replaced_and_a_deleted_one_goes(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(recordings=3)
    wh = make_warehouse("duckdb")
    _sync(emu, wh)
    first, second, third = (r["id"] for r in emu.store.records("meeting_recording"))
    emu.clock.advance(10)
    emu.recordings.retranscribe([first])
    emu.store.delete("meeting_recording", second)
    _sync(emu, wh, reconcile=True)
    assert stored_segments(wh) == expected_segments(emu) and any("(take 2)" in row[5] for row in stored_segments(wh))
    assert set(_statuses(wh)) == {first, third}
    assert not [r for r in table(wh, "meeting_transcript__participants") if r["recording_id"] == second]
    assert _calls(emu) == (4, 4)


def test_an_expired_url_is_asked_for_again_once(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu(recordings=1)
    wh = make_warehouse("duckdb")
    emu.recordings.expire_next(1)
    assert _sync(emu, wh).transcripts.transcribed == 1 and _calls(emu) == (2, 2)
    (rid,) = emu.recordings.create(1)
    emu.recordings.expire_next(2)  # refused with fresh URLs too: nothing written, asked again next run
    notes: list[str] = []
    report = _sync(emu, wh, notice=notes.append).transcripts
    assert (report.failed, report.waiting) == (1, 1) and rid not in _statuses(wh) and _calls(emu) == (4, 4)
    assert any(rid in n and "refused twice" in n for n in notes)
    assert _sync(emu, wh).transcripts.transcribed == 1 and stored_segments(wh) == expected_segments(emu)


def test_no_credential_reaches_storage_and_no_signed_url_is_kept(
    make_emu: Any, make_warehouse: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level("DEBUG")
    emu = make_emu(recordings=3, access_tokens=frozenset({"oauth-token-xyz"}))
    wh = make_warehouse("duckdb")
    notes: list[str] = []
    emu.recordings.expire_next(1)  # a refusal whose body echoes the signature: its error must not carry it
    _sync(emu, wh, notice=notes.append)
    bearer = ClarifyConnection(emu.base_url, emu.workspace, access_token="oauth-token-xyz")
    emu.recordings.retranscribe([emu.store.records("meeting_recording")[0]["id"]])
    run_sync(bearer, wh, transcripts=True, notice=notes.append)
    sent = emu.recordings.storage_requests
    assert len(sent) == 5 and all(r.path.endswith((".vtt", ".json")) for r in sent)  # never the video
    for request in sent:
        text = repr(request.headers).lower()
        assert "authorization" not in text and emu.api_key not in text and "oauth-token-xyz" not in text
    kept = [repr(table(wh, name)) for name in ("meeting_transcript", "meeting_transcript__segments")]
    kept += [repr(cursors(wh)), caplog.text, "\n".join(notes)]
    kept += [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".duckdb"]
    for text in kept:
        assert "X-Amz-Signature" not in text, [line for line in text.splitlines() if "X-Amz" in line][:3]
        assert "/transcript." not in text


def test_column_controls_hash_speakers_and_exclude_text(
    make_emu: Any, make_warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__CLARIFY__COLUMNS__MEETING_TRANSCRIPT__EXCLUDE", '["text", "email"]')
    monkeypatch.setenv("SOURCES__CLARIFY__COLUMNS__MEETING_TRANSCRIPT__HASH", '["speaker"]')
    monkeypatch.setenv("SOURCES__CLARIFY__HASH_SALT", "pepper")
    emu = make_emu(recordings=2, transcript_format="json")
    wh = make_warehouse("duckdb")
    _sync(emu, wh)
    segments, people = table(wh, "meeting_transcript__segments"), table(wh, "meeting_transcript__participants")
    assert segments and "text" not in segments[0] and "email" not in people[0]
    names = {r["speaker"] for r in segments if r["speaker"]} | {r["name"] for r in people}
    assert all(len(n) == 64 for n in names) and {r["speaker"] for r in segments if r["speaker"]} <= names
    monkeypatch.setenv("SOURCES__CLARIFY__COLUMNS__MEETING_TRANSCRIPT__HASH", '["speakers"]')
    with pytest.raises(Exception, match="unknown field"):
        _sync(emu, wh)


def _settings() -> dict[str, Any]:
    return noop_probe.settings(
        base_url=None, workspace=None, objects=None, lag_seconds=300, page_limit=500, controls={"transcripts": True}
    )


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_nothing_changed_and_small_change_runs_stay_exact(
    make_emu: Any, make_warehouse: Any, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    emu = make_emu(recordings=2)
    (later,) = emu.recordings.create(1, transcribed=False)
    wh = make_warehouse(kind)
    monkeypatch.setenv("CLARIFY_API_KEY", emu.api_key)
    _sync(emu, wh, probe_settings=_settings())
    emu.clock.advance(3600)

    def probe() -> Any:
        return noop_probe.probe(wh, run_settings=_settings())

    assert probe().api is None  # a recording waits for its transcript: the probe leaves the run to the sync
    emu.recordings.transcribe([later])
    _sync(emu, wh, probe_settings=_settings())
    assert probe().report is not None  # nothing waits and nothing changed: answered without dlt
    emu.clock.advance(10)
    emu.recordings.retranscribe([later])
    found = probe()
    assert found.changed == ["meeting_recording"] and load_small_changes(wh, found) is None  # declined
    _sync(emu, wh, probe_settings=_settings(), api=found.api)
    assert stored_segments(wh) == expected_segments(emu) and any("(take 2)" in row[5] for row in stored_segments(wh))
