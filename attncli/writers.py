"""Batch output: JSON Lines and .npz, written as the chunks of attncli.batch arrive.

Both are atomic when they write a regular file: everything goes to a hidden temp file (or
directory) beside the target, named with the pid (`.NAME.PID-RANDOM.tmp`), renamed onto the
target only when the run ends well; a failed or signalled run removes it, and a run killed
with SIGKILL leaves it to the next run writing beside the same target, which removes it.
A target that is not a regular file (device, FIFO, /dev/stdout) is streamed into directly
(export.Target); .npz is then built in a temp directory and copied into it at the end.

JSON Lines: one object per input line, in input order (a failed line becomes an error record).
.npz: every contextual vector in one (total_tokens, d_out) array, with sentence offsets, tokens
and input lines beside it; np.load needs no pickle. The schemas: docs/formats.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import orjson

from . import export
from .errors import DataError
from .export import open_stream, output_target, release, temp_beside

_OPTS = orjson.OPT_SERIALIZE_NUMPY


def _merged(chunk):
    """(k, None) for embedded sentence k and (None, error) for failed lines, in line order."""
    errors = chunk.errors
    ei = 0
    for k, line in enumerate(chunk.lines.tolist()):
        while ei < len(errors) and errors[ei].line < line:
            yield None, errors[ei]
            ei += 1
        yield k, None
    for e in errors[ei:]:
        yield None, e


def error_record(error) -> dict:
    record = {"line": error.line, "error": error.error}
    if error.text is not None:
        record["text"] = error.text
    return record


class JsonlWriter:
    """Streams records to `path` (atomically) or to stdout when path is None or "-"."""

    def __init__(self, path, *, vectors: dict, config: dict, with_static=False, with_attention=False):
        self.with_static = with_static
        self.with_attention = with_attention
        # the same two objects in every record: serialized once
        self._vectors = orjson.Fragment(export.dumps(vectors))
        self._config = orjson.Fragment(export.dumps(config))
        self.path = None if path in (None, "-") else Path(path)
        self._tmp = None
        self._own = False  # a file object this writer opened and closes
        if self.path is None:
            self._f = sys.stdout.buffer
            return
        target = output_target(self.path)
        if target.stream:
            self._f = open_stream(target)
            self._own = True
        else:
            self.path = target.path
            self._tmp = temp_beside(self.path)
            self._f = open(self._tmp, "wb", buffering=1 << 20)

    def write(self, chunk) -> None:
        parts, size = [], 0
        dumps = orjson.dumps
        offsets = chunk.offsets.tolist()
        lines = chunk.lines
        ctx, st = chunk.contextual, chunk.static
        for k, err in _merged(chunk):
            if err is not None:
                parts.append(dumps(error_record(err)))
                continue
            if size >= FLUSH_BYTES:  # a chunk's JSON is written as it grows, not held whole
                self._put(parts)
                parts, size = [], 0
            a, b = offsets[k], offsets[k + 1]
            record = {
                "line": int(lines[k]),
                "tokens": chunk.tokens[k],
                "oov": chunk.oov[k],
                "vectors": self._vectors,
                "config": self._config,
            }
            if self.with_attention:
                record["attention"] = chunk.attention[k]
                if chunk.heads[k].shape[0] > 1:
                    record["heads"] = chunk.heads[k]
            if self.with_static:
                record["static"] = st[a:b]
            record["contextual"] = ctx[a:b]
            parts.append(dumps(record, option=_OPTS))
            size += len(parts[-1])
        if parts:
            self._put(parts)

    def _put(self, parts: list[bytes]) -> None:
        parts.append(b"")
        try:
            self._f.write(b"\n".join(parts))
            if self._tmp is None:
                self._f.flush()
        except BrokenPipeError:  # the reader went away: the CLI stops quietly
            raise
        except OSError as e:  # name the output, never the input, as what failed
            where = "standard output" if self.path is None else str(self.path)
            raise DataError(f"cannot write to {where}: {e.strerror or e}") from None

    def close(self) -> None:
        if self._tmp is None:
            self._f.flush()
            if self._own:
                self._f.close()
            return
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.path)
        except BaseException:  # a full disk at the last flush: nothing left behind
            self.abort()
            raise
        release(self._tmp)
        self._tmp = None

    def abort(self) -> None:
        if self._own:
            with contextlib.suppress(OSError):
                self._f.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):  # closing flushes, and the disk may be full
                self._f.close()
            _unlink(self._tmp)
            release(self._tmp)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.abort() if exc_type else self.close()


FLUSH_BYTES = 1 << 22  # JSON Lines written in pieces of about 4 MiB
SPILL_BYTES = 1 << 24  # an array held in memory up to 16 MiB, then streamed to a temp file


class _Spill:
    """Rows appended as they come, copied into the .npz at the end. Held in memory up to
    `memory` bytes, then in a temp file: memory stays bounded however long the input."""

    def __init__(self, path: Path, dtype, tail: tuple = (), memory: int = SPILL_BYTES):
        self.path = path
        self.f = None
        self.held: list[np.ndarray] = []
        self.held_bytes = 0
        self.memory = memory
        self.dtype = np.dtype(dtype)
        self.tail = tail
        self.rows = 0
        self.width = 1  # for unicode: the longest string so far
        self.segments: list[tuple[np.dtype, int]] = []  # what went to the file

    def append(self, a: np.ndarray) -> None:
        a = np.ascontiguousarray(a)
        if len(a) == 0:
            return
        self.rows += len(a)
        if a.dtype.kind == "U":
            self.width = max(self.width, a.dtype.itemsize // 4)
        if self.f is None and self.held_bytes + a.nbytes <= self.memory:
            self.held.append(a)
            self.held_bytes += a.nbytes
            return
        if self.f is None:
            self.f = open(self.path, "w+b", buffering=1 << 20)
        for b in self.held + [a]:
            b.tofile(self.f)
            self.segments.append((b.dtype, len(b)))
        self.held, self.held_bytes = [], 0

    def write_into(self, zf: zipfile.ZipFile, name: str) -> None:
        dtype = np.dtype(f"<U{self.width}") if self.dtype.kind == "U" else self.dtype
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (self.rows, *self.tail)}
        with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
            np.lib.format.write_array_header_1_0(out, header)
            if self.f is not None:
                self.f.flush()
                self.f.seek(0)
                if dtype.kind == "U":  # segments of different widths: widen each to the longest
                    for seg_dtype, count in self.segments:
                        out.write(np.fromfile(self.f, dtype=seg_dtype, count=count).astype(dtype).data.cast("B"))
                else:
                    shutil.copyfileobj(self.f, out, 1 << 24)
            for a in self.held:
                a = a.astype(dtype, copy=False)
                out.write(a.data.cast("B"))
        self.close()

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
        self.held = []


class NpzWriter:
    """Collects chunks into one .npz at `path`, atomically; arrays spill to disk as they come."""

    def __init__(self, path, *, dim: int, static_dim: int, vectors: dict, config: dict, with_static=False, with_attention=False):
        self.with_static = with_static
        self.with_attention = with_attention
        self._meta = export.dumps({"config": config, "vectors": vectors}).decode()
        self._target = output_target(path)
        self.path = self._target.path
        if self._target.stream:  # nothing may be created beside a device: build in the temp dir
            self._dir = temp_beside(Path(tempfile.gettempdir()) / "attncli-npz", directory=True)
        else:
            self._dir = temp_beside(self.path, directory=True)
        self._vectors = _Spill(self._dir / "vectors", np.float32, (dim,))
        self._tokens = _Spill(self._dir / "tokens", np.dtype("<U1"))
        self._static = _Spill(self._dir / "static", np.float32, (static_dim,)) if with_static else None
        self._attention = _Spill(self._dir / "attention", np.float32) if with_attention else None
        self._lengths: list[np.ndarray] = []
        self._lines: list[np.ndarray] = []
        self.sentences = 0
        self.total_tokens = 0

    def write(self, chunk) -> None:
        m = len(chunk.lines)
        if m == 0:
            return
        self._vectors.append(chunk.contextual)
        self._tokens.append(chunk.token_array())
        if self._static is not None:
            self._static.append(chunk.static)
        if self._attention is not None:
            self._attention.append(np.concatenate([a.reshape(-1) for a in chunk.attention]).astype(np.float32))
        self._lengths.append(np.diff(chunk.offsets))
        self._lines.append(chunk.lines)
        self.sentences += m
        self.total_tokens += int(chunk.offsets[-1])

    def close(self) -> None:
        try:
            self._close()
        except BaseException:  # a full disk while building the archive: nothing left behind
            self.abort()
            raise

    def _close(self) -> None:
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        lines = np.concatenate(self._lines).astype(np.int64) if self._lines else np.zeros(0, np.int64)
        tmp = self._dir / "out.npz"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            self._vectors.write_into(zf, "vectors")
            _small(zf, "offsets", offsets)
            self._tokens.write_into(zf, "tokens")
            _small(zf, "lines", lines)
            _small(zf, "config", np.array(self._meta))
            if self._static is not None:
                self._static.write_into(zf, "static")
            if self._attention is not None:
                self._attention.write_into(zf, "attention")
                att_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
                np.cumsum(lengths * lengths, out=att_offsets[1:])
                _small(zf, "attention_offsets", att_offsets)
        if self._target.stream:
            with open(tmp, "rb") as f, open_stream(self._target) as out:
                shutil.copyfileobj(f, out, 1 << 24)
        else:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        shutil.rmtree(self._dir, ignore_errors=True)
        release(self._dir)

    def abort(self) -> None:
        for spill in (self._vectors, self._tokens, self._static, self._attention):
            if spill is not None:
                spill.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        release(self._dir)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.abort() if exc_type else self.close()


def _small(zf: zipfile.ZipFile, name: str, a: np.ndarray) -> None:
    with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
        np.lib.format.write_array(out, a, allow_pickle=False)


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
