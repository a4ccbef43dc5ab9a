"""Per-track observation history built from a tracker's outputs."""

from __future__ import annotations

import numpy as np

from pipeline.types import Detections, Track


class TrackHistory:
    """Collects, per tracker id, the boxes and times of one source's tracked detections.

    Tracks keep the spare room of their columns until :meth:`tracks`. Compacting each track
    as it finished (unseen past the lost timeout) was tried: it freed ~4 MiB of spare room at a
    busy hour's end, but the scan's peak RSS rose from ~306 to 349 MiB (``bench/speed.py
    long``): the exact-size copies and the holes they left fragmented the heap.

    Args:
        source_id: the source every track belongs to (its path as given to ``scan``).
    """

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self._tracks: dict[int, Track] = {}

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
            track.add(pts_s, frame_index, box, float(conf), {k: v[n] for k, v in scalars.items()})

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
        self._tracks = {}

    def __len__(self) -> int:
        """Number of tracks."""
        return len(self._tracks)
