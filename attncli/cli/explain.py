"""`attncli explain`: the formula worked with real numbers for one word."""

from __future__ import annotations

from typing import Annotated

import typer

from ..explain import MAX_ATTENTION_CELLS
from .app import commands
from .console import print_json, print_renderables, report_results, sentence_arg, write_file
from .options import HtmlOpt, QuietOpt, SvgOpt, VerboseOpt, bounded, config_options


@commands.command()
@config_options
def explain(
    text: Annotated[str, typer.Argument(help="The sentence holding the word ('-': read it from stdin).", show_default=False)],
    word: Annotated[str, typer.Option("--word", "-w", help="The word to explain.", show_default=False)] = ...,
    occurrence: Annotated[int, typer.Option(**bounded(1), help="Which appearance of the word (1-based) when the sentence holds it more than once.")] = 1,
    top: Annotated[int, typer.Option("-n", "--top", **bounded(0), help="Nearest vocabulary words shown before and after.")] = 5,
    dims: Annotated[int, typer.Option(**bounded(1), help="Vector dimensions shown (fewer when 80 columns cannot hold them).")] = 6,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of the working.")] = False,
    html_file: HtmlOpt = None,
    svg_file: SvgOpt = None,
    max_attention_cells: Annotated[int, typer.Option(**bounded(1), rich_help_panel="Limits", help="Refuse a sentence whose layers x heads x n x n attention weights pass this (the working keeps them all; long texts: attncli batch -i).")] = MAX_ATTENTION_CELLS,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    *,
    config,
):
    """Work the attention formula for one word with the real numbers: inputs, scores, softmax, weighted sum.

    Example: attncli explain "money bank grows" --word bank
    """
    from ..explain import explain as work

    e = work(sentence_arg(text), word, config, occurrence=occurrence, k=top, max_attention_cells=max_attention_cells)
    report_results([e], verbose)
    if html_file is not None:
        from ..html import explain_page

        write_file(html_file, explain_page(e).encode("utf-8"), announce=not quiet)
    from ..export import explain_record

    record = explain_record(e)
    if svg_file is not None or not json_out:
        from .console import stdout_console
        from ..render import explain_renderables

        width = min(stdout_console().width, 120) if svg_file is None else 80
        print_renderables(explain_renderables(e, dims=dims, width=width), svg_file, numbers=record, show=not json_out,
                          title="attncli explain", announce=not quiet)
    if json_out:
        print_json(record)
