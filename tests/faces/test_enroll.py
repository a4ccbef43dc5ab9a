"""Enrollment: good photos are enrolled; every bad photo is one clear line naming it."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
from click.testing import CliRunner

from cli import main

FR = "face_recognition"


def test_blank_image_has_no_face(face_models):
    assert face_models.detector.detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert face_models.detector.detect(np.zeros((0, 0, 3), np.uint8)) == []


def test_enroll_reports_each_bad_photo_in_one_line(tmp_path, faces_dir):
    wl = tmp_path / "wl"
    (wl / "obama").mkdir(parents=True)
    shutil.copy(faces_dir / FR / "knn_train/obama__obama.jpg", wl / "obama" / "good.jpg")
    shutil.copy(faces_dir / FR / "two_people.jpg", wl / "obama" / "group.jpg")
    shutil.copy(faces_dir / FR / "obama-240p.jpg", wl / "obama" / "small.jpg")  # 62 px face
    cv2.imwrite(str(wl / "obama" / "wall.jpg"), np.full((300, 300, 3), 90, np.uint8))
    (wl / "obama" / "broken.jpg").write_bytes(b"not a jpeg")
    (wl / "nobody").mkdir()
    cv2.imwrite(str(wl / "nobody" / "empty.png"), np.zeros((200, 200, 3), np.uint8))
    r = CliRunner().invoke(main, ["enroll", str(wl), "--out", str(tmp_path / "list"),
                                  "--set", "faces.enroll_min_face_px=80"],
                           env={"HOME": str(tmp_path / "home")})
    assert r.exit_code == 1, r.output
    lines = [x for x in r.output.splitlines() if x.startswith("reunite: enroll: ")]
    expect = {
        "group.jpg": "2 faces found, expected one",
        "small.jpg": "face too small (62 px wide, at least 80 px needed)",
        "wall.jpg": "no face found",
        "broken.jpg": "cannot be read as an image",
        "empty.png": "no face found",
        "nobody": "has no usable photo, not enrolled",
    }
    assert len(lines) == len(expect), lines
    for name, why in expect.items():
        hits = [x for x in lines if f"{name}:" in x]
        assert len(hits) == 1 and why in hits[0], (name, lines)
    data = json.loads((tmp_path / "list" / "watchlist.json").read_text())
    assert [s["subject"] for s in data["subjects"]] == ["obama"]
    assert [p["file"] for p in data["subjects"][0]["photos"]] == ["good.jpg"]
    assert (tmp_path / "list" / data["subjects"][0]["reference_thumbnail"]).is_file()
    assert abs(np.linalg.norm(data["subjects"][0]["template"]) - 1) < 1e-4


def test_enroll_with_nothing_usable_is_a_usage_error(tmp_path):
    (tmp_path / "wl").mkdir()
    r = CliRunner().invoke(main, ["enroll", str(tmp_path / "wl"), "--out", str(tmp_path / "l")],
                           env={"HOME": str(tmp_path / "home")})
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and "no subject folders" in r.output


def test_scan_refuses_a_list_from_another_model(tmp_path, models_dir):
    lst = tmp_path / "list"
    lst.mkdir()
    (lst / "watchlist.json").write_text(json.dumps({"embedder": "ArcFace", "subjects": []}))
    r = CliRunner().invoke(main, ["scan", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "o"),
                                  "--watchlist", str(lst)],
                           env={"HOME": str(tmp_path / "home"), "REUNITE_MODELS": str(models_dir)})
    assert r.exit_code == 2 and "enrolled with face model 'ArcFace'" in r.output
