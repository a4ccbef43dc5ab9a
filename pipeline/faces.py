"""Faces on tracks: pick each track's best frames, find the face in the head region, score its
quality, and make one template per track from its best faces.

One decode of the video, memory flat however long it is:

1. during the streaming analysis pass, :class:`FaceCandidates` keeps per track its
   ``candidates_per_track`` best frames (head size × sharpness × detector confidence, spread at
   least ``candidate_min_gap_s`` apart) and a running mean clothing-colour signature. With a
   :class:`FaceTemplates` attached it also keeps, per kept candidate, the pixels a face needs
   (the head region with a margin, and the person thumbnail): tens of kilobytes a track;
2. a track the tracker can no longer continue (unseen for longer than its lost timeout) is
   finished there and then: faces detected and scored in its kept head regions, the best
   embedded, its template and thumbnails written, its pixels dropped.

When the analysis comes from the case store (a re-run with another ``faces:`` section),
:func:`track_faces` re-decodes the source and cuts the same pixels from the chosen frames.
Its state for the store (:meth:`FaceCandidates.to_state`) holds times and boxes only.

A face narrower than ``min_face_px`` is not usable; a track with no usable face gets no
template and is counted as skipped. A template from faces below ``min_quality`` is marked
``low``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detectors.faces import Face, FaceModels
from pipeline.appearance import color_signatures
from pipeline.config import FacesConfig
from pipeline.outputs.atomic import atomic_path, write_json_atomic
from pipeline.types import Detections, Frame

FACES_JSON = "faces.json"


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of a grayscale uint8 image (higher = sharper)."""
    if gray.size == 0:
        return 0.0
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def head_region(box: np.ndarray, frame_w: int, frame_h: int, fraction: float) -> tuple[int, int, int, int]:
    """Integer ``x1, y1, x2, y2`` of the head region of a person box (xyxy absolute pixels):
    the top ``fraction`` of the box but at least a box width tall (a head-and-shoulders or
    sitting person's box is squat and the face sits lower in it), widened by 10% of the width on
    each side, clipped to the frame."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    bottom = y1 + min(h, max(fraction * h, w))
    return (max(0, int(x1 - 0.1 * w)), max(0, int(y1 - 0.05 * h)),
            min(frame_w, int(np.ceil(x2 + 0.1 * w))), min(frame_h, int(np.ceil(bottom))))


@dataclass
class Patch:
    """Pixels of a region of a frame, kept after the frame is gone.

    Attributes:
        image: the region's pixels (BGR).
        x0, y0: its top-left corner in the frame.
        frame_w, frame_h: the frame's size (regions are clipped to the frame, as on it).
    """

    image: np.ndarray
    x0: int
    y0: int
    frame_w: int
    frame_h: int

    @classmethod
    def whole(cls, image: np.ndarray) -> Patch:
        return cls(image, 0, 0, int(image.shape[1]), int(image.shape[0]))

    def region(self, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
        """Pixels of the frame rectangle [x1, x2) × [y1, y2) that this patch holds."""
        h, w = self.image.shape[:2]
        return self.image[max(0, y1 - self.y0):max(0, min(h, y2 - self.y0)),
                          max(0, x1 - self.x0):max(0, min(w, x2 - self.x0))]


def head_patch(image: np.ndarray, box: np.ndarray, cfg: FacesConfig) -> Patch:
    """The head region of a person box with a margin of half its longer side (room for a face
    thumbnail's margin, :func:`best_face_in_head`), copied out of the frame."""
    fh, fw = image.shape[:2]
    x1, y1, x2, y2 = head_region(box, fw, fh, cfg.head_fraction)
    m = (max(x2 - x1, y2 - y1) + 1) // 2
    x1, y1, x2, y2 = max(0, x1 - m), max(0, y1 - m), min(fw, x2 + m), min(fh, y2 + m)
    return Patch(image[y1:y2, x1:x2].copy(), x1, y1, fw, fh)


def face_quality(face: Face, scale: float, cfg: FacesConfig) -> tuple[float, float]:
    """Quality of a face in [0, 1] and its width in original pixels.

    ``scale`` is how much the image given to the detector was enlarged (width in original
    pixels = ``face.width / scale``). Quality = size term × sharpness term × frontalness term:
    size rises from 0 at ``min_face_px`` to 1 at ``ok_face_px``; sharpness (Laplacian variance
    of the aligned chip) saturates at 80; frontalness counts half.
    """
    width = face.width / scale
    span = max(cfg.ok_face_px - cfg.min_face_px, 1e-6)
    size = float(np.clip((width - cfg.min_face_px) / span, 0.0, 1.0))
    sharp = float(np.clip(sharpness(cv2.cvtColor(face.chip, cv2.COLOR_BGR2GRAY)) / 80.0, 0.0, 1.0))
    q = np.sqrt(size * sharp) * (0.5 + 0.5 * face.frontalness())
    return float(q), float(width)


@dataclass(slots=True)  # ~9,000 alive at a busy hour's end: no per-instance dict
class _Candidate:
    score: float
    pts_s: float
    frame_index: int
    box: tuple[float, float, float, float]
    # (head patch, person thumbnail) while a FaceTemplates waits for the track to finish
    pixels: tuple[Patch, np.ndarray] | None = None

    def with_pixels(self, image: np.ndarray, cfg: FacesConfig) -> _Candidate:
        box = np.asarray(self.box, np.float32)
        self.pixels = (head_patch(image, box, cfg),
                       _thumbnail(Patch.whole(image), box, 0.05, cfg.thumbnail_px))
        return self


@dataclass
class _TrackState:
    candidates: list[_Candidate] = field(default_factory=list)
    appearance_sum: np.ndarray | None = None
    appearance_n: int = 0
    last_seen_s: float = 0.0
    finished: bool = False


class FaceCandidates:
    """Per-track bounded buffer of the best frames for a face, filled during the stream.

    Holds ``candidates_per_track`` per track at most. Without ``templates`` it keeps their
    times and boxes only; with it, also their pixels until the track is finished
    (:meth:`finish_stale`), when ``templates`` turns them into the track's face template.

    Args:
        cfg: the faces section.
        templates: where finished tracks go (None: keep times and boxes only).
        finish_after_s: a track unseen for longer than this is finished; must exceed the
            tracker's lost timeout, so a finished track never comes back.
    """

    def __init__(self, cfg: FacesConfig, templates: FaceTemplates | None = None,
                 finish_after_s: float = 0.0) -> None:
        if templates is not None and finish_after_s <= 0:
            raise ValueError(f"FaceCandidates: finish_after_s must be > 0 with templates, got {finish_after_s}")
        self.cfg = cfg
        self.templates = templates
        self.finish_after_s = finish_after_s
        self._tracks: dict[int, _TrackState] = {}
        self._live: set[int] = set()

    def reset(self) -> None:
        self._tracks = {}
        self._live = set()

    def add(self, frame: Frame, tracked: Detections) -> None:
        """Consider one frame's tracked detections (``tracker_id`` set; empty is fine); with
        templates attached, finish the tracks unseen for ``finish_after_s`` first."""
        if self.templates is not None:
            self.finish_stale(frame.pts_s)
        if len(tracked) == 0 or tracked.tracker_id is None:
            return
        if self.templates is not None:
            self.templates.expect_faces()
        sig = tracked.data.get("appearance")
        if sig is None:
            sig = color_signatures(frame.image, tracked.xyxy)
        for i, tid in enumerate(tracked.tracker_id.tolist()):
            st = self._tracks.setdefault(tid, _TrackState())
            st.last_seen_s = frame.pts_s
            if self.templates is not None:
                if st.finished:  # cannot happen with finish_after_s > the lost timeout
                    raise RuntimeError(f"track {tid} seen again at {frame.pts_s} s after its faces were finished")
                self._live.add(tid)
            if st.appearance_sum is None:
                st.appearance_sum = np.zeros_like(sig[i], dtype=np.float64)
            if np.any(sig[i]):
                st.appearance_sum += sig[i]
                st.appearance_n += 1
            box = tracked.xyxy[i]
            hx1, hy1, hx2, hy2 = head_region(box, frame.width, frame.height, self.cfg.head_fraction)
            if hx2 - hx1 < 4 or hy2 - hy1 < 4:
                continue
            gray = cv2.cvtColor(frame.image[hy1:hy2, hx1:hx2], cv2.COLOR_BGR2GRAY)
            head_px = float(box[2] - box[0])
            score = (min(1.0, head_px / 120.0) * min(1.0, sharpness(gray) / 100.0) ** 0.5
                     * float(tracked.confidence[i]))
            slot = self._slot(st, score, frame.pts_s)
            if slot is None:
                continue
            c = _Candidate(score, frame.pts_s, frame.index, tuple(float(v) for v in box))
            if self.templates is not None:
                c.with_pixels(frame.image, self.cfg)
            if slot == len(st.candidates):
                st.candidates.append(c)
            else:
                st.candidates[slot] = c

    def _slot(self, st: _TrackState, score: float, pts_s: float) -> int | None:
        """Where a candidate of this score at this time goes (len = appended), or None."""
        cands = st.candidates
        near = [k for k, o in enumerate(cands) if abs(o.pts_s - pts_s) < self.cfg.candidate_min_gap_s]
        if near:
            k = max(near, key=lambda j: cands[j].pts_s)
            return k if score > cands[k].score else None
        if len(cands) < self.cfg.candidates_per_track:
            return len(cands)
        worst = min(range(len(cands)), key=lambda j: cands[j].score)
        return worst if score > cands[worst].score else None

    def finish_stale(self, pts_s: float) -> None:
        """Hand every track unseen since ``pts_s - finish_after_s`` to the templates."""
        stale = [t for t in self._live if pts_s - self._tracks[t].last_seen_s > self.finish_after_s]
        for tid in sorted(stale):
            self._finish(tid)

    def finish_all(self) -> None:
        """End of the stream: hand every track not finished yet to the templates."""
        for tid in sorted(self._live):
            self._finish(tid)

    def _finish(self, tid: int) -> None:
        st = self._tracks[tid]
        self._live.discard(tid)
        st.finished = True
        if self.templates is not None and st.candidates:
            self.templates.finish(tid, st.candidates)
        for c in st.candidates:
            c.pixels = None

    def wanted(self) -> dict[int, list[tuple[int, np.ndarray]]]:
        """Frame index → [(track id, person box xyxy)] of every kept candidate."""
        out: dict[int, list[tuple[int, np.ndarray]]] = {}
        for tid, st in self._tracks.items():
            for c in st.candidates:
                out.setdefault(c.frame_index, []).append((tid, np.asarray(c.box, np.float32)))
        return out

    def by_frame(self) -> dict[int, list[tuple[int, _Candidate]]]:
        """Frame index → [(track id, candidate)] of every kept candidate."""
        out: dict[int, list[tuple[int, _Candidate]]] = {}
        for tid, st in self._tracks.items():
            for c in st.candidates:
                out.setdefault(c.frame_index, []).append((tid, c))
        return out

    def appearance(self, track_id: int) -> np.ndarray | None:
        """Mean colour signature of a track, or None when no box gave one."""
        st = self._tracks.get(track_id)
        if st is None or st.appearance_n == 0 or st.appearance_sum is None:
            return None
        return (st.appearance_sum / st.appearance_n).astype(np.float32)

    def best_candidate(self, track_id: int) -> tuple[int, np.ndarray] | None:
        st = self._tracks.get(track_id)
        if not st or not st.candidates:
            return None
        c = max(st.candidates, key=lambda o: o.score)
        return c.frame_index, np.asarray(c.box, np.float32)

    def __len__(self) -> int:
        return len(self._tracks)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The state as plain arrays (the case store keeps them with the analysis stage, in an
        ``.npz``: ~300 bytes a track, where JSON lists held ~3.5 KiB a track until stored).

        Tracks in the order they were first seen; float64 scores, times and boxes, so the
        state read back with :meth:`from_arrays` is exactly this one.
        """
        states = list(self._tracks.items())
        sums = [st.appearance_sum for _, st in states]
        dim = next((len(a) for a in sums if a is not None), 0)
        cands = [c for _, st in states for c in st.candidates]
        return {
            "track_id": np.asarray([tid for tid, _ in states], np.int64),
            "appearance_n": np.asarray([st.appearance_n for _, st in states], np.int64),
            "has_appearance": np.asarray([a is not None for a in sums], bool),
            "appearance_sum": np.asarray([np.zeros(dim) if a is None else a for a in sums],
                                         np.float64).reshape(len(states), dim),
            "n_candidates": np.asarray([len(st.candidates) for _, st in states], np.int64),
            "candidate_frame": np.asarray([c.frame_index for c in cands], np.int64),
            "candidate": np.asarray([(c.score, c.pts_s, *c.box) for c in cands],
                                    np.float64).reshape(len(cands), 6),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], cfg: FacesConfig) -> FaceCandidates:
        """The candidates of :meth:`to_arrays` back."""
        out = cls(cfg)
        ends = np.cumsum(arrays["n_candidates"])
        rows = arrays["candidate"].tolist()
        frames = arrays["candidate_frame"].tolist()
        for k, tid in enumerate(arrays["track_id"].tolist()):
            a, b = int(ends[k] - arrays["n_candidates"][k]), int(ends[k])
            out._tracks[tid] = _TrackState(
                candidates=[_Candidate(r[0], r[1], frames[j], tuple(r[2:]))
                            for j, r in zip(range(a, b), rows[a:b])],
                appearance_sum=(arrays["appearance_sum"][k].copy()
                                if arrays["has_appearance"][k] else None),
                appearance_n=int(arrays["appearance_n"][k]),
            )
        return out


@dataclass
class _Found:
    quality: float
    width: float
    pts_s: float
    chip: np.ndarray
    thumb: np.ndarray


def _thumbnail(image: np.ndarray | Patch, box: Iterable[float], margin: float, size: int) -> np.ndarray:
    """The box with ``margin`` (a fraction of its size) around it, clipped to the frame, its
    longer side scaled to ``size``. ``image``: the frame, or a patch of it holding the box."""
    patch = image if isinstance(image, Patch) else Patch.whole(image)
    x1, y1, x2, y2 = (float(v) for v in box)
    mw, mh = margin * (x2 - x1), margin * (y2 - y1)
    crop = patch.region(max(0, int(x1 - mw)), max(0, int(y1 - mh)),
                        min(patch.frame_w, int(x2 + mw)), min(patch.frame_h, int(y2 + mh)))
    if crop.size == 0:
        return np.zeros((size, size, 3), np.uint8)
    s = size / max(crop.shape[:2])
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    return cv2.resize(crop, (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))),
                      interpolation=interp)


def write_jpeg(path: Path, image: np.ndarray, quality: int = 90) -> None:
    """Write a BGR image as JPEG atomically."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode {path} as JPEG")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.tobytes())


def best_face_in_head(models: FaceModels, image: np.ndarray | Patch, box: np.ndarray,
                      cfg: FacesConfig) -> tuple[Face, float, float, np.ndarray] | None:
    """Detect the face in a person box's head region.

    Args:
        image: the frame, or a patch of it holding the head region (:func:`head_patch`).

    Returns:
        (face with its box in frame pixels, quality, width in frame pixels, face thumbnail) of
        the largest face found, or None.
    """
    patch = image if isinstance(image, Patch) else Patch.whole(image)
    x1, y1, x2, y2 = head_region(box, patch.frame_w, patch.frame_h, cfg.head_fraction)
    crop = patch.region(x1, y1, x2, y2)
    if crop.shape[0] < 8 or crop.shape[1] < 8:
        return None
    scale = float(np.clip(cfg.head_min_width / crop.shape[1], 1.0, 4.0))
    if scale > 1.0:
        crop = cv2.resize(crop, (round(crop.shape[1] * scale), round(crop.shape[0] * scale)),
                          interpolation=cv2.INTER_CUBIC)
    faces = models.detector.detect(crop)
    if not faces:
        return None
    face = max(faces, key=lambda f: f.width)
    q, width = face_quality(face, scale, cfg)
    face.xyxy = face.xyxy / scale + np.array([x1, y1, x1, y1], np.float32)
    face.landmarks = face.landmarks / scale + np.array([x1, y1], np.float32)
    thumb = _thumbnail(patch, face.xyxy, 0.3, cfg.thumbnail_px)
    return face, q, width, thumb


def template_of(embeddings: np.ndarray) -> np.ndarray:
    """One template from (K, D) unit embeddings: their mean, renormalised to unit length."""
    m = embeddings.mean(axis=0)
    return (m / max(float(np.linalg.norm(m)), 1e-12)).astype(np.float32)


class FaceTemplates:
    """Turns finished tracks' candidate pixels into face templates and writes the results.

    Per track (:meth:`finish`): faces detected in the kept head regions, in frame order; the
    best ``faces_per_template`` (quality) embedded; faces that disagree with the best one (a
    track that switched people) dropped and counted; the template and the face and person
    thumbnails written under ``faces/<slug>/``. :meth:`write` writes ``faces.json``.

    Args:
        models: face detector and embedder, or a function giving them (called at the first
            finished track: the models may still be loading then).
        cfg: the faces section.
        out_dir: the scan's output folder.
        slug: the source's folder name.
        prefetch: starts loading the models in the background; called when the first person
            is tracked (:meth:`expect_faces`).
    """

    def __init__(self, models: FaceModels | Callable[[], FaceModels], cfg: FacesConfig,
                 out_dir: Path, slug: str, prefetch: Callable[[], None] | None = None) -> None:
        self._models = models
        self._prefetch = prefetch
        self.cfg, self.out_dir, self.slug = cfg, out_dir, slug
        self.records: dict[int, dict[str, Any]] = {}
        self.n_faces = 0
        self.summary: dict[str, Any] = {}
        # per track, after write(): (track, n_faces, quality, face_px, best_face_s, template as
        # JSON text): the case store's ``faces`` table, so faces.json is never read back
        self.rows: list[tuple[int, int, Any, Any, Any, str]] = []
        self.thumbnails: list[str] = []  # after write(): relative to the output folder

    @property
    def models(self) -> FaceModels:
        if callable(self._models):
            self._models = self._models()
        return self._models

    def expect_faces(self) -> None:
        """A person is tracked: start loading the models (``prefetch``, once) so that they are
        ready when the track finishes. Footage where nobody is tracked never loads them
        (importing dlib and deepface: ~0.55 s and ~40 MiB)."""
        if self._prefetch is not None:
            prefetch, self._prefetch = self._prefetch, None
            prefetch()

    def finish(self, tid: int, candidates: list[_Candidate]) -> None:
        cfg, slug = self.cfg, self.slug
        rec = self.records.setdefault(tid, {})
        best = max(candidates, key=lambda c: c.score)
        if best.pixels is not None:
            rel = f"faces/{slug}/t{tid}_person.jpg"
            write_jpeg(self.out_dir / rel, best.pixels[1])
            rec["person_thumbnail"] = rel
        found: list[_Found] = []
        for c in sorted(candidates, key=lambda c: c.frame_index):
            if c.pixels is None:
                continue
            hit = best_face_in_head(self.models, c.pixels[0], np.asarray(c.box, np.float32), cfg)
            if hit is not None:
                face, q, width, thumb = hit
                if width >= cfg.min_face_px:
                    self.n_faces += 1
                    found.append(_Found(q, width, c.pts_s, face.chip, thumb))
        got = sorted(found, key=lambda f: -f.quality)[: cfg.faces_per_template]
        if not got:
            return
        emb = self.models.embedder.embed([f.chip for f in got])
        # A track that switched people holds faces of two persons: keep the faces that agree
        # with the best one (within the match threshold), count the others.
        keep = (1.0 - emb @ emb[0]) <= self.models.threshold
        rec["face_outliers"] = int((~keep).sum())
        emb, got = emb[keep], [f for f, k in zip(got, keep) if k]
        rel = f"faces/{slug}/t{tid}.jpg"
        write_jpeg(self.out_dir / rel, got[0].thumb)
        q = float(np.mean([f.quality for f in got]))
        rec.update({
            "template": [round(float(v), 6) for v in template_of(emb)],
            "n_faces": len(got), "face_quality": round(q, 3),
            "face_px": round(float(max(f.width for f in got)), 1),
            "quality": "ok" if q >= cfg.min_quality else "low",
            "best_face_s": round(got[0].pts_s, 3), "thumbnail": rel,
        })

    def write(self, candidates: FaceCandidates, tracks: list[Any]) -> dict[str, Any]:
        """Write ``sources/<slug>/faces.json``; returns the summary for the manifest: tracks,
        with_face, low_quality, skipped_no_face, candidate_frames, faces_found, embedder."""
        out_tracks = []
        for t in tracks:
            rec = self.records.get(t.track_id, {})
            sig = candidates.appearance(t.track_id)
            out_tracks.append({
                "track": t.track_id, "start_s": round(t.start_s, 3), "end_s": round(t.end_s, 3),
                "quality": rec.get("quality"), "n_faces": rec.get("n_faces", 0),
                "face_quality": rec.get("face_quality"), "face_px": rec.get("face_px"),
                "best_face_s": rec.get("best_face_s"), "face_outliers": rec.get("face_outliers", 0),
                "thumbnail": rec.get("thumbnail"), "person_thumbnail": rec.get("person_thumbnail"),
                "appearance": None if sig is None else [round(float(v), 5) for v in sig],
                "template": rec.get("template"),
            })
        self.rows = [(r["track"], r["n_faces"], r["quality"], r["face_px"], r["best_face_s"],
                      json.dumps(r["template"])) for r in out_tracks]
        self.thumbnails = [r[k] for r in out_tracks for k in ("thumbnail", "person_thumbnail") if r[k]]
        with_face = sum(r["template"] is not None for r in out_tracks)
        # the configured embedder (detectors.faces.build_face_models): asking the loaded models
        # would load them for a source where nobody was tracked
        name = self.cfg.embedder
        summary = {
            "tracks": len(out_tracks),
            "with_face": with_face,
            "low_quality": sum(r["quality"] == "low" for r in out_tracks),
            "skipped_no_face": len(out_tracks) - with_face,
            "candidate_frames": sum(len(v) for v in candidates.wanted().values()),
            "faces_found": self.n_faces,
            "embedder": name,
        }
        write_json_atomic(self.out_dir / "sources" / self.slug / FACES_JSON,
                          {"embedder": name, "summary": summary, "tracks": out_tracks})
        self.summary = summary
        return summary


def track_faces(
    frames: Iterable[Frame],
    candidates: FaceCandidates,
    models: FaceModels,
    cfg: FacesConfig,
    tracks: list[Any],
    out_dir: Path,
    slug: str,
) -> dict[str, Any]:
    """Faces from a re-decoded source, for candidates that come from the case store.

    Cuts the same pixels the streaming pass would have kept from the chosen frames, finishes
    each track as soon as the stream passes its last chosen frame, and writes what
    :class:`FaceTemplates` writes.

    Args:
        frames: the source decoded again (same analysis rate, so the same frame indices).
        candidates: what the streaming pass kept (times and boxes).
        models: loaded face detector and embedder.
        cfg: the faces section.
        tracks: the source's Track objects (for their time spans).
        out_dir: the scan's output folder.
        slug: the source's folder name.

    Returns:
        The written templates (:meth:`FaceTemplates.write` done; its summary in ``.summary``).
    """
    templates = FaceTemplates(models, cfg, out_dir, slug)
    by_frame = candidates.by_frame()
    last_frame: dict[int, int] = {}
    for idx, items in by_frame.items():
        for tid, _ in items:
            last_frame[tid] = max(last_frame.get(tid, -1), idx)
    kept: dict[int, list[_Candidate]] = {}
    end = max(by_frame) if by_frame else -1
    for frame in frames:
        if frame.index > end:
            break
        for tid, c in by_frame.get(frame.index, []):
            kept.setdefault(tid, []).append(
                _Candidate(c.score, c.pts_s, c.frame_index, c.box).with_pixels(frame.image, cfg))
            if last_frame[tid] == frame.index:
                templates.finish(tid, kept.pop(tid))
    for tid in sorted(kept):
        templates.finish(tid, kept.pop(tid))
    templates.write(candidates, tracks)
    return templates


def load_face_tracks(out_dir: Path, slug: str) -> list[dict[str, Any]]:
    """The per-track face records a scan wrote for one source ([] when none)."""
    p = out_dir / "sources" / slug / FACES_JSON
    if not p.is_file():
        return []
    return json.loads(p.read_text(encoding="utf-8"))["tracks"]


