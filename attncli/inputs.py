"""The user's inputs, read in one place: which files a run reads, and their lines.

Every command that reads files of text names them the same way (`expand`): repeated `-i`,
paths, globs (`'corpus/*.txt'`, sorted) and `-` for standard input, each file once, in the
order given. A name that matches nothing, a directory, a glob matching only directories:
one-line errors. A glob takes regular files only (a FIFO or device it matches would block or
never end, and is left out with a note); a path given by name may be anything readable
(`<(cat f)`, /dev/stdin, a FIFO), and is then read exactly once, as a stream.

Lines (`read_items`, `read_lines`) are read in blocks, never a whole file at once, and never
a whole line beyond `max_line_bytes`: an over-long line is read past and reported, and a "line"
that goes on for SKIP_FACTOR times the limit (/dev/zero, a binary file) stops the run with a
DataError. Blank lines (empty or whitespace only) are skipped and counted, not errors.
`ReadStats` counts what was read, for the summary a run prints.

No typer, no rich: raises attncli.errors exceptions.
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Iterator

import numpy as np

from .errors import DataError, UsageError, os_error

MAX_TEXT_BYTES = 1 << 26  # a whole-file read (compare -i, WiC files): 64 MiB, then one clear error
DEFAULT_MAX_LINE_BYTES = 1_000_000  # a sentence longer than this is an error record, not a MemoryError
SKIP_FACTOR = 100  # an over-long line is read past up to this many times the limit; past it, the run stops
BLOCK = 1 << 22  # bytes read at a time
INPUT_FORMATS = ("text", "jsonl")  # one sentence per line; JSON objects, one per line
STDIN = "-"


# ---------------------------------------------------------------- naming the inputs


@dataclass(frozen=True)
class Source:
    """One input of a run: a file (any kind) or standard input."""

    name: str  # as the user gave it, or as the glob matched it; "-" for standard input
    regular: bool = False  # a regular file: its size is known and it can be read again

    @property
    def stdin(self) -> bool:
        return self.name == STDIN

    @property
    def label(self) -> str:
        """How messages name it."""
        return "standard input" if self.stdin else self.name

    @property
    def size(self) -> int | None:
        """Bytes, for a regular file (progress by bytes read); None otherwise."""
        if not self.regular:
            return None
        try:
            return os.stat(self.name).st_size
        except OSError:
            return None

    def open(self) -> BinaryIO:
        """A binary stream of its bytes: for stdin, sys.stdin.buffer (never close it: opened()
        knows)."""
        if self.stdin:
            if sys.stdin is None:
                raise DataError("standard input is closed: nothing to read for '-'")
            return sys.stdin.buffer
        try:
            return open(self.name, "rb")
        except OSError as e:
            raise os_error(e, self.name) from None


def expand(patterns: Iterable[str], *, option: str = "-i", stdin: bool = True) -> list[Source]:
    """The inputs named by `patterns` (paths, globs, '-'), in the order given, each once.
    DataError for a name that matches nothing; UsageError for none at all or '-' twice."""
    out: list[Source] = []
    seen: set = set()
    for pattern in patterns:
        if pattern == STDIN:
            if not stdin:
                raise UsageError(f"{option} -: this command reads files, not standard input")
            if any(s.stdin for s in out):
                raise UsageError(f"{option} -: standard input can be read once")
            out.append(Source(STDIN))
            continue
        if glob.has_magic(pattern) and not os.path.lexists(pattern):
            found = _glob(pattern)
        else:
            found = [_named(pattern)]
        for src in found:
            key = _identity(src.name)
            if key not in seen:
                seen.add(key)
                out.append(src)
    if not out:
        raise UsageError(f"give at least one input with {option} FILE")
    return out


def _named(name: str) -> Source:
    """A path given by name: anything but a directory."""
    try:
        st = os.stat(name)
    except OSError as e:
        raise os_error(e, name) from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{name}: is a directory (give its files, e.g. '{name.rstrip('/')}/*.txt')")
    return Source(name, regular=stat.S_ISREG(st.st_mode))


def _glob(pattern: str) -> list[Source]:
    matches = sorted(glob.glob(pattern))
    if not matches:
        raise DataError(f"{pattern}: no file matches")
    files, other = [], 0
    for m in matches:
        try:
            st = os.stat(m)
        except OSError:
            other += 1  # a dangling link
            continue
        if stat.S_ISREG(st.st_mode):
            files.append(Source(m, regular=True))
        elif not stat.S_ISDIR(st.st_mode):
            other += 1
    if not files:
        what = "only directories" if not other else "no regular file"
        raise DataError(f"{pattern}: matches {what}")
    if other:
        from . import report

        report.note(f"{pattern}: {other} match{'es' if other != 1 else ''} left out (not regular files: "
                    "FIFOs, devices, broken links); name them one by one to read them")
    return files


def _identity(name: str):
    """What makes two names the same file (a device and inode), or the name itself."""
    try:
        st = os.stat(name)
    except OSError:
        return name
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else name


# ---------------------------------------------------------------- outputs that are inputs

_READING: set[tuple[int, int]] = set()  # (device, inode) of the regular files this process reads


def reading(sources: Iterable[Source]) -> None:
    """Remember `sources` as this run's inputs: no output may replace one (check_output)."""
    for s in sources:
        key = _identity(s.name) if s.regular else None
        if isinstance(key, tuple):
            _READING.add(key)


def forget() -> None:
    """The run is over: its inputs may be written again."""
    _READING.clear()


def check_output(path: str | os.PathLike) -> None:
    """DataError when `path` is a file this run reads: writing it would destroy the input."""
    if not _READING:
        return
    key = _identity(str(path))
    if isinstance(key, tuple) and key in _READING:
        raise DataError(f"{path}: is also an input of this run; write the output elsewhere")


# ---------------------------------------------------------------- what was read


@dataclass
class ReadStats:
    """What a run read: for the summary line, and progress by bytes."""

    files: int = 0  # sources opened
    lines: int = 0  # lines read (blank ones included)
    blank: int = 0  # of which empty or whitespace only: skipped
    bytes: int = 0  # bytes read so far
    sources: list[str] = field(default_factory=list)  # the labels of the sources opened

    def summary(self) -> str:
        """`2 files, 8,118 lines (1,353 blank, skipped)`."""
        files = f"{self.files:,} file{'s' if self.files != 1 else ''}" if self.sources != ["standard input"] else "standard input"
        lines = f"{self.lines:,} line{'s' if self.lines != 1 else ''}"
        blank = f" ({self.blank:,} blank, skipped)" if self.blank else ""
        return f"{files}, {lines}{blank}"


@dataclass(frozen=True)
class BatchError:
    """A line that could not be embedded. `text` is None when the line was not valid UTF-8."""

    line: int
    error: str
    text: str | None = None
    id: object = None  # the input record's "id" (JSON Lines), when it had one


# ---------------------------------------------------------------- reading lines


def read_items(
    f: BinaryIO, input_format: str = "text", text_field: str = "text", max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    stats: ReadStats | None = None, ids: dict | None = None,
) -> Iterator[tuple[int, str | tuple | BatchError]]:
    """(line number, sentence) per non-blank line of a binary stream; a BatchError for a line
    that is not UTF-8 (or, in JSON Lines, not an object with a string `text_field` or a list
    of string "tokens"), or longer than `max_line_bytes`. Decoded a block at a time; one bad
    line does not stop the rest.

    JSON Lines: a record's "tokens" (a list of strings) is the sentence, already tokenized,
    yielded as a tuple; else its `text_field`. Its "id" (any JSON scalar) goes into `ids`
    (line -> id) when given.

    Memory stays bounded whatever the input: an over-long line is never held whole, it is read
    past (and reported); a "line" that goes on for SKIP_FACTOR times the limit (-i /dev/zero,
    a binary file) stops the run with a DataError."""
    if input_format not in INPUT_FORMATS:
        raise UsageError(f"--input-format must be text or jsonl, not {input_format!r}")
    if max_line_bytes < 1:
        raise UsageError(f"--max-line-bytes must be >= 1, not {max_line_bytes}")
    stats = stats if stats is not None else ReadStats()
    if input_format == "text":
        yield from _read_text(f, max_line_bytes, stats)
        return
    import orjson

    for line, raw in _read_raw(f, max_line_bytes, stats):
        if type(raw) is BatchError:
            yield line, raw
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            yield line, BatchError(line, f"not valid JSON ({e})")
            continue
        yield line, _record(line, obj, text_field, ids)


_SCALARS = (str, int, float, bool, type(None))


def _record(line: int, obj, text_field: str, ids: dict | None) -> str | tuple | BatchError:
    """The sentence of one JSON Lines record (see read_items)."""
    if not isinstance(obj, dict):
        return BatchError(line, f"not a JSON object (with a string field {text_field!r} or a \"tokens\" list)")
    rid = obj.get("id")
    if rid is not None and not isinstance(rid, _SCALARS):
        return BatchError(line, "\"id\" must be a JSON string, number, true, false or null, not an array or object")
    if ids is not None and "id" in obj:
        ids[line] = rid
    tokens = obj.get("tokens")
    if tokens is not None:
        if not isinstance(tokens, list) or not all(isinstance(t, str) and t and not t.isspace() for t in tokens):
            return BatchError(line, "\"tokens\" must be a list of non-blank strings", id=rid)
        if not tokens:
            return BatchError(line, "empty sentence: \"tokens\" is an empty list", id=rid)
        return tuple(tokens)
    text = obj.get(text_field)
    if not isinstance(text, str):
        return BatchError(line, f"not a JSON object with a string field {text_field!r} (or a \"tokens\" list)", id=rid)
    return text


def _read_raw(f: BinaryIO, max_line_bytes: int, stats: ReadStats) -> Iterator[tuple[int, bytes | BatchError]]:
    """(line number, bytes without the line end) per non-blank line, one line at a time."""
    line = 0
    try:
        while raw := f.readline(max_line_bytes + 2):  # + "\r\n"
            line += 1
            stats.bytes += len(raw)
            ended = raw.endswith(b"\n")
            raw = raw.rstrip(b"\r\n")
            if len(raw) > max_line_bytes:
                if not ended:
                    stats.bytes += _skip_line(f, line, max_line_bytes)
                yield line, too_long(line, max_line_bytes)
                continue
            if not raw.strip():
                stats.blank += 1
                continue
            yield line, raw
    finally:
        stats.lines += line


def read_lines(
    sources: list[Source], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, stats: ReadStats | None = None,
) -> Iterator[tuple[str, int, str | BatchError]]:
    """(source label, 1-based line number in it, text) of every non-blank line of every source,
    one after the other, streamed; a BatchError in place of a line that is not UTF-8 or too long."""
    stats = stats if stats is not None else ReadStats()
    for src in sources:
        with opened(src, stats) as f:
            for number, text in _read_text(f, max_line_bytes, stats):
                yield src.label, number, text


@contextlib.contextmanager
def opened(src: Source, stats: ReadStats):
    """`src` open for reading (a binary stream with read and readline), counted in `stats`;
    an OSError while reading it (EIO, a file on a dead mount) is one line naming it."""
    f = src.open()
    stats.files += 1
    stats.sources.append(src.label)
    try:
        yield _Reading(f, src.label)
    except NoLineEnd as e:  # raised while reading it: name it
        raise DataError(f"{src.label}: {e}") from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


class _Reading:
    """A binary stream whose read errors name the source (and nothing else's errors do)."""

    __slots__ = ("_f", "_label")

    def __init__(self, f: BinaryIO, label: str):
        self._f, self._label = f, label

    def read(self, n: int = -1) -> bytes:
        try:
            return self._f.read(n)
        except OSError as e:
            raise os_error(e, self._label) from None

    def readline(self, n: int = -1) -> bytes:
        try:
            return self._f.readline(n)
        except OSError as e:
            raise os_error(e, self._label) from None


class NoLineEnd(DataError):
    """A "line" without end (/dev/zero, a binary file): the run stops; opened() names the source."""


def too_long(line: int, max_line_bytes: int) -> BatchError:
    """The error of a line over the limit, worded the same wherever it is read (files, an index)."""
    return BatchError(line, f"longer than {max_line_bytes:,} bytes (--max-line-bytes): skipped")


def _skip_line(f: BinaryIO, line: int, max_line_bytes: int, skipped: int = 0, block: int = BLOCK) -> int:
    """Read past the rest of an over-long line, up to and with its "\n"; returns the bytes read."""
    cap = SKIP_FACTOR * max_line_bytes
    read = 0
    while data := f.readline(block):
        read += len(data)
        if data.endswith(b"\n"):
            return read
        skipped += len(data)
        if skipped > cap:
            raise NoLineEnd(f"line {line}: no line end within {cap:,} bytes; is this a file of text, "
                            "one line per sentence? (--max-line-bytes raises the limit)")
    return read


def _read_text(f: BinaryIO, max_line_bytes: int, stats: ReadStats, block: int = BLOCK) -> Iterator[tuple[int, str | BatchError]]:
    """Non-blank lines of text, decoded a block of whole lines at a time (line by line only in
    a block that is not valid UTF-8, or that holds a line over the limit)."""
    line = 0
    rest = b""
    try:
        while True:
            data = f.read(block)
            if data:
                stats.bytes += len(data)
                data = rest + data
            elif rest:  # the last line has no "\n"
                data = rest if rest.endswith(b"\n") else rest + b"\n"
            else:
                break
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            if cut:
                raws = data[:cut - 1].split(b"\n")
                texts = None
                if cut - 1 <= max_line_bytes or _longest_line(data, cut) <= max_line_bytes:
                    try:
                        texts = data[:cut - 1].decode("utf-8").split("\n")
                    except UnicodeDecodeError:
                        pass
                if texts is not None and len(texts) == len(raws):
                    for t in texts:
                        line += 1
                        if not t or t.isspace():
                            stats.blank += 1
                            continue
                        yield line, t[:-1] if t.endswith("\r") else t
                else:
                    for raw in raws:
                        line += 1
                        text = _decode(line, raw, max_line_bytes)
                        if type(text) is str and (not text or text.isspace()):
                            stats.blank += 1
                            continue
                        yield line, text
            if len(rest) > max_line_bytes:  # a line already too long: read past its end, never hold it
                line += 1
                stats.bytes += _skip_line(f, line, max_line_bytes, len(rest), block)
                rest = b""
                yield line, too_long(line, max_line_bytes)
    finally:
        stats.lines += line


def _longest_line(data: bytes, cut: int) -> int:
    """Bytes in the longest line of data[:cut] (whole lines, the last ending at cut - 1)."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8, count=cut) == 10)  # (lines,)
    return int(max(ends[0], np.diff(ends).max(initial=1) - 1))


def _decode(line: int, raw: bytes, max_line_bytes: int | None = None) -> str | BatchError:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if max_line_bytes is not None and len(raw) > max_line_bytes:
        return too_long(line, max_line_bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return BatchError(line, f"not valid UTF-8 (byte {e.start + 1}: {raw[e.start:e.start + 1]!r})")


# ---------------------------------------------------------------- whole texts


def read_text(source: str | os.PathLike, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The whole of a UTF-8 text file, or of stdin when source is '-', up to `max_bytes`
    (-i /dev/zero ends with an error, not a MemoryError)."""
    src = Source(str(source))
    with opened(src, ReadStats()) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DataError(f"{src.label}: longer than {max_bytes:,} bytes; for many sentences use `attncli batch -i`")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{src.label}: not UTF-8 ({e.reason} at byte {e.start})") from None


def nonblank_lines(source: str | os.PathLike) -> list[str]:
    """The lines of `source` that hold more than whitespace, without their line ends."""
    return [line.rstrip("\r") for line in read_text(source).split("\n") if line.strip()]


# ---------------------------------------------------------------- reading twice


@contextlib.contextmanager
def rereadable(sources: list[Source], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES):
    """`sources` that can each be read several times: regular files as they are, the others
    (stdin, a pipe, `<(cat f)`) copied once into a temp file, removed at the end. A source
    without a line end in SKIP_FACTOR * max_line_bytes (/dev/zero) stops the copy: NoLineEnd."""
    import tempfile

    out, temps = [], []
    try:
        for src in sources:
            if src.regular:
                out.append(src)
                continue
            fd, name = tempfile.mkstemp(prefix="attncli-input-", suffix=".txt")
            temps.append(name)
            with opened(src, ReadStats()) as f, os.fdopen(fd, "wb") as tmp:
                run = 0  # bytes since the last line end
                while data := f.read(BLOCK):
                    end = data.rfind(b"\n")
                    run = run + len(data) if end < 0 else len(data) - end - 1
                    if run > SKIP_FACTOR * max_line_bytes:
                        raise NoLineEnd(f"no line end within {SKIP_FACTOR * max_line_bytes:,} bytes; is this a file of text, "
                                        "one line per sentence?")
                    try:
                        tmp.write(data)
                    except OSError as e:  # the temp dir's disk, not the input
                        raise DataError(f"cannot copy {src.label} into a temp file: {e.strerror or e}") from None
            out.append(_Copy(name, regular=True, label_of=src.label))
        yield out
    finally:
        for name in temps:
            with contextlib.suppress(OSError):
                os.unlink(name)


@dataclass(frozen=True)
class _Copy(Source):
    """A temp copy of a source that could be read once only; messages name the original."""

    label_of: str = ""

    @property
    def label(self) -> str:
        return self.label_of
