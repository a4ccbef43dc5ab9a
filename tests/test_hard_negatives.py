"""The hard negatives of ../shared/data/adult_child produce no carry event.

Each real photo (a woman hugging a child-sized teddy bear, a man pushing a stroller in a crowd,
a baby alone, a boy alone) becomes a 4 s clip: a slow pan and zoom across the photo, as a PTZ
camera would show it. Everything in the frame then moves together, which is the adversarial
case for the carry cue "the small box moves with the big one". The whole scan runs (real
detector, tracker, age groups, events).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.scan import run_scan
from detectors import build_person_detector
from tests.media import write_clip

PHOTOS = {
    "openpose__COCO_val2014_000000000623.jpg": "woman hugging a child-sized teddy bear",
    "openpose__COCO_val2014_000000000257.jpg": "man pushing a stroller, plaza crowd",
    "openpose__COCO_val2014_000000000428.jpg": "baby alone",
    "openpose__COCO_val2014_000000000474.jpg": "boy alone",
}


def pan_frames(img: np.ndarray, n: int = 40) -> list[np.ndarray]:
    """n frames panning and zooming slowly over the photo (output size even, ≥ 320 px wide)."""
    h, w = img.shape[:2]
    out_w, out_h = (w // 2) * 2, (h // 2) * 2
    frames = []
    for i in range(n):
        k = i / (n - 1)
        zoom = 1.0 + 0.12 * k
        cw, ch = w / zoom, h / zoom
        x0, y0 = (w - cw) * k, (h - ch) * 0.5 * k
        crop = img[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
        frames.append(cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_LINEAR))
    return frames


@pytest.fixture(scope="module")
def scanned(shared_data: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = shared_data / "adult_child" / "hard_negatives"
    clips_dir = tmp_path_factory.mktemp("hard_negatives")
    paths = []
    for name in PHOTOS:
        img = cv2.imread(str(folder / name))
        assert img is not None, name
        frames = pan_frames(img)
        h, w = frames[0].shape[:2]
        paths.append(str(write_clip(clips_dir / f"{Path(name).stem}.mp4",
                                    [i / 10 for i in range(len(frames))], (w, h), frames=frames)))
    cfg = load_config(None, [f"models.dir={models_dir}", "output.annotated_video=false"])
    detector = build_person_detector(cfg.detector, cfg.models)
    manifest, code = run_scan(paths, tmp_path_factory.mktemp("out") / "scan", cfg,
                              lambda: detector, report_line=lambda s: None)
    assert code == 0
    return {Path(i["path"]).stem: i for i in manifest["inputs"]}


@pytest.mark.parametrize("name", list(PHOTOS))
def test_hard_negative_gives_no_carry(scanned, name):
    r = scanned[Path(name).stem]
    assert r["status"] == "ok"
    assert r["n_tracks"] >= 1, f"{PHOTOS[name]}: nobody tracked, so the test would prove nothing"
    carries = [e for e in r["events"] if e["type"] == "carry"]
    assert carries == [], f"{PHOTOS[name]}: {carries}"
