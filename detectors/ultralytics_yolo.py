"""Person detection with an ultralytics YOLO checkpoint (``.pt``), on the CPU.

ultralytics phones home (settings sync, hub checks, font and weight downloads) unless told not
to; this adapter turns that off before the package is imported and never passes a bare model
name that ultralytics would try to download — it always gets a resolved, checksum-verified file.
"""

from __future__ import annotations

import os

import numpy as np

from detectors.base import inference_threads
from detectors.models import ResolvedModel
from detectors.tiling import TiledDetector
from pipeline.config import DetectorConfig
from pipeline.errors import ModelError
from pipeline.types import Detections


def quiet_ultralytics() -> None:
    """Offline, no telemetry, no update checks: set before ``import ultralytics``."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    try:
        from ultralytics.utils import SETTINGS

        if SETTINGS.get("sync", False) or SETTINGS.get("hub", False):
            SETTINGS.update({"sync": False, "hub": False})
    except Exception:  # noqa: BLE001 - settings file not writable: env vars still apply
        pass


class UltralyticsDetector(TiledDetector):
    """An ultralytics YOLO checkpoint whose person classes are ``model.spec.classes_person``.

    Args:
        model: the resolved model file.
        config: detector settings; ``input_size`` is the inference size, ``threads`` the torch
            thread count (ultralytics drops torch to one thread at its first predict; it is
            set back after each call).
    """

    def __init__(self, model: ResolvedModel, config: DetectorConfig) -> None:
        quiet_ultralytics()
        import torch
        from ultralytics import YOLO

        self.model = model
        self.config = config
        self._torch = torch
        self._threads = inference_threads(config.threads)
        try:
            self._yolo = YOLO(str(model.path), task="detect")
        except Exception as exc:  # noqa: BLE001 - torch/ultralytics raise many types
            raise ModelError(f"cannot load {model.path} with ultralytics ({exc})") from None
        self._classes = list(model.spec.classes_person)

    def detect_one(self, image: np.ndarray) -> Detections:
        if image.shape[0] < 2 or image.shape[1] < 2:
            return Detections.empty()
        self._torch.set_num_threads(self._threads)
        res = self._yolo.predict(
            image,
            imgsz=self.config.input_size,
            conf=min(self.config.confidence, self.config.weak_confidence),
            iou=self.config.nms_iou,
            classes=self._classes,
            device="cpu",
            verbose=False,
        )[0]
        boxes = res.boxes
        if boxes is None or len(boxes) == 0:
            return Detections.empty()
        xyxy = boxes.xyxy.cpu().numpy().astype(np.float32)
        conf = boxes.conf.cpu().numpy().astype(np.float32)
        tall = (xyxy[:, 3] - xyxy[:, 1]) >= self.config.min_box_height
        return Detections(
            xyxy=xyxy[tall], confidence=conf[tall], class_id=np.zeros(int(tall.sum()), np.int32)
        )
