"""Shared test fixtures: where the shared data and models lie, and small clip makers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("REUNITE_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
MODELS = SHARED / "models"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared test data not present at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """A folder holding yolox_nano weights; tests needing a real detector skip without it."""
    if not (MODELS / "yolox_nano_reexport_k00.onnx").is_file():
        pytest.skip(f"YOLOX-Nano weights not present in {MODELS}")
    return MODELS


@pytest.fixture
def models_env(models_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """REUNITE_MODELS pointing at the shared models, and an empty private cache."""
    monkeypatch.setenv("REUNITE_MODELS", str(models_dir))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return models_dir
