"""Bad media: every odd_media file and every generated bad input is processed, or named in one
clear line with its reason; the batch goes on and exits 1; no traceback for user problems."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from pipeline.inputs import display_name
from tests.hardening.corpus import running_as_root, write_ts
from tests.hardening.table import FAST, markdown, problem_lines, rows
from tests.media import write_clip

# generated file -> (status, words its one line must hold); unreadable.mp4 depends on root.
EXPECTED = {
    "good.mp4": ("ok", None),
    "zero_bytes.mp4": ("failed", "empty file (0 bytes)"),
    "random_bytes.mp4": ("failed", "not a readable video container"),
    "text_file.mp4": ("failed", "not a readable video container"),
    "absurd_dims.y4m": ("failed", "frame size 16000x16000 in the header is beyond the limit"),
    "huge_photo.mp4": ("failed", "frame size 20000x4000 in the header is beyond the limit"),
    "audio_only.mp4": ("failed", "no video stream in the container"),
    "still_image.mp4": ("ok", None),
    "loop_a.mp4": ("failed", "symbolic link loop"),
    "loop_b.mp4": ("failed", "symbolic link loop"),
    "dangling_link.mp4": ("failed", "broken symbolic link"),
    "fifo.mp4": ("failed", "not a regular file (a named pipe (FIFO))"),
    "device_link.mp4": ("failed", "not a regular file (a device)"),
    "truncated.mp4": ("partial", "truncated or corrupt tail"),
    "no_moov.mp4": ("failed", "not a readable video container"),
}


def test_batch_finishes_with_exit_1_and_no_traceback(batch):
    assert batch.exit_code == 1, batch.output
    assert isinstance(batch.exception, SystemExit), batch.exception
    assert "Traceback" not in batch.output
    assert batch.manifest["complete"] is True


def test_every_input_has_an_entry(batch):
    names = sorted(Path(i["path"]).name for i in batch.manifest["inputs"])
    odd = sorted(p.name for p in batch.odd.iterdir() if p.suffix != ".md")
    assert len(odd) == 30
    assert names == sorted(odd + list(batch.kinds))


def test_generated_inputs_end_as_expected(batch):
    by_name = {Path(i["path"]).name: i for i in batch.manifest["inputs"]}
    lines = problem_lines(batch.output)
    expected = dict(EXPECTED)
    expected["unreadable.mp4"] = (
        ("ok", None) if running_as_root() else ("failed", "permission denied"))
    for name, (status, words) in expected.items():
        entry = by_name[name]
        assert entry["status"] == status, (name, entry["error"])
        said = [ln for ln in lines if f"{batch.gen / name}:" in ln]
        if status == "ok":
            assert entry["error"] is None and entry["decode"]["frames_analysed"] >= 1, name
            assert not [ln for ln in said if "FAILED" in ln or "PARTIAL" in ln], said
        else:
            assert len(said) == 1, (name, said)
            assert said[0].startswith(f"reunite: {status.upper()} ") and words in said[0], said
            assert words in entry["error"]
    assert by_name["still_image.mp4"]["probe"]["container"] == "jpeg_pipe"


def test_every_odd_media_problem_is_one_line(batch):
    lines = problem_lines(batch.output)
    for entry in batch.manifest["inputs"]:
        said = [ln for ln in lines if f"{display_name(entry['path'])}:" in ln]
        if entry["status"] == "ok":
            assert entry["error"] is None
            faults = entry["decode"]["decode_faults"]
            assert len(said) == (1 if faults else 0), said
        else:
            assert len(said) == 1, (entry["path"], said)
            assert said[0] == f"reunite: {entry['status'].upper()} {entry['error']}"
    statuses = {Path(i["path"]).name: i["status"] for i in batch.manifest["inputs"]}
    assert statuses["file-scraper__video_mp4_invalid__empty.mp4"] == "failed"
    assert statuses["file-scraper__video_mp4_invalid__h265_aac_invalid_data.mp4"] == "partial"
    assert sum(s == "ok" for s in statuses.values()) >= 30  # 27 odd files + good, still, (root)


def test_processed_inputs_have_their_outputs(batch):
    for entry in batch.manifest["inputs"]:
        if entry["status"] != "failed":
            assert (batch.out / entry["outputs"]["tracks_jsonl"]).is_file(), entry["path"]
    assert not list(batch.out.rglob("*.part*"))


def test_print_bad_input_table(batch, capsys):
    table = rows(batch.manifest, batch.output, batch.kinds)
    assert all(r["how"] != "(no line printed!)" for r in table)
    with capsys.disabled():
        print("\n" + markdown(table))


def test_file_still_being_written_is_named_and_batch_goes_on(tmp_path, models_env):
    """An NVR export still being appended to while it is scanned: the hash before and after
    differ, so it ends failed with one line saying so; the other file is processed."""
    inp = tmp_path / "in"
    inp.mkdir()
    write_clip(inp / "b_good.mp4", [i / 10 for i in range(10)])
    recording = write_ts(tmp_path / "recording.ts", seconds=20)
    data = recording.read_bytes()
    growing = inp / "a_growing.ts"
    chunk = 188 * 40  # whole TS packets, about real time at this bitrate
    growing.write_bytes(data[: chunk * 10])
    stop = threading.Event()

    def writer() -> None:
        pos = chunk * 10
        while not stop.is_set():
            with open(growing, "ab") as fh:
                fh.write(data[pos % len(data): pos % len(data) + chunk])
            pos += chunk
            time.sleep(0.02)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        r = CliRunner().invoke(main, ["scan", "--quiet", str(inp), "--out", str(tmp_path / "o"),
                                      *FAST])
    finally:
        stop.set()
        t.join()
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    lines = problem_lines(r.output)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"reunite: FAILED {growing}: ORIGINAL CHANGED DURING THE SCAN")
    assert "still being written?" in lines[0]
    assert "b_good.mp4" not in r.output


def test_a_bug_keeps_its_traceback(tmp_path, models_env, monkeypatch):
    """Only user problems become one line: a programming error still raises."""
    clip = write_clip(tmp_path / "a.mp4", [i / 10 for i in range(5)])

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("pipeline.runner.find_events", broken)
    r = CliRunner().invoke(main, ["scan", "--quiet", str(clip), "--out", str(tmp_path / "o"),
                                  *FAST])
    assert isinstance(r.exception, ZeroDivisionError)


def test_probe_command_refuses_special_files_without_blocking(tmp_path):
    """``reunite probe`` on a FIFO must not wait for a writer; on a device, not read forever."""
    import os
    import subprocess
    import sys

    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    os.symlink("/dev/zero", tmp_path / "zero.mp4")
    os.symlink("loop.mp4", tmp_path / "loop.mp4")
    root = Path(__file__).resolve().parents[2]
    expected = {"pipe.mp4": "not a regular file (a named pipe (FIFO))",
                "zero.mp4": "not a regular file (a device)",
                "loop.mp4": "symbolic link loop (cannot be followed)"}
    for name, reason in expected.items():
        r = subprocess.run([sys.executable, str(root / "cli.py"), "probe", str(tmp_path / name)],
                           capture_output=True, text=True, timeout=60, cwd=root)
        assert r.returncode == 1, r.stderr
        assert r.stderr == f"reunite: error: {tmp_path / name}: {reason}\n"
