"""kill -9 a 6-file scan at five random moments; the same command then finishes with what an
uninterrupted scan gives (ISSUE 6: resume).

The moments are drawn uniformly over the uninterrupted scan's duration, from a seed printed
on failure (set REUNITE_TEST_SEED to replay one).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time

from tests.batch.conftest import ROOT, results_of, run_scan_cli, scan_cmd, scan_env


def test_kill_at_five_random_moments_then_resume(batch_dir, baseline, models_dir, tmp_path):
    base_out, base_s = baseline
    seed = int(os.environ.get("REUNITE_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    moments = sorted(rng.uniform(0.5, base_s) for _ in range(5))
    out, home = tmp_path / "out", tmp_path / "home"
    args = [str(batch_dir), "--out", str(out)]
    killed_after = []
    for at in moments:
        p = subprocess.Popen(scan_cmd(*args), env=scan_env(models_dir, home), cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=at)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            killed_after.append(round(at, 2))
    assert killed_after, f"seed {seed}: every run finished before its kill moment {moments}"
    r = run_scan_cli(args, models_dir, home)
    why = f"seed {seed}, killed after {killed_after} s (uninterrupted: {base_s:.1f} s)"
    assert r.returncode == 0, f"{why}: {r.stderr}"
    assert results_of(out) == results_of(base_out), why
    events = json.loads((out / "events.json").read_text())["events"]
    assert len({e["id"] for e in events}) == len(events), why
    # no half-written file anywhere, and every output listed and intact
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")], why
    m = json.loads((out / "manifest.json").read_text())
    assert m["complete"] and m["summary"]["ok"] == 6, why
    v = subprocess.run(scan_cmd()[:3] + ["verify", str(out)], cwd=ROOT, capture_output=True,
                       text=True, env=scan_env(models_dir, home))
    assert v.returncode == 0, f"{why}: {v.stdout}{v.stderr}"
    # the store: each interrupted run is recorded without a finish; the last one finished
    # with exactly the reported events, once each
    con = sqlite3.connect(out / "case.sqlite")
    runs = con.execute("SELECT run_id, finished_utc FROM runs ORDER BY run_id").fetchall()
    assert runs[-1][1] is not None and len(runs) <= 6, why
    n = con.execute("SELECT COUNT(*) FROM events WHERE run_id=?", (runs[-1][0],)).fetchone()[0]
    assert n == len(events), why
    dup = con.execute("SELECT COUNT(*) FROM (SELECT sha256, stage, key FROM stage_outputs "
                      "GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)").fetchone()[0]
    assert dup == 0


def test_rerun_of_a_finished_scan_reuses_everything(batch_dir, baseline, models_dir, tmp_path):
    base_out, _ = baseline
    out = tmp_path / "out"
    import shutil

    shutil.copytree(base_out, out)  # the same case in another folder: artifacts re-rendered
    r = run_scan_cli([str(batch_dir), "--out", str(out)], models_dir, tmp_path / "home")
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["summary"]["reused"]["analysis"] == 6 and m["summary"]["reused"]["events"] == 6
    assert m["summary"]["reused"]["faces"] == 6
    assert all("model_load" not in i["timings_s"] for i in m["inputs"])
    assert results_of(out) == results_of(base_out)
    con = sqlite3.connect(out / "case.sqlite")  # the case's tables, queryable as documented
    tracks = sum(len(p.read_text().splitlines()) for p in (out / "sources").glob("*/tracks.jsonl"))
    assert con.execute("SELECT COUNT(DISTINCT sha256 || track_id) FROM tracks").fetchone()[0] > 0
    assert con.execute("SELECT COUNT(*) FROM faces").fetchone()[0] > 0
    assert tracks > 0
    t = time.monotonic()
    r = run_scan_cli([str(batch_dir), "--out", str(out)], models_dir, tmp_path / "home")
    assert r.returncode == 0
    m = json.loads((out / "manifest.json").read_text())
    videos = sum(bool(i["outputs"].get("annotated_video")) for i in m["inputs"])
    assert videos >= 1  # the carry composite is flagged; its video is rendered by default
    assert m["summary"]["reused"]["annotated_video"] == videos, time.monotonic() - t
    assert m["render"]["reused"] >= 6  # 6 contact sheets (+ the carry clip)
