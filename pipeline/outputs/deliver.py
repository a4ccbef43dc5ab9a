"""What the investigator receives, after the analysis: clips, contact sheets, CSVs, the report.

``deliver_outputs`` runs at the end of a scan; ``rebuild_report`` is ``reunite report DIR``:
the page and the CSVs again from stored results, without reprocessing, with the manifest's
hashes of those files brought up to date (and nothing else re-blessed).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from detectors.models import sha256_file
from pipeline.case_lock import hold_case
from pipeline.config import Config
from pipeline.manifest import hash_outputs
from pipeline.outputs.atomic import write_json_atomic
from pipeline.outputs.csvs import write_csvs
from pipeline.outputs.render_pass import EVENTS, MATCHES, read_json, run_render_pass
from pipeline.outputs.report import REPORT, gather, render_html
from pipeline.outputs.atomic import write_text_atomic

MANIFEST = "manifest.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def stored_items(out_dir: Path, name: str, key: str) -> list[dict[str, Any]]:
    """The list under ``key`` in a stored result file of DIR ([] when the file is absent)."""
    p = out_dir / name
    return list(read_json(p).get(key, [])) if p.exists() else []


def write_tables_and_report(out_dir: Path, manifest: dict[str, Any] | None = None) -> list[str]:
    """events.csv, matches.csv and report.html from the stored results; returns their paths.

    ``manifest``: the in-memory manifest to show (a scan in progress); default: the stored one.
    """
    written = write_csvs(out_dir, stored_items(out_dir, EVENTS, "events"),
                         stored_items(out_dir, MATCHES, "matches"))
    data = gather(out_dir, manifest)
    write_text_atomic(out_dir / REPORT, render_html(data))
    return [*written, REPORT]


def deliver_outputs(
    out_dir: Path, cfg: Config, manifest: dict[str, Any], report_line: Callable[[str], None],
    store: Any = None,
) -> None:
    """The end of a scan: render pass, then CSVs and report. Updates ``manifest`` in place
    (``render`` summary, sources' ``contact_sheet``); the caller hashes and writes it."""
    if cfg.output.event_clips or cfg.output.contact_sheet:
        summary = run_render_pass(out_dir, cfg.output, manifest["inputs"], store)
        manifest["render"] = summary
        manifest.setdefault("timings_s", {})["render_pass"] = summary["seconds"]
        for line in summary["problems"]:
            report_line(f"reunite: CLIP {line}")
    if cfg.output.report:
        shown = copy.deepcopy(manifest)
        shown["run"].setdefault("finished_utc", _now())
        shown["complete"] = True
        shown["outputs"] = hash_outputs(out_dir, exclude={MANIFEST, REPORT})
        write_tables_and_report(out_dir, shown)


def rebuild_report(out_dir: Path) -> list[str]:
    """``reunite report DIR``: rewrite report.html and the CSVs, update their manifest hashes.

    Raises:
        InputError: DIR has no readable manifest.json / events.json (names the file).
        CaseBusyError: a scan is writing DIR (its manifest is not final yet).
    """
    read_json(out_dir / MANIFEST)  # a case folder, before a lock file is made in it
    with hold_case(out_dir):
        manifest = read_json(out_dir / MANIFEST)  # as the last writer left it
        written = write_tables_and_report(out_dir)
        outputs = manifest.setdefault("outputs", {})
        for rel in written:
            outputs[rel] = sha256_file(out_dir / rel)
        manifest["outputs"] = dict(sorted(outputs.items()))
        manifest.setdefault("run", {})["report_rebuilt_utc"] = _now()
        write_json_atomic(out_dir / MANIFEST, manifest)
    return written
