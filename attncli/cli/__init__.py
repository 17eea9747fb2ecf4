"""The attncli command line: typer lives here and nowhere else.

    app.py      the application, its groups (eval, train) and the error policy
    console.py  stdout/stderr consoles, warnings, progress, JSON, files
    options.py  the options several commands share, declared once
    embed.py, batch.py, compare.py, senses.py, wic.py, weights.py, vectors.py: one module per command (group)

Commands are thin: they parse options, call the library (pipeline, batch, wic, ...) and hand
its results to render/html/export. Heavy modules are imported inside the commands, so that
`attncli embed ... --json` pays only for what it uses.
"""

from __future__ import annotations

from .app import app

# Each module registers its commands on app; this order is the order of `attncli --help`.
from . import embed, batch, compare, explain, senses, wic, weights, vectors  # noqa: E402, F401, I001

__all__ = ["app", "main"]


def main() -> None:
    app()
