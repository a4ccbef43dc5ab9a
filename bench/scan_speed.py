"""Scan speed on a real clip next to plain ffmpeg decoding of the same file, same session.

Runs each side ``--runs`` times (default 3) and prints medians and the ratio:

    REUNITE_MODELS=../shared/models .venv/bin/python bench/scan_speed.py [FILE] [--set k=v ...]

Sides:
- ffmpeg decode: the imageio-ffmpeg binary, ``ffmpeg -i FILE -f null -`` (every frame decoded);
- reunite scan: the CLI end to end (startup, hashing, decode, detect, track, annotated video,
  manifest) with the default config unless ``--set`` overrides; its per-stage timings come from
  the manifest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA, ROOT, median_time  # noqa: E402


def main() -> None:
    import imageio_ffmpeg

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?", default=str(DATA / "pedestrians" / "opencv__vtest.avi"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    args = ap.parse_args()
    f = Path(args.file)
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    dec, dec_all = median_time([ff, "-v", "error", "-i", str(f), "-f", "null", "-"], args.runs)
    reunite = str(Path(sys.executable).with_name("reunite"))
    scans, stages = [], []
    frames = decoded = 0
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as td:
            out = Path(td) / "out"
            extra = [x for s in args.sets for x in ("--set", s)]
            t, _ = median_time([reunite, "scan", "--quiet", str(f), "--out", str(out), *extra], 1)
            m = json.loads((out / "manifest.json").read_text())
            src = m["inputs"][0]
            # ffmpeg decodes every frame; the scan leaves some undecoded (skip_unneeded_frames)
            frames = src["decode"]["frames_analysed"]
            decoded = src["decode"]["frames_decoded"] + src["decode"].get("frames_not_decoded", 0)
            scans.append(t)
            stages.append(src["timings_s"])
    scan = statistics.median(scans)
    print(f"file: {f} ({decoded} frames, {frames} analysed)")
    print(f"ffmpeg decode  median {dec:7.2f} s  runs {[round(x, 2) for x in dec_all]}  "
          f"{decoded / dec:8.1f} frames/s")
    print(f"reunite scan   median {scan:7.2f} s  runs {[round(x, 2) for x in scans]}  "
          f"{frames / scan:8.1f} analysed frames/s")
    print(f"ratio scan/decode time: {scan / dec:.1f}x")
    keys = sorted({k for s in stages for k in s})
    med = {k: statistics.median(s.get(k, 0.0) for s in stages) for k in keys}
    print("per-stage median seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in med.items()))
    print(f"config overrides: {args.sets or 'none (defaults)'}; root {ROOT}")


if __name__ == "__main__":
    main()
