"""Make small real video files inside tests (encode with PyAV, then decode and assert)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def pattern(i: int, w: int = 160, h: int = 120) -> np.ndarray:
    """A BGR frame with a white block in the top-left corner and a moving bar (frame i)."""
    img = np.full((h, w, 3), 40, np.uint8)
    img[: h // 4, : w // 4] = 255
    x = (i * 7) % (w - 10)
    img[h // 2 :, x : x + 10] = (0, 0, 255)
    return img


def write_clip(
    path: Path,
    pts_s: list[float],
    size: tuple[int, int] = (160, 120),
    faststart: bool = True,
    frames: list[np.ndarray] | None = None,
    bframes: int = 0,
    gop: int = 10,
) -> Path:
    """Encode H.264 frames at the given presentation times (seconds) into an MP4.

    Args:
        path: output file.
        pts_s: strictly increasing presentation times; irregular spacing makes a VFR file.
        size: (width, height).
        faststart: put the moov atom first (so a truncated file still opens).
        frames: images to encode (default: :func:`pattern`).
        bframes: x264 B-frames between reference frames, a fixed pattern with x264's default
            B-pyramid (0: I and P only, as most camera streams; 3: x264's default, as in
            re-encoded exports of static scenes).
        gop: frames between keyframes.
    """
    w, h = size
    opts = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=opts) as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.time_base = Fraction(1, 1000)
        s.codec_context.time_base = Fraction(1, 1000)
        s.options = {"bf": str(bframes), "g": str(gop)}
        if bframes:  # a fixed pattern: x264 would choose P-frames for the moving bar
            s.options["x264-params"] = "b-adapt=0"
        for i, t in enumerate(pts_s):
            img = frames[i] if frames is not None else pattern(i, w, h)
            vf = av.VideoFrame.from_ndarray(img, format="bgr24")
            vf.pts = int(round(t * 1000))
            vf.time_base = Fraction(1, 1000)
            for pkt in s.encode(vf):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def set_rotation(src: Path, dst: Path, degrees: int) -> Path:
    """Copy ``src`` to ``dst`` with a display-matrix rotation (ffmpeg's -display_rotation, CCW)."""
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y",
         "-display_rotation", str(degrees), "-i", str(src), "-c", "copy", str(dst)],
        check=True,
    )
    return dst


def remux(src: Path, dst: Path) -> Path:
    """Copy ``src``'s streams into the container ``dst``'s suffix names (ffmpeg -c copy), e.g.
    an MPEG-TS, which has no index for a seek to use."""
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(src),
                    "-c", "copy", str(dst)], check=True)
    return dst
