"""attncli's own exceptions. The library raises them; the CLI turns each into one line on
stderr and its exit code: 1 for bad data or state, 2 for bad usage.

A message that names a setting carries it as an `Option` part, never as spelled text:

    >>> e = UsageError(Option("temperature"), " must be in [1e-06, 1e+06], not 0")
    >>> str(e)
    'temperature must be in [1e-06, 1e+06], not 0'
    >>> with option_style("cli"):
    ...     str(e)
    '--temperature must be in [1e-06, 1e+06], not 0'

Each front end says how options are named: Python callers read the argument's name
(`temperature`), the command line its flag (`--temperature`); the CLI sets its style while a
command runs (`option_style("cli")`).

`os_error` is the one wording of a failed file operation (a missing file, a name too long, a
symlink loop, a full or read-only disk): every place that opens, stats or writes a path the
user gave turns its OSError into a DataError with it, and the CLI's error policy does the same
for any OSError that still reaches it."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os


_STYLE = contextvars.ContextVar("attncli_option_style", default="python")
STYLES = ("python", "cli")


class Option:
    """A setting named in a message: its Python name, and its command-line flag (by default
    the name with dashes: exclude_self -> --exclude-self). With `value`, the setting as given:
    `heads=3` in Python, `--heads 3` on the command line."""

    __slots__ = ("name", "flag", "value")
    _UNSET = object()

    def __init__(self, name: str, flag: str | None = None, value=_UNSET):
        self.name = name
        self.flag = flag or "--" + name.replace("_", "-")
        self.value = value

    def render(self, style: str) -> str:
        has_value = self.value is not Option._UNSET
        if style == "cli":
            return f"{self.flag} {self.value}" if has_value else self.flag
        return f"{self.name}={self.value!r}" if has_value else self.name

    def __reduce__(self):  # picklable (Dask workers raise these)
        return (Option, (self.name, self.flag) + (() if self.value is Option._UNSET else (self.value,)))

    def __repr__(self) -> str:
        return f"Option({self.name!r})"


@contextlib.contextmanager
def option_style(style: str):
    """Within the block, messages name options as `style` says: "python" or "cli"."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}")
    token = _STYLE.set(style)
    try:
        yield
    finally:
        _STYLE.reset(token)


class AttncliError(Exception):
    """A message made of text and `Option` parts (see the module docstring)."""

    exit_code = 1

    def __init__(self, *parts):
        super().__init__(*parts)
        self.parts = parts

    def __str__(self) -> str:
        style = _STYLE.get()
        return "".join(p.render(style) if isinstance(p, Option) else str(p) for p in self.parts)


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
