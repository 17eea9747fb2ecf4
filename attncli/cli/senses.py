"""`attncli senses` (a word's occurrences in a corpus, grouped by meaning) and `attncli eval
pseudowords` (how well that grouping separates two words merged into one)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..corpus import MAX_LINE_BYTES
from ..errors import UsageError
from .app import commands, eval_app
from .console import WARN_LINES, check_writable, print_json, print_renderables, warn, write_file
from .options import Engine, HtmlOpt, IndexOpt, InputsOpt, MaxLineBytesOpt, QuietOpt, VerboseOpt, _choices, config_options

Grouping = _choices("Grouping", ("senses", "kmeans"))


def parse_k(value: str) -> int | None:
    """-k: a count >= 1, or 'auto' (None)."""
    if value.strip().lower() == "auto":
        return None
    try:
        k = int(value)
    except ValueError:
        raise UsageError(f"-k takes a number of senses or 'auto', not {value!r}") from None
    if k < 1:
        raise UsageError(f"-k must be >= 1 or auto, not {k}")
    return k


@commands.command()
@config_options
def senses(
    word: Annotated[str, typer.Argument(help="The word whose occurrences are grouped.", show_default=False)],
    inputs: InputsOpt = None,
    index: IndexOpt = None,
    k: Annotated[str, typer.Option("-k", metavar="K|auto", help="Number of senses, or auto: chosen by silhouette against one Gaussian blob of the same spread; 1 when no split is clear (docs/senses.md).")] = "auto",
    max_k: Annotated[int, typer.Option("--max-k", min=1, max=20, help="-k auto never chooses more senses than this.")] = 5,
    forms: Annotated[Optional[str], typer.Option("--forms", show_default=False,
                     help="Forms to look for, comma-separated (e.g. match,matches); default: the word.")] = None,
    like: Annotated[Optional[str], typer.Option("--like", show_default=False,
                    help="An example sentence holding the word: rank the occurrences by closeness in meaning to it.")] = None,
    top: Annotated[int, typer.Option("-n", "--top", min=1, help="--like: occurrences shown.")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")] = False,
    html_file: HtmlOpt = None,
    max_line_bytes: MaxLineBytesOpt = MAX_LINE_BYTES,
    engine: Annotated[Engine, typer.Option(help="dask: each file searched and embedded by a Dask task (pip install 'attncli\\[dask]').")] = Engine.local,
    scheduler: Annotated[Optional[str], typer.Option(show_default=False,
                         help="--engine dask: address of a Dask scheduler (default: local processes).")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    *,
    config,
):
    """Every occurrence of a word in a corpus, grouped into senses by its contextual vectors.

    Example: attncli senses bank -i corpus.txt -k auto --html bank.html

    With --index corpus.db (attncli index build), only the lines that may hold the word are read.

    Per sense: its size, a label (vocabulary words nearest its centre), the context words it
    attends to, and its most central examples. --like ranks the occurrences by meaning.
    """
    from .. import senses as lib

    if not inputs and index is None:
        raise UsageError("give the corpus: -i FILE (repeat for several), or --index DB")
    options = lib.SenseOptions(k=parse_k(k), max_k=max_k)
    form_list = [f.strip() for f in forms.split(",")] if forms is not None else None
    if html_file is not None:
        check_writable(html_file)
    result = lib.senses(word, inputs, config, options, forms=form_list, like=like, top=top,
                        engine=engine.value, scheduler=scheduler, max_line_bytes=max_line_bytes,
                        index=None if index is None else str(index))
    shown = result.skipped if verbose else result.skipped[:WARN_LINES]
    for line in shown:
        warn(f"not embedded: {line}")
    if len(result.skipped) > len(shown):
        warn(f"... and {len(result.skipped) - len(shown):,} more lines not embedded (--verbose lists them)")
    if html_file is not None:
        from ..html import senses_page

        write_file(html_file, senses_page(lib.page_record(result)).encode("utf-8"), announce=not quiet)
    if json_out:
        print_json(lib.senses_record(result))
        return
    from ..render import senses_renderables

    print_renderables(senses_renderables(result), show=True, title="attncli senses")


@eval_app.command("pseudowords")
@config_options
def eval_pseudowords(
    corpus: Annotated[Optional[list[str]], typer.Argument(help="Corpus files, one text per line ('-': stdin; globs like 'dir/*.txt' work); with --index, some of its files (none: all).", show_default=False, metavar="[CORPUS]...")] = None,
    pairs: Annotated[Optional[str], typer.Option("--pairs", show_default=False,
                     help="Word pairs A:B,C:D,... (default: a built-in list of frequent unrelated nouns).")] = None,
    grouping: Annotated[Grouping, typer.Option("--grouping", help="senses: the grouping `attncli senses` uses; kmeans: plain spherical 2-means (the baseline).")] = Grouping.senses,
    json_out: Annotated[bool, typer.Option("--json", help='Print {"pairs": [...], "mean_balanced_accuracy"} on stdout.')] = False,
    index: IndexOpt = None,
    quiet: QuietOpt = False,
    *,
    config,
):
    """Schütze's pseudoword test: A and B become one word (static vector: their mean); how well do 2 senses recover which was there?

    Example: attncli eval pseudowords corpus.txt --pairs film:river,war:song
    """
    from .. import pseudowords as lib

    if not corpus and index is None:
        raise UsageError("give the corpus: CORPUS files, or --index DB")
    pair_list = lib.parse_pairs(pairs) if pairs is not None else None
    result = lib.pseudowords(corpus, pair_list, config, method=grouping.value, index=None if index is None else str(index))
    for s in result.skipped:
        warn(f"pair left out: {s}")
    if json_out:
        print_json(lib.pseudowords_record(result))
        return
    from ..render import pseudowords_table

    print_renderables([pseudowords_table(result)], show=True, title="attncli eval pseudowords")
