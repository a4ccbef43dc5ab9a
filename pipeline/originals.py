"""Reading originals without leaving a trace, and refusing what is not a plain file.

Seized footage is evidence: it is opened read-only, without updating its access time where the
OS allows, and anything that is not a regular file (a FIFO that would block, a device that never
ends, a symlink loop) is refused with its reason before any read.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from pipeline.errors import InputError


def check_regular_file(path: Path) -> None:
    """Refuse, with one clear reason, anything that is not a regular file that can be opened.

    A FIFO or device named ``.mp4`` would block or never end; a symlink loop or a dangling
    symlink would otherwise read as "file not found".

    Raises:
        InputError: the reason, naming the file.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        reason = "broken symbolic link (its target does not exist)" if path.is_symlink() else (
            "file not found")
        raise InputError(str(path), reason) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(str(path), "symbolic link loop (cannot be followed)") from None
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(str(path), "is a directory")
    if not stat.S_ISREG(st.st_mode):
        kind = ("named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else
                "device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "socket" if stat.S_ISSOCK(st.st_mode) else "special file")
        raise InputError(str(path), f"not a regular file (a {kind})")


def open_original(path: str | Path) -> Any:
    """Open an original read-only for reading, without updating its access time where the OS
    allows it (``O_NOATIME``: the file's owner or root), so reading leaves no trace on it.

    Returns:
        A binary file object (the caller closes it).
    """
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        if not noatime:
            raise
        fd = os.open(path, flags)  # not the owner: O_NOATIME is refused, read normally
    return os.fdopen(fd, "rb")


def hash_original(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 (hex) of an original, read through :func:`open_original`."""
    h = hashlib.sha256()
    with open_original(path) as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
