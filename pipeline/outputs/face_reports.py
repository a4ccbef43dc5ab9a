"""Scan-level face outputs: ``DIR/matches.json`` (watch-list) and ``DIR/identities.json``.

Both are computed from the per-source ``sources/<slug>/faces.json`` files, so they cover every
source of the scan; thumbnails are JPEG paths relative to DIR.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pipeline.config import FacesConfig
from pipeline.faces import load_face_tracks
from pipeline.identities import cluster_identities
from pipeline.outputs.atomic import atomic_path, write_json_atomic
from pipeline.watchlist import match_tracks

MATCHES = "matches.json"
IDENTITIES = "identities.json"


def scan_face_tracks(results: list[Any], out_dir: Path) -> list[dict[str, Any]]:
    """Every source's face records with ``source`` and ``source_sha256`` added."""
    out = []
    for r in results:
        if not getattr(r, "faces", None) or not r.slug:
            continue
        for t in load_face_tracks(out_dir, r.slug):
            out.append({**t, "source": r.path, "source_sha256": r.sha256_before})
    return out


def copy_reference_thumbnails(watchlist: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """Copy each subject's reference thumbnail into ``DIR/faces/watchlist/``; subject → path."""
    refs = {}
    for s in watchlist["subjects"]:
        src = Path(watchlist["folder"]) / s["reference_thumbnail"]
        rel = f"faces/watchlist/{Path(s['reference_thumbnail']).name}"
        if src.is_file():
            with atomic_path(out_dir / rel) as tmp:
                shutil.copyfile(src, tmp)
            refs[s["subject"]] = rel
    return refs


def write_face_reports(results: list[Any], out_dir: Path, cfg: FacesConfig, threshold: float,
                       watchlist: dict[str, Any] | None, refs: dict[str, str]) -> dict[str, int]:
    """Write matches.json (when a watch-list is given) and identities.json; return counts."""
    tracks = scan_face_tracks(results, out_dir)
    counts: dict[str, int] = {}
    if watchlist is not None:
        thr = cfg.match_threshold if cfg.match_threshold is not None else threshold
        matches = match_tracks(tracks, watchlist, thr, refs)
        write_json_atomic(out_dir / MATCHES, {"matches": matches})
        counts["matches"] = len(matches)
    id_thr = cfg.identity_threshold if cfg.identity_threshold is not None else threshold
    identities = cluster_identities(tracks, id_thr, cfg.appearance_threshold)
    write_json_atomic(out_dir / IDENTITIES, {"identities": identities})
    counts["identities"] = len(identities)
    counts["identities_linked"] = sum(len(i["sightings"]) > 1 for i in identities)
    return counts
