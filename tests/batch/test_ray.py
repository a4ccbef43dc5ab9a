"""--executor ray on a local Ray instance (2 CPUs) gives the same results as a local scan
(ISSUE 6: beyond one machine)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.batch.conftest import results_of, run_scan_cli


def test_ray_and_local_give_identical_events(batch_dir, models_dir, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'reunite[ray]')")
    files = tmp_path / "in"
    files.mkdir()
    for name in ("a_carry.mp4", "b_street0.mp4", "b_street2.mp4"):
        shutil.copyfile(batch_dir / name, files / name)
    outs = {}
    for how, extra in (("local", []), ("ray", ["--executor", "ray", "--workers", "2"])):
        out = tmp_path / how
        r = run_scan_cli([str(files), "--out", str(out), *extra], models_dir, tmp_path / "home")
        assert r.returncode == 0, r.stderr
        outs[how] = out
    assert (outs["ray"] / "events.json").read_bytes() == (outs["local"] / "events.json").read_bytes()
    assert results_of(outs["ray"]) == results_of(outs["local"])
    m = json.loads((outs["ray"] / "manifest.json").read_text())
    ex = m["run"]["execution"]
    assert ex["executor"] == "ray" and ex["actors"] == 2 and ex["address"] == "local instance"
    assert ex["detector_threads"] == ex["decode_threads"] == 1  # an actor is given one CPU
    assert m["summary"]["reused"]["analysis"] == 0  # a fresh store: Ray really computed them
