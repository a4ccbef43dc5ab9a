"""bench/carry_funnel.py reads tracks.jsonl back into the tracks that were written."""

from __future__ import annotations

import numpy as np

from bench.carry_funnel import read_tracks
from pipeline.outputs.tracks import write_tracks_jsonl
from pipeline.types import Track


def test_tracks_jsonl_reads_back(tmp_path):
    a = Track(3, "cam.mp4")
    for k in range(5):
        a.add(0.1 * k, k, np.array([10 + k, 20, 50 + k, 120], np.float32), 0.5 + 0.1 * k)
    b = Track(7, "cam.mp4")
    b.add(0.2, 2, np.array([1, 2, 3, 4], np.float32), 0.25)
    write_tracks_jsonl([a, b], tmp_path / "t.jsonl")
    back = read_tracks(tmp_path / "t.jsonl", "cam.mp4")
    assert [t.track_id for t in back] == [3, 7]
    for got, want in zip(back, [a, b]):
        np.testing.assert_allclose(got.pts_s, want.pts_s)
        np.testing.assert_allclose(got.xyxy, want.xyxy, atol=0.05)
        np.testing.assert_allclose(got.confidence, want.confidence, atol=1e-4)
        assert got.frame_index.tolist() == want.frame_index.tolist()
