"""The models one worker uses, loaded on first use, and their identities for stage keys.

The driver resolves the model files once (cheap: find and checksum, no loading) into
:class:`ModelIds`; each worker (the driver itself, a process, a Ray actor) holds a
:class:`Models` and loads a model only when a stage has to run it, so a scan that reuses every
stored stage loads nothing.
"""

from __future__ import annotations

import threading

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.config import Config


@dataclass(frozen=True)
class ModelIds:
    """What the manifest records and the stage keys hash: the person model's manifest entry
    (``sha256`` among it) and the face models' (None when faces are off)."""

    person: dict[str, Any]
    faces: dict[str, Any] | None


def resolve_model_ids(cfg: Config) -> ModelIds:
    """Find and checksum the configured models without loading them.

    Raises:
        ModelError: a model is unknown, missing, or fails its checksum.
    """
    from detectors import resolve_detector_model
    from detectors.faces import face_models_identity

    person = resolve_detector_model(cfg.detector, cfg.models).manifest()
    faces = face_models_identity(cfg.faces, cfg.models) if cfg.faces.enabled else None
    return ModelIds(person, faces)


_LOAD_LOCK = threading.RLock()


class Models:
    """Lazily loaded models of one worker.

    Args:
        cfg: the resolved config (which models, thresholds).
        ids: the resolved identities (from the driver).
        detector_factory / faces_factory: build the models (default: from ``cfg``); tests and
            benches pass a detector they already loaded.
    """

    def __init__(self, cfg: Config, ids: ModelIds,
                 detector_factory: Callable[[], Any] | None = None,
                 faces_factory: Callable[[], Any] | None = None) -> None:
        self.cfg, self.ids = cfg, ids
        self._factories = {"detector": detector_factory, "faces": faces_factory}
        self._loaded: dict[str, Any] = {}

    def _get(self, name: str, default: Callable[[], Any]) -> Any:
        with _LOAD_LOCK:  # prefetch() may be loading it in another thread
            if name not in self._loaded:
                self._loaded[name] = (self._factories[name] or default)()
            return self._loaded[name]

    def prefetch_faces(self) -> None:
        """Start loading the face models in a background thread (importing dlib and deepface
        takes ~1 s, mostly while the analysis pass waits on the decoder and the detector,
        which release the GIL); :meth:`faces` waits for it. A failure surfaces there."""
        if "faces" in self._loaded:
            return

        def load() -> None:
            try:
                self.faces()
            except Exception:  # noqa: BLE001 - faces() raises it again in the caller's thread
                pass

        threading.Thread(target=load, name="reunite-face-models", daemon=True).start()

    def detector(self) -> Any:
        """The person detector (detectors.base.PersonDetector)."""
        from detectors import build_person_detector

        return self._get("detector", lambda: build_person_detector(self.cfg.detector, self.cfg.models))

    def faces(self) -> Any:
        """The face models (detectors.faces.FaceModels)."""
        from detectors.faces import build_face_models

        return self._get("faces", lambda: build_face_models(self.cfg.faces, self.cfg.models))
