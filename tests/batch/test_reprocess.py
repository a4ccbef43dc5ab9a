"""Reprocessing with a tuned config recomputes only the stages the change reaches, and gives
what a fresh scan with that config gives (ISSUE 6: reprocess)."""

from __future__ import annotations

import json
import shutil

from tests.batch.conftest import results_of, run_scan_cli


def _stages(out):
    m = json.loads((out / "manifest.json").read_text())
    return m, {i["slug"]: {k: v["reused"] for k, v in i["stages"].items()} for i in m["inputs"]}


def test_events_only_change_reuses_detection_and_matches_a_fresh_scan(batch_dir, baseline,
                                                                       models_dir, tmp_path):
    base_out, _ = baseline
    files = tmp_path / "in"
    files.mkdir()
    for name in ("a_carry.mp4", "b_street3.mp4"):
        shutil.copyfile(batch_dir / name, files / name)
    # a case store that already holds these files' detection (from the baseline's store)
    store = tmp_path / "case.sqlite"
    shutil.copyfile(base_out / "case.sqlite", store)
    tuned = ["--set", "events.carry_min_duration_s=6", "--set", "attributes.child_height_ratio=0.7"]
    out = tmp_path / "tuned"
    r = run_scan_cli([str(files), "--out", str(out), "--store", str(store), *tuned], models_dir,
                     tmp_path / "home")
    assert r.returncode == 0, r.stderr
    m, st = _stages(out)
    assert all(s["analysis"] and s["faces"] and not s["events"] for s in st.values()), st
    assert all("model_load" not in i["timings_s"] for i in m["inputs"])  # no model loaded
    # 6 s minimum: the composite's 5.2 s carry no longer counts
    assert [e["type"] for e in json.loads((out / "events.json").read_text())["events"]] != ["carry"]
    fresh = tmp_path / "fresh"
    r = run_scan_cli([str(files), "--out", str(fresh), *tuned], models_dir, tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert results_of(out) == results_of(fresh)
    assert _stages(fresh)[0]["summary"]["reused"]["analysis"] == 0

    # a detector change reaches every stage below it
    out2 = tmp_path / "detector"
    r = run_scan_cli([str(files), "--out", str(out2), "--store", str(store),
                      "--set", "detector.confidence=0.2"], models_dir, tmp_path / "home")
    assert r.returncode == 0, r.stderr
    _, st = _stages(out2)
    assert not any(s["analysis"] or s["events"] or s["faces"] for s in st.values()), st
