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


# Hidden entries are not recursed into (``.Trash``, ``._x.mp4`` resource forks) but never
# dropped silently: the manifest lists them, and naming one on the command line scans it.
_HIDDEN = "hidden name (starts with '.'): not scanned; name it on the command line to scan it"


@dataclass
class InputSet:
    """Files to process, in order, and what folder recursion passed over."""

    files: list[Path] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def expand_inputs(inputs: list[str], exclude: Path | None = None) -> InputSet:
    """Files as given, folders walked recursively (sorted, symlinked folders not followed;
    hidden entries listed in ``skipped``).

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
                for d in sorted(dirs):
                    if d.startswith("."):
                        result.skipped.append({"path": str(rp / d), "reason": _HIDDEN})
                dirs[:] = sorted(
                    d for d in dirs
                    if not d.startswith(".") and (excl is None or (rp / d).resolve() != excl)
                )
                for name in sorted(files):
                    f = rp / name
                    if name.startswith("."):
                        result.skipped.append({"path": str(f), "reason": _HIDDEN})
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


def safe_name(name: str, max_len: int = 60, default: str = "source") -> str:
    """A file-system-safe ASCII name: letters, digits, ``.``, ``_``, ``-`` only.

    Accents are folded (``é`` → ``e``), everything else becomes ``_``; leading and trailing
    dots, dashes and underscores are stripped, so the result is never ``..``, hidden, or read
    as a command-line option. Reusable for any user-given name that becomes a path part
    (source folders, watch-list subjects).

    Args:
        name: any text (unicode, control characters, undecodable bytes as surrogates).
        max_len: the longest result, in characters.
        default: returned when nothing usable is left.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    out = re.sub(r"[^A-Za-z0-9._-]+", "_", folded).strip("._-")[:max_len].strip("._-")
    return out or default


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _needs_escape(ch: str) -> bool:
    # Control (Cc), format (Cf: bidi overrides, zero-width), line/paragraph separators,
    # surrogates (undecodable bytes) and unassigned code points.
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def one_line(text: str) -> str:
    """``text`` with every control, format or separator character escaped (``\\n``, ``\\x1b``).

    A message built from user-given names can then never forge a second log line, move the
    terminal cursor or reverse the text direction.
    """
    return "".join(_escape_char(c) if _needs_escape(c) else c for c in text)


def display_name(path: str | Path) -> str:
    """How a user-given path is shown in one-line messages: as given, unless it holds
    characters that could forge or garble a line; then backslashes and those characters are
    escaped and the result quoted, e.g. ``'new\\nline.mp4'``. The exact name stays in the
    manifest; this is only for display.
    """
    s = str(path)
    if not any(_needs_escape(c) for c in s):
        return s
    body = "".join(
        "\\\\" if c == "\\" else "\\'" if c == "'" else _escape_char(c) if _needs_escape(c) else c
        for c in s
    )
    return f"'{body}'"


def source_slug(path: Path, sha256: str | None) -> str:
    """A safe, unique folder name for a source's outputs: ASCII stem + hash prefix.

    Hostile names (``../``, ``<script>``, newlines, unicode) cannot escape the output folder:
    everything but ``[A-Za-z0-9._-]`` becomes ``_`` (see :func:`safe_name`).
    """
    return f"{safe_name(path.stem)}-{(sha256 or 'nohash')[:12]}"


def unique_slug(slug: str, used: set[str]) -> str:
    """``slug``, or ``slug-2``, ``slug-3``... when another source of this run already has it
    (two copies of one file under names that fold to the same stem); records the result."""
    out, k = slug, 1
    while out in used:
        k += 1
        out = f"{slug}-{k}"
    used.add(out)
    return out
