"""Where each made carry is lost: is the child tracked, is there a pair, which cue fails.

    REUNITE_MODELS=../shared/models .venv/bin/python bench/carry_funnel.py CLIPS_DIR... \\
        [--split tune] [--store runs/eval.sqlite] [--config FILE] [--set key=value ...]

For every positive clip of the split (default ``tune``: the test clips are not scanned unless
asked for) with per-frame child boxes in its ground truth (bench/make_event_clips.py), the
clip is scanned as bench/eval_events.py does, its tracks are read back, and one row says:

- ``tracked``: share of the child's ground-truth frames (among those analysed) where some
  track's box overlaps the child at IoU >= 0.3 and is at most 1.5 times the child's height
  (a small child inside the carrier's box can overlap it at 0.3 too);
- ``child track``: the track on the child in most frames, and in how many of the frames;
- the best pair of that track with a bigger one (most qualifying instants, through
  pipeline.events.carry_cues): per cue, the share of their common instants that pass it,
  and the qualifying seconds against ``events.carry_min_duration_s``;
- ``event``: whether a carry matched the ground truth (temporal IoU >= 0.3).

A row reads left to right as a funnel: a child never tracked cannot be paired, a pair failing
one cue everywhere names the cue. Times in the ground truth count from the clip's first frame.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.eval_events import tiou  # noqa: E402
from detectors import build_person_detector  # noqa: E402
from pipeline.attributes import classify_tracks  # noqa: E402
from pipeline.boxes import box_iou  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.events import carry_cues  # noqa: E402
from pipeline.scan import run_scan  # noqa: E402
from pipeline.types import Track  # noqa: E402

SHORT = {"containment": "cont", "off_ground": "off", "size_ratio": "size",
         "relative_speed": "speed", "not_standing_behind": "behind"}


def read_tracks(path: Path, source_id: str) -> list[Track]:
    """tracks.jsonl back into Track objects (boxes, times, confidences)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        obs = d["observations"]
        out.append(Track(
            d["track_id"], source_id, pts_s=[o["pts_s"] for o in obs],
            frame_index=[o["frame"] for o in obs], xyxy=[o["xyxy"] for o in obs],
            confidence=[o["confidence"] for o in obs]))
    return out


def funnel(clip: dict, entry: dict, out_dir: Path, cfg) -> str:
    """One row for one clip (see the module doc)."""
    tracks = read_tracks(out_dir / entry["outputs"]["tracks_jsonl"], entry["path"])
    persp = classify_tracks(tracks, int(entry["probe"]["height"]), cfg.attributes)
    t0 = (entry.get("decode") or {}).get("first_pts_s") or 0.0
    gt = {round(b["t_s"], 2): np.asarray(b["xyxy"], np.float64) for b in clip["child_boxes"]}
    on_child: dict[int, int] = {}
    covered: set[float] = set()
    for t in tracks:
        b = t.xyxy.astype(np.float64)
        for k, ts in enumerate(t.pts_s):
            key = round(float(ts) - t0, 2)
            g = gt.get(key)
            if (g is not None and box_iou(g[None], b[k:k + 1])[0, 0] >= 0.3
                    and b[k, 3] - b[k, 1] <= 1.5 * (g[3] - g[1])):  # not the carrier's box
                on_child[t.track_id] = on_child.get(t.track_id, 0) + 1
                covered.add(key)
    analysed = {round(float(ts) - t0, 2) for t in tracks for ts in t.pts_s} & set(gt)
    n_gt = max(len(analysed), 1)
    matched = any(e["type"] == "carry" and tiou((e["start_s"], e["end_s"]), (g["start_s"], g["end_s"])) >= 0.3
                  for e in entry["events"] for g in clip["events"])
    row = f"tracked {len(covered) / n_gt:4.2f}"
    if not on_child:
        return f"{row}  child track -          pair -{'':52s} event {'yes' if matched else 'no'}"
    cid = max(on_child, key=lambda k: (on_child[k], -k))
    child = next(t for t in tracks if t.track_id == cid)
    row += f"  child track #{cid:<3d} {on_child[cid]:3d}/{n_gt:<3d}"
    best = None
    for big in tracks:
        if big is child:
            continue
        cues = carry_cues(big, child, cfg.events, persp)
        if cues is None:
            continue
        secs, near = cues.qualifying_s, float(np.mean(cues.tests["containment"]))
        if best is None or (secs, near) > (best[0], best[1]):
            best = (secs, near, big.track_id, cues.tests)
    if best is None or best[1] == 0:
        return f"{row}  pair -{'':52s} event {'yes' if matched else 'no'}"
    secs, _, bid, tests = best
    cues = " ".join(f"{SHORT.get(k, k)} {float(np.mean(v)):.2f}" for k, v in tests.items())
    return (f"{row}  pair #{bid:<3d} {cues}  qualifying {secs:.1f}/{cfg.events.carry_min_duration_s:.1f} s"
            f"  event {'yes' if matched else 'no'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clips", type=Path, nargs="+", help="folders with ground_truth.json")
    ap.add_argument("--split", default="tune", choices=["tune", "test", "all"])
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--store", type=Path, default=None, help="a case store kept between runs")
    args = ap.parse_args()
    cfg = load_config(args.config, args.sets + ["output.annotated_video=false"])
    detector = build_person_detector(cfg.detector, cfg.models)
    clips = [dict(c, path=str(d / c["file"]))
             for d in args.clips for c in json.loads((d / "ground_truth.json").read_text())["clips"]
             if c["events"] and c.get("child_boxes") and args.split in ("all", c["split"])]
    with tempfile.TemporaryDirectory() as td:
        out = Path(td) / "out"
        manifest, _ = run_scan([c["path"] for c in clips], out, cfg, lambda: detector,
                               report_line=lambda s: None, store_path=args.store)
        by_name = {Path(e["path"]).name: e for e in manifest["inputs"]}
        for c in clips:
            entry = by_name[c["file"]]
            if entry.get("status") != "ok":
                print(f"{c['file'][:50]:50s} {c['split']:5s} scan {entry.get('status')}: {entry.get('error')}")
                continue
            print(f"{c['file'][:50]:50s} {c['split']:5s} {funnel(c, entry, out, cfg)}")
    print(f"config: {args.config or 'defaults'}; overrides: {args.sets or 'none'}")


if __name__ == "__main__":
    main()
