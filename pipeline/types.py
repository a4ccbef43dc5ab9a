"""Core types shared by every stage: Frame, Detections, Track.

One vocabulary everywhere (CONVENTIONS.md): boxes are ``xyxy`` float32 absolute pixels in the
frame as displayed (rotation applied), images are H×W×3 uint8 BGR, times are ``pts_s`` seconds
from the container's presentation timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

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
    # decoded frames have one; pipeline.ingest.BlindFrame (analysed, not decoded) has not
    has_picture: ClassVar[bool] = True

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


def _column(values: Any, dtype: type, name: str, width: int = 0) -> np.ndarray:
    arr = np.array(values, dtype=dtype)
    if arr.size == 0:
        arr = arr.reshape((0, width) if width else (0,))
    if (arr.ndim, arr.shape[1:]) != ((2, (width,)) if width else (1, ())):
        want = f"(T, {width})" if width else "(T,)"
        raise ValueError(f"Track.{name} must have shape {want}, got {arr.shape}")
    return arr


class Track:
    """One tracked person over time in one source, its observations held as columns.

    Observations are appended in time order (:meth:`add`); each column is one compact numpy
    array (about 50 bytes an observation in all, where Python lists of floats and tuples took
    ~320: a busy hour has ~250k observations). The columns read as read-only arrays of length
    T, in time order; copy one before changing it.

    Attributes:
        track_id: id, unique within the source.
        source_id: the source the track belongs to.
        pts_s: (T,) float64 times of the observations (seconds).
        frame_index: (T,) int32 decoded frame numbers of the observations (2^31 frames is
            two years at 30 fps; half the bytes of int64 on ~250k observations an hour).
        xyxy: (T, 4) float32 boxes of the observations (absolute pixels).
        confidence: (T,) float32 detector confidence per observation.
        extras: per-observation scalars from the analysis pass, by name (e.g.
            ``inner_confidence``, see pipeline.inner): (T,) float32 each, NaN where an
            observation did not have it; read-only (set a column with :meth:`set_extra`).
        attributes: later stages' per-track results (e.g. ``{"age_group": "child"}``).
    """

    _MIN_CAPACITY = 8

    def __init__(
        self, track_id: int, source_id: str, pts_s: Any = (), frame_index: Any = (),
        xyxy: Any = (), confidence: Any = (), attributes: dict[str, Any] | None = None,
        extras: dict[str, Any] | None = None,
    ) -> None:
        self.track_id = track_id
        self.source_id = source_id
        self.attributes: dict[str, Any] = {} if attributes is None else attributes
        self._pts = _column(pts_s, np.float64, "pts_s")
        self._n = len(self._pts)
        self._frame = _column(frame_index, np.int32, "frame_index")
        self._xyxy = _column(xyxy, np.float32, "xyxy", 4)
        self._conf = _column(confidence, np.float32, "confidence")
        self._extras: dict[str, np.ndarray] = {}
        for name, col in (extras or {}).items():
            self.set_extra(name, col)
        for name, col in (("frame_index", self._frame), ("xyxy", self._xyxy),
                          ("confidence", self._conf)):
            if len(col) != self._n:
                raise ValueError(f"Track.{name} must have {self._n} rows (one per pts_s), "
                                 f"got {len(col)}")
        if self._n > 1 and np.any(np.diff(self._pts) < 0):
            raise ValueError(f"Track {track_id}: pts_s must be in time order")

    def add(
        self, pts_s: float, frame_index: int, box: np.ndarray, confidence: float,
        extras: dict[str, float] | None = None,
    ) -> None:
        """Append one observation: time (s), decoded frame number, (4,) xyxy box (pixels),
        confidence, and per-observation scalars by name (a name missing here is NaN)."""
        n = self._n
        if n and pts_s < self._pts[n - 1]:
            raise ValueError(
                f"Track {self.track_id}: observations must come in time order, got {pts_s} s "
                f"after {self._pts[n - 1]} s"
            )
        if n == len(self._pts):
            self._resize(max(self._MIN_CAPACITY, n + n // 2))
        self._pts[n] = pts_s
        self._frame[n] = frame_index
        self._xyxy[n] = box
        self._conf[n] = confidence
        given = extras or {}
        for name, value in given.items():
            col = self._extras.get(name)
            if col is None:
                col = self._extras[name] = np.full(len(self._pts), np.nan, np.float32)
            col[n] = value
        if len(given) < len(self._extras):  # names missing from this observation
            for name, col in self._extras.items():
                if name not in given:
                    col[n] = np.nan
        self._n = n + 1

    def _resize(self, capacity: int) -> None:
        def fit(a: np.ndarray, fill: float | int = 0) -> np.ndarray:
            out = np.full((capacity, *a.shape[1:]), fill, a.dtype)
            k = min(self._n, capacity)
            out[:k] = a[:k]
            return out

        self._pts, self._frame = fit(self._pts), fit(self._frame)
        self._xyxy, self._conf = fit(self._xyxy), fit(self._conf)
        self._extras = {k: fit(v, np.nan) for k, v in self._extras.items()}

    @property
    def spare_rows(self) -> int:
        """Room held for more observations beyond the :func:`len` held now."""
        return len(self._pts) - self._n

    def compact(self) -> None:
        """Release the room kept for more observations (when the track is complete)."""
        if len(self._pts) != self._n:
            self._resize(self._n)

    def _view(self, a: np.ndarray) -> np.ndarray:
        v = a[: self._n]
        v.flags.writeable = False
        return v

    @property
    def pts_s(self) -> np.ndarray:
        return self._view(self._pts)

    @property
    def frame_index(self) -> np.ndarray:
        return self._view(self._frame)

    @property
    def xyxy(self) -> np.ndarray:
        return self._view(self._xyxy)

    @property
    def confidence(self) -> np.ndarray:
        return self._view(self._conf)

    @property
    def extras(self) -> Mapping[str, np.ndarray]:
        return MappingProxyType({k: self._view(v) for k, v in self._extras.items()})

    def set_extra(self, name: str, values: Any) -> None:
        """Set a whole per-observation column: (T,) values, NaN where missing."""
        col = _column(values, np.float32, f"extras[{name!r}]")
        if len(col) != self._n:
            raise ValueError(f"Track.extras[{name!r}] must have {self._n} values (one per "
                             f"observation), got {len(col)}")
        out = np.full(len(self._pts), np.nan, np.float32)
        out[: self._n] = col
        self._extras[name] = out

    def boxes(self) -> np.ndarray:
        """(T, 4) float32 boxes in time order (the :attr:`xyxy` column, read-only)."""
        return self.xyxy

    def __len__(self) -> int:
        return self._n

    @property
    def start_s(self) -> float:
        if not self._n:
            raise IndexError(f"Track {self.track_id} has no observation")
        return float(self._pts[0])

    @property
    def end_s(self) -> float:
        if not self._n:
            raise IndexError(f"Track {self.track_id} has no observation")
        return float(self._pts[self._n - 1])

    def __repr__(self) -> str:
        span = f"{self.start_s:.3f}-{self.end_s:.3f} s" if self._n else "empty"
        return (f"Track(track_id={self.track_id}, source_id={self.source_id!r}, "
                f"{self._n} observations, {span}, attributes={self.attributes})")

    def to_dict(self, observations: bool = True) -> dict[str, Any]:
        """JSON-ready form: times in seconds, boxes rounded to 0.1 px (``observations`` False:
        without the ``observations`` list, which is then the one key left out)."""
        d = {
            "track_id": self.track_id,
            "source": self.source_id,
            "start_s": round(self.start_s, 4),
            "end_s": round(self.end_s, 4),
            "n_observations": len(self),
            "attributes": self.attributes,
        }
        if observations:
            d["observations"] = self.observation_dicts()
        return d

    def observation_dicts(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Observations ``start:stop`` in the JSON-ready form of :meth:`to_dict`."""
        sl = slice(start, len(self) if stop is None else stop)
        extras = {k: v[sl].tolist() for k, v in self.extras.items()}
        return [
            {
                "pts_s": round(t, 4),
                "frame": i,
                "xyxy": [round(v, 1) for v in b],
                "confidence": round(c, 4),
                **{k: round(v[n], 4) for k, v in extras.items() if v[n] == v[n]},
            }
            for n, (t, i, b, c) in enumerate(zip(
                self.pts_s[sl].tolist(), self.frame_index[sl].tolist(), self.xyxy[sl].tolist(),
                self.confidence[sl].tolist()))
        ]


@dataclass
class Event:
    """Something a reviewer should look at: a carry or a lead-away between two tracks.

    Attributes:
        type: ``carry`` or ``lead_away``.
        source_id: the source.
        start_s, end_s: span in source seconds (container pts).
        adult_track: track id of the adult (of a carry joined across the carrier's track breaks,
            the track with the most qualifying time).
        child_track: track id(s) of the child (several when the child's track broke and was
            linked, e.g. after a put-down and pick-up).
        score: 0–1; carry events score above lead-away events of the same strength.
        evidence: per-observation features that made it fire (time, cue values), for review.
        summary: one line saying why it fired.
        adult_tracks: every adult track the event joined (the carrier's track may break mid-carry);
            ``[adult_track]`` when not given.
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
    adult_tracks: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.adult_tracks:
            self.adult_tracks = [self.adult_track]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "source": self.source_id,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "adult_track": self.adult_track,
            "adult_tracks": self.adult_tracks,
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
                 score=d["score"], evidence=list(d.get("evidence", [])), summary=d.get("summary", ""),
                 adult_tracks=list(d.get("adult_tracks") or []))  # absent in events stored before it
