"""Hostile file names: output folders stay inside --out, slugs are safe and distinct, and the
one-line messages show names escaped, so a newline in a name cannot forge a log line."""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from cli import main
from pipeline.inputs import display_name, one_line, safe_name, source_slug
from tests.hardening.table import FAST, problem_lines
from tests.media import write_clip

SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
BAD_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}

# (name as bytes, content "good" clip or "bad" text)
HOSTILE: list[tuple[bytes, str]] = [
    (b"<script>alert(1)<\\script><img src=x onerror=alert(1)>.mp4", "good"),
    (b"\"quoted' name.mp4", "bad"),
    ("unicode \u76e3\u8996\u30ab\u30e1\u30e9 \u00e9 \u2713.mp4".encode(), "good"),
    (b"new\nline.mp4", "bad"),
    (b"x.mp4\nreunite: FAILED forged.mp4: fake line\n.mp4", "bad"),
    (b"-rf --out evil.mp4", "good"),
    (b"..mp4", "good"),  # hidden: listed as skipped
    (b"...mp4", "good"),
    (b"_..mp4", "good"),
    (b"L" * 240 + b".mp4", "good"),
    (b"\x1b[31mred\x1b[0m.mp4", "bad"),
    ("rtl\u202egnp.mp4".encode(), "bad"),
    (b"bad\xff byte.mp4", "bad"),
    (b"good\xfe bytes.mp4", "good"),  # undecodable bytes in outputs' JSON: exact, \udcXX
    (b"tab\there\rcr.mp4", "good"),
    (b"..\\..\\windows.mp4", "good"),
    (b"_..\\..\\windows.mp4", "good"),
    (b"cam?1.mp4", "good"),
    (b"cam*1.mp4", "good"),
]


def _make(folder: Path) -> list[tuple[Path, str]]:
    folder.mkdir()
    clip = write_clip(folder.parent / "clip.mp4", [i / 10 for i in range(5)])
    made = []
    for raw, content in HOSTILE:
        p = Path(os.fsdecode(os.path.join(os.fsencode(folder), raw)))
        if content == "good":
            shutil.copyfile(clip, p)
        else:
            p.write_bytes(b"not a video\n" * 50)
        made.append((p, content))
    return made


def _listing(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")}


def test_hostile_names_stay_inside_and_print_on_one_line(tmp_path, models_env):
    inp = tmp_path / "in <&> '\"` $(x)"
    made = _make(inp)
    out = tmp_path / "out"
    elsewhere = _listing(tmp_path)
    via_dotdot = str(inp / ".." / inp.name)  # "../" in the argument itself
    r = CliRunner().invoke(main, ["scan", via_dotdot, "--out", str(out), *FAST])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    # nothing new anywhere but under --out (nothing escaped via a name)
    # (HOME is the models_env one: what libraries leave there is test_no_network_strict's job)
    new = {p for p in _listing(tmp_path) - elsewhere
           if not p.startswith((str(out), str(tmp_path / "home")))}
    assert new == set()
    # every printed line is one of ours; none forged by a name
    printed = r.output.splitlines()
    assert all(ln.startswith("reunite: ") for ln in printed), printed
    assert not any(ln.startswith("reunite: FAILED forged") for ln in printed)
    bad = [p for p, c in made if c == "bad"]
    lines = problem_lines(r.output)
    assert len(lines) == len(bad), lines
    for p in bad:
        shown = display_name(Path(via_dotdot) / p.name)
        said = [ln for ln in lines if ln.startswith(f"reunite: FAILED {shown}: ")]
        assert len(said) == 1, (p, lines)
        assert all(unicodedata.category(c) not in BAD_CATEGORIES for c in said[0])
    m = json.loads((out / "manifest.json").read_text())
    hidden = {str(Path(via_dotdot) / p.name) for p, _ in made if p.name.startswith(".")}
    assert len(hidden) == 3
    assert {s["path"] for s in m["skipped"]} == hidden
    made = [(p, c) for p, c in made if not p.name.startswith(".")]
    assert sorted(i["path"] for i in m["inputs"]) == sorted(
        str(Path(via_dotdot) / p.name) for p, _ in made)
    good = [i for i in m["inputs"] if i["status"] == "ok"]
    assert len(good) == len(made) - len(bad)
    slugs = [i["slug"] for i in good]
    assert len(set(slugs)) == len(slugs), slugs  # same bytes under folding names: -2, -3
    outr = out.resolve()
    for i in good:
        assert SLUG.match(i["slug"]) and len(i["slug"]) <= 80, i["slug"]
        folder = (out / "sources" / i["slug"]).resolve()
        assert folder.parent == outr / "sources"
        track_lines = (folder / "tracks.jsonl").read_text(encoding="utf-8").splitlines()
        assert all(json.loads(t)["source"] == i["path"] for t in track_lines)
        assert json.loads((folder / "source.json").read_text())["path"] == i["path"]
    for p in out.rglob("*"):
        assert p.resolve().is_relative_to(outr)
        assert SLUG.match(p.name) or p.name in {"sources"}, p.name


def test_leading_dash_file_named_after_double_dash(tmp_path, models_env, monkeypatch):
    write_clip(tmp_path / "-rf.mp4", [i / 10 for i in range(5)])
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["scan", "--quiet", "--out", "o", *FAST, "--", "-rf.mp4"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert m["inputs"][0]["slug"].startswith("rf-")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80))
def test_helpers_make_any_name_safe(name):
    assert not any(unicodedata.category(c) in BAD_CATEGORIES for c in one_line(name))
    shown = display_name(name)
    assert "\n" not in shown and "\r" not in shown
    assert not any(unicodedata.category(c) in BAD_CATEGORIES for c in shown)
    slug = safe_name(name)
    assert SLUG.match(slug) and len(slug) <= 60 and slug not in {".", ".."}
    assert SLUG.match(source_slug(Path(name.replace("/", "_") or "x"), "ab" * 32))


def test_display_name_examples():
    assert display_name("cam1.mp4") == "cam1.mp4"
    assert display_name("監視 é.mp4") == "監視 é.mp4"
    assert display_name("new\nline.mp4") == "'new\\nline.mp4'"
    assert display_name(os.fsdecode(b"bad\xff.mp4")) == "'bad\\xff.mp4'"
    assert display_name("a\\b\x1b'.mp4") == "'a\\\\b\\x1b\\'.mp4'"
    assert display_name("rtl\u202e.mp4") == "'rtl\\u202e.mp4'"
