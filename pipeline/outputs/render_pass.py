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

from pipeline.config import OutputConfig
from pipeline.errors import InputError
from pipeline.outputs.atomic import write_json_atomic
from pipeline.outputs.clips import ClipJob, event_job, match_job, render_jobs
from pipeline.outputs.contact_sheet import write_contact_sheet
from pipeline.outputs.overlay import StoredTrack, load_tracks, source_info
from pipeline.outputs.video import Annotator

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


def run_render_pass(out_dir: Path, cfg: OutputConfig, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Render clips and contact sheets for a scan in ``out_dir``; returns a summary.

    Args:
        out_dir: the scan's output folder.
        cfg: the ``output:`` config section.
        inputs: the manifest's ``inputs`` entries (updated in place with ``contact_sheet``).

    Returns:
        ``{"clips", "contact_sheets", "seconds", "problems": [one line each]}``.
    """
    t0 = time.perf_counter()
    by_path = {e["path"]: e for e in inputs if e.get("slug")}
    cache: dict[str, dict[int, StoredTrack]] = {}

    def tracks_for(source: str) -> dict[int, StoredTrack]:
        if source not in cache:
            rel = (by_path.get(source) or {}).get("outputs", {}).get("tracks_jsonl")
            cache[source] = load_tracks(out_dir / rel) if rel else {}
        return cache[source]

    def facts(source: str) -> tuple[str | None, float | None]:
        return source_info(by_path.get(source) or {})

    problems: list[str] = []
    n_clips = 0
    if cfg.event_clips:
        events_doc = read_json(out_dir / EVENTS) if (out_dir / EVENTS).exists() else {"events": []}
        jobs: list[ClipJob] = [event_job(ev, *facts(ev["source"])) for ev in events_doc["events"]]
        matches_doc = None
        if (out_dir / MATCHES).exists():
            matches_doc = read_json(out_dir / MATCHES)
            for k, m in enumerate(matches_doc.get("matches", []), 1):
                mid = str(m.get("id") or f"match-{k}")
                jobs.append(match_job(m, mid, *facts(m["source"])))
        results = render_jobs(jobs, tracks_for, out_dir, cfg)
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
        annotator = Annotator()
        for entry in inputs:
            dec = entry.get("decode") or {}
            if not entry.get("slug") or dec.get("first_pts_s") is None:
                continue
            rel = f"sources/{entry['slug']}/contact_sheet.jpg"
            try:
                n = write_contact_sheet(
                    entry["path"], tracks_for(entry["path"]), dec["first_pts_s"],
                    dec["last_pts_s"], cfg.contact_sheet_frames, out_dir / rel, cfg.enhance_dark,
                    annotator,
                )
            except InputError as exc:
                problems.append(f"contact sheet: {exc}")
                continue
            if n:
                entry.setdefault("outputs", {})["contact_sheet"] = rel
                n_sheets += 1
                src_json = out_dir / "sources" / entry["slug"] / "source.json"
                if src_json.exists():
                    write_json_atomic(src_json, entry)
    return {"clips": n_clips, "contact_sheets": n_sheets,
            "seconds": round(time.perf_counter() - t0, 3), "problems": problems}
