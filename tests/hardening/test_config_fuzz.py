"""Bad config and ``--set`` input, generated: every value either loads into a config that is
valid JSON (no NaN/inf) or stops with exit 2 and one line naming the key path; never a
traceback."""

from __future__ import annotations

import json
import math

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from cli import main
from pipeline.config import Config, ConfigError, load_config
from pipeline.inputs import one_line

SECTIONS = {name: list(f.annotation.model_fields) for name, f in Config.model_fields.items()}
REAL_KEYS = [f"{s}.{k}" for s, keys in SECTIONS.items() for k in keys]

YAML_TOKENS = [
    ".nan", ".NaN", ".inf", "-.inf", "1e400", "1.0e+400", "-1", "0", "1", "0.5", "2", "1e-9",
    "9" * 400, "0x1F", "0o17", "null", "~", "", " ", "yes", "no", "on", "off", "true", "True",
    "[1, 2]", "[0.5]", "[]", "{}", "{a: 1}", "[1, 2", "{a: [", "*undefined", "&a [1, *a]",
    "!!python/object/apply:os.system ['echo hi']", "!!binary aGVsbG8=", "'quoted'", '"a\\nb"',
    "- a\n- b", "a: b: c", "\t", "%YAML 1.1", "---", "...", "? [a]\n: 1", "é", "\x00", "\x85",
]

segment = st.one_of(
    st.sampled_from(list(SECTIONS) + [k for keys in SECTIONS.values() for k in keys]),
    st.text(max_size=12),
)
key_path = st.one_of(
    st.sampled_from(REAL_KEYS),
    st.lists(segment, min_size=1, max_size=4).map(".".join),
)
value = st.one_of(st.sampled_from(YAML_TOKENS), st.text(max_size=30),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.integers().map(str))
set_expr = st.one_of(st.tuples(key_path, value).map(lambda kv: f"{kv[0]}={kv[1]}"),
                     st.text(max_size=40))


def _check_error(exc: ConfigError, sets: list[str]) -> None:
    msg = str(exc)
    assert "\n" not in msg and "\r" not in msg, msg
    assert len(msg) < 2000
    # names the key path: a key (or the --set text) of one of the inputs
    firsts = [one_line(s.split("=", 1)[0].split(".")[0].strip()) for s in sets]
    assert msg.startswith("--set ") or any(msg.startswith(f) for f in firsts if f) \
        or msg.startswith(("(root)", "config file")), msg


def _check_ok(cfg: Config) -> None:
    data = cfg.to_dict()
    json.dumps(data, allow_nan=False)  # the manifest and the config hash stay valid JSON
    for section in data.values():
        for v in section.values():
            if isinstance(v, float):
                assert math.isfinite(v)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(set_expr, min_size=1, max_size=3))
def test_set_strings_load_or_name_the_key(sets):
    try:
        cfg = load_config(None, sets)
    except ConfigError as exc:
        _check_error(exc, sets)
    else:
        _check_ok(cfg)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(set_expr, min_size=1, max_size=2))
def test_cli_set_exit_2_one_line(sets):
    args = ["config", "show"]
    for s in sets:
        args += ["--set", s]
    r = CliRunner().invoke(main, args)
    assert r.exit_code in (0, 2), (r.exit_code, r.output, r.exception)
    assert "Traceback" not in r.output
    if r.exit_code == 2:
        lines = r.output.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("reunite: error: config: "), r.output
    else:
        assert "# config hash: " in r.output


yaml_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10),
                        st.floats(allow_nan=True, allow_infinity=True))
yaml_tree = st.recursive(
    yaml_scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(segment, st.integers()), children, max_size=4)),
    max_leaves=12,
)
config_doc = st.one_of(
    yaml_tree,
    st.dictionaries(st.sampled_from(list(SECTIONS) + ["bogus"]),
                    st.one_of(yaml_tree, st.dictionaries(segment, yaml_scalar, max_size=4)),
                    max_size=4),
)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(config_doc)
def test_config_files_load_or_name_the_key(tmp_path, doc):
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        cfg = load_config(f)
    except ConfigError as exc:
        msg = str(exc)
        assert "\n" not in msg and len(msg) < 2000, msg
    else:
        _check_ok(cfg)


def test_nan_and_inf_are_refused_with_the_key():
    for v in (".nan", ".inf", "-.inf"):
        try:
            load_config(None, [f"tracker.lost_timeout_s={v}"])
        except ConfigError as exc:
            assert str(exc).startswith("tracker.lost_timeout_s: "), exc
        else:
            raise AssertionError(f"{v} accepted")
