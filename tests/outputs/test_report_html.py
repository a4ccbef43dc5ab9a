"""report.html and the CSVs from a hand-made output folder: matches with reference photos,
identity timelines, hostile strings everywhere, formula-like CSV cells."""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.outputs.csvs import cell
from pipeline.outputs.deliver import rebuild_report
from pipeline.outputs.report import rel_url, visible

EVIL = '<script>alert("x")</script>\'&"\nünï'


def jpeg(path: Path) -> str:
    import cv2
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((40, 40, 3), 128, np.uint8))
    return path.name


def case_dir(tmp_path: Path, with_faces: bool = True) -> Path:
    d = tmp_path / "case"
    d.mkdir()
    src = f"/evidence/{EVIL}.mp4"
    manifest = {
        "tool": "reunite", "version": "0.1.0", "complete": True,
        "run": {"started_utc": "2026-01-01T00:00:00+00:00", "command": ["reunite", "scan", src]},
        "software": {"python": "3.11", "packages": {"av": "14"}, "libav": {}},
        "models": {"person_detector": {"name": "yolox_nano", "path": "/m/y.onnx",
                                       "sha256": "ab" * 32, "licence": "Apache-2.0",
                                       "official_artifact": False, "note": EVIL}},
        "config": {"hash": "cd" * 32, "resolved": {"output": {"note": EVIL}}},
        "inputs": [{"path": src, "status": "partial", "error": f"{src}: truncated",
                    "sha256_before": "ef" * 32, "sha256_after": "ef" * 32, "slug": None,
                    "probe": {"container": "mp4", "video_codec": "h264", "width": 320,
                              "height": 240, "avg_fps": 10.0, "duration_s": 100.0,
                              "creation_time": "2024-05-01T22:10:00.000000Z"},
                    "decode": {"frames_decoded": 50, "frames_analysed": 50, "frames_not_decoded": 20,
                               "decode_faults": 2,
                               "fault_messages": [EVIL, "bad NAL"], "ended": "truncated"}}],
        "skipped": [{"path": f"/evidence/{EVIL}.txt", "reason": "not a video extension"}],
        "summary": {"inputs": 1, "ok": 0, "partial": 1, "failed": 0, "events": 2},
        "outputs": {},
    }
    (d / "manifest.json").write_text(json.dumps(manifest))
    events = [
        {"id": "cam-e1", "type": "carry", "source": src, "source_sha256": "ef" * 32,
         "start_s": 12.0, "end_s": 15.5, "adult_track": 3, "child_track": 4, "score": 0.8,
         "summary": EVIL, "evidence": [{"t_s": 12 + k, "containment": 0.4 + 0.1 * k,
                                        "off_ground": 0.3} for k in range(4)],
         "clip": "clips/cam-e1.mp4", "thumbnail": "clips/cam-e1.jpg"},
        {"id": "cam-e2", "type": "lead_away", "source": src, "source_sha256": "ef" * 32,
         "start_s": 40.0, "end_s": 44.0, "adult_track": 5, "child_track": [6, 7], "score": 0.3,
         "summary": "", "evidence": [], "clip": None, "thumbnail": None},
    ]
    jpeg(d / "clips" / "cam-e1.jpg")
    (d / "events.json").write_text(json.dumps({"events": events}))
    if with_faces:
        jpeg(d / "faces" / "ref #1.jpg")
        jpeg(d / "faces" / "m1.jpg")
        matches = [{"subject": EVIL, "source": src, "source_sha256": "ef" * 32, "track": 3,
                    "start_s": 12.0, "end_s": 14.0, "distance": 0.041, "threshold": 0.07,
                    "rank": 1, "quality": 0.7, "thumbnail": "faces/m1.jpg",
                    "reference_thumbnail": "faces/ref #1.jpg"},
                   {"subject": "=HYPERLINK(\"http://x\")", "source": src,
                    "source_sha256": "ef" * 32, "track": 9, "start_s": 50.0, "end_s": 52.0,
                    "distance": 0.06, "threshold": 0.07, "rank": 2, "quality": 0.4,
                    "thumbnail": None, "reference_thumbnail": None}]
        (d / "matches.json").write_text(json.dumps({"matches": matches}))
        ident = {"identities": [
            {"id": "P1", "linked_by": "face", "sightings": [
                {"source": src, "source_sha256": "ef" * 32, "track": 3, "start_s": 25.0,
                 "end_s": 50.0, "thumbnail": "faces/m1.jpg", "cue": "face"},
                {"source": "/evidence/cam2.mp4", "source_sha256": "01" * 32, "track": 7,
                 "start_s": 1.0, "end_s": 2.0, "thumbnail": None, "cue": "face"}]},
            {"id": "P2", "linked_by": "single", "sightings": [
                {"source": src, "source_sha256": "ef" * 32, "track": 11, "start_s": 60.0,
                 "end_s": 61.5, "thumbnail": "faces/m1.jpg", "cue": "appearance"}]}]}
        (d / "identities.json").write_text(json.dumps(ident))
    return d


def text_of(page: str) -> str:
    """Visible text, roughly: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_report_escapes_everything_and_shows_matches_and_identities(tmp_path):
    d = case_dir(tmp_path)
    assert rebuild_report(d) == ["events.csv", "matches.csv", "report.html"]
    page = (d / "report.html").read_text()
    assert page.count("<script") == 1 and "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;&amp;&#34;" in page
    assert '<span class="ctl" title="control character U+000A">\\n</span>ünï' in page
    # no network: no absolute URL anywhere in a src/href
    assert not re.search(r'(src|href)="(https?:|//|/)', page)
    # matches: reference photo beside the best face, URL-quoted relative paths
    assert '<img src="faces/ref%20%231.jpg"' in page and '<img src="faces/m1.jpg"' in page
    assert "0.041" in page and "threshold 0.070" in page
    # identity timeline: sighting 25–50 s of a 100 s source; a person seen once is listed
    # after the linked identities, folded, and not counted as one
    assert 'style="left:25.0%;width:25.0%"' in page
    assert "Identities (1 linked)" in page
    folded = page.split("1 person seen once, linked to no other track")[1].split("</details>")[0]
    assert ">P2<" in folded and "#11" in folded and "Identity P2" not in page
    # events: thumbnail and clip for the first; "no clip" for the second; evidence sparkline
    assert 'src="clips/cam-e1.mp4"' in page and page.count("no clip") >= 1
    assert "<polyline" in page and "containment" in page
    # source facts, decode faults and wall clock from the container's creation time
    txt = text_of(page)
    assert "decode faults: 2" in txt and "bad NAL" in txt and "not decoded 20" in txt and "2024-05-01 22:10:12" in txt
    # the reviewer is told what an empty result does not prove
    assert "a missing flag is not a clearance" in txt
    m = json.loads((d / "manifest.json").read_text())
    assert set(m["outputs"]) == {"events.csv", "matches.csv", "report.html"}


def test_models_table_lists_every_file_of_a_model_made_of_parts(tmp_path):
    # The manifest's "faces" entry is nested (the shape detectors/faces.py writes): its files'
    # sha256 were once shown as one row reading "None".
    d = case_dir(tmp_path)
    m = json.loads((d / "manifest.json").read_text())
    m["models"]["faces"] = {
        "detector": "dlib HOG frontal face detector (built into dlib)",
        "landmarks": {"name": "dlib_landmarks_5", "path": "/m/lm5.dat", "sha256": "c4" * 32,
                      "licence": "CC0-1.0", "official_artifact": True},
        "embedder": "deepface Dlib",
        "weights": {"name": "dlib_face_resnet", "path": "/m/resnet.dat", "sha256": "55" * 32,
                    "licence": "CC0-1.0", "official_artifact": True},
        "match_threshold_cosine": 0.08,
    }
    (d / "manifest.json").write_text(json.dumps(m))
    rebuild_report(d)
    page = (d / "report.html").read_text()
    table = page.split("<h3>Models</h3>")[1].split("</table>")[0]
    table = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", table)).split())
    assert "ab" * 32 in table and "c4" * 32 in table and "55" * 32 in table
    assert "faces · landmarks dlib_landmarks_5 /m/lm5.dat" in table
    assert "faces · weights dlib_face_resnet /m/resnet.dat" in table
    assert "faces · detector dlib HOG frontal face detector (built into dlib)" in table
    assert "None" not in table and "0.08" not in table


def test_csvs_have_a_row_per_item_and_defuse_formulas(tmp_path):
    d = case_dir(tmp_path)
    rebuild_report(d)
    ev = list(csv.DictReader((d / "events.csv").open(newline="", encoding="utf-8")))
    assert [r["id"] for r in ev] == ["cam-e1", "cam-e2"]
    assert ev[0]["summary"] == EVIL and ev[1]["child_track"] == "6;7"
    ma = list(csv.DictReader((d / "matches.csv").open(newline="", encoding="utf-8")))
    assert [r["id"] for r in ma] == ["match-1", "match-2"]
    assert ma[1]["subject"] == "'=HYPERLINK(\"http://x\")" and ma[0]["distance"] == "0.041"
    assert cell(-1.5) == -1.5 and cell("-x") == "'-x" and cell(None) == ""


def test_report_without_faces_says_so_and_matches_csv_has_its_header(tmp_path):
    d = case_dir(tmp_path, with_faces=False)
    rebuild_report(d)
    page = (d / "report.html").read_text()
    assert "No watch list was given" in page and "no identities.json" in page
    lines = (d / "matches.csv").read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("id,subject,")


def test_report_on_a_folder_without_manifest_names_the_file(tmp_path):
    with pytest.raises(InputError, match=r"manifest.json: file not found"):
        rebuild_report(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match=r"manifest.json: not readable JSON"):
        rebuild_report(tmp_path)
    d = case_dir(tmp_path)
    (d / "events.json").write_text("[]")
    with pytest.raises(InputError, match=r"events.json: expected a JSON object, got list"):
        rebuild_report(d)


def test_helpers():
    assert rel_url("../../etc/passwd") == "etc/passwd" and rel_url("/abs/x y.jpg") == "abs/x%20y.jpg"
    assert str(visible("a<b\tc")) == 'a&lt;b<span class="ctl" title="control character U+0009">\\t</span>c'


def test_report_command_on_a_bad_folder_is_one_line_exit_2(tmp_path):
    from click.testing import CliRunner

    from cli import main

    r = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "manifest.json: file not found" in r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
