"""`attncli compare`: follow a word across sentences."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import DataError, UsageError
from ..inputs import nonblank_lines
from ..pipeline import MAX_ATTENTION_CELLS
from .app import commands
from .console import LineWarnings, note, print_json, print_renderables, report_results, write_file
from .options import HtmlOpt, IndexOpt, QuietOpt, SvgOpt, VerboseOpt, bounded, config_options


@commands.command()
@config_options
def compare(
    sentences: Annotated[Optional[list[str]], typer.Argument(help="Two or more sentences holding the word ('-': read more, one per line, from stdin).", show_default=False)] = None,
    word: Annotated[str, typer.Option("--word", "-w", help="The word to follow across the sentences.", show_default=False)] = ...,
    inputs: Annotated[Optional[list[str]], typer.Option("--input", "-i", metavar="FILE", show_default=False,
                      help="Also compare the lines of FILE that hold the word ('-': stdin; repeat -i; globs work); lines without it are skipped and counted.")] = None,
    index: IndexOpt = None,
    occurrence: Annotated[int, typer.Option(**bounded(1), help="Which appearance of the word (1-based) in a sentence holding it more than once.")] = 1,
    top: Annotated[int, typer.Option("-n", "--top", **bounded(0), help="Nearest vocabulary words shown per occurrence.")] = 5,
    include_word: Annotated[bool, typer.Option("--include-word", help="Let the word itself appear among its neighbours.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")] = False,
    html_file: HtmlOpt = None,
    svg_file: SvgOpt = None,
    max_attention_cells: Annotated[int, typer.Option(**bounded(1), rich_help_panel="Limits", help="Refuse a sentence whose heads x n x n attention weights pass this (long texts: attncli batch -i).")] = MAX_ATTENTION_CELLS,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    *,
    config,
):
    """Follow a word across sentences: how far its contextual vector moves, and towards which words.

    Example: attncli compare "money bank grows" "bank river flows" --word bank

    Sentences given as arguments must hold the word; of the lines read with -i (or from
    --index), those without it are skipped (and counted on stderr).
    """
    from .. import pipeline
    from ..inputs import ReadStats, expand, read_lines, reading

    given = list(sentences or [])
    patterns = list(inputs or [])
    if given.count("-") + patterns.count("-") > 1:
        raise UsageError("stdin ('-') can be read once: give '-' as one sentence argument or as -i, not both")
    texts = []
    for s in given:  # '-' stands for the lines of stdin, in its place
        texts += [line.strip() for line in nonblank_lines("-")] if s == "-" else [s]
    n_args = len(texts)
    stats = ReadStats()
    where: list[str] = []  # "file:line" of each line read with -i
    unreadable = LineWarnings(verbose, "unreadable lines")

    def take(lines, several: bool) -> int:
        """Keep the lines holding text (and where they are); warn about the others. Returns how many lines came."""
        seen = 0
        for label, number, text in lines:
            seen += 1
            if type(text) is not str:
                unreadable.add(f"{label}: line {number}: {text.error}")
                continue
            texts.append(text.strip())
            where.append(f"{label}:{number}" if several else f"line {number}")
        return seen

    vec = None
    if index is not None:
        from ..inputs import DEFAULT_MAX_LINE_BYTES
        from ..store import reading as index_reading

        vec = pipeline.vectors_for(config)
        target = pipeline.single_token(word, pipeline.Lexicon(vec, config))
        with index_reading(index, patterns or None) as (ix, files):
            # --verbose lists why each line was skipped: every line is read, as -i reads them
            seen = take(ix.lines(None if verbose else [target], files, DEFAULT_MAX_LINE_BYTES, stats), len(files) > 1)
        # The lines the index did not read lack the word: each an "absent" place, as -i has it
        # (counted as skipped; the error for too few holding the word counts them).
        texts += [""] * (stats.lines - stats.blank - seen)
    elif patterns:
        sources = expand(patterns)
        reading(sources)
        take(read_lines(sources, stats=stats), len(sources) > 1)
    unreadable.finish()
    result = pipeline.compare(texts, word, config, vec, occurrence=occurrence, k=top, exclude_word=not include_word,
                              skip_missing=bool(patterns) or index is not None, max_attention_cells=max_attention_cells)
    for i, why in result.missing:
        if i < n_args:
            raise DataError(f"the word is {why} in sentence {i + 1}: {texts[i][:60]!r}")
    if (patterns or index is not None) and not quiet:
        held = len(result.occurrences) - n_args
        note(f"read {stats.summary()}: {held:,} hold the word, {len(result.missing):,} skipped"
             + (" (--verbose lists them)" if result.missing and not verbose else ""))
    if verbose:
        for i, why in result.missing:
            note(f"{where[i - n_args]}: skipped: {why}")
    report_results([o.result for o in result.occurrences], verbose, prefix="sentence")
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
