"""The render pass reads only the observations it draws: the same boxes inside the windows,
a bounded memory for a long source's tracks.jsonl."""

from __future__ import annotations

import numpy as np

from pipeline.outputs.overlay import load_tracks
from pipeline.outputs.tracks import write_tracks_jsonl
from pipeline.types import Track
from tests.memory import peak_bytes


def _tracks(n_obs: int, rng: np.random.Generator) -> list[Track]:
    out = []
    for tid, (start, step) in enumerate([(0.0, 0.1), (3.0, 0.3), (50.0, 0.1)], 1):
        t = Track(tid, "cam.mp4", attributes={"age_group": "child" if tid == 2 else "adult"})
        times = start + np.cumsum(rng.uniform(0.5, 1.5, n_obs) * step)
        times[n_obs // 2:] += 0.7 * (tid == 1)  # a gap: interpolation must not bridge it
        for k, s in enumerate(times):
            t.add(float(s), k, rng.uniform(0, 500, 4), float(rng.random()))
        out.append(t)
    return out


def test_boxes_inside_the_windows_are_the_ones_drawn_from_every_observation(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "tracks.jsonl"
    write_tracks_jsonl(_tracks(400, rng), path)
    full = load_tracks(path)
    windows = [(4.0, 6.5), (6.0, 9.0), (30.0, 30.5), (400.0, 401.0)]
    part = load_tracks(path, windows)
    assert set(part) == {1, 2}  # track 3 starts at 50 s: nothing of it is drawn
    assert part[2].age_group == "child"
    for t in np.concatenate([np.linspace(a, b, 97) for a, b in windows]):
        for tid, tr in full.items():
            want, got = tr.box_at(float(t)), part[tid].box_at(float(t)) if tid in part else None
            if want is None:
                assert got is None, (tid, t)
            else:
                assert got is not None and np.array_equal(want[0], got[0]) and want[1] == got[1]
    assert len(part[1].pts_s) < len(full[1].pts_s) / 3
    assert load_tracks(path, []) == {}


def test_a_long_track_is_not_parsed_whole(tmp_path):
    rng = np.random.default_rng(3)
    long_ = Track(1, "cam.mp4")
    for k in range(36_000):  # a figure tracked for an hour at 10 fps
        long_.add(k / 10, k, rng.uniform(0, 500, 4), 0.5)
    path = tmp_path / "tracks.jsonl"
    write_tracks_jsonl([long_], path)
    size = path.stat().st_size
    peak = peak_bytes(lambda: load_tracks(path, [(100.0, 110.0)]))
    # neither the line's text (~3 MB; reading it as a line took ~2x that) nor its 36,000
    # observations are held whole: they are parsed a chunk of text at a time
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte file"
    assert len(load_tracks(path, [(100.0, 110.0)])[1].pts_s) == 2 * 10 * 1 + 101
