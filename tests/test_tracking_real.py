"""Tracker on real detections: MOT17-mini frames → YOLOX → ByteTrack, scored against ground truth."""

from __future__ import annotations

import configparser
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors import build_person_detector
from pipeline.boxes import box_iou
from pipeline.config import load_config
from tracking import build_tracker


def gt_frames(seq: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
    rows = rows[(rows[:, 6] == 1) & (rows[:, 7] == 1) & (rows[:, 8] >= 0.5)]
    out = {}
    for f in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == f]
        out[f] = (r[:, 1].astype(int), np.c_[r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]])
    return out


def test_ids_persist_on_mot17_mini(shared_data, models_dir):
    root = shared_data / "tracking_gt" / "MOT17-mini"
    cfg = load_config(None, [f"models.dir={models_dir}"])
    detector = build_person_detector(cfg.detector, cfg.models)
    switches = matched = 0
    for seq in sorted(p for p in root.iterdir() if p.is_dir()):
        ini = configparser.ConfigParser()
        ini.read(seq / "seqinfo.ini")
        fps = float(ini["Sequence"]["frameRate"])
        tracker = build_tracker(cfg.tracker)  # one tracker per source
        assignment: dict[int, int] = {}
        for f, (gt_ids, gt_xyxy) in sorted(gt_frames(seq).items()):
            img = cv2.imread(str(seq / "img1" / f"{f:06d}.jpg"))
            out = tracker.update(detector.detect(img), (f - 1) / fps)
            if len(out) == 0:
                continue
            iou = box_iou(gt_xyxy, out.xyxy)
            for g in range(len(gt_ids)):
                j = int(np.argmax(iou[g]))
                if iou[g, j] < 0.5:
                    continue
                tid = int(out.tracker_id[j])
                matched += 1
                prev = assignment.get(int(gt_ids[g]))
                if prev is not None and prev != tid:
                    switches += 1
                assignment[int(gt_ids[g])] = tid
    # A pedestrian matched in several frames keeps one id: at most 2% of matches switch.
    print(f"MOT17-mini: {matched} GT boxes matched to tracks, {switches} id switches")
    assert matched > 150
    assert switches <= 0.02 * matched, (switches, matched)
