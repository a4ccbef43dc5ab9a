"""The demo clips: built from the photos in the ultralytics wheel, decodable, with ground truth,
and tracked without identity switches by the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from pipeline.boxes import box_iou
from sample_clips.make_clips import make_clips

EXPECTED = {"street_pan.mp4": (100, 640, 480), "walkers.mp4": (135, 768, 528),
            "night_walk.mp4": (90, 768, 528)}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clips")
    written = make_clips(out)
    assert sorted(p.name for p in written) == sorted(EXPECTED)
    assert make_clips(out) == []  # present clips are kept unless forced
    return out


def test_clips_decode_as_h264_with_expected_frames(clips):
    for name, (n, w, h) in EXPECTED.items():
        with av.open(str(clips / name)) as c:
            s = c.streams.video[0]
            frames = [f for f in c.decode(s)]
            assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
            assert (len(frames), frames[0].width, frames[0].height) == (n, w, h)
            assert float(frames[0].to_ndarray(format="gray").std()) > 10  # not blank


def load_gt(path: Path) -> dict[int, dict[int, np.ndarray]]:
    gt: dict[int, dict[int, np.ndarray]] = {}
    for line in path.read_text().splitlines():
        f, pid, x, y, w, h = (float(v) for v in line.split(",")[:6])
        gt.setdefault(int(f), {})[int(pid)] = np.array([x, y, x + w, y + h], np.float32)
    return gt


@pytest.mark.parametrize("name", ["walkers", "night_walk"])
def test_walkers_keep_their_ids_through_the_crossing(clips, name, models_env, tmp_path):
    gt = load_gt(clips / f"{name}.gt.txt")
    assert len(gt) == EXPECTED[f"{name}.mp4"][0] and all(len(v) >= 1 for v in gt.values())
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["scan", "--quiet", str(clips / f"{name}.mp4"), "--out", str(out),
                                  "--set", "ingest.analysis_fps=0"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "manifest.json").read_text())
    tracks = [json.loads(line) for line in (out / m["inputs"][0]["outputs"]["tracks_jsonl"]).open()]
    by_frame: dict[int, list[tuple[int, np.ndarray]]] = {}
    for t in tracks:
        for o in t["observations"]:
            by_frame.setdefault(o["frame"] + 1, []).append((t["track_id"], np.array(o["xyxy"])))
    ids: dict[int, set[int]] = {}
    hits = total = 0
    for f, people in gt.items():
        boxes = np.stack(list(people.values()))
        overlap = box_iou(boxes, boxes) - np.eye(len(boxes))
        for k, (pid, box) in enumerate(people.items()):
            if box[2] - box[0] < 40:  # entering or leaving at the frame edge
                continue
            if overlap[k].max() > 0.2:  # the two overlap: who is who is ambiguous in the GT box
                continue
            total += 1
            found = by_frame.get(f, [])
            if not found:
                continue
            iou = box_iou(box[None], np.stack([b for _, b in found]))[0]
            if iou.max() >= 0.5:
                hits += 1
                ids.setdefault(pid, set()).add(found[int(iou.argmax())][0])
    assert hits >= 0.85 * total, (hits, total)
    assert all(len(v) == 1 for v in ids.values()), ids  # one id per person, crossing included
    assert len({next(iter(v)) for v in ids.values()}) == 2  # and the two people differ
