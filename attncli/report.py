"""Notes and progress from the library layer (a vector file being converted): silent unless a
handler is installed. The CLI installs one that writes to stderr; the Python API stays quiet.

A handler has `note(msg)` and `progress(label, total)`, a context manager that yields an
`update(done, status=None)` callable; `status` is a short line on the step just done (a
training epoch's loss and accuracy).
"""

from __future__ import annotations

from contextlib import contextmanager

_handler = None


def install(handler) -> None:
    global _handler
    _handler = handler


def installed():
    """The handler now installed (None: silent), to put back after installing another."""
    return _handler


def note(msg: str) -> None:
    if _handler is not None:
        _handler.note(msg)


@contextmanager
def progress(label: str, total: int | None):
    """`with progress("reading x", 3_000_000) as update: ... update(done)`."""
    if _handler is None:
        yield lambda done, status=None: None
        return
    with _handler.progress(label, total) as update:
        yield update
