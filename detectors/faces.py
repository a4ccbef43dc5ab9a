"""Face detector and face embedder adapters behind two small protocols.

- :class:`FaceDetector`: ``detect(image) -> list[Face]``, each face with its box, detector
  score, five landmarks and an aligned 150×150 chip (dlib's alignment, the one its embedding
  network was trained on).
- :class:`FaceEmbedder`: ``embed(chips) -> (N, D)`` L2-normalised float32 embeddings.

Adapters: ``DlibFaceDetector`` (dlib's HOG frontal face detector + 5-point shape predictor)
and ``DeepFaceEmbedder`` (a deepface recognition model by name, ``Dlib`` by default). Model
files are resolved through the face model registry (``detectors.models.FACE_REGISTRY``), so
the Dlib weights come from the installed ``face_recognition_models`` package offline, checked
against their sha256, and are handed to deepface through a private ``DEEPFACE_HOME``.
Heavy imports (dlib, deepface) happen in the constructors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from detectors.models import FACE_REGISTRY, ResolvedModel, resolve, sha256_file
from pipeline.config import FacesConfig, ModelsConfig
from pipeline.errors import ModelError, OutputError

CHIP_SIZE = 150
CHIP_PADDING = 0.25

# Cosine distance thresholds per deepface model name, measured by bench/eval_faces.py on every
# labelled face we hold outside the deepface test pairs: the dlib face chips (5 people × 11)
# and 14 single-face photos of 5 people from face_recognition's examples (2,346 pairs).
# Same-person distances reach 0.0616, different-person ones start at 0.0983; the threshold is
# the middle of that gap. Models not measured here use deepface's published cosine threshold.
CALIBRATED_THRESHOLDS: dict[str, float] = {"Dlib": 0.080}
DEEPFACE_THRESHOLDS: dict[str, float] = {
    "VGG-Face": 0.68, "Facenet": 0.40, "Facenet512": 0.30, "ArcFace": 0.68, "Dlib": 0.07,
    "SFace": 0.593, "OpenFace": 0.10, "DeepFace": 0.23, "DeepID": 0.015, "GhostFaceNet": 0.65,
}


def match_threshold(model_name: str) -> float:
    """Calibrated cosine-distance threshold of an embedder (same person at or below it)."""
    if model_name in CALIBRATED_THRESHOLDS:
        return CALIBRATED_THRESHOLDS[model_name]
    if model_name in DEEPFACE_THRESHOLDS:
        return DEEPFACE_THRESHOLDS[model_name]
    raise ModelError(f"no threshold known for face model {model_name!r}; set faces.match_threshold")


@dataclass
class Face:
    """One detected face.

    Attributes:
        xyxy: (4,) float32 box, absolute pixels of the image given to ``detect``.
        score: detector score (dlib HOG: about -0.5 to 3; higher is surer).
        landmarks: (5, 2) float32 pixel points (dlib order: right eye outer/inner corner, left
            eye outer/inner corner, bottom of the nose).
        chip: (150, 150, 3) uint8 BGR aligned face.
    """

    xyxy: np.ndarray
    score: float
    landmarks: np.ndarray
    chip: np.ndarray

    @property
    def width(self) -> float:
        return float(self.xyxy[2] - self.xyxy[0])

    @property
    def eye_distance(self) -> float:
        """Distance between the eye centres, pixels."""
        r = self.landmarks[0:2].mean(axis=0)
        left = self.landmarks[2:4].mean(axis=0)
        return float(np.linalg.norm(left - r))

    def frontalness(self) -> float:
        """1 for a frontal face, falling to 0 as the nose moves out over one eye (yaw)."""
        r = self.landmarks[0:2].mean(axis=0)
        left = self.landmarks[2:4].mean(axis=0)
        axis = left - r
        d = float(axis @ axis)
        if d < 1e-6:
            return 0.0
        t = float((self.landmarks[4] - r) @ axis) / d  # nose position along the eye axis, 0..1
        return float(np.clip(1.0 - 2.0 * abs(t - 0.5), 0.0, 1.0))


class FaceDetector(Protocol):
    """Finds faces in one H×W×3 uint8 BGR image; boxes in that image's absolute pixels."""

    def detect(self, image: np.ndarray, upsample: int = 0, max_side: int = 0) -> list[Face]: ...

    def manifest(self) -> dict[str, Any]: ...


class FaceEmbedder(Protocol):
    """Embeds aligned face chips: list of (150, 150, 3) uint8 BGR → (N, D) float32, L2 unit rows."""

    name: str

    def embed(self, chips: list[np.ndarray]) -> np.ndarray: ...

    def manifest(self) -> dict[str, Any]: ...


# sha256 of dlib's built-in HOG frontal face detector as ``save()`` writes it, per dlib version
# (deterministic: the same bytes in every process). A pinned version loads the detector from a
# copy in the cache folder, checked against this digest, in ~2 ms instead of the ~0.24 s that
# ``get_frontal_face_detector()`` takes to unpack it, holding the GIL, so the analysis stalls
# while the face models load. An unpinned version uses dlib's own every time (correct, slower).
# tests/faces/test_frontal_cache.py checks the installed version's pin.
FRONTAL_DETECTOR_SHA256: dict[str, str] = {
    "20.0.1": "f3f7aa833fb4a14a46fc48689f45b98d85ef72d6dfaf8bdc012b7d3c522a5426",
}


def frontal_face_detector(dlib: Any, cache_dir: str | Path | None) -> Any:
    """dlib's built-in frontal face detector, from the cache folder's copy where that copy's
    sha256 is the one pinned for the installed dlib (:data:`FRONTAL_DETECTOR_SHA256`), else
    from dlib, writing the copy (atomically, only if it hashes to the pin) for next time.
    The copy is the same detector: same faces, scores and boxes (tested)."""
    pin = FRONTAL_DETECTOR_SHA256.get(getattr(dlib, "__version__", ""))
    if pin is None or cache_dir is None:
        return dlib.get_frontal_face_detector()
    path = Path(cache_dir).expanduser() / f"dlib-{dlib.__version__}-frontal_face_detector.svm"
    try:
        if path.is_file() and sha256_file(path) == pin:
            return dlib.fhog_object_detector(str(path))
    except (OSError, RuntimeError):
        pass  # unreadable or not a detector: built again below
    detector = dlib.get_frontal_face_detector()
    try:
        from pipeline.outputs.atomic import atomic_path

        with atomic_path(path) as tmp:
            detector.save(str(tmp))
            if sha256_file(tmp) != pin:
                raise OSError(f"{path.name}: not the pinned detector")  # never moved into place
    except (OSError, OutputError, RuntimeError):
        pass  # a read-only cache, or a dlib build that saves other bytes: dlib's own each time
    return detector


class DlibFaceDetector:
    """dlib's HOG frontal face detector, 5-point landmarks and dlib chip alignment.

    Args:
        landmarks: the resolved ``dlib_landmarks_5`` model file.
        threshold: detector score threshold (dlib's ``adjust_threshold``).
        cache_dir: reunite's cache folder (``models.cache_dir``), where the HOG detector's
            checked copy is kept (:func:`frontal_face_detector`); None: dlib's own every time.
    """

    def __init__(self, landmarks: ResolvedModel, threshold: float = 0.0,
                 cache_dir: str | Path | None = None) -> None:
        import dlib

        self._dlib = dlib
        self._detector = frontal_face_detector(dlib, cache_dir)
        self._shape = dlib.shape_predictor(str(landmarks.path))
        self.threshold = threshold
        self.model = landmarks

    def detect(self, image: np.ndarray, upsample: int = 0, max_side: int = 0) -> list[Face]:
        """Faces in ``image`` (H×W×3 uint8 BGR), best score first.

        Args:
            image: the image.
            upsample: times dlib doubles the image before scanning (each finds faces half as
                big: ~80 px at 0, ~40 px at 1; 4× slower each).
            max_side: when > 0, scan a copy shrunk to this longer side (big photos); the
                landmarks and the chip still come from the full-resolution image.
        """
        if image.size == 0:
            return []
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        scale = 1.0
        small = rgb
        if max_side and max(rgb.shape[:2]) > max_side:
            scale = max_side / max(rgb.shape[:2])
            small = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                               interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(small, upsample, self.threshold)
        faces = []
        for rect, score in sorted(zip(rects, scores), key=lambda p: -p[1]):
            if scale != 1.0:
                rect = self._dlib.rectangle(
                    round(rect.left() / scale), round(rect.top() / scale),
                    round(rect.right() / scale), round(rect.bottom() / scale))
            shape = self._shape(rgb, rect)
            pts = np.array([[p.x, p.y] for p in shape.parts()], np.float32)
            chip = self._dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
            h, w = image.shape[:2]
            box = np.array([max(0, rect.left()), max(0, rect.top()), min(w, rect.right()),
                            min(h, rect.bottom())], np.float32)
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            faces.append(Face(box, float(score), pts, np.ascontiguousarray(chip[:, :, ::-1])))
        return faces

    def manifest(self) -> dict[str, Any]:
        return {"detector": "dlib HOG frontal face detector (built into dlib)",
                "landmarks": self.model.manifest()}


def _deepface_home(model: ResolvedModel, cache_dir: str) -> Path:
    """A private DEEPFACE_HOME whose weights folder links to the registry-resolved file."""
    home = Path(cache_dir).expanduser() / "deepface_home"
    weights = home / ".deepface" / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    link = weights / model.spec.filename
    if link.is_symlink() or link.exists():
        if link.resolve() == model.path.resolve():
            return home
        link.unlink()
    try:
        link.symlink_to(model.path.resolve())
    except OSError:
        import shutil

        shutil.copyfile(model.path, link)
    return home


class DeepFaceEmbedder:
    """A deepface recognition model applied to dlib-aligned chips.

    ``Dlib`` gets its weights from the model registry (offline); other deepface models are
    fetched by deepface into its home folder, which needs ``models.allow_download``.
    """

    def __init__(self, model_name: str, models: ModelsConfig) -> None:
        os.environ.setdefault("DEEPFACE_BACKEND_ENGINE", "onnx")
        self.name = model_name
        self.resolved: ResolvedModel | None = None
        if model_name == "Dlib":
            self.resolved = resolve("dlib_face_resnet", models.dir, models.cache_dir,
                                    models.allow_download, FACE_REGISTRY)
            os.environ["DEEPFACE_HOME"] = str(_deepface_home(self.resolved, models.cache_dir))
        elif not models.allow_download:
            raise ModelError(
                f"face model {model_name!r}: deepface downloads its weights at first use; set "
                "models.allow_download=true, or use faces.embedder=Dlib (offline)"
            )
        try:
            from deepface.modules import modeling

            self._model = modeling.build_model(task="facial_recognition", model_name=model_name)
        except (ValueError, ImportError, OSError) as exc:
            raise ModelError(f"face model {model_name!r} cannot be loaded ({exc})") from None
        self._size = tuple(getattr(self._model, "input_shape", (CHIP_SIZE, CHIP_SIZE)))

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """(N, D) float32 L2-normalised embeddings of (150, 150, 3) uint8 BGR chips.

        Each chip is embedded as it is and mirrored, and the two are averaged (test-time flip:
        on bench/eval_faces.py's calibration faces it widened the gap between same- and
        different-person distances from 0.0702-0.0959 to 0.0616-0.0983).
        """
        rows = []
        for chip in chips:
            img = chip
            if img.shape[:2] != (self._size[1], self._size[0]):
                img = cv2.resize(img, (self._size[1], self._size[0]), interpolation=cv2.INTER_AREA)
            if self.name != "Dlib":
                img = img.astype(np.float32) / 255.0
            pair = np.stack([img, np.ascontiguousarray(img[:, ::-1])])
            out = np.asarray(self._model.forward(pair), np.float32).reshape(2, -1)
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
            v = out.mean(axis=0)
            rows.append(v / max(float(np.linalg.norm(v)), 1e-12))
        if not rows:
            return np.zeros((0, 0), np.float32)
        return np.stack(rows)

    def manifest(self) -> dict[str, Any]:
        return {"embedder": f"deepface {self.name}",
                "weights": self.resolved.manifest() if self.resolved else "deepface download"}


@dataclass
class FaceModels:
    """The face detector and embedder a scan or an enrollment loads once."""

    detector: FaceDetector
    embedder: FaceEmbedder
    threshold: float

    def manifest(self) -> dict[str, Any]:
        return {**self.detector.manifest(), **self.embedder.manifest(),
                "match_threshold_cosine": self.threshold}


def build_face_models(faces: FacesConfig, models: ModelsConfig) -> FaceModels:
    """Resolve and load the face detector and the configured embedder.

    Raises:
        ModelError: a model file is missing or fails its checksum, or the embedder is unknown.
    """
    try:
        landmarks = resolve("dlib_landmarks_5", models.dir, models.cache_dir,
                            models.allow_download, FACE_REGISTRY)
        try:
            detector = DlibFaceDetector(landmarks, faces.detector_threshold, models.cache_dir)
        except ImportError as exc:
            raise ModelError(f"face detector: dlib cannot be imported ({exc})") from None
        embedder = DeepFaceEmbedder(faces.embedder, models)
    except ModelError as exc:
        raise ModelError(f"{exc} (or scan without faces: --set faces.enabled=false)") from None
    thr = faces.match_threshold if faces.match_threshold is not None else match_threshold(faces.embedder)
    return FaceModels(detector, embedder, thr)


def face_models_identity(faces: FacesConfig, models: ModelsConfig) -> dict[str, Any]:
    """What :meth:`FaceModels.manifest` will say, found without loading the models (files
    resolved and checksummed): the driver records it and the face stage's key hashes it.

    Raises:
        ModelError: as :func:`build_face_models` would.
    """
    try:
        landmarks = resolve("dlib_landmarks_5", models.dir, models.cache_dir,
                            models.allow_download, FACE_REGISTRY)
        if faces.embedder == "Dlib":
            weights: Any = resolve("dlib_face_resnet", models.dir, models.cache_dir,
                                   models.allow_download, FACE_REGISTRY).manifest()
        elif not models.allow_download:
            raise ModelError(
                f"face model {faces.embedder!r}: deepface downloads its weights at first use; "
                "set models.allow_download=true, or use faces.embedder=Dlib (offline)")
        else:
            weights = "deepface download"
    except ModelError as exc:
        raise ModelError(f"{exc} (or scan without faces: --set faces.enabled=false)") from None
    thr = faces.match_threshold if faces.match_threshold is not None else match_threshold(faces.embedder)
    return {"detector": "dlib HOG frontal face detector (built into dlib)",
            "landmarks": landmarks.manifest(), "embedder": f"deepface {faces.embedder}",
            "weights": weights, "match_threshold_cosine": thr}
