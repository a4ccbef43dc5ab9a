"""read_objects: JSON Lines parsed as json.loads would, a long line's list element by element."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.outputs.jsonl_stream import read_objects


def _drop_odd(d):
    """Hook: list elements with an odd ``k`` become None, the rest stay."""
    if "k" in d:
        return None if d["k"] % 2 else d
    return d


def _expected(lines: list[object]) -> list[object]:
    return [json.loads(json.dumps(obj), object_hook=_drop_odd) for obj in lines]


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 1 << 18])
def test_same_objects_as_json_loads_at_every_chunk_size(tmp_path, chunk):
    rng = np.random.default_rng(chunk)
    lines: list[object] = []
    for n in (0, 1, 3, 40, 300):
        items = [{"k": k, "xy": [round(float(v), 3) for v in rng.normal(0, 1e3, 2)], "s": "é\\\"x"}
                 for k in range(n)]
        lines.append({"id": n, "attributes": {"a": [1, {"b": None}]}, "items": items})
    lines.append({"id": 9, "items": [{"k": 0}, 12345678901234, -0.000123e-7, "]", [1, [2]]],
                  "after": {"z": 1}})  # numbers that can be cut by a chunk; a key after it
    lines.append({"id": 10, "attributes": {"items": [1, 2, 3] * 30}})  # nested key only
    lines.append({"id": 11, "other": list(range(200))})  # no such key at all
    path = tmp_path / "x.jsonl"
    text = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n"
    path.write_text(text, encoding="utf-8")
    got = list(read_objects(path, _drop_odd, "items", chunk=chunk))
    assert got == _expected(lines)
    path.write_text(text.rstrip("\n"), encoding="utf-8")  # no newline at the end
    assert list(read_objects(path, _drop_odd, "items", chunk=chunk)) == _expected(lines)


@pytest.mark.parametrize("bad", ['{"id": 1, "items": [{"k": 0} {"k": 2}]}',
                                 '{"id": 1, "items": [{"k": 0}, {"k": 2}]',
                                 '{"id": 1, "items": [{"k": 0}, {"k": 2]}'])
def test_broken_lines_raise_like_json_loads(tmp_path, bad):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 0}\n' + bad + "\n", encoding="utf-8")
    with pytest.raises(json.JSONDecodeError):
        list(read_objects(path, _drop_odd, "items", chunk=4))
