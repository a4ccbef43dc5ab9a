from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.errors import InputError
from pipeline.ingest import VideoSource, probe
from tests.media import pattern, set_rotation, write_clip


def test_constant_rate_clip_pts_and_probe(tmp_path):
    pts = [i / 25 for i in range(50)]
    f = write_clip(tmp_path / "c.mp4", pts)
    info = probe(f)
    assert (info.width, info.height, info.video_codec) == (160, 120, "h264")
    assert info.rotation_deg == 0 and not info.vfr_suspected
    src = VideoSource(f)
    frames = list(src)
    assert [round(fr.pts_s, 3) for fr in frames] == [round(t, 3) for t in pts]
    assert [fr.index for fr in frames] == list(range(50))
    assert src.report.ended == "eof" and src.report.error is None
    assert src.report.decode_faults == 0 and not src.report.vfr_measured


def test_variable_frame_rate_pts_come_from_the_container(tmp_path):
    # Bursts at 30 fps, then 2 fps stretches: index/fps would be wrong by seconds.
    pts, t = [], 0.0
    for i in range(60):
        pts.append(round(t, 3))
        t += 1 / 30 if (i // 10) % 2 == 0 else 0.5
    f = write_clip(tmp_path / "vfr.mp4", pts)
    src = VideoSource(f)
    got = [fr.pts_s for fr in src]
    assert np.allclose(got, pts, atol=1e-3)
    assert src.report.vfr_measured
    assert got[-1] == pytest.approx(pts[-1], abs=1e-3)
    assert got[-1] > 10  # 60 frames; a 30 fps assumption would say < 2 s


def test_analysis_rate_samples_by_time_on_vfr(tmp_path):
    pts, t = [], 0.0
    for i in range(90):
        pts.append(round(t, 3))
        t += 1 / 30 if i < 60 else 0.25
    f = write_clip(tmp_path / "vfr.mp4", pts)
    src = VideoSource(f, analysis_fps=5)
    got = [fr.pts_s for fr in src]
    gaps = np.diff(got)
    assert gaps.min() >= 0.1 - 1e-6  # never faster than 5 fps (allowing half-period catch-up)
    assert gaps.max() <= 0.25 + 1e-3  # never skips a frame the 0.25 s stretch offered
    assert src.report.frames_decoded == 90 and src.report.frames_analysed == len(got)
    assert 39 <= len(got) <= 41  # ~10 from the 2 s at 30 fps, then all 30 at 4 fps


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotation_is_applied(tmp_path, degrees):
    base = write_clip(tmp_path / "r0.mp4", [i / 10 for i in range(5)], size=(160, 96))
    f = set_rotation(base, tmp_path / f"r{degrees}.mp4", degrees)
    info = probe(f)
    assert info.rotation_deg == degrees
    assert (info.width, info.height) == ((96, 160) if degrees in (90, 270) else (160, 96))
    img = next(iter(VideoSource(f))).image
    assert img.shape[:2] == (info.height, info.width)
    # The white block sits top-left in the coded picture; a counter-clockwise display rotation
    # moves it to bottom-left (90), bottom-right (180) or top-right (270).
    h, w = img.shape[:2]
    corners = {
        "tl": img[: h // 8, : w // 8], "bl": img[-h // 8 :, : w // 8],
        "br": img[-h // 8 :, -w // 8 :], "tr": img[: h // 8, -w // 8 :],
    }
    expect = {90: "bl", 180: "br", 270: "tr"}[degrees]
    assert corners[expect].mean() > 200
    assert corners["tl"].mean() < 100


@pytest.mark.parametrize("gop, seconds, keyframe_shown", [(10, 2.0, True), (100, 0.4, False)])
def test_rotation_of_a_stream_copy_cut_mid_gop(tmp_path, gop, seconds, keyframe_shown):
    # An export cut mid-GOP starts at the keyframe before the cut and drops the frames before
    # it (an edit list). The probe reads the rotation from a keyframe that is shown (gop 10:
    # the next one, at 2 s), or where none is (the one keyframe lies before the cut) from the
    # first frame shown.
    import subprocess

    import av
    import imageio_ffmpeg

    base = write_clip(tmp_path / "r0.mp4", [i / 10 for i in range(40)], size=(160, 96), gop=gop)
    rotated = set_rotation(base, tmp_path / "r90.mp4", 90)
    cut = tmp_path / "cut.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-ss", "1.45", "-i",
                    str(rotated), "-t", str(seconds), "-c", "copy", str(cut)], check=True)
    with av.open(str(cut)) as c:  # the case the file is meant to be
        c.streams.video[0].codec_context.skip_frame = "NONKEY"
        assert (next(c.decode(video=0), None) is not None) == keyframe_shown
    info = probe(cut)
    assert (info.rotation_deg, info.width, info.height) == (90, 96, 160)
    frames = list(VideoSource(cut))
    assert frames[0].image.shape[:2] == (160, 96)
    assert abs(len(frames) - seconds * 10) <= 2


def test_rotation_matches_opencv_on_real_phone_footage(shared_data):
    for name in ("decord__video_90.mov", "decord__video_180.mov", "decord__video_270.mov"):
        f = shared_data / "odd_media" / name
        ours = next(iter(VideoSource(f))).image
        cap = cv2.VideoCapture(str(f))
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # OpenCV applies the display matrix too
        ok, ref = cap.read()
        assert ok and ours.shape == ref.shape, name
        assert np.abs(ours.astype(int) - ref.astype(int)).mean() < 8, name


def test_truncated_file_yields_what_decodes_then_one_clear_error(tmp_path):
    f = write_clip(tmp_path / "full.mp4", [i / 25 for i in range(100)])
    data = f.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    src = VideoSource(cut)
    frames = list(src)
    assert 20 < len(frames) < 100
    assert src.report.ended == "truncated"
    assert "container announces 3.96 s" in src.report.error or "announces" in src.report.error
    assert "\n" not in src.report.error


def test_truncated_without_index_fails_to_open(tmp_path):
    f = write_clip(tmp_path / "full.mp4", [i / 25 for i in range(50)], faststart=False)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(InputError, match="not a readable video container"):
        VideoSource(cut)


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty file"), (b"hello, this is text\n" * 50, "not a readable video container")],
)
def test_bad_files_raise_input_error(tmp_path, content, reason):
    f = tmp_path / "bad.mp4"
    f.write_bytes(content)
    with pytest.raises(InputError, match=reason) as exc:
        probe(f)
    assert str(f) in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        probe(tmp_path / "nope.mp4")


def test_decoding_leaves_the_original_untouched(tmp_path):
    f = write_clip(tmp_path / "c.mp4", [i / 25 for i in range(20)])
    before = (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_mtime_ns)
    f.chmod(0o444)
    list(VideoSource(f))
    assert (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]


def test_corrupt_stream_counts_faults(shared_data):
    src = VideoSource(shared_data / "odd_media" / "decord__corrupted.mp4")
    n = sum(1 for _ in src)
    assert src.report.decode_faults >= 1
    assert any("NAL" in m for m in src.report.fault_messages)
    assert n >= 28  # OpenCV decodes 28 of 50


def test_damaged_hevc_reports_the_same_faults_every_time_on_one_thread(shared_data):
    # Frame-threaded libav logs 45 or 47 error lines on this file from run to run (45 in one
    # CLI scan of 3 with 3 threads); decoded on one thread (the default for small frames on 2
    # cores: pipeline.ingest.decoder_threads) the report must be the same each time (47 in 9
    # CLI scans of 9).
    f = shared_data / "odd_media" / "file-scraper__video_mp4_invalid__h265_aac_invalid_data.mp4"
    reports = []
    for _ in range(4):
        src = VideoSource(f, decode_threads=1)
        n = sum(1 for _ in src.frames())
        reports.append((n, src.report.decode_faults, src.report.fault_messages, src.report.ended))
    assert reports[0][1] > 0
    assert all(r == reports[0] for r in reports), reports


def test_a_broken_file_opened_before_leaves_no_fault_on_the_next_one(shared_data):
    """libav's lines go to the file being decoded, none held back for a later one: PyAV holds
    back a line equal to the one before and tallies it when another comes. A file without
    its moov atom, opened twice, then put "moov atom not found" among the faults of the next
    file decoded (a damaged H.264 clip that has nothing of the kind)."""
    odd = shared_data / "odd_media"
    damaged = odd / "decord__corrupted.mp4"
    alone = VideoSource(damaged)
    n_alone = sum(1 for _ in alone)
    for _ in range(2):
        with pytest.raises(InputError, match="not a readable video container"):
            VideoSource(odd / "file-scraper__video_mp4_invalid__h264_aac_missing_data.mp4")
    after = VideoSource(damaged)
    n_after = sum(1 for _ in after)
    assert not [m for m in after.report.fault_messages if "moov" in m]
    assert n_after == n_alone
    assert after.report.fault_messages == alone.report.fault_messages
    assert after.report.decode_faults == alone.report.decode_faults


def test_counted_libav_lines_are_let_go(shared_data, monkeypatch):
    """The decode faults are counted from libav's log lines as they come, and the lines counted
    are not kept: hours of a damaged stream log a line a frame."""
    import pipeline.ingest as ingest

    captures: list[list] = []
    real = ingest._libav_log_capture

    @contextmanager
    def spy():
        with real() as logs:
            captures.append(logs)
            yield logs

    monkeypatch.setattr(ingest, "_libav_log_capture", spy)
    src = VideoSource(shared_data / "odd_media" / "decord__corrupted.mp4")
    sum(1 for _ in src.frames(lazy=True))
    assert src.report.decode_faults >= 5
    assert captures[-1] == []  # the decoding's capture: every line counted, none kept


def test_out_of_order_container_timestamps_are_repaired(shared_data):
    # AVI with packed B-frames: container pts come in decode order.
    src = VideoSource(shared_data / "odd_media" / "mmaction2__test.avi")
    pts = [f.pts_s for f in src]
    assert len(pts) == 164 and np.all(np.diff(pts) > 0)
    assert src.report.pts_reordered > 0 and src.report.frames_dropped_non_increasing_pts == 0


@pytest.mark.parametrize("degrees", [0, 90, 270])
def test_lazy_frames_equal_eager_ones_and_grey_is_the_luma(tmp_path, degrees):
    """The analysis pass's lazy frames: same index, time, size and picture as the eager ones
    (converted only when read); ``gray()`` is the luma plane, rotated like the picture."""
    base = write_clip(tmp_path / "r0.mp4", [i / 10 for i in range(6)], size=(160, 96))
    f = set_rotation(base, tmp_path / f"r{degrees}.mp4", degrees) if degrees else base
    eager = list(VideoSource(f))
    src = VideoSource(f)
    lazy = list(src.frames(lazy=True))
    assert src.report.frames_analysed == len(eager) == len(lazy) == 6
    for e, lz in zip(eager, lazy):
        assert (lz.index, lz.pts_s, lz.width, lz.height) == (e.index, e.pts_s, e.width, e.height)
        # what the reader's byte budget counts: the yuv420p planes (with their padding) ...
        assert 160 * 96 * 1.5 <= lz.nbytes < 2 * 160 * 96 * 1.5
        grey = lz.gray()  # before the picture: from the luma plane
        assert grey.shape == e.image.shape[:2]
        # video-range luma (16-235) against the full-range grey of the BGR picture
        ref = 16 + cv2.cvtColor(e.image, cv2.COLOR_BGR2GRAY) * (219 / 255)
        assert np.abs(grey - ref).mean() < 3
        planes = lz.nbytes
        assert np.array_equal(lz.image, e.image) and np.array_equal(lz.frame().image, e.image)
        assert lz.nbytes == planes + e.image.nbytes  # ... and the BGR picture once made


def _decoded(f: Path, skip: bool, fps: float = 10.0) -> tuple[list, dict]:
    src = VideoSource(f, analysis_fps=fps, skip_unneeded=skip)
    got = [(fr.index, fr.pts_s, hashlib.sha256(fr.image.tobytes()).hexdigest())
           for fr in src.frames(lazy=True)]
    return got, src.report.to_dict()


@pytest.mark.parametrize("container", ["mp4", "mkv", "ts"])
def test_skipping_unneeded_frames_hands_on_the_same_frames(tmp_path, container):
    # x264's default structure (3 B-frames, B-pyramid) at 25 fps analysed at 10 fps: most
    # B-frames are dropped by the analysis rate and need not be decoded.
    import imageio_ffmpeg
    import subprocess

    f = write_clip(tmp_path / "b.mp4", [i / 25 for i in range(150)], bframes=3, gop=50)
    if container != "mp4":
        g = tmp_path / f"b.{container}"
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(f),
                        "-c", "copy", str(g)], check=True)
        f = g
    full, rep_full = _decoded(f, skip=False)
    skipped, rep = _decoded(f, skip=True)
    assert skipped == full  # same frames, indices, times and pictures
    assert len(full) == 60 and rep_full["frames_decoded"] == 150
    assert rep["frames_not_decoded"] > 20  # fails if nothing is skipped
    assert rep["frames_decoded"] + rep["frames_not_decoded"] == 150
    # the report still describes the file, not the decoded subset: constant rate, same end
    for key in ("frames_analysed", "vfr_measured", "median_frame_interval_s", "min_frame_interval_s",
                "max_frame_interval_s", "first_pts_s", "last_pts_s", "ended", "decode_faults"):
        assert rep[key] == rep_full[key], key
    assert not rep["vfr_measured"]


def test_nothing_skipped_without_b_frames_or_at_the_files_own_rate(tmp_path):
    ip_only = write_clip(tmp_path / "p.mp4", [i / 25 for i in range(50)])
    got, rep = _decoded(ip_only, skip=True)
    assert rep["frames_not_decoded"] == 0 and rep["frames_decoded"] == 50 and len(got) == 20
    native = write_clip(tmp_path / "n.mp4", [i / 10 for i in range(40)], bframes=3)
    full, _ = _decoded(native, skip=False)
    got, rep = _decoded(native, skip=True)
    assert got == full and len(got) == 40 and rep["frames_not_decoded"] == 0


def test_skipping_keeps_the_tail_of_a_truncated_file(tmp_path):
    f = write_clip(tmp_path / "b.mp4", [i / 25 for i in range(150)], bframes=3, gop=50)
    cut = tmp_path / "cut.mp4"
    data = f.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.7)])
    full, rep_full = _decoded(cut, skip=False)
    skipped, rep = _decoded(cut, skip=True)
    assert skipped == full
    assert rep["ended"] == rep_full["ended"] == "truncated"
    assert rep["last_pts_s"] == rep_full["last_pts_s"]


def _due(times: list[float], period: float) -> list[bool]:
    """pipeline.detect_schedule's rule: due once ``period`` has passed since the last due."""
    last, out = None, []
    for t in times:
        out.append(last is None or t - last >= period - 1e-3)
        last = t if out[-1] else last
    return out


@pytest.mark.parametrize("fps,analysis", [(10, 10.0), (25, 10.0)])
def test_frames_between_detections_come_without_pictures_in_their_place(tmp_path, fps, analysis):
    # x264's B-pyramid; the detector every 0.3 s: of the analysed frames only the due ones need
    # a picture, and the non-reference ones between them are not decoded at all
    f = write_clip(tmp_path / "b.mp4", [i / fps for i in range(6 * fps)], bframes=3, gop=50)
    full = list(VideoSource(f, analysis_fps=analysis, skip_unneeded=True).frames(lazy=True))
    src = VideoSource(f, analysis_fps=analysis, skip_unneeded=True, picture_period_s=0.3)
    got = list(src.frames(lazy=True))
    assert [(g.index, g.pts_s) for g in got] == [(x.index, x.pts_s) for x in full]
    blind = [not g.has_picture for g in got]
    # (the last _PLAN_WINDOW frames are always decoded: a fifth of this short clip is blind)
    assert sum(blind) >= len(got) / 6  # fails if every frame is still decoded
    due = _due([g.pts_s for g in got], 0.3)
    assert not any(b and d for b, d in zip(blind, due))  # a due frame always has its picture
    assert got[0].has_picture and got[-1].has_picture
    for g, x in zip(got, full):
        if g.has_picture:
            assert np.array_equal(g.image, x.image)
        else:
            assert (g.width, g.height) == (x.width, x.height) and g.nbytes == 0
            with pytest.raises(RuntimeError, match="not decoded"):
                g.image  # noqa: B018 - reading it is the bug this guards against
    rep = src.report.to_dict()
    assert rep["frames_analysed"] == len(full)
    assert rep["frames_decoded"] + rep["frames_not_decoded"] == 6 * fps


def test_frames_all_have_pictures_where_they_must(tmp_path):
    f = write_clip(tmp_path / "b.mp4", [i / 10 for i in range(40)], bframes=3, gop=50)
    # eager frames (the render and face passes), and a camera stream without B-frames
    eager = list(VideoSource(f, analysis_fps=10, skip_unneeded=True, picture_period_s=0.3))
    assert len(eager) == 40 and all(isinstance(x.image, np.ndarray) for x in eager)
    p = write_clip(tmp_path / "p.mp4", [i / 10 for i in range(40)])
    src = VideoSource(p, analysis_fps=10, skip_unneeded=True, picture_period_s=0.3)
    got = list(src.frames(lazy=True))
    assert len(got) == 40 and all(x.has_picture for x in got)
    # ... and without skipping
    src = VideoSource(f, analysis_fps=10, skip_unneeded=False, picture_period_s=0.3)
    assert all(x.has_picture for x in src.frames(lazy=True))


def test_blind_frames_of_a_truncated_file_end_with_the_last_decoded_one(tmp_path):
    f = write_clip(tmp_path / "b.mp4", [i / 10 for i in range(150)], bframes=3, gop=50)
    cut = tmp_path / "cut.mp4"
    data = f.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    full = list(VideoSource(cut, analysis_fps=10, skip_unneeded=True).frames(lazy=True))
    src = VideoSource(cut, analysis_fps=10, skip_unneeded=True, picture_period_s=0.3)
    got = list(src.frames(lazy=True))
    assert src.report.ended == "truncated" and got[-1].has_picture
    assert [(g.index, g.pts_s) for g in got] == [(x.index, x.pts_s) for x in full][: len(got)]
    assert len(got) >= len(full) - 3  # at most the blind frames after the break are lost


def test_rate_sampler_keeps_its_grid_and_takes_every_sparse_frame():
    from pipeline.ingest import RateSampler

    s = RateSampler(10.0)  # 25 fps in: 0.00, 0.04, 0.08, ...
    took = [round(i / 25, 2) for i in range(25) if s.take(i / 25)]
    assert took == [0.0, 0.12, 0.2, 0.32, 0.4, 0.52, 0.6, 0.72, 0.8, 0.92]  # 10 a second
    s = RateSampler(10.0)
    assert all(s.take(t) for t in (0.0, 0.5, 1.25, 3.0))  # sparser than the rate: all of them
    assert not s.take(3.04) and s.take(3.1)  # grid restarted half a period after 3.0
    assert all(RateSampler(0.0).take(t) for t in (0.0, 0.001, 0.002))


def _pictures(f: Path, **kw) -> list[np.ndarray]:
    return [fr.image.copy() for fr in VideoSource(f, **kw).frames(lazy=True)]


def test_skip_deblocking_gives_h264_pictures_close_to_the_full_decode(tmp_path):
    # Noise at x264's default quality: the deblocking filter works on every frame.
    rng = np.random.default_rng(0)
    imgs = [np.clip(rng.normal(128, 50, (120, 160, 3)), 0, 255).astype(np.uint8) for _ in range(12)]
    f = write_clip(tmp_path / "n.mp4", [i / 10 for i in range(12)], frames=imgs)
    full, fast = _pictures(f), _pictures(f, skip_deblocking=True)
    assert len(full) == len(fast) == 12
    diff = [float(np.abs(a.astype(np.int16) - b).mean()) for a, b in zip(full, fast)]
    assert all(d > 0 for d in diff)  # fails if the option never reaches the decoder
    assert max(diff) < 2.0  # the same pictures, slightly blockier


def test_skip_deblocking_leaves_other_codecs_as_they_are(tmp_path):
    import av

    f = tmp_path / "m.avi"
    with av.open(str(f), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        for i in range(8):
            for pkt in s.encode(av.VideoFrame.from_ndarray(pattern(i), format="bgr24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    full, fast = _pictures(f), _pictures(f, skip_deblocking=True)
    assert len(full) == 8 and all(np.array_equal(a, b) for a, b in zip(full, fast))


def test_only_the_analysis_pass_skips_deblocking(tmp_path):
    # The annotated video is what a reviewer sees: a full decode (clips decode their own segments).
    from pipeline.config import load_config
    from pipeline.runner import _open_source

    f = write_clip(tmp_path / "p.mp4", [i / 10 for i in range(5)])
    cfg = load_config(None, ["ingest.skip_deblocking=true"])
    assert _open_source(f, cfg, analysis=True).skip_deblocking
    assert not _open_source(f, cfg).skip_deblocking
    assert not _open_source(f, load_config(None, []), analysis=True).skip_deblocking


def test_small_frames_decode_on_one_thread_on_two_cores(tmp_path, monkeypatch):
    # ingest.decode_threads 0 (auto): libav's frame threads only get in the detector's way on
    # 2 cores for small frames (pipeline.ingest.decoder_threads); a number is kept as given.
    import os

    from pipeline.config import load_config
    from pipeline.runner import _open_source

    f = write_clip(tmp_path / "p.mp4", [i / 10 for i in range(3)])  # 160x120
    auto = load_config(None, [])
    for cores, threads in ((1, 1), (2, 1), (3, 0), (16, 0)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, n=cores: set(range(n)), raising=False)
        assert _open_source(f, auto, analysis=True).decode_threads == threads
        assert _open_source(f, auto).decode_threads == threads
        assert _open_source(f, load_config(None, ["ingest.decode_threads=3"])).decode_threads == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    src = _open_source(f, auto, analysis=True)
    assert len(list(src.frames())) == 3 and src.report.ended == "eof"


def test_an_input_error_survives_pickling():
    """Worker processes (pebble, Ray) hand exceptions to the driver pickled: an InputError must
    come back whole (it used to fail to unpickle: its constructor takes path and reason, its
    args held the message)."""
    import pickle

    e = pickle.loads(pickle.dumps(InputError("cam/a.mp4", "empty file (0 bytes)")))
    assert isinstance(e, InputError)
    assert (e.path, e.reason, str(e)) == ("cam/a.mp4", "empty file (0 bytes)",
                                          "cam/a.mp4: empty file (0 bytes)")
