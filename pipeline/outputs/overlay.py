"""What the render pass draws on a re-decoded frame: stored tracks at a time, scaled and
brightened frames that stay legible on small, dark footage, and ASCII-safe text for OpenCV.

Tracks come from the stored ``tracks.jsonl`` (not from memory), so clips can be re-rendered
from a finished scan.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.outputs.jsonl_stream import read_objects
from pipeline.types import Detections

GROUP_CLASS = {"adult": 0, "child": 1, "unknown": 2}
_MAX_INTERP_GAP_S = 1.0  # boxes are interpolated between observations closer than this
_NEAREST_S = 0.15  # otherwise the nearest observation within this is drawn


@dataclass
class StoredTrack:
    """One track as stored: times (s), boxes (T, 4) xyxy pixels, confidences, age group."""

    track_id: int
    pts_s: np.ndarray
    xyxy: np.ndarray
    confidence: np.ndarray
    age_group: str

    def box_at(self, t: float) -> tuple[np.ndarray, float] | None:
        """The box at source time ``t`` (linear between close observations), or None."""
        p = self.pts_s
        if not len(p) or t < p[0] - _NEAREST_S or t > p[-1] + _NEAREST_S:
            return None
        k = int(np.searchsorted(p, t))
        if 0 < k < len(p) and p[k] - p[k - 1] <= _MAX_INTERP_GAP_S:
            w = (t - p[k - 1]) / max(p[k] - p[k - 1], 1e-9)
            box = self.xyxy[k - 1] * (1 - w) + self.xyxy[k] * w
            return box, float(min(self.confidence[k - 1], self.confidence[k]))
        near = min((j for j in (k - 1, k) if 0 <= j < len(p)), key=lambda j: abs(p[j] - t))
        if abs(p[near] - t) <= _NEAREST_S:
            return self.xyxy[near].copy(), float(self.confidence[near])
        return None


_REACH_S = max(_MAX_INTERP_GAP_S, _NEAREST_S)  # farthest observation box_at looks at


def load_tracks(path: Path, windows: Sequence[tuple[float, float]] | None = None
                ) -> dict[int, StoredTrack]:
    """Read a source's ``tracks.jsonl`` into {track id: StoredTrack}.

    ``windows``: the (start_s, end_s) spans that will be drawn. Observations farther than
    ``box_at`` ever looks from all of them are dropped as the file is parsed, so
    :meth:`StoredTrack.box_at` inside a window answers as with every observation, and a long
    source's tracks are never held whole (an hour of busy footage: ~245k observations, one
    track of ~36k). Tracks left without an observation are left out. None: everything.
    """
    lo = hi = None
    if windows is not None:
        merged: list[list[float]] = []
        for a, b in sorted((a - _REACH_S, b + _REACH_S) for a, b in windows):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        lo = np.asarray([m[0] for m in merged])
        hi = np.asarray([m[1] for m in merged])

    def observation(d: dict[str, Any]) -> Any:
        # called for every JSON object as it is parsed, innermost first: an observation
        # becomes a row, or None outside the windows, before the next one is read
        if "pts_s" not in d or "xyxy" not in d:
            return d
        t = d["pts_s"]
        if lo is not None:
            k = int(np.searchsorted(lo, t, side="right")) - 1
            if k < 0 or t > hi[k]:
                return None
        return (t, *d["xyxy"], d["confidence"])

    out: dict[int, StoredTrack] = {}
    # a track's line can be megabytes long: its observations are parsed one at a time
    for d in read_objects(path, observation, "observations"):
        rows = np.asarray([o for o in d.get("observations", []) if o is not None],
                          np.float64).reshape(-1, 6)
        if windows is not None and not len(rows):
            continue
        out[int(d["track_id"])] = StoredTrack(
            track_id=int(d["track_id"]),
            pts_s=rows[:, 0].copy(),
            xyxy=rows[:, 1:5].astype(np.float32),
            confidence=rows[:, 5].astype(np.float32),
            age_group=str((d.get("attributes") or {}).get("age_group", "unknown")),
        )
    return out


def detections_at(
    tracks: dict[int, StoredTrack], t: float, scale: float, focus: dict[int, str] | None = None
) -> tuple[Detections, list[str]]:
    """Boxes of every track present at time ``t`` (scaled by ``scale``) and their labels.

    Labels read ``#id adult`` / ``#id child``; tracks named in ``focus`` (id → role, e.g.
    ``"ADULT"``) are marked with ``*`` and their role.
    """
    focus = focus or {}
    rows = []
    for tr in tracks.values():
        hit = tr.box_at(t)
        if hit is not None:
            rows.append((tr, hit[0] * scale, hit[1]))
    if not rows:
        return Detections.empty(), []
    rows.sort(key=lambda r: r[0].track_id in focus)  # focus tracks drawn last, on top
    det = Detections(
        xyxy=np.asarray([b for _, b, _ in rows], np.float32),
        confidence=np.asarray([c for _, _, c in rows], np.float32),
        class_id=np.asarray([GROUP_CLASS.get(tr.age_group, 2) for tr, _, _ in rows]),
        tracker_id=np.asarray([tr.track_id for tr, _, _ in rows], np.int64),
    )
    labels = [
        f"*{focus[tr.track_id]} #{tr.track_id} {tr.age_group}" if tr.track_id in focus
        else f"#{tr.track_id} {tr.age_group}"
        for tr, _, _ in rows
    ]
    return det, labels


def outline(image: np.ndarray, det: Detections, ids: set[int]) -> None:
    """Draw a thick yellow outline around the boxes of ``ids`` (the tracks an item is about)."""
    if det.tracker_id is None:
        return
    for box, tid in zip(det.xyxy, det.tracker_id):
        if int(tid) in ids:
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(image, (x1 - 3, y1 - 3), (x2 + 3, y2 + 3), (0, 230, 255), 2, cv2.LINE_AA)


def crop_around(image: np.ndarray, boxes: np.ndarray, min_frac: float = 0.5,
                aspect: float = 4 / 3) -> np.ndarray:
    """The region of ``image`` around ``boxes`` ((N, 4) xyxy pixels) with a margin, at least
    ``min_frac`` of the frame's height tall, ``aspect`` wide:high, kept inside the frame.
    With no box, the whole image."""
    H, W = image.shape[:2]
    if not len(boxes):
        return image
    x1, y1 = boxes[:, 0].min(), boxes[:, 1].min()
    x2, y2 = boxes[:, 2].max(), boxes[:, 3].max()
    h = max((y2 - y1) * 1.6, min_frac * H)
    w = max((x2 - x1) * 1.3, h * aspect)
    h = max(h, w / aspect)
    w, h = min(w, W), min(h, H)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = int(round(min(max(cx - w / 2, 0), W - w)))
    top = int(round(min(max(cy - h / 2, 0), H - h)))
    return image[top: top + int(h), left: left + int(w)].copy()


def is_dark(image: np.ndarray, threshold: float = 70.0) -> bool:
    """True when the mean luminance (0–255) of a BGR image is below ``threshold``."""
    return float(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).mean()) < threshold


def prepare(image: np.ndarray, min_height: int, enhance: bool) -> tuple[np.ndarray, float]:
    """Scale a BGR frame up to ``min_height`` (0 = never) and optionally brighten it.

    Returns the new image and the scale factor applied to pixel coordinates.
    """
    h = image.shape[0]
    scale = 1.0
    if min_height and h < min_height:
        scale = min_height / h
        w = int(round(image.shape[1] * scale))
        w += w % 2
        image = cv2.resize(image, (w, min_height), interpolation=cv2.INTER_CUBIC)
    if enhance:
        lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
        clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
        lab[:, :, 0] = clahe.apply(lab[:, :, 0])
        image = cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)
    return image, scale


def ascii_text(text: str, limit: int = 60) -> str:
    """``text`` folded to printable ASCII for OpenCV's Hershey fonts (others become ``?``)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    if not folded and text:
        folded = "?"
    out = "".join(c if 32 <= ord(c) < 127 else "?" for c in folded)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def wall_clock(creation_time: str | None, pts_s: float) -> str | None:
    """Wall-clock time of source time ``pts_s`` from the container's creation time, or None.

    The container clock is whatever the recorder was set to; the label says so.
    """
    if not creation_time:
        return None
    try:
        t0 = datetime.fromisoformat(creation_time.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t0 + timedelta(seconds=pts_s)).strftime("%Y-%m-%d %H:%M:%S")


def encode_jpeg(image: np.ndarray, max_width: int = 960, quality: int = 85) -> bytes:
    """JPEG bytes of a BGR image, scaled down to ``max_width`` pixels if wider."""
    if image.shape[1] > max_width:
        h = int(round(image.shape[0] * max_width / image.shape[1]))
        image = cv2.resize(image, (max_width, h), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return buf.tobytes()


def source_info(entry: dict[str, Any]) -> tuple[str | None, float | None]:
    """(container creation time, average fps) of a manifest input entry."""
    probe = entry.get("probe") or {}
    return probe.get("creation_time"), probe.get("avg_fps")
