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

import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

import numpy as np

from pipeline.config import Config, config_hash
from pipeline.faces import FaceCandidates
from pipeline.types import Track

# events 2: carry evidence linked across the carrier's track breaks; events carry adult_tracks
# events 3: lead-away time counted over chains of pairs across track breaks, as carry's is
# analysis 3: libav's repeated log lines are each counted as a decode fault of the file being
# decoded (pipeline.ingest._libav_log_capture); stored decode reports may have undercounted
# them, or held a line of another file.
STAGE_VERSIONS = {"analysis": 3, "events": 4, "faces": 2}

# faces: keys read while streaming (candidate frames), so they belong to the analysis stage.
FACE_CANDIDATE_KEYS = ("enabled", "candidates_per_track", "candidate_min_gap_s", "head_fraction")
# faces: keys used only when matching across the scan (recomputed every run, never stored).
FACE_SCAN_KEYS = ("match_threshold", "identity_threshold", "appearance_threshold")


def _key(stage: str, **parts: Any) -> str:
    return config_hash({"stage": stage, "version": STAGE_VERSIONS[stage], **parts})


# Knobs that change how fast the analysis runs, never what it finds (decoding is exact whatever
# the threads; onnxruntime's boxes are bit-identical for 1-4 threads): a rescan with other
# values reuses the stored analysis.
_SPEED_ONLY = {"ingest": ("queue_size", "queue_mib", "decode_threads"), "detector": ("threads",)}


def _results_part(section: str, cfg_section: Any) -> dict[str, Any]:
    d = cfg_section.model_dump(mode="json")
    return {k: v for k, v in d.items() if k not in _SPEED_ONLY.get(section, ())}


def analysis_key(sha256: str, cfg: Config, person_model_sha256: str) -> str:
    faces = cfg.faces.model_dump(mode="json")
    return _key("analysis", sha256=sha256, ingest=_results_part("ingest", cfg.ingest),
                detector=_results_part("detector", cfg.detector),
                tracker=cfg.tracker.model_dump(mode="json"), model=person_model_sha256,
                face_candidates={k: faces[k] for k in FACE_CANDIDATE_KEYS})


def events_key(upstream: str, cfg: Config) -> str:
    return _key("events", upstream=upstream, attributes=cfg.attributes.model_dump(mode="json"),
                events=cfg.events.model_dump(mode="json"))


def faces_key(upstream: str, cfg: Config, face_models_id: dict[str, Any]) -> str:
    faces = {k: v for k, v in cfg.faces.model_dump(mode="json").items() if k not in FACE_SCAN_KEYS}
    return _key("faces", upstream=upstream, faces=faces, models=face_models_id)


# -- stored forms -------------------------------------------------------------------------------

TRACKS_FILE = "tracks.npz"
CANDIDATES_FILE = "face_candidates.npz"
_COLUMNS = (("pts_s", np.float64, ()), ("frame_index", np.int32, ()), ("xyxy", np.float32, (4,)),
            ("confidence", np.float32, ()))


class _Rows:
    """An array handed to :func:`_npz` as consecutive blocks of rows, never joined: a busy
    hour's box column is ~4 MiB, and joining it and then writing it took ~17 MiB for a
    moment (the join, then ``write_array``'s buffered copies)."""

    def __init__(self, dtype: Any, n_rows: int, row_shape: tuple[int, ...],
                 blocks: Iterable[np.ndarray]) -> None:
        self.dtype, self.shape, self.blocks = np.dtype(dtype), (n_rows, *row_shape), blocks


def _npz(arrays: Iterable[tuple[str, np.ndarray | _Rows]], into: BinaryIO | None = None
         ) -> bytes | None:
    """A compressed ``.npz`` of named arrays (what ``np.savez_compressed`` writes, read back
    by ``np.load``), written one array, or one block of rows (:class:`_Rows`), at a time as
    ``arrays`` yields them; no pickle. Written into ``into`` (an open binary file: returns
    None) or returned as bytes."""
    buf = io.BytesIO() if into is None else into
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays:
            with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                if not isinstance(arr, _Rows):
                    np.lib.format.write_array(fh, np.asarray(arr), allow_pickle=False)
                    continue
                header = {"descr": np.lib.format.dtype_to_descr(arr.dtype),
                          "fortran_order": False, "shape": arr.shape}
                np.lib.format.write_array_header_2_0(fh, header)
                for block in arr.blocks:
                    fh.write(np.ascontiguousarray(block, arr.dtype).reshape(-1).view(np.uint8))
    return buf.getvalue() if into is None else None


def tracks_to_stage(tracks: Sequence[Track], into: BinaryIO | None = None
                    ) -> tuple[dict[str, Any], bytes | None]:
    """The stored form of a source's tracks: (JSON part: per track its id, attributes and
    extras names; every observation, as one ``.npz`` of columns, compressed).

    The columns keep the tracks' own dtypes (float64 times, float32 boxes, confidences and
    extras), so tracks read back with :func:`tracks_from_stage` are exactly the live ones and
    everything computed from them (events, tracks.jsonl) is byte-identical. No pickle: the
    ``.npz`` holds plain arrays only, read with ``allow_pickle=False``. Each column is written
    track by track, so the transient memory is one track's column, not the source's; with
    ``into`` (an open binary file) the ``.npz`` goes there and None comes back instead of
    its bytes (a busy hour's is ~11 MiB, held until the driver stores it otherwise).
    """
    names = list(dict.fromkeys(k for t in tracks for k in t.extras))
    meta = [{"track_id": t.track_id, "attributes": t.attributes, "extras": list(t.extras)}
            for t in tracks]

    def columns() -> Iterator[tuple[str, np.ndarray | _Rows]]:
        n = np.asarray([len(t) for t in tracks], np.int64)
        yield "n", n
        rows = int(n.sum())
        for name, dtype, shape in _COLUMNS:
            yield name, _Rows(dtype, rows, shape, (getattr(t, name) for t in tracks))
        for k, name in enumerate(names):
            yield f"extras_{k}", _Rows(np.float32, rows, (), (
                t.extras[name] if name in t.extras else np.full(len(t), np.nan, np.float32)
                for t in tracks))

    return {"extras_names": names, "tracks": meta}, _npz(columns(), into)


def tracks_from_stage(doc: dict[str, Any], blob: bytes, source_id: str) -> list[Track]:
    """The tracks of :func:`tracks_to_stage` back (``doc``: its JSON part), for ``source_id``."""
    names = doc["extras_names"]
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        cols = {name: z[name] for name, _, _ in _COLUMNS}
        extras = {name: z[f"extras_{k}"] for k, name in enumerate(names)}
        n = z["n"]
    ends = np.cumsum(n)
    out = []
    for m, a, b in zip(doc["tracks"], (ends - n).tolist(), ends.tolist()):
        out.append(Track(
            track_id=int(m["track_id"]), source_id=source_id, attributes=dict(m["attributes"]),
            **{name: col[a:b] for name, col in cols.items()},
            extras={name: extras[name][a:b] for name in m["extras"]},
        ))
    return out


def candidates_to_stage(c: FaceCandidates, into: BinaryIO | None = None) -> bytes | None:
    """The face candidates' stored form: an ``.npz`` of plain arrays (no pickle), into an
    open binary file (None back) or as bytes."""
    return _npz(c.to_arrays().items(), into)


def candidates_from_stage(blob: bytes, cfg: Config) -> FaceCandidates:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return FaceCandidates.from_arrays({k: z[k] for k in z.files}, cfg.faces)
