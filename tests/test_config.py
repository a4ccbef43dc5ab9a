from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from pipeline.config import Config, ConfigError, load_config, parse_set

ROOT = Path(__file__).resolve().parents[1]


def test_default_yaml_equals_model_defaults():
    """configs/default.yaml documents every key with the value the code uses."""
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    assert data == Config().to_dict()


def test_default_yaml_has_a_comment_on_every_key():
    lines = (ROOT / "configs" / "default.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if line.startswith("  ") and stripped and not stripped.startswith("#") and ":" in stripped:
            assert lines[i - 1].strip().startswith("#"), f"no comment above {stripped!r}"


def test_set_overrides_and_types():
    cfg = load_config(None, ["detector.confidence=0.3", "output.annotated_video=false",
                             "models.dir=/x"])
    assert cfg.detector.confidence == 0.3
    assert cfg.output.annotated_video == "never"
    assert cfg.models.dir == "/x"


def test_file_then_set_layering(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("detector:\n  confidence: 0.4\n  tiling: off\n")
    cfg = load_config(f, ["detector.confidence=0.2"])
    assert cfg.detector.confidence == 0.2 and cfg.detector.tiling == "off"
    assert cfg.hash() != Config().hash()
    assert load_config(f).hash() == load_config(f).hash()


@pytest.mark.parametrize(
    "sets, message",
    [
        (["detector.confidnce=0.3"], "detector.confidnce: unknown key (known: model, confidence"),
        (["detectr.model=x"], "detectr: unknown key"),
        (["detector.confidence=3"], "detector.confidence: Input should be less than or equal to 1"),
        (["ingest.analysis_fps=fast"], "ingest.analysis_fps:"),
        (["detector.tiling=sometimes"], "detector.tiling:"),
        (["detector=1"], "detector:"),
        (["detector.confidence.x=1"], "detector.confidence: Input should be a valid number"),
        (["detector.confidence=0.2", "detector.confidence.x=1"],
         "detector.confidence: is a value, not a section"),
        (["nonsense"], "expected KEY.PATH=VALUE"),
        (["tracker.low_threshold=0.5", "tracker.high_threshold=0.4"],
         "tracker: Value error, low_threshold (0.5) must be <= high_threshold (0.4)"),
        (["a..b=1"], "empty key segment"),
    ],
)
def test_bad_values_name_the_key_path(sets, message):
    with pytest.raises(ConfigError) as exc:
        load_config(None, sets)
    assert message in str(exc.value)


def test_bad_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(f)
    f.write_text("detector: {confidence: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(f)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_parse_set_yaml_values():
    assert parse_set("a.b=1") == (["a", "b"], 1)
    assert parse_set("a=null") == (["a"], None)
    assert parse_set("a=x=y") == (["a"], "x=y")


def test_cli_config_error_exit_2_one_line():
    r = CliRunner().invoke(main, ["config", "show", "--set", "tracker.lost_timeout_s=-1"])
    assert r.exit_code == 2
    assert "tracker.lost_timeout_s" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["scan", "x.mp4", "--out", "o", "--set", "bogus.key=1"])
    assert r.exit_code == 2 and "bogus: unknown key" in r.output


def test_cli_config_show_prints_resolved_yaml_and_hash():
    r = CliRunner().invoke(main, ["config", "show", "--set", "detector.threads=1"])
    assert r.exit_code == 0
    body = yaml.safe_load(r.output)
    assert body["detector"]["threads"] == 1
    assert "# config hash: " + load_config(None, ["detector.threads=1"]).hash() in r.output


@pytest.mark.parametrize("preset", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_preset_loads_and_every_key_is_commented(preset):
    path = ROOT / "configs" / preset
    load_config(path)  # unknown keys or bad values would raise
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        s = line.strip()
        if line.startswith("  ") and s and not s.startswith("#"):
            assert lines[i - 1].strip().startswith("#"), f"{preset}: no comment above {s!r}"
