"""Generated bad inputs for the hardening suite, and the evidence snapshot they are checked with.

Every maker writes real bytes (PyAV, OpenCV, the file system's own links and FIFOs); nothing is
a mock. ``build_corpus`` returns what each file is, so tests and ``table.py`` can report how each
kind ended.
"""

from __future__ import annotations

import hashlib
import os
import random
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from tests.media import pattern, write_clip

# name -> what it is (the kind shown in the bad-input table)
KINDS: dict[str, str] = {
    "good.mp4": "control: a clean H.264 clip",
    "zero_bytes.mp4": "zero bytes",
    "random_bytes.mp4": "64 KiB of random bytes named .mp4",
    "text_file.mp4": "a text file named .mp4",
    "absurd_dims.y4m": "Y4M header claiming 16000x16000 frames",
    "huge_photo.mp4": "a real 20000x4000 JPEG (0.9 MB) named .mp4",
    "audio_only.mp4": "AAC audio only, no video stream",
    "still_image.mp4": "a JPEG photo named .mp4",
    "loop_a.mp4": "symlink loop (a -> b -> a)",
    "loop_b.mp4": "symlink loop (b -> a -> b)",
    "dangling_link.mp4": "symlink to a missing file",
    "fifo.mp4": "a named pipe (FIFO) named .mp4",
    "device_link.mp4": "symlink to /dev/zero",
    "unreadable.mp4": "a valid clip with mode 000",
    "truncated.mp4": "faststart MP4 cut at 60%",
    "no_moov.mp4": "MP4 cut before its moov atom (index at the end)",
}


def write_audio_only(path: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    """An MP4 holding one AAC stream of a 440 Hz tone and no video."""
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=rate)
        n = int(seconds * rate)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for pkt in s.encode(frame):
            c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def write_ts(path: Path, seconds: float, fps: int = 10, size: tuple[int, int] = (96, 64)) -> Path:
    """An MPEG-TS H.264 clip (the format NVRs record and append to)."""
    w, h = size
    with av.open(str(path), "w", format="mpegts") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"bf": "0", "g": str(fps)}
        for i in range(int(seconds * fps)):
            vf = av.VideoFrame.from_ndarray(pattern(i, w, h), format="bgr24")
            vf.pts = i
            vf.time_base = Fraction(1, fps)
            for pkt in s.encode(vf):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def build_corpus(folder: Path) -> dict[str, str]:
    """Write every generated bad input into ``folder``; returns ``KINDS`` for the ones made.

    ``unreadable.mp4`` is made mode 000 (root can still read it: see ``running_as_root``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    write_clip(folder / "good.mp4", [i / 10 for i in range(10)])
    (folder / "zero_bytes.mp4").write_bytes(b"")
    (folder / "random_bytes.mp4").write_bytes(rng.randbytes(64 * 1024))
    (folder / "text_file.mp4").write_text("Case notes, not a video.\n" * 200)
    (folder / "absurd_dims.y4m").write_bytes(
        b"YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + rng.randbytes(4096))
    ok, big = cv2.imencode(".jpg", np.zeros((4000, 20000), np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 10])
    assert ok
    (folder / "huge_photo.mp4").write_bytes(big.tobytes())
    write_audio_only(folder / "audio_only.mp4")
    ok, jpg = cv2.imencode(".jpg", pattern(3, 320, 240))
    assert ok
    (folder / "still_image.mp4").write_bytes(jpg.tobytes())
    os.symlink("loop_b.mp4", folder / "loop_a.mp4")
    os.symlink("loop_a.mp4", folder / "loop_b.mp4")
    os.symlink("gone/missing.mp4", folder / "dangling_link.mp4")
    os.mkfifo(folder / "fifo.mp4")
    os.symlink("/dev/zero", folder / "device_link.mp4")
    write_clip(folder / "unreadable.mp4", [i / 10 for i in range(5)])
    os.chmod(folder / "unreadable.mp4", 0)
    full = write_clip(folder.parent / "full_for_cut.mp4", [i / 25 for i in range(100)])
    (folder / "truncated.mp4").write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])
    nf = write_clip(folder.parent / "full_no_faststart.mp4", [i / 25 for i in range(50)],
                    faststart=False)
    (folder / "no_moov.mp4").write_bytes(nf.read_bytes()[: nf.stat().st_size * 8 // 10])
    return dict(KINDS)


def running_as_root() -> bool:
    """Permission bits do not stop root (CI runs as root): mode 000 is still readable."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (hidden ones too, links not followed): type, mode, size,
    mtime, ctime and sha256 of regular files. Access time is deliberately left out (reading
    may update it depending on the mount), so the check holds on any mount; ctime catches a
    chmod, chown, rename or write.
    """
    out: dict[str, tuple] = {}
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        for name in sorted(dirs + files):
            p = Path(dirpath) / name
            st = os.lstat(p)
            digest = None
            if p.is_file() and not p.is_symlink() and st.st_mode & 0o444:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            elif p.is_file() and not p.is_symlink():  # mode 000: root reads it anyway
                try:
                    digest = hashlib.sha256(p.read_bytes()).hexdigest()
                except PermissionError:
                    digest = "unreadable"
            out[str(p.relative_to(root))] = (
                st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest,
                os.readlink(p) if p.is_symlink() else None,
            )
    return out
