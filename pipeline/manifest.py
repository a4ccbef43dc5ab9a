"""The provenance manifest: what ran, on what, with which models and config, and what came out."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from pathlib import Path
from typing import Any

from detectors.models import sha256_file

# Distributions whose versions matter for the results.
_DISTRIBUTIONS = (
    "reunite", "numpy", "opencv-python", "av", "onnxruntime", "ultralytics", "torch",
    "supervision", "imageio-ffmpeg", "ffmpeg-python", "pydantic", "scipy", "click", "PyYAML",
)


def software_versions() -> dict[str, Any]:
    """Python, platform and the installed versions of the distributions that shape results."""
    versions: dict[str, str | None] = {}
    for dist in _DISTRIBUTIONS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    try:
        import av

        libav = {k: ".".join(map(str, v)) for k, v in av.library_versions.items()}
    except Exception:  # noqa: BLE001 - informational only
        libav = {}
    try:
        from pipeline.outputs.video import ffmpeg_exe

        encoder = {"ffmpeg": ffmpeg_exe(), "ffmpeg_sha256": sha256_file(ffmpeg_exe())}
    except Exception:  # noqa: BLE001 - informational only
        encoder = {}
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": versions,
        "libav": libav,
        "encoder": encoder,
    }


def hash_outputs(out_dir: Path, exclude: set[str]) -> dict[str, str]:
    """sha256 of every output file (relative POSIX path → hex), temporary files excluded."""
    hashes: dict[str, str] = {}
    for p in sorted(out_dir.rglob("*")):
        if not p.is_file() or p.name.startswith("."):
            continue
        rel = p.relative_to(out_dir).as_posix()
        if rel in exclude:
            continue
        hashes[rel] = sha256_file(p)
    return hashes
