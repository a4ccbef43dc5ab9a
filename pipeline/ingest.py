"""Probe and decode seized video files into a stream of :class:`Frame`.

Decoding uses PyAV (libav inside the wheel) rather than ffmpeg-python: ffmpeg-python pipes raw
frames out of an ffmpeg process, which loses each frame's presentation timestamp and hides
per-packet decode errors, and it needs an ``ffprobe`` binary that no PyPI package ships. PyAV gives
every frame its container pts and time base, the display-matrix rotation, and raises on each bad
packet so faults are counted instead of silently dropped. ffmpeg-python (driving the ffmpeg binary
from ``imageio-ffmpeg``) is used where it serves: encoding the annotated H.264 outputs.

Originals are opened read-only (``open(path, "rb")``) and handed to libav as a file object, so
libav itself never opens the path.
"""

from __future__ import annotations

import heapq
import math
from array import array
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cores import usable_cores
from pipeline.errors import InputError
from pipeline.originals import check_regular_file, open_original
from pipeline.types import Frame

_MAX_FAULT_MESSAGES = 10
_REORDER = 4  # frames in the timestamp-repair window (see VideoSource._decoded_frames)
# Frames demuxed ahead of the decoder when unneeded frames are skipped (see _SkipPlan): more than
# any real stream's reordering depth (H.264 and HEVC allow 16 at most).
_PLAN_WINDOW = 24
# Codecs and containers where skipping is allowed: libavcodec's H.264 and HEVC decoders honour
# skip_frame=NONREF exactly (non-reference pictures only), and these containers give every
# packet its presentation timestamp. Others (AVI with packed B-frames, raw streams) decode all.
_SKIP_CODECS = frozenset({"h264", "hevc"})
_SKIP_CONTAINERS = ("mov", "mp4", "matroska", "webm", "mpegts")
# Frame-size limits checked on the header before any frame is decoded: a forged header must not
# make the decoder allocate gigabytes (a 16000x16000 frame is 768 MB as BGR). 8K UHD is 33 Mpx.
MAX_SIDE_PX = 16384
MAX_FRAME_PX = 64 * 1024 * 1024


@dataclass
class ProbeInfo:
    """What the container says about a file (before decoding).

    Times in seconds; sizes in pixels as displayed (rotation applied to width/height).
    """

    path: str
    size_bytes: int
    container: str
    video_codec: str
    pix_fmt: str | None
    coded_width: int
    coded_height: int
    width: int
    height: int
    rotation_deg: int
    duration_s: float | None
    start_s: float
    frames_announced: int | None
    avg_fps: float | None
    base_fps: float | None
    vfr_suspected: bool
    n_video_streams: int
    n_audio_streams: int
    creation_time: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DecodeReport:
    """What happened while decoding one file: counts, faults and how the stream ended."""

    frames_decoded: int = 0
    frames_analysed: int = 0
    decode_faults: int = 0
    fault_messages: list[str] = field(default_factory=list)
    frames_dropped_non_increasing_pts: int = 0
    frames_missing_pts: int = 0
    pts_reordered: int = 0
    first_pts_s: float | None = None
    last_pts_s: float | None = None
    # non-reference frames that no analysed frame needed, never decoded (ingest.skip_unneeded_frames)
    frames_not_decoded: int = 0
    min_frame_interval_s: float | None = None
    max_frame_interval_s: float | None = None
    median_frame_interval_s: float | None = None
    vfr_measured: bool = False
    ended: str = "not_started"  # eof | truncated | too_many_faults | demux_error
    error: str | None = None
    # seconds between consecutive frames, 8 bytes each (a list of floats took 32: ~3 MiB for
    # an hour at 25 fps)
    _intervals: array = field(default_factory=lambda: array("d"), repr=False)

    def fault(self, message: str) -> None:
        self.decode_faults += 1
        if len(self.fault_messages) < _MAX_FAULT_MESSAGES:
            self.fault_messages.append(message)

    def finish_intervals(self) -> None:
        if self._intervals:
            iv = np.frombuffer(self._intervals, np.float64)
            med = float(np.median(iv))
            self.min_frame_interval_s = round(float(iv.min()), 6)
            self.max_frame_interval_s = round(float(iv.max()), 6)
            self.median_frame_interval_s = round(med, 6)
            # VFR when the spread of frame intervals is large against their median.
            self.vfr_measured = bool(med > 0 and (iv.max() - iv.min()) > 0.5 * med)
        self._intervals = array("d")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("_intervals", None)
        return d


# Frames smaller than this (pixels) decode on one libav thread on 2 cores (decoder_threads).
_ONE_THREAD_BELOW_PIXELS = 1280 * 720


def decoder_threads(configured: int, width: int | None, height: int | None) -> int:
    """libav decoder threads for a ``width`` x ``height`` video: ``configured``, or for 0
    (auto) 1 where this process may run on 2 cores or fewer and the frames are smaller than
    1280x720, else 0 (libav's choice: a frame thread per core and one more).

    On 2 cores the analysis pass's detector wants both cores, and for small frames libav's 3
    frame threads only add hand-offs (medians of 3-5 alternating scans, bench/speed.py files):
    768x432 at 10 fps 4.45 -> 4.25 s, at 25 fps 5.50 -> 4.83 s. From 720p decoding weighs
    more and the threads pay for themselves: 1280x720 7.84 against 7.86 s, 1920x1080 12.98
    against 13.52 s with one thread. More cores were not measured: libav keeps its choice.
    Clips and contact sheets (pipeline.outputs.segment) follow the same rule: the render pass
    of 20 short files 1.91 -> 1.67 s (bench/speed.py exports)."""
    if configured > 0:
        return configured
    small = bool(width and height and width * height < _ONE_THREAD_BELOW_PIXELS)
    return 1 if small and usable_cores() <= 2 else 0


def _open(path: Path) -> tuple[Any, Any]:
    import av

    try:
        fh = open_original(path)  # closed by the caller with the container
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory") from None
    except PermissionError:
        raise InputError(str(path), "permission denied (cannot open for reading)") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot open ({exc.strerror or exc})") from None
    try:
        if path.stat().st_size == 0:
            raise InputError(str(path), "empty file (0 bytes)")
        container = av.open(fh, mode="r", metadata_errors="ignore")
    except InputError:
        fh.close()
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        fh.close()
        raise InputError(str(path), f"not a readable video container ({_av_msg(exc)})") from None
    if not container.streams.video:
        container.close()
        fh.close()
        raise InputError(str(path), "no video stream in the container")
    return fh, container


@contextmanager
def _libav_log_capture() -> Iterator[list]:
    """Capture libav's error-level log lines (all threads) instead of printing them.

    Every line is delivered and counted, repeats included. PyAV by default holds back a line
    equal to the one before and tallies it only when a different line comes, which may be
    while another file is captured: a file without its moov atom, opened twice, put "moov atom
    not found" among the faults of the next file decoded (tests/test_ingest.py). Repeats
    within a file were counted once, and a file whose first line equalled the last line of
    the file before would have lost that fault. Process-wide, never turned back on here.
    """
    import av.logging

    av.logging.set_skip_repeated(False)
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture(local=False) as logs:
            yield logs
    finally:
        av.logging.set_level(None)


def _av_msg(exc: BaseException) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(msg).split())[:200]


def _fps(rate: Fraction | None) -> float | None:
    if rate is None or rate == 0:
        return None
    return round(float(rate), 4)


def probe(path: str | Path) -> ProbeInfo:
    """Read container and stream facts without decoding the picture data.

    Raises:
        InputError: the file is missing, empty, unreadable, not a regular file, holds no video
            stream, or announces frames beyond ``MAX_SIDE_PX`` / ``MAX_FRAME_PX``.
    """
    p = Path(path)
    check_regular_file(p)  # a FIFO would block the open forever, a device never end
    with _libav_log_capture():
        fh, container = _open(p)
    try:
        with _libav_log_capture():
            return _probe_open(p, container)
    finally:
        container.close()
        fh.close()


def _first_rotation(container: Any, stream: Any) -> int:
    """Rotation as libav reports it on decoded frames (reliable across PyAV versions; PyAV 18
    has no getter for the stream's display matrix).

    Every frame carries the stream's matrix, so keyframes alone are decoded first. A stream
    copy cut mid-GOP (an edit list: its packets start at the keyframe before the cut, and the
    frames before the cut are decoded and dropped) otherwise cost the decoding of up to a GOP
    just to learn the rotation, before the analysis decodes the same frames again: 13-32 ms a
    30-s export against 7-10 ms. Where no keyframe comes out (one keyframe, before the cut),
    the first presented frame is decoded as before."""
    import av

    cc = stream.codec_context
    for skip in ("NONKEY", "DEFAULT"):
        cc.skip_frame = skip
        try:
            for frame in container.decode(stream):
                return int(getattr(frame, "rotation", 0) or 0) % 360
        except (av.error.FFmpegError, ValueError):
            return 0
        finally:
            cc.skip_frame = "DEFAULT"  # the container is left as found: rewound, every frame
            try:
                container.seek(0)
            except (av.error.FFmpegError, ValueError, OSError):
                pass
    return 0


def _probe_open(p: Path, container: Any) -> ProbeInfo:
    stream = container.streams.video[0]
    cc = stream.codec_context
    tb = stream.time_base
    duration = None
    if stream.duration is not None and tb is not None:
        duration = float(stream.duration * tb)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    start = float(stream.start_time * tb) if stream.start_time is not None and tb else 0.0
    avg, base = _fps(stream.average_rate), _fps(stream.base_rate)
    vfr = bool(avg and base and abs(avg - base) / base > 0.05)
    w, h = int(cc.width or 0), int(cc.height or 0)
    if max(w, h) > MAX_SIDE_PX or w * h > MAX_FRAME_PX:
        raise InputError(
            str(p), f"frame size {w}x{h} in the header is beyond the limit "
            f"({MAX_SIDE_PX} px a side, {MAX_FRAME_PX // (1024 * 1024)} Mpx): refused before decoding",
        )
    rot = _first_rotation(container, stream)
    dw, dh = (h, w) if rot in (90, 270) else (w, h)
    ctime = container.metadata.get("creation_time") if container.metadata else None
    return ProbeInfo(
        path=str(p),
        size_bytes=p.stat().st_size,
        container=container.format.name,
        video_codec=cc.name,
        pix_fmt=cc.pix_fmt,
        coded_width=w,
        coded_height=h,
        width=dw,
        height=dh,
        rotation_deg=rot,
        duration_s=None if duration is None else round(duration, 4),
        start_s=round(start, 4),
        frames_announced=int(stream.frames) if stream.frames else None,
        avg_fps=avg,
        base_fps=base,
        vfr_suspected=vfr,
        n_video_streams=len(container.streams.video),
        n_audio_streams=len(container.streams.audio),
        creation_time=ctime,
    )


def _rotate(image: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Apply a counter-clockwise display rotation (libav's convention) to an H×W(×3) image."""
    k = (rotation_deg // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


# 8-bit pixel formats whose first plane is the luma (Y) plane, one byte a pixel
_LUMA_8BIT = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
                        "nv12", "nv21", "yuv411p", "yuv410p", "gray"})


class LazyFrame:
    """A decoded frame whose BGR image is made only when first read.

    Converting a decoded picture to BGR (libav's swscale) costs more than decoding it (1.2-1.5
    ms against ~0.5 ms for a 768x576 H.264 frame here). The analysis pass needs the picture
    only on the frames the detector runs on and the frames that carry tracks; the motion gate
    needs only a grey copy, which the luma plane already is. Duck-types :class:`Frame`
    (``image``, ``source_id``, ``index``, ``pts_s``, ``width``, ``height``).
    """

    __slots__ = ("source_id", "index", "pts_s", "width", "height", "_vf", "_rotation", "_image")
    has_picture = True

    def __init__(self, vf: Any, rotation_deg: int, source_id: str, index: int, pts_s: float) -> None:
        self.source_id, self.index, self.pts_s = source_id, index, pts_s
        self._vf, self._rotation, self._image = vf, rotation_deg, None
        sideways = (rotation_deg // 90) % 2 == 1
        self.width = int(vf.height if sideways else vf.width)
        self.height = int(vf.width if sideways else vf.height)

    @property
    def nbytes(self) -> int:
        """Bytes the frame holds: the decoded planes, and the BGR picture once converted."""
        planes = sum(p.buffer_size for p in self._vf.planes)
        return planes + (self._image.nbytes if self._image is not None else 0)

    @property
    def image(self) -> np.ndarray:
        """H×W×3 uint8 BGR, rotation applied (converted on first access, then kept)."""
        if self._image is None:
            self._image = _rotate(self._vf.to_ndarray(format="bgr24"), self._rotation)
        return self._image

    def gray(self) -> np.ndarray:
        """H×W uint8 grey image: the luma plane where the pixel format has an 8-bit one (a
        view, no conversion: video-range Y, 16-235), else converted from ``image``."""
        vf = self._vf
        if self._image is None and vf.format.name in _LUMA_8BIT:
            plane = vf.planes[0]
            y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: vf.height, : vf.width]
            return _rotate(y, self._rotation)
        import cv2

        return cv2.cvtColor(self.image, cv2.COLOR_BGR2GRAY)

    def frame(self) -> Frame:
        """The eager :class:`Frame` (converts the picture if not done yet)."""
        return Frame(image=self.image, source_id=self.source_id, index=self.index, pts_s=self.pts_s)


class BlindFrame:
    """An analysed frame that was not decoded: its place and time, no picture.

    With ``picture_period_s`` (see :class:`VideoSource`), an analysed frame that falls between
    two of the detector's scheduled runs (pipeline.detect_schedule: nothing reads its picture,
    its boxes are interpolated) is sent to the decoder as not needed; where it is a
    non-reference picture the decoder drops it and it is handed on as a BlindFrame, in its
    place in time. Reading its picture is a bug and raises.
    """

    __slots__ = ("source_id", "index", "pts_s", "width", "height")
    has_picture = False
    nbytes = 0

    def __init__(self, source_id: str, index: int, pts_s: float, width: int, height: int) -> None:
        self.source_id, self.index, self.pts_s = source_id, index, pts_s
        self.width, self.height = width, height

    def _no_picture(self) -> RuntimeError:
        return RuntimeError(
            f"frame {self.index} ({self.pts_s:.3f} s) was not decoded: it lies between two "
            "scheduled detections, where nothing reads the picture")

    @property
    def image(self) -> np.ndarray:
        raise self._no_picture()

    def gray(self) -> np.ndarray:
        raise self._no_picture()


class RateSampler:
    """Frames at most ``fps`` a second, chosen by presentation time: the first frame at or
    after each due time. A frame late by up to half a period does not push the next one back
    (``next_t`` runs on a grid), a later one restarts the grid half a period after it, so a
    VFR stretch of sparse frames hands on every frame it has. ``fps`` 0 takes every frame.
    """

    def __init__(self, fps: float, start_s: float = 0.0) -> None:
        self.period = 1.0 / fps if fps > 0 else 0.0
        self.next_t = start_s

    def take(self, t: float) -> bool:
        """Whether the frame at ``t`` seconds is handed on (frames in increasing time)."""
        if not self.period:
            return True
        if t + 1e-6 < self.next_t:
            return False
        self.next_t = max(self.next_t + self.period, t + self.period * 0.5)
        return True


class _SkipPlan:
    """Which packets the decoder must turn into pictures, decided before they are decoded.

    The analysis keeps frames at its rate (:class:`RateSampler`). On 25-30 fps footage
    analysed at 10 fps, more than half the decoded pictures are thrown away. Frames that nothing references (H.264/HEVC
    non-reference pictures: most B-frames of an x264 or phone encode) need not be decoded at
    all. This runs the same selection rule on the packets' timestamps, a window ahead of the
    decoder (packets come in decode order, frames leave in presentation order), and marks each
    packet needed or not; an unneeded packet is sent with ``skip_frame=NONREF``, so the decoder
    drops it only if it is a non-reference picture. Every frame the analysis picks is therefore
    handed on, with the same index and time as without skipping, and decoded unless it is not
    due (below) (tested).

    It also numbers every frame by its place in presentation order (``rank``: the frame index
    the analysis would give it had everything been decoded) and collects the frame intervals
    of the whole stream for the decode report (decoded frames alone would look like variable
    frame rate). The last ``_PLAN_WINDOW`` frames of a file are always decoded, so where the
    decodable stream really ends is still measured.

    With ``picture_period_s`` (the detector's period, pipeline.detect_schedule) the analysed
    frames themselves are split the same way: one is "due" when at least that long has passed
    since the last due one (the schedule's own rule, run on the same timestamps), and only due
    frames need a picture; the others are interpolated between detections. An analysed frame
    that is not due is sent as not needed; if the decoder drops it, it is handed on as a
    :class:`BlindFrame` (its pts waits in :attr:`blind` until a later frame leaves the decoder).
    """

    def __init__(self, fps: float, tb: Any, start_pts: int, report: "DecodeReport",
                 picture_period_s: float = 0.0) -> None:
        # imported here: pipeline.detect_schedule brings OpenCV and the config, which probing
        # or decoding a file does not need
        from pipeline.detect_schedule import is_due

        self._is_due = is_due
        self.sampler = RateSampler(fps)  # the same rule as VideoSource._decode, run ahead
        self.tb, self.start_pts, self.report = tb, start_pts, report
        self.picture_period_s = picture_period_s
        self._due_at: float | None = None
        self.last: float | None = None
        self.rank = 0
        self.ranks: dict[int, int] = {}  # raw pts -> rank, in pts order; popped as frames leave
        self.blind: deque[int] = deque()  # analysed, not due: raw pts in increasing order
        self._needed: dict[int, bool] = {}
        self._heap: list[int] = []

    def _rule(self, pts: int, tail: bool) -> None:
        t = float((pts - self.start_pts) * self.tb)
        if pts not in self._needed and (self.last is None or t > self.last):
            if self.last is not None:
                self.report._intervals.append(t - self.last)
            self.last = t
            taken = self.sampler.take(t)
            needed = taken or tail
            if taken and self.picture_period_s > 0:
                if self._is_due(t, self._due_at, self.picture_period_s):  # the schedule's rule
                    self._due_at = t
                elif not tail:
                    needed = False
                    self.blind.append(pts)
            self._needed[pts] = needed
        else:  # a repeated or going-back timestamp: decode it, _decode drops it
            self._needed[pts] = True
        self.ranks.setdefault(pts, self.rank)
        self.rank += 1

    def packets(self, packets: Iterator[Any]) -> Iterator[tuple[Any, bool]]:
        """(packet, needed) in the demuxer's order, ``_PLAN_WINDOW`` packets behind it."""
        buf: deque[Any] = deque()

        def ready(tail: bool) -> Iterator[tuple[Any, bool]]:
            while buf and (tail or buf[0].pts is None or buf[0].pts in self._needed
                           or len(buf) > 2 * _PLAN_WINDOW):
                pkt = buf.popleft()
                needed = pkt.pts is None or self._needed.pop(pkt.pts, True)
                yield pkt, needed

        def drain() -> Iterator[tuple[Any, bool]]:
            while self._heap:
                self._rule(heapq.heappop(self._heap), tail=True)
            yield from ready(tail=True)

        while True:
            try:
                pkt = next(packets)
            except StopIteration:
                break
            except Exception:
                # a demux error ends the file: what was read before it is still decoded
                yield from drain()
                raise
            buf.append(pkt)
            if pkt.pts is not None:
                heapq.heappush(self._heap, pkt.pts)
            while len(self._heap) > _PLAN_WINDOW:
                self._rule(heapq.heappop(self._heap), tail=False)
            yield from ready(tail=False)
        yield from drain()

    def index_of(self, pts: int | None) -> int | None:
        """The rank of the frame at ``pts``; forgets the ranks of earlier (skipped) frames."""
        if pts is None:
            return None
        ranks = self.ranks
        while ranks:
            first = next(iter(ranks))
            if first >= pts:
                break
            del ranks[first]
        return ranks.pop(pts, None)


class VideoSource:
    """Decode one file into :class:`Frame` objects at the analysis rate.

    Iterate it once; ``probe`` holds the container facts and ``report`` fills in as frames are
    decoded (faults, pts statistics, how the stream ended). A stream that stops before the end
    the container announces (truncated or corrupt tail) ends with ``report.ended`` set to
    ``"truncated"`` (or ``"demux_error"``/``"too_many_faults"``) and ``report.error`` holding one
    line; the frames before it are still yielded.

    Args:
        path: the original file (opened read-only).
        source_id: identifier written into every Frame.
        analysis_fps: frames per second to hand on, chosen by pts (0 = every decoded frame).
        decode_threads: libav decoder threads (0 = libav's choice).
        max_consecutive_faults: stop the file after this many undecodable packets in a row.
        truncation_tolerance_s: how far short of the announced duration counts as truncated.
        skip_unneeded: with ``analysis_fps``, do not decode non-reference frames that the
            analysis rate drops (H.264/HEVC in MP4, MOV, MKV, TS; see :class:`_SkipPlan`).
            On a sound file the frames handed on, their indices and times are the same
            either way; on a damaged one indices also count the frames that would not
            decode, and skipping stops at the first fault.
        skip_deblocking: decode H.264/HEVC without the in-loop deblocking filter (faster,
            pictures slightly off the full decode; other codecs decode as usual).
        picture_period_s: with ``skip_unneeded`` and lazy frames, only analysed frames at
            least this many seconds after the last such one need a picture (the detector's
            ``detect_period_s``: the schedule's due frames); the others may be handed on as
            :class:`BlindFrame` (same index and time, no picture) where the decoder can drop
            them (non-reference). 0 = every analysed frame is decoded.
    """

    def __init__(
        self,
        path: str | Path,
        source_id: str | None = None,
        analysis_fps: float = 0.0,
        decode_threads: int = 0,
        max_consecutive_faults: int = 50,
        truncation_tolerance_s: float = 1.0,
        skip_unneeded: bool = False,
        skip_deblocking: bool = False,
        picture_period_s: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self.skip_unneeded = skip_unneeded
        self.picture_period_s = picture_period_s
        self.skip_deblocking = skip_deblocking
        self.source_id = source_id if source_id is not None else str(path)
        self.analysis_fps = analysis_fps
        self.decode_threads = decode_threads
        self.max_consecutive_faults = max_consecutive_faults
        self.truncation_tolerance_s = truncation_tolerance_s
        self.probe = probe(self.path)
        self.report = DecodeReport()
        self._lazy = False

    @property
    def expected_frames(self) -> int | None:
        """Estimated number of frames handed on (for progress bars)."""
        d = self.probe.duration_s
        if not d:
            return None
        rate = self.analysis_fps or self.probe.avg_fps or self.probe.base_fps
        if self.probe.avg_fps and self.analysis_fps:
            rate = min(self.analysis_fps, self.probe.avg_fps)
        return int(math.ceil(d * rate)) if rate else None

    def __iter__(self) -> Iterator[Frame]:
        for f in self.frames(lazy=False):
            yield f  # type: ignore[misc]

    def frames(self, lazy: bool = False) -> Iterator[Frame | LazyFrame | BlindFrame]:
        """Decode the file once: :class:`Frame` objects, or :class:`LazyFrame` objects that
        convert their picture only when asked (``lazy``: the analysis pass; with
        ``picture_period_s`` also :class:`BlindFrame` objects between due frames)."""
        self._lazy = lazy
        rep = self.report
        rep.ended = "running"
        with _libav_log_capture():
            fh, container = _open(self.path)
        # libav reports concealed corruption (bad NAL units, missing references) only in its
        # log: capture error-level lines and count each one as a decode fault. Not thread-local:
        # frame-threaded decoding logs from libav's worker threads.
        try:
            with _libav_log_capture() as logs:
                yield from self._decode(container, logs)
            if rep.ended == "running":
                rep.ended = "eof"
                self._check_truncation()
        finally:
            rep.finish_intervals()
            # A consumer that stops early (the face pass reads only up to its last chosen
            # frame) leaves libav's frame-threading workers mid-decode. One of them may already
            # be inside PyAV's Python log callback, waiting for the GIL, while close() frees
            # the codec holding the GIL and waiting for that worker: a deadlock (seen on an
            # HEVC .ts). Logging is off again here (nolog callback, no GIL), so releasing the
            # GIL briefly lets any callback already in flight finish before the codec is freed.
            time.sleep(0.02)
            container.close()
            fh.close()

    def _skip_plan(self, container: Any) -> _SkipPlan | None:
        """The skip plan for this stream, or None where skipping is off or not allowed."""
        stream = container.streams.video[0]
        if (self.skip_unneeded and self.analysis_fps > 0 and stream.time_base
                and stream.start_time is not None and stream.codec_context.name in _SKIP_CODECS
                and any(n in container.format.name.split(",") for n in _SKIP_CONTAINERS)):
            # pictures may be left out only for lazy frames (the analysis pass), which say so
            period = self.picture_period_s if self._lazy else 0.0
            return _SkipPlan(self.analysis_fps, stream.time_base, stream.start_time, self.report,
                             period)
        return None

    def _decoded_frames(
        self, container: Any, logs: list, plan: _SkipPlan | None
    ) -> Iterator[tuple[Any, int | None]]:
        """Yield (VideoFrame, raw pts) in decoder output order with timestamps repaired, and
        (None, raw pts) in its place in time for each analysed frame the decoder dropped as
        not needed (see :class:`_SkipPlan`, ``picture_period_s``).

        Containers such as AVI with packed B-frames or remuxed MOVs label frames with
        timestamps in decode order. Frames leave the decoder in presentation order, so each
        frame gets the smallest pending timestamp of a short window (``_REORDER`` frames), the
        way libav's own pts guessing works; ``pts_reordered`` counts where that changed one.
        """
        import av

        rep = self.report
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if self.decode_threads:
            stream.codec_context.thread_count = self.decode_threads
        if self.skip_deblocking and stream.codec_context.name in _SKIP_CODECS:
            # read when the decoder opens, at the first packet sent
            stream.codec_context.options = {**stream.codec_context.options, "skip_loop_filter": "all"}
        tb = stream.time_base
        pending: deque[tuple[Any, bool]] = deque()
        heap: list[int] = []
        consecutive = 0
        cc = stream.codec_context
        demuxed = container.demux(stream)
        packets = plan.packets(demuxed) if plan else ((pkt, True) for pkt in demuxed)
        skipping = False
        sent_ok = 0

        blind = plan.blind if plan else None

        def release(vf: Any, has_pts: bool) -> Iterator[tuple[Any, int | None]]:
            if not has_pts:
                yield vf, None
                return
            pts = heapq.heappop(heap)
            if pts != vf.pts:
                rep.pts_reordered += 1
            # analysed frames before this one that the decoder dropped (not due, non-reference)
            while blind and blind[0] < pts:
                yield None, blind.popleft()
            if blind and blind[0] == pts:
                blind.popleft()  # not due, but a reference picture: decoded anyway
            yield vf, pts

        while True:
            try:
                packet, needed = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                rep.ended = "demux_error"
                rep.error = (
                    f"container read failed after {rep.frames_decoded} frames ({_av_msg(exc)})"
                )
                break
            if rep.decode_faults:
                needed = True  # a damaged stream: decode everything, so every fault is counted
            if plan and skipping == needed:
                skipping = not needed
                cc.skip_frame = "NONREF" if skipping else "DEFAULT"
            try:
                decoded = packet.decode()
                sent_ok += packet.size > 0
            except av.error.FFmpegError as exc:
                at = f" at {float(packet.pts * tb):.3f} s" if packet.pts is not None and tb else ""
                rep.fault(f"undecodable packet{at}: {_av_msg(exc)}")
                consecutive += 1
                if consecutive >= self.max_consecutive_faults:
                    rep.ended = "too_many_faults"
                    rep.error = (
                        f"{consecutive} undecodable packets in a row after "
                        f"{rep.frames_decoded} good frames; stopped"
                    )
                    break
                continue
            finally:
                n = len(logs)
                for level, name, msg in logs[:n]:
                    if level <= av.logging.ERROR:
                        rep.fault(f"{name or 'libav'}: {msg.strip()}")
                # counted lines are let go (hours of a damaged stream log a line a frame); a
                # line a decoder thread adds meanwhile lies after them and stays
                del logs[:n]
            consecutive = 0
            for vf in decoded:
                rep.frames_decoded += 1
                if vf.pts is not None:
                    heapq.heappush(heap, vf.pts)
                pending.append((vf, vf.pts is not None))
                if len(pending) > _REORDER:
                    yield from release(*pending.popleft())
        while pending:
            yield from release(*pending.popleft())
        # blind pts left now lie after the last decoded frame (the stream broke off before the
        # always-decoded tail): not handed on, like any frame after the break
        if plan:
            # packets read without error that gave no picture: the skipped non-reference frames
            rep.frames_not_decoded = max(0, sent_ok - rep.frames_decoded)

    def _decode(self, container: Any, logs: list) -> Iterator[Frame | LazyFrame | BlindFrame]:
        rep = self.report
        stream = container.streams.video[0]
        tb = stream.time_base
        start_pts = stream.start_time
        sampler = RateSampler(self.analysis_fps)
        last: float | None = None
        index = -1
        plan = self._skip_plan(container)
        size = (0, 0)  # of the last decoded frame, for a BlindFrame (the first is always due)
        for vf, raw_pts in self._decoded_frames(container, logs, plan):
            # the frame's place in the stream: with skipping, counted over the frames not
            # decoded too, so indices match a full decode (the render and face passes)
            ranked = plan.index_of(raw_pts) if plan else None
            index = index + 1 if ranked is None else ranked
            if raw_pts is None:
                # No timestamp in the container: continue from the last one at the nominal
                # rate (counted in the report, never silent).
                rep.frames_missing_pts += 1
                pts_s = 0.0 if last is None else last + self._nominal_interval
            else:
                if start_pts is None:
                    start_pts = raw_pts
                pts_s = float((raw_pts - start_pts) * tb)
            if last is not None:
                if pts_s <= last:
                    rep.frames_dropped_non_increasing_pts += 1
                    continue
                if plan is None:  # else measured over every packet by the plan
                    rep._intervals.append(pts_s - last)
            if rep.first_pts_s is None:
                rep.first_pts_s = round(pts_s, 6)
            last = pts_s
            rep.last_pts_s = round(pts_s, 6)
            if not sampler.take(pts_s):
                continue
            rep.frames_analysed += 1
            if vf is None:  # not decoded (not due; only where the plan has picture_period_s)
                yield BlindFrame(self.source_id, index, pts_s, *size)
                continue
            rotation = int(vf.rotation or 0) % 360
            if self._lazy:
                lazy = LazyFrame(vf, rotation, self.source_id, index, pts_s)
                size = (lazy.width, lazy.height)
                yield lazy
            else:
                image = _rotate(vf.to_ndarray(format="bgr24"), rotation)
                yield Frame(image=image, source_id=self.source_id, index=index, pts_s=pts_s)

    @property
    def _nominal_interval(self) -> float:
        return 1.0 / (self.probe.avg_fps or self.probe.base_fps or 25.0)

    def _check_truncation(self) -> None:
        rep, dur = self.report, self.probe.duration_s
        nominal = self._nominal_interval
        if rep.frames_decoded == 0:
            rep.ended = "truncated"
            rep.error = "no frame could be decoded" + (
                f" ({rep.decode_faults} decode faults: {rep.fault_messages[0]})"
                if rep.fault_messages
                else ""
            )
            return
        if dur and rep.last_pts_s is not None:
            covered = rep.last_pts_s + nominal
            # Short files get a tolerance of a tenth of their length, long ones the configured one.
            slack = max(min(self.truncation_tolerance_s, 0.1 * dur), 2 * nominal)
            if covered < dur - slack:
                rep.ended = "truncated"
                rep.error = (
                    f"video stops at {covered:.2f} s but the container announces {dur:.2f} s "
                    "(truncated or corrupt tail)"
                )
