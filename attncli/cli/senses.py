"""`attncli senses` (a word's occurrences in a corpus, grouped by meaning) and `attncli eval
pseudowords` (how well that grouping separates two words merged into one)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..corpus import MAX_LINE_BYTES, MAX_OCCURRENCES
from ..errors import UsageError, os_error
from .app import commands, eval_app
from .console import LineWarnings, check_writable, print_json, print_renderables, warn, write_file
from .options import Engine, HtmlOpt, IndexOpt, InputsOpt, MaxLineBytesOpt, QuietOpt, VerboseOpt, _choices, bounded, config_options

Grouping = _choices("Grouping", ("context", "kurtosis", "kmeans", "senses"))
SensesGrouping = _choices("SensesGrouping", ("kurtosis", "context"))


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
    top: Annotated[int, typer.Option("-n", "--top", **bounded(1), help="--like: occurrences shown.")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")] = False,
    html_file: HtmlOpt = None,
    max_line_bytes: MaxLineBytesOpt = MAX_LINE_BYTES,
    max_occurrences: Annotated[int, typer.Option("--max-occurrences", metavar="N", **bounded(1),
                               help="Keep the first N occurrences and read no line after them (memory: about 7 KB each, 500 MiB at the default).")] = MAX_OCCURRENCES,
    projector: Annotated[Optional[Path], typer.Option("--projector", metavar="DIR", rich_help_panel="Files", show_default=False,
                         help="Also write DIR/vectors.tsv and metadata.tsv (form, sense, line, text) for the TensorBoard embedding projector.")] = None,
    engine: Annotated[Engine, typer.Option(help="dask: each file searched and embedded by a Dask task (pip install 'attncli\\[dask]').")] = Engine.local,
    scheduler: Annotated[Optional[str], typer.Option(show_default=False,
                         help="--engine dask: address of a Dask scheduler (default: local processes).")] = None,
    grouping: Annotated[SensesGrouping, typer.Option("--grouping", help="kurtosis: by the contextual vectors' most bimodal directions; context: by which word each occurrence's context predicts (a ridge model fitted on the whole corpus), smoothed over nearby lines (better on pseudowords; -k auto is not calibrated for it: give -k).")] = SensesGrouping.kurtosis,
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
    if projector is not None:
        from ..writers import check_projector_dir

        check_projector_dir(projector)  # before the corpus is read
    options = lib.SenseOptions(k=parse_k(k), max_k=max_k)
    form_list = [f.strip() for f in forms.split(",")] if forms is not None else None
    if html_file is not None:
        check_writable(html_file)
    result = lib.senses(word, inputs, config, options, forms=form_list, like=like, top=top,
                        engine=engine.value, scheduler=scheduler, max_line_bytes=max_line_bytes, grouping=grouping.value,
                        index=None if index is None else str(index), max_occurrences=max_occurrences)
    skipped = LineWarnings(verbose, "lines not embedded")
    for line in result.skipped:
        skipped.add(f"not embedded: {line}")
    skipped.finish()
    if html_file is not None:
        from ..html import senses_page

        write_file(html_file, senses_page(lib.page_record(result)).encode("utf-8"), announce=not quiet)
    if projector is not None:
        try:
            result.to_projector(projector)
        except OSError as e:
            raise os_error(e, projector, "write") from None
    if json_out:
        print_json(lib.senses_record(result))
        return
    from ..render import senses_renderables

    print_renderables(senses_renderables(result), numbers=lib.senses_record(result), title="attncli senses")


@eval_app.command("pseudowords")
@config_options
def eval_pseudowords(
    corpus: Annotated[Optional[list[str]], typer.Argument(help="Corpus files, one text per line ('-': stdin; globs like 'dir/*.txt' work); with --index, some of its files (none: all).", show_default=False, metavar="[CORPUS]...")] = None,
    pairs: Annotated[Optional[str], typer.Option("--pairs", show_default=False,
                     help="Word pairs A:B,C:D,..., or a named set: builtin (the default: frequent unrelated nouns), tuning or heldout (hard pairs, docs/senses.md).")] = None,
    grouping: Annotated[Grouping, typer.Option("--grouping", help="context: the context view (which word the context predicts), smoothed over nearby lines; kurtosis: contextual vectors split along their most bimodal direction; kmeans: plain spherical 2-means; senses: what `attncli senses` uses by default (kurtosis).")] = Grouping.context,
    baselines: Annotated[bool, typer.Option("--baselines/--no-baselines", help="Also score static vectors, the uniform and prior-only averages, the parameter-free defaults and the trained weights (kurtosis grouping), with standard errors.")] = True,
    json_out: Annotated[bool, typer.Option("--json", help='Print {"pairs": [...], "mean_balanced_accuracy", "baselines": [...]} on stdout.')] = False,
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
    result = lib.pseudowords(corpus, pair_list, config, method=grouping.value, baselines=baselines,
                             index=None if index is None else str(index))
    for s in result.skipped:
        warn(f"pair left out: {s}")
    if json_out:
        print_json(lib.pseudowords_record(result))
        return
    from ..render import pseudowords_table

    print_renderables([pseudowords_table(result)], numbers=lib.pseudowords_record(result), title="attncli eval pseudowords")
