"""A real scan with a carry event, shared by the report, CSV and verify tests of this folder.

The composite (tests/outputs/composite.py) is saved under a hostile file name — HTML, quotes,
unicode and a newline — so every output that shows the name is tested with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.outputs.composite import carry_clip

# No "/" (it cannot be in a file name): an unclosed <script> and an <img onerror> do the harm.
HOSTILE = 'cam <script>window.__pwned=1<img src=x onerror=window.__pwned=2> "q\'s" ünï\ncødé.mp4'


@pytest.fixture(scope="session")
def carry_scan(tmp_path_factory, shared_data, models_dir) -> Path:
    """DIR of ``reunite scan`` over the carry composite named :data:`HOSTILE`."""
    root = tmp_path_factory.mktemp("carry")
    (root / "in").mkdir()
    clip = carry_clip(root / "in" / HOSTILE, shared_data)
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REUNITE_MODELS", str(models_dir))
        mp.setenv("HOME", str(root / "home"))
        r = CliRunner().invoke(main, ["scan", "--quiet", str(clip), "--out", str(out)],
                               catch_exceptions=False)
    assert r.exit_code == 0, r.output
    events = json.loads((out / "events.json").read_text())["events"]
    assert [e["type"] for e in events] == ["carry"], events
    return out
