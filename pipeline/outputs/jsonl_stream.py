"""Read a JSON Lines file in bounded memory, however long its lines.

A ``tracks.jsonl`` line holds one track with all its observations: a figure tracked for an
hour is one line of ~5.4 MB, and reading it as a line (then parsing it) took ~10 MiB for a
moment, the largest step of a long scan's render pass. Here a line longer than a chunk has
its list under one key (``observations``) parsed element by element as the text comes in, so
each element can be turned into a row, or dropped, by the ``object_hook`` before the next is
read. Short lines are parsed whole, as ``json.loads`` would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHUNK = 1 << 16  # characters read at a time
_WS = " \t\r"


def read_objects(path: Path, object_hook: Callable[[dict[str, Any]], Any], stream_key: str,
                 chunk: int = CHUNK) -> Iterator[dict[str, Any]]:
    """Each non-blank line's JSON object, parsed with ``object_hook``.

    A line longer than ``chunk`` characters whose object has the list ``"<stream_key>": [...]``
    (our writers put it last) has that list parsed one element at a time: an element the
    hook turns into a row, or into None, is never held as text or dicts. The hook then sees
    the line's own object without that key (it is added after). The objects are the ones
    ``json.loads(line, object_hook=...)`` gives. A long line without that key is read whole.

    Raises:
        json.JSONDecodeError: a line is not valid JSON (as ``json.loads``).
    """
    decoder = json.JSONDecoder(object_hook=object_hook)
    marker = f'"{stream_key}": ['
    with open(path, encoding="utf-8") as fh:
        text = _Text(fh, chunk)
        while True:
            end = text.buf.find("\n", text.pos)
            if end >= 0:
                line = text.buf[text.pos:end]
                text.pos = end + 1
            elif len(text.buf) - text.pos <= chunk and text.more():
                continue
            elif text.eof:
                line = text.buf[text.pos:]
                text.pos = len(text.buf)
                if line.strip():
                    yield decoder.decode(line)
                return
            else:
                yield _long_line(text, decoder, marker, stream_key)
                continue
            if line.strip():
                yield decoder.decode(line)


class _Text:
    """The file's text, a window of it at a time: ``buf[pos:]`` is what is not read yet."""

    def __init__(self, fh: Any, chunk: int) -> None:
        self.fh, self.chunk = fh, chunk
        self.buf, self.pos, self.eof = "", 0, False

    def more(self) -> bool:
        """Append the next chunk (dropping what was read); False at the end of the file."""
        data = self.fh.read(self.chunk)
        self.buf = self.buf[self.pos:] + data
        self.pos = 0
        self.eof = not data
        return not self.eof

    def peek(self) -> str:
        """The next character that is not a space ("" at the end of the file)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos:self.pos + 1]

    def rest_of_line(self) -> str:
        """Everything up to the end of the line (consumed, newline included)."""
        parts = []
        while True:
            end = self.buf.find("\n", self.pos)
            if end >= 0:
                parts.append(self.buf[self.pos:end])
                self.pos = end + 1
                return "".join(parts)
            parts.append(self.buf[self.pos:])
            self.pos = len(self.buf)
            if not self.more():
                return "".join(parts)


def _long_line(text: _Text, decoder: json.JSONDecoder, marker: str, key: str) -> dict[str, Any]:
    start = text.buf.find(marker, text.pos)
    head = text.buf[text.pos:start].rstrip() if start >= 0 else ""
    try:
        obj = decoder.decode(head[:-1] + "}") if head.endswith(",") else None
    except json.JSONDecodeError:  # the key is not the line object's own
        obj = None
    if not isinstance(obj, dict):
        return decoder.decode(text.rest_of_line())  # another layout: the whole line
    text.pos = start + len(marker)
    items: list[Any] = []
    n = 0
    while True:
        ch = text.peek()
        if ch == "]":
            text.pos += 1
            break
        if n:
            if ch != ",":
                raise json.JSONDecodeError("expected ',' or ']'", text.buf, text.pos)
            text.pos += 1
            text.peek()
        item, text.pos = _value(text, decoder)
        n += 1
        items.append(item)
    tail = text.rest_of_line().strip()
    if tail != "}":  # more keys after the list
        if not tail.startswith(","):
            raise json.JSONDecodeError(f"expected ',' or '}}' after the {key!r} list", tail, 0)
        obj.update(decoder.decode("{" + tail[1:]))
    obj[key] = items
    return obj


def _value(text: _Text, decoder: json.JSONDecoder) -> tuple[Any, int]:
    """The JSON value at ``text.pos`` and where it ends, reading more text until it is whole."""
    while True:
        try:
            value, end = decoder.raw_decode(text.buf, text.pos)
            if end < len(text.buf) or text.eof:  # a number at the end may go on in the next chunk
                return value, end
        except json.JSONDecodeError:
            if text.eof:
                raise
        text.more()
