"""End-to-end: the ``reunite scan`` command on real files, as a user runs it."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import av
import pytest
from click.testing import CliRunner

from cli import main
from tests.media import write_clip


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def scan(*args: str):
    # every source's annotated video (the default renders it only for flagged sources)
    return CliRunner().invoke(main, ["scan", "--quiet", "--set", "output.annotated_video=always",
                                     *args], catch_exceptions=False)


def test_scan_one_clip_writes_outputs_and_manifest(tmp_path, models_env):
    inp = tmp_path / "in"
    inp.mkdir()
    clip = write_clip(inp / "cam1.mp4", [i / 10 for i in range(30)])
    before = (sha(clip), clip.stat().st_mtime_ns)
    out = tmp_path / "out"
    r = scan(str(clip), "--out", str(out))
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    m = json.loads((out / "manifest.json").read_text())
    assert m["complete"] is True and m["summary"]["ok"] == 1
    src = m["inputs"][0]
    assert src["sha256_before"] == src["sha256_after"] == before[0]
    assert src["mtime_ns_before"] == src["mtime_ns_after"] == before[1]
    assert src["probe"]["video_codec"] == "h264" and src["decode"]["frames_analysed"] == 30
    assert m["models"]["person_detector"]["sha256"]
    assert m["config"]["hash"] and m["config"]["resolved"]["detector"]["model"] == "yolox_nano"
    assert m["software"]["packages"]["av"]
    for rel, digest in m["outputs"].items():
        assert sha(out / rel) == digest, rel
    assert set(src["outputs"]) == {"tracks_jsonl", "tracks_mot", "annotated_video", "contact_sheet"}
    with av.open(str(out / src["outputs"]["annotated_video"])) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        assert sum(1 for _ in c.decode(s)) == 30
    # nothing written beside the original, original unchanged
    assert sorted(p.name for p in inp.iterdir()) == ["cam1.mp4"]
    assert (sha(clip), clip.stat().st_mtime_ns) == before
    assert not list(out.rglob(".*part*"))


def test_folder_with_bad_files_exits_1_and_keeps_going(tmp_path, models_env):
    inp = tmp_path / "case"
    (inp / "sub").mkdir(parents=True)
    write_clip(inp / "good.mp4", [i / 10 for i in range(20)])
    full = write_clip(tmp_path / "full.mp4", [i / 25 for i in range(100)])
    (inp / "sub" / "truncated.mp4").write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])
    (inp / "notes.mp4").write_text("this is not a video\n" * 20)
    (inp / "empty.avi").write_bytes(b"")
    (inp / "README.txt").write_text("case notes")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["scan", "--quiet", str(inp), "--out", str(out),
                                  "--set", "output.annotated_video=always"])
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.startswith("reunite: ")]
    assert len([ln for ln in lines if "notes.mp4" in ln]) == 1
    assert any("FAILED" in ln and "empty.avi" in ln and "empty file" in ln for ln in lines)
    assert any("PARTIAL" in ln and "truncated.mp4" in ln and "truncated" in ln for ln in lines)
    assert "Traceback" not in r.output
    m = json.loads((out / "manifest.json").read_text())
    status = {Path(i["path"]).name: i["status"] for i in m["inputs"]}
    assert status == {"good.mp4": "ok", "truncated.mp4": "partial", "notes.mp4": "failed",
                      "empty.avi": "failed"}
    assert m["skipped"] == [{"path": str(inp / "README.txt"), "reason": "not a video extension"}]
    for i in m["inputs"]:
        if i["status"] in ("ok", "partial"):
            assert (out / i["outputs"]["tracks_jsonl"]).is_file()
            assert (out / i["outputs"]["annotated_video"]).is_file()


def test_out_inside_input_folder_is_refused(tmp_path, models_env):
    write_clip(tmp_path / "a.mp4", [0.0, 0.1])
    r = CliRunner().invoke(main, ["scan", str(tmp_path), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "beside the originals" in r.output
    assert not (tmp_path / "out").exists()


def test_missing_model_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("REUNITE_MODELS", str(tmp_path / "nothing"))
    clip = write_clip(tmp_path / "a.mp4", [0.0, 0.1])
    r = CliRunner().invoke(main, ["scan", str(clip), "--out", str(tmp_path / "o"),
                                  "--set", f"models.cache_dir={tmp_path / 'cache'}"])
    assert r.exit_code == 2
    assert "model 'yolox_nano' (yolox_nano.onnx) not found" in r.output
    assert "sha256 c789161e" in r.output and "Traceback" not in r.output


def test_unknown_model_lists_known(tmp_path):
    clip = write_clip(tmp_path / "a.mp4", [0.0, 0.1])
    r = CliRunner().invoke(main, ["scan", str(clip), "--out", str(tmp_path / "o"),
                                  "--set", "detector.model=yolo99"])
    assert r.exit_code == 2 and "known: yolo11n, yolov8n, yolov8s_fall, yolox_nano" in r.output


def test_missing_input_exit_1(tmp_path, models_env):
    r = scan(str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o"))
    assert r.exit_code == 1 and "nope.mp4: file not found" in r.output


def test_probe_command(tmp_path):
    clip = write_clip(tmp_path / "a.mp4", [i / 10 for i in range(5)])
    r = CliRunner().invoke(main, ["probe", str(clip)])
    assert r.exit_code == 0
    assert json.loads(r.output)["video_codec"] == "h264"
    r = CliRunner().invoke(main, ["probe", str(tmp_path / "x.mp4")])
    assert r.exit_code == 1 and "file not found" in r.output


def test_odd_media_folder(tmp_path, models_env, shared_data):
    """Every odd file is processed or named with one reason; the batch finishes."""
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["scan", "--quiet", str(shared_data / "odd_media"), "--out",
                                  str(out)])
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    m = json.loads((out / "manifest.json").read_text())
    by_name = {Path(i["path"]).name: i for i in m["inputs"]}
    n_videos = len([p for p in (shared_data / "odd_media").iterdir() if p.suffix != ".md"])
    assert len(by_name) == n_videos
    assert by_name["file-scraper__video_mp4_invalid__empty.mp4"]["status"] == "failed"
    assert by_name["file-scraper__video_mp4_invalid__h264_aac_missing_data.mp4"]["status"] == "failed"
    assert by_name["file-scraper__video_mp4_invalid__h265_aac_invalid_data.mp4"]["status"] == "partial"
    assert by_name["torchcodec__var_fps_video.mp4"]["decode"]["vfr_measured"] is True
    assert by_name["decord__video_90.mov"]["probe"]["width"] == 320
    lines = [ln for ln in r.output.splitlines() if ln.startswith("reunite: ") and "input(s)" not in ln]
    bad = [n for n, i in by_name.items() if i["status"] != "ok"]
    for n in bad:
        assert sum(n in ln for ln in lines) == 1, n
    for i in m["inputs"]:
        assert i["sha256_before"] is None or i["sha256_before"] == i["sha256_after"]
        if i["status"] != "failed":
            assert (out / i["outputs"]["tracks_jsonl"]).is_file()


def test_default_renders_the_annotated_video_only_for_flagged_sources(tmp_path, models_env):
    """No event in a source, no whole-file annotated video by default (output.annotated_video
    flagged); a re-scan with ``always`` renders it from the stored analysis."""
    clip = write_clip(tmp_path / "quiet.mp4", [i / 10 for i in range(10)])
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["scan", "--quiet", str(clip), "--out", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    src = json.loads((out / "manifest.json").read_text())["inputs"][0]
    assert src["events"] == [] and "annotated_video" not in src["outputs"]
    r = scan(str(clip), "--out", str(out))
    assert r.exit_code == 0, r.output
    src = json.loads((out / "manifest.json").read_text())["inputs"][0]
    assert src["stages"]["analysis"]["reused"] and (out / src["outputs"]["annotated_video"]).is_file()


def test_frames_left_undecoded_between_detections_change_no_output(tmp_path, models_env, shared_data):
    # intel's walkers, an x264 encode with B-frames: with ingest.skip_unneeded_frames the
    # analysed frames between two of the detector's runs (every 0.3 s) are not decoded where
    # they are non-reference pictures; tracks, faces and events must be the same as from a
    # full decode, frame for frame
    import subprocess

    import imageio_ffmpeg

    clip = tmp_path / "in" / "walkers.mp4"
    clip.parent.mkdir()
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i",
                    str(shared_data / "pedestrians" / "intel__one-by-one-person-detection.mp4"),
                    "-t", "12", "-c", "copy", str(clip)], check=True)
    outs = {}
    for skip in ("true", "false"):
        out = outs[skip] = tmp_path / f"out_{skip}"
        r = CliRunner().invoke(main, ["scan", "--quiet", str(clip), "--out", str(out), "--set",
                                      f"ingest.skip_unneeded_frames={skip}"], catch_exceptions=False)
        assert r.exit_code == 0, r.output
    src = {k: json.loads((o / "manifest.json").read_text())["inputs"][0] for k, o in outs.items()}
    # a third of the frames here; fails if nothing was left out
    assert src["true"]["decode"]["frames_not_decoded"] > src["true"]["decode"]["frames_analysed"] / 5
    assert src["false"]["decode"]["frames_not_decoded"] == 0
    assert src["true"]["decode"]["frames_analysed"] == src["false"]["decode"]["frames_analysed"]
    assert src["true"]["schedule"] == src["false"]["schedule"]
    tracks = sorted(p.relative_to(outs["true"]).as_posix() for p in outs["true"].rglob("*")
                    if p.name in ("tracks.jsonl", "faces.json", "tracks_mot.txt"))
    assert any(t.endswith("tracks.jsonl") for t in tracks)
    for rel in [*tracks, "events.json", "identities.json"]:
        assert (outs["true"] / rel).read_bytes() == (outs["false"] / rel).read_bytes(), rel


def test_face_models_are_loaded_only_for_footage_with_people(tmp_path, models_env, shared_data,
                                                             monkeypatch):
    # importing dlib and deepface costs ~0.55 s and ~40 MiB: an empty scene never needs them
    import subprocess

    import imageio_ffmpeg

    import detectors.faces

    real, built = detectors.faces.build_face_models, []
    monkeypatch.setattr(detectors.faces, "build_face_models",
                        lambda *a, **k: built.append(1) or real(*a, **k))
    (tmp_path / "empty").mkdir()
    empty = write_clip(tmp_path / "empty" / "still.mp4", [i / 10 for i in range(30)])
    r = CliRunner().invoke(main, ["scan", "--quiet", str(empty), "--out", str(tmp_path / "o1")],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "o1" / "manifest.json").read_text())
    assert m["inputs"][0]["n_tracks"] == 0 and m["models"]["faces"]  # faces on, nobody seen
    assert built == []
    people = tmp_path / "people" / "walkers.mp4"
    people.parent.mkdir()
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i",
                    str(shared_data / "pedestrians" / "intel__one-by-one-person-detection.mp4"),
                    "-t", "12", "-c", "copy", str(people)], check=True)
    r = CliRunner().invoke(main, ["scan", "--quiet", str(people), "--out", str(tmp_path / "o2")],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert built == [1]
    src = json.loads((tmp_path / "o2" / "manifest.json").read_text())["inputs"][0]
    faces = [json.loads(f.read_text()) for f in (tmp_path / "o2").rglob("faces.json")]
    assert src["n_tracks"] > 0 and len(faces) == 1 and faces[0]["embedder"] == "Dlib"
    assert faces[0]["summary"]["candidate_frames"] > 0
