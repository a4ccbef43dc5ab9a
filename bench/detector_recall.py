"""Person recall at IoU 0.5 on MOT17-mini for the registered detectors, side by side.

Ground truth: rows with consider flag 1 and class 1 (pedestrian); "visible" = visibility >= 0.5
and box height >= 50 px (as in ENVIRONMENT.md). A detection matches at most one GT box
(greedy by score, IoU >= 0.5). Printed for score thresholds 0.25 and the configured 0.1, with
the median milliseconds per frame.

    REUNITE_MODELS=../shared/models .venv/bin/python bench/detector_recall.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA  # noqa: E402
from detectors import build_person_detector  # noqa: E402
from pipeline.boxes import box_iou  # noqa: E402
from pipeline.config import load_config  # noqa: E402

VARIANTS = {
    "yolox_nano tiled (default)": ["detector.model=yolox_nano", "detector.tiling=auto"],
    "yolox_nano whole frame": ["detector.model=yolox_nano", "detector.tiling=off"],
    "yolov8n @416 tiled": ["detector.model=yolov8n", "detector.input_size=416",
                           "detector.tiling=auto"],
    "yolov8n @640 tiled": ["detector.model=yolov8n", "detector.input_size=640",
                           "detector.tiling=auto"],
    "yolov8s_fall @640 tiled": ["detector.model=yolov8s_fall", "detector.input_size=640",
                                "detector.tiling=auto"],
    "yolov8s_fall @640 whole frame": ["detector.model=yolov8s_fall", "detector.input_size=640",
                                      "detector.tiling=off"],
}


def load_gt(seq: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
    rows = rows[(rows[:, 6] == 1) & (rows[:, 7] == 1)]
    out = {}
    for f in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == f]
        xyxy = np.c_[r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]]
        visible = (r[:, 8] >= 0.5) & (r[:, 5] >= 50)
        out[f] = (xyxy, visible)
    return out


def matched(gt: np.ndarray, det: np.ndarray, scores: np.ndarray) -> np.ndarray:
    hit = np.zeros(len(gt), bool)
    if len(det) == 0 or len(gt) == 0:
        return hit
    iou = box_iou(det[np.argsort(-scores)], gt)
    for row in iou:
        row = np.where(hit, 0, row)
        j = int(np.argmax(row))
        if row[j] >= 0.5:
            hit[j] = True
    return hit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = ap.parse_args()
    root = DATA / "tracking_gt" / "MOT17-mini"
    if not root.is_dir():
        sys.exit(f"MOT17-mini not found at {root}")
    seqs = sorted(p for p in root.iterdir() if p.is_dir())
    print(f"MOT17-mini: {len(seqs)} sequences from {root}")
    print(f"{'detector':32s} {'recall@.25 all':>15s} {'vis':>6s} {'recall@.10 all':>15s} {'vis':>6s}"
          f" {'ms/frame':>9s}")
    for name in args.variants:
        cfg = load_config(None, [*VARIANTS[name], "detector.confidence=0.1"])
        det = build_person_detector(cfg.detector, cfg.models)
        tot = {k: [0, 0, 0, 0] for k in (0.25, 0.10)}  # hits all, n all, hits vis, n vis
        ms = []
        for seq in seqs:
            gt = load_gt(seq)
            for f, (gxyxy, vis) in gt.items():
                img = cv2.imread(str(seq / "img1" / f"{f:06d}.jpg"))
                det.detect(img) if not ms else None  # warm-up on the first frame
                t = time.perf_counter()
                d = det.detect(img)
                ms.append((time.perf_counter() - t) * 1000)
                for thr in tot:
                    keep = d.confidence >= thr
                    hit = matched(gxyxy, d.xyxy[keep], d.confidence[keep])
                    tot[thr][0] += int(hit.sum())
                    tot[thr][1] += len(hit)
                    tot[thr][2] += int(hit[vis].sum())
                    tot[thr][3] += int(vis.sum())
        a, b = tot[0.25], tot[0.10]
        print(f"{name:32s} {a[0] / a[1]:15.3f} {a[2] / a[3]:6.3f} {b[0] / b[1]:15.3f} "
              f"{b[2] / b[3]:6.3f} {statistics.median(ms):9.1f}")
    print(f"(GT boxes: {a[1]} all, {a[3]} visible)")


if __name__ == "__main__":
    main()
