"""A clip with a real carry event for the report tests: the real boy of bench/make_event_clips.py
(cut from a COCO photo in ../shared/data) pasted on the right hip of a real person (cut from
ultralytics' bus.jpg) walking across the demo scene of sample_clips/make_clips.py.

Measured with the default config: reunite finds one carry (1.7–6.9 s, score 0.77) on it; the
left hip, shoulders and front poses on the same walk give no carry, so this is the clip the
report's end-to-end tests use (not a guarantee of recall).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from bench.make_event_clips import BOY, POSES
from sample_clips.make_clips import cctv_look, cut_person, encode, find_photo, paste, walker_scene, walkers

CARRY_WINDOW_S = (1.5, 7.0)


def carry_clip(path: Path, data: Path, fps: float = 10.0, seconds: float = 9.0,
               pose: str = "hip_right", night: bool = False) -> Path:
    """Write the composite MP4 (768×528, H.264) to ``path``; ``data`` is ../shared/data."""
    bus = cv2.imread(str(find_photo("bus.jpg")))
    gt: list = []
    frames = list(walkers(walker_scene(bus), fps, seconds, lambda f, r: f, gt))
    boy, alpha = cut_person(cv2.imread(str(data / BOY[0])), BOY[1], BOY[2], BOY[3])
    near = {f - 1: b for f, pid, b in gt if pid == 2}  # the nearer walker carries him
    rel_h, rel_bottom, rel_dx = POSES[pose]
    rng = np.random.default_rng(3)
    out = []
    for i, img in enumerate(frames):
        img = img.copy()
        if CARRY_WINDOW_S[0] <= i / fps <= CARRY_WINDOW_S[1] and i in near:
            x1, y1, x2, y2 = near[i]
            ch = int(rel_h * (y2 - y1))
            cw = int(boy.shape[1] * ch / boy.shape[0])
            spr = cv2.resize(boy, (cw, ch), interpolation=cv2.INTER_AREA)
            alp = cv2.resize(alpha, (cw, ch), interpolation=cv2.INTER_AREA)
            cx = (x1 + x2) / 2 + rel_dx * (x2 - x1)
            paste(img, spr, alp, int(cx - cw / 2), int(y1 + rel_bottom * (y2 - y1) - ch))
        out.append(cctv_look(img, rng, 3.0, 3))
    encode(path, iter(out), (768, 528), fps)
    return path
