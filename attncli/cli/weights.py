"""`attncli weights ...`: what a weights file for --mode qkv holds. Thin: the work is in
weightsfile, the tables in render."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from .app import commands
from .console import print_json, print_renderables
from .options import QuietOpt

weights_app = typer.Typer(help="Weights files for --mode qkv: what they hold and where they came from.", no_args_is_help=True)
commands.add_typer(weights_app, name="weights")


@weights_app.command("info")
def info(
    weights: Annotated[str, typer.Argument(help="A weights file (.npz), or 'wic' for the shipped one.", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")] = False,
    quiet: QuietOpt = False,
):
    """Shapes, heads, how far each matrix is from the identity (rank and relative norm of W - I),
    the attention settings the file carries, and the training data and scores it records.

    Example: attncli weights info wic
    """
    from ..weightsinfo import weights_info

    result = weights_info(weights)
    if json_out:
        return print_json(dataclasses.asdict(result))
    from ..render import weights_info_renderables

    print_renderables(weights_info_renderables(result), numbers=result)
