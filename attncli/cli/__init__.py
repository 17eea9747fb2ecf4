"""The attncli command line: typer lives here and nowhere else.

    app.py      the application, its groups (eval, train), where each command lives, the error policy
    console.py  stdout/stderr consoles, warnings, progress, JSON, files
    options.py  the options several commands share, declared once
    embed.py, batch.py, compare.py, senses.py, wic.py, weights.py, vectors.py: one module per command (group)

Commands are thin: they parse options, call the library (pipeline, batch, wic, ...) and hand
its results to render/html/export. A command's module is imported only when that command is
asked for (app.COMMANDS), and heavy modules inside the commands, so that `attncli embed ...
--json` pays only for what it uses.
"""

from __future__ import annotations

import os
import sys

import _signal  # signal's C core: `import signal` pulls in enum and functools first (~5 ms)


def _quit_early(signum, frame) -> None:
    """Ctrl-C or SIGTERM while the command line is still loading (typer, numpy, the command's
    modules: ~40 ms): nothing is open or written yet, so one line and the exit code, never a
    KeyboardInterrupt traceback from inside an import. _Group.main puts the real handlers back."""
    interrupted = signum == _signal.SIGINT
    os.write(2, b"attncli: error: interrupted\n" if interrupted else b"attncli: error: terminated\n")
    os._exit(130 if interrupted else 143)


# First thing the console script runs (`from attncli.cli import main`), before the slow imports
# below; not when attncli.cli is imported as a library (tests, a notebook).
if os.path.basename(sys.argv[0]) in ("attncli", "__main__.py") and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    _signal.signal(_signal.SIGINT, _quit_early)
    _signal.signal(_signal.SIGTERM, _quit_early)

import gc  # noqa: E402

from .app import app  # noqa: E402

__all__ = ["app", "main"]


def main() -> None:
    """The console script. Loading a command (numpy, the library, typer's conversion of the
    command) allocates many objects that live as long as the process, and little garbage: the
    collector, which runs after every 700 new objects, would only walk them (~5 ms), so it is off
    until the command is loaded; _Group.resolve_command then freezes what exists (out of every
    later collection) and turns it back on for the command's run. As the process ends, all is
    frozen, so that Python's last collections at exit do not walk every object left (~10 ms):
    atexit handlers still run, and objects outside reference cycles are still freed."""
    gc.disable()
    try:
        app()
    finally:
        gc.freeze()
