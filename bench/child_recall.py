"""Person recall for carried children: does the detector box the child at all?

    REUNITE_MODELS=../shared/models .venv/bin/python bench/child_recall.py CLIPS_DIR \\
        [--set detector.confidence=0.05 ...]

CLIPS_DIR is made by bench/make_event_clips.py: its ground truth holds, per frame, the box of
the pasted child's visible pixels. For every such frame the configured person detector runs on
the decoded frame; printed per clip and per split (tune/test): the share of child boxes that a
detection at most 1.5 times the child's height overlaps with IoU >= 0.5 and >= 0.3 (a taller
box is the carrier's: a small child inside it overlaps it at 0.3 as well), the median
confidence of the best-overlapping such detection (0 where none overlaps), and the share of
child boxes lying (>= 80%) inside some detection — a merged carrier+child box, which the
one-box carry cue can use even when the child has no box of their own.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors import build_person_detector  # noqa: E402
from pipeline.boxes import box_iou  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.ingest import VideoSource  # noqa: E402


def measure(path: Path, child_boxes: list[dict], detector) -> np.ndarray:
    """Rows (best IoU, its confidence, best containment) for every frame with a child box."""
    gt = {round(b["t_s"], 2): np.asarray(b["xyxy"], np.float64) for b in child_boxes}
    rows = []
    t0 = None
    for frame in VideoSource(path, analysis_fps=0):
        t0 = frame.pts_s if t0 is None else t0
        g = gt.get(round(frame.pts_s - t0, 2))
        if g is None:
            continue
        det = detector.detect(frame.image)
        if len(det) == 0:
            rows.append((0.0, 0.0, 0.0))
            continue
        iou = box_iou(g[None], det.xyxy)[0]
        # A box much taller than the child is the carrier's (or a merged one): a small child
        # inside it overlaps it at IoU 0.3 too. It counts under "inside", not as boxing him.
        iou = np.where(det.xyxy[:, 3] - det.xyxy[:, 1] <= 1.5 * (g[3] - g[1]), iou, 0.0)
        j = int(np.argmax(iou))
        lt = np.maximum(det.xyxy[:, :2], g[:2])
        rb = np.minimum(det.xyxy[:, 2:], g[2:])
        cont = np.clip(rb - lt, 0, None).prod(axis=1) / max((g[2] - g[0]) * (g[3] - g[1]), 1.0)
        rows.append((float(iou[j]), float(det.confidence[j]) if iou[j] > 0 else 0.0, float(cont.max())))
    return np.asarray(rows, np.float64).reshape(-1, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clips", type=Path)
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    args = ap.parse_args()
    cfg = load_config(args.config, args.sets)
    detector = build_person_detector(cfg.detector, cfg.models)
    gt = json.loads((args.clips / "ground_truth.json").read_text())["clips"]
    pooled: dict[str, list[np.ndarray]] = defaultdict(list)
    print(f"{'clip':58s} {'split':5s} {'n':>4s} {'child px':>8s} {'IoU.5':>6s} {'IoU.3':>6s} "
          f"{'conf':>5s} {'inside':>6s}")
    for c in gt:
        if not c.get("child_boxes"):
            continue
        r = measure(args.clips / c["file"], c["child_boxes"], detector)
        h = np.median([b["xyxy"][3] - b["xyxy"][1] for b in c["child_boxes"]])
        pooled[c["split"]].append(r)
        pooled["all"].append(r)
        print(f"{c['file'][:58]:58s} {c['split']:5s} {len(r):4d} {h:8.0f} {np.mean(r[:, 0] >= .5):6.2f} "
              f"{np.mean(r[:, 0] >= .3):6.2f} {np.median(r[:, 1]):5.2f} {np.mean(r[:, 2] >= .8):6.2f}")
    for key in ("tune", "test", "all"):
        if pooled[key]:
            r = np.concatenate(pooled[key])
            print(f"child recall {key:4s}: IoU>=0.5 {np.mean(r[:, 0] >= .5):.2f}, IoU>=0.3 "
                  f"{np.mean(r[:, 0] >= .3):.2f}, inside a detection {np.mean(r[:, 2] >= .8):.2f} "
                  f"({len(r)} child boxes)")
    print(f"detector: {cfg.detector.model} confidence {cfg.detector.confidence} tiling "
          f"{cfg.detector.tiling}; overrides: {args.sets or 'none'}")


if __name__ == "__main__":
    main()
