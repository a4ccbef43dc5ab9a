"""Event clips from real photos of adults with children: figures cut from them walk real CCTV
paths. ``--kind carry`` (default): the two fathers with their children on their shoulders;
``--kind lead_away``: the three hand-in-hand photos, an adult and a child side by side.

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
    REUNITE_MODELS=../shared/models .venv/bin/python bench/make_photo_clips.py runs/lead_clips \
        --kind lead_away

Lead-away figures (../shared/data/carry/hand_in_hand/, see its SOURCES.md): a woman walking
hand in hand with a girl of about 7 (school corridor photo, the girl 0.74 of the woman's
height), a man walking hand in hand with a toddler (INRIA crop, 0.53) and a man standing
holding a small child's hand (INRIA/Graz crop, 0.56). Each pair is cut out as one figure and
scaled so the adult is as tall as the walker whose path it takes; the ground-truth
``lead_away`` spans every frame the pair is in view (they enter together, walk together
and leave together). The figures slide along the path: the legs do not move, as in the carry
clips. The INRIA crops are 96x160 px and are upscaled 4x before cutting.

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
from bench.make_event_clips import (  # noqa: E402
    HOSTS, carriers, clip_time, encode_even, host_file, host_frames, variant_look,
)
from sample_clips.make_clips import cut_person, paste  # noqa: E402

PHOTO = "carry/positive/unsplash_two_fathers_children_on_shoulders.png"
# (name, outer rectangle, sure-foreground rectangles) at full resolution; the father's height is
# ADULT_SHARE of the figure (head top of the father to his feet, over child's head to feet).
FIGURES = [
    ("father_girl", (600, 170, 880, 1030), [(700, 300, 790, 420), (700, 600, 800, 750), (690, 230, 770, 300)]),
    ("father_boy", (895, 160, 1200, 1010), [(990, 300, 1100, 420), (1000, 600, 1100, 750), (980, 220, 1080, 290)]),
]
ADULT_SHARE = 0.84


HAND = "carry/hand_in_hand/"
# (name, photo, upscale, outer rectangle, sure-foreground, sure-background) in the photo's own
# pixels; the adult is the figure's full height (head top to the feet or the photo's edge).
LEAD_FIGURES = [
    ("mother_girl", HAND + "contacthands_test_4539_7.jpg", 1, (348, 80, 645, 720),
     [(505, 200, 600, 350), (520, 450, 590, 700), (375, 350, 450, 450), (395, 560, 440, 640),
      (380, 260, 425, 320), (520, 100, 590, 190)],
     [(348, 80, 470, 240), (348, 420, 360, 720), (455, 600, 492, 720), (600, 80, 645, 190)]),
    ("father_toddler", HAND + "inria_person_174a.png", 4, (25, 27, 95, 129),
     [(38, 48, 58, 70), (40, 90, 52, 115), (72, 90, 86, 104), (77, 80, 84, 88), (42, 33, 50, 44)],
     [(70, 27, 95, 73), (25, 27, 36, 50)]),
    ("man_child_standing", HAND + "inria_person_and_bike_146a.png", 4, (31, 28, 83, 126),
     [(36, 45, 52, 70), (38, 90, 50, 115), (66, 90, 75, 110), (66, 76, 73, 84), (38, 32, 48, 42)],
     [(31, 28, 35, 126), (60, 28, 83, 68)]),
]


def _read(photo: str) -> np.ndarray:
    img = cv2.imread(str(DATA / photo))
    if img is None:
        raise FileNotFoundError(DATA / photo)
    return img


def cut_figures(kind: str = "carry") -> list[tuple[str, np.ndarray, np.ndarray, float, str]]:
    """(name, sprite, alpha, the adult's share of the figure's height, photo) per figure."""
    out = []
    if kind == "carry":
        half = cv2.resize(_read(PHOTO), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        for name, rect, fg in FIGURES:
            spr, alpha = cut_person(half, tuple(v // 2 for v in rect), [],
                                    [tuple(v // 2 for v in r) for r in fg])
            out.append((name, spr, alpha, ADULT_SHARE, PHOTO))
        return out
    for name, photo, k, rect, fg, bg in LEAD_FIGURES:
        img = cv2.resize(_read(photo), None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
        spr, alpha = cut_person(img, tuple(v * k for v in rect), [tuple(v * k for v in r) for r in bg],
                                [tuple(v * k for v in r) for r in fg])
        out.append((name, spr, alpha, 1.0, photo))
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


def build(out_dir: Path, min_s: float, pad_s: float, per_host: int, kind: str = "carry",
          hosts: list[str] | None = None) -> list[dict]:
    figures = cut_figures(kind)
    rng = np.random.default_rng(11)
    clips: list[dict] = []
    for host, (split, seconds) in HOSTS.items():
        if hosts and not any(h in host for h in hosts):
            continue
        if seconds < 2 * min_s:
            continue  # too short to walk a figure along a path shifted away from its walker
        file, scale, host_stem = host_file(host)
        frames, times, fps = host_frames(file, seconds, scale)
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
            name_fig, spr, alpha, adult_share, photo = figures[made % len(figures)]
            variant = ["day", "night", "blur"][made % 3]
            idx = sorted(path)
            shown = [i + best for i in idx]
            c0 = max(0, next(i for i, t in enumerate(times) if t >= times[shown[0]] - pad_s))
            c1 = max(i for i, t in enumerate(times) if t <= times[shown[-1]] + pad_s)
            imgs, boxes = [], []
            for j in range(c0, c1 + 1):
                img = frames[j].copy()
                b = path.get(j - best)
                if b is not None:
                    hf = int((b[3] - b[1]) / adult_share)
                    wf = max(4, int(spr.shape[1] * hf / spr.shape[0]))
                    s2 = cv2.resize(spr, (wf, hf), interpolation=cv2.INTER_AREA)
                    a2 = cv2.resize(alpha, (wf, hf), interpolation=cv2.INTER_AREA)
                    vis = paste(img, s2, a2, int((b[0] + b[2]) / 2 - wf / 2), int(b[3] - hf))
                    if vis is not None:
                        boxes.append({"t_s": clip_time(j, c0, fps), "xyxy": [int(v) for v in vis]})
                imgs.append(variant_look(img, variant, rng))
            stem = f"{host_stem}-path{tid}-{name_fig}-{variant}"
            encode_even(out_dir / f"{stem}.mp4", imgs, fps)
            clips.append({
                "file": f"{stem}.mp4", "split": split, "host": host,
                "how": (f"{name_fig} cut from the real photo {photo}, walking the path of "
                        f"track {tid} of {host} {(best / fps):+.1f} s later, {variant}"),
                "events": [{"type": kind, "start_s": clip_time(shown[0], c0, fps),
                            "end_s": clip_time(shown[-1], c0, fps)}],
                "child_boxes": [],
                "figure_boxes": boxes,
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
    ap.add_argument("--kind", default="carry", choices=["carry", "lead_away"],
                    help="carry: the two fathers; lead_away: the hand-in-hand photos")
    ap.add_argument("--host", action="append", default=[], help="only hosts whose path has this")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = build(args.out, args.min_s, args.pad_s, args.per_host, args.kind, args.host)
    (args.out / "ground_truth.json").write_text(json.dumps({"clips": clips}, indent=2) + "\n")
    print(f"{len(clips)} clips, ground truth in {args.out / 'ground_truth.json'}")


if __name__ == "__main__":
    main()
