"""Track as columns: the API every stage reads, and what the array-based readers compute
(the same as the per-observation loops they replaced)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from pipeline.attributes import _pair_ratio, _usable
from pipeline.events import _common
from pipeline.outputs.render import FrameObservations
from pipeline.types import Track
from tracking import TrackHistory
from pipeline.types import Detections


def _track(tid: int, times, rng: np.random.Generator, fps: float = 10.0) -> Track:
    t = Track(tid, "cam.mp4")
    for s in times:
        x, h = rng.uniform(0, 600), rng.uniform(30, 200)
        feet = rng.uniform(150, 470)
        t.add(float(s), int(round(s * fps)), np.array([x, feet - h, x + h / 3, feet]),
              float(rng.random()), {"held": 0.0})
    return t


def test_columns_have_the_vocabulary_dtypes_and_are_read_only() -> None:
    t = Track(3, "s")
    t.add(0.5, 5, np.array([1, 2, 3, 4]), 0.9, {"inner_confidence": 0.2})
    t.add(0.7, 7, np.array([2, 2, 4, 4]), 0.8)
    assert t.pts_s.dtype == np.float64 and t.frame_index.dtype == np.int32
    assert t.xyxy.dtype == np.float32 and t.xyxy.shape == (2, 4) and t.boxes() is not None
    assert t.confidence.dtype == np.float32
    assert t.pts_s.tolist() == [0.5, 0.7] and t.frame_index.tolist() == [5, 7]
    assert t.extras["inner_confidence"][0] == np.float32(0.2) and math.isnan(t.extras["inner_confidence"][1])
    with pytest.raises(ValueError):
        t.xyxy[0, 0] = 9  # read-only: copy before changing
    with pytest.raises(TypeError):
        t.extras["x"] = np.zeros(2)  # type: ignore[index]
    assert (t.start_s, t.end_s, len(t)) == (0.5, 0.7, 2)
    assert isinstance(t.start_s, float)


def test_many_observations_grow_and_compact() -> None:
    t = Track(1, "s")
    for k in range(1000):
        t.add(k / 10, k, np.array([k, 0, k + 5, 10]), 0.5, {"held": 1.0} if k % 3 else None)
    assert len(t) == 1000 and t.xyxy[999, 0] == 999
    held = t.extras["held"]
    assert held[1] == 1.0 and math.isnan(held[0]) and math.isnan(held[3])
    before = t.to_dict()
    t.compact()
    assert t.to_dict() == before
    t.add(100.0, 1000, np.array([0, 0, 1, 1]), 0.5)  # still growing after a compact
    assert len(t) == 1001 and math.isnan(t.extras["held"][1000])


def test_constructor_checks_lengths_and_order() -> None:
    t = Track(1, "s", pts_s=[0.0, 0.1], frame_index=[0, 1], xyxy=[[0, 0, 1, 1]] * 2,
              confidence=[0.5, 0.6], extras={"held": [0.0, 1.0]})
    assert t.extras["held"].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="frame_index"):
        Track(1, "s", pts_s=[0.0, 0.1], frame_index=[0], xyxy=[[0, 0, 1, 1]] * 2, confidence=[1, 1])
    with pytest.raises(ValueError, match="shape"):
        Track(1, "s", pts_s=[0.0], frame_index=[0], xyxy=[[0, 0, 1]], confidence=[1])
    with pytest.raises(ValueError, match="time order"):
        Track(1, "s", pts_s=[0.1, 0.0], frame_index=[0, 1], xyxy=[[0, 0, 1, 1]] * 2, confidence=[1, 1])


def test_history_of_many_observations_is_compact() -> None:
    """A busy hour has ~250k observations: as columns they take ~50 bytes each (Python lists of
    floats and tuples took ~320). Measured with tracemalloc, not timed."""
    rng = np.random.default_rng(0)
    n_frames, per_frame = 2000, 25
    history = TrackHistory("s")
    boxes = rng.uniform(0, 100, (per_frame, 4)).astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    tracemalloc.start()
    try:
        for f in range(n_frames):
            ids = np.arange(per_frame) + 1 + per_frame * (f // 100)  # a new crowd every 10 s
            history.add(Detections(xyxy=boxes, confidence=np.full(per_frame, 0.5), class_id=np.zeros(per_frame),
                                   tracker_id=ids, data={"held": np.zeros(per_frame, np.float32),
                                                         "inner_confidence": np.zeros(per_frame, np.float32)}),
                        f / 10, f)
        tracks = history.tracks()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    n_obs = sum(len(t) for t in tracks)
    assert n_obs == n_frames * per_frame
    assert held / n_obs < 80, f"{held / n_obs:.0f} bytes an observation"


def _pair_ratio_loop(track: Track, others, frame_height: int, margin: float):
    """The per-observation loop _pair_ratio replaced (the reference)."""
    ok = _usable(track, frame_height, margin)
    times = {t: i for i, (t, good) in enumerate(zip(track.pts_s.tolist(), ok)) if good}
    ratios = []
    mine = track.boxes()
    for other in others:
        if other.track_id == track.track_id:
            continue
        ob = other.boxes()
        ook = _usable(other, frame_height, margin)
        for j, t in enumerate(other.pts_s.tolist()):
            i = times.get(t)
            if i is None or not ook[j]:
                continue
            h_me, h_o = mine[i, 3] - mine[i, 1], ob[j, 3] - ob[j, 1]
            if abs(mine[i, 3] - ob[j, 3]) <= 0.1 * max(h_me, h_o):
                ratios.append(float(h_me / max(h_o, 1.0)))
    if len(ratios) < 3:
        return None
    r = float(np.median(ratios))
    return r if r < 1.0 else 1.0


def test_pair_ratio_and_common_instants_match_the_loops() -> None:
    rng = np.random.default_rng(7)
    tracks = [_track(k, np.round(np.arange(a, a + d, 0.1), 3), rng)
              for k, (a, d) in enumerate([(0, 30), (5, 10), (12, 40), (50, 5), (1, 0.3)], 1)]
    found = 0
    for t in tracks:
        r = _pair_ratio(t, tracks, 480, 3.0)
        assert r == _pair_ratio_loop(t, tracks, 480, 3.0)
        found += r is not None
        for o in tracks:
            tb = {x: i for i, x in enumerate(o.pts_s.tolist())}
            idx = [(tb[x], j) for j, x in enumerate(t.pts_s.tolist()) if x in tb]
            p = _common(o, t) if o is not t else None
            if o is t or len(idx) < 2:
                assert p is None
                continue
            ia, ic = np.asarray(idx).T
            assert np.array_equal(p.t, o.pts_s[ia]) and np.array_equal(p.c, t.xyxy[ic])
    assert found >= 2


def test_frame_observations_stream_every_observation_in_track_order() -> None:
    rng = np.random.default_rng(1)
    tracks = [_track(k, np.round(np.arange(a, a + d, 0.1), 3), rng)
              for k, (a, d) in enumerate([(3, 2), (0, 6), (1, 0.1), (2.5, 4)], 1)]
    tracks.append(Track(9, "cam.mp4"))  # empty: never shown
    want: dict[int, list] = {}
    for t in tracks:
        for k, idx in enumerate(t.frame_index.tolist()):
            want.setdefault(idx, []).append((t.track_id, k))
    frames = FrameObservations(tracks)
    for idx in range(0, 80, 1):
        assert [(t.track_id, k) for t, k in frames.at(idx)] == want.get(idx, [])
    with pytest.raises(ValueError):
        frames.at(10)


def test_tracks_jsonl_is_written_in_blocks_yet_each_line_is_the_tracks_json(tmp_path) -> None:
    import json

    from pipeline.outputs.tracks import _BLOCK, write_tracks_jsonl

    rng = np.random.default_rng(5)
    long_ = _track(7, np.arange(2 * _BLOCK + 345) / 10, rng)  # a parked figure: many blocks
    long_.set_extra("inner_confidence", np.where(np.arange(len(long_)) % 3, np.nan, 0.25))
    long_.attributes = {"age_group": "adult", "note": "ü \u2028"}
    short = _track(8, [0.0, 0.1], rng)
    one = _track(9, [5.0], rng)
    write_tracks_jsonl([long_, short, one], tmp_path / "t.jsonl")
    lines = (tmp_path / "t.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    assert lines == [json.dumps(t.to_dict(), ensure_ascii=False) for t in (long_, short, one)]
    assert json.loads(lines[0])["observations"][_BLOCK]["pts_s"] == round(_BLOCK / 10, 4)
