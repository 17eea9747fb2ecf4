"""`attncli batch -i FILE`: embed every line of files (or stdin; globs; repeated -i) into JSON
Lines or .npz, or into shards on Dask. The work is in attncli.batch / writers / dask_engine; here are the
options, the progress bar, the error lines and the exit code (3: some lines failed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer


from ..batch import DEFAULT_BATCH_SIZE, DEFAULT_MAX_ATTENTION_CELLS, DEFAULT_MAX_LINE_BYTES, BatchOptions
from ..errors import DataError, UsageError, os_error
from ..inputs import ReadStats, Source, check_output, expand, reading
from .app import commands
from .console import LineWarnings, note, reporting_into, warn, wrote
from .options import Engine, InputFormat, InputsOpt, OutputFormat, Pool, QuietOpt, VerboseOpt, bounded, config_options

EXIT_SOME_FAILED = 3  # some lines failed: reported on stderr and as error records; the rest written

_IN = "Input"
_OUT = "Output"


@commands.command()
@config_options
def batch(
    inputs: InputsOpt = ...,
    input_format: Annotated[InputFormat, typer.Option(rich_help_panel=_IN, help="text: one sentence per line; jsonl: JSON objects with a text field (or a \"tokens\" list) and an optional \"id\".")] = InputFormat.text,
    text_field: Annotated[str, typer.Option(rich_help_panel=_IN, help="--input-format jsonl: the field holding the sentence.")] = BatchOptions.text_field,
    output: Annotated[Optional[str], typer.Option("-o", "--output", rich_help_panel=_OUT, show_default=False,
                      help="Write to FILE (.jsonl, .npz or .parquet, atomically) instead of JSON Lines on stdout; --engine dask, --format projector: a directory.")] = None,
    output_format: Annotated[Optional[OutputFormat], typer.Option("--format", "-f", rich_help_panel=_OUT, show_default=False,
                             help="Format of -o when its extension does not say; projector: -o DIR gets vectors.tsv and metadata.tsv for the TensorBoard projector.")] = None,
    pool: Annotated[Optional[Pool], typer.Option("--pool", rich_help_panel=_OUT, show_default=False,
                    help="Add one vector per line: mean of its token vectors, or sif (weighted by a/(a+p(w)), rare words count more).")] = None,
    with_static: Annotated[bool, typer.Option("--with-static", rich_help_panel=_OUT, help="Add the static vectors to the output.")] = False,
    with_attention: Annotated[bool, typer.Option("--with-attention", rich_help_panel=_OUT, help="Add the attention weights to the output.")] = False,
    max_attention_cells: Annotated[int, typer.Option(**bounded(1), rich_help_panel=_OUT,
                                   help="--with-attention: a line whose heads x n x n weights pass this fails.")] = DEFAULT_MAX_ATTENTION_CELLS,
    batch_size: Annotated[int, typer.Option(**bounded(1), rich_help_panel=_IN, help="Sentences attended together in one padded matmul.")] = DEFAULT_BATCH_SIZE,
    max_line_bytes: Annotated[int, typer.Option(min=1, max=1 << 40, rich_help_panel=_IN,
                              help="A longer line fails (an error record, exit 3) and is read past, never held in memory.")] = DEFAULT_MAX_LINE_BYTES,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    engine: Annotated[Engine, typer.Option(help="dask: one .npz shard per input file, on Dask (pip install 'attncli\\[dask]').")] = Engine.local,
    scheduler: Annotated[Optional[str], typer.Option(show_default=False,
                         help="--engine dask: address of a Dask scheduler (default: local processes).")] = None,
    *,
    config,
):
    """Embed every line of files: contextual vectors as JSON Lines or .npz.

    Example: attncli batch -i sentences.txt -o out.npz

    JSON Lines go to stdout (one object per line, with "line", and "file" when several files
    are read) unless -o names a file. Blank lines are skipped and counted.
    Exit codes: 0 every line embedded; 1 error, nothing written; 2 bad usage; 3 some lines
    failed (reported on stderr and as error records), the rest written.
    (`attncli embed -i FILE ...` is the same command.)
    """
    options = BatchOptions(
        input_format=input_format.value, text_field=text_field, batch_size=batch_size,
        with_static=with_static, with_attention=with_attention, max_attention_cells=max_attention_cells,
        max_line_bytes=max_line_bytes, pool=pool.value if pool else None,
    )
    fmt = output_format.value if output_format else None
    if engine == Engine.dask:
        code = _run_dask(config, inputs, output, fmt, options, scheduler, verbose)
    else:
        if scheduler is not None:
            raise UsageError("--scheduler needs --engine dask")
        code = run_local(config, expand(inputs), output, fmt, options, quiet, verbose)
    if code:
        raise typer.Exit(code)


def choose_format(output: str | None, fmt: str | None) -> str:
    """jsonl, npz, parquet or projector, from --format or else -o's extension."""
    if output is None or output == "-":
        if fmt == "projector":
            raise UsageError("--format projector needs -o DIR (it writes vectors.tsv and metadata.tsv there)")
        if fmt in ("npz", "parquet"):
            raise UsageError(f"--format {fmt} needs -o FILE (binary output is not written to stdout)")
        return "jsonl"
    if fmt is not None:
        return fmt
    ext = Path(output).suffix.lower()
    if ext in (".jsonl", ".npz", ".parquet"):
        return ext[1:]
    raise UsageError(f"{output}: cannot tell the format from {ext or 'a name without extension'}; "
                     "name it .jsonl, .npz or .parquet, or give --format (projector: a directory)")


def run_local(cfg, sources: list[Source], output: str | None, output_format: str | None, options: BatchOptions,
              quiet: bool, verbose: bool = False) -> int:
    """Embed every line of `sources` into `output`; returns the exit code."""
    fmt = choose_format(output, output_format)
    if fmt == "projector":
        from ..writers import check_projector_dir

        check_projector_dir(Path(output))
    elif output not in (None, "-"):
        parent = Path(output).resolve().parent
        if not parent.is_dir():
            raise DataError(f"{output}: the directory {parent} does not exist")
        if Path(output).is_dir():
            raise DataError(f"{output}: is a directory (name the output file)")
    reading(sources)
    if output not in (None, "-"):
        check_output(output)
    if fmt == "parquet":
        from ..writers import require_pyarrow

        require_pyarrow()  # before reading anything

    from ..batch import BatchEmbedder

    emb = BatchEmbedder(cfg, options=options)
    stats = ReadStats()
    failures = LineWarnings(verbose, "failed lines")
    show = not quiet and sys.stderr.isatty()
    sizes = [s.size for s in sources]
    total = sum(sizes) if None not in sizes else None  # bytes: a pipe's size is not known
    try:
        done, failed = _embed_into(emb, sources, fmt, output, total, show, stats, failures)
    except BrokenPipeError:  # the reader of stdout went away: the CLI stops quietly
        raise
    except OSError as e:  # a full disk, a read-only directory, a file that went away
        raise os_error(e, e.filename or output) from None
    failures.finish()
    if not quiet:
        note(f"read {stats.summary()}: {done - failed:,} embedded" + (f", {failed:,} failed" if failed else ""))
        if output not in (None, "-") and Path(output).is_file():
            wrote(output, Path(output).stat().st_size)
        elif fmt == "projector":
            wrote(output, sum(p.stat().st_size for p in Path(output).iterdir() if p.is_file()))
    return _summary(failed, done)


def _embed_into(emb, sources, fmt: str, output: str | None, total: int | None, show: bool, stats,
                failures: LineWarnings) -> tuple[int, int]:
    from ..batch import embed_stream
    from ..writers import JsonlWriter, NpzWriter, ParquetWriter, ProjectorWriter

    options = emb.options
    if fmt in ("npz", "parquet"):
        writer = (NpzWriter if fmt == "npz" else ParquetWriter)(
            output, dim=emb.d_out, static_dim=emb.vectors.dim, with_static=options.with_static,
            with_attention=options.with_attention, with_sentences=options.pool is not None, **emb.meta())
    elif fmt == "projector":
        pooled = options.pool is not None
        columns = ["sentence", "line"] if pooled else ["token", "sentence", "line"]  # "file", "id" added as the input has them
        writer = ProjectorWriter(output, columns, points="sentences" if pooled else "tokens")
    else:
        writer = JsonlWriter(output, with_static=options.with_static, with_attention=options.with_attention, **emb.meta())
    bar = _progress() if show else None
    task = bar.add_task("embedding", total=total, lines=0) if bar is not None else None
    lines = 0

    def on_chunk(chunk) -> None:
        nonlocal lines
        for e in chunk.errors:
            failures.add(_failed(chunk.source, e.line, e.error))
        if bar is not None:
            lines += chunk.size
            bar.update(task, completed=stats.bytes, lines=lines)

    if bar is None:
        with reporting_into(None):  # -q or no terminal: no bar for a long line either
            return embed_stream(emb, sources, writer, on_chunk, stats)
    with bar, reporting_into(bar):  # a long line's progress: a second row of this bar
        return embed_stream(emb, sources, writer, on_chunk, stats)


def _failed(source: str | None, line: int, error: str) -> str:
    """`b.txt: line 7: why` (the file named when the run reads several)."""
    return f"{source + ': ' if source else ''}line {line}: {error}"


def _progress():
    """Bar (bytes read of the total), sentences done, sentences/s and time left, on stderr."""
    from rich.progress import BarColumn, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    from .console import progress_bar

    class Rate(ProgressColumn):
        def render(self, task):
            if "unit" in task.fields:  # a long line's row (console.BarReport): tokens
                return Text(f"{task.speed or 0:,.0f} {task.fields['unit']}/s", style="progress.data.speed")
            elapsed = task.elapsed or 0
            lines = task.fields.get("lines", 0)
            return Text(f"{lines:,} lines, {lines / elapsed if elapsed else 0:,.0f}/s", style="progress.data.speed")

    return progress_bar(TextColumn("{task.description}"), BarColumn(), Rate(), TimeRemainingColumn(), transient=False)


def _run_dask(cfg, patterns: list[str], output: str | None, output_format: str | None, options: BatchOptions,
              scheduler: str | None, verbose: bool = False) -> int:
    if output_format not in (None, "npz"):
        raise UsageError("--engine dask writes .npz shards only")
    if "-" in patterns:
        raise UsageError("--engine dask reads files, not stdin")
    from ..dask_engine import run_dask

    manifest = run_dask(cfg, expand(patterns, stdin=False), output, options, scheduler)
    failures = LineWarnings(verbose, "failed lines")
    for shard in manifest["shards"]:
        for e in shard["errors"]:
            failures.add(_failed(shard["source"], e["line"], e["error"]))
    failures.finish()
    return _summary(manifest["failed"], manifest["failed"] + manifest["sentences"])


def _summary(failed: int, total: int) -> int:
    if not failed:
        return 0
    warn(f"{failed:,} of {total:,} lines failed (reported above); the others were written")
    return EXIT_SOME_FAILED
