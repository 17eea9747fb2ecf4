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

import gc

from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """The console script: run the app, which always ends by raising SystemExit."""
    try:
        app()
    finally:
        # The process ends here. Python's last garbage collections at exit would walk every
        # object left (numpy's, typer's, the command's: ~10 ms, a tenth of `attncli embed`)
        # to find cycles nobody will use; frozen objects are left to the OS instead. atexit
        # handlers still run, and objects outside cycles are still freed as modules are cleared.
        gc.freeze()
