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
import io
import itertools
import os
import queue
import shutil
import sys
import tempfile
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np
import orjson

from . import export
from .errors import DataError
from .pipeline import sentence_text
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


def error_record(error, source: str | None = None) -> dict:
    record = {"file": source} if source is not None else {}
    record.update(line=error.line, error=error.error)
    if error.id is not None:
        record["id"] = error.id
    if error.text is not None:
        record["text"] = error.text
    return record


def _holds_control(chunk) -> bool:
    """Whether a chunk's strings (tokens, unknown words, ids, its file, its errors) hold a
    character JSON leaves raw that a terminal acts on (tokens.visible's set): one search over
    them all, so that only such a chunk's JSON is escaped (a byte-level pass over every chunk,
    numbers and all, would cost a tenth of the writing)."""
    from .tokens import has_control

    strings = itertools.chain(itertools.chain.from_iterable(chunk.tokens), (o["token"] for oov in chunk.oov for o in oov),
                              map(str, () if chunk.line_ids is None else chunk.line_ids), [str(chunk.source)],
                              (str(x) for e in chunk.errors for x in (e.error, e.text, e.id)))
    return has_control("\n".join(strings))


class _Writer:
    """A writer as a context manager: close() (commit) when the block ends well, abort() (remove
    what was written) when it raises."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.abort() if exc_type else self.close()


class JsonlWriter(_Writer):
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
        escape = _holds_control(chunk)  # rare: then its JSON passes export.json_safe
        dumps = orjson.dumps
        offsets = chunk.offsets.tolist()
        lines = chunk.lines
        ctx, st = chunk.contextual, chunk.static
        source, ids = chunk.source, chunk.line_ids
        for k, err in _merged(chunk):
            if err is not None:
                parts.append(dumps(error_record(err, source)))
                continue
            if size >= FLUSH_BYTES:  # a chunk's JSON is written as it grows, not held whole
                self._put(parts, escape)
                parts, size = [], 0
            a, b = offsets[k], offsets[k + 1]
            record = {"file": source} if source is not None else {}
            record["line"] = int(lines[k])
            if ids is not None and ids[k] is not None:
                record["id"] = ids[k]
            record.update({
                "tokens": chunk.tokens[k],
                "oov": chunk.oov[k],
                "vectors": self._vectors,
                "config": self._config,
            })
            if self.with_attention:
                record["attention"] = chunk.attention[k]
                if chunk.heads[k].shape[0] > 1:
                    record["heads"] = chunk.heads[k]
            if self.with_static:
                record["static"] = st[a:b]
            record["contextual"] = ctx[a:b]
            if chunk.sentences is not None:
                record["sentence"] = chunk.sentences[k]
            parts.append(dumps(record, option=_OPTS))
            size += len(parts[-1])
        if parts:
            self._put(parts, escape)

    def _put(self, parts: list[bytes], escape: bool) -> None:
        parts.append(b"")
        try:
            data = b"\n".join(parts)
            self._f.write(export.json_safe(data) if escape else data)
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

    def append(self, a: np.ndarray) -> None:
        a = np.ascontiguousarray(a, dtype=self.dtype)
        if len(a) == 0:
            return
        self.rows += len(a)
        if self.f is None and self.held_bytes + a.nbytes <= self.memory:
            self.held.append(a)
            self.held_bytes += a.nbytes
            return
        if self.f is None:
            self.f = open(self.path, "w+b", buffering=1 << 20)
        for b in self.held + [a]:
            b.tofile(self.f)
        self.held, self.held_bytes = [], 0

    def write_into(self, zf: zipfile.ZipFile, name: str) -> None:
        with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
            out.write(_npy_header(self.dtype, (self.rows, *self.tail)))
            if self.f is not None:
                self.f.flush()
                self.f.seek(0)
                shutil.copyfileobj(self.f, out, 1 << 24)
            for a in self.held:
                out.write(a.data.cast("B"))
        self.close()

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
        self.held = []


class _Streamed:
    """An array written straight into its member of the archive as its rows come, never held
    or copied: the .npy header, which holds the row count, is written with 0 rows first and
    rewritten in place at the end (numpy pads a header so that the count can grow, for this
    use), and the member's CRC-32 is put together from the header's and the rows' own.

    The writing and the CRC run in a thread of their own (both release the GIL), so the next
    chunk is embedded meanwhile; at most `ahead` chunks wait for it, which bounds the memory."""

    def __init__(self, zf: zipfile.ZipFile, name: str, dtype, tail: tuple, ahead: int = 1):
        self.zf, self.dtype, self.tail = zf, np.dtype(dtype), tail
        self.info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
        self.out = zf.open(self.info, "w", force_zip64=True)  # ZIP_STORED: the bytes as written
        self.start = zf.fp.tell()  # where the member's bytes begin
        self.header_size = self.out.write(_npy_header(self.dtype, (0, *tail)))
        self.rows = self.crc = self.size = 0
        self.failed: BaseException | None = None  # what stopped the thread, raised in the caller
        self.queue: queue.Queue = queue.Queue(maxsize=ahead)
        self.thread = threading.Thread(target=self._drain, name=f"attncli-write-{name}", daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while (data := self.queue.get()) is not None:
            if self.failed is None:
                try:
                    self.out.write(data)
                    self.crc = zlib.crc32(data, self.crc)
                    self.size += len(data)
                except BaseException as e:  # a full disk: kept for the caller, the rest is dropped
                    self.failed = e

    def _check(self) -> None:
        if self.failed is not None:
            raise self.failed

    def append(self, a: np.ndarray) -> None:
        """Queue rows `a` (not to be changed afterwards) to be written."""
        self._check()
        self.queue.put(np.ascontiguousarray(a, dtype=self.dtype).data.cast("B"))
        self.rows += len(a)

    def _stop(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()

    def close(self) -> None:
        self._stop()
        self._check()
        header = _npy_header(self.dtype, (self.rows, *self.tail))
        if len(header) != self.header_size:  # cannot happen with numpy's padding; never write a broken file
            raise DataError(f"cannot write the {self.info.filename} header in place")
        self.out.close()  # zipfile writes the member's local header and moves to the end
        self.info.CRC = crc32_combine(zlib.crc32(header), self.crc, self.size)  # the central directory's too
        fp, end = self.zf.fp, self.zf.fp.tell()
        fp.seek(self.info.header_offset)
        fp.write(self.info.FileHeader(True))  # the local header again, with the CRC of the final bytes
        fp.seek(self.start)
        fp.write(header)
        fp.seek(end)

    def abort(self) -> None:
        self.failed = self.failed or RuntimeError("aborted")  # the thread drops what is queued
        self._stop()
        with contextlib.suppress(Exception):  # a full disk may refuse the last bytes; the file goes anyway
            self.out.close()


def _npy_header(dtype: np.dtype, shape: tuple) -> bytes:
    """The .npy (version 1.0) header of a C-order array of `dtype` and `shape`."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape})
    return out.getvalue()


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """zlib.crc32(a + b) from crc1 = zlib.crc32(a), crc2 = zlib.crc32(b) and len2 = len(b),
    without reading b again: zlib's crc32_combine (which Python's zlib does not expose), by
    repeated squaring of the operator that feeds one zero bit through the CRC register."""
    if len2 <= 0:
        return crc1

    def times(matrix: list[int], vector: int) -> int:
        total, i = 0, 0
        while vector:
            if vector & 1:
                total ^= matrix[i]
            vector >>= 1
            i += 1
        return total

    def square(matrix: list[int]) -> list[int]:
        return [times(matrix, row) for row in matrix]

    operator = [0xEDB88320] + [1 << i for i in range(31)]  # one zero bit
    operator = square(square(operator))  # four zero bits
    while len2:  # apply 8 * len2 zero bits to crc1, a power of two at a time
        operator = square(operator)  # 8 * 2**k zero bits
        if len2 & 1:
            crc1 = times(operator, crc1)
        len2 >>= 1
    return crc1 ^ crc2


class NpzWriter(_Writer):
    """Collects chunks into one .npz at `path`, atomically. The contextual vectors go straight
    into the archive; the other arrays spill to temp files as they come (at most SPILL_BYTES
    each in memory)."""

    def __init__(self, path, *, dim: int, static_dim: int, vectors: dict, config: dict, with_static=False, with_attention=False,
                 with_sentences=False):
        self.with_static = with_static
        self.with_attention = with_attention
        self._meta = export.dumps({"config": config, "vectors": vectors}).decode()
        self._target = output_target(path)
        self.path = self._target.path
        if self._target.stream:  # nothing may be created beside a device: build in the temp dir
            self._dir = temp_beside(Path(tempfile.gettempdir()) / "attncli-npz", directory=True)
        else:
            self._dir = temp_beside(self.path, directory=True)
        self._archive = self._dir / "out.npz"  # built here, then renamed onto (or copied into) the target
        self._zf = zipfile.ZipFile(self._archive, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self._vectors = _Streamed(self._zf, "vectors", np.float32, (dim,))
        self._tokens = _Spill(self._dir / "tokens", np.uint8)
        self._static = _Spill(self._dir / "static", np.float32, (static_dim,)) if with_static else None
        self._attention = _Spill(self._dir / "attention", np.float32) if with_attention else None
        self._sentences = _Spill(self._dir / "sentences", np.float32, (dim,)) if with_sentences else None  # --pool
        self._lengths: list[np.ndarray] = []
        self._lines: list[np.ndarray] = []
        self._sources: dict[str, int] = {}  # several inputs: each one's index in the "sources" member
        self._source: list[np.ndarray] = []  # (m,) per chunk: the index of each sentence's source
        self._ids = _Spill(self._dir / "ids", np.uint8)  # the records' ids, a JSON array's text
        self._any_id = False
        self.sentences = 0
        self.total_tokens = 0

    def write(self, chunk) -> None:
        m = len(chunk.lines)
        if m == 0:
            return
        self._vectors.append(chunk.contextual)
        self._tokens.append(chunk.token_bytes())
        if self._static is not None:
            self._static.append(chunk.static)
        if self._attention is not None:
            self._attention.append(np.concatenate([a.reshape(-1) for a in chunk.attention]).astype(np.float32))
        if self._sentences is not None:
            self._sentences.append(chunk.sentences)
        self._lengths.append(np.diff(chunk.offsets))
        self._lines.append(chunk.lines)
        if chunk.source is not None:
            index = self._sources.setdefault(chunk.source, len(self._sources))
            self._source.append(np.full(m, index, dtype=np.int64))
        if chunk.line_ids is not None or self._any_id:  # input without ids (the common case): nothing to write
            head = b"," if self.sentences else b""
            if not self._any_id:  # the first ids: the sentences before had none
                head = b"[" + b"null," * self.sentences
                self._any_id = True
            ids = chunk.line_ids if chunk.line_ids is not None else [None] * m
            self._ids.append(np.frombuffer(head + orjson.dumps(ids)[1:-1], dtype=np.uint8))  # the items, no brackets
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
        zf = self._zf
        self._vectors.close()
        _small(zf, "offsets", offsets)
        self._tokens.write_into(zf, "tokens_utf8")
        _small(zf, "lines", lines)
        _small(zf, "config", np.array(self._meta))
        if self._sources:
            _small(zf, "sources", np.array(list(self._sources), dtype=str))
            _small(zf, "source", np.concatenate(self._source))
        if self._any_id:
            self._ids.append(np.frombuffer(b"]", dtype=np.uint8))
            self._ids.write_into(zf, "ids")
        else:
            self._ids.close()
        if self._static is not None:
            self._static.write_into(zf, "static")
        if self._attention is not None:
            self._attention.write_into(zf, "attention")
            att_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
            np.cumsum(lengths * lengths, out=att_offsets[1:])
            _small(zf, "attention_offsets", att_offsets)
        if self._sentences is not None:
            self._sentences.write_into(zf, "sentences")
        zf.close()
        if self._target.stream:
            with open(self._archive, "rb") as f, open_stream(self._target) as out:
                shutil.copyfileobj(f, out, 1 << 24)
        else:
            with open(self._archive, "rb") as f:
                os.fsync(f.fileno())
            os.chmod(self._archive, 0o644)
            os.replace(self._archive, self.path)
        shutil.rmtree(self._dir, ignore_errors=True)
        release(self._dir)

    def abort(self) -> None:
        for spill in (self._tokens, self._static, self._attention, self._ids, self._sentences):
            if spill is not None:
                spill.close()
        self._vectors.abort()
        with contextlib.suppress(Exception):  # the archive is thrown away
            self._zf.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        release(self._dir)


def _small(zf: zipfile.ZipFile, name: str, a: np.ndarray) -> None:
    with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
        np.lib.format.write_array(out, a, allow_pickle=False)


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------- Parquet


class _AtomicFile:
    """A binary file at `path` written whole or not at all: a temp file beside it, renamed onto
    it by commit(); abort() removes it. A target that is not a regular file (device, FIFO,
    /dev/stdout) is written into directly (export.Target)."""

    def __init__(self, path):
        target = output_target(path)
        self.path = target.path
        self._tmp = None
        if target.stream:
            self.f = open_stream(target)
        else:
            self._tmp = temp_beside(self.path)
            self.f = open(self._tmp, "wb", buffering=1 << 20)

    def commit(self) -> None:
        self.f.flush()
        if self._tmp is not None:
            os.fsync(self.f.fileno())
        self.f.close()
        if self._tmp is not None:
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.path)
            release(self._tmp)
            self._tmp = None

    def abort(self) -> None:
        with contextlib.suppress(OSError):  # closing flushes, and the disk may be full
            self.f.close()
        if self._tmp is not None:
            _unlink(self._tmp)
            release(self._tmp)
            self._tmp = None


def require_pyarrow():
    """pyarrow and pyarrow.parquet, or one line naming the extra to install."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise DataError("Parquet output needs pyarrow: pip install 'attncli[parquet]'") from None
    return pyarrow, pyarrow.parquet


ROW_GROUP = 2048  # sentences per Parquet row group (a chunk of up to 8,192 makes several)


class ParquetWriter(_Writer):
    """One row per embedded sentence, streamed as the chunks come (memory holds one chunk): `line`,
    `id` (when the input carries ids), `tokens` list<string>, `vectors` list<fixed_size_list
    <float32, d_out>>, and with the options `sentence` fixed_size_list<float32, d_out> (--pool),
    `static` (--with-static), `attention` list<list<float32>> (--with-attention, the n rows).
    The schema's metadata "attncli" holds {"config", "vectors"} as JSON. Schema: docs/formats.md."""

    # Sentences a chunk (batch.embed_stream asks): Arrow's buffers and the encoding of a row group
    # come on top of the chunk, after pyarrow's own ~45 MiB; a smaller chunk keeps the peak down.
    chunk_sentences = 2048

    def __init__(self, path, *, dim: int, static_dim: int, vectors: dict, config: dict, with_static=False,
                 with_attention=False, with_sentences=False):
        self.pa, self.pq = require_pyarrow()
        self.dim, self.static_dim = dim, static_dim
        self.with_static, self.with_attention, self.with_sentences = with_static, with_attention, with_sentences
        self._meta = export.dumps({"config": config, "vectors": vectors})
        self._file = _AtomicFile(path)
        self.path = self._file.path
        self._writer = None  # made at the first chunk: whether there is an `id` column, and its type, is known then
        self._id_type = None

    def _schema(self, ids: list | None, source: str | None):
        pa = self.pa
        vec = pa.list_(pa.float32(), self.dim)
        fields = [pa.field("file", pa.string())] if source is not None else []  # several inputs: each row's
        fields.append(pa.field("line", pa.int64(), nullable=False))
        if ids is not None:
            numbers = all(type(i) is int for i in ids)
            self._id_type = pa.int64() if numbers else pa.string()
            fields.append(pa.field("id", self._id_type))
        fields += [pa.field("tokens", pa.list_(pa.string())), pa.field("vectors", pa.list_(vec))]
        if self.with_sentences:
            fields.append(pa.field("sentence", vec))
        if self.with_static:
            fields.append(pa.field("static", pa.list_(pa.list_(pa.float32(), self.static_dim))))
        if self.with_attention:
            fields.append(pa.field("attention", pa.list_(pa.list_(pa.float32()))))
        return pa.schema(fields, metadata={"attncli": self._meta})

    def write(self, chunk) -> None:
        """The chunk's rows, in row groups of at most ROW_GROUP sentences: each built from views
        of the chunk's arrays (no copy of the vectors) and encoded alone, which bounds the
        memory the encoding takes."""
        if self._writer is None:
            self._writer = self._open(self._schema(chunk.line_ids, chunk.source))
        m = len(chunk.lines)
        if m == 0:
            return
        blob = chunk.token_bytes()  # (bytes,) each token ended by "\n"
        token_ends = np.concatenate([[0], np.flatnonzero(blob == 10) + 1])  # (T + 1,) where each token's bytes begin
        ids = self._ids(chunk) if self._id_type is not None else None
        for i in range(0, m, ROW_GROUP):
            j = min(m, i + ROW_GROUP)
            a, b = int(chunk.offsets[i]), int(chunk.offsets[j])  # its token rows
            self._write_rows(chunk, i, j, a, b, blob[token_ends[a]:token_ends[b]], None if ids is None else ids[i:j])
        self.pa.default_memory_pool().release_unused()  # what encoding took, back to the system

    def _write_rows(self, chunk, i: int, j: int, a: int, b: int, token_bytes: np.ndarray, ids) -> None:
        """Sentences i:j of the chunk (token rows a:b) as one row group."""
        pa = self.pa
        offsets = pa.array((chunk.offsets[i:j + 1] - a).astype(np.int32))  # (j - i + 1,)
        columns = {"file": pa.array([chunk.source] * (j - i), pa.string())} if "file" in self._writer.schema.names else {}
        columns["line"] = pa.array(chunk.lines[i:j], pa.int64())
        if ids is not None:
            columns["id"] = ids
        columns["tokens"] = pa.ListArray.from_arrays(offsets, _strings(pa, token_bytes))
        columns["vectors"] = pa.ListArray.from_arrays(offsets, _rows(pa, chunk.contextual[a:b]))
        if self.with_sentences:
            columns["sentence"] = _rows(pa, chunk.sentences[i:j])
        if self.with_static:
            columns["static"] = pa.ListArray.from_arrays(offsets, _rows(pa, chunk.static[a:b]))
        if self.with_attention:
            rows = np.concatenate([w.reshape(-1) for w in chunk.attention[i:j]]).astype(np.float32)  # (sum n_i^2,)
            lengths = np.diff(chunk.offsets[i:j + 1])
            row_offsets = np.zeros(int(lengths.sum()) + 1, dtype=np.int32)  # one list per token: its n weights
            np.cumsum(np.repeat(lengths, lengths), out=row_offsets[1:])
            columns["attention"] = pa.ListArray.from_arrays(offsets, pa.ListArray.from_arrays(pa.array(row_offsets), pa.array(rows)))
        self._writer.write_table(pa.table(columns, schema=self._writer.schema))

    def _open(self, schema):
        """The Parquet writer. Dictionaries, statistics and compression for the words and ids only:
        float vectors have no repeats to find, no useful min/max, and snappy saved 1% of them
        while dictionary attempts and statistics over millions of floats cost time and memory."""
        small = ["line", "tokens.list.element"] + [name for name in ("id", "file") if name in schema.names]
        return self.pq.ParquetWriter(self._file.f, schema, use_dictionary=small[1:], write_statistics=small,
                                     compression={name: "snappy" for name in small[1:]})

    def _ids(self, chunk):
        ids = chunk.line_ids if chunk.line_ids is not None else [None] * len(chunk.lines)
        if self._id_type == self.pa.int64():
            bad = [(line, i) for line, i in zip(chunk.lines.tolist(), ids) if i is not None and type(i) is not int]
            if bad:
                raise DataError(f"line {bad[0][0]}: id {bad[0][1]!r} is not a whole number, as the ids before it were "
                                "(the Parquet id column is int64)")
            return self.pa.array(ids, self.pa.int64())
        return self.pa.array([i if i is None or isinstance(i, str) else export.dumps(i).decode() for i in ids], self.pa.string())

    def close(self) -> None:
        try:
            if self._writer is None:  # no chunk came: an empty file, with the schema
                self._writer = self._open(self._schema(None, None))
            self._writer.close()
            self._file.commit()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._file.abort()


def _strings(pa, blob: np.ndarray):
    """UTF-8 strings each ended by "\n" (uint8 (bytes,)) -> a string array, built from the bytes
    with numpy (no Python string per token: a chunk holds ~100,000)."""
    ends = np.flatnonzero(blob == 10)  # (T,) where each string's "\n" is
    offsets = np.zeros(len(ends) + 1, dtype=np.int32)
    offsets[1:] = ends - np.arange(len(ends))  # the bytes before each end, less the "\n"s dropped
    data = blob[blob != 10]
    return pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))


def _rows(pa, a: np.ndarray):
    """(k, d) float32 -> a fixed_size_list<float32, d> array of k rows, without a copy."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), a.shape[1])


# ---------------------------------------------------------------- the embedding projector


PROJECTOR_FILES = ("vectors.tsv", "metadata.tsv", "projector_config.pbtxt")
_PROJECTOR_CONFIG = 'embeddings {\n  tensor_name: "attncli"\n  tensor_path: "vectors.tsv"\n  metadata_path: "metadata.tsv"\n}\n'


def tsv_field(value) -> str:
    """A metadata value for the projector's TSV, which splits rows on "\\n" and fields on "\\t"
    with no quoting: a backslash, tab, line feed or carriage return in it is written as
    \\\\, \\t, \\n, \\r, so that every row keeps its columns."""
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


class ProjectorWriter(_Writer):
    """The TensorBoard embedding projector's files in directory `path`: `vectors.tsv` (one point
    per row, tab-separated numbers, no header), `metadata.tsv` (the same rows; a header row of
    column names, as the projector expects when there is more than one column) and
    `projector_config.pbtxt` (so `tensorboard --logdir DIR` finds them). Built in a temp
    directory beside `path`, then moved in: a failed run leaves `path` as it was.

    `columns` names the metadata columns; rows come from write_rows(vectors (k, d), values: one
    list of k values per column), or, for batch output, from write(chunk)."""

    def __init__(self, path, columns: list[str], *, points: str = "tokens"):
        self.path = Path(path)
        self.columns = list(columns)
        self.points = points  # batch: "tokens" (a row per token) or "sentences" (--pool: a row per line)
        check_projector_dir(self.path)
        self._dir = temp_beside(self.path, directory=True)
        self._vectors = open(self._dir / "vectors.tsv", "w", encoding="utf-8", newline="\n", buffering=1 << 20)
        self._metadata = open(self._dir / "metadata.tsv", "w", encoding="utf-8", newline="\n", buffering=1 << 20)
        self._header = False
        self.rows = 0

    def _start(self) -> None:
        """The header row (only with more than one column: the projector reads a single column as
        labels without one), once the columns are known."""
        if not self._header and len(self.columns) > 1:
            self._metadata.write("\t".join(self.columns) + "\n")
        self._header = True

    def write_rows(self, vectors: np.ndarray, values: list[list]) -> None:
        self._start()
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(vectors) == 0:
            return
        text = export.dumps(vectors).decode()  # [[x, ...], ...]: each float32 at its shortest exact repr
        self._vectors.write(text[2:-2].replace("],[", "\n").replace(",", "\t") + "\n")
        self._metadata.write("".join("\t".join(map(tsv_field, row)) + "\n" for row in zip(*values)))
        self.rows += len(vectors)

    def write(self, chunk) -> None:
        """Batch output: a row per token (token, sentence, line[, id]) or, with --pool, a row per
        sentence (sentence, line[, id]). The id column is there when the first chunk has ids."""
        ids = chunk.line_ids
        if not self._header and chunk.source is not None:
            self.columns.append("file")
        if not self._header and ids is not None:
            self.columns.append("id")
        texts = [sentence_text(t) for t in chunk.texts]  # a sentence given as tokens: joined by spaces
        extra = ([[chunk.source] * len(texts)] if "file" in self.columns else []) \
            + ([ids if ids is not None else [""] * len(texts)] if "id" in self.columns else [])
        if self.points == "sentences":
            self.write_rows(chunk.sentences, [texts, chunk.lines.tolist()] + extra)
            return
        lengths = np.diff(chunk.offsets).tolist()
        tokens = chunk.token_bytes().tobytes().decode("utf-8").split("\n")[:-1]
        per_token = lambda values: [v for v, n in zip(values, lengths) for _ in range(n)]
        values = [tokens, per_token(texts), per_token(chunk.lines.tolist())] + [per_token(v) for v in extra]  # ids: str()
        self.write_rows(chunk.contextual, values)

    def close(self) -> None:
        try:
            self._start()
            for f in (self._vectors, self._metadata):
                f.flush()
                os.fsync(f.fileno())
                f.close()
            (self._dir / "projector_config.pbtxt").write_text(_PROJECTOR_CONFIG, encoding="utf-8")
            if self.path.exists():  # an empty directory, or one that holds only these files: each replaced
                for name in PROJECTOR_FILES:
                    os.replace(self._dir / name, self.path / name)
                self._dir.rmdir()
            else:
                os.rename(self._dir, self.path)
            release(self._dir)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        for f in (self._vectors, self._metadata):
            with contextlib.suppress(OSError):
                f.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        release(self._dir)


def check_projector_dir(path: Path) -> None:
    """DataError unless `path` can take the projector's files: new, an empty directory, or one
    holding only files these writers write (rewritten); never a file or another's folder."""
    if path.is_symlink() and not path.exists():
        raise DataError(f"{path}: a broken symbolic link, not a directory for the projector files")
    if path.exists() and not path.is_dir():
        raise DataError(f"{path}: is a file; --format projector writes a directory (vectors.tsv, metadata.tsv)")
    if path.is_dir():
        others = sorted(n for n in os.listdir(path) if n not in PROJECTOR_FILES)
        if others:
            shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            raise DataError(f"{path}: holds other files ({shown}); name a new or empty directory for the projector files")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise DataError(f"{path}: the directory {parent} does not exist")


def write_projector(path, vectors: np.ndarray, columns: dict[str, list]) -> None:
    """The projector's files for `vectors` (k, d) and metadata `columns` {name: k values}."""
    with ProjectorWriter(path, list(columns)) as w:
        w.write_rows(vectors, list(columns.values()))
