"""``reunite verify DIR``: are the originals and the outputs still what the manifest says?

Re-hashes every original (paths and sha256 from the manifest's inputs) and every output file
listed in the manifest, and lists output files the manifest does not know. Each problem is one
line; no problem means everything matches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from detectors.models import sha256_file
from pipeline.case_lock import LOCK_NAME, check_not_busy
from pipeline.errors import InputError

MANIFEST = "manifest.json"
STORE_NAME = "case.sqlite"  # pipeline.store.STORE_NAME (not imported: verify stays light)


@dataclass
class VerifyResult:
    """What ``verify`` checked and what it found.

    Attributes:
        originals_checked, outputs_checked: files re-hashed.
        problems: one line each (``CHANGED``, ``MISSING``, ``UNREADABLE``, ``UNLISTED``).
    """

    originals_checked: int = 0
    outputs_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _hash(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


_UNFINISHED = ("the scan into this folder did not finish (interrupted, killed or stopped by an "
               "error); run the same scan again to finish it, then verify")


def load_manifest(out_dir: Path) -> dict:
    """The manifest of ``out_dir``.

    Raises:
        InputError: missing, unreadable or not a reunite manifest (names the file).
    """
    p = out_dir / MANIFEST
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if (out_dir / LOCK_NAME).exists() or (out_dir / STORE_NAME).exists():
            # a scan started here and was stopped before its first file was done
            raise InputError(str(p), f"no manifest: {_UNFINISHED}") from None
        raise InputError(str(p), "no manifest here (is this a reunite output folder?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(p), f"not a readable manifest ({exc})") from None
    if isinstance(data, dict) and data.get("tool") == "reunite" and data.get("complete") is False:
        # written after each file of a scan that was then stopped or killed: no output is final
        raise InputError(str(p), f"incomplete: {_UNFINISHED}")
    if not isinstance(data, dict) or data.get("tool") != "reunite" or "outputs" not in data:
        raise InputError(str(p), "not a complete reunite manifest (no 'outputs' section)")
    return data


def _compare(res: VerifyResult, kind: str, label: object, path: Path, want: str,
             missing_note: str = "") -> None:
    """Hash ``path`` against ``want``; a MISSING, UNREADABLE or CHANGED line on a mismatch."""
    if not path.is_file():
        res.problems.append(f"MISSING {kind} {label}{missing_note}")
        return
    got = _hash(path)
    if got is None:
        res.problems.append(f"UNREADABLE {kind} {label}")
    elif got != want:
        res.problems.append(f"CHANGED {kind} {label}: sha256 {got}, manifest says {want}")


def verify(out_dir: Path) -> VerifyResult:
    """Re-hash the originals and outputs recorded in ``out_dir/manifest.json``.

    Raises:
        InputError: the manifest is missing or malformed.
        CaseBusyError: a reunite command is writing ``out_dir`` now: its outputs and manifest
            are not final (checked once, at the start; nothing in the folder is changed).
    """
    check_not_busy(out_dir)
    m = load_manifest(out_dir)
    res = VerifyResult()
    for entry in m.get("inputs", []):
        want = entry.get("sha256_before")
        if not want:
            continue  # never hashed (missing or unreadable at scan time): nothing to compare
        path = Path(entry["path"])
        if not path.is_absolute() and m.get("run", {}).get("cwd"):
            path = Path(m["run"]["cwd"]) / path  # relative to where the scan ran
        res.originals_checked += 1
        _compare(res, "original", path, path, want, missing_note=f" (sha256 {want})")
    listed = m.get("outputs") or {}
    for rel, want in listed.items():
        p = out_dir / rel
        res.outputs_checked += 1
        _compare(res, "output", rel, p, want)
    for p in sorted(out_dir.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            rel = p.relative_to(out_dir).as_posix()
            # the case store changes with every scan of the case, and the lock file with every
            # writer (pipeline.case_lock): the tool's working files, not deliverables, never
            # hashed into a manifest
            if (rel != MANIFEST and rel != LOCK_NAME and rel not in listed
                    and not rel.startswith(STORE_NAME)):
                res.problems.append(f"UNLISTED output {rel} (not in the manifest)")
    return res
