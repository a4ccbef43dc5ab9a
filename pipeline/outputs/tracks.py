"""Per-source track files: JSON lines (one track per line) and MOTChallenge txt."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from pathlib import Path

from pipeline.outputs.atomic import atomic_path
from pipeline.types import Track


_BLOCK = 1000


def write_tracks_jsonl(tracks: list[Track], path: str | Path) -> None:
    """One JSON object per line per track: id, span (s), observations (pts_s, frame, xyxy)."""
    # backslashreplace: an undecodable byte in a source path (a lone surrogate) becomes the
    # JSON escape \udcXX, which reads back exactly.
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
        for t in tracks:
            # the line json.dumps(t.to_dict()) gives, written a block of observations at a
            # time: a track held for an hour (a parked figure) has ~36,000 of them, ~25 MiB
            # as dicts at once
            head = json.dumps(t.to_dict(observations=False), ensure_ascii=False)
            fh.write(head[:-1] + ', "observations": [')
            for k in range(0, len(t), _BLOCK):
                items = json.dumps(t.observation_dicts(k, k + _BLOCK), ensure_ascii=False)[1:-1]
                fh.write((", " if k else "") + items)
            fh.write("]}\n")


def _mot_rows(t: Track) -> Iterator[tuple[int, int, float, float, float, float, float]]:
    frames, boxes, conf = t.frame_index, t.xyxy, t.confidence
    for k in range(len(t)):
        x1, y1, x2, y2 = boxes[k].tolist()
        yield int(frames[k]) + 1, t.track_id, x1, y1, x2 - x1, y2 - y1, float(conf[k])


def write_mot(tracks: list[Track], path: str | Path) -> None:
    """MOTChallenge rows ``frame,id,x,y,w,h,conf,-1,-1,-1`` (frame = decoded index + 1), by
    frame then id. The tracks (each in frame order) are merged as they are written: no list
    of every row of the source is built."""
    rows = heapq.merge(*(_mot_rows(t) for t in tracks), key=lambda r: (r[0], r[1]))
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for f, i, x, y, w, h, c in rows:
            fh.write(f"{f},{i},{x:.1f},{y:.1f},{w:.1f},{h:.1f},{c:.4f},-1,-1,-1\n")
