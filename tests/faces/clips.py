"""Test clips with known faces: real photos composited onto real CCTV footage.

A head-and-shoulders cut of a face photo is pasted over frames of vtest.avi (a real street
camera) and moved across the frame during a time window, then the clip is encoded with the
project's VideoWriter. The face boxes below were measured once in each photo (dlib HOG) and
only anchor the cut; the scan under test must find the face again itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.outputs.video import VideoWriter

FACE_BOXES = {  # photo (relative to data/faces/face_recognition) → face xyxy in the photo
    "knn_train/obama__obama.jpg": (373, 156, 617, 400),
    "knn_train/obama__obama2.jpg": (163, 301, 473, 611),
    "obama-480p.jpg": (383, 65, 507, 189),
    "obama3.jpg": (635, 280, 926, 572),
    "knn_train/biden__biden2.jpg": (434, 286, 881, 732),
    "knn_train/rose_leslie__img2.jpg": (165, 194, 423, 452),
    "knn_train/kit_harington__john1.jpeg": (673, 107, 797, 230),
    "knn_train/kit_harington__john2.jpeg": (283, 98, 469, 284),
}


@dataclass
class Appearance:
    """A photo on screen from ``t0`` to ``t1`` seconds, its left edge moving x0 → x1 pixels."""

    photo: str
    t0: float
    t1: float
    x0: int
    x1: int
    height: int = 260


def bust(faces_dir: Path, photo: str, height: int) -> np.ndarray:
    """Head-and-shoulders cut of a photo, scaled to ``height`` pixels (BGR)."""
    image = cv2.imread(str(faces_dir / "face_recognition" / photo))
    assert image is not None, photo
    x1, y1, x2, y2 = FACE_BOXES[photo]
    fw, fh = x2 - x1, y2 - y1
    h, w = image.shape[:2]
    cut = image[max(0, y1 - fh // 2):min(h, y2 + 2 * fh), max(0, x1 - fw):min(w, x2 + fw)]
    s = height / cut.shape[0]
    return cv2.resize(cut, (round(cut.shape[1] * s), height), interpolation=cv2.INTER_AREA)


def make_clip(path: Path, background: Path, first_frame: int, n_frames: int, faces_dir: Path,
              appearances: list[Appearance], fps: float = 10.0) -> Path:
    """Encode ``n_frames`` of ``background`` from ``first_frame`` with the photos pasted in."""
    import av

    cuts = [bust(faces_dir, a.photo, a.height) for a in appearances]
    writer = None
    with av.open(str(background)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k < first_frame:
                continue
            i = k - first_frame
            if i >= n_frames:
                break
            img = frame.to_ndarray(format="bgr24")
            if writer is None:
                writer = VideoWriter(path, img.shape[1], img.shape[0], fps, crf=18)
            t = i / fps
            for a, cut in zip(appearances, cuts):
                if a.t0 <= t <= a.t1:
                    x = round(a.x0 + (a.x1 - a.x0) * (t - a.t0) / max(a.t1 - a.t0, 1e-6))
                    y = img.shape[0] - cut.shape[0] - 40
                    cw = min(cut.shape[1], img.shape[1] - x)
                    img[y:y + cut.shape[0], x:x + cw] = cut[:, :cw]
            writer.write(img)
    assert writer is not None
    writer.close()
    return path
