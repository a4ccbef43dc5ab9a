"""Identity consistency on real pedestrian ground truth (MOT17-mini, TUD), fed as detections.

Ground-truth boxes, slightly jittered, stand in for a perfect detector; the tracker must keep
one id per person. Skips where the shared data (``shared_data`` fixture, tests/conftest.py) is
absent.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import TrackerConfig
from pipeline.types import Detections
from tracking.bytetrack import ByteTrack



@dataclass(frozen=True)
class IdentityErrors:
    """Identity errors of a tracker against ground truth.

    Attributes:
        switches: times a ground-truth person is returned with an id other than the one it
            last had (the MOT "ID switch").
        merges: tracker ids that were given to more than one ground-truth person, counted once
            per extra person.
        found: ground-truth boxes returned with an id.
        total: ground-truth boxes evaluated.
    """

    switches: int
    merges: int
    found: int
    total: int

    @property
    def coverage(self) -> float:
        return self.found / self.total if self.total else 1.0


def identity_errors(observations: Iterable[tuple[int, int, int | None]]) -> IdentityErrors:
    """Count identity errors.

    Args:
        observations: ``(frame, gt_id, tracker_id or None)`` per evaluated ground-truth box,
            in frame order; None where the tracker returned no id for the box.
    """
    last: dict[int, int] = {}
    persons_of: dict[int, set[int]] = {}
    switches = found = total = 0
    for _, gt_id, trk_id in observations:
        total += 1
        if trk_id is None:
            continue
        found += 1
        if gt_id in last and last[gt_id] != trk_id:
            switches += 1
        last[gt_id] = trk_id
        persons_of.setdefault(trk_id, set()).add(gt_id)
    merges = sum(len(p) - 1 for p in persons_of.values())
    return IdentityErrors(switches, merges, found, total)


def test_identity_errors_counts_a_swap() -> None:
    clean = [(1, 10, 1), (1, 20, 2), (2, 10, 1), (2, 20, 2), (3, 10, None), (3, 20, 2)]
    assert identity_errors(clean) == IdentityErrors(0, 0, 5, 6)
    swapped = clean[:4] + [(3, 10, 2), (3, 20, 1), (4, 10, 2), (4, 20, 1)]
    errors = identity_errors(swapped)
    assert (errors.switches, errors.merges) == (2, 2)
    fragmented = [(1, 10, 1), (2, 10, 3), (3, 10, 3)]
    assert identity_errors(fragmented).switches == 1


def _load_gt(path: Path, mot17: bool) -> np.ndarray:
    """(R, 7) float64 rows ``frame, id, x, y, w, h, visibility`` of the pedestrians to track."""
    gt = np.loadtxt(path, delimiter=",", ndmin=2)
    if mot17:  # frame,id,x,y,w,h,consider_flag,class,visibility; pedestrians: flag 1, class 1
        gt = gt[(gt[:, 6] == 1) & (gt[:, 7] == 1)]
        return gt[:, [0, 1, 2, 3, 4, 5, 8]]
    # MOT15: frame,id,x,y,w,h,conf,-1,-1,-1 (no visibility: every box counts as visible)
    return np.concatenate([gt[:, :6], np.ones((len(gt), 1))], axis=1)


def _track_gt(
    gt: np.ndarray,
    fps: float,
    *,
    step: int = 1,
    feed_visibility: float = 0.0,
    eval_visibility: float = 0.5,
) -> IdentityErrors:
    """Track jittered ground truth as detections and count identity errors.

    Every ``step``-th frame is fed at pts ``(frame - 1) / fps`` seconds (step > 1 is a lower
    analysis rate). Boxes with visibility >= ``feed_visibility`` are fed, with Gaussian jitter
    of 1% of the box size per corner (seed 0) and confidence 0.9; boxes with visibility >=
    ``eval_visibility`` are evaluated, except a person's first ``min_hits - 1`` sightings after
    the stream's first frame: a new track is tentative there by design.
    """
    config = TrackerConfig()
    rng = np.random.default_rng(0)
    tracker = ByteTrack(config)
    sightings: dict[int, int] = {}
    observations: list[tuple[int, int, int | None]] = []
    frames = range(1, int(gt[:, 0].max()) + 1, step)
    for frame in frames:
        rows = gt[(gt[:, 0] == frame) & (gt[:, 6] >= feed_visibility)]
        wh = rows[:, 4:6]
        xyxy = np.concatenate([rows[:, 2:4], rows[:, 2:4] + wh], axis=1)
        xyxy += rng.normal(0.0, 0.01, size=xyxy.shape) * np.tile(wh, 2)
        xyxy[:, 2:] = np.maximum(xyxy[:, 2:], xyxy[:, :2] + 1.0)
        gt_ids = rows[:, 1].astype(np.int64)
        dets = Detections(
            xyxy=xyxy,
            confidence=np.full(len(rows), 0.9),
            class_id=np.zeros(len(rows)),
            data={"gt_id": gt_ids},
        )
        out = tracker.update(dets, (frame - 1) / fps)
        returned = dict(zip(out.data["gt_id"].tolist(), out.tracker_id.tolist()))
        for gt_id, visibility in zip(gt_ids.tolist(), rows[:, 6]):
            sightings[gt_id] = sightings.get(gt_id, 0) + 1
            warm_up = frame != frames[0] and sightings[gt_id] < config.min_hits
            if visibility >= eval_visibility and not warm_up:
                observations.append((frame, gt_id, returned.get(gt_id)))
    return identity_errors(observations)


def _frame_rate(seq_dir: Path) -> float:
    ini = configparser.ConfigParser()
    ini.read(seq_dir / "seqinfo.ini")
    return float(ini["Sequence"]["frameRate"])


MOT17_SEQUENCES = [f"MOT17-{n:02d}-FRCNN" for n in (2, 5, 10, 11, 13)]


@pytest.mark.parametrize("sequence", MOT17_SEQUENCES)
def test_mot17_mini_keeps_identities(shared_data: Path, sequence: str) -> None:
    """No identity errors for persons >= 50% visible, and >= 95% of their boxes get an id.

    Boxes of persons under 25% visible are not fed: no detector boxes them, and in MOT17-05
    fully hidden people stand exactly behind visible ones (identical boxes, which no IoU
    tracker can tell apart).
    """
    seq_dir = shared_data / "tracking_gt" / "MOT17-mini" / sequence
    gt_file = seq_dir / "gt" / "gt.txt"
    if not gt_file.is_file():
        pytest.skip(f"MOT17-mini ground truth not present at {gt_file}")
    errors = _track_gt(_load_gt(gt_file, mot17=True), _frame_rate(seq_dir), feed_visibility=0.25)
    assert errors.total >= 25
    assert (errors.switches, errors.merges) == (0, 0), errors
    assert errors.coverage >= 0.95, errors


@pytest.mark.parametrize("step", [1, 3, 5], ids=["25fps", "8.3fps", "5fps"])
def test_tud_stadtmitte_keeps_identities_at_lower_analysis_rates(
    shared_data: Path, step: int
) -> None:
    """179 frames, 10 people crossing a square: same ids at 25, 8.3 and 5 analysed fps."""
    gt_file = shared_data / "tracking_gt" / "motmetrics_TUD" / "TUD-Stadtmitte" / "gt.txt"
    if not gt_file.is_file():
        pytest.skip(f"TUD-Stadtmitte ground truth not present at {gt_file}")
    errors = _track_gt(_load_gt(gt_file, mot17=False), 25.0, step=step)
    assert errors.total >= 1000 // step
    assert (errors.switches, errors.merges) == (0, 0), errors
    assert errors.coverage >= 0.95, errors
