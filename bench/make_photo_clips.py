"""Carry clips from the one real carry photo: the two fathers walk real CCTV paths with their
children on their shoulders.

The positives of bench/make_event_clips.py paste a child beside a real walker, so the detector
sees two people. Here the carrier and child come from one real photograph
(../shared/data/carry/positive/unsplash_two_fathers_children_on_shoulders.png): each father
with his child is cut out as one figure (GrabCut from rectangles read off the photo), so the
detector meets what a real shoulder carry looks like — often one box holding two people.

How each clip is made (recorded in ground truth):

1. Host footage: real pedestrian CCTV (vtest.avi: ``tune``; the indoor room camera, intel
   one-by-one: ``test``). A real walker's track (reunite's detector + tracker) gives the path:
   per frame, where the feet are and how tall a person is there (the scene's own perspective).
2. The figure walks that path ``shift`` seconds later than the walker did, so the walker is not
   under it; the shift is chosen to keep the figure clear of the other tracked people.
   The father's own height (≈84% of the figure) is scaled to the walker's box height.
3. Variants: ``day``, ``night`` (gamma-darkened, blue cast, noise), ``blur`` (motion blur and
   JPEG-like softening). The ground-truth carry spans every frame the figure is in view.

    REUNITE_MODELS=../shared/models .venv/bin/python bench/make_photo_clips.py runs/photo_clips

Writes CLIPS_DIR/*.mp4 and CLIPS_DIR/ground_truth.json in bench/make_event_clips.py's format
(``child_boxes`` is empty: the child is part of the figure).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA  # noqa: E402
from bench.make_event_clips import HOSTS, carriers, encode_even, host_frames, variant_look  # noqa: E402
from sample_clips.make_clips import cut_person, paste  # noqa: E402

PHOTO = "carry/positive/unsplash_two_fathers_children_on_shoulders.png"
# (name, outer rectangle, sure-foreground rectangles) at full resolution; the father's height is
# ADULT_SHARE of the figure (head top of the father to his feet, over child's head to feet).
FIGURES = [
    ("father_girl", (600, 170, 880, 1030), [(700, 300, 790, 420), (700, 600, 800, 750), (690, 230, 770, 300)]),
    ("father_boy", (895, 160, 1200, 1010), [(990, 300, 1100, 420), (1000, 600, 1100, 750), (980, 220, 1080, 290)]),
]
ADULT_SHARE = 0.84


def cut_figures() -> list[tuple[str, np.ndarray, np.ndarray]]:
    img = cv2.imread(str(DATA / PHOTO))
    if img is None:
        raise FileNotFoundError(DATA / PHOTO)
    half = cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    out = []
    for name, rect, fg in FIGURES:
        spr, alpha = cut_person(half, tuple(v // 2 for v in rect), [],
                                [tuple(v // 2 for v in r) for r in fg])
        out.append((name, spr, alpha))
    return out


def _clearance(path: dict[int, np.ndarray], seen: dict[int, np.ndarray], shift: int, n: int) -> float:
    """Mean overlap (IoU-like) of the path with other people's boxes ``shift`` frames later."""
    tot = 0.0
    for i, b in path.items():
        j = i + shift
        if not 0 <= j < n:
            return float("inf")
        others = seen.get(j, np.zeros((0, 4)))
        if len(others):
            lt = np.maximum(others[:, :2], b[:2])
            rb = np.minimum(others[:, 2:], b[2:])
            inter = np.clip(rb - lt, 0, None).prod(axis=1)
            tot += float((inter / ((b[2] - b[0]) * (b[3] - b[1]))).max())
    return tot / max(len(path), 1)


def build(out_dir: Path, min_s: float, pad_s: float, per_host: int) -> list[dict]:
    figures = cut_figures()
    rng = np.random.default_rng(11)
    clips: list[dict] = []
    for host, (split, seconds) in HOSTS.items():
        if seconds < 2 * min_s:
            continue  # too short to walk a figure along a path shifted away from its walker
        frames, times, fps = host_frames(DATA / host, seconds)
        seen: dict[int, np.ndarray] = {}
        paths = carriers(frames, times, min_s, seen)
        rng.shuffle(paths)
        made = 0
        for tid, path in paths:
            if made >= per_host:
                break
            n = len(frames)
            shifts = [s for s in range(-n, n, max(1, int(fps * 2))) if abs(s) >= fps * 3]
            best = min(shifts, key=lambda s: _clearance(path, seen, s, n), default=None)
            if best is None or _clearance(path, seen, best, n) > 0.15:
                continue
            name_fig, spr, alpha = figures[made % len(figures)]
            variant = ["day", "night", "blur"][made % 3]
            idx = sorted(path)
            shown = [i + best for i in idx]
            c0 = max(0, next(i for i, t in enumerate(times) if t >= times[shown[0]] - pad_s))
            c1 = max(i for i, t in enumerate(times) if t <= times[shown[-1]] + pad_s)
            imgs = []
            for j in range(c0, c1 + 1):
                img = frames[j].copy()
                b = path.get(j - best)
                if b is not None:
                    hf = int((b[3] - b[1]) / ADULT_SHARE)
                    wf = max(4, int(spr.shape[1] * hf / spr.shape[0]))
                    s2 = cv2.resize(spr, (wf, hf), interpolation=cv2.INTER_AREA)
                    a2 = cv2.resize(alpha, (wf, hf), interpolation=cv2.INTER_AREA)
                    paste(img, s2, a2, int((b[0] + b[2]) / 2 - wf / 2), int(b[3] - hf))
                imgs.append(variant_look(img, variant, rng))
            stem = f"{Path(host).stem}-path{tid}-{name_fig}-{variant}"
            encode_even(out_dir / f"{stem}.mp4", imgs, fps)
            t0 = times[c0]
            clips.append({
                "file": f"{stem}.mp4", "split": split, "host": host,
                "how": (f"{name_fig} cut from the real two-fathers photo, walking the path of "
                        f"track {tid} of {host} {(best / fps):+.1f} s later, {variant}"),
                "events": [{"type": "carry", "start_s": round(times[shown[0]] - t0, 3),
                            "end_s": round(times[shown[-1]] - t0, 3)}],
                "child_boxes": [],
            })
            made += 1
            print(f"wrote {stem}.mp4 ({len(imgs)} frames, {split})")
    return clips


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--min-s", type=float, default=4.0, help="shortest walker path to reuse")
    ap.add_argument("--pad-s", type=float, default=2.0)
    ap.add_argument("--per-host", type=int, default=4)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = build(args.out, args.min_s, args.pad_s, args.per_host)
    (args.out / "ground_truth.json").write_text(json.dumps({"clips": clips}, indent=2) + "\n")
    print(f"{len(clips)} clips, ground truth in {args.out / 'ground_truth.json'}")


if __name__ == "__main__":
    main()
