"""`attncli vectors ...`: what a vector source holds, the cache, nearest words. Thin commands:
the work is in pipeline/vectors, the tables in render."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .app import commands
from .console import print_json, print_renderables, print_text, warn
from .options import Case, LimitOpt, QuietOpt, TrustOpt, UnicodeErrors, UnicodeErrorsOpt, VectorsFormat, VectorsOpt, bounded

vectors_app = typer.Typer(
    help="Vector sources: what they hold, the cache of converted files, nearest words.",
    no_args_is_help=True,
)
commands.add_typer(vectors_app, name="vectors")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]
# Here, unlike on embed, --format can only mean the vectors' format: both spellings work.
FormatOpt = Annotated[
    VectorsFormat,
    typer.Option("--format", "--vectors-format", metavar="FORMAT",
                 help="auto (detected by content), word2vec (text), word2vec-bin, glove (text, no header), fasttext (.bin), kv (gensim pickle, needs --trust)."),
]


def _load(source: str, fmt: VectorsFormat, limit, unicode_errors: UnicodeErrors, trust: bool):
    from ..pipeline import check_option, get_vectors

    check_option("limit", limit)  # the range every command takes (pipeline.LIMITS)
    return get_vectors(source, fmt.value, limit, unicode_errors.value, trust)


@vectors_app.command("info")
def info(
    source: Annotated[Optional[str], typer.Argument(help="'default' or a path; else --vectors / ATTNCLI_VECTORS.", show_default=False)] = None,
    vectors: VectorsOpt = "default",
    vectors_format: FormatOpt = VectorsFormat.auto,
    limit: LimitOpt = None,
    unicode_errors: UnicodeErrorsOpt = UnicodeErrors.strict,
    trust: TrustOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
):
    """Name, format, dimensions, vocabulary size, cache path and size (licence and provenance
    for the embedded default). Converts the file into the cache on first use."""
    vec = _load(source or vectors, vectors_format, limit, unicode_errors, trust)
    details = vec.details()
    if vec.format == "embedded":
        from ..vectors import provenance

        prov = provenance()
        details |= {"licence": prov.get("licence"), "provenance": prov}
    if json_out:
        return print_json(details)
    from ..render import vectors_info_table

    print_renderables([vectors_info_table(details)], numbers=details)


@vectors_app.command("list")
def list_cached(json_out: JsonOpt = False):
    """The converted vector files in the cache, with their sizes."""
    from ..vectors import cache_entries

    rows = cache_entries()
    if json_out:
        return print_json(rows)
    from ..render import cache_table
    from ..vectors import cache_dir

    print_renderables([cache_table(rows, str(cache_dir()))], numbers=rows)


@vectors_app.command("clear-cache")
def clear_cache():
    """Remove every converted vector file from the cache (sources are not touched)."""
    from ..vectors import cache_dir, clear_cache

    count, freed = clear_cache()
    print_text(f"removed {count} cached source{'s' if count != 1 else ''} ({freed / 2**20:.1f} MiB) from {cache_dir()}")


@vectors_app.command("neighbors")
def neighbors(
    word: Annotated[str, typer.Argument(help="The word whose nearest words to list.", show_default=False)],
    n: Annotated[int, typer.Option("-n", "--count", **bounded(1), help="How many neighbours.")] = 10,
    vectors: VectorsOpt = "default",
    vectors_format: FormatOpt = VectorsFormat.auto,
    limit: LimitOpt = None,
    unicode_errors: UnicodeErrorsOpt = UnicodeErrors.strict,
    trust: TrustOpt = False,
    case: Annotated[Case, typer.Option(help="lower: look up the word lowercased; keep: exactly as written; auto: as written, else lowercased.")] = Case.auto,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
):
    """Nearest words by cosine on the static vectors (no attention, no context).

    Example: attncli vectors neighbors bank -n 5
    """
    from ..errors import DataError

    vec = _load(vectors, vectors_format, limit, unicode_errors, trust)
    tries = {"lower": (word.lower(),), "keep": (word,), "auto": (word, word.lower())}[case.value]
    found = next((w for w in tries if w in vec), None)
    if found is not None:
        query, how = vec.rows([vec.index[found]]), "vocabulary"
    elif (v := vec.oov_vector(word)) is not None:
        found, query, how = word, v, "subword"
        warn(f"{word!r} is not in the vocabulary of {vec.name}: using its fastText subword vector")
    else:
        raise DataError(f"{word!r} is not in the vocabulary of {vec.name}")
    pairs = vec.nearest(query, k=n, exclude=[{found}])[0]
    if json_out:
        return print_json({"word": found, "handled": how, "vectors": vec.info(),
                            "neighbors": [{"word": w, "cosine": c} for w, c in pairs]})
    from ..render import word_neighbors_table

    print_renderables([word_neighbors_table(found, pairs, vec.name, subword=how == "subword")], numbers=pairs)


