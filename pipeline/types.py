"""Core types shared by every stage: Frame, Detections, Track.

One vocabulary everywhere (CONVENTIONS.md): boxes are ``xyxy`` float32 absolute pixels in the
frame as displayed (rotation applied), images are H×W×3 uint8 BGR, times are ``pts_s`` seconds
from the container's presentation timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded video frame.

    Attributes:
        image: H×W×3 uint8 BGR, rotation metadata already applied.
        source_id: identifier of the source (its path as given to ``scan``).
        index: decoded frame number in the source, 0-based, counting every decoded frame
            (also the ones the analysis rate skipped).
        pts_s: presentation time in seconds from the container (never ``index / fps``).
    """

    image: np.ndarray
    source_id: str
    index: int
    pts_s: float

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
            shape = getattr(img, "shape", type(img).__name__)
            raise ValueError(f"Frame.image must be an H×W×3 array, got {shape}")
        if img.dtype != np.uint8:
            raise ValueError(f"Frame.image must be uint8 BGR, got dtype {img.dtype}")
        if self.index < 0:
            raise ValueError(f"Frame.index must be >= 0, got {self.index}")
        if not np.isfinite(self.pts_s):
            raise ValueError(f"Frame.pts_s must be a finite number of seconds, got {self.pts_s}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def _check_len(name: str, arr: np.ndarray | None, n: int) -> None:
    if arr is not None and len(arr) != n:
        raise ValueError(f"Detections.{name} must have length {n} (one per box), got {len(arr)}")


@dataclass
class Detections:
    """Detected objects in one frame, as parallel arrays (supervision-style).

    Attributes:
        xyxy: (N, 4) float32, absolute pixel corners ``x1, y1, x2, y2`` with x2 >= x1, y2 >= y1.
        confidence: (N,) float32 in [0, 1].
        class_id: (N,) int32; 0 is "person" for every person detector.
        tracker_id: (N,) int64 track ids, or None before tracking.
        data: per-object extras, each an array of length N (keypoints, face boxes, ...).
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    tracker_id: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32)
        if self.xyxy.size == 0:
            self.xyxy = self.xyxy.reshape(0, 4)
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"Detections.xyxy must have shape (N, 4), got {self.xyxy.shape}")
        n = len(self.xyxy)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        self.class_id = np.asarray(self.class_id, dtype=np.int32).reshape(-1)
        _check_len("confidence", self.confidence, n)
        _check_len("class_id", self.class_id, n)
        if self.tracker_id is not None:
            self.tracker_id = np.asarray(self.tracker_id, dtype=np.int64).reshape(-1)
            _check_len("tracker_id", self.tracker_id, n)
        for key, value in self.data.items():
            _check_len(f"data[{key!r}]", value, n)
        if n and not np.all(np.isfinite(self.xyxy)):
            raise ValueError("Detections.xyxy must be finite pixel coordinates")
        if n and np.any(self.xyxy[:, 2:] < self.xyxy[:, :2]):
            raise ValueError("Detections.xyxy must satisfy x2 >= x1 and y2 >= y1")

    @classmethod
    def empty(cls) -> Detections:
        """Detections with N = 0 (what every stage passes on when nothing was found)."""
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros(0, np.float32),
            class_id=np.zeros(0, np.int32),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def is_empty(self) -> bool:
        return len(self) == 0

    def __getitem__(self, index: Any) -> Detections:
        """Select boxes with a boolean mask, an index array or a slice."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
            data={k: v[index] for k, v in self.data.items()},
        )

    @classmethod
    def merge(cls, parts: list[Detections]) -> Detections:
        """Concatenate several Detections (data keys must agree)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        has_ids = all(p.tracker_id is not None for p in parts)
        keys = set(parts[0].data)
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]) if has_ids else None,
            data={k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )

    @property
    def area(self) -> np.ndarray:
        """(N,) float32 box areas in square pixels."""
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return wh[:, 0] * wh[:, 1]


@dataclass
class Track:
    """One tracked person over time in one source.

    Observations are appended in time order; arrays are built on demand.

    Attributes:
        track_id: id, unique within the source.
        source_id: the source the track belongs to.
        pts_s: times of the observations (seconds).
        frame_index: decoded frame numbers of the observations.
        xyxy: boxes of the observations (absolute pixels).
        confidence: detector confidence per observation.
        extras: per-observation scalars from the analysis pass, by name (e.g.
            ``inner_confidence``, see pipeline.inner); each list is parallel to ``pts_s``.
        attributes: later stages' per-track results (e.g. ``{"age_group": "child"}``).
    """

    track_id: int
    source_id: str
    pts_s: list[float] = field(default_factory=list)
    frame_index: list[int] = field(default_factory=list)
    xyxy: list[tuple[float, float, float, float]] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, list[float]] = field(default_factory=dict)
    _boxes: np.ndarray | None = field(default=None, repr=False, compare=False)

    def add(
        self, pts_s: float, frame_index: int, box: np.ndarray, confidence: float,
        extras: dict[str, float] | None = None,
    ) -> None:
        if self.pts_s and pts_s < self.pts_s[-1]:
            raise ValueError(
                f"Track {self.track_id}: observations must come in time order, got {pts_s} s "
                f"after {self.pts_s[-1]} s"
            )
        self.pts_s.append(float(pts_s))
        self.frame_index.append(int(frame_index))
        self.xyxy.append(tuple(float(v) for v in box))  # type: ignore[arg-type]
        self.confidence.append(float(confidence))
        for name, value in (extras or {}).items():
            col = self.extras.setdefault(name, [float("nan")] * (len(self.pts_s) - 1))
            col.append(float(value))
        for col in self.extras.values():  # a name missing from this observation
            if len(col) < len(self.pts_s):
                col.append(float("nan"))

    def __len__(self) -> int:
        return len(self.pts_s)

    @property
    def start_s(self) -> float:
        return self.pts_s[0]

    @property
    def end_s(self) -> float:
        return self.pts_s[-1]

    def boxes(self) -> np.ndarray:
        """(T, 4) float32 boxes in time order (built once per length: the event pass asks
        for them thousands of times; a read-only view, copy before changing it)."""
        if self._boxes is None or len(self._boxes) != len(self.xyxy):
            self._boxes = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
            self._boxes.flags.writeable = False
        return self._boxes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: times in seconds, boxes rounded to 0.1 px."""
        return {
            "track_id": self.track_id,
            "source": self.source_id,
            "start_s": round(self.start_s, 4),
            "end_s": round(self.end_s, 4),
            "n_observations": len(self),
            "attributes": self.attributes,
            "observations": [
                {
                    "pts_s": round(t, 4),
                    "frame": i,
                    "xyxy": [round(v, 1) for v in b],
                    "confidence": round(c, 4),
                    **{k: round(v[n], 4) for k, v in self.extras.items() if v[n] == v[n]},
                }
                for n, (t, i, b, c) in enumerate(
                    zip(self.pts_s, self.frame_index, self.xyxy, self.confidence)
                )
            ],
        }


@dataclass
class Event:
    """Something a reviewer should look at: a carry or a lead-away between two tracks.

    Attributes:
        type: ``carry`` or ``lead_away``.
        source_id: the source.
        start_s, end_s: span in source seconds (container pts).
        adult_track: track id of the adult.
        child_track: track id(s) of the child (several when the child's track broke and was
            linked, e.g. after a put-down and pick-up).
        score: 0–1; carry events score above lead-away events of the same strength.
        evidence: per-observation features that made it fire (time, cue values), for review.
        summary: one line saying why it fired.
    """

    type: str
    source_id: str
    start_s: float
    end_s: float
    adult_track: int
    child_track: list[int]
    score: float
    evidence: list[dict[str, Any]] = field(default_factory=list)
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "source": self.source_id,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "adult_track": self.adult_track,
            "child_track": self.child_track[0] if len(self.child_track) == 1 else self.child_track,
            "score": round(self.score, 3),
            "summary": self.summary,
            "evidence": self.evidence,
        }


def event_from_dict(d: dict[str, Any]) -> Event:
    """An :class:`Event` back from its ``to_dict`` form (as stored and in events.json)."""
    child = d["child_track"]
    return Event(type=d["type"], source_id=d["source"], start_s=d["start_s"], end_s=d["end_s"],
                 adult_track=d["adult_track"], child_track=child if isinstance(child, list) else [child],
                 score=d["score"], evidence=list(d.get("evidence", [])), summary=d.get("summary", ""))
