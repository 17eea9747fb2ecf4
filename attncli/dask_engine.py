"""`attncli batch -i 'corpus/*.txt' --engine dask -o out/`: the same batch function mapped
over partitions by Dask, one numbered .npz shard per input file, plus out/manifest.json.

Dask is an optional extra (pip install 'attncli[dask]'). Without --scheduler the partitions run
in local processes; with it, on that Dask cluster, whose workers must have attncli installed
and see the input files and the output directory at the same paths (a shared file system).

The shards, in order, hold what the single-machine .npz of the files, one after the other,
would hold (each shard's `lines` counts from 1 in its own source file); manifest.json sums them
up. The schemas: docs/formats.md.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from .batch import BatchOptions
from .errors import DataError, UsageError

INSTALL_HINT = "--engine dask needs Dask: pip install 'attncli[dask]'"


def embed_shard(source: str, target: str, cfg, options: BatchOptions) -> dict:
    """Embed one file into one .npz shard (atomically); runs on a Dask worker."""
    from .batch import BatchEmbedder, embed_stream  # the worker's imports
    from .writers import NpzWriter

    emb = BatchEmbedder(cfg, options=options)
    errors = []
    writer = NpzWriter(target, dim=emb.d_out, static_dim=emb.vectors.dim, with_static=options.with_static,
                       with_attention=options.with_attention, with_sentences=options.pool is not None, **emb.meta())
    with open(source, "rb") as f:
        embed_stream(emb, f, writer, lambda chunk: errors.extend({"line": e.line, "error": e.error} for e in chunk.errors))
    return {
        "file": Path(target).name, "sentences": writer.sentences, "failed": len(errors),
        "tokens": writer.total_tokens, "errors": errors,
    }


def _require_dask():
    try:
        import dask
    except ImportError:
        raise DataError(INSTALL_HINT) from None
    return dask


def compute(func, calls: list[tuple], scheduler: str | None = None) -> list:
    """[func(*args) for args in calls], each call a Dask task: on local processes, or on the
    cluster at `scheduler`. Results in the order of `calls`."""
    dask = _require_dask()
    tasks = [dask.delayed(func, pure=False)(*args) for args in calls]
    if not scheduler:
        return list(dask.compute(*tasks, scheduler="processes"))
    try:
        from distributed import Client
    except ImportError:
        raise DataError(INSTALL_HINT) from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as e:
        raise DataError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
    except ValueError as e:  # an address distributed cannot parse ("garbage://x")
        raise UsageError(f"--scheduler {scheduler!r}: not a Dask scheduler address ({e})") from None
    with client:
        return list(dask.compute(*tasks, scheduler=client))


def run_dask(cfg, pattern: str, output: str | None, options: BatchOptions, scheduler: str | None = None) -> dict:
    """Embed every file matching `pattern` into shards under the directory `output`; returns
    the manifest (also written to output/manifest.json)."""
    if output in (None, "-"):
        raise UsageError("--engine dask writes shards: give -o DIRECTORY")
    if pattern == "-":
        raise UsageError("--engine dask reads files, not stdin")
    _require_dask()
    files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    files = [f for f in files if os.path.isfile(f)]
    if not files:
        raise DataError(f"{pattern}: no such file")
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise DataError(f"{output}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)

    targets = [str((out / f"shard-{i:05d}.npz").resolve()) for i in range(len(files))]
    shards = compute(embed_shard, [(os.path.abspath(src), dst, cfg, options) for src, dst in zip(files, targets)], scheduler)
    shards = [{"file": shard.pop("file"), "source": src, **shard} for shard, src in zip(shards, files)]

    import orjson

    from .batch import BatchEmbedder
    from .export import float32, write_atomic

    meta = BatchEmbedder(cfg, options=options).meta()  # the config and vectors description
    manifest = {
        "format": "attncli-shards/2",
        "sentences": sum(s["sentences"] for s in shards),
        "failed": sum(s["failed"] for s in shards),
        "tokens": sum(s["tokens"] for s in shards),
        "shards": shards,
        "config": meta["config"],
        "vectors": meta["vectors"],
        "options": _manifest_options(options),
    }
    write_atomic(out / "manifest.json", orjson.dumps(float32(manifest), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return manifest


def _manifest_options(options: BatchOptions) -> dict:
    """The manifest's "options": how the shards were made (key order as documented)."""
    keys = ("batch_size", "with_static", "with_attention", "max_attention_cells", "input_format", "text_field")
    return {k: getattr(options, k) for k in keys}
