"""Build the speed benchmark's inputs from real footage in ../shared/data (into runs/bench/).

    .venv/bin/python bench/make_speed_clips.py [--out runs/bench]

Made with the ffmpeg binary of PyPI imageio-ffmpeg, H.264 (libx264 -preset veryfast, yuv420p):

- ``busy_10min.mp4``: opencv's vtest.avi (768x576, 10 fps, 795 frames, a busy PETS street)
  looped end to end (``-stream_loop``) and cut at 600 s: 6000 frames, 5-15 people in view.
- ``long_60min.mp4`` / ``long_5min.mp4``: the same loop cut at 3600 s and 300 s.
- ``sparse_10min.mp4``: a mostly empty, static camera from intel's one-by-one clip (fixed
  indoor camera, 768x432, 10 fps, 139 s; one person at a time walks to a table and leaves):
  ten times over, 56 s of one real frame of the empty room (the first frame where YOLOX-Nano
  finds nobody at 0.3) followed by 4 s of the real clip (offsets spread over the clip, people
  walking in most). 6000 frames; 93% of the time nobody is there. Native size and rate:
  the cheapest file to decode per minute, so the hardest case for a ratio to decoding.
- ``sparse_exports/``: ``sparse_10min.mp4`` cut into 20 files of 30 s (stream copies, as an
  NVR export hands over footage: one keyframe in most files), a batch of many short files.
- ``sparse_hd_10min.mp4``: that file scaled to 1920x1080 (bicubic) at 25 fps, the size and
  rate most CCTV records now: 15000 frames, the same scene and people, an HD bitstream to
  decode (the pictures are upscaled, not sharper).
- ``sparse_720p_10min.mp4``: the same at 1280x720, 25 fps.
- ``sparse_25fps_10min.mp4``: the same at its own 768x432, 25 fps (frames repeated): the
  small file at the rate cameras record at.

Files that exist are kept (delete them to rebuild).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA, ROOT  # noqa: E402

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def loop_clip(src: Path, dest: Path, seconds: float, crf: int = 18) -> None:
    """``src`` looped end to end and cut at ``seconds``, re-encoded to H.264."""
    if dest.exists():
        return
    tmp = dest.with_suffix(".part.mp4")
    subprocess.run([_ffmpeg(), "-v", "error", "-y", "-stream_loop", "-1", "-i", str(src),
                    "-t", str(seconds), "-an", *X264, "-crf", str(crf), str(tmp)], check=True)
    tmp.rename(dest)


def sparse_clip(src: Path, dest: Path, minutes: int = 10, still_s: float = 56.0) -> None:
    """Mostly empty footage: per minute ``still_s`` of the empty scene, then real footage."""
    if dest.exists():
        return
    import av

    from detectors import build_person_detector
    from pipeline.config import load_config

    with av.open(str(src)) as c:
        stream = c.streams.video[0]
        fps = round(float(stream.average_rate))
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(stream)]
    cfg = load_config()
    det = build_person_detector(cfg.detector, cfg.models)
    empty = next(f for f in frames[::10] if not (det.detect(f).confidence >= 0.3).any())
    h, w = frames[0].shape[:2]
    tmp = dest.with_suffix(".part.mp4")
    enc = subprocess.Popen(
        [_ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
         "-r", str(fps), "-i", "-", *X264, "-crf", "23", str(tmp)], stdin=subprocess.PIPE)
    assert enc.stdin is not None
    n_still, n_real = round(still_s * fps), round((60 - still_s) * fps)
    still = np.ascontiguousarray(empty).tobytes()
    starts = np.linspace(0, len(frames) - n_real, minutes).astype(int)
    for k in range(minutes):
        for _ in range(n_still):
            enc.stdin.write(still)
        for f in frames[starts[k] : starts[k] + n_real]:
            enc.stdin.write(np.ascontiguousarray(f).tobytes())
    enc.stdin.close()
    if enc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed writing {tmp}")
    tmp.rename(dest)


def exports(src: Path, dest: Path, n: int = 20, seconds: int = 30) -> None:
    """``src`` cut into ``n`` files of ``seconds`` each (stream copies, cut at keyframes
    before each start), into the folder ``dest``."""
    if dest.is_dir() and len(list(dest.glob("*.mp4"))) == n:
        return
    tmp = dest.with_name(dest.name + ".part")
    tmp.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        subprocess.run([_ffmpeg(), "-v", "error", "-y", "-ss", str(k * seconds), "-i", str(src),
                        "-t", str(seconds), "-c", "copy", str(tmp / f"export_{k:02d}.mp4")],
                       check=True)
    tmp.rename(dest)


def rescaled_clip(src: Path, dest: Path, size: tuple[int, int] | None, fps: int = 25) -> None:
    """``src`` at ``fps`` (each frame repeated at the new rate), scaled to ``size`` (bicubic;
    None keeps it): the sparse file at the rates and sizes CCTV records at, where decoding
    costs more per minute of footage and the analysis (10 frames a second) the same."""
    if dest.exists():
        return
    tmp = dest.with_suffix(".part.mp4")
    vf = (f"scale={size[0]}:{size[1]}:flags=bicubic," if size else "") + f"fps={fps}"
    subprocess.run([_ffmpeg(), "-v", "error", "-y", "-i", str(src), "-vf", vf, "-an", *X264,
                    "-crf", "23", str(tmp)], check=True)
    tmp.rename(dest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    vtest = DATA / "pedestrians" / "opencv__vtest.avi"
    loop_clip(vtest, args.out / "busy_10min.mp4", 600)
    loop_clip(vtest, args.out / "long_5min.mp4", 300)
    loop_clip(vtest, args.out / "long_60min.mp4", 3600)
    sparse_clip(DATA / "pedestrians" / "intel__one-by-one-person-detection.mp4",
                args.out / "sparse_10min.mp4")
    sparse = args.out / "sparse_10min.mp4"
    rescaled_clip(sparse, args.out / "sparse_hd_10min.mp4", (1920, 1080))
    rescaled_clip(sparse, args.out / "sparse_720p_10min.mp4", (1280, 720))
    rescaled_clip(sparse, args.out / "sparse_25fps_10min.mp4", None)
    exports(args.out / "sparse_10min.mp4", args.out / "sparse_exports")
    for p in sorted(args.out.glob("*.mp4")):
        print(f"{p}  {p.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
