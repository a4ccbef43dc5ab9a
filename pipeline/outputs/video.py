"""Annotated H.264 MP4 that plays in a browser: boxes, track ids, source time.

Encoding goes through ffmpeg-python driving the ffmpeg binary shipped in the ``imageio-ffmpeg``
wheel (libx264, yuv420p, ``+faststart``), so no system ffmpeg is needed. Frames are drawn with
supervision's annotators and piped raw; the file appears under its final name only when the
encoder finished cleanly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.errors import OutputError, output_error
from pipeline.types import Detections, Frame


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary from imageio-ffmpeg (``IMAGEIO_FFMPEG_EXE`` overrides)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


class Annotator:
    """Draws boxes coloured by age group (adult blue, child red, unknown grey) with labels,
    a time banner and, while an event is active, an event banner."""

    def __init__(self) -> None:
        import supervision as sv

        self._sv = sv
        palette = sv.ColorPalette.from_hex(["#3C9DFF", "#FF3838", "#AAAAAA"])
        self._box = sv.BoxAnnotator(color=palette, thickness=2, color_lookup=sv.ColorLookup.CLASS)
        self._label = sv.LabelAnnotator(
            color=palette, text_scale=0.5, text_padding=3, color_lookup=sv.ColorLookup.CLASS
        )

    def __call__(
        self,
        frame: Frame,
        detections: Detections,
        title: str,
        labels: list[str] | None = None,
        banner: str = "",
        show_index: bool = True,
    ) -> np.ndarray:
        """Return an annotated H×W×3 BGR copy of ``frame.image``.

        ``detections.class_id`` picks the colour (0 adult, 1 child, 2 unknown).
        ``show_index``: print the frame's decoded index (off where it is not the file's, e.g.
        after a seek).
        """
        image = frame.image.copy()
        if len(detections):
            svd = self._sv.Detections(
                xyxy=detections.xyxy.astype(np.float32),
                confidence=detections.confidence,
                class_id=detections.class_id,
                tracker_id=detections.tracker_id,
            )
            if labels is None:
                labels = [f"#{t}" for t in (detections.tracker_id if detections.tracker_id is not None else [])]
            image = self._box.annotate(image, svd)
            image = self._label.annotate(image, svd, labels=labels)
        scale = max(0.4, min(1.0, image.shape[1] / 1280))
        where = f"  frame {frame.index}" if show_index else ""
        y = _text_bar(image, f"{title}  t={frame.pts_s:8.2f}s{where}", 0, scale, (0, 0, 0))
        if banner:
            _text_bar(image, banner, y, scale, (0, 0, 200))
        return image


def _text_bar(image: np.ndarray, text: str, y: int, scale: float, bg: tuple[int, int, int]) -> int:
    """White text on a filled bar at row ``y``; returns the row below the bar."""
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(image, (0, y), (tw + 8, y + th + base + 8), bg, -1)
    cv2.putText(image, text, (4, y + th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                cv2.LINE_AA)
    return y + th + base + 8


class VideoWriter:
    """Pipe BGR frames into libx264; the MP4 is renamed into place on :meth:`close`.

    Args:
        path: final output path (``.mp4``).
        width, height: frame size in pixels (odd sizes are padded to even for yuv420p).
        fps: nominal output frame rate (the analysis rate).
        crf: x264 quality (lower is better; 23 is x264's default).
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float, crf: int = 23) -> None:
        import ffmpeg

        self.path = Path(path)
        self.width, self.height = width, height
        self._tmp = self.path.with_name(f".{self.path.name}.part.mp4")
        pad_w, pad_h = width + (width % 2), height + (height % 2)
        stream = ffmpeg.input(
            "pipe:", format="rawvideo", pix_fmt="bgr24", s=f"{width}x{height}",
            framerate=round(max(fps, 1.0), 3),
        )
        if (pad_w, pad_h) != (width, height):
            stream = stream.filter("pad", pad_w, pad_h, 0, 0)
        stream = stream.output(
            str(self._tmp), vcodec="libx264", pix_fmt="yuv420p", crf=crf, preset="veryfast",
            movflags="+faststart", an=None,
        ).overwrite_output().global_args("-loglevel", "error", "-nostdin")
        self._proc: Any = stream.run_async(pipe_stdin=True, pipe_stderr=True, cmd=ffmpeg_exe())
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if image.shape[:2] != (self.height, self.width):
            image = cv2.resize(image, (self.width, self.height))
        try:
            self._proc.stdin.write(np.ascontiguousarray(image).tobytes())
        except (BrokenPipeError, OSError) as exc:
            err = self._proc.stderr.read().decode(errors="replace").strip()
            self.abort()
            _raise_if_disk_full(self.path, err)
            raise OutputError(f"{self.path}: video encoder failed ({err or exc})") from None
        self.frames += 1

    def close(self) -> None:
        """Finish encoding and move the file into place (removed again if ffmpeg failed)."""
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        err = self._proc.stderr.read().decode(errors="replace").strip()
        rc = self._proc.wait()
        if rc != 0 or self.frames == 0:
            self._cleanup()
            if self.frames == 0:
                return
            _raise_if_disk_full(self.path, err)
            raise OutputError(f"{self.path}: video encoder exited {rc}: {err[-300:]}")
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Stop the encoder and remove the partial file."""
        try:
            self._proc.kill()
            self._proc.wait()
        except OSError:
            pass
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp.exists():
            self._tmp.unlink()


def _raise_if_disk_full(path: Path, ffmpeg_stderr: str) -> None:
    """The encoder's disk-full report as the same one line the other writers give."""
    import errno

    if os.strerror(errno.ENOSPC) in ffmpeg_stderr:
        raise output_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) from None
