"""Expand the INPUT arguments of ``scan`` into a sorted list of files to process."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

# Container extensions met in seized footage, NVR/DVR exports included. Files named on the
# command line are always tried whatever their extension; inside folders, other files are
# listed as skipped in the manifest.
VIDEO_EXTENSIONS = frozenset(
    """
    .mp4 .m4v .mov .qt .avi .mkv .webm .ts .mts .m2ts .mpg .mpeg .m2v .mpv .vob .wmv .asf .flv
    .3gp .3g2 .h264 .264 .h265 .265 .hevc .dav .mjpeg .mjpg .gif .ogv .mxf .dv .y4m .ivf
    """.split()
)


@dataclass
class InputSet:
    """Files to process, in order, and what folder recursion passed over."""

    files: list[Path] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def expand_inputs(inputs: list[str], exclude: Path | None = None) -> InputSet:
    """Files as given, folders walked recursively (sorted, symlinked folders not followed).

    Args:
        inputs: paths from the command line.
        exclude: a folder never to descend into (the output folder).
    """
    result = InputSet()
    seen: set[Path] = set()
    excl = exclude.resolve() if exclude else None

    def add(p: Path) -> None:
        key = p.resolve() if p.exists() else p
        if key not in seen:
            seen.add(key)
            result.files.append(p)

    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, files in os.walk(p, followlinks=False):
                rp = Path(root)
                dirs[:] = sorted(
                    d for d in dirs
                    if not d.startswith(".") and (excl is None or (rp / d).resolve() != excl)
                )
                for name in sorted(files):
                    f = rp / name
                    if name.startswith("."):
                        continue
                    if f.suffix.lower() in VIDEO_EXTENSIONS:
                        add(f)
                    else:
                        result.skipped.append({"path": str(f), "reason": "not a video extension"})
        elif p.exists() or p.is_symlink():
            add(p)
        else:
            result.missing.append(raw)
    return result


def source_slug(path: Path, sha256: str | None) -> str:
    """A safe, unique folder name for a source's outputs: ASCII stem + hash prefix.

    Hostile names (``../``, ``<script>``, newlines, unicode) cannot escape the output folder:
    everything but ``[A-Za-z0-9._-]`` becomes ``_``.
    """
    stem = unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:60] or "source"
    return f"{stem}-{(sha256 or 'nohash')[:12]}"
