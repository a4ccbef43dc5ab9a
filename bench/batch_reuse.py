"""Reprocessing and parallel speed (ISSUE 6), both sides in one session, medians of --runs:

    REUNITE_MODELS=../shared/models .venv/bin/python bench/batch_reuse.py [--runs 3] [--busy]

1. events-only reprocess: ``reunite scan vtest.avi`` into a fresh folder and store (full),
   then the same file into another fresh folder sharing that case store (``--store``) with
   ``--set events.carry_min_duration_s=1.5 --set events.lead_min_duration_s=4`` (reprocess).
   Ratio reprocess / full, on the scan's own elapsed time (manifest ``run.elapsed_s``) and on
   the command's wall time (which adds the ~2 s interpreter and import start-up to both).
2. 2-worker speed-up: vtest.avi cut into 4 real segments of ~20 s (H.264, made here with the
   imageio-ffmpeg binary), scanned with ``--workers 1`` and ``--workers 2``, fresh stores.
3. ``--busy``: the same on two busy 5-minute files (runs/bench/long_5min.mp4 from
   bench/make_speed_clips.py, and a stream copy of it from 20 s on), where detection dominates;
   events.json must be byte-identical between the two.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA  # noqa: E402

VTEST = DATA / "pedestrians" / "opencv__vtest.avi"
TUNED = ["--set", "events.carry_min_duration_s=1.5", "--set", "events.lead_min_duration_s=4"]


def scan(*args: str) -> tuple[float, dict]:
    reunite = str(Path(sys.executable).with_name("reunite"))
    out = Path(args[args.index("--out") + 1])
    t = time.perf_counter()
    r = subprocess.run([reunite, "scan", "--quiet", *args], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"scan failed ({r.returncode}): {r.stderr}")
    return wall, json.loads((out / "manifest.json").read_text())


def cut_segments(td: Path, n: int = 4) -> Path:
    import imageio_ffmpeg

    d = td / "segments"
    d.mkdir()
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    for k in range(n):
        subprocess.run([ff, "-v", "error", "-ss", str(k * 20), "-t", "20", "-i", str(VTEST),
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-an",
                        str(d / f"vtest_part{k}.mp4")], check=True)
    return d


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-workers", action="store_true")
    ap.add_argument("--busy", action="store_true", help="also two busy 5-minute files (~2 min a run)")
    args = ap.parse_args()
    full_e, full_w, re_e, re_w, reused = [], [], [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as td:
            w, m = scan(str(VTEST), "--out", f"{td}/full")
            full_w.append(w)
            full_e.append(m["run"]["elapsed_s"])
            w, m = scan(str(VTEST), "--out", f"{td}/tuned", "--store", f"{td}/full/case.sqlite",
                        *TUNED)
            re_w.append(w)
            re_e.append(m["run"]["elapsed_s"])
            reused.append(m["inputs"][0]["stages"])
    print(f"1. events-only reprocess of {VTEST.name} ({args.runs} runs, medians)")
    print(f"   full scan      elapsed {med(full_e):7.2f} s  wall {med(full_w):7.2f} s  "
          f"runs {[round(x, 1) for x in full_e]}")
    print(f"   reprocess      elapsed {med(re_e):7.2f} s  wall {med(re_w):7.2f} s  "
          f"runs {[round(x, 2) for x in re_e]}")
    print(f"   ratio reprocess/full: elapsed {med(re_e) / med(full_e):.3f}  "
          f"wall {med(re_w) / med(full_w):.3f}")
    print("   stages reused in the reprocess: "
          + ", ".join(f"{k} {'reused' if v['reused'] else 'computed'}" for k, v in reused[-1].items()))
    if args.skip_workers:
        return
    one, two = [], []
    with tempfile.TemporaryDirectory() as td:
        seg = cut_segments(Path(td))
        for i in range(args.runs):
            for workers, into in (("1", one), ("2", two)):
                w, m = scan(str(seg), "--out", f"{td}/w{workers}_{i}", "--workers", workers)
                assert m["summary"]["ok"] == 4 and m["summary"]["reused"]["analysis"] == 0
                into.append(w)
    print(f"2. 4 segments of {VTEST.name} (~20 s each), fresh stores ({args.runs} runs, medians)")
    print(f"   --workers 1    wall {med(one):7.2f} s  runs {[round(x, 1) for x in one]}")
    print(f"   --workers 2    wall {med(two):7.2f} s  runs {[round(x, 1) for x in two]}")
    print(f"   speed-up: {med(one) / med(two):.2f}x")
    if args.busy:
        busy(args.runs)


def busy(runs: int) -> None:
    import imageio_ffmpeg

    src = Path(__file__).resolve().parents[1] / "runs" / "bench" / "long_5min.mp4"
    if not src.exists():
        raise SystemExit(f"{src} is missing: run bench/make_speed_clips.py first")
    one, two = [], []
    with tempfile.TemporaryDirectory() as td:
        d = Path(td) / "busy"
        d.mkdir()
        (d / "a.mp4").symlink_to(src)
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-ss", "20", "-i", str(src),
                        "-c", "copy", str(d / "b.mp4")], check=True)
        threads = {}
        for i in range(runs):
            for workers, into in (("1", one), ("2", two)):
                out = Path(td) / f"b{workers}_{i}"
                w, m = scan(str(d), "--out", str(out), "--workers", workers)
                assert m["summary"]["ok"] == 2 and m["summary"]["reused"]["analysis"] == 0
                into.append(w)
                threads[workers] = m["run"]["execution"]["detector_threads"]
                events = (out / "events.json").read_bytes()
                if workers == "1":
                    ref = events
                else:
                    assert events == ref, "2 workers gave other events than 1"
    print(f"3. two busy 5-minute files, fresh stores ({runs} runs, medians)")
    print(f"   --workers 1 ({threads['1']} detector threads)  wall {med(one):7.2f} s  runs {[round(x, 1) for x in one]}")
    print(f"   --workers 2 ({threads['2']} each)              wall {med(two):7.2f} s  runs {[round(x, 1) for x in two]}")
    print(f"   speed-up: {med(one) / med(two):.2f}x  (events.json identical)")


if __name__ == "__main__":
    main()
