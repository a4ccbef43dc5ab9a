"""Where a scan's memory peaks: RSS sampled through one scan, with a stack at each new high.

    REUNITE_MODELS=../shared/models .venv/bin/python bench/rss_timeline.py FILE LOG \\
        [--after-mib 318] [scan options...]

Runs ``reunite scan FILE`` in a child process and samples its resident size every 0.1 s into
LOG (``<seconds> RSS <MiB>``). Whenever the RSS passes its highest value so far and is above
``--after-mib`` (set it near the end-of-pass level to look at the steps after the pass),
``py-spy dump`` writes the Python stack of the moment into LOG (``pip install py-spy``; it is
not a dependency of the project, and without it only RSS is logged).
The last line gives the highest sample. Sampling misses short spikes: the exact peak is
``bench/speed.py long``'s (``/usr/bin/time``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(x.split()[1]) // 1024 for x in fh if x.startswith("VmRSS"))
    except (OSError, StopIteration):
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", type=Path)
    ap.add_argument("log", type=Path)
    ap.add_argument("--after-mib", type=int, default=0)
    args, scan_args = ap.parse_known_args()
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    with tempfile.TemporaryDirectory() as td, open(args.log, "w") as log:
        p = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "scan", str(args.file),
                              "--out", str(Path(td) / "out"), *scan_args],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        t0 = time.time()
        lock = threading.Lock()

        def copy_output() -> None:
            assert p.stdout is not None
            for line in p.stdout:
                with lock:
                    log.write(f"{time.time() - t0:8.1f} LOG {line.decode(errors='replace')}")

        threading.Thread(target=copy_output, daemon=True).start()
        high = 0
        while p.poll() is None:
            rss = rss_mib(p.pid)
            if rss is None:
                break
            now = time.time() - t0
            with lock:
                log.write(f"{now:8.1f} RSS {rss}\n")
                if rss > high and rss > args.after_mib and spy:
                    stack = subprocess.run([spy, "dump", "--pid", str(p.pid)],
                                           capture_output=True, text=True).stdout
                    log.write(f"{now:8.1f} DUMP at {rss}\n{stack}\n")
                log.flush()
            high = max(high, rss)
            time.sleep(0.1)
        log.write(f"done rc {p.wait()} highest sample {high} MiB\n")
    print(f"highest sample {high} MiB; timeline in {args.log}")


if __name__ == "__main__":
    main()
