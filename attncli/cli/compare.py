"""`attncli compare`: follow a word across sentences."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..pipeline import MAX_ATTENTION_CELLS
from .app import commands
from .console import print_json, print_renderables, report_result, write_file
from .options import HtmlOpt, QuietOpt, SvgOpt, bounded, config_options


@commands.command()
@config_options
def compare(
    sentences: Annotated[Optional[list[str]], typer.Argument(help="Two or more sentences holding the word ('-': read more, one per line, from stdin).", show_default=False)] = None,
    word: Annotated[str, typer.Option("--word", "-w", help="The word to follow across the sentences.", show_default=False)] = ...,
    input_file: Annotated[Optional[str], typer.Option("--input", "-i", help="Read sentences from FILE, one per line ('-': stdin).")] = None,
    occurrence: Annotated[int, typer.Option(**bounded(1), help="Which appearance of the word (1-based) in a sentence holding it more than once.")] = 1,
    top: Annotated[int, typer.Option("-n", "--top", **bounded(0), help="Nearest vocabulary words shown per occurrence.")] = 5,
    include_word: Annotated[bool, typer.Option("--include-word", help="Let the word itself appear among its neighbours.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")] = False,
    html_file: HtmlOpt = None,
    svg_file: SvgOpt = None,
    max_attention_cells: Annotated[int, typer.Option(**bounded(1), rich_help_panel="Limits", help="Refuse a sentence whose heads x n x n attention weights pass this (long texts: attncli batch -i).")] = MAX_ATTENTION_CELLS,
    quiet: QuietOpt = False,
    *,
    config,
):
    """Follow a word across sentences: how far its contextual vector moves, and towards which words.

    Example: attncli compare "money bank grows" "bank river flows" --word bank
    """
    from .. import pipeline

    from ..inputs import nonblank_lines

    given = list(sentences or [])
    if given.count("-") + (input_file == "-") > 1:
        raise UsageError("stdin ('-') can be read once: give '-' as one sentence argument or as -i, not both")
    texts = []
    for s in given:  # '-' stands for the lines of stdin, in its place
        texts += [line.strip() for line in nonblank_lines("-")] if s == "-" else [s]
    if input_file is not None:
        texts += [line.strip() for line in nonblank_lines(input_file)]
    result = pipeline.compare(texts, word, config, occurrence=occurrence, k=top, exclude_word=not include_word,
                              max_attention_cells=max_attention_cells)
    for o in result.occurrences:
        report_result(o.result, prefix=f"sentence {o.sentence + 1}: ")
    from ..export import compare_record

    record = compare_record(result)
    if html_file is not None:
        from ..html import compare_page

        write_file(html_file, compare_page(record).encode("utf-8"), announce=not quiet)
    if svg_file is not None or not json_out:
        from ..render import compare_renderables

        print_renderables(compare_renderables(result), svg_file, numbers=record, show=not json_out, title="attncli compare",
                          announce=not quiet)
    if json_out:
        print_json(record)
