"""Fixtures for face tests: the shared face photos and the face models (loaded once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATA


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    d = DATA / "faces"
    if not (d / "face_recognition").is_dir():
        pytest.skip(f"shared face photos not present at {d}")
    return d


@pytest.fixture(scope="session")
def face_models(tmp_path_factory: pytest.TempPathFactory):
    """dlib HOG + 5-point landmarks + deepface Dlib, weights from face-recognition-models."""
    pytest.importorskip("dlib", reason="dlib-bin not installed (scripts/setup.sh installs it)")
    pytest.importorskip("deepface", reason="deepface not installed (scripts/setup.sh installs it)")
    from detectors.faces import build_face_models
    from pipeline.config import FacesConfig, ModelsConfig

    cache = tmp_path_factory.mktemp("cache")
    return build_face_models(FacesConfig(), ModelsConfig(cache_dir=str(cache)))
