"""Watch-list: enroll reference photos of subjects, match track templates against them.

``reunite enroll WATCHLIST_DIR --out LIST``: WATCHLIST_DIR holds a folder per subject (the
folder name is the subject) with photos. Each photo must show exactly one face (faces smaller
than 40% of the largest one's width are background and ignored) at least
``faces.enroll_min_face_px`` pixels wide; any other photo gets one line naming it and is left out. LIST
receives ``watchlist.json`` (embedder, threshold, per subject: template = normalised mean of
its photos' embeddings, each photo's sha256 and face box) and ``refs/<subject>.jpg``, the best
reference face.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detectors.faces import Face, FaceModels
from detectors.models import sha256_file
from pipeline.config import FacesConfig
from pipeline.errors import ReuniteError
from pipeline.faces import _thumbnail, face_quality, template_of, write_jpeg
from pipeline.outputs.atomic import write_json_atomic

WATCHLIST_JSON = "watchlist.json"
PHOTO_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
BACKGROUND_FACE_RATIO = 0.4
DETECT_MAX_SIDE = 1000


class WatchlistError(ReuniteError):
    """A watch-list folder or file that cannot be used (one line)."""


@dataclass
class EnrollResult:
    """What enrollment did: subjects enrolled and one line per rejected photo or subject."""

    subjects: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def faces_in_photo(models: FaceModels, image: np.ndarray) -> list[Face]:
    """Faces of a still photo (BGR), largest first; small photos are scanned upsampled."""
    up = 1 if max(image.shape[:2]) < 800 else 0
    faces = models.detector.detect(image, upsample=up, max_side=DETECT_MAX_SIDE)
    return sorted(faces, key=lambda f: -f.width)


def photo_face(models: FaceModels, image: np.ndarray, min_face_px: float
               ) -> tuple[Face | None, str | None]:
    """The one face of a reference photo, or None and the reason in a few words."""
    faces = faces_in_photo(models, image)
    if not faces:
        return None, "no face found"
    main = [f for f in faces if f.width >= BACKGROUND_FACE_RATIO * faces[0].width]
    if len(main) > 1:
        return None, f"{len(main)} faces found, expected one (crop the photo to the subject)"
    if faces[0].width < min_face_px:
        return None, (f"face too small ({faces[0].width:.0f} px wide, at least "
                      f"{min_face_px:.0f} px needed)")
    return faces[0], None


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "subject"


def enroll(watchlist_dir: Path, out: Path, models: FaceModels, cfg: FacesConfig) -> EnrollResult:
    """Enroll every subject folder of ``watchlist_dir`` into the list folder ``out``.

    Raises:
        WatchlistError: ``watchlist_dir`` is not a folder or holds no subject folder, or no
            subject could be enrolled.
    """
    if not watchlist_dir.is_dir():
        raise WatchlistError(f"{watchlist_dir}: not a folder (expected a folder per subject)")
    subjects = sorted(p for p in watchlist_dir.iterdir() if p.is_dir())
    if not subjects:
        raise WatchlistError(f"{watchlist_dir}: no subject folders (expected a folder per subject "
                             "holding photos)")
    res = EnrollResult()
    for sdir in subjects:
        embs, photos, best = [], [], None
        for p in sorted(sdir.iterdir()):
            if not p.is_file():
                continue
            if p.suffix.lower() not in PHOTO_EXTS:
                res.problems.append(f"{p}: not a photo ({p.suffix or 'no extension'}), skipped")
                continue
            image = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if image is None:
                res.problems.append(f"{p}: cannot be read as an image, skipped")
                continue
            face, why = photo_face(models, image, cfg.enroll_min_face_px)
            if face is None:
                res.problems.append(f"{p}: {why}, skipped")
                continue
            q, width = face_quality(face, 1.0, cfg)
            embs.append(models.embedder.embed([face.chip])[0])
            photos.append({"file": p.name, "sha256": sha256_file(p),
                           "face_xyxy": [round(float(v), 1) for v in face.xyxy],
                           "face_px": round(width, 1), "quality": round(q, 3)})
            if best is None or q > best[0]:
                best = (q, _thumbnail(image, face.xyxy, 0.3, cfg.thumbnail_px))
        if not embs:
            res.problems.append(f"{sdir}: subject {sdir.name!r} has no usable photo, not enrolled")
            continue
        assert best is not None
        ref = f"refs/{_safe_name(sdir.name)}.jpg"
        write_jpeg(out / ref, best[1])
        res.subjects.append({
            "subject": sdir.name, "photos": photos, "reference_thumbnail": ref,
            "template": [round(float(v), 6) for v in template_of(np.stack(embs))],
        })
    if not res.subjects:
        raise WatchlistError(f"{watchlist_dir}: no subject could be enrolled "
                             f"({len(res.problems)} problem(s): {res.problems[0] if res.problems else ''})")
    write_json_atomic(out / WATCHLIST_JSON, {
        "embedder": models.embedder.name,
        "threshold": models.threshold,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_folder": str(watchlist_dir.resolve()),
        "subjects": res.subjects,
    })
    return res


def load_watchlist(path: Path, embedder: str) -> dict[str, Any]:
    """Read a list written by :func:`enroll` (the folder, or its watchlist.json).

    Raises:
        WatchlistError: missing or unreadable, or enrolled with another embedder.
    """
    f = path / WATCHLIST_JSON if path.is_dir() else path
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
        subjects = data["subjects"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WatchlistError(f"--watchlist {path}: not a list written by `reunite enroll` ({exc})") from None
    if data.get("embedder") != embedder:
        raise WatchlistError(
            f"--watchlist {path}: enrolled with face model {data.get('embedder')!r}, the scan uses "
            f"{embedder!r} (enroll again with --set faces.embedder={embedder})")
    data["folder"] = str(f.parent)
    data["file_sha256"] = sha256_file(f)
    for s in subjects:
        s["template"] = np.asarray(s["template"], np.float32)
    return data


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, D) × (N, D) unit rows → (M, N) cosine distances (0 same direction, 2 opposite)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    return (1.0 - np.asarray(a, np.float32) @ np.asarray(b, np.float32).T).astype(np.float32)


def match_tracks(tracks: list[dict[str, Any]], watchlist: dict[str, Any], threshold: float,
                 ref_thumbnails: dict[str, str]) -> list[dict[str, Any]]:
    """Every (track, subject) pair at or below ``threshold``.

    Args:
        tracks: face records with ``template`` plus ``source``, ``source_sha256``, ``track``,
            ``start_s``, ``end_s``, ``quality``, ``thumbnail``.
        watchlist: from :func:`load_watchlist`.
        threshold: cosine distance at or below which a pair is reported.
        ref_thumbnails: subject → reference thumbnail path relative to the scan folder.

    Returns:
        matches sorted by subject then distance; ``rank`` is the subject's rank among all
        subjects for that track (1 = the track's nearest subject).
    """
    with_t = [t for t in tracks if t.get("template") is not None]
    subs = watchlist["subjects"]
    if not with_t or not subs:
        return []
    d = cosine_distance(np.stack([np.asarray(t["template"], np.float32) for t in with_t]),
                        np.stack([s["template"] for s in subs]))
    ranks = d.argsort(axis=1).argsort(axis=1) + 1
    out = []
    for i, t in enumerate(with_t):
        for j, s in enumerate(subs):
            if d[i, j] <= threshold:
                out.append({
                    "subject": s["subject"], "source": t["source"],
                    "source_sha256": t["source_sha256"], "track": t["track"],
                    "start_s": t["start_s"], "end_s": t["end_s"],
                    "distance": round(float(d[i, j]), 4), "threshold": threshold,
                    "rank": int(ranks[i, j]), "quality": t["quality"] or "low",
                    "thumbnail": t["thumbnail"],
                    "reference_thumbnail": ref_thumbnails.get(s["subject"]),
                })
    return sorted(out, key=lambda m: (m["subject"], m["distance"]))
