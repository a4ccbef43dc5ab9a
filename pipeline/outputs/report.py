"""DIR/report.html: one self-contained page for the reviewer, built from stored results only.

Inputs (all inside DIR): ``manifest.json``, ``events.json``, ``sources/*/source.json``, and
when present ``matches.json`` and ``identities.json``. The page has no network references:
CSS and JS are inline, images and clips are relative paths inside DIR (URL-quoted). Every
string from the data is escaped by Jinja2's autoescape; file names also show their control
characters visibly (a newline as ␊), so a hostile name reads as what it is.
"""

from __future__ import annotations

import math
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.outputs.atomic import write_text_atomic
from pipeline.outputs.overlay import wall_clock
from pipeline.outputs.render_pass import read_json

REPORT = "report.html"


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(text: Any) -> Any:
    """``text`` escaped for HTML, with control characters shown as highlighted escapes
    (a newline in a file name reads as a marked ``\\n``), as safe markup."""
    from markupsafe import Markup, escape

    s = "" if text is None else str(text)
    out = []
    for c in s:
        if ord(c) < 32 or ord(c) == 127:
            code = _ESCAPES.get(c, f"\\x{ord(c):02x}")
            out.append(f'<span class="ctl" title="control character U+{ord(c):04X}">{code}</span>')
        else:
            out.append(str(escape(c)))
    return Markup("".join(out))


def rel_url(path: str | None) -> str:
    """A relative path inside DIR as a URL (each segment quoted; never absolute or ``..``)."""
    if not path:
        return ""
    parts = [p for p in str(path).split("/") if p not in ("", ".", "..")]
    return "/".join(urllib.parse.quote(p) for p in parts)


def sparkline(values: list[float], width: int = 120, height: int = 22) -> str:
    """SVG polyline points for ``values`` scaled into width×height (numbers only)."""
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(vals) < 2:
        return ""
    lo, hi = min(vals), max(vals)
    span = hi - lo or 1.0
    step = width / (len(vals) - 1)
    return " ".join(f"{k * step:.1f},{height - 2 - (v - lo) / span * (height - 4):.1f}"
                    for k, v in enumerate(vals))


def evidence_view(evidence: list[dict[str, Any]]) -> dict[str, Any]:
    """Compact evidence: per numeric feature its sparkline, min, max; plus the full table."""
    if not evidence:
        return {"features": [], "columns": [], "rows": []}
    columns = list(dict.fromkeys(k for row in evidence for k in row))
    feats = []
    for key in columns:
        if key == "t_s":
            continue
        vals = [row.get(key) for row in evidence]
        nums = [float(v) for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if nums:
            feats.append({"name": key, "points": sparkline(nums), "min": min(nums),
                          "max": max(nums), "n": len(nums)})
    return {"features": feats, "columns": columns,
            "rows": [[row.get(c) for c in columns] for row in evidence]}


def model_rows(models: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per model file in the manifest's ``models``, nested entries included.

    A role whose entry is itself a file (``person_detector``) is one row. A role made of parts
    (``faces``: a built-in detector, a landmarks file, an embedder and its weights) gives one
    row per part, named ``faces · landmarks`` and so on, so every file's sha256 is on the page;
    a part given as text (``dlib HOG ... (built into dlib)``) is a row with no file.
    Other values (thresholds) are in the resolved configuration and are left out.
    """
    rows: list[dict[str, Any]] = []
    for role, entry in models.items():
        if not isinstance(entry, dict):
            rows.append({"role": role, "name": entry})
        elif "sha256" in entry or "path" in entry or "name" in entry:
            rows.append({"role": role, **entry})
        else:
            for part, value in entry.items():
                if isinstance(value, dict):
                    rows.append({"role": f"{role} · {part}", **value})
                elif isinstance(value, str):
                    rows.append({"role": f"{role} · {part}", "name": value})
    return rows


def _load_optional(path: Path) -> Any:
    return read_json(path) if path.exists() else None


def gather(out_dir: Path, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the page shows, from the stored results in ``out_dir``.

    ``manifest``: the in-memory manifest of a scan being finished (default: the stored one).

    Raises:
        InputError: ``manifest.json`` or ``events.json`` missing or malformed (names the file).
    """
    if manifest is None:
        manifest = read_json(out_dir / "manifest.json")
    events = (read_json(out_dir / "events.json") if (out_dir / "events.json").exists()
              else {"events": []}).get("events", [])
    matches_doc = _load_optional(out_dir / "matches.json")
    identities_doc = _load_optional(out_dir / "identities.json")
    inputs = list(manifest.get("inputs", []))
    for k, entry in enumerate(inputs):
        sj = out_dir / "sources" / str(entry.get("slug")) / "source.json"
        if entry.get("slug") and sj.exists():
            inputs[k] = {**entry, **read_json(sj)}
    by_path = {e.get("path"): e for e in inputs}
    durations = {e.get("path"): ((e.get("probe") or {}).get("duration_s")
                                 or (e.get("decode") or {}).get("last_pts_s") or 0.0) for e in inputs}
    for ev in events:
        src = by_path.get(ev.get("source")) or {}
        ctime = (src.get("probe") or {}).get("creation_time")
        ev["_wall_start"] = wall_clock(ctime, float(ev.get("start_s", 0)))
        ev["_name"] = Path(str(ev.get("source", ""))).name
        ev["_evidence"] = evidence_view(ev.get("evidence") or [])
    matches = list((matches_doc or {}).get("matches", []))
    for k, m in enumerate(matches, 1):
        m.setdefault("id", f"match-{k}")
        m["_name"] = Path(str(m.get("source", ""))).name
    identities = []
    for ident in (identities_doc or {}).get("identities", []):
        rows = []
        for s in ident.get("sightings", []):
            dur = float(durations.get(s.get("source")) or max(float(s.get("end_s") or 0), 1e-6))
            a, b = float(s.get("start_s") or 0), float(s.get("end_s") or 0)
            rows.append({**s, "_name": Path(str(s.get("source", ""))).name,
                         "_left": max(0.0, min(100.0, 100 * a / dur)),
                         "_width": max(0.8, min(100.0, 100 * (b - a) / dur)), "_dur": dur})
        identities.append({**ident, "_rows": rows})
    # A person seen once is linked to no one: listed compactly after the linked identities,
    # which are what this section is for (a busy scan has hundreds of single sightings).
    linked = [i for i in identities if len(i["_rows"]) > 1]
    single = [i for i in identities if len(i["_rows"]) <= 1]
    return {
        "manifest": manifest,
        "model_rows": model_rows(manifest.get("models") or {}),
        "run": manifest.get("run", {}),
        "summary": manifest.get("summary", {}),
        "inputs": inputs,
        "events": events,
        "matches": matches,
        "has_matches": matches_doc is not None,
        "identities": linked,
        "single_sightings": single,
        "has_identities": identities_doc is not None,
        "event_types": sorted({str(e.get("type")) for e in events}),
        "built_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "out_dir": str(out_dir),
    }


def render_html(data: dict[str, Any]) -> str:
    """The page's HTML (Jinja2, autoescape on for every value)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.outputs", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["visible"] = visible
    env.filters["url"] = rel_url
    env.filters["short"] = lambda h, n=12: (str(h)[:n] + "…") if h else "—"
    env.filters["num"] = _num
    return env.get_template("report.html").render(**data)


def _num(v: Any, nd: int = 2) -> str:
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v).lower()
    if isinstance(v, (int, float)):
        return f"{v:.{nd}f}" if isinstance(v, float) else str(v)
    return str(v)


def write_report(out_dir: Path) -> str:
    """Build ``out_dir/report.html`` atomically from stored results; returns its relative path."""
    write_text_atomic(out_dir / REPORT, render_html(gather(out_dir)))
    return REPORT
