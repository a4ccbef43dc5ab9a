"""End to end: enroll a person from some photos, find them in clips built from OTHER photos of
them composited onto real CCTV footage, at the right times, and nobody else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.faces.clips import Appearance, make_clip

FR = "face_recognition/knn_train"
# Shown (seconds) in each clip: another person first, then Obama from a photo not enrolled.
OTHER_SPAN, OBAMA_SPAN = (0.0, 1.2), (1.6, 3.5)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, faces_dir, shared_data, models_dir):
    vtest = shared_data / "pedestrians" / "opencv__vtest.avi"
    if not vtest.is_file():
        pytest.skip(f"{vtest} not present")
    tmp = tmp_path_factory.mktemp("faces_scan")
    wl = tmp / "watchlist"
    for subject, photos in {"obama": ["obama__obama.jpg", "obama__obama2.jpg"],
                            "kit_harington": ["kit_harington__john1.jpeg",
                                              "kit_harington__john2.jpeg"]}.items():
        (wl / subject).mkdir(parents=True)
        for p in photos:
            shutil.copy(faces_dir / FR / p, wl / subject / p)
    clips = tmp / "clips"
    clips.mkdir()
    make_clip(clips / "cam_a.mp4", vtest, 0, 36, faces_dir, [
        Appearance("knn_train/biden__biden2.jpg", *OTHER_SPAN, 20, 120),
        Appearance("obama-480p.jpg", *OBAMA_SPAN, 520, 420)])
    make_clip(clips / "cam_b.mp4", vtest, 200, 36, faces_dir, [
        Appearance("knn_train/rose_leslie__img2.jpg", *OTHER_SPAN, 500, 400),
        Appearance("obama3.jpg", *OBAMA_SPAN, 20, 120)])
    env = {"REUNITE_MODELS": str(models_dir), "HOME": str(tmp / "home")}
    runner = CliRunner()
    r = runner.invoke(main, ["enroll", str(wl), "--out", str(tmp / "list")], env=env)
    assert r.exit_code == 0, r.output
    out = tmp / "out"
    r = runner.invoke(main, ["scan", str(clips), "--out", str(out), "--watchlist",
                             str(tmp / "list"), "--quiet", "--set", "detector.tiling=off",
                             "--set", "output.annotated_video=false"], env=env)
    assert r.exit_code == 0, r.output
    return out


def test_enrolled_person_found_at_the_right_times_and_nobody_else(scanned: Path):
    matches = json.loads((scanned / "matches.json").read_text())["matches"]
    assert {m["subject"] for m in matches} == {"obama"}
    assert {Path(m["source"]).name for m in matches} == {"cam_a.mp4", "cam_b.mp4"}
    for m in matches:
        # the track starts after the other person left and lies within Obama's time on screen
        assert OBAMA_SPAN[0] - 0.2 <= m["start_s"] <= OBAMA_SPAN[0] + 0.5, m
        assert m["end_s"] <= OBAMA_SPAN[1] + 0.2, m
        assert m["distance"] <= m["threshold"] and m["rank"] == 1 and m["quality"] == "ok"
        assert len(m["source_sha256"]) == 64
        for key in ("thumbnail", "reference_thumbnail"):
            assert m[key].endswith(".jpg") and (scanned / m[key]).is_file(), m[key]


def test_the_same_person_is_one_identity_across_clips(scanned: Path):
    ids = json.loads((scanned / "identities.json").read_text())["identities"]
    obama_tracks = {(Path(m["source"]).name, m["track"]) for m in
                    json.loads((scanned / "matches.json").read_text())["matches"]}
    holding = [i for i in ids if {(Path(s["source"]).name, s["track"]) for s in i["sightings"]}
               & obama_tracks]
    assert len(holding) == 1 and holding[0]["linked_by"] in ("face", "face+appearance")
    face_sightings = {(Path(s["source"]).name, s["track"]) for s in holding[0]["sightings"]
                      if s["cue"] == "face"}
    assert face_sightings == obama_tracks
    # Biden and Rose Leslie have faces too, and are identities of their own.
    faced = [i for i in ids if any(s["cue"] == "face" for s in i["sightings"])]
    assert len(faced) == 3


def test_manifest_counts_tracks_without_a_usable_face(scanned: Path):
    manifest = json.loads((scanned / "manifest.json").read_text())
    faces = manifest["summary"]["faces"]
    # the 4 pasted persons (2 per clip) have faces; the real pedestrians of vtest are too
    # small for one and are skipped, and counted.
    assert faces["with_face"] == 4
    assert faces["skipped_no_face"] == faces["tracks"] - 4 > 0
    assert manifest["models"]["faces"]["weights"]["sha256"].startswith("55533b28")
    assert manifest["watchlist"]["subjects"] == 2 and len(manifest["watchlist"]["sha256"]) == 64
    for inp in manifest["inputs"]:
        assert inp["faces"]["skipped_no_face"] + inp["faces"]["with_face"] == inp["faces"]["tracks"]


def test_faces_from_a_stored_analysis_equal_the_ones_found_in_the_pass(scanned: Path, tmp_path,
                                                                          models_dir):
    """A scan finds faces in its one analysis pass (candidate pixels kept until a track ends);
    a re-scan with another ``faces:`` section reuses the stored analysis and decodes the
    chosen frames again. Both must give the same faces, thumbnails and templates."""
    out = tmp_path / "again"
    shutil.copytree(scanned, out)
    clips = [Path(e["path"]) for e in json.loads((out / "manifest.json").read_text())["inputs"]]
    r = CliRunner().invoke(main, ["scan", *map(str, clips), "--out", str(out), "--quiet",
                                  "--set", "detector.tiling=off",
                                  "--set", "output.annotated_video=false",
                                  "--set", "faces.min_quality=0.36"],
                           env={"REUNITE_MODELS": str(models_dir), "HOME": str(tmp_path / "home")})
    assert r.exit_code == 0, r.output
    inputs = json.loads((out / "manifest.json").read_text())["inputs"]
    assert all(e["stages"]["analysis"]["reused"] and not e["stages"]["faces"]["reused"]
               for e in inputs)
    n_templates = 0
    for e in inputs:
        rel = f"sources/{e['slug']}/faces.json"
        first = json.loads((scanned / rel).read_text())["tracks"]
        again = json.loads((out / rel).read_text())["tracks"]
        keys = ("track", "n_faces", "face_px", "best_face_s", "face_outliers", "template",
                "thumbnail", "person_thumbnail")
        assert [{k: t[k] for k in keys} for t in again] == [{k: t[k] for k in keys} for t in first]
        n_templates += sum(t["template"] is not None for t in first)
        for t in first:
            for field in ("thumbnail", "person_thumbnail"):
                if t[field]:
                    assert (out / t[field]).read_bytes() == (scanned / t[field]).read_bytes(), t[field]
    assert n_templates >= 2
