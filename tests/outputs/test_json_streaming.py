"""write_json_atomic streams the text: no copy of a large document's whole text is built."""

from __future__ import annotations

import json

from pipeline.outputs.atomic import write_json_atomic
from tests.memory import peak_bytes


def test_large_json_is_written_as_encoded_and_reads_back(tmp_path):
    doc = {"tracks": [{"track": k, "appearance": [round(k / 7 + j / 1000, 5) for j in range(68)]}
                      for k in range(1500)]}
    path = tmp_path / "faces.json"
    peak = peak_bytes(lambda: write_json_atomic(path, doc))
    size = path.stat().st_size
    assert size > 1_500_000
    assert peak < size / 2, f"peak {peak} bytes writing {size} bytes"  # json.dumps: ~8x the size
    assert path.read_text(encoding="utf-8") == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def test_undecodable_name_falls_back_to_escapes(tmp_path):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"name": "clip\udcff.mp4"})
    assert path.read_text(encoding="utf-8") == '{\n  "name": "clip\\udcff.mp4"\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary file left
