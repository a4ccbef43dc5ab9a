"""Per-source track files: JSON lines (one track per line) and MOTChallenge txt."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.outputs.atomic import atomic_path
from pipeline.types import Track


def write_tracks_jsonl(tracks: list[Track], path: str | Path) -> None:
    """One JSON object per line per track: id, span (s), observations (pts_s, frame, xyxy)."""
    # backslashreplace: an undecodable byte in a source path (a lone surrogate) becomes the
    # JSON escape \udcXX, which reads back exactly.
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
        for t in tracks:
            fh.write(json.dumps(t.to_dict(), ensure_ascii=False) + "\n")


def write_mot(tracks: list[Track], path: str | Path) -> None:
    """MOTChallenge rows ``frame,id,x,y,w,h,conf,-1,-1,-1`` (frame = decoded index + 1)."""
    rows = []
    for t in tracks:
        for idx, box, conf in zip(t.frame_index, t.xyxy, t.confidence):
            x1, y1, x2, y2 = box
            rows.append((idx + 1, t.track_id, x1, y1, x2 - x1, y2 - y1, conf))
    rows.sort()
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for f, i, x, y, w, h, c in rows:
            fh.write(f"{f},{i},{x:.1f},{y:.1f},{w:.1f},{h:.1f},{c:.4f},-1,-1,-1\n")
