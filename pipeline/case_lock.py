"""One writer at a time in a case folder.

A scan removes the temporary files a killed scan left (``.NAME.*.part``) before it starts, and
writes the report and the manifest last. A second scan (or ``reunite report``) started into a
folder that a running scan is writing would delete that scan's half-written outputs and
overwrite its manifest. So every command that writes a case folder holds an exclusive lock on
``DIR/case.lock`` while it runs, and a second one is refused with one line naming the
holder; ``reunite verify`` declines to check a folder being written.

The lock is the kernel's (``flock``): it goes with the process, so a scan killed by ``kill
-9``, the OOM killer or a power cut leaves nothing to clean up and its rerun resumes at once.
The file itself stays (removing it would let two writers lock two different files); it holds
who has it, for the message. Like the case store it is the tool's working file, not a
deliverable: no manifest lists it and ``verify`` does not count it. The standard
library's ``fcntl`` is used rather than the ``filelock`` package: the same call on Linux and
macOS, without ``filelock``'s 26 ms import or its fallback to a lock file that outlives a
killed process. Where ``fcntl`` or ``flock`` is missing (Windows, a filesystem without
locks), the command runs unlocked and says so.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from pipeline.errors import ReuniteError, output_error
from pipeline.inputs import display_name

LOCK_NAME = "case.lock"
# what flock raises when another process holds the lock
_HELD_ELSEWHERE = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None  # type: ignore[assignment]


class CaseBusyError(ReuniteError):
    """Another reunite command is writing the case folder (the message names it)."""


def _holder(fd: int) -> str:
    """What the holder wrote into the lock file: pid, host, start time, command."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown"


def _busy(out_dir: Path, fd: int) -> CaseBusyError:
    return CaseBusyError(
        f"{display_name(out_dir)} is in use by another reunite command ({_holder(fd)}); "
        "wait for it to end, or write to another folder")


@contextmanager
def hold_case(out_dir: Path, argv: list[str] | None = None,
              warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
              ) -> Iterator[None]:
    """Hold ``out_dir`` (an existing folder) for one writing command.

    Raises:
        CaseBusyError: another process holds it.
        OutputError: the lock file cannot be created (the folder is not writable).
    """
    if fcntl is None:
        warn(f"reunite: cannot lock {display_name(out_dir)} here (no fcntl); make sure no other "
             "reunite command writes there meanwhile")
        yield
        return
    try:
        fd = os.open(out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise output_error(out_dir / LOCK_NAME, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in _HELD_ELSEWHERE:
                raise _busy(out_dir, fd) from None
            warn(f"reunite: cannot lock {display_name(out_dir)} ({exc.strerror}); make sure no "
                 "other reunite command writes there meanwhile")
            yield
            return
        started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        command = " ".join(argv or sys.argv)
        info = f"pid {os.getpid()} on {socket.gethostname()}, since {started}: {command}"
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode("utf-8", "replace"), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same, only the message lacks its holder
        yield
    finally:
        os.close(fd)  # closing releases the lock


def check_not_busy(out_dir: Path) -> None:
    """Raise :class:`CaseBusyError` if a reunite command is writing ``out_dir`` now.

    Reads only: no lock file is created, nothing in the folder changes (``verify`` runs on
    folders handed over, read-only media included)."""
    if fcntl is None:
        return
    try:
        fd = os.open(out_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return  # no lock file: never written by a locking reunite, or not readable
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _HELD_ELSEWHERE:
            raise _busy(out_dir, fd) from None
    finally:
        os.close(fd)
