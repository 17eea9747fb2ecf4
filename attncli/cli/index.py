"""`attncli index build` and `attncli index info`: a corpus indexed once in SQLite (attncli.store),
read by `senses`, `eval pseudowords` and `compare --word` with `--index DB`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import commands
from .console import note, print_json, print_renderables, size_text
from .options import Engine, QuietOpt

index_app = typer.Typer(
    help="Index a corpus once in SQLite: with --index DB, senses, eval pseudowords and compare --word read only the lines that may hold the word.",
    no_args_is_help=True)
commands.add_typer(index_app, name="index")


@contextlib.contextmanager
def _progress(label: str):
    """(advance(n), set_total(n)) for a build's bytes: a bar on a terminal, a line at each tenth
    otherwise, nothing under -q."""
    from . import console

    if console.QUIET:
        yield (lambda n: None), (lambda n: None)
        return
    if not console.stderr_console().is_terminal:  # a line at each tenth, once a second has passed (a quick build says nothing)
        import time

        lines = console.ProgressLines(label, None)
        start, held = time.monotonic(), [0]

        def advance(n: int) -> None:
            held[0] += n
            if time.monotonic() - start >= 1.0:
                lines.advance(held[0])
                held[0] = 0

        def set_total(n: int) -> None:
            lines.total = n or None

        yield advance, set_total
        return
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    with console.progress_bar(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                              TimeRemainingColumn()) as bar:
        task = bar.add_task(label, total=None)
        yield (lambda n: bar.advance(task, n)), (lambda n: bar.update(task, total=n))


@index_app.command("build")
def build(
    corpus: Annotated[Optional[list[str]], typer.Argument(
        help="Files to index, one text per line (globs like 'dir/*.txt' work, quoted). None: check again the files DB holds.",
        show_default=False, metavar="[CORPUS]...")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", metavar="DB", dir_okay=False, show_default=False,
                                         help="The index: created, or updated when it exists (unchanged files, by SHA-256, are not read again).")] = ...,
    prune: Annotated[bool, typer.Option("--prune", help="Drop the indexed files not named this time (without CORPUS: those gone from the disk).")] = False,
    max_line_bytes: Annotated[Optional[int], typer.Option(min=1, max=1 << 40, metavar="BYTES", show_default=False,
                              help="Longer lines are not stored (queries report them as -i does); queries may use this or less. [default: 1,000,000; an update keeps the index's]")] = None,
    engine: Annotated[Engine, typer.Option(help="dask: the files are read into shards (DB.shards/) by Dask tasks (pip install 'attncli\\[dask]').")] = Engine.local,
    scheduler: Annotated[Optional[str], typer.Option(show_default=False,
                         help="--engine dask: address of a Dask scheduler (default: local processes); its workers must see the files and DB's directory at the same paths.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print what the build did as one JSON object on stdout.")] = False,
    quiet: QuietOpt = False,
):
    """Index text files into one SQLite database (FTS5) that --index reads.

    Example: attncli index build 'corpus/*.txt' -o corpus.db

    Then: attncli senses bank --index corpus.db. The index holds the text, not vectors: every
    setting stays free per query. Building again updates it; an interrupted build leaves it
    as it was.
    """
    import time

    from .. import store

    start = time.monotonic()
    with _progress(f"indexing into {output.name}") as (advance, set_total):
        report = store.build(output, corpus, prune=prune, max_line_bytes=max_line_bytes, engine=engine.value,
                             scheduler=scheduler, progress=advance, total=set_total)
    seconds = time.monotonic() - start
    for name in report.left_out:
        note(f"{name}: left out (it is the index itself)")
    for name in report.gone:
        note(f"{name}: gone from the disk; kept as indexed (--prune drops it)")
    counts = [f"{len(v):,} {k}" for k, v in (("new", report.new), ("changed", report.changed), ("unchanged", report.unchanged),
                                             ("pruned", report.pruned), ("kept", report.kept)) if v]
    skipped = f", {report.skipped:,} not stored (not UTF-8 or too long; queries report them)" if report.skipped else ""
    ratio = f" ({report.index_bytes / report.text_bytes:.2f}x the text)" if report.text_bytes else ""
    note(f"{output}: {report.files:,} file{'s' if report.files != 1 else ''} ({', '.join(counts) or 'none'}), "
         f"{report.lines:,} lines, {report.words:,} words{skipped}; {size_text(report.index_bytes)}{ratio}, "
         f"built in {seconds:.1f} s")
    if json_out:
        import dataclasses

        print_json({**dataclasses.asdict(report), "seconds": round(seconds, 3)})


@index_app.command("info")
def info(
    db: Annotated[Path, typer.Argument(metavar="DB", dir_okay=False, show_default=False, help="An index (attncli index build).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Also check it whole (SQLite's quick_check, FTS5's integrity-check, each file's line counts): exit 1 when damaged.")] = False,
):
    """What an index holds: its files, lines, words and size, when it was built, its schema.

    Example: attncli index info corpus.db
    """
    from .. import store
    from ..errors import DataError

    with store.Index.open(db) as ix:
        record = ix.info(check=check)
    if check and record["check"] != ["ok"]:
        problems = record["check"]
        raise DataError(f"{db}: damaged: {problems[0]}" + (f" (and {len(problems) - 1:,} more problems)" if len(problems) > 1 else ""))
    if json_out:
        print_json(record)
        return
    from ..render import index_info_renderables

    print_renderables(index_info_renderables(record), numbers=record, show=True, title="attncli index info")
