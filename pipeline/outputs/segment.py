"""Decode a time segment of an original: seek near its start, decode to its end.

The render pass cuts clips by container time, so it seeks (to the keyframe at or before the
start) instead of decoding the file from the beginning. Times follow :class:`VideoSource`'s
convention: seconds of presentation time from the video stream's start.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pipeline.types import Frame


def decode_segment(
    path: str | Path, start_s: float, end_s: float, max_fps: float = 0.0,
    seek_s: float | None = None,
) -> Iterator[Frame]:
    """Yield frames with ``start_s <= pts_s <= end_s`` from the original at ``path``.

    Args:
        path: the original video (opened read-only).
        start_s, end_s: segment in seconds from the start of the video stream.
        max_fps: hand on at most this many frames per second, chosen by pts (0 = all).
        seek_s: seek to the keyframe at or before this time (default: a second before
            ``start_s``). A later one lets a caller that wants any frame of
            [start_s, end_s] near ``seek_s`` take that keyframe without decoding up to it.

    Yields:
        Frame: BGR uint8 H×W×3 (display rotation applied); ``index`` counts frames within the
        segment (not the file), ``pts_s`` is source time.

    Raises:
        InputError: the file cannot be opened as a video.
    """
    import av

    from pipeline.ingest import RateSampler, _open, _rotate

    fh, container = _open(Path(path))
    try:
        with container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            tb = stream.time_base
            start_pts = stream.start_time or 0
            at = start_s - 1.0 if seek_s is None else seek_s
            target = start_pts + int(max(0.0, at) / tb) if tb else 0
            try:
                container.seek(target, backward=True, any_frame=False, stream=stream)
            except av.error.FFmpegError:
                container.seek(0)  # some containers cannot seek: decode from the start
            sampler = RateSampler(max_fps, start_s)
            last: float | None = None
            n = 0
            try:
                for vf in container.decode(stream):
                    if vf.pts is None or tb is None:
                        continue
                    t = float((vf.pts - start_pts) * tb)
                    if t > end_s + 1e-6:
                        break
                    if t < start_s - 1e-6 or (last is not None and t <= last):
                        continue
                    if not sampler.take(t):
                        continue
                    last = t
                    image = _rotate(vf.to_ndarray(format="bgr24"), int(vf.rotation or 0) % 360)
                    yield Frame(image=np.ascontiguousarray(image), source_id=str(path), index=n,
                                pts_s=t)
                    n += 1
            except av.error.FFmpegError:
                return  # a corrupt tail ends the segment; the scan's decode report has the fault
    finally:
        fh.close()
