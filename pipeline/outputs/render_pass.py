"""The second pass over a finished scan: event and match clips, contact sheets.

Reads only stored results (``events.json``, ``matches.json``, the manifest's inputs and each
source's ``tracks.jsonl``) and the originals, so it can run again after a re-tuned event
threshold without re-detecting. Fills ``clip`` / ``thumbnail`` in ``events.json`` and
``clip`` / ``clip_thumbnail`` in ``matches.json`` (a match's own ``thumbnail`` is its best
face), and adds ``contact_sheet`` to each source's outputs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from dataclasses import asdict

from detectors.models import sha256_file
from pipeline.config import OutputConfig, config_hash
from pipeline.errors import InputError
from pipeline.outputs.atomic import write_json_atomic
from pipeline.outputs.clips import (CLIPS_DIR, ClipJob, ClipResult, event_job, match_job,
                                    render_jobs, safe_name as clip_name)
from pipeline.outputs.contact_sheet import sheet_windows, write_contact_sheet
from pipeline.outputs.overlay import StoredTrack, load_tracks, source_info
from pipeline.outputs.video import Annotator
from pipeline.store import CaseStore

EVENTS, MATCHES = "events.json", "matches.json"


def read_json(path: Path) -> dict[str, Any]:
    """Parse a stored JSON result (an object); a missing or malformed file is an
    :class:`InputError` naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), f"not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(str(path), f"expected a JSON object, got {type(data).__name__}")
    return data


def run_render_pass(out_dir: Path, cfg: OutputConfig, inputs: list[dict[str, Any]],
                    store: CaseStore | None = None) -> dict[str, Any]:
    """Render clips and contact sheets for a scan in ``out_dir``; returns a summary.

    Args:
        out_dir: the scan's output folder.
        cfg: the ``output:`` config section.
        inputs: the manifest's ``inputs`` entries (updated in place with ``contact_sheet``).
        store: the case store: a clip or sheet whose inputs (the item, the source's tracks
            file, the output settings) are unchanged since it was rendered into this folder,
            and whose bytes are unchanged, is kept instead of rendered again.

    Returns:
        ``{"clips", "contact_sheets", "reused", "seconds", "problems": [one line each]}``.
    """
    t0 = time.perf_counter()
    cache = _Reuse(out_dir, cfg, store, {e["path"]: e for e in inputs if e.get("slug")})
    by_path = {e["path"]: e for e in inputs if e.get("slug")}
    loaded: dict[str, dict[int, StoredTrack]] = {}

    def facts(source: str) -> tuple[str | None, float | None]:
        return source_info(by_path.get(source) or {})

    jobs: list[ClipJob] = []
    events_doc: dict[str, Any] = {"events": []}
    matches_doc = None
    if cfg.event_clips:
        if (out_dir / EVENTS).exists():
            events_doc = read_json(out_dir / EVENTS)
        jobs = [event_job(ev, *facts(ev["source"])) for ev in events_doc["events"]]
        if (out_dir / MATCHES).exists():
            matches_doc = read_json(out_dir / MATCHES)
            for k, m in enumerate(matches_doc.get("matches", []), 1):
                mid = str(m.get("id") or f"match-{k}")
                jobs.append(match_job(m, mid, *facts(m["source"])))
    # The spans each source's tracks are drawn in: only those observations are read (a long
    # source's whole tracks.jsonl parsed at once was the top of a 60-minute scan's memory).
    spans: dict[str, list[tuple[float, float]]] = {}
    for job in jobs:
        spans.setdefault(job.source, []).append(
            (job.start_s - cfg.clip_pre_roll_s, job.end_s + cfg.clip_post_roll_s))
    if cfg.contact_sheet:
        for entry in inputs:
            dec = entry.get("decode") or {}
            if entry.get("slug") and dec.get("first_pts_s") is not None:
                spans.setdefault(entry["path"], []).extend(sheet_windows(
                    dec["first_pts_s"], dec["last_pts_s"], cfg.contact_sheet_frames))

    def tracks_for(source: str) -> dict[int, StoredTrack]:
        if source not in loaded:
            rel = (by_path.get(source) or {}).get("outputs", {}).get("tracks_jsonl")
            loaded[source] = load_tracks(out_dir / rel, spans.get(source, [])) if rel else {}
        return loaded[source]

    problems: list[str] = []
    n_clips = 0
    if cfg.event_clips:
        results = cache.render_clips(jobs, tracks_for)
        n_ev = len(events_doc["events"])
        for ev, res in zip(events_doc["events"], results[:n_ev]):
            ev.update(clip=res.clip, thumbnail=res.thumbnail, clip_start_s=res.clip_start_s,
                      clip_end_s=res.clip_end_s, clip_enhanced=res.enhanced)
        if matches_doc is not None:
            for m, res in zip(matches_doc.get("matches", []), results[n_ev:]):
                m.update(clip=res.clip, clip_thumbnail=res.thumbnail,
                         clip_start_s=res.clip_start_s, clip_end_s=res.clip_end_s)
            write_json_atomic(out_dir / MATCHES, matches_doc)
        write_json_atomic(out_dir / EVENTS, events_doc)
        problems += [r.error for r in results if r.error]
        n_clips = sum(r.clip is not None for r in results)
    n_sheets = 0
    if cfg.contact_sheet:
        annotator: Annotator | None = None  # built on the first sheet that must be drawn
        for entry in inputs:
            dec = entry.get("decode") or {}
            if not entry.get("slug") or dec.get("first_pts_s") is None:
                continue
            rel = f"sources/{entry['slug']}/contact_sheet.jpg"
            key = cache.key("sheet", entry["path"], dec["first_pts_s"], dec["last_pts_s"])
            kept = cache.fresh(rel, key)
            if kept is not None:
                n = kept["frames"]
            else:
                annotator = annotator or Annotator()
                try:
                    n = write_contact_sheet(
                        entry["path"], tracks_for(entry["path"]), dec["first_pts_s"],
                        dec["last_pts_s"], cfg.contact_sheet_frames, out_dir / rel,
                        cfg.enhance_dark, annotator,
                    )
                except InputError as exc:
                    problems.append(f"contact sheet: {exc}")
                    continue
                if n:
                    cache.record(rel, key, {"frames": n})
            if n:
                entry.setdefault("outputs", {})["contact_sheet"] = rel
                n_sheets += 1
                src_json = out_dir / "sources" / entry["slug"] / "source.json"
                if src_json.exists():
                    write_json_atomic(src_json, entry)
    cache.save()
    return {"clips": n_clips, "contact_sheets": n_sheets, "reused": cache.reused,
            "seconds": round(time.perf_counter() - t0, 3), "problems": problems}


class _Reuse:
    """Keys and records rendered files in the case store (``artifacts`` table)."""

    def __init__(self, out_dir: Path, cfg: OutputConfig, store: CaseStore | None,
                 by_path: dict[str, dict[str, Any]]) -> None:
        self.out_dir, self.cfg, self.store, self.by_path = out_dir, cfg, store, by_path
        self.new: list[tuple[str, str, str, Any]] = []
        self.reused = 0
        self._tracks_digest: dict[str, str | None] = {}

    def _tracks(self, source: str) -> str | None:
        """sha256 of the source's tracks.jsonl: every box and label a clip or sheet draws."""
        if source not in self._tracks_digest:
            rel = (self.by_path.get(source) or {}).get("outputs", {}).get("tracks_jsonl")
            p = self.out_dir / rel if rel else None
            self._tracks_digest[source] = sha256_file(p) if p is not None and p.is_file() else None
        return self._tracks_digest[source]

    def key(self, kind: str, source: str, *item: Any) -> str:
        entry = self.by_path.get(source) or {}
        return config_hash({"kind": kind, "source": source, "sha256": entry.get("sha256_before"),
                            "tracks": self._tracks(source), "item": list(item),
                            "output": self.cfg.model_dump(mode="json")})

    def fresh(self, rel: str, key: str, also: str | None = None) -> Any | None:
        """The meta of a reusable ``rel`` (and ``also``, a file rendered with it), recorded
        again for this folder; None when it must be rendered."""
        if self.store is None:
            return None
        kept = self.store.fresh_artifact(self.out_dir, rel, key)
        extra = None
        if kept is not None and also is not None:
            extra = self.store.fresh_artifact(self.out_dir, also, key + "/" + also)
            if extra is None:
                return None
        if kept is None:
            return None
        self.reused += 1
        self.record(rel, key, kept[0], kept[1])
        if extra is not None and also is not None:
            self.record(also, key + "/" + also, None, extra[1])
        return kept[0]

    def record(self, rel: str, key: str, meta: Any, digest: str | None = None) -> None:
        self.new.append((rel, key, digest or sha256_file(self.out_dir / rel), meta))

    def render_clips(self, jobs: list[ClipJob], tracks_for: Any) -> list[ClipResult]:
        out: list[ClipResult | None] = [None] * len(jobs)
        todo = []
        for k, job in enumerate(jobs):
            key = self.key("clip", job.source, asdict(job))
            name = clip_name(job.item_id)
            rel_clip, rel_thumb = f"{CLIPS_DIR}/{name}.mp4", f"{CLIPS_DIR}/{name}.jpg"
            meta = self.fresh(rel_clip, key, also=rel_thumb)
            if meta is not None:
                out[k] = ClipResult(**meta)
            else:
                todo.append((k, job, key))
        for (k, job, key), res in zip(todo, render_jobs([j for _, j, _ in todo], tracks_for,
                                                         self.out_dir, self.cfg)):
            out[k] = res
            if res.clip and res.thumbnail:
                self.record(res.clip, key, asdict(res))
                self.record(res.thumbnail, key + "/" + res.thumbnail, None)
        return [r for r in out if r is not None]

    def save(self) -> None:
        if self.store is not None and self.new:
            self.store.save_artifacts(self.out_dir, self.new)
