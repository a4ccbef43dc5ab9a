"""YOLOX (COCO) person detector on ONNX Runtime.

I/O contract of the official export: input ``images`` 1×3×S×S float32, BGR 0–255 without
normalisation, top-left letterbox padded with 114; output 1×A×85 rows
``[dx, dy, log_w, log_h, obj, cls0..cls79]`` with objectness and class scores already sigmoided,
decoded over grids of strides 8/16/32; person score = obj × P(person).
"""

from __future__ import annotations

import cv2
import numpy as np

from detectors.base import inference_threads
from detectors.models import ResolvedModel
from detectors.tiling import TiledDetector
from pipeline.boxes import nms
from pipeline.config import DetectorConfig
from pipeline.errors import ModelError
from pipeline.types import Detections

_STRIDES = (8, 16, 32)


class YoloxOnnxDetector(TiledDetector):
    """YOLOX-Nano/Tiny/S… exported to ONNX, persons only.

    Args:
        model: the resolved, checksum-verified model file.
        config: detector settings (confidence, NMS IoU, input size, tiling, threads).
    """

    def __init__(self, model: ResolvedModel, config: DetectorConfig) -> None:
        import onnxruntime as ort

        self.model = model
        self.config = config
        opts = ort.SessionOptions()
        # The thread budget goes to running a frame's tiles side by side first (one inference
        # per thread), then to each inference. On 2 cores two lanes of one thread beat one lane
        # of two: busy 10 min 56 s against 88 s, at half the CPU (90 against 170 s); a frame
        # of one window (square or tiling off) was no slower on one thread (12.3 against
        # 12.9 s on a 2-min square cut) since the decoder shares the cores. Same boxes.
        threads = inference_threads(config.threads)
        self.tile_lanes = min(threads, 2) if config.tiling != "off" else 1
        opts.intra_op_num_threads = max(1, threads // self.tile_lanes)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(model.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own opaque types
            raise ModelError(f"cannot load {model.path} with onnxruntime ({exc})") from None
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        shape = inp.shape
        fixed = [d for d in shape[2:] if isinstance(d, int)]
        self.input_size = fixed[0] if fixed else config.input_size
        self._grids, self._strides = self._make_grids(self.input_size)
        self._windows: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}

    @staticmethod
    def _make_grids(size: int) -> tuple[np.ndarray, np.ndarray]:
        grids, strides = [], []
        for s in _STRIDES:
            n = size // s
            yv, xv = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            grids.append(np.stack((xv, yv), axis=2).reshape(-1, 2))
            strides.append(np.full((n * n, 1), s))
        return (
            np.concatenate(grids).astype(np.float32),
            np.concatenate(strides).astype(np.float32),
        )

    def _letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        s = self.input_size
        h, w = image.shape[:2]
        r = min(s / h, s / w)
        nh, nw = max(1, int(round(h * r))), max(1, int(round(w * r)))
        canvas = np.full((s, s, 3), 114, np.uint8)
        canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        return blob, r

    def detect_one(self, image: np.ndarray) -> Detections:
        """Detect persons in one image (no tiling); boxes in that image's pixels."""
        if image.shape[0] < 2 or image.shape[1] < 2:
            return Detections.empty()
        blob, r = self._letterbox(image)
        out = self._session.run(None, {self._input_name: blob})[0][0]
        scores = out[:, 4] * out[:, 5]
        m = scores >= min(self.config.confidence, self.config.weak_confidence)
        if not m.any():
            return Detections.empty()
        out, scores = out[m], scores[m]
        grid, stride = self._grids[m], self._strides[m]
        xy = (out[:, :2] + grid) * stride
        wh = np.exp(np.clip(out[:, 2:4], -10, 10)) * stride
        xyxy = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1) / r
        h, w = image.shape[:2]
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        keep = nms(xyxy, scores, self.config.nms_iou)
        xyxy, scores = xyxy[keep], scores[keep]
        tall = (xyxy[:, 3] - xyxy[:, 1]) >= self.config.min_box_height
        return Detections(
            xyxy=xyxy[tall], confidence=scores[tall], class_id=np.zeros(int(tall.sum()), np.int32)
        )
