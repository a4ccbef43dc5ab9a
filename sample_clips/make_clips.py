"""Make the demo clips from real photos that ship inside the installed ultralytics wheel.

No third-party media is committed: the clips are built on the user's machine from
``ultralytics/assets/bus.jpg`` (810×1080, people beside a bus). Three clips:

- ``street_pan.mp4``: a slow pan and zoom across the photo, 12.5 fps, 640×480, sensor noise and
  softening — people move through the frame as the camera moves;
- ``walkers.mp4``: two real people cut out of the photo (GrabCut masks from hand-placed
  rectangles) walk across a background made of the same photo's bus and pavement, one each
  way, so they cross; 15 fps, 768×528, with a walking bob;
- ``night_walk.mp4``: the walkers rendered dark, blue-tinted, noisy and blurred, 10 fps.

The walker clips come with ``<name>.gt.txt``: MOTChallenge rows ``frame,id,x,y,w,h,1,1,1``
(frame 1-based) from the pasted masks, for checking tracking.

    python sample_clips/make_clips.py [--out DIR] [--force]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

# GrabCut set-up on bus.jpg: person rectangle, then rectangles known to be background and
# known to be the person (read off the photo), as (x1, y1, x2, y2).
_PEOPLE = {
    "coat": ((42, 390, 252, 906),
             [(232, 395, 360, 850), (110, 800, 140, 858), (42, 780, 58, 860), (205, 760, 252, 856)],
             [(100, 420, 150, 470), (80, 500, 180, 650), (70, 700, 110, 820), (150, 700, 190, 820),
              (60, 870, 95, 890), (185, 872, 230, 890)]),
    "black": ((212, 398, 352, 868), [(30, 395, 212, 915)],
              [(260, 420, 300, 460), (240, 520, 320, 650), (250, 720, 320, 800), (258, 830, 285, 850)]),
}


def find_photo(name: str = "bus.jpg") -> Path:
    """Path of a photo in the installed ultralytics wheel's ``assets`` folder."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the ultralytics package is not installed (pip install ultralytics)")
    path = Path(list(spec.submodule_search_locations)[0]) / "assets" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found in the installed ultralytics wheel")
    return path


def cut_person(img: np.ndarray, rect, bg_rects, fg_rects) -> tuple[np.ndarray, np.ndarray]:
    """GrabCut a person; returns the BGR crop and its feathered alpha (float32 0..1)."""
    x0, y0, x1, y1 = rect
    mask = np.full(img.shape[:2], cv2.GC_BGD, np.uint8)
    mask[y0:y1, x0:x1] = cv2.GC_PR_FGD
    for a, b, c, d in bg_rects:
        mask[b:d, a:c] = cv2.GC_BGD
    for a, b, c, d in fg_rects:
        mask[b:d, a:c] = cv2.GC_FGD
    cv2.setRNGSeed(0)
    cv2.grabCut(img, mask, None, np.zeros((1, 65)), np.zeros((1, 65)), 6, cv2.GC_INIT_WITH_MASK)
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    ys, xs = np.nonzero(fg)
    crop = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    alpha = cv2.GaussianBlur(fg[crop], (5, 5), 0)
    return img[crop].copy(), alpha


def paste(canvas: np.ndarray, sprite: np.ndarray, alpha: np.ndarray, x: int, y: int) -> tuple | None:
    """Alpha-blend ``sprite`` with its top-left at (x, y); returns its visible xyxy or None."""
    h, w = alpha.shape
    H, W = canvas.shape[:2]
    x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x2 <= x1 or y2 <= y1:
        return None
    a = alpha[y1 - y : y2 - y, x1 - x : x2 - x, None]
    region = canvas[y1:y2, x1:x2].astype(np.float32)
    blended = region * (1 - a) + sprite[y1 - y : y2 - y, x1 - x : x2 - x].astype(np.float32) * a
    canvas[y1:y2, x1:x2] = blended.astype(np.uint8)
    ys, xs = np.nonzero(a[..., 0] > 0.5)
    if len(xs) == 0:
        return None
    return (x1 + xs.min(), y1 + ys.min(), x1 + xs.max() + 1, y1 + ys.max() + 1)


def cctv_look(img: np.ndarray, rng: np.random.Generator, noise: float, blur: int) -> np.ndarray:
    out = cv2.GaussianBlur(img, (blur, blur), 0) if blur > 1 else img
    out = out.astype(np.float32) + rng.normal(0, noise, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def night_look(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    f = (img.astype(np.float32) / 255.0) ** 2.2 * 0.35  # dark, crushed
    f = f * np.array([1.3, 0.9, 0.7], np.float32)  # BGR: blue cast of sodium-free night CCTV
    f = cv2.GaussianBlur(f, (5, 5), 0) + rng.normal(0, 0.025, f.shape)
    return np.clip(f * 255, 0, 255).astype(np.uint8)


def encode(path: Path, frames: Iterator[np.ndarray], size: tuple[int, int], fps: float) -> int:
    """H.264 yuv420p MP4 through reunite's own writer (ffmpeg-python, imageio-ffmpeg binary,
    atomic rename); returns the number of frames written."""
    from pipeline.outputs.video import VideoWriter

    writer = VideoWriter(path, size[0], size[1], fps, crf=20)
    try:
        for frame in frames:
            writer.write(frame)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return writer.frames


def street_pan(bus: np.ndarray) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(1)
    n = 100  # 8 s at 12.5 fps
    for i in range(n):
        k = i / (n - 1)
        zoom = 1.0 + 0.15 * k
        w, h = 600 / zoom, 450 / zoom
        x, y = 10 + 190 * k, 440 + 60 * k
        crop = bus[int(y) : int(y + h), int(x) : int(x + w)]
        yield cctv_look(cv2.resize(crop, (640, 480), interpolation=cv2.INTER_AREA), rng, 4.0, 3)


def walker_scene(bus: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Background (bus above pavement, no people) and the two people, scaled to ~230 px."""
    bg = np.vstack([bus[0:380], bus[905:1080]])
    bg = cv2.resize(bg, (768, 528), interpolation=cv2.INTER_AREA)
    people = []
    for rect, bg_r, fg_r in _PEOPLE.values():
        sprite, alpha = cut_person(bus, rect, bg_r, fg_r)
        s = 230 / sprite.shape[0]
        size = (max(1, int(sprite.shape[1] * s)), 230)
        people.append((cv2.resize(sprite, size, interpolation=cv2.INTER_AREA),
                       cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)))
    return bg, people


def walkers(scene: tuple, fps: float, seconds: float, look: Callable, gt: list) -> Iterator[np.ndarray]:
    bg, ((s1, a1), (s2, a2)) = scene
    s2, a2 = s2[:, ::-1].copy(), a2[:, ::-1].copy()  # the second walks the other way
    # ... and farther from the camera (smaller, feet higher), so they cross at two depths.
    far = (int(s2.shape[1] * 0.85), int(s2.shape[0] * 0.85))
    s2, a2 = cv2.resize(s2, far, interpolation=cv2.INTER_AREA), cv2.resize(a2, far, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(2)
    n = int(round(seconds * fps))
    for i in range(n):
        t = i / fps
        canvas = bg.copy()
        # ~90 px/s (a 230 px person at ~0.7 heights/s), feet on the pavement band.
        x1, x2 = int(-60 + 90 * t), int(700 - 85 * t)
        bob1, bob2 = int(3 * abs(np.sin(2 * np.pi * 0.9 * t))), int(3 * abs(np.sin(2 * np.pi * 1.0 * t + 1)))
        for pid, (sp, al, x, y) in enumerate(((s2, a2, x2, 275 - bob2), (s1, a1, x1, 285 - bob1)), 1):
            box = paste(canvas, sp, al, x, y)
            if box is not None:
                gt.append((i + 1, pid, box))
        yield look(canvas, rng)


def make_clips(out_dir: Path, force: bool = False) -> list[Path]:
    """Write the three clips (and GT for the walker clips) into ``out_dir``; returns written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bus = cv2.imread(str(find_photo("bus.jpg")))
    if bus is None:
        raise FileNotFoundError("bus.jpg in the ultralytics wheel could not be read")
    scene = walker_scene(bus)
    jobs = {
        "street_pan.mp4": (12.5, (640, 480), lambda gt: street_pan(bus)),
        "walkers.mp4": (15.0, (768, 528),
                        lambda gt: walkers(scene, 15.0, 9.0, lambda f, r: cctv_look(f, r, 3.0, 3), gt)),
        "night_walk.mp4": (10.0, (768, 528), lambda gt: walkers(scene, 10.0, 9.0, night_look, gt)),
    }
    written = []
    for name, (fps, size, frames) in jobs.items():
        path = out_dir / name
        if path.exists() and not force:
            continue
        gt: list = []
        n = encode(path, frames(gt), size, fps)
        if gt:
            rows = [f"{f},{pid},{x1},{y1},{x2 - x1},{y2 - y1},1,1,1" for f, pid, (x1, y1, x2, y2) in gt]
            (out_dir / f"{path.stem}.gt.txt").write_text("\n".join(rows) + "\n")
        print(f"wrote {path} ({n} frames, {size[0]}x{size[1]}, {fps} fps)")
        written.append(path)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description="Make reunite's demo clips from photos in the ultralytics wheel.")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--force", action="store_true", help="regenerate clips that already exist")
    args = ap.parse_args()
    try:
        make_clips(args.out, args.force)
    except FileNotFoundError as exc:
        sys.exit(f"make_clips: {exc}")


if __name__ == "__main__":
    main()
