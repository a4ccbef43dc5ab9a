"""The provenance manifest: what ran, on what, with which models and config, and what came out."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from detectors.models import sha256_file
from pipeline.case_lock import LOCK_NAME

# Distributions whose versions matter for the results.
_DISTRIBUTIONS = (
    "reunite", "numpy", "opencv-python", "av", "onnxruntime", "ultralytics", "torch",
    "supervision", "imageio-ffmpeg", "ffmpeg-python", "pydantic", "scipy", "click", "PyYAML",
)


def software_versions(cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Python, platform and the installed versions of the distributions that shape results;
    ``cache_dir``: reunite's cache folder (``models.cache_dir``), where the ffmpeg binary's
    digest is remembered (:func:`remembered_sha256`; None: hashed every time)."""
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

        memo = Path(cache_dir).expanduser() / _HASH_MEMO if cache_dir else None
        encoder = {"ffmpeg": ffmpeg_exe(), "ffmpeg_sha256": remembered_sha256(ffmpeg_exe(), memo)}
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


_HASH_MEMO = "file_sha256.json"


def remembered_sha256(path: str | Path, memo: Path | None) -> str:
    """sha256 of a big file that seldom changes (the ffmpeg binary the manifest names: 170 MB,
    0.1-0.6 s to read and hash on every scan), remembered by the file's identity: its real
    path, device, inode, size, and modification and status-change times in nanoseconds. The
    status-change time moves whenever the content or the metadata changes and cannot be set
    back by the file's owner, so a replaced or edited binary is hashed again. Without a
    ``memo`` file, or one that cannot be written, it simply hashes."""
    if memo is None:
        return sha256_file(path)
    st, real = os.stat(path), os.path.realpath(path)
    key = "|".join(map(str, (real, st.st_dev, st.st_ino, st.st_size,
                             st.st_mtime_ns, st.st_ctime_ns)))
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    digest = known.get(key)
    if isinstance(digest, str) and len(digest) == 64:
        return digest
    digest = sha256_file(path)
    known = {k: v for k, v in known.items() if not k.startswith(real + "|")}
    known[key] = digest
    try:
        from pipeline.outputs.atomic import write_json_atomic

        memo.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(memo, known)
    except OSError:
        pass  # a read-only home: hash every time
    return digest


def hash_outputs(out_dir: Path, exclude: set[str]) -> dict[str, str]:
    """sha256 of every output file (relative POSIX path → hex); temporary files and the lock
    file (pipeline.case_lock: it changes with every writer) excluded."""
    hashes: dict[str, str] = {}
    for p in sorted(out_dir.rglob("*")):
        if not p.is_file() or p.name.startswith("."):
            continue
        rel = p.relative_to(out_dir).as_posix()
        if rel in exclude or rel == LOCK_NAME:
            continue
        hashes[rel] = sha256_file(p)
    return hashes
