"""Unit tests of the face stage's own logic on synthetic inputs (no model, no data)."""

from __future__ import annotations

import numpy as np

from detectors.faces import Face
from pipeline.config import FacesConfig
from pipeline.faces import FaceCandidates, face_quality, head_region, template_of
from pipeline.identities import cluster_identities
from pipeline.types import Detections, Frame
from pipeline.watchlist import match_tracks


def _frame(i: int, fps: float = 10.0) -> Frame:
    rng = np.random.default_rng(i)
    return Frame(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), "s", i, i / fps)


def _tracked(ids: list[int], boxes: list[list[float]]) -> Detections:
    n = len(ids)
    return Detections(np.array(boxes, np.float32).reshape(n, 4), np.full(n, 0.9), np.zeros(n),
                      tracker_id=np.array(ids))


def test_candidates_stay_bounded_and_spread_in_time():
    cfg = FacesConfig(candidates_per_track=4, candidate_min_gap_s=0.5)
    c = FaceCandidates(cfg)
    c.add(_frame(0), Detections.empty())  # empty input is normal
    for i in range(300):
        c.add(_frame(i), _tracked([1, 2], [[10, 10, 60, 200], [100, 20, 150, 220]]))
    wanted = c.wanted()
    per_track: dict[int, list[int]] = {}
    for idx, items in wanted.items():
        for tid, box in items:
            per_track.setdefault(tid, []).append(idx)
            assert box.shape == (4,)
    assert set(per_track) == {1, 2}
    for idxs in per_track.values():
        assert len(idxs) == 4
        t = np.sort(np.array(idxs)) / 10.0
        assert np.all(np.diff(t) >= 0.5 - 1e-9)
    assert c.appearance(1) is not None and c.appearance(99) is None
    c.reset()
    assert len(c) == 0 and c.wanted() == {}


def test_face_models_are_loaded_once_someone_is_tracked(tmp_path):
    from pipeline.faces import FaceTemplates

    loads: list[int] = []

    def no_models():
        raise AssertionError("no track finished here: the models are never needed")

    templates = FaceTemplates(no_models, FacesConfig(), tmp_path, "s", prefetch=lambda: loads.append(1))
    c = FaceCandidates(FacesConfig(), templates, finish_after_s=5.0)
    for i in range(20):  # an empty scene: nobody tracked, nothing loaded
        c.add(_frame(i), Detections.empty())
    assert loads == []
    for i in range(20, 40):  # a person: loading starts once, in the background
        c.add(_frame(i), _tracked([1], [[10, 10, 60, 200]]))
    assert loads == [1]


def test_head_region_tall_and_squat_boxes():
    # a standing person: the top 40%; a head-and-shoulders box: at least a box width tall
    x1, y1, x2, y2 = head_region(np.array([100, 50, 140, 250]), 640, 480, 0.4)
    assert (y1, y2) == (40, 130) and x1 == 96 and x2 == 144
    _, _, _, y2 = head_region(np.array([100, 50, 300, 250]), 640, 480, 0.4)
    assert y2 == 250
    assert head_region(np.array([600, 400, 700, 520]), 640, 480, 0.4)[2:] == (640, 480)


def _face(nose_x: float, width: float, sharp: bool = True) -> Face:
    rng = np.random.default_rng(0)
    chip = (rng.integers(0, 255, (150, 150, 3)) if sharp else np.full((150, 150, 3), 128)).astype(np.uint8)
    lm = np.array([[70, 40], [55, 40], [30, 40], [45, 40], [nose_x, 60]], np.float32)
    return Face(np.array([0, 0, width, width], np.float32), 1.0, lm, chip)


def test_quality_prefers_big_sharp_frontal_faces():
    cfg = FacesConfig()
    frontal, _ = face_quality(_face(50, 80), 1.0, cfg)
    turned, _ = face_quality(_face(68, 80), 1.0, cfg)
    small, w = face_quality(_face(50, 80), 2.0, cfg)  # detected on a 2x enlarged crop
    blurred, _ = face_quality(_face(50, 80, sharp=False), 1.0, cfg)
    assert w == 40.0
    assert frontal > turned and frontal > small and blurred == 0.0
    assert frontal == 1.0


def _unit(v) -> list[float]:
    v = np.asarray(v, np.float32)
    return (v / np.linalg.norm(v)).tolist()


def test_template_is_unit_mean():
    t = template_of(np.array([_unit([1, 0, 0]), _unit([0, 1, 0])], np.float32))
    assert np.allclose(t, _unit([1, 1, 0]), atol=1e-6)


def _track(src, tid, t0, t1, template=None, appearance=None, quality="ok"):
    return {"source": src, "source_sha256": "0" * 64, "track": tid, "start_s": t0, "end_s": t1,
            "template": template, "appearance": appearance, "quality": quality,
            "thumbnail": f"faces/{src}/t{tid}.jpg" if template else None,
            "person_thumbnail": f"faces/{src}/t{tid}_person.jpg"}


def test_matches_report_every_candidate_with_rank_and_mark_low_quality():
    wl = {"subjects": [{"subject": "a", "template": np.array(_unit([1, 0.05, 0]), np.float32)},
                       {"subject": "b", "template": np.array(_unit([1, 0.2, 0]), np.float32)},
                       {"subject": "c", "template": np.array(_unit([0, 0, 1]), np.float32)}]}
    tracks = [_track("x", 1, 0, 2, _unit([1, 0, 0])),
              _track("x", 2, 3, 4, _unit([1, 0.01, 0]), quality="low"),
              _track("x", 3, 3, 4, None)]
    m = match_tracks(tracks, wl, 0.05, {"a": "faces/watchlist/a.jpg"})
    pairs = {(r["subject"], r["track"]): r for r in m}
    assert set(pairs) == {("a", 1), ("a", 2), ("b", 1), ("b", 2)}
    assert pairs[("a", 1)]["rank"] == 1 and pairs[("b", 1)]["rank"] == 2
    assert pairs[("a", 2)]["quality"] == "low"
    assert pairs[("b", 1)]["reference_thumbnail"] is None
    assert match_tracks([], wl, 0.05, {}) == []


def test_identities_face_first_then_appearance_never_two_at_once():
    red, blue = [1.0, 0, 0, 0], [0, 0, 1.0, 0]
    tracks = [
        _track("cam1", 1, 0, 5, _unit([1, 0.02, 0]), red),
        _track("cam2", 4, 10, 12, _unit([1, 0.02, 0.001]), blue),   # same face, other clothes
        _track("cam1", 2, 1, 4, _unit([1, -0.01, 0]), red),          # close face, same time: no
        _track("cam2", 5, 20, 25, None, red),                         # no face, red clothes
        _track("cam3", 7, 0, 3, None, [0, 1.0, 0, 0]),                # nobody else wears this
    ]
    ids = cluster_identities(tracks, 0.05, 0.1)
    by_track = {(s["source"], s["track"]): i for i in ids for s in i["sightings"]}
    a = by_track[("cam1", 1)]
    assert by_track[("cam2", 4)] is a and by_track[("cam1", 2)] is not a
    assert a["linked_by"] in ("face", "face+appearance")
    assert by_track[("cam3", 7)]["linked_by"] == "single"
    joined = by_track[("cam2", 5)]
    assert joined["linked_by"] in ("appearance", "face+appearance") and len(joined["sightings"]) > 1
    cues = {(s["source"], s["track"]): s["cue"] for s in joined["sightings"]}
    assert cues[("cam2", 5)] == "appearance"
    assert all(s["thumbnail"] for i in ids for s in i["sightings"])
    assert cluster_identities([], 0.05, 0.1) == []
