"""A contact sheet per source: a grid of evenly spaced frames with their tracks, one JPEG.

Each tile is re-decoded from the original by seeking to its time (taking the keyframe there
when it is close enough), so the sheet costs a few seeks whatever the length of the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from pipeline.outputs.atomic import atomic_path
from pipeline.outputs.overlay import StoredTrack, ascii_text, detections_at, encode_jpeg, is_dark, prepare
from pipeline.outputs.segment import SegmentReader
from pipeline.outputs.video import Annotator, _text_bar
from pipeline.types import Frame

TILE_W = 320
COLS = 4


def sheet_times(first_s: float, last_s: float, n: int) -> list[float]:
    """``n`` times spread evenly over [first_s, last_s] (tile centres), seconds."""
    if n <= 1 or last_s <= first_s:
        return [first_s]
    step = (last_s - first_s) / n
    return [first_s + step * (k + 0.5) for k in range(n)]


def sheet_windows(first_s: float, last_s: float, n: int) -> list[tuple[float, float]]:
    """Per tile, the span its frame is taken from (around each of :func:`sheet_times`)."""
    slack = (last_s - first_s) / max(n, 1) / 2
    return [(max(t - slack, first_s), t + max(slack, 2.0)) for t in sheet_times(first_s, last_s, n)]


def _tile_frames(source: str, first_s: float, last_s: float, n: int) -> Iterator[Frame]:
    """One frame near each of :func:`sheet_times`: the keyframe at or before the time when it
    lies within half a tile's spacing of it (no decoding beyond that keyframe), else the first
    frame from half a spacing before the time (decoded forward from the keyframe).

    A sheet costs ``n`` keyframe decodes on most files, whatever their length (a forward
    decode to each exact time cost up to a keyframe interval each: 1.5 s on a 10-minute file
    with 25 s between keyframes, before). Where several tiles fall after one keyframe (a
    short file), the file is opened once and decoded on from tile to tile
    (:class:`SegmentReader`), not from the keyframe again for each.
    """
    last: float | None = None
    with SegmentReader(source) as reader:
        for t, (lo, hi) in zip(sheet_times(first_s, last_s, n), sheet_windows(first_s, last_s, n)):
            if last is not None:
                lo = max(lo, last + 1e-6)
            tile = reader.segment(lo, hi, seek_s=t)
            # the first frame after the last tile's: a short file has fewer frames than
            # tiles, and a seek back to a keyframe finds the last tile's frame again
            frame = next((f for f in tile if last is None or f.pts_s > last), None)
            tile.close()
            if frame is not None:
                last = frame.pts_s
                yield frame


def write_contact_sheet(
    source: str,
    tracks: dict[int, StoredTrack],
    first_s: float,
    last_s: float,
    n: int,
    out_path: Path,
    enhance_dark: bool = True,
    annotator: Annotator | None = None,
) -> int:
    """Write a JPEG grid of ``n`` frames of ``source`` between ``first_s`` and ``last_s``.

    Returns the number of tiles drawn (0: nothing decoded, no file written).
    """
    annotator = annotator or Annotator()
    tiles: list[np.ndarray] = []
    enhance: bool | None = None
    for frame in _tile_frames(source, first_s, last_s, n):
        if enhance is None:
            enhance = enhance_dark and is_dark(frame.image)
        image, scale = prepare(frame.image, 0, enhance)
        det, labels = detections_at(tracks, frame.pts_s, scale)
        out = annotator(Frame(image=image, source_id=frame.source_id, index=0, pts_s=frame.pts_s),
                        det, "", labels=labels, show_index=False)
        h = int(round(out.shape[0] * TILE_W / out.shape[1]))
        tile = cv2.resize(out, (TILE_W, h), interpolation=cv2.INTER_AREA)
        # the time label is drawn at tile size (covering the annotator's shrunken bar)
        _text_bar(tile, f"t={frame.pts_s:.1f}s  {len(det)} tracked", 0, 0.45, (0, 0, 0))
        tiles.append(tile)
    if not tiles:
        return 0
    th = max(t.shape[0] for t in tiles)
    rows = math.ceil(len(tiles) / COLS)
    cols = min(COLS, len(tiles))
    head = 26
    sheet = np.full((head + rows * (th + 4), cols * (TILE_W + 4), 3), 24, np.uint8)
    note = ascii_text(Path(source).name, 70) + (" - enhanced (brightened)" if enhance else "")
    _text_bar(sheet, note, 0, 0.5, (24, 24, 24))
    for k, tile in enumerate(tiles):
        r, c = divmod(k, COLS)
        y, x = head + r * (th + 4), c * (TILE_W + 4)
        sheet[y: y + tile.shape[0], x: x + TILE_W] = tile
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(encode_jpeg(sheet, max_width=COLS * (TILE_W + 4), quality=80))
    return len(tiles)
