"""Would an int8 YOLOX-Nano detect faster? One tile on one thread, float against int8.

    .venv/bin/python -m pip install onnx     # the quantiser needs it; reunite does not
    .venv/bin/python bench/int8_tile_speed.py [--runs 40]

The model file (shared/models, opset 11) is converted to opset 13 (per-channel weights need
DequantizeLinear's ``axis``), then quantised statically by onnxruntime.quantization, weights
int8 per channel, activations uint8, in both of its formats (QDQ, QOperator). Calibration
tiles come from tune footage (vtest.avi, openpose's street, the mmtracking demo: two square
tiles of every 8th-40th frame), never from MOT17-mini. Printed: the median time of one
416x416 inference per model, in one process, alternating. Speed only: a model that is not
faster is not worth an accuracy check.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA, SHARED  # noqa: E402

MODEL = SHARED / "models" / "yolox_nano_reexport_k00.onnx"
CALIBRATION = (("pedestrians/opencv__vtest.avi", 40), ("pedestrians/openpose__video.avi", 10),
               ("pedestrians/mmtracking__demo.mp4", 8))


def calibration_tiles() -> list[np.ndarray]:
    tiles = []
    for rel, step in CALIBRATION:
        cap = cv2.VideoCapture(str(DATA / rel))
        i = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            if i % step == 0:
                h, w = img.shape[:2]
                s = min(h, w)
                for x in (0, w - s):
                    t = cv2.resize(img[:s, x:x + s], (416, 416))
                    tiles.append(t.transpose(2, 0, 1)[None].astype(np.float32))
            i += 1
        cap.release()
    return tiles


def quantised(tmp: Path, tiles: list[np.ndarray]) -> dict[str, Path]:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quant_pre_process, quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(tiles)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.it, None)
            return None if x is None else {"images": x}

    onnx.save(version_converter.convert_version(onnx.load(str(MODEL)), 13), str(tmp / "op13.onnx"))
    quant_pre_process(str(tmp / "op13.onnx"), str(tmp / "pre.onnx"))
    out = {}
    for fmt in (QuantFormat.QDQ, QuantFormat.QOperator):
        path = tmp / f"int8_{fmt.name}.onnx"
        quantize_static(str(tmp / "pre.onnx"), str(path), Reader(), quant_format=fmt,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        out[f"int8 {fmt.name}"] = path
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    import onnxruntime as ort

    tiles = calibration_tiles()
    with tempfile.TemporaryDirectory() as td:
        models = {"float": MODEL, **quantised(Path(td), tiles)}
        sessions = {}
        for name, path in models.items():
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1
            sessions[name] = ort.InferenceSession(str(path), opts,
                                                  providers=["CPUExecutionProvider"])
        times: dict[str, list[float]] = {name: [] for name in sessions}
        for k in range(args.runs + 5):
            x = tiles[k % len(tiles)]
            for name, s in sessions.items():
                t = time.perf_counter()
                s.run(None, {"images": x})
                if k >= 5:  # warm-up
                    times[name].append(time.perf_counter() - t)
    base = statistics.median(times["float"])
    print(f"calibration tiles: {len(tiles)}; onnxruntime {ort.__version__}")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:14s} {m * 1e3:6.2f} ms a tile (median of {len(ts)}), {base / m:.2f}x float")


if __name__ == "__main__":
    main()
