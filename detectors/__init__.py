"""Model adapters behind small protocols. ``build_person_detector`` picks the adapter a
registered model needs (lazy imports: onnxruntime or torch load only when used)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from detectors.base import PersonDetector
from detectors.models import REGISTRY, ResolvedModel, get_spec, resolve
from pipeline.config import DetectorConfig, ModelsConfig


def _yolox(model: ResolvedModel, cfg: DetectorConfig) -> Any:
    from detectors.yolox_onnx import YoloxOnnxDetector

    return YoloxOnnxDetector(model, cfg)


def _ultralytics(model: ResolvedModel, cfg: DetectorConfig) -> Any:
    from detectors.ultralytics_yolo import UltralyticsDetector

    return UltralyticsDetector(model, cfg)


ADAPTERS: dict[str, Callable[[ResolvedModel, DetectorConfig], Any]] = {
    "yolox_onnx": _yolox,
    "ultralytics": _ultralytics,
}


def resolve_detector_model(detector: DetectorConfig, models: ModelsConfig) -> ResolvedModel:
    """Find and checksum the configured detector's file (see detectors.models.resolve)."""
    return resolve(detector.model, models.dir, models.cache_dir, models.allow_download)


def build_person_detector(detector: DetectorConfig, models: ModelsConfig) -> PersonDetector:
    """Resolve the configured model and load it with its adapter.

    Raises:
        ModelError: unknown model name (lists the known ones), file missing or bad checksum.
    """
    spec = get_spec(detector.model)
    return ADAPTERS[spec.adapter](resolve_detector_model(detector, models), detector)


__all__ = ["REGISTRY", "PersonDetector", "build_person_detector", "resolve_detector_model"]
