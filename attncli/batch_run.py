"""`attncli embed -i FILE`: read lines, embed them in chunks (attncli.batch), write them
(attncli.writers), show progress, report bad lines; the exit code says how it went.

On the CLI's side of the house (it uses render and writers); no typer here. Imported only when
-i is given, so `attncli embed TEXT` starts as fast as before.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from pathlib import Path
from types import SimpleNamespace

from .errors import DataError, UsageError

EXIT_SOME_FAILED = 3  # some lines failed: reported on stderr and as error records; the rest written


def choose_format(output: str | None, fmt: str | None) -> str:
    """jsonl or npz, from --format or else -o's extension."""
    if output is None or output == "-":
        if fmt == "npz":
            raise UsageError("--format npz needs -o FILE (binary output is not written to stdout)")
        return "jsonl"
    if fmt is not None:
        return fmt
    ext = Path(output).suffix.lower()
    if ext in (".jsonl", ".npz"):
        return ext[1:]
    raise UsageError(f"{output}: cannot tell the format from {ext or 'a name without extension'}; name it .jsonl or .npz, or give --format")


def config_meta(cfg, proj) -> dict:
    from .export import config_dict

    return config_dict(SimpleNamespace(config=cfg, untrained=not proj.trained))


def _warn(msg: str) -> None:
    print(f"attncli: warning: {msg}", file=sys.stderr)


@contextlib.contextmanager
def no_gc():
    """Pause Python's cyclic garbage collector: a run allocates millions of small lists that
    live on (the tokenizer's cache) and hold no cycles, and the collector would rescan them
    over and over (about a quarter of the time on 200k distinct lines)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def count_lines(path: Path) -> int:
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def run_batch(
    cfg,
    source: str,
    *,
    input_format: str = "text",
    text_field: str = "text",
    output: str | None = None,
    output_format: str | None = None,
    batch_size: int = 256,
    with_static: bool = False,
    with_attention: bool = False,
    max_attention_cells: int = 25_000_000,
    quiet: bool = False,
    engine: str = "local",
    scheduler: str | None = None,
    max_line_bytes: int = 1_000_000,
) -> int:
    """Embed every line of `source` ('-' = stdin) into `output`; returns the exit code."""
    if engine == "dask":
        from .dask_engine import run_dask

        manifest = run_dask(
            cfg, source, output, input_format=input_format, text_field=text_field, output_format=output_format,
            batch_size=batch_size, with_static=with_static, with_attention=with_attention,
            max_attention_cells=max_attention_cells, scheduler=scheduler, quiet=quiet, max_line_bytes=max_line_bytes,
        )
        for shard in manifest["shards"]:
            for e in shard["errors"]:
                _warn(f"{shard['source']}: line {e['line']}: {e['error']}")
        return _summary(manifest["failed"], manifest["failed"] + manifest["sentences"])
    if scheduler is not None:
        raise UsageError("--scheduler needs --engine dask")
    fmt = choose_format(output, output_format)
    if source != "-":
        path = Path(source)
        if not path.exists():
            raise DataError(f"{source}: no such file")
        if path.is_dir():
            raise DataError(f"{source}: is a directory (several files: --engine dask -i 'dir/*.txt')")
    if output not in (None, "-"):
        parent = Path(output).resolve().parent
        if not parent.is_dir():
            raise DataError(f"{output}: the directory {parent} does not exist")
        if Path(output).is_dir():
            raise DataError(f"{output}: is a directory (name the output file)")

    from .batch import BatchEmbedder

    emb = BatchEmbedder(cfg, batch_size=batch_size, with_attention=with_attention, max_attention_cells=max_attention_cells)
    show = not quiet and sys.stderr.isatty()
    total = count_lines(Path(source)) if show and source != "-" else None
    try:
        return _run_local(emb, source, fmt, output, total, show, input_format, text_field, with_static, with_attention,
                          max_line_bytes)
    except BrokenPipeError:  # the reader of stdout went away: the CLI stops quietly
        raise
    except OSError as e:  # a full disk, a read-only directory, a file that went away
        raise DataError(f"{e.filename or output or source}: {e.strerror or e}") from None


def _run_local(emb, source, fmt, output, total, show, input_format, text_field, with_static, with_attention,
                          max_line_bytes) -> int:
    from .batch import read_items
    from .writers import JsonlWriter, NpzWriter

    meta = dict(vectors=emb.vectors.info(), config=config_meta(emb.config, emb.proj))
    if source == "-" and sys.stdin is None:
        raise DataError("standard input is closed: nothing to read for -i -")
    f = sys.stdin.buffer if source == "-" else open(source, "rb")
    failed = done = 0
    try:
        if fmt == "npz":
            writer = NpzWriter(output, dim=emb.d_out, static_dim=emb.vectors.dim, with_static=with_static, with_attention=with_attention, **meta)
        else:
            writer = JsonlWriter(output, with_static=with_static, with_attention=with_attention, **meta)
        progress = None
        if show:
            from .render import batch_progress

            progress = batch_progress(total)
            task = progress.add_task("embed", total=total)
            progress.start()
        try:
            with writer, no_gc():
                for chunk in emb.embed_chunks(read_items(f, input_format, text_field, max_line_bytes)):
                    for e in chunk.errors:
                        _warn(f"line {e.line}: {e.error}")
                    failed += len(chunk.errors)
                    done += chunk.size
                    writer.write(chunk)
                    if progress is not None:
                        progress.advance(task, chunk.size)
        finally:
            if progress is not None:
                progress.stop()
    finally:
        if f is not sys.stdin.buffer:
            f.close()
    return _summary(failed, done)


def _summary(failed: int, total: int) -> int:
    if not failed:
        return 0
    _warn(f"{failed:,} of {total:,} lines failed (reported above); the others were written")
    return EXIT_SOME_FAILED
