"""Memory of the steps after the analysis pass, at the scale of a long input, without decoding.

    .venv/bin/python bench/track_memory.py SCAN_DIR/sources/SLUG/tracks.jsonl [--copies 6]

Reads the tracks of a finished scan (e.g. a default scan of runs/bench/busy_10min.mp4: 296
tracks, 41k observations) and replicates them ``--copies`` times, shifted in time and frame
number (6 copies of 10 minutes: the ~1,800 tracks and ~245k observations of a busy hour). The
copies are fed to a :class:`~tracking.history.TrackHistory` frame by frame, as the analysis
pass does, then each step the runner takes after it runs in turn: the analysis stage's stored
form (built, encoded as the case store writes it, read back), adult/child, events, the track
files, the annotated video's per-frame boxes, the render pass's track loading. Prints, per
step, its seconds and the process's RSS and peak RSS after it (``--trace``: also the peak
Python allocation inside it).

Peak RSS of a real scan is what ``bench/speed.py long`` measures; this is the quick loop.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.attributes import classify_tracks  # noqa: E402
from pipeline.config import Config  # noqa: E402
from pipeline.events import find_events  # noqa: E402
from pipeline.outputs.overlay import load_tracks  # noqa: E402
from pipeline.outputs.tracks import write_mot, write_tracks_jsonl  # noqa: E402
from pipeline.stages import tracks_from_stage, tracks_to_stage  # noqa: E402
from pipeline.store import decode, encode  # noqa: E402
from pipeline.types import Detections  # noqa: E402
from tracking import TrackHistory  # noqa: E402

EXTRAS = ("inner_confidence", "held", "interpolated")


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def frames_of(path: Path, copies: int) -> tuple[list, float, int]:
    """(per frame: (pts_s, frame index, rows), span seconds, frames per copy) of the copies."""
    per: dict[int, list] = defaultdict(list)
    span, n_frames, max_id = 0.0, 0, 0
    tracks = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for d in tracks:
        max_id = max(max_id, d["track_id"])
        for o in d["observations"]:
            span = max(span, o["pts_s"])
            n_frames = max(n_frames, o["frame"] + 1)
    span = round(span + 0.1, 3)
    for c in range(copies):
        for d in tracks:
            tid = d["track_id"] + c * max_id
            for o in d["observations"]:
                per[o["frame"] + c * n_frames].append(
                    (o["pts_s"] + c * span, tid, o["xyxy"], o["confidence"],
                     [o.get(k, 0.0) for k in EXTRAS]))
    frames = [(rows[0][0], idx, rows) for idx, rows in sorted(per.items())]
    return frames, span * copies, n_frames * copies


class Steps:
    """Runs the steps; prints seconds, RSS and peak RSS after each (and with ``trace`` the
    peak Python allocation inside it, above what was allocated before it: tracemalloc's own
    bookkeeping then inflates the RSS figures)."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        if trace:
            tracemalloc.start()

    def run(self, name: str, fn, *args):
        if self.trace:
            tracemalloc.reset_peak()
            held = tracemalloc.get_traced_memory()[0]
        t = time.perf_counter()
        out = fn(*args)
        line = (f"  {name:26s} {time.perf_counter() - t:7.1f} s  RSS {rss_mib():6.0f} MiB  "
                f"peak {peak_mib():6.0f} MiB")
        if self.trace:
            line += f"  python peak +{(tracemalloc.get_traced_memory()[1] - held) / 2**20:6.1f} MiB"
        print(line, flush=True)
        return out


def build(frames: list, source: str) -> list:
    history = TrackHistory(source)
    for pts, idx, rows in frames:
        det = Detections(
            xyxy=np.asarray([r[2] for r in rows], np.float32),
            confidence=np.asarray([r[3] for r in rows], np.float32),
            class_id=np.zeros(len(rows), np.int32),
            tracker_id=np.asarray([r[1] for r in rows], np.int64),
            data={k: np.asarray([r[4][n] for r in rows], np.float32) for n, k in enumerate(EXTRAS)},
        )
        history.add(det, pts, idx)
    return history.tracks()


def by_frame(tracks: list, n_frames: int) -> int:
    """What the annotated video looks up to draw every frame's boxes (see outputs.render)."""
    from pipeline.outputs import render

    if not hasattr(render, "FrameObservations"):  # before issue 8: one dict of everything
        d = defaultdict(list)
        for t in tracks:
            for k, idx in enumerate(t.frame_index):
                d[idx].append((t, k))
        return sum(len(v) for v in d.values())
    frames = render.FrameObservations(tracks)
    return sum(len(frames.at(i)) for i in range(n_frames))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tracks_jsonl", type=Path)
    ap.add_argument("--copies", type=int, default=6)
    ap.add_argument("--no-events", action="store_true", help="skip the events pass")
    ap.add_argument("--trace", action="store_true", help="also tracemalloc peaks (slower)")
    args = ap.parse_args()
    cfg = Config()
    print(f"start: RSS {rss_mib():.0f} MiB")
    frames, span, n_frames = frames_of(args.tracks_jsonl, args.copies)
    n_obs = sum(len(r) for _, _, r in frames)
    print(f"{args.copies} copies: {span:.0f} s, {n_frames} frames, {n_obs} observations "
          f"(input rows held: RSS {rss_mib():.0f} MiB)")
    base = rss_mib()
    st = Steps(args.trace)
    tracks = st.run("history", build, frames, "long.mp4")
    del frames
    print(f"  {len(tracks)} tracks")
    doc, blob = st.run("analysis stored form", tracks_to_stage, tracks)
    blob_json = st.run("encode", encode, doc)
    print(f"  stored analysis: {len(blob) / 2**20:.1f} MiB of arrays + {len(blob_json) / 2**20:.1f} MiB JSON")
    st.run("decode + rebuild", lambda: tracks_from_stage(decode(blob_json), blob, "long.mp4"))
    del blob, blob_json, doc
    st.run("classify_tracks", classify_tracks, tracks, 576, cfg.attributes)
    if not args.no_events:
        st.run("find_events", find_events, tracks, cfg.events, None, 576)
    with tempfile.TemporaryDirectory() as td:
        st.run("write_tracks_jsonl", write_tracks_jsonl, tracks, Path(td) / "tracks.jsonl")
        st.run("write_mot", write_mot, tracks, Path(td) / "tracks_mot.txt")
        st.run("render boxes by frame", by_frame, tracks, n_frames)
        st.run("load_tracks (render pass)", load_tracks, Path(td) / "tracks.jsonl")
    print(f"peak RSS {peak_mib():.0f} MiB; above the input rows {peak_mib() - base:.0f} MiB")


if __name__ == "__main__":
    main()
