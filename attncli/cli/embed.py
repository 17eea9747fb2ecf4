"""`attncli embed "SENTENCE"`: the attention matrix and the contextual vectors of one sentence,
as tables, JSON, an HTML page or an SVG image."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..pipeline import MAX_ATTENTION_CELLS
from .app import commands
from .console import print_json, print_renderables, report_results, sentence_arg, write_file
from .options import HtmlOpt, QuietOpt, SvgOpt, VerboseOpt, bounded, config_options


@commands.command()
@config_options
def embed(
    text: Annotated[Optional[str], typer.Argument(help="The sentence to embed ('-': read it from stdin; many: attncli batch -i FILE).", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")] = False,
    dims: Annotated[int, typer.Option(**bounded(1), help="Vector dimensions shown in tables.")] = 8,
    show_static: Annotated[bool, typer.Option("--show-static", help="Also show the static vectors the formula uses (centered when --center is on), to redo the arithmetic.")] = False,
    neighbors: Annotated[int, typer.Option("--neighbors", **bounded(0), help="Also show each token's K nearest vocabulary words (cosine to its contextual vector).")] = 0,
    html_file: HtmlOpt = None,
    svg_file: SvgOpt = None,
    max_attention_cells: Annotated[int, typer.Option(**bounded(1), rich_help_panel="Limits", help="Refuse a sentence whose heads x n x n attention weights pass this (long texts: attncli batch -i).")] = MAX_ATTENTION_CELLS,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    *,
    config,
):
    """Embed one sentence: the attention matrix and the new contextual vectors.

    Example: attncli embed "money bank grows" --json | jq '.attention[1]'

    For a file of sentences, see attncli batch (attncli embed -i FILE is the same command).
    """
    if text is None:
        raise UsageError("give a sentence to embed, or -i FILE for a file of sentences (-i - for stdin)")
    text = sentence_arg(text)
    from .. import pipeline

    result = pipeline.embed(text, config, max_attention_cells=max_attention_cells)
    report_results([result], verbose)
    near = pipeline.neighbors(result, neighbors) if neighbors else None
    if html_file is not None:
        from ..html import embed_page

        write_file(html_file, embed_page(result).encode("utf-8"), announce=not quiet)
    if svg_file is not None or not json_out:
        from ..render import embed_renderables, neighbors_table

        inputs = pipeline.formula_inputs(result) if show_static else None
        parts = embed_renderables(result, dims=dims, inputs=inputs)
        if near is not None:
            parts.append(neighbors_table(result.surfaces, near))
        print_renderables(parts, svg_file, numbers=(result, near), show=not json_out, title="attncli embed", announce=not quiet)
    if json_out:
        from ..export import embed_record

        record = embed_record(result)
        if near is not None:
            record["neighbors"] = near
        print_json(record)
