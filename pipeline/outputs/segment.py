"""Decode time segments of an original: seek near each start, decode to its end.

The render pass cuts clips by container time, so it seeks (to the keyframe at or before the
start) instead of decoding the file from the beginning. Times follow :class:`VideoSource`'s
convention: seconds of presentation time from the video stream's start.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

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
    with SegmentReader(path) as reader:
        yield from reader.segment(start_s, end_s, max_fps, seek_s)


# Without an index, a segment starting at most this long after the decoder's place is decoded
# on to rather than sought: a short export is decoded once for its contact sheet (a 45 s
# MPEG-TS with keyframes 25 s apart: 1.9 s a sheet by seeking, each tile from a keyframe
# again), while tiles minutes apart in a long file still seek.
_READ_ON_WITHOUT_INDEX_S = 10.0
# Without an index, a segment's first seek goes this share of the keyframe spacing seen so far
# back from its seek time (see SegmentReader._seek_at_or_before).
_GOP_LEAD = 0.99
# The spacing learnt per file (path, device, inode, size, mtime), handed to the next reader of
# the same file in this process: the event clips after its contact sheet. A few hundred bytes
# for a batch's files; emptied when it holds _GOP_HINTS_MAX.
_GOP_HINTS: dict[tuple[str, int, int, int, int], float] = {}
_GOP_HINTS_MAX = 4096


class SegmentReader:
    """An original opened once and read in segments of increasing time (a contact sheet's
    tiles): each segment seeks to the keyframe at or before its seek time, as
    :func:`decode_segment` does, unless the decoder already stands past that keyframe and
    before the segment, where it decodes on from there instead of from the keyframe again.

    On a 30-second clip with one keyframe, a 12-tile sheet decoded the clip's frames from that
    keyframe twelve times over (0.33 s a sheet, most of a short file's scan); read on, it
    decodes them once. Both ways hand on the first frame at or after the segment's start that
    follows the keyframe, so the frames are the same. Which keyframe a seek would land on
    comes from the container's index (libav's own search, as its seek uses); whether the
    decoder has passed it, from the keyframe packets demuxed since the last seek (their decode
    timestamps are the index's, their presentation times exact). Without a complete index
    (MPEG-TS, AVI, Matroska) a segment seeks unless it starts soon after the decoder's place
    (``_READ_ON_WITHOUT_INDEX_S``), and a seek that lands after its target is tried again from
    further back (:meth:`_seek_at_or_before`).

    Raises:
        InputError: the file cannot be opened as a video (on construction).
    """

    def __init__(self, path: str | Path) -> None:
        from pipeline.ingest import _open, decoder_threads

        self.path = str(path)
        self._fh, self._container = _open(Path(path))
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        # as in the analysis pass: one thread for small frames on 2 cores (exports bench: render
        # pass 1.91 -> 1.67 s for 20 sheets); the output is the same either way
        n = decoder_threads(0, stream.codec_context.width, stream.codec_context.height)
        if n:
            stream.codec_context.thread_count = n
        self._stream, self._tb = stream, stream.time_base
        self._start_pts = stream.start_time or 0
        self._indexed = bool(self._tb) and "mp4" in self._container.format.name.split(",")
        self._frames: Generator[Any, None, None] | None = None  # decoded since the last seek
        self._pos: float | None = None  # time of the last frame taken from _frames
        self._pending: tuple[float, Any] | None = None  # read past a segment's end, not used
        self._wanted_from = 0.0  # the current segment's start (earlier frames are not wanted)
        self.frames_decoded = 0  # pictures the decoder made, for all segments read
        # keyframes demuxed since the last seek: decode timestamp -> presentation time (s)
        self._keys_passed: dict[int, float] = {}
        # without an index: the smallest spacing of keyframes seen in this file (s)
        st = os.fstat(self._fh.fileno())
        self._file_key = (self.path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        self._gop_s: float | None = None if self._indexed else _GOP_HINTS.get(self._file_key)

    def _learn_spacing(self, gap: float) -> None:
        """Two keyframes ``gap`` seconds apart were seen: keep the smallest such spacing."""
        self._gop_s = gap if self._gop_s is None else min(self._gop_s, gap)

    def _target(self, t: float) -> int:
        """The stream timestamp a seek to ``t`` seconds asks for."""
        return self._start_pts + int(max(0.0, t) / self._tb) if self._tb else 0

    def _keyframe_dts(self, t: float) -> int | None:
        """Decode timestamp of the keyframe a seek to ``t`` lands on, from the container's
        index (libav's own search, as its seek uses), where the index lists every keyframe:
        MP4 and MOV (the sample table's sync samples). Matroska's cues may name only some (a
        WebM here indexed one keyframe of three), and a keyframe missing from the index would
        make decoding on hand on another frame than a seek; those formats give None."""
        if not self._indexed:
            return None
        try:
            entries = self._stream.index_entries
            k = entries.search_timestamp(self._target(t), backward=True)
            return None if k < 0 else int(entries[k].timestamp)
        except (AttributeError, TypeError, IndexError):  # no index in this PyAV: always seek
            return None

    def __enter__(self) -> SegmentReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # the decoding generator refers back to this reader: closed and dropped here, or the
        # cycle keeps the decoder's frame buffers (~8 MiB a file) until the garbage collector
        # runs (a 20-file batch grew by 70 MiB)
        if self._frames is not None:
            self._frames.close()
        self._frames = self._pending = None
        if self._gop_s is not None:
            if len(_GOP_HINTS) >= _GOP_HINTS_MAX:
                _GOP_HINTS.clear()
            _GOP_HINTS[self._file_key] = self._gop_s
        try:
            self._container.close()
        finally:
            self._fh.close()

    def _read_on(self, seek_at: float, start_s: float) -> bool:
        """Whether to decode on from the current place instead of seeking: with an index,
        when that reaches ``start_s`` past the same keyframe a seek to ``seek_at`` would land
        on (so a seek would only decode again); without one, when ``start_s`` is near."""
        if self._frames is None or self._pos is None or self._pos >= start_s:
            return False
        if not self._indexed:
            # Which keyframe a seek lands on is unknown here (an MPEG-TS seek needs several
            # tries, see _seek_at_or_before): a segment that starts soon after the decoder's
            # place is decoded on to. It then starts at the first frame of the segment where a
            # seek might have landed on a keyframe inside it: the same span either way.
            return start_s - self._pos <= _READ_ON_WITHOUT_INDEX_S
        key = self._keys_passed.get(self._keyframe_dts(seek_at))  # type: ignore[arg-type]
        return key is not None and key <= self._pos

    def _seek(self, at: float | None) -> None:
        """Seek to the keyframe at or before ``at`` seconds (None: the file's start)."""
        import av

        try:
            if at is None:
                self._container.seek(0)
            else:
                self._container.seek(self._target(at), backward=True, any_frame=False,
                                     stream=self._stream)
        except av.error.FFmpegError:
            self._container.seek(0)  # some containers cannot seek: decode from the start
        if self._frames is not None:
            self._frames.close()
        self._frames = self._decode_from_here()
        self._pos = self._pending = None
        self._keys_passed.clear()

    def _seek_at_or_before(self, at: float, latest: float) -> None:
        """Seek to ``at`` so that decoding starts no later than ``latest``, seeking again from
        further back (1, 2, 4... s earlier, down to the start) while the first frame comes
        after it. MPEG-TS has no index: libav's seek there finds a packet by its timestamp and
        decoding starts at the next keyframe, which on a long-GOP export lies after the target
        (a 45 s TS export with keyframes 25 s apart gave empty event clips and 2 of 12 sheet
        tiles). The first frame is kept and handed on first; it costs no extra decoding. With
        an index (MP4, MOV) one seek lands where the index says, as before."""
        import av

        if self._indexed:  # the index's keyframe at or before the target: one seek
            self._seek(at)
            return
        # Where an earlier segment showed how far apart keyframes are, the first try is that
        # far back: a seek to just after the keyframe before the one at or before ``at``
        # lands on that one. A 12-tile sheet of a 10-min TS with keyframes 25 s apart took 72
        # seeks (6 s) trying 1, 2, 4... s further back for each tile; now the first tile's.
        back, where = 1.0, at  # type: float, float | None
        if self._gop_s:
            where = at - _GOP_LEAD * self._gop_s
            where = where if where > 0 else None  # None: the file's start
        landed: float | None = None  # the keyframe the last try found, after ``latest``
        while True:
            self._seek(where)
            try:
                first = next(self._decoded(), None)
            except av.error.FFmpegError:
                return  # the segment finds the decoder at its end and hands nothing on
            # no frame at all: the seek went past the last keyframe (or the file has none)
            if (first is not None and first[0] <= latest + 1e-6) or where is None:
                if first is not None and landed is not None and landed > first[0]:
                    # two keyframes at least this far apart (adjacent where the steps back
                    # were shorter than their spacing): the smallest such gap is kept
                    self._learn_spacing(landed - first[0])
                self._pending = first
                return
            landed = first[0] if first is not None else None
            # a TS seek to the stream's very first timestamp also lands on the next keyframe;
            # the file's start (libav's own seek to 0) does not
            where = where - back if where - back > 0 else None
            back *= 2

    def _decode_from_here(self) -> Generator[Any, None, None]:
        """Decoded frames from the demuxer's place. Where the codec allows it (H.264, HEVC:
        libav drops exactly the non-reference pictures), a packet presented before
        ``_wanted_from`` (the segment's start) is sent with ``skip_frame=NONREF``: no segment
        hands such a frame on, and the frames it does hand on are decoded the same."""
        from pipeline.ingest import _SKIP_CODECS  # the decoders that honour NONREF exactly

        cc = self._stream.codec_context
        can_skip = cc.name in _SKIP_CODECS and bool(self._tb)
        skipping = False
        if can_skip:  # a reader closed while skipping left the setting on the codec
            cc.skip_frame = "DEFAULT"
        key_s: float | None = None  # the last keyframe demuxed (s)
        for packet in self._container.demux(self._stream):
            if packet.is_keyframe and packet.pts is not None and self._tb:
                t = float((packet.pts - self._start_pts) * self._tb)
                if self._indexed and packet.dts is not None:
                    self._keys_passed[packet.dts] = t
                elif not self._indexed and key_s is not None and t > key_s:
                    # two keyframes in a row: their spacing bounds where the next seek
                    # starts (a file whose keyframes come closer later on)
                    self._learn_spacing(t - key_s)
                key_s = t
            if can_skip:
                early = packet.pts is not None and float(
                    (packet.pts - self._start_pts) * self._tb) < self._wanted_from - 1e-6
                if early != skipping:
                    skipping = early
                    cc.skip_frame = "NONREF" if skipping else "DEFAULT"
            for vf in packet.decode():
                self.frames_decoded += 1
                yield vf

    def _decoded(self) -> Iterator[tuple[float, Any]]:
        """(time, frame) from where the decoder stands; a frame read past the last segment's
        end first."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            yield pending
        assert self._frames is not None
        for vf in self._frames:
            if vf.pts is None or self._tb is None:
                continue
            yield float((vf.pts - self._start_pts) * self._tb), vf

    def segment(self, start_s: float, end_s: float, max_fps: float = 0.0,
                seek_s: float | None = None) -> Iterator[Frame]:
        """Frames with ``start_s <= pts_s <= end_s``, as :func:`decode_segment` yields them.
        Segments are read one at a time; a later one may start before an earlier one's end
        (it then seeks)."""
        import av

        from pipeline.ingest import RateSampler, _rotate

        at = start_s - 1.0 if seek_s is None else seek_s
        self._wanted_from = start_s
        if not self._read_on(at, start_s):
            self._seek_at_or_before(at, max(start_s, at))
        sampler = RateSampler(max_fps, start_s)
        last: float | None = None
        n = 0
        try:
            for t, vf in self._decoded():
                if t > end_s + 1e-6:
                    self._pending = (t, vf)
                    return
                self._pos = t
                if t < start_s - 1e-6 or (last is not None and t <= last):
                    continue
                if not sampler.take(t):
                    continue
                last = t
                image = _rotate(vf.to_ndarray(format="bgr24"), int(vf.rotation or 0) % 360)
                yield Frame(image=np.ascontiguousarray(image), source_id=self.path, index=n,
                            pts_s=t)
                n += 1
        except av.error.FFmpegError:
            pass  # a corrupt tail ends the segment; the scan's decode report has the fault
        self._frames = None  # the end of the file or a fault: the next segment seeks
