"""Per-track observation history built from a tracker's outputs."""

from __future__ import annotations

import numpy as np

from pipeline.types import Detections, Track


class TrackHistory:
    """Collects, per tracker id, the boxes and times of one source's tracked detections.

    A track grows its columns with spare room (:meth:`Track.add`). With ``finished_after_s``,
    tracks not added to for that long are compacted as the stream goes on: a finished track
    never keeps the room, so a long source holds its tracks at their exact size (at a busy
    hour's end the spare room was ~4 of ~15 MiB of track columns). A compacted track that is
    added to again simply grows again.

    Args:
        source_id: the source every track belongs to (its path as given to ``scan``).
        finished_after_s: compact tracks unseen for longer than this many seconds of stream
            time (the tracker's lost timeout and a margin); 0 = only in :meth:`tracks`.
    """

    def __init__(self, source_id: str, finished_after_s: float = 0.0) -> None:
        self.source_id = source_id
        self.finished_after_s = float(finished_after_s)
        self._tracks: dict[int, Track] = {}
        self._open: dict[int, Track] = {}  # tracks that may still hold spare room
        self._next_sweep_s: float | None = None

    def add(self, detections: Detections, pts_s: float, frame_index: int) -> None:
        """Append one frame's tracked detections to their tracks.

        Args:
            detections: a tracker's output: (N, 4) xyxy absolute pixels, (N,) confidence and
                (N,) int64 ``tracker_id``; empty is fine (nothing is added). Every (N,)
                array in ``data`` is kept per observation in ``Track.extras``.
            pts_s: presentation time of the frame, seconds.
            frame_index: decoded frame number of the frame, 0-based.

        Raises:
            ValueError: ``tracker_id`` is missing (untracked detections) or repeats an id, or
                ``pts_s`` goes back in time for a track.
        """
        if len(detections) == 0:
            return
        ids = detections.tracker_id
        if ids is None:
            raise ValueError(
                "TrackHistory.add: detections need tracker_id (pass the tracker's output), got None"
            )
        unique, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(
                f"TrackHistory.add: each tracker_id may appear once per frame, got repeated ids "
                f"{unique[counts > 1].tolist()} at {pts_s} s"
            )
        scalars = {k: v for k, v in detections.data.items() if np.ndim(v) == 1}
        for n, (track_id, box, conf) in enumerate(
            zip(ids.tolist(), detections.xyxy, detections.confidence)
        ):
            track = self._tracks.get(track_id)
            if track is None:
                track = self._tracks[track_id] = Track(track_id=track_id, source_id=self.source_id)
            if track_id not in self._open:
                self._open[track_id] = track
            track.add(pts_s, frame_index, box, float(conf), {k: v[n] for k, v in scalars.items()})
        self._sweep(pts_s)

    def _sweep(self, pts_s: float) -> None:
        """Compact the open tracks unseen for ``finished_after_s`` (checked that often)."""
        if self.finished_after_s <= 0:
            return
        if self._next_sweep_s is None:
            self._next_sweep_s = pts_s + self.finished_after_s
        if pts_s < self._next_sweep_s:
            return
        for track_id, track in list(self._open.items()):
            if pts_s - track.end_s > self.finished_after_s:
                track.compact()
                del self._open[track_id]
        self._next_sweep_s = pts_s + self.finished_after_s

    def tracks(self) -> list[Track]:
        """Every track seen so far, sorted by id (the Track objects themselves, not copies;
        their spare room for more observations released: call it when the source is done)."""
        out = [self._tracks[k] for k in sorted(self._tracks)]
        for t in out:
            t.compact()
        return out

    def __getitem__(self, track_id: int) -> Track:
        """The track with this id as it stands now (not compacted)."""
        return self._tracks[track_id]

    def reset(self) -> None:
        """Forget every track (the source id stays)."""
        self._tracks, self._open, self._next_sweep_s = {}, {}, None

    def __len__(self) -> int:
        """Number of tracks."""
        return len(self._tracks)
