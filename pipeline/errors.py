"""Errors a user can cause. The CLI prints them as one line; anything else is a bug and keeps
its traceback."""

from __future__ import annotations


class ReuniteError(Exception):
    """Base of the user-caused errors."""


class InputError(ReuniteError):
    """An input file cannot be processed (missing, unreadable, not a video, corrupt).

    Attributes:
        path: the file as given by the user.
        reason: one line saying what is wrong.
    """

    def __init__(self, path: str, reason: str) -> None:
        from pipeline.inputs import display_name  # names are escaped: one message, one line

        super().__init__(f"{display_name(path)}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # pickled by its arguments (not the message): it crosses from worker processes
        return (type(self), (self.path, self.reason))


class ModelError(ReuniteError):
    """A model file is missing, fails its checksum, or cannot be loaded."""


class OutputError(ReuniteError):
    """An output cannot be written (disk full, permissions, a path escaping the output folder)."""


def output_error(path: object, exc: OSError) -> OutputError:
    """An :class:`OutputError` for a failed write, e.g. ``cannot write out/x.json: No space
    left on device (disk full; ...)``."""
    import errno

    from pipeline.inputs import display_name

    hint = ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = " (disk full; files under their final names are complete, rerun when space is back)"
    return OutputError(f"cannot write {display_name(str(path))}: {exc.strerror or exc}{hint}")
