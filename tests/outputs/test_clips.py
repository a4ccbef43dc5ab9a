"""The clip render pass on files made in the test: seeking, pre/post roll, upscaling and
brightening of small dark footage, match clips, and a source that vanished."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.outputs.render_pass import run_render_pass
from pipeline.outputs.segment import decode_segment
from tests.media import write_clip

FPS = 10


def dark_frames(n: int, w: int = 160, h: int = 120) -> list[np.ndarray]:
    """Night-like frames: a dim grey person-sized block walking right."""
    out = []
    for i in range(n):
        img = np.full((h, w, 3), 12, np.uint8)
        x = 10 + i
        img[40:100, x: x + 20] = 45
        out.append(img)
    return out


def make_scan_dir(tmp_path: Path, n: int = 60) -> tuple[Path, dict]:
    """A source (n frames at 10 fps, 160×120, dark), its stored track and one event."""
    src = write_clip(tmp_path / "night cam.mp4", [i / FPS for i in range(n)],
                     frames=dark_frames(n))
    out = tmp_path / "out"
    slug = "night_cam-000000000000"
    (out / "sources" / slug).mkdir(parents=True)
    obs = [{"pts_s": i / FPS, "frame": i, "xyxy": [10 + i, 40, 30 + i, 100], "confidence": 0.8}
           for i in range(n)]
    track = {"track_id": 1, "attributes": {"age_group": "adult"}, "observations": obs}
    (out / "sources" / slug / "tracks.jsonl").write_text(json.dumps(track) + "\n")
    entry = {"path": str(src), "slug": slug, "sha256_before": "0" * 64,
             "probe": {"creation_time": "2024-05-01T22:10:00.000000Z", "avg_fps": 10.0},
             "decode": {"first_pts_s": 0.0, "last_pts_s": (n - 1) / FPS},
             "outputs": {"tracks_jsonl": f"sources/{slug}/tracks.jsonl"}}
    ev = {"id": f"{slug}-e1", "type": "carry", "source": str(src), "source_sha256": "0" * 64,
          "start_s": 2.0, "end_s": 3.0, "adult_track": 1, "child_track": 2, "score": 0.8,
          "summary": "", "evidence": [], "clip": None, "thumbnail": None}
    (out / "events.json").write_text(json.dumps({"events": [ev]}))
    return out, entry


def decoded(path: Path) -> tuple[list[float], tuple[int, int], str]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = list(c.decode(s))
        return [float(f.time) for f in frames], (frames[0].width, frames[0].height), s.codec_context.name


def test_segment_decoder_seeks_and_keeps_source_times(tmp_path):
    src = write_clip(tmp_path / "a.mp4", [i / FPS for i in range(80)])
    got = [f.pts_s for f in decode_segment(src, 5.05, 5.55)]
    assert got == pytest.approx([5.1, 5.2, 5.3, 5.4, 5.5])
    assert [f.pts_s for f in decode_segment(src, 0.0, 0.25)] == pytest.approx([0.0, 0.1, 0.2])
    assert len(list(decode_segment(src, 2.0, 4.0, max_fps=5))) == 11  # 2.0, 2.2, ... 4.0


def test_segments_of_small_frames_decode_on_one_thread_on_two_cores(tmp_path, monkeypatch):
    # as the analysis pass (pipeline.ingest.decoder_threads): clips and sheets open a decoder
    # per file, and on 2 cores libav's frame threads cost more than they gave (exports bench)
    import os

    from pipeline.outputs.segment import SegmentReader

    src = write_clip(tmp_path / "a.mp4", [i / FPS for i in range(30)])
    with av.open(str(src)) as c:  # libav's own choice on this machine
        c.streams.video[0].thread_type = "AUTO"
        next(c.decode(video=0))
        libav = c.streams.video[0].codec_context.thread_count
    for cores, threads in ((2, 1), (1, 1), (8, libav)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, n=cores: set(range(n)), raising=False)
        with SegmentReader(src) as reader:
            got = [f.pts_s for f in reader.segment(1.0, 1.5)]
            assert reader._stream.codec_context.thread_count == threads
        assert got == pytest.approx([1.0, 1.1, 1.2, 1.3, 1.4, 1.5])


def test_event_clip_has_the_configured_roll_and_is_legible(tmp_path):
    out, entry = make_scan_dir(tmp_path)
    cfg = load_config(None, ["output.clip_pre_roll_s=1.0", "output.clip_post_roll_s=0.5"]).output
    summary = run_render_pass(out, cfg, [entry])
    assert summary["problems"] == [] and summary["clips"] == 1
    ev = json.loads((out / "events.json").read_text())["events"][0]
    assert (ev["clip_start_s"], ev["clip_end_s"]) == (1.0, 3.5)
    times, size, codec = decoded(out / ev["clip"])
    assert codec == "h264" and len(times) == 26
    assert size[1] == 480  # 120-px footage scaled up so labels are readable
    thumb = cv2.imread(str(out / ev["thumbnail"]))
    assert thumb.shape[0] == 480 and ev["clip_enhanced"] is True
    # brightened: the dark footage is lifted, the person block still stands out from the ground
    assert thumb[150:400].mean() > 20
    # the sheet exists and the manifest entry now lists it
    assert entry["outputs"]["contact_sheet"].endswith("contact_sheet.jpg")
    assert cv2.imread(str(out / entry["outputs"]["contact_sheet"])) is not None


def test_long_event_is_capped_and_short_roll_at_file_start(tmp_path):
    out, entry = make_scan_dir(tmp_path)
    doc = json.loads((out / "events.json").read_text())
    doc["events"][0].update(start_s=0.5, end_s=5.5)
    (out / "events.json").write_text(json.dumps(doc))
    cfg = load_config(None, ["output.clip_max_s=2.0", "output.contact_sheet=false"]).output
    run_render_pass(out, cfg, [entry])
    ev = json.loads((out / "events.json").read_text())["events"][0]
    assert ev["clip_start_s"] == 0.0 and ev["clip_end_s"] == 2.0
    assert "contact_sheet" not in entry["outputs"]


def test_matches_get_clips_and_keep_their_face_thumbnail(tmp_path):
    out, entry = make_scan_dir(tmp_path)
    m = {"subject": "child A", "source": entry["path"], "source_sha256": "0" * 64, "track": 1,
         "start_s": 4.0, "end_s": 4.5, "distance": 0.041, "threshold": 0.07, "rank": 1,
         "quality": 0.6, "thumbnail": "faces/m1.jpg", "reference_thumbnail": "faces/ref.jpg"}
    (out / "matches.json").write_text(json.dumps({"matches": [m]}))
    summary = run_render_pass(out, load_config().output, [entry])
    assert summary["clips"] == 2
    got = json.loads((out / "matches.json").read_text())["matches"][0]
    assert got["thumbnail"] == "faces/m1.jpg"
    assert got["clip"] == "clips/match-1.mp4" and (out / got["clip_thumbnail"]).is_file()


def test_vanished_original_is_one_problem_line_not_a_crash(tmp_path):
    out, entry = make_scan_dir(tmp_path)
    Path(entry["path"]).unlink()
    summary = run_render_pass(out, load_config().output, [entry])
    assert summary["clips"] == 0 and len(summary["problems"]) == 2
    assert "night cam.mp4: file not found" in summary["problems"][0]
    assert json.loads((out / "events.json").read_text())["events"][0]["clip"] is None
    assert not (out / "clips").exists() or not list((out / "clips").iterdir())


def test_contact_sheet_tiles_take_nearby_keyframes_and_stay_in_their_slots(tmp_path):
    from pipeline.outputs import contact_sheet as cs

    src = write_clip(tmp_path / "a.mp4", [i / FPS for i in range(80)])  # a keyframe a second
    # 4 tiles: slots of 1.975 s; the keyframe before each centre lies within half a slot
    assert [f.pts_s for f in cs._tile_frames(str(src), 0.0, 7.9, 4)] == pytest.approx([0, 2, 4, 6])
    # 8 tiles: the keyframe is too early, decoded forward to the slot's first frame
    times = cs.sheet_times(0.0, 7.9, 8)
    got = [f.pts_s for f in cs._tile_frames(str(src), 0.0, 7.9, 8)]
    slack = 7.9 / 8 / 2
    assert len(got) == 8 and got == sorted(set(got))
    assert all(t - slack - 1e-6 <= g <= t + slack for g, t in zip(got, times)), (got, times)
    assert cs.write_contact_sheet(str(src), {}, 0.0, 7.9, 8, tmp_path / "s.jpg") == 8
    sheet = cv2.imread(str(tmp_path / "s.jpg"))
    assert sheet.shape[1] == 4 * (cs.TILE_W + 4) and sheet.shape[0] > 2 * 240


def _seek_per_tile(src: Path, first_s: float, last_s: float, n: int) -> list:
    """The sheet's tiles the way they were taken before SegmentReader: a fresh open and seek
    for every tile."""
    from pipeline.outputs import contact_sheet as cs

    last, out = None, []
    for t, (lo, hi) in zip(cs.sheet_times(first_s, last_s, n), cs.sheet_windows(first_s, last_s, n)):
        lo = lo if last is None else max(lo, last + 1e-6)
        f = next((f for f in decode_segment(src, lo, hi, seek_s=t) if last is None or f.pts_s > last), None)
        if f is not None:
            last = f.pts_s
            out.append(f)
    return out


@pytest.mark.parametrize("bframes", [0, 3])
def test_contact_sheet_decodes_a_one_keyframe_file_once_with_the_same_tiles(tmp_path, bframes):
    """A short export with one keyframe: the tiles are decoded on from one to the next (each
    frame at most once; with B-frames those before a tile's slot not at all), and are the
    frames, pixel for pixel, that a seek per tile gives."""
    from pipeline.outputs import contact_sheet as cs
    from pipeline.outputs.segment import SegmentReader

    src = write_clip(tmp_path / "export.mp4", [i / FPS for i in range(80)], gop=300, bframes=bframes)
    with SegmentReader(src) as reader:
        assert reader._keyframe_dts(7.0) == reader._keyframe_dts(0.0) is not None  # one keyframe
    got = list(cs._tile_frames(str(src), 0.0, 7.9, 8))
    want = _seek_per_tile(src, 0.0, 7.9, 8)
    assert [f.pts_s for f in got] == [f.pts_s for f in want] and len(got) == 8
    assert all(np.array_equal(a.image, b.image) for a, b in zip(got, want))

    with SegmentReader(src) as reader:
        last = None
        for t, (lo, hi) in zip(cs.sheet_times(0.0, 7.9, 8), cs.sheet_windows(0.0, 7.9, 8)):
            lo = lo if last is None else max(lo, last + 1e-6)
            tile = reader.segment(lo, hi, seek_s=t)
            last = next(tile).pts_s
            tile.close()
        # a seek per tile decodes from the keyframe each time (~290 frames); read on, each
        # frame up to the last tile's (7.0 s) once, and what the decoder had in hand
        assert reader.frames_decoded <= 75
        if bframes:
            assert reader.frames_decoded < 50  # B-frames between the slots were not decoded


def test_contact_sheet_of_a_file_shorter_than_its_tiles_repeats_no_frame(tmp_path):
    from pipeline.outputs import contact_sheet as cs

    src = write_clip(tmp_path / "five.mp4", [i / FPS for i in range(5)])
    got = [f.pts_s for f in cs._tile_frames(str(src), 0.0, 0.4, 12)]
    assert got == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert cs.write_contact_sheet(str(src), {}, 0.0, 0.4, 12, tmp_path / "s.jpg") == 5


def test_clip_segments_skip_only_frames_before_their_start(tmp_path):
    """decode_segment with B-frames: frames before the segment are not decoded where they are
    non-reference pictures, and every frame of the segment is, as decoded in full."""
    from pipeline.outputs.segment import SegmentReader

    src = write_clip(tmp_path / "b.mp4", [i / FPS for i in range(60)], gop=60, bframes=3)
    with av.open(str(src)) as c:
        full = {round(float(f.time), 3): f.to_ndarray(format="bgr24") for f in c.decode(c.streams.video[0])}
    with SegmentReader(src) as reader:
        seg = list(reader.segment(4.0, 5.0))
        assert reader.frames_decoded < 50  # from the keyframe at 0: 51 frames in full
        # a reader left skipping (closed between an early packet and its segment's frames)
        # must not drop the next segment's own B-frames
        reader._stream.codec_context.skip_frame = "NONREF"
        again = list(reader.segment(0.0, 1.0))  # from the keyframe: no packet is early
    assert [f.pts_s for f in seg] == pytest.approx([i / FPS for i in range(40, 51)])
    assert all(np.array_equal(f.image, full[round(f.pts_s, 3)]) for f in seg)
    assert [f.pts_s for f in again] == pytest.approx([i / FPS for i in range(0, 11)])


def test_a_closed_segment_reader_is_freed_without_the_garbage_collector(tmp_path):
    """The decoding generator refers back to its reader; a reader left in that cycle kept the
    decoder's buffers (~8 MiB a file) until a collection ran: a batch's sheets grew by 70 MiB."""
    import gc
    import weakref

    from pipeline.outputs.segment import SegmentReader

    src = write_clip(tmp_path / "a.mp4", [i / FPS for i in range(40)], gop=100)
    gc.disable()
    try:
        with SegmentReader(src) as reader:
            for lo in (0.5, 1.5, 2.5):
                tile = reader.segment(lo, lo + 0.5)
                next(tile)
                tile.close()
            gone = weakref.ref(reader)
        del reader
        assert gone() is None
    finally:
        gc.enable()


def test_segments_of_a_long_gop_mpeg_ts_start_where_they_should(tmp_path):
    """MPEG-TS has no index: libav's seek lands on the keyframe after the target there, so a
    clip between two keyframes 4 s apart came out empty, and the sheet lost its tiles. The
    reader seeks again from further back until decoding starts before the segment."""
    from pipeline.outputs import contact_sheet as cs
    from tests.media import remux

    mp4 = write_clip(tmp_path / "a.mp4", [i / FPS for i in range(80)], gop=40)
    ts = remux(mp4, tmp_path / "a.ts")
    for start, end in ((2.5, 3.0), (0.0, 0.5), (5.0, 7.9)):
        want = [f.pts_s for f in decode_segment(mp4, start, end)]
        assert [f.pts_s for f in decode_segment(ts, start, end)] == pytest.approx(want), (start, end)
    # the sheet has its 8 tiles, each in its slot (without an index it is decoded on from
    # tile to tile: the first frame of each slot, where the MP4 may take a keyframe in it)
    got = [f.pts_s for f in cs._tile_frames(str(ts), 0.0, 7.9, 8)]
    slack = 7.9 / 8 / 2
    assert len(got) == 8 and got == sorted(set(got))
    assert all(t - slack - 1e-6 <= g <= t + slack for g, t in zip(got, cs.sheet_times(0.0, 7.9, 8)))


def _long_gop_ts(tmp_path, monkeypatch):
    """A 4-min MP4 at 2 fps with a keyframe every 8 s, its MPEG-TS copy, and the list every
    SegmentReader seek is appended to (the per-file keyframe spacings start empty)."""
    from pipeline.outputs import segment
    from tests.media import remux

    mp4 = write_clip(tmp_path / "a.mp4", [i / 2 for i in range(480)], gop=16)
    ts = remux(mp4, tmp_path / "a.ts")
    monkeypatch.setattr(segment, "_GOP_HINTS", {})
    seeks: list[float | None] = []
    real_seek = segment.SegmentReader._seek

    def counted(self, at):
        seeks.append(at)
        return real_seek(self, at)

    monkeypatch.setattr(segment.SegmentReader, "_seek", counted)
    return mp4, ts, seeks


def test_a_long_gop_mpeg_ts_sheet_seeks_once_a_tile_after_the_first(tmp_path, monkeypatch):
    """Without an index, a sheet's tiles each tried 1, 2, 4... s further back until the seek
    landed before the tile (72 seeks, 6 s for 12 tiles of a 10-min TS with keyframes 25 s
    apart). The first tile shows how far apart keyframes are; later tiles start that far back
    and land on the keyframe at or before their time with one seek, the same one."""
    from pipeline.outputs import contact_sheet as cs

    _, ts, seeks = _long_gop_ts(tmp_path, monkeypatch)
    with av.open(str(ts)) as c:
        s = c.streams.video[0]
        keys = sorted(float(p.pts * s.time_base) for p in c.demux(s)
                      if p.is_keyframe and p.pts is not None)
    keys = [k - keys[0] for k in keys]
    # the tiles' times fall 2-6 s after a keyframe
    times = cs.sheet_times(0.0, 239.5, 12)
    got, after_first = [], None
    for f in cs._tile_frames(str(ts), 0.0, 239.5, 12):
        got.append(f.pts_s)
        if after_first is None:
            after_first = len(seeks)
    assert got == pytest.approx([max(k for k in keys if k <= t + 1e-6) for t in times])
    assert after_first >= 2  # the first tile still searches (its first seek lands too late)
    assert len(seeks) - after_first == 11  # then one seek a tile (3 or 4 each before)


def test_a_later_clip_of_a_long_gop_ts_starts_from_the_spacing_learnt_before(tmp_path, monkeypatch):
    """Each clip opens its own reader; what one reader learnt of a TS file's keyframe spacing
    is handed to the next reader of the same file, so a later clip does not search again.
    Its frames are the MP4's either way."""
    mp4, ts, seeks = _long_gop_ts(tmp_path, monkeypatch)
    per_clip = []
    for start, end in ((101.0, 104.0), (181.0, 184.0)):
        n = len(seeks)
        got = [f.pts_s for f in decode_segment(ts, start, end)]
        per_clip.append(len(seeks) - n)
        assert got == pytest.approx([f.pts_s for f in decode_segment(mp4, start, end)])
    assert per_clip[0] >= 2 and per_clip[1] == 1, per_clip
