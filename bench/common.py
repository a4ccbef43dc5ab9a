"""Helpers shared by the benchmark scripts (not a test module)."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("REUNITE_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"


def median_time(cmd: list[str], runs: int = 3, env: dict[str, str] | None = None) -> tuple[float, list[float]]:
    """Run a command ``runs`` times; return the median wall time (s) and all times."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, **(env or {})})
        times.append(time.perf_counter() - t)
    return statistics.median(times), times
