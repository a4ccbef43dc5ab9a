"""The bad-input table: how every odd or hostile input ended (processed / partial / failed and
the one line printed for it).

Run it as a script to scan ``../shared/data/odd_media`` plus the generated corpus with the real
CLI and print the table (markdown)::

    REUNITE_MODELS=../shared/models .venv/bin/python -m tests.hardening.table
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.inputs import display_name
from tests.hardening.corpus import build_corpus, running_as_root

# Fast settings: these scans test ingest and error handling, not detection accuracy.
FAST = ["--set", "ingest.analysis_fps=2", "--set", "detector.tiling=off"]


def problem_lines(output: str) -> list[str]:
    """The per-file lines of a scan's stderr (FAILED, PARTIAL, FAULTS)."""
    return [ln for ln in output.splitlines()
            if ln.startswith(("reunite: FAILED ", "reunite: PARTIAL ", "reunite: FAULTS "))]


def rows(manifest: dict, output: str, kinds: dict[str, str]) -> list[dict[str, str]]:
    """One row per input: file, kind, status, the line printed for it (or what was processed)."""
    lines = problem_lines(output)
    out = []
    for entry in manifest["inputs"]:
        name = Path(entry["path"]).name
        shown = display_name(entry["path"])
        said = [ln for ln in lines if shown in ln]
        if entry["status"] == "ok":
            d = entry["decode"] or {}
            how = f"processed: {d.get('frames_analysed')} frames analysed"
            if d.get("decode_faults"):
                how += f", {d['decode_faults']} decode fault(s) reported"
        else:
            how = said[0].split(": ", 1)[1] if said else "(no line printed!)"
            how = how.replace(shown + ": ", "", 1)
        kind = kinds.get(name, "odd_media (SOURCES.md)")
        if name == "unreadable.mp4" and running_as_root():
            kind += " (scan ran as root, which mode bits do not stop)"
        out.append({"file": name, "kind": kind,
                    "status": entry["status"], "how": how})
    return out


def markdown(table: list[dict[str, str]]) -> str:
    head = "| file | kind | ended | message / result |\n|---|---|---|---|\n"
    body = "".join(f"| `{r['file']}` | {r['kind']} | {r['status']} | {r['how']} |\n" for r in table)
    counts = {s: sum(r["status"] == s for r in table) for s in ("ok", "partial", "failed")}
    return head + body + (f"\n{len(table)} inputs: {counts['ok']} processed, "
                          f"{counts['partial']} partial, {counts['failed']} failed\n")


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    odd = Path(os.environ.get("REUNITE_SHARED", root.parent / "shared")) / "data" / "odd_media"
    with tempfile.TemporaryDirectory() as tmp:
        gen = Path(tmp) / "generated"
        kinds = build_corpus(gen)
        out = Path(tmp) / "out"
        r = subprocess.run([sys.executable, str(root / "cli.py"), "scan", "--quiet", str(odd),
                            str(gen), "--out", str(out), *FAST],
                           capture_output=True, text=True, cwd=root)
        manifest = json.loads((out / "manifest.json").read_text())
        print(markdown(rows(manifest, r.stderr, kinds)))
        print(f"exit code {r.returncode}; traceback printed: {'Traceback' in r.stderr}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
