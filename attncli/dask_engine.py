"""`attncli batch -i 'corpus/*.txt' --engine dask -o out/`: the same batch function mapped
over partitions by Dask, one numbered .npz shard per input file, plus out/manifest.json.

Dask is an optional extra (pip install 'attncli[dask]'). Without --scheduler the partitions run
in local processes; with it, on that Dask cluster, whose workers must have attncli installed
and see the input files and the output directory at the same paths (a shared file system).

The shards, in order, hold what the single-machine .npz of the files, one after the other,
would hold (each shard's `lines` counts from 1 in its own source file); manifest.json sums them
up. The schemas: docs/formats.md.

Faults: the shards are written into a hidden folder in out/ (.shards.PID-RANDOM.tmp), moved
into out/ and then the manifest written only when every task has ended well: a failure, a
Ctrl-C or SIGTERM removes the folder, so out/ never holds shards without their manifest. Local
worker processes ignore Ctrl-C (the terminal sends it to the whole process group: the parent
alone decides) and are terminated at once on any failure, never waited for. A scheduler
address is first checked with a deadline on the connection and on Dask's handshake: a
listener that is not Dask, or never answers, is one line, not a hang.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from pathlib import Path

from .batch import BatchOptions
from .errors import DataError, UsageError, os_error

INSTALL_HINT = "--engine dask needs Dask: pip install 'attncli[dask]'"
CONNECT_TIMEOUT = 10.0  # seconds for a scheduler to accept the connection and answer Dask's handshake


def embed_shard(source: str, target: str, cfg, options: BatchOptions) -> dict:
    """Embed one file into one .npz shard (atomically); runs on a Dask worker."""
    from .batch import BatchEmbedder, embed_stream  # the worker's imports
    from .writers import NpzWriter

    from .inputs import Source

    emb = BatchEmbedder(cfg, options=options)
    errors = []
    writer = NpzWriter(target, dim=emb.d_out, static_dim=emb.vectors.dim, with_static=options.with_static,
                       with_attention=options.with_attention, with_sentences=options.pool is not None, **emb.meta())
    embed_stream(emb, [Source(source, regular=True)], writer,
                 lambda chunk: errors.extend({"line": e.line, "error": e.error} for e in chunk.errors))
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


def _require_distributed():
    try:
        import distributed
    except ImportError:
        raise DataError(INSTALL_HINT) from None
    return distributed


def compute(func, calls: list[tuple], scheduler: str | None = None) -> list:
    """[func(*args) for args in calls], each call a Dask task: on local processes, or on the
    cluster at `scheduler`. Results in the order of `calls`. However it ends (an error in a
    task, Ctrl-C, SIGTERM), no task of this run is left running."""
    dask = _require_dask()
    tasks = [dask.delayed(func, pure=False)(*args) for args in calls]
    if not scheduler:
        return _compute_local(dask, tasks)
    Client = _require_distributed().Client
    _check_scheduler(scheduler)
    with _quiet_logs():
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
        except (OSError, TimeoutError) as e:
            raise DataError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        try:
            futures = client.compute(tasks)
            try:
                return list(client.gather(futures))
            except BaseException:
                client.cancel(futures, force=True)  # the cluster drops what this run still had queued or running
                raise
        finally:
            client.close(timeout=CONNECT_TIMEOUT)


@contextmanager
def _quiet_logs():
    """distributed's and asyncio's log records (an interrupted gather leaves a task whose
    exception 'was never retrieved', a lost connection logs a traceback) stay off stderr: the
    run ends with attncli's one line."""
    import logging

    loggers = [logging.getLogger(name) for name in ("distributed", "asyncio", "tornado")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels):
            log.setLevel(level)


@contextmanager
def _sigint_ignored():
    """SIGINT ignored for the block: processes started in it keep ignoring it (Python leaves an
    ignored SIGINT ignored), so a Ctrl-C reaches the parent's handler only."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _compute_local(dask, tasks: list) -> list:
    """The tasks on a pool of local processes (spawned, as dask's own) that attncli owns. dask's
    own pool waits for the running tasks when interrupted (minutes; a second Ctrl-C then hung in
    multiprocessing's exit handler, and workers were left running). This one's workers ignore
    Ctrl-C, and on any failure, Ctrl-C or SIGTERM are killed at once, never waited for."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = max(1, min(len(tasks), os.cpu_count() or 1))
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start,
                               initargs=(os.getpid(),))
    with _sigint_ignored():  # spawned now, the workers start with SIGINT ignored (no traceback from their start-up)
        for _ in range(workers):
            pool.submit(int)
    try:
        results = dask.compute(*tasks, scheduler="processes", pool=pool)
    except BaseException:
        with _sigint_ignored():  # a second Ctrl-C must not cut the clean-up short
            manager = getattr(pool, "_executor_manager_thread", None)
            for process in list(getattr(pool, "_processes", {}).values()):  # the executor keeps its workers here
                process.kill()
            pool.shutdown(wait=False, cancel_futures=True)
            _forget_manager(manager)
        raise
    pool.shutdown()
    return list(results)


def _forget_manager(manager, timeout: float = 5.0) -> None:
    """Wait (bounded) for a killed pool's manager thread, which sees its workers dead and closes
    its wake-up pipe. Python 3.11's exit hook writes to that pipe without the lock the manager
    closes it under: exiting while the manager was still closing it printed a traceback
    (EBADF) after 'interrupted' (seen once in CI, on a double Ctrl-C). A manager still alive
    after `timeout` is taken off the exit hook's list, so the exit neither races nor waits."""
    if manager is None:
        return
    manager.join(timeout)
    if manager.is_alive():
        import concurrent.futures.process as cfp

        getattr(cfp, "_threads_wakeups", {}).pop(manager, None)


def _worker_start(parent: int) -> None:
    """In each local worker: Ctrl-C is for the parent, which ends the workers; and when the
    parent dies without ending them (kill -9), the kernel ends them too (Linux's
    PR_SET_PDEATHSIG; elsewhere they end when the pool's pipe closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != parent:  # the parent died before the line above: nothing will signal us
        os._exit(1)


def _check_scheduler(address: str) -> None:
    """One line, within CONNECT_TIMEOUT, unless a Dask scheduler answers at `address`:
    distributed's Client waits for the handshake of a listener that accepted the connection
    without a deadline (an HTTP server, a port that never answers: it hung past 60 s)."""
    import asyncio
    import socket

    from distributed.comm import connect

    if address.startswith("tcp://"):  # refused or unroutable: say so now (Dask retries until its timeout)
        host, _, port = address[len("tcp://"):].rstrip("/").rpartition(":")
        if port.isdigit():
            try:
                socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=CONNECT_TIMEOUT).close()
            except OSError as e:
                raise DataError(f"cannot reach the Dask scheduler at {address}: {e.strerror or e}") from None

    async def handshake():
        comm = await connect(address, timeout=CONNECT_TIMEOUT)
        await comm.close()

    try:
        asyncio.run(asyncio.wait_for(handshake(), CONNECT_TIMEOUT))
    except ValueError as e:  # an address distributed cannot parse ("garbage://x")
        raise UsageError(f"--scheduler {address!r}: not a Dask scheduler address ({' '.join(str(e).split())})") from None
    except (TimeoutError, asyncio.TimeoutError):
        raise DataError(f"no Dask scheduler answered at {address} within {CONNECT_TIMEOUT:g} s (is it a Dask "
                        "scheduler's address? e.g. tcp://host:8786)") from None
    except OSError as e:
        raise DataError(f"cannot reach the Dask scheduler at {address}: {' '.join(str(e).split())}") from None
    except Exception as e:  # what answered does not speak Dask's protocol
        raise DataError(f"{address} is not a Dask scheduler (its answer to Dask's handshake: {type(e).__name__})") from None


def run_dask(cfg, sources: list, output: str | None, options: BatchOptions, scheduler: str | None = None) -> dict:
    """Embed every file of `sources` (inputs.Source, regular files) into shards under the
    directory `output`, one per file; returns the manifest (also written to output/manifest.json)."""
    if output in (None, "-"):
        raise UsageError("--engine dask writes shards: give -o DIRECTORY")
    _require_dask()
    files = [s.name for s in sources]
    if not all(s.regular for s in sources):
        odd = next(s.label for s in sources if not s.regular)
        raise UsageError(f"--engine dask reads regular files (each on a worker), not {odd}")
    if scheduler:  # before anything is made in out/
        _require_distributed()
        _check_scheduler(scheduler)
    out = Path(output)
    try:
        if out.exists() and not out.is_dir():
            raise DataError(f"{output}: exists and is not a directory")
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise os_error(e, output) from None

    from .export import release, temp_beside

    try:  # the shards and the manifest are made here, and moved into out/ only when all is done
        staging = temp_beside(out / "shards", directory=True).resolve()
    except OSError as e:
        raise os_error(e, output, "write shards into") from None
    try:
        targets = [str(staging / f"shard-{i:05d}.npz") for i in range(len(files))]
        shards = compute(embed_shard, [(os.path.abspath(src), dst, cfg, options) for src, dst in zip(files, targets)], scheduler)
        manifest = _manifest(cfg, options, shards, files)
        _publish(staging, out, [s["file"] for s in manifest["shards"]], manifest)
    except OSError as e:  # a full or read-only disk, here or in a worker
        raise os_error(e, output, "write shards into") from None
    finally:
        _remove(staging)
        release(staging)
    return manifest


def _remove(folder: Path, seconds: float = 5.0) -> None:
    """Remove `folder`, again while a worker still finishing a cancelled task writes into it
    (one pass can meet a file made during it); once gone, nothing can write there."""
    import shutil
    import time

    deadline = time.monotonic() + seconds
    while True:
        shutil.rmtree(folder, ignore_errors=True)
        if not os.path.lexists(folder) or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _publish(staging: Path, out: Path, names: list[str], manifest: dict) -> None:
    """Write the manifest beside the shards, then move the shards into out/ and the manifest
    last: renames within one directory, which neither fill the disk nor half-happen."""
    import orjson

    from .export import float32, write_atomic

    write_atomic(staging / "manifest.json", orjson.dumps(float32(manifest), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    for name in names:
        os.replace(staging / name, out / name)
    os.replace(staging / "manifest.json", out / "manifest.json")


def _manifest(cfg, options: BatchOptions, shards: list[dict], files: list[str]) -> dict:
    """manifest.json (docs/formats.md)."""
    from .batch import BatchEmbedder

    shards = [{"file": shard.pop("file"), "source": src, **shard} for shard, src in zip(shards, files)]
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
    return manifest


def _manifest_options(options: BatchOptions) -> dict:
    """The manifest's "options": how the shards were made (key order as documented)."""
    keys = ("batch_size", "with_static", "with_attention", "max_attention_cells", "input_format", "text_field")
    return {k: getattr(options, k) for k in keys}
