"""attncli's own exceptions. The library raises them; the CLI turns each into one line on
stderr and its exit code: 1 for bad data or state, 2 for bad usage.

`os_error` is the one wording of a failed file operation (a missing file, a name too long, a
symlink loop, a full or read-only disk): every place that opens, stats or writes a path the
user gave turns its OSError into a DataError with it, and the CLI's error policy does the same
for any OSError that still reaches it."""

from __future__ import annotations

import errno
import os


class AttncliError(Exception):
    exit_code = 1


class DataError(AttncliError):
    """The input, a vector file or a weights file cannot be used."""

    exit_code = 1


class UsageError(AttncliError):
    """Options that do not fit together, or out of range."""

    exit_code = 2


class Terminated(BaseException):
    """SIGTERM, raised where the program is, like Ctrl-C's KeyboardInterrupt, so that the same
    clean-up runs (temp files removed, nothing left under the final name); the CLI exits 143.
    A BaseException: no `except Exception` swallows it."""


# Plain words for the errors a path the user typed runs into; others keep the system's text
# ("No space left on device", "Read-only file system", "Input/output error").
_REASONS = {
    errno.ENOENT: "no such file or directory",
    errno.EISDIR: "is a directory",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.ELOOP: "too many levels of symbolic links (a link loop?)",
    errno.ENAMETOOLONG: "file name too long",
}
MAX_SHOWN_PATH = 160  # characters of a path shown in a message; a 5,000-character name is clipped


def shown_path(path: str | os.PathLike | bytes) -> str:
    """A path for a one-line message: as given, the middle of a very long one left out."""
    text = os.fsdecode(path)
    if len(text) <= MAX_SHOWN_PATH:
        return text
    half = MAX_SHOWN_PATH // 2 - 1
    return f"{text[:half]}…{text[-half:]} ({len(text):,} characters)"


def os_reason(e: OSError) -> str:
    """What went wrong, in a few plain words (the system's own text for the rarer errors; an
    OSError raised with words of its own keeps them)."""
    if e.strerror and e.errno is not None and e.strerror != os.strerror(e.errno):
        return e.strerror
    return _REASONS.get(e.errno) or e.strerror or str(e) or type(e).__name__


def os_error(e: OSError, path: str | os.PathLike | None = None, action: str | None = None) -> DataError:
    """The DataError for `e`, raised while working on `path` (default: the path the OSError
    names): `PATH: REASON`, or `cannot ACTION PATH: REASON` when `action` says what was being
    done ("write", "read the config file"). Use: `except OSError as e: raise os_error(e, path) from None`."""
    path = path if path is not None else e.filename
    reason = os_reason(e)
    if path is None:  # an OSError that names no file
        return DataError(f"cannot {action}: {reason}" if action else reason)
    where = shown_path(path)
    return DataError(f"cannot {action} {where}: {reason}" if action else f"{where}: {reason}")
