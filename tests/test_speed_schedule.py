"""Motion gating, reduced-rate detection and gap filling (detectors/motion.py,
pipeline/detect_schedule.py, tracking/interpolate.py) on synthetic frames and real clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.motion import MotionGate
from pipeline.config import ConfigError, load_config
from pipeline.detect_schedule import DETECT, HOLD, SKIP, DetectionSchedule
from pipeline.types import Detections
from tests.media import write_clip
from tracking.history import TrackHistory
from tracking.interpolate import GapFiller


def _scene(x: int | None = None) -> np.ndarray:
    """A textured 320x240 BGR street-like image, with a dark 12x30 'walker' at column x."""
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(60, 200, (240, 320, 3), dtype=np.uint8), (9, 9), 0)
    if x is not None:
        img[150:180, x : x + 12] = 20
    return img


def test_motion_gate_static_scene_needs_no_detection_after_the_first():
    gate = MotionGate(width=160, pixel_threshold=18, min_area=0.0005, refresh_s=2.0)
    img = _scene()
    need, small = gate.needs_detection(img, 0.0)
    assert need  # no reference yet
    gate.detected(small, 0.0)
    noisy = np.clip(img.astype(int) + np.random.default_rng(1).integers(-4, 5, img.shape), 0, 255)
    for k in range(1, 19):
        need, _ = gate.needs_detection(noisy.astype(np.uint8), k * 0.1)
        assert not need, f"static frame at {k * 0.1:.1f} s asked for a detection"
    need, _ = gate.needs_detection(img, 2.0)
    assert need  # refresh_s reached


def test_motion_gate_sees_a_small_walker_and_accumulates_slow_motion():
    gate = MotionGate(refresh_s=100.0)
    _, small = gate.needs_detection(_scene(100), 0.0)
    gate.detected(small, 0.0)
    need, _ = gate.needs_detection(_scene(108), 0.1)
    assert need and gate.last_changed > 0.0005
    # one pixel a frame is below the threshold frame to frame, but the reference stays put
    gate2 = MotionGate(refresh_s=100.0)
    _, small = gate2.needs_detection(_scene(100), 0.0)
    gate2.detected(small, 0.0)
    seen = [gate2.needs_detection(_scene(100 + k), k * 0.1)[0] for k in range(1, 12)]
    assert any(seen)


@pytest.mark.parametrize("size", [(432, 768), (1080, 1920), (576, 768), (241, 333)])
def test_motion_gate_small_copy_is_the_box_average(size):
    # the small copy is built by halvings where the factor is even (a fast path of OpenCV);
    # it must stay the plain box average by the whole factor, up to rounding
    h, w = size
    img = cv2.GaussianBlur(np.random.default_rng(3).integers(0, 256, (h, w), dtype=np.uint8), (5, 5), 0)
    gate = MotionGate(width=160)
    k = w // 160
    ref = cv2.resize(img, (w // k, h // k), interpolation=cv2.INTER_AREA) if k > 1 else img
    sh = max(1, round(h * 160 / w))
    if ref.shape[:2] != (sh, 160):
        ref = cv2.resize(ref, (160, sh), interpolation=cv2.INTER_LINEAR)
    ref = cv2.GaussianBlur(ref, (3, 3), 0)
    small = gate.small(img)
    assert small.shape == ref.shape == (sh, 160)
    assert np.abs(small.astype(int) - ref.astype(int)).max() <= 2


@pytest.mark.parametrize("kw", [{"width": 8}, {"pixel_threshold": 0}, {"min_area": 1.5},
                                {"refresh_s": 0}])
def test_motion_gate_rejects_bad_arguments(kw):
    with pytest.raises(ValueError, match="MotionGate"):
        MotionGate(**kw)


def test_schedule_detects_every_period_and_never_skips_the_last_frame():
    cfg = load_config(None, ["detector.detect_period_s=0.3", "detector.motion_gate=false"]).detector
    sched = DetectionSchedule(cfg)
    img = _scene()
    pts = [k * 0.1 for k in range(8)]
    got = [sched.decide(img, t, last=(k == 7)) for k, t in enumerate(pts)]
    assert got == [DETECT, SKIP, SKIP, DETECT, SKIP, SKIP, DETECT, DETECT]
    assert sched.counts.to_dict() == {"frames_detected": 4, "frames_held": 0, "frames_skipped": 4,
                                      "frames_deferred_tracked": 0, "windows_detected": 4}


def test_schedule_never_detects_on_a_frame_without_a_picture():
    # a frame left undecoded (pipeline.ingest.BlindFrame) that is due all the same (the
    # decoder's plan and the schedule disagree, e.g. a frame dropped before it): skipped, and
    # the next frame with a picture is due
    cfg = load_config(None, ["detector.detect_period_s=0.3", "detector.motion_gate=false"]).detector
    sched = DetectionSchedule(cfg)
    img = _scene()
    got = [sched.decide(img, 0.0), sched.decide(img, 0.3, picture=False), sched.decide(img, 0.4),
           sched.decide(img, 0.5), sched.decide(img, 0.7)]
    assert got == [DETECT, SKIP, DETECT, SKIP, DETECT]


def test_schedule_holds_a_static_scene_and_detects_motion():
    cfg = load_config(None, ["detector.detect_period_s=0"]).detector
    sched = DetectionSchedule(cfg)
    got = [sched.decide(_scene(100), k * 0.1) for k in range(5)]
    assert got == [DETECT, HOLD, HOLD, HOLD, HOLD]
    assert sched.decide(_scene(130), 0.5) == DETECT


@pytest.mark.parametrize("expr, message", [
    ("detector.detect_period_s=-1", "detector.detect_period_s"),
    ("detector.motion_min_area=2", "detector.motion_min_area"),
    ("detector.motion_refresh_s=0", "detector.motion_refresh_s"),
    ("detector.motion_gate=maybe", "detector.motion_gate"),
    ("detector.motion_width=4", "detector.motion_width"),
    ("tracker.interpolate_max_gap_s=-0.5", "tracker.interpolate_max_gap_s"),
])
def test_speed_knobs_validate(expr, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [expr])


def _tracked(ids, boxes, conf=0.9):
    n = len(ids)
    return Detections(xyxy=np.asarray(boxes, np.float32).reshape(n, 4), confidence=np.full(n, conf),
                      class_id=np.zeros(n), tracker_id=np.asarray(ids),
                      data={"inner_confidence": np.full(n, 0.5, np.float32)})


def test_gap_filler_interpolates_between_observations_and_marks_them():
    hist = TrackHistory("s")
    fill = GapFiller(hist)
    fill.observe(_tracked([1, 2], [[0, 0, 10, 20], [50, 50, 60, 80]]), 0.0, 0)
    fill.skip(0.1, 1)
    fill.skip(0.2, 2)
    fill.observe(_tracked([1], [[30, 0, 40, 20]]), 0.3, 3)  # track 2 not seen: its gap stays
    t1, t2 = hist.tracks()
    assert t1.frame_index.tolist() == [0, 1, 2, 3]
    assert t1.extras["interpolated"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert np.allclose(t1.boxes()[1], [10, 0, 20, 20]) and np.allclose(t1.boxes()[2], [20, 0, 30, 20])
    assert t1.extras["inner_confidence"][1] == pytest.approx(0.5)
    assert t2.frame_index.tolist() == [0]
    assert fill.filled == 2


def test_gap_filler_bridges_short_misses_only():
    hist = TrackHistory("s")
    fill = GapFiller(hist, max_gap_s=0.25)
    fill.observe(_tracked([1, 2], [[0, 0, 10, 20], [50, 0, 60, 20]]), 0.0, 0)
    fill.observe(_tracked([], []), 0.1, 1)  # detector missed both
    fill.observe(_tracked([1], [[20, 0, 30, 20]]), 0.2, 2)  # track 1 back within 0.25 s
    for k in range(3, 6):
        fill.observe(_tracked([], []), k / 10, k)
    fill.observe(_tracked([2], [[50, 0, 60, 20]]), 0.6, 6)  # track 2 back after 0.6 s
    t1, t2 = hist.tracks()
    assert t1.frame_index.tolist() == [0, 1, 2] and t1.extras["interpolated"].tolist() == [0.0, 1.0, 0.0]
    assert np.allclose(t1.boxes()[1], [10, 0, 20, 20])
    assert t2.frame_index.tolist() == [0, 6]
    with pytest.raises(ValueError, match="max_gap_s"):
        GapFiller(hist, max_gap_s=-1)


def test_gap_filler_keeps_time_order_when_gaps_of_different_lengths_end_together():
    hist = TrackHistory("s")
    fill = GapFiller(hist, max_gap_s=1.0)
    fill.observe(_tracked([1, 2], [[0, 0, 10, 20], [50, 0, 60, 20]]), 0.0, 0)
    fill.observe(_tracked([2], [[50, 0, 60, 20]]), 0.3, 3)  # track 1 missed from here
    fill.skip(0.4, 4)
    fill.observe(_tracked([2, 1], [[50, 0, 60, 20], [40, 0, 50, 20]]), 0.5, 5)
    t1, t2 = hist.tracks()
    assert t1.frame_index.tolist() == [0, 3, 4, 5] and t2.frame_index.tolist() == [0, 3, 4, 5]
    assert np.allclose(t1.boxes()[1], [24, 0, 34, 20])


def test_gap_filler_passes_empty_frames_through():
    hist = TrackHistory("s")
    fill = GapFiller(hist)
    fill.observe(Detections.empty(), 0.0, 0)
    fill.skip(0.1, 1)
    fill.observe(Detections.empty(), 0.2, 2)
    assert len(hist) == 0


def test_change_only_on_tracked_people_waits_for_the_tracked_period():
    cfg = load_config(None, ["detector.detect_period_s=0", "detector.tracked_motion_period_s=0.5",
                             "detector.motion_refresh_s=100"]).detector
    sched = DetectionSchedule(cfg)

    def walker() -> np.ndarray:  # the walker's track, swept to now (frame pixels)
        return np.array([[80.0, 140.0, 150.0, 190.0]])

    assert sched.decide(_scene(100), 0.0, known=walker) == DETECT
    got = [sched.decide(_scene(100 + 4 * k), k / 10, known=walker) for k in range(1, 6)]
    assert got == [SKIP, SKIP, SKIP, SKIP, DETECT]  # moved on its track; detected at 0.5 s
    assert sched.counts.deferred == 4
    newcomer = _scene(124)
    newcomer[30:60, 250:262] = 20  # someone new, off every track: detected at once
    assert sched.decide(newcomer, 0.6, known=walker) == DETECT
    assert sched.decide(_scene(128), 0.7, known=walker) == DETECT  # (the newcomer left)
    assert sched.decide(_scene(132), 0.8, known=walker) == SKIP
    assert sched.decide(_scene(136), 0.9, known=walker, last=True) == DETECT  # never skip the last
    # without tracks the same walk is detected every time
    plain = DetectionSchedule(cfg)
    assert [plain.decide(_scene(100 + 4 * k), k / 10) for k in range(3)] == [DETECT] * 3


def test_swept_boxes_cover_a_track_from_its_last_update_to_now():
    from tracking.bytetrack import ByteTrack

    cfg = load_config(None, []).tracker
    bt = ByteTrack(cfg)
    for k in range(4):  # a person walking right, 10 px per 0.1 s
        x = 100 + 10 * k
        bt.update(_tracked([0], [[x, 50, x + 40, 150]]), k / 10)
    (x1, y1, x2, y2), = bt.swept_boxes(0.3 + 0.5)
    assert x1 <= 131 and x2 >= 170 + 45 and abs(y1 - 50) < 5 and abs(y2 - 150) < 5


def _wide(x: int | None = None) -> np.ndarray:
    """A 400x240 (two square tiles, 160-240 shared) textured scene, a dark walker at x."""
    img = cv2.resize(_scene(), (400, 240))
    if x is not None:
        img[150:180, x : x + 12] = 20
    return img


def test_motion_gate_per_region_runs_only_where_the_scene_changed():
    from detectors.tiling import tile_windows

    wins = tile_windows(400, 240, 0.2)
    assert len(wins) == 2 and wins[0][2] < 400 and wins[1][0] > 0
    cfg = load_config(None, ["detector.detect_period_s=0", "detector.motion_refresh_s=100"]).detector
    sched = DetectionSchedule(cfg)
    sched.set_windows(wins, 400, 240)
    assert sched.decide(_wide(40), 0.0) == DETECT and sched.run == [True, True]
    assert sched.decide(_wide(40), 0.1) == HOLD
    assert sched.decide(_wide(60), 0.2) == DETECT and sched.run == [True, False]  # left only
    assert sched.decide(_wide(340), 0.3) == DETECT and sched.run == [True, True]  # left: gone
    assert sched.decide(_wide(360), 0.4) == DETECT and sched.run == [False, True]
    # each window compares with its own last detection (windows run: 2, 1, 2, 1)
    assert sched.counts.windows_detected == 2 + 1 + 2 + 1


def test_tiled_detection_with_held_windows_merges_like_a_full_run():
    from detectors.tiling import detect_tiled, tile_windows

    wins = tile_windows(400, 240, 0.2)
    boxes = {wins[0]: [[10, 20, 60, 200]], wins[1]: [[100, 30, 150, 210]]}

    def one(crop_for):
        def detect_one(crop: np.ndarray) -> Detections:
            b = np.asarray(boxes[crop_for.pop(0)], np.float32)
            return Detections(xyxy=b, confidence=np.full(len(b), 0.9, np.float32),
                              class_id=np.zeros(len(b), np.int32))
        return detect_one

    img = _wide()
    full = detect_tiled(img, one(list(wins)), wins, 0.45)
    cache: list = [None, None]
    first = detect_tiled(img, one(list(wins)), wins, 0.45, [True, True], cache)
    held = detect_tiled(img, one([wins[1]]), wins, 0.45, [False, True], cache)
    for d in (first, held):
        assert np.array_equal(np.sort(d.xyxy, axis=0), np.sort(full.xyxy, axis=0))
    assert len(full) == 2 and full.xyxy[:, 0].max() > wins[1][0]  # shifted to frame pixels
    with pytest.raises(ValueError, match="cache"):
        detect_tiled(img, one(list(wins)), wins, 0.45, [True, False], None)
    # the windows run side by side in two threads: the same boxes, in the same order
    from concurrent.futures import ThreadPoolExecutor

    columns = np.broadcast_to((np.arange(400) // 2).astype(np.uint8)[None, :, None], (240, 400, 3))

    def by_window(crop: np.ndarray) -> Detections:  # a crop's first column says which window
        win = next(w for w in wins if w[0] // 2 == crop[0, 0, 0])
        b = np.asarray(boxes[win], np.float32)
        return Detections(xyxy=b, confidence=np.full(len(b), 0.9, np.float32),
                          class_id=np.zeros(len(b), np.int32))
    with ThreadPoolExecutor(2) as pool:
        side = detect_tiled(np.ascontiguousarray(columns), by_window, wins, 0.45, lanes=pool)
    assert np.array_equal(side.xyxy, full.xyxy)


# --- real components on real clips -------------------------------------------------------------

def _run(path: Path, sets: list[str]):
    from detectors import build_person_detector
    from pipeline.ingest import VideoSource
    from pipeline.runner import SourceResult, _analyse, _Timer

    cfg = load_config(None, sets)
    det = build_person_detector(cfg.detector, cfg.models)
    res = SourceResult(path=str(path))
    timer = _Timer()
    hist = _analyse(VideoSource(path, analysis_fps=cfg.ingest.analysis_fps), cfg, det, timer, res,
                    None)
    return hist, res, timer


def test_static_clip_is_gated_and_moving_clip_is_not(tmp_path, models_env):
    pts = [k / 10 for k in range(30)]
    static = write_clip(tmp_path / "static.mp4", pts, size=(320, 240),
                        frames=[_scene() for _ in pts])
    moving = write_clip(tmp_path / "moving.mp4", pts, size=(320, 240),
                        frames=[_scene(20 + 8 * k) for k in range(30)])
    sets = ["detector.detect_period_s=0"]
    _, res, timer = _run(static, sets)
    assert res.schedule["frames_detected"] <= 2  # the first frame and one refresh at 2 s
    assert res.schedule["frames_held"] >= 28
    _, res, _ = _run(moving, sets)
    assert res.schedule["frames_detected"] == 30 and res.schedule["frames_held"] == 0


def test_reduced_rate_on_real_footage_interpolates_marked_boxes(tmp_path, models_env, shared_data):
    import av

    src = shared_data / "pedestrians" / "opencv__vtest.avi"
    with av.open(str(src)) as c:
        frames = [f.to_ndarray(format="bgr24") for _, f in zip(range(25), c.decode(video=0))]
    clip = write_clip(tmp_path / "vtest25.mp4", [k / 10 for k in range(25)], size=(768, 576),
                      frames=frames)
    hist, res, _ = _run(clip, ["detector.detect_period_s=0.3"])
    assert res.schedule["frames_skipped"] > 0 and res.schedule["observations_interpolated"] > 0
    tracks = [t for t in hist.tracks() if len(t) >= 10]
    assert tracks, "no track on vtest's first 25 frames"
    n_interp = 0
    for t in tracks:
        flags = np.asarray(t.extras["interpolated"])
        assert np.all(flags[np.asarray(t.frame_index) % 3 == 0] == 0)  # detected frames 0, 3, ...
        b = t.boxes()
        for k in np.flatnonzero(flags == 1):
            lo = max(j for j in range(k) if flags[j] == 0)
            hi = min(j for j in range(k + 1, len(t)) if flags[j] == 0)
            assert np.all(b[k] >= np.minimum(b[lo], b[hi]) - 1e-3)
            assert np.all(b[k] <= np.maximum(b[lo], b[hi]) + 1e-3)
            n_interp += 1
    assert n_interp > 0


def test_child_score_survives_an_extreme_height_ratio():
    # MOT17-11's 7 frames gave a perspective fit whose height ratio overflowed math.exp.
    from pipeline.attributes import _child_score
    from pipeline.config import AttributesConfig

    cfg = AttributesConfig()
    assert _child_score(1e4, cfg) == pytest.approx(0.0)
    assert _child_score(-1e4, cfg) == pytest.approx(1.0)
