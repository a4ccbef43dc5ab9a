"""The case store and stage keys (pipeline.store, pipeline.stages)."""

from __future__ import annotations

import dataclasses
import math
import sqlite3

import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.faces import FaceCandidates
from pipeline.stages import (analysis_key, candidates_from_stage, candidates_to_stage, events_key,
                             faces_key, tracks_from_stage, tracks_to_stage)
from pipeline.store import CaseStore, StoreError, StoreReader, decode, encode
from pipeline.types import Detections, Frame, Track

SHA = "ab" * 32


def _keys(*sets):
    cfg = load_config(None, list(sets))
    a = analysis_key(SHA, cfg, "m1")
    return a, events_key(a, cfg), faces_key(a, cfg, {"weights": "w"})


def test_each_change_reaches_only_its_stage_and_those_below():
    a, e, f = _keys()
    assert _keys() == (a, e, f)  # stable
    a2, e2, f2 = _keys("events.carry_min_duration_s=2")
    assert a2 == a and f2 == f and e2 != e
    a3, e3, f3 = _keys("attributes.child_height_ratio=0.7")
    assert a3 == a and f3 == f and e3 != e
    a4, e4, f4 = _keys("faces.min_quality=0.5")
    assert a4 == a and e4 == e and f4 != f
    a5, _, _ = _keys("faces.candidates_per_track=3")  # chosen while streaming
    assert a5 != a
    a6, e6, f6 = _keys("detector.confidence=0.2")
    assert len({a, a6}) == 2 and e6 != e and f6 != f
    a7, _, _ = _keys("output.video_crf=30")  # outputs are keyed by what they show
    assert a7 == a
    # how fast, not what: threads and the reader's queue never change the boxes
    a8, _, _ = _keys("detector.threads=3", "ingest.decode_threads=1", "ingest.queue_size=8",
                     "ingest.queue_mib=4")
    assert a8 == a
    # skipping hands on the same frames of a sound file, but on a damaged one frame indices
    # count the frames not decoded (and their faults go unseen until the first one)
    a9, _, _ = _keys("ingest.skip_unneeded_frames=false")
    assert a9 != a
    cfg = load_config()
    assert analysis_key(SHA, cfg, "m2") != a  # another model file
    assert analysis_key("cd" * 32, cfg, "m1") != a  # another source


def _stored(tracks: list[Track]) -> list[Track]:
    """Tracks through the analysis stage's stored form and the store's JSON encoding."""
    doc, blob = tracks_to_stage(tracks)
    return tracks_from_stage(decode(encode(doc)), blob, "x.mp4")


def test_track_round_trip_is_exact_with_missing_extras():
    t = Track(track_id=7, source_id="x.mp4")
    t.add(0.1, 1, np.array([1.0, 2.0, 3.3333333333, 4.0]), 0.123456789, {"inner_confidence": 0.5})
    t.add(0.2, 2, np.array([1.1, 2.1, 3.1, 4.1]), 0.5)
    t.attributes["age_group"] = "child"
    (back,) = _stored([t])
    for name in ("pts_s", "frame_index", "xyxy", "confidence"):
        got, want = getattr(back, name), getattr(t, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    assert back.extras["inner_confidence"][0] == 0.5 and math.isnan(back.extras["inner_confidence"][1])
    assert back.attributes == {"age_group": "child"}
    assert back.to_dict() == t.to_dict()


def test_stored_tracks_keep_ids_order_extras_and_exact_values():
    rng = np.random.default_rng(3)
    tracks = []
    for tid, n in ((4, 1), (9, 250), (2, 37)):
        t = Track(tid, "x.mp4")
        for k in range(n):
            box = np.sort(rng.uniform(0, 700, 4).reshape(2, 2), axis=0).ravel()[[0, 2, 1, 3]]
            extras = {"held": float(k % 2), "inner_confidence": float(rng.random())}
            if tid == 2:
                extras = {"interpolated": 1.0}  # another set of names, another order
            t.add(k / 7 + tid, 3 * k, box, float(rng.random()), extras)
        tracks.append(t)
    tracks.append(Track(5, "x.mp4"))  # no observation at all
    back = _stored(tracks)
    assert [b.track_id for b in back] == [4, 9, 2, 5]
    assert [list(b.extras) for b in back] == [list(t.extras) for t in tracks]
    for b, t in zip(back, tracks):
        assert b.source_id == "x.mp4" and len(b) == len(t)
        assert b.pts_s.tobytes() == t.pts_s.tobytes() and b.xyxy.tobytes() == t.xyxy.tobytes()
        assert b.frame_index.tobytes() == t.frame_index.tobytes()
        assert b.confidence.tobytes() == t.confidence.tobytes()
        for name in t.extras:
            assert b.extras[name].tobytes() == t.extras[name].tobytes()
        if len(t):
            assert b.to_dict() == t.to_dict()


def test_stored_tracks_are_plain_arrays_not_pickle():
    t = Track(1, "x.mp4")
    t.add(0.0, 0, np.array([0, 0, 5, 9]), 0.9)
    _, blob = tracks_to_stage([t])
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(blob)).namelist()
    assert set(names) == {"n.npy", "pts_s.npy", "frame_index.npy", "xyxy.npy", "confidence.npy"}
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_face_candidates_state_round_trip():
    cfg = load_config().faces
    c = FaceCandidates(cfg)
    img = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    det = Detections(xyxy=np.array([[20, 10, 80, 110]], np.float32), confidence=np.array([0.9], np.float32),
                     class_id=np.zeros(1, np.int64), tracker_id=np.array([3]))
    for i in range(3):
        c.add(Frame(img, "s", i, i * 0.7), det)
    c.add(Frame(img, "s", 9, 9.0), Detections(  # a second track, seen later
        xyxy=np.array([[90, 20, 150, 115]], np.float32), confidence=np.array([0.7], np.float32),
        class_id=np.zeros(1, np.int64), tracker_id=np.array([1])))
    back = candidates_from_stage(candidates_to_stage(c), load_config())
    assert {k: [(t, b.tolist()) for t, b in v] for k, v in back.wanted().items()} == \
        {k: [(t, b.tolist()) for t, b in v] for k, v in c.wanted().items()}
    assert list(back._tracks) == [3, 1]  # first-seen order: the order faces are looked at
    for tid in (3, 1):
        assert np.array_equal(back.appearance(tid), c.appearance(tid))
        assert back.best_candidate(tid)[0] == c.best_candidate(tid)[0]
        got, want = back._tracks[tid].candidates, c._tracks[tid].candidates
        assert [dataclasses.asdict(x) for x in got] == [dataclasses.asdict(x) for x in want]
    empty = candidates_from_stage(candidates_to_stage(FaceCandidates(cfg)), load_config())
    assert len(empty) == 0 and empty.wanted() == {}


def test_store_refuses_a_non_sqlite_file_and_another_schema(tmp_path):
    bad = tmp_path / "case.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite file"):
        CaseStore(bad)
    other = tmp_path / "other.sqlite"
    CaseStore(other).close()
    con = sqlite3.connect(other)
    con.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version 999"):
        CaseStore(other)


def test_reader_of_a_missing_store_finds_nothing_and_readers_pickle(tmp_path):
    import pickle

    r = StoreReader(tmp_path / "none.sqlite")
    assert r.get(SHA, "analysis", "k") is None and r.files(SHA, "faces", "k") == {}
    s = CaseStore(tmp_path / "case.sqlite")
    with pytest.raises(TypeError):
        pickle.dumps(s)
    r2 = pickle.loads(pickle.dumps(s.reader()))
    assert r2.get(SHA, "analysis", "k") is None


def test_cli_bad_store_and_ray_address_are_one_line_exit_2(tmp_path, models_env):
    from click.testing import CliRunner

    from cli import main
    from tests.media import write_clip

    clip = write_clip(tmp_path / "c.mp4", [i / 10 for i in range(3)])
    out = tmp_path / "out"
    out.mkdir()
    (out / "case.sqlite").write_text("junk")
    r = CliRunner().invoke(main, ["scan", str(clip), "--out", str(out)])
    assert r.exit_code == 2 and "not a usable SQLite file" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["scan", str(clip), "--out", str(tmp_path / "o2"),
                                  "--ray-address", "auto"])
    assert r.exit_code == 2 and "--ray-address needs --executor ray" in r.output
    r = CliRunner().invoke(main, ["scan", str(tmp_path), "--out", str(tmp_path.parent / "o3"),
                                  "--store", str(tmp_path / "case.sqlite")])
    assert r.exit_code == 2 and "--store" in r.output and "beside the originals" in r.output
    assert not (tmp_path / "case.sqlite").exists()


def test_stage_files_given_as_paths_are_copied_in_whole_and_face_rows_go_to_their_table(tmp_path):
    from types import SimpleNamespace

    big = tmp_path / ".stage-tracks.npz.part"
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 12345)  # several copy pieces
    big.write_bytes(data)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    store = CaseStore(tmp_path / "case.sqlite")
    run = store.start_run(tmp_path, ["scan"], "h", {}, "local")
    result = SimpleNamespace(sha256_before=SHA, size_bytes=1, path="x.mp4", slug="x",
                             status="ok", error=None, stages={})
    rows = [(3, 2, "ok", 41.0, 1.5, "[0.1, 0.2]"), (4, 0, None, None, None, "null")]
    store.save_source(run, 0, result, [
        ("analysis", "k", 1.0, {"a": 1}, {"tracks.npz": big, "inline.bin": b"abc", "e": empty}),
        ("faces", "f", 1.0, {"summary": {}, "slug": "x", "rows": rows}, {}),
    ], [], tmp_path)
    r = store.reader()
    assert r.files(SHA, "analysis", "k") == {"tracks.npz": data, "inline.bin": b"abc", "e": b""}
    assert r.get(SHA, "faces", "f") == {"summary": {}, "slug": "x"}  # rows are not kept twice
    con = sqlite3.connect(tmp_path / "case.sqlite")
    got = con.execute("SELECT track_id, n_faces, quality, face_px, best_face_s, template "
                      "FROM faces ORDER BY track_id").fetchall()
    assert got == rows


def test_stored_columns_are_the_tracks_joined_and_no_tracks_store_empty_columns():
    """The columns are written track by track; read back they are the joined columns."""
    import io

    tracks = []
    for tid, n in ((1, 3), (2, 0), (3, 5)):
        t = Track(tid, "x.mp4")
        for k in range(n):
            t.add(float(k + tid), k, np.array([k, tid, k + 5, tid + 9], float), 0.5 + k / 100)
        tracks.append(t)
    _, blob = tracks_to_stage(tracks)
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        assert z["xyxy"].shape == (8, 4) and z["xyxy"].dtype == np.float32
        assert np.array_equal(z["xyxy"], np.concatenate([t.xyxy for t in tracks]))
        assert np.array_equal(z["pts_s"], np.concatenate([t.pts_s for t in tracks]))
    assert _stored([]) == []
    _, blob = tracks_to_stage([])
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        assert z["xyxy"].shape == (0, 4) and z["frame_index"].shape == (0,)
