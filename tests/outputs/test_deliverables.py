"""End to end on a real scan with a carry event: clips, thumbnails, contact sheet, CSVs,
report, manifest hashes, and ``reunite report`` rebuilding from stored results."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import av
import cv2
from click.testing import CliRunner

from cli import main
from tests.outputs.conftest import HOSTILE


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_event_has_a_playable_clip_and_thumbnail_cut_around_it(carry_scan):
    ev = json.loads((carry_scan / "events.json").read_text())["events"][0]
    assert ev["clip"] == f"clips/{ev['id']}.mp4" and ev["thumbnail"] == f"clips/{ev['id']}.jpg"
    with av.open(str(carry_scan / ev["clip"])) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        n = sum(1 for _ in c.decode(s))
    # default roll: 3 s before and after, at the source's 10 fps
    assert ev["clip_start_s"] <= ev["start_s"] - 1.0 and ev["clip_end_s"] >= ev["end_s"] + 1.0
    span = ev["clip_end_s"] - ev["clip_start_s"]
    assert abs(n - (span * 10 + 1)) <= 2, (n, span)
    thumb = cv2.imread(str(carry_scan / ev["thumbnail"]))
    assert thumb is not None and thumb.shape[1] >= 640 and thumb.std() > 10
    # the thumbnail is zoomed on the event's tracks and labelled with a red event bar
    bar = thumb[3:18, 5:200].reshape(-1, 3).mean(axis=0)
    assert bar[2] > 120 and bar[0] < 90, bar


def test_contact_sheet_and_manifest_hashes_cover_every_output(carry_scan):
    m = json.loads((carry_scan / "manifest.json").read_text())
    src = m["inputs"][0]
    assert Path(src["path"]).name == HOSTILE
    sheet = carry_scan / src["outputs"]["contact_sheet"]
    img = cv2.imread(str(sheet))
    assert img is not None and img.shape[1] > 1000
    assert m["render"]["clips"] == 1 and m["render"]["problems"] == []
    files = {p.relative_to(carry_scan).as_posix() for p in carry_scan.rglob("*") if p.is_file()}
    # every deliverable is hashed; the case store is working memory (pipeline.store), not one
    store = {f for f in files if f.startswith("case.sqlite")}
    assert store == {"case.sqlite"}  # folded into one file at the end of the scan
    # and the lock file says which process writes the case (pipeline.case_lock), not a result
    assert set(m["outputs"]) == files - {"manifest.json", "case.lock"} - store
    assert {"report.html", "events.csv", "matches.csv"} <= set(m["outputs"])
    for rel, digest in m["outputs"].items():
        assert sha(carry_scan / rel) == digest, rel


def test_csvs_one_row_per_event_and_header_without_matches(carry_scan):
    ev = json.loads((carry_scan / "events.json").read_text())["events"]
    rows = list(csv.DictReader((carry_scan / "events.csv").open(newline="", encoding="utf-8")))
    assert [r["id"] for r in rows] == [e["id"] for e in ev]
    assert rows[0]["source"] == ev[0]["source"]  # newline and unicode survive CSV quoting
    assert float(rows[0]["score"]) == ev[0]["score"] and rows[0]["clip"] == ev[0]["clip"]
    lines = (carry_scan / "matches.csv").read_text().splitlines()
    assert lines[0].startswith("id,subject,source,source_sha256,track") and len(lines) == 1


def test_report_command_rebuilds_from_stored_results(carry_scan, tmp_path):
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(carry_scan, d)
    before = (d / "report.html").read_text()
    for name in ("report.html", "events.csv", "matches.csv"):
        (d / name).unlink()
    clip_mtime = (d / "clips").stat().st_mtime_ns
    r = CliRunner().invoke(main, ["report", str(d)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    after = (d / "report.html").read_text()
    # the same page below the header (which says when it was built and how long the scan
    # took) and above the output-hash table (which now lists the first report too)
    cut = lambda s: s.split("<nav>", 1)[1].split("output files and their sha256", 1)[0]
    assert cut(after) == cut(before) and "Case summary" in cut(after)
    assert (d / "clips").stat().st_mtime_ns == clip_mtime  # nothing re-rendered
    m = json.loads((d / "manifest.json").read_text())
    assert m["outputs"]["report.html"] == sha(d / "report.html")
    assert m["run"]["report_rebuilt_utc"]
    r = CliRunner().invoke(main, ["verify", str(d)])
    assert r.exit_code == 0, r.output
