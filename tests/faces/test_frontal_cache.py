"""dlib's HOG face detector loaded from the cache folder's checked copy (detectors.faces)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import pytest

from detectors import faces as faces_mod

dlib = pytest.importorskip("dlib", reason="dlib-bin not installed (scripts/setup.sh installs it)")


def _saved_sha256(detector, tmp_path: Path) -> str:
    path = tmp_path / "saved.svm"
    detector.save(str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def pinned(monkeypatch, tmp_path):
    """The installed dlib's pin; where the table has none, the digest of dlib's own detector
    stands in, so the mechanism is tested on any version (the real pin is checked below)."""
    pin = faces_mod.FRONTAL_DETECTOR_SHA256.get(dlib.__version__)
    if pin is None:
        pin = _saved_sha256(dlib.get_frontal_face_detector(), tmp_path)
        monkeypatch.setitem(faces_mod.FRONTAL_DETECTOR_SHA256, dlib.__version__, pin)
    return pin


def _runs(detector, images) -> list:
    out = []
    for img in images:
        rects, scores, idx = detector.run(img, 0, -0.5)
        out.append(([(r.left(), r.top(), r.right(), r.bottom()) for r in rects], list(scores), list(idx)))
    return out


def test_the_installed_dlib_has_its_detector_pinned(tmp_path):
    pin = faces_mod.FRONTAL_DETECTOR_SHA256.get(dlib.__version__)
    if pin is None:
        pytest.skip(f"dlib {dlib.__version__} has no pinned detector digest: scans unpack "
                    "dlib's own each time (~0.24 s); add its sha256 to FRONTAL_DETECTOR_SHA256")
    assert _saved_sha256(dlib.get_frontal_face_detector(), tmp_path) == pin


def test_the_cached_copy_finds_the_same_faces_as_dlibs_own(tmp_path, faces_dir, pinned, monkeypatch):
    cache = tmp_path / "cache"
    first = faces_mod.frontal_face_detector(dlib, cache)
    copy = cache / f"dlib-{dlib.__version__}-frontal_face_detector.svm"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == pinned
    assert [p.name for p in cache.iterdir()] == [copy.name]  # no temporary file left

    def unpacked():
        raise AssertionError("the checked copy should have been loaded")

    monkeypatch.setattr(dlib, "get_frontal_face_detector", unpacked)
    loaded = faces_mod.frontal_face_detector(dlib, cache)
    monkeypatch.undo()
    photos = sorted((faces_dir / "face_recognition").rglob("*.jpg"))[:12]
    images = [cv2.imread(str(p))[:, :, ::-1].copy() for p in photos]
    reference = _runs(dlib.get_frontal_face_detector(), images)
    assert sum(len(r[0]) for r in reference) >= 6, "the photos should hold faces"
    assert _runs(loaded, images) == reference
    assert _runs(first, images) == reference


def test_a_copy_that_is_not_the_pinned_detector_is_never_loaded(tmp_path, pinned, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    copy = cache / f"dlib-{dlib.__version__}-frontal_face_detector.svm"
    dlib.get_frontal_face_detector().save(str(copy))
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one filter weight
    copy.write_bytes(bytes(data))
    calls = []
    real = dlib.get_frontal_face_detector
    monkeypatch.setattr(dlib, "get_frontal_face_detector", lambda: calls.append(1) or real())
    loaded_from = []
    real_load = dlib.fhog_object_detector
    monkeypatch.setattr(dlib, "fhog_object_detector", lambda p: loaded_from.append(p) or real_load(p))
    faces_mod.frontal_face_detector(dlib, cache)
    assert calls == [1] and loaded_from == []
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == pinned  # replaced by the right one


def test_a_cache_that_cannot_be_written_still_gives_the_detector(tmp_path, pinned):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    detector = faces_mod.frontal_face_detector(dlib, blocker / "cache")
    assert detector.num_detectors >= 1
    assert blocker.read_text() == "a file where the cache folder should be"


def test_a_dlib_that_saves_other_bytes_than_its_pin_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setitem(faces_mod.FRONTAL_DETECTOR_SHA256, dlib.__version__, "0" * 64)
    cache = tmp_path / "cache"
    detector = faces_mod.frontal_face_detector(dlib, cache)
    assert detector.num_detectors >= 1
    assert not cache.exists() or list(cache.iterdir()) == []
