"""Stage keys and stored forms: what makes a stored stage output reusable.

A stage's key hashes everything its output depends on: the source's sha256, the config keys
the stage reads, the sha256 of the model files it runs, the stage's code version, and the key
of the stage upstream. Change ``events:`` and only the events key (and what hangs below it)
changes; change ``detector:`` and every key changes.

| stage | reads | upstream |
|---|---|---|
| analysis | ingest, detector, tracker, the face-candidate keys of faces, person model | — |
| events | attributes, events | analysis |
| faces | faces (less the scan-level thresholds), face models | analysis |

Bump a stage's entry in ``STAGE_VERSIONS`` when its code changes what it outputs: stored
results of the old code are then not reused.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.config import Config, config_hash
from pipeline.faces import FaceCandidates
from pipeline.types import Track

STAGE_VERSIONS = {"analysis": 1, "events": 1, "faces": 1}

# faces: keys read while streaming (candidate frames), so they belong to the analysis stage.
FACE_CANDIDATE_KEYS = ("enabled", "candidates_per_track", "candidate_min_gap_s", "head_fraction")
# faces: keys used only when matching across the scan (recomputed every run, never stored).
FACE_SCAN_KEYS = ("match_threshold", "identity_threshold", "appearance_threshold")


def _key(stage: str, **parts: Any) -> str:
    return config_hash({"stage": stage, "version": STAGE_VERSIONS[stage], **parts})


def analysis_key(sha256: str, cfg: Config, person_model_sha256: str) -> str:
    faces = cfg.faces.model_dump(mode="json")
    return _key("analysis", sha256=sha256, ingest=cfg.ingest.model_dump(mode="json"),
                detector=cfg.detector.model_dump(mode="json"),
                tracker=cfg.tracker.model_dump(mode="json"), model=person_model_sha256,
                face_candidates={k: faces[k] for k in FACE_CANDIDATE_KEYS})


def events_key(upstream: str, cfg: Config) -> str:
    return _key("events", upstream=upstream, attributes=cfg.attributes.model_dump(mode="json"),
                events=cfg.events.model_dump(mode="json"))


def faces_key(upstream: str, cfg: Config, face_models_id: dict[str, Any]) -> str:
    faces = {k: v for k, v in cfg.faces.model_dump(mode="json").items() if k not in FACE_SCAN_KEYS}
    return _key("faces", upstream=upstream, faces=faces, models=face_models_id)


# -- stored forms -------------------------------------------------------------------------------

def _num(v: float) -> float | None:
    return None if math.isnan(v) else v


def track_to_payload(t: Track) -> dict[str, Any]:
    """Every observation at full precision (floats round-trip exactly through JSON)."""
    return {
        "track_id": t.track_id, "source_id": t.source_id, "pts_s": t.pts_s,
        "frame_index": t.frame_index, "xyxy": [list(b) for b in t.xyxy],
        "confidence": t.confidence, "attributes": t.attributes,
        "extras": {k: [_num(v) for v in col] for k, col in t.extras.items()},
    }


def track_from_payload(d: dict[str, Any]) -> Track:
    return Track(
        track_id=int(d["track_id"]), source_id=d["source_id"], pts_s=list(d["pts_s"]),
        frame_index=list(d["frame_index"]), xyxy=[tuple(b) for b in d["xyxy"]],
        confidence=list(d["confidence"]), attributes=dict(d["attributes"]),
        extras={k: [float("nan") if v is None else v for v in col] for k, col in d["extras"].items()},
    )


def candidates_to_payload(c: FaceCandidates | None) -> dict[str, Any] | None:
    return None if c is None else c.to_state()


def candidates_from_payload(d: dict[str, Any] | None, cfg: Config) -> FaceCandidates | None:
    return None if d is None else FaceCandidates.from_state(d, cfg.faces)
