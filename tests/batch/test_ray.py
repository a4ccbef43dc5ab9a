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


def test_sigterm_stops_a_ray_scan_as_ctrl_c_does(batch_dir, models_dir, tmp_path):
    """ray.init puts in a SIGTERM handler of its own; the CLI's goes back after it, so a
    scheduler's stop gives the same line and status as without Ray, and Ray is shut down."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'reunite[ray]')")
    import signal
    import subprocess
    import time

    from tests.batch.conftest import ROOT, scan_cmd, scan_env

    out = tmp_path / "out"
    p = subprocess.Popen(scan_cmd(str(batch_dir), "--out", str(out), "--executor", "ray",
                                  "--workers", "2"),
                         env=scan_env(models_dir, tmp_path / "home"), cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    deadline = time.monotonic() + 300
    while not (out / "sources").exists():  # the first file is back from an actor
        assert p.poll() is None and time.monotonic() < deadline, "no file came back"
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    if p.returncode == 0:
        pytest.fail("the scan finished before the signal")
    assert p.returncode == 143, err
    assert f"reunite: error: stopped (SIGTERM); the files finished are kept in {out}" in err, err
    time.sleep(3)
    left = subprocess.run(["pgrep", "-a", "-g", str(p.pid)], capture_output=True, text=True)
    assert not left.stdout.strip(), left.stdout
