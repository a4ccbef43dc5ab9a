"""A scan makes no network traffic and leaves nothing in the user's home: no connect, no UDP
send (telemetry), no DNS lookup, no bind beyond loopback, and no library keeps a telemetry id or
event store (onnxruntime's ~/.cache/Microsoft, found by this suite). reunite's own model cache
(~/.cache/reunite: the registry's cache folder, where the face stage places the Dlib weights it
resolved from the installed package, checked by sha256) is the one thing allowed there.

Runs in a fresh interpreter with the product's own environment defaults (YOLO_* and ORT_*
variables removed), so the CLI must switch telemetry off itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media import write_clip

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import json, socket, sys
attempts = []
def refuse(what):
    attempts.append(what[:100])
    raise OSError("network blocked in test")
# Creating a socket is allowed (urllib3 probes IPv6 support at import by binding to ::1);
# binding anywhere but loopback, and every connect or send, is refused.
_real_bind = socket.socket.bind
def guarded_bind(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("::1", "127.0.0.1", "localhost"):
        refuse(f"bind {address!r}")
    return _real_bind(self, address)
socket.socket.bind = guarded_bind
socket.socket.connect = lambda self, a: refuse(f"connect {a!r}")
socket.socket.connect_ex = lambda self, a: refuse(f"connect_ex {a!r}")
socket.socket.sendto = lambda self, *a: refuse(f"sendto {a[-1]!r}")
socket.socket.sendmsg = lambda self, *a: refuse("sendmsg")
socket.create_connection = lambda a, *x, **k: refuse(f"create_connection {a!r}")
socket.getaddrinfo = lambda h, *x, **k: refuse(f"getaddrinfo {h!r}")
socket.gethostbyname = lambda h: refuse(f"gethostbyname {h!r}")
socket.gethostbyname_ex = lambda h: refuse(f"gethostbyname_ex {h!r}")
from cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
    code = 0
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "attempts": attempts}))
"""


# The default detector; tests/test_no_network.py runs the ultralytics one with the same guards
# against UDP sends and lookups (a second ultralytics start here would cost ~40 s of CI).
@pytest.mark.parametrize("model", ["yolox_nano"])
def test_scan_creates_no_socket_and_leaves_home_empty(tmp_path, models_dir, model):
    clip = write_clip(tmp_path / "a.mp4", [i / 10 for i in range(5)])
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("YOLO_", "ORT_", "XDG_"))}
    env.update(HOME=str(home), REUNITE_MODELS=str(models_dir))
    r = subprocess.run(
        [sys.executable, "-c", _SCRIPT, "scan", "--quiet", str(clip), "--out",
         str(tmp_path / "o"), "--set", f"detector.model={model}", "--set", "detector.tiling=off"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "attempts": []}, r.stderr[-2000:]
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert [p for p in left if not p.startswith(".cache/reunite/models/")] == [], left
