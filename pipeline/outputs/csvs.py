"""events.csv and matches.csv: one row per event / match, for spreadsheets and case systems.

Both files always have their header row, even with no rows. Text cells that a spreadsheet
would run as a formula (starting with ``= + - @``, tab or carriage return: a hostile file
name) are prefixed with ``'`` (OWASP's CSV-injection advice); numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from pipeline.outputs.atomic import write_text_atomic

EVENT_COLUMNS = [
    "id", "type", "source", "source_sha256", "start_s", "end_s", "adult_track", "adult_tracks",
    "child_track", "score", "summary", "clip", "thumbnail", "clip_start_s", "clip_end_s",
]
MATCH_COLUMNS = [
    "id", "subject", "source", "source_sha256", "track", "start_s", "end_s", "distance",
    "threshold", "rank", "quality", "thumbnail", "reference_thumbnail", "clip", "clip_thumbnail",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A CSV-safe cell: lists joined by ``;``, dicts as JSON, formula-like text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def rows_csv(rows: list[dict[str, Any]], columns: list[str], ids: str | None = None) -> str:
    """CSV text (header + one row per dict); ``ids``: prefix for rows without an ``id``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for k, row in enumerate(rows, 1):
        row = dict(row)
        if ids and not row.get("id"):
            row["id"] = f"{ids}-{k}"
        w.writerow([cell(row.get(c)) for c in columns])
    return buf.getvalue()


def write_csvs(out_dir: Path, events: list[dict[str, Any]], matches: list[dict[str, Any]]) -> list[str]:
    """Write ``events.csv`` and ``matches.csv`` (atomically); returns their relative paths."""
    write_text_atomic(out_dir / "events.csv", rows_csv(events, EVENT_COLUMNS))
    write_text_atomic(out_dir / "matches.csv", rows_csv(matches, MATCH_COLUMNS, ids="match"))
    return ["events.csv", "matches.csv"]
