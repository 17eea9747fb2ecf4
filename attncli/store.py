"""The corpus index: a corpus's lines kept once in one SQLite database, found by word with FTS5,
so that a question about one word costs what that word's lines cost, not what the corpus costs.

    attncli index build 'corpus/*.txt' -o corpus.db
    attncli senses bank --index corpus.db

The index holds TEXT, never vectors: every query setting (vectors, mode, window, case,
tokenizer...) stays free. FTS5 is a pre-filter: it finds the lines that MAY hold a form, a
superset of what attncli's own tokenizer finds, and attncli.corpus then decides exactly, as it
does for `-i`. So a query reads the same lines `-i` would embed, and its results are those of
`-i` on the same files: occurrences, vectors, groups, scores, the lines it could not read.

The superset. FTS5 indexes `search_key(line)`, not the line: the line case-folded (str.casefold,
context-free, so that "ΟΔΟΣ" and "οδος" and any --case meet) with every character that is
neither a letter nor a digit ([\\W_], Unicode-aware, as Python sees it) a separator, through
FTS5's `ascii` tokenizer, which splits at ASCII separators only and takes every other
character as it is (so SQLite's own, older Unicode tables play no part). A form must hold every
`pieces(form)` (the same function on the form). Each attncli token of a line lies between
separators of its key, so its pieces are pieces of the line, whichever tokenizer and case; two
places where attncli's `glove` tokenizer splits inside a run of letters and digits ("do|n't",
"3.5|km") get their own tokens added to the key. A form with no piece at all (punctuation,
symbols: ",", "@-@") finds its lines by reading every line. tests/test_index.py checks the
superset on random text (hypothesis), for both tokenizers and every case.

Layout (one file, `PRAGMA application_id` = APPLICATION_ID, `PRAGMA user_version` = schema):

    meta(key, value)          what it was built with: schema, attncli, key, unicode, sqlite,
                              max_line_bytes, created, built
    files(id, position, name, path, size, mtime_ns, sha256, lines, blank, words, skipped,
          shard, lo, hi, indexed)
                              one row per file: `name` as given (how results name it), `path`
                              its real absolute path (its identity), its lines stored as the
                              rows lo..hi of `lines` in this database or in `shard`
    lines(id, line, text)     each non-blank line read, as `-i` reads it (inputs.read_lines)
    skips(file, line, bytes, error)
                              lines read but not stored: not UTF-8 (`bytes` its length) or
                              longer than max_line_bytes (`bytes` NULL)
    long_lines(id, bytes)     stored lines of LONG_LINE bytes or more, so that a query with a
                              lower --max-line-bytes reports them without reading every line
    fts                       FTS5, contentless, detail=none, columnsize=0: search_key(text)

A Dask build (`build(engine="dask")`) writes shards, databases of the same layout holding
`lines`, `skips`, `long_lines` and `fts` for some files (`meta` kind "shard"), in the directory
`<index>.shards/`; the index's `files` rows point to them. Shards are never changed once
written: a file indexed again goes elsewhere, and a shard no file points to is removed.

Transactions. A first build writes a temp file beside the target (no journal: it is nobody's
yet), and links it to the target name only when complete: the name never shows a part. A
later build changes the index in place in ONE transaction (rollback journal): an interruption
(Ctrl-C, SIGTERM, kill -9, a full disk) leaves the previous index as it was (SQLite rolls a hot
journal back on the next open); a reader reads in one read transaction, so it sees the index
before or after a build, never between; a second build waits BUSY_TIMEOUT seconds for the
first, then fails with one line. No WAL: an index works on read-only media and network file
systems.

No typer, no rich: raises attncli.errors exceptions.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import re
import sqlite3
import stat
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import DataError, UsageError
from .inputs import DEFAULT_MAX_LINE_BYTES, BatchError, ReadStats, Source, too_long, expand, read_lines
from .tokens import nfc

SCHEMA_VERSION = 1
APPLICATION_ID = 0x61746978  # "atix": what tells an attncli index from any other SQLite file
KEY_VERSION = 2  # search_key's rules: bump when they or attncli's tokenizer change (a test pins them)
LONG_LINE = 10_000  # stored lines of this many bytes or more are listed in long_lines
PAGE_SIZE = 8192  # bytes: 7% smaller than 4096 for WikiText, and still few bytes read per line fetched
BUSY_TIMEOUT = 10.0  # seconds a build waits for another build (or a reader) before it gives up
ROWS_PER_INSERT = 5000  # lines written per executemany
IDS_PER_SELECT = 500  # candidate lines fetched per SELECT
SHARD_BYTES = 256 << 20  # a Dask shard holds files of about this many bytes in all (a bigger file: alone)
SHARDS = ".shards"  # the shard directory: the index's path + this
_TMP = ".tmp-"

FTS = "CREATE VIRTUAL TABLE fts USING fts5(k, content='', detail='none', columnsize=0, tokenize='ascii')"
_LINE_TABLES = """
CREATE TABLE lines(id INTEGER PRIMARY KEY, line INTEGER NOT NULL, text TEXT NOT NULL);
CREATE TABLE skips(file INTEGER NOT NULL, line INTEGER NOT NULL, bytes INTEGER, error TEXT NOT NULL,
                   PRIMARY KEY (file, line)) WITHOUT ROWID;
CREATE TABLE long_lines(id INTEGER PRIMARY KEY, bytes INTEGER NOT NULL);
"""
_INDEX_TABLES = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE files(
    id INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL,
    name TEXT NOT NULL, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, lines INTEGER NOT NULL, blank INTEGER NOT NULL, words INTEGER NOT NULL,
    skipped INTEGER NOT NULL, shard TEXT, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    indexed TEXT NOT NULL);
"""
_FILE_COLUMNS = ("id", "position", "name", "path", "size", "mtime_ns", "sha256", "lines", "blank", "words",
                 "skipped", "shard", "lo", "hi", "indexed")


# ---------------------------------------------------------------- what FTS5 indexes

_SEPARATORS = re.compile(r"[\W_]+")  # what splits pieces: anything but a letter or a digit
_NON_ASCII_SEPARATORS = re.compile(r"[^\w\x00-\x7f]+")  # the ascii tokenizer splits at the ASCII ones itself
# Where attncli's glove tokenizer splits inside a run of letters and digits: "do|n't", "3.5|km".
_SPLITS_INSIDE = re.compile(r"[.,:](?<=\d[.,:])\d|['\u2018\u2019](?<=[nN]['\u2018\u2019])[tT]")


def key_spec() -> str:
    """What search_key depends on, stored in the index: another value means other keys."""
    return f"attncli-key/{KEY_VERSION} unicode/{unicodedata.unidata_version}"


def search_key(text: str) -> str:
    """What FTS5 indexes for a line: `text` itself when it is ASCII (the ascii tokenizer then
    case-folds it and splits it at everything but letters and digits), else its casefold with
    every other separator made a space; plus, after it, the line's glove tokens when the
    tokenizer splits one inside a word. Non-ASCII text is composed (NFC) first, as tokens are."""
    if not text.isascii():
        text = nfc(text)  # as the tokens see it: a decomposed "café" is the form "café"
    key = text if text.isascii() else _NON_ASCII_SEPARATORS.sub(" ", text.casefold())
    if _SPLITS_INSIDE.search(text):
        from .tokens import token_texts

        extra = " ".join(token_texts(text, lower=False))
        key += " " + (extra if extra.isascii() else _NON_ASCII_SEPARATORS.sub(" ", extra.casefold()))
    return key


def pieces(form: str) -> list[str]:
    """The FTS5 terms every line holding the token `form` holds (none: every line may)."""
    return _SEPARATORS.sub(" ", form.casefold()).split()


def match_query(forms: Iterable[str]) -> str | None:
    """The FTS5 query for lines that may hold any of `forms`; None when one has no piece
    (its lines are found by reading all)."""
    alternatives = []
    for form in forms:
        terms = pieces(form)
        if not terms:
            return None
        alt = " AND ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms))
        alternatives.append(f"({alt})" if len(terms) > 1 else alt)
    return " OR ".join(dict.fromkeys(alternatives)) or None


# ---------------------------------------------------------------- errors


class StoreError(DataError):
    """SQLite could not read or write the index (a build adds what became of the index)."""


# What SQLite's message holds -> what the user reads ({path}: the file, {msg}: SQLite's words).
_ERRORS = [
    (("file is not a database",), "{path}: not an attncli index (not an SQLite database)"),
    (("malformed", "corrupt"), "{path}: damaged ({msg}); build the index again"),
    (("locked", "busy"), "{path}: locked by another process (an index build?); try again when it ends"),
    (("full",), "{path}: the disk is full ({msg})"),
    (("disk i/o error",), "{path}: {msg} (a full disk, a file size limit, a failing disk?)"),
    (("readonly", "read-only"), "{path}: cannot write ({msg})"),
    (("unable to open",), "{path}: cannot open ({msg})"),
    (("no such module: fts5",), "this Python's SQLite has no FTS5: attncli index needs it"),
]


def _error(e: sqlite3.Error, path: str | os.PathLike) -> StoreError:
    """One line for an SQLite error on the index or a shard at `path`."""
    msg = str(e)
    for words, text in _ERRORS:
        if any(w in msg.lower() for w in words):
            return StoreError(text.format(path=path, msg=msg))
    return StoreError(f"{path}: {msg}")


@contextlib.contextmanager
def _sqlite_errors(path):
    try:
        yield
    except sqlite3.Error as e:
        raise _error(e, path) from None


# ---------------------------------------------------------------- opening


def _connect(path: Path, *, write: bool) -> sqlite3.Connection:
    """A connection to the existing database `path` (read-write when the file allows it, so
    that a reader can roll back what an interrupted build left), checked to be a regular file."""
    try:
        st = os.stat(path)
    except OSError as e:
        from .inputs import os_error

        raise os_error(e, path) from None
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: not a regular file, so not an attncli index")
    if st.st_size == 0:
        raise DataError(f"{path}: an empty file, not an attncli index")
    mode = "rw" if write or _writable(path) else "ro"
    from urllib.parse import quote

    with _sqlite_errors(path):
        conn = sqlite3.connect(f"file:{quote(str(Path(path).absolute()))}?mode={mode}", uri=True,
                               isolation_level=None, timeout=BUSY_TIMEOUT, check_same_thread=False)
    return conn


def _writable(path) -> bool:
    return os.access(path, os.W_OK)


def _check(conn: sqlite3.Connection, path, kind: str) -> dict:
    """The meta of an index (kind "index") or shard ("shard"); one-line DataErrors otherwise."""
    with _sqlite_errors(path):
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app != APPLICATION_ID:
            raise DataError(f"{path}: an SQLite database, but not an attncli index")
        if version > SCHEMA_VERSION:
            raise DataError(f"{path}: made by a newer attncli (index schema {version}; this one reads "
                            f"schema {SCHEMA_VERSION}): upgrade attncli, or build the index again")
        if version < SCHEMA_VERSION:
            raise DataError(f"{path}: made by an older attncli (index schema {version}): build the index again")
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    if meta.get("kind") != kind:
        raise DataError(f"{path}: an attncli index {meta.get('kind', '?')}, not an index{' shard' if kind == 'shard' else ''}")
    return meta


def _create(conn: sqlite3.Connection, kind: str, max_line_bytes: int) -> None:
    """The tables of a new index or shard, in `conn` (a new, empty database)."""
    now = _now()
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.executescript(_INDEX_TABLES if kind == "index" else _INDEX_TABLES.split("CREATE TABLE files")[0])
    conn.executescript(_LINE_TABLES)
    conn.execute(FTS)
    from . import __version__

    conn.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("kind", kind), ("schema", str(SCHEMA_VERSION)), ("attncli", __version__), ("key", key_spec()),
        ("sqlite", sqlite3.sqlite_version), ("max_line_bytes", str(max_line_bytes)), ("created", now),
        ("built", now)])


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")


# ---------------------------------------------------------------- one file's lines


class _HashingReader:
    """A binary file that hashes what is read from it (inputs reads with read and readline)."""

    def __init__(self, f, digest):
        self._f, self.digest, self.read_bytes = f, digest, 0

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.digest.update(data)
        self.read_bytes += len(data)
        return data

    def readline(self, n: int = -1) -> bytes:
        data = self._f.readline(n)
        self.digest.update(data)
        self.read_bytes += len(data)
        return data

    def close(self) -> None:
        self._f.close()


@dataclass(frozen=True)
class _Hashed(Source):
    """A regular file read through inputs.read_lines, hashed on the way."""

    reader: list = field(default_factory=list, compare=False)  # the _HashingReader, once opened

    def open(self):
        r = _HashingReader(super().open(), hashlib.sha256())
        self.reader.append(r)
        return r


def _sha256(path: str, advance: Callable[[int], None]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while data := f.read(1 << 22):
            digest.update(data)
            advance(len(data))
    return digest.hexdigest()


def _index_file(conn: sqlite3.Connection, file_id: int, path: str, name: str, first_id: int, max_line_bytes: int,
                advance: Callable[[int], None]) -> dict:
    """Store the lines of the file at `path` as rows first_id.. of `conn`'s line tables; returns
    its `files` columns (but id, position, name, shard). DataError when it changes meanwhile."""
    try:
        before = os.stat(path)
    except OSError as e:
        from .inputs import os_error

        raise os_error(e, name) from None
    src = _Hashed(path, regular=True)
    stats = ReadStats()
    rows, keys, longs, skips, not_utf8 = [], [], [], [], []
    words, next_id, done = 0, first_id, 0

    def flush():
        conn.executemany("INSERT INTO lines VALUES (?, ?, ?)", rows)
        conn.executemany("INSERT INTO fts(rowid, k) VALUES (?, ?)", keys)
        conn.executemany("INSERT INTO long_lines VALUES (?, ?)", longs)
        rows.clear(), keys.clear(), longs.clear()

    for _, number, text in read_lines([src], max_line_bytes, stats):
        if type(text) is str:
            rows.append((next_id, number, text))
            keys.append((next_id, search_key(text)))
            words += len(text.split())
            if len(text) * 4 >= LONG_LINE and (n := len(text.encode("utf-8"))) >= LONG_LINE:
                longs.append((next_id, n))
            next_id += 1
            if len(rows) >= ROWS_PER_INSERT:
                flush()
                advance(stats.bytes - done)
                done = stats.bytes
        else:
            is_long = text.error == too_long(number, max_line_bytes).error
            skips.append([file_id, number, None, text.error])
            if not is_long:
                not_utf8.append(len(skips) - 1)
    flush()
    advance(stats.bytes - done)
    if not_utf8:  # their lengths: a query with a lower --max-line-bytes reports them too long, as -i would
        lengths = _line_lengths(path, {skips[i][1] for i in not_utf8}, max_line_bytes)
        for i in not_utf8:
            skips[i][2] = lengths.get(skips[i][1], max_line_bytes)
    conn.executemany("INSERT INTO skips VALUES (?, ?, ?, ?)", skips)
    reader = src.reader[0]
    try:
        after = os.stat(path)
    except OSError:
        after = None
    if after is None or (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) \
            or reader.read_bytes != before.st_size:
        raise DataError(f"{name}: changed while it was being indexed; index it again when it is written")
    return {"size": before.st_size, "mtime_ns": before.st_mtime_ns, "sha256": reader.digest.hexdigest(),
            "lines": stats.lines, "blank": stats.blank, "words": words, "skipped": len(skips), "lo": first_id, "hi": next_id - 1, "indexed": _now()}


def _line_lengths(path: str, numbers: set[int], max_line_bytes: int) -> dict[int, int]:
    """Bytes of the lines `numbers` (1-based; without "\\n" and a "\\r" before it) that hold at
    most max_line_bytes: what inputs compares with --max-line-bytes."""
    out, number, last, cap = {}, 0, max(numbers), max_line_bytes + 2
    with open(path, "rb") as f:
        while number < last and (raw := f.readline(cap)):
            number += 1
            if len(raw) == cap and not raw.endswith(b"\n"):  # longer than the limit: read past it
                while (more := f.readline(1 << 20)) and not more.endswith(b"\n"):
                    pass
                continue
            if number in numbers:
                body = raw[:-1] if raw.endswith(b"\n") else raw
                out[number] = len(body[:-1] if body.endswith(b"\r") else body)
    return out


# ---------------------------------------------------------------- the files of an index


@dataclass(frozen=True)
class IndexedFile:
    """One row of `files`; `label` is how results name it (the name given at the build, or
    the -i name it was selected by)."""

    id: int
    position: int
    name: str
    path: str
    size: int
    mtime_ns: int
    sha256: str
    lines: int
    blank: int
    words: int
    skipped: int
    shard: str | None
    lo: int
    hi: int
    indexed: str
    label: str = ""

    def changed(self) -> str | None:
        """Why the file on disk is not what was indexed (size or mtime differ, gone), or None."""
        try:
            st = os.stat(self.path)
        except OSError:
            return "gone"
        if (st.st_size, st.st_mtime_ns) != (self.size, self.mtime_ns):
            return "changed"
        return None


def _files(conn: sqlite3.Connection) -> list[IndexedFile]:
    rows = conn.execute(f"SELECT {', '.join(_FILE_COLUMNS)} FROM files ORDER BY position").fetchall()
    return [IndexedFile(*row, label=row[2]) for row in rows]


# ---------------------------------------------------------------- reading an index


class Index:
    """An index open for reading, in one read transaction (a build can only commit when it is
    closed): its meta, its files, and the lines that may hold a word.

        with Index.open("corpus.db") as ix:
            for label, number, text in ix.lines(["bank"], ix.select(None), 100_000, ReadStats()): ...
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, meta: dict, files: list[IndexedFile]):
        self.path, self.conn, self.meta, self.files = path, conn, meta, files
        self._shards: dict[str | None, sqlite3.Connection] = {None: conn}
        self._candidates: dict[tuple, list[int]] = {}

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Index":
        path = Path(path)
        conn = _connect(path, write=False)
        try:
            with _sqlite_errors(path):
                conn.execute("BEGIN")
                meta = _check(conn, path, "index")
                files = _files(conn)
            ix = cls(path, conn, meta, files)
            for shard in dict.fromkeys(f.shard for f in files if f.shard):
                ix._open_shard(shard)  # now, inside the read transaction: no build can remove it meanwhile
        except BaseException:
            conn.close()
            raise
        return ix

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        for c in self._shards.values():
            with contextlib.suppress(sqlite3.Error):
                c.close()
        self._shards = {}

    @property
    def max_line_bytes(self) -> int:
        return int(self.meta["max_line_bytes"])

    def _open_shard(self, shard: str) -> sqlite3.Connection:
        if shard not in self._shards:
            where = self.path.parent / shard
            if not where.is_file():
                raise DataError(f"{where}: a shard of {self.path} is missing; build the index again")
            conn = _connect(where, write=False)
            try:
                meta = _check(conn, where, "shard")
            except BaseException:
                conn.close()
                raise
            if meta.get("key") != self.meta.get("key"):
                conn.close()
                raise DataError(f"{where}: a shard of another index; build the index again")
            self._shards[shard] = conn
        return self._shards[shard]

    # -------------------------------------------------------- which files

    def select(self, patterns: list[str] | None) -> list[IndexedFile]:
        """The files a query reads: every indexed file (None), or the files named by
        `patterns` (paths and globs, as -i takes them), in their order, each of which must be
        indexed and unchanged since (size and mtime), else a one-line DataError."""
        if not patterns:
            return list(self.files)
        if "-" in patterns:
            raise UsageError(f"with --index, -i names indexed files; standard input is not one of {self.path}'s")
        by_path = {f.path: f for f in self.files}
        out = []
        for src in expand(patterns):
            f = by_path.get(os.path.realpath(src.name))
            if f is None:
                raise DataError(f"{src.label}: not in {self.path} (add it: attncli index build ... -o {self.path})")
            why = f.changed()
            if why:
                raise DataError(f"{src.label}: {why} since {self.path} indexed it; update the index "
                                f"(attncli index build ... -o {self.path}) or query without -i")
            out.append(replace(f, label=src.label))
        return out

    def stale(self, files: list[IndexedFile] | None = None) -> list[tuple[IndexedFile, str]]:
        """The files whose copy on disk changed or went since they were indexed."""
        return [(f, why) for f in (self.files if files is None else files) if (why := f.changed())]

    def check_key(self) -> str | None:
        """A warning when the index's search keys were made by other rules (another attncli or
        Unicode version): a form could be missed. None otherwise."""
        if self.meta.get("key") == key_spec():
            return None
        return (f"{self.path} was built with search keys {self.meta.get('key')!r}, this attncli makes "
                f"{key_spec()!r}: lines holding a word with characters new in one of them may be missed; "
                "build the index again to be sure")

    # -------------------------------------------------------- lines

    def lines(self, forms: list[str] | None, files: list[IndexedFile], max_line_bytes: int,
              stats: ReadStats | None = None) -> Iterator[tuple[str, int, str | BatchError]]:
        """(file label, line number, text) of the lines of `files` that may hold one of `forms`
        (None: every line), with, in their place, a BatchError for each line `-i` with
        `max_line_bytes` would not read (not UTF-8, too long), in reading order; `stats` counts
        what `-i` would have read (files, lines, blank lines, bytes)."""
        if max_line_bytes > self.max_line_bytes:
            raise UsageError(f"--max-line-bytes {max_line_bytes:,}: {self.path} was built with --max-line-bytes "
                             f"{self.max_line_bytes:,} and holds no longer line; use at most that, or build it "
                             "again with a higher one")
        stats = stats if stats is not None else ReadStats()
        query = None if forms is None else match_query(forms)
        with _sqlite_errors(self.path):
            for f in files:
                stats.files += 1
                stats.sources.append(f.label)
                conn = self._open_shard(f.shard) if f.shard else self.conn
                special = self._special(conn, f, max_line_bytes)
                pending = sorted(special)
                k = 0
                for number, text in self._texts(conn, f, query):
                    while k < len(pending) and pending[k] < number:
                        yield f.label, pending[k], special[pending[k]]
                        k += 1
                    if number in special:  # stored, but longer than this query's limit
                        k += 1
                        yield f.label, number, special[number]
                        continue
                    yield f.label, number, text
                for number in pending[k:]:
                    yield f.label, number, special[number]
                stats.lines += f.lines
                stats.blank += f.blank
                stats.bytes += f.size

    def _special(self, conn, f: IndexedFile, limit: int) -> dict[int, BatchError]:
        """Line number -> the BatchError -i gives it with --max-line-bytes `limit`, for the lines
        of `f` that were not stored, or are stored but longer than `limit`."""
        out = {}
        for number, size, error in conn.execute("SELECT line, bytes, error FROM skips WHERE file = ?", (f.id,)):
            out[number] = too_long(number, limit) if size is None or size > limit else BatchError(number, error)
        if limit < self.max_line_bytes and f.lo <= f.hi:
            if limit >= LONG_LINE:
                rows = conn.execute("SELECT l.line FROM long_lines AS s JOIN lines AS l ON l.id = s.id "
                                    "WHERE s.id BETWEEN ? AND ? AND s.bytes > ?", (f.lo, f.hi, limit))
            else:  # every line's length: a scan
                rows = conn.execute("SELECT line FROM lines WHERE id BETWEEN ? AND ? AND length(CAST(text AS BLOB)) > ?",
                                    (f.lo, f.hi, limit))
            for (number,) in rows:
                out[number] = too_long(number, limit)
        return out

    def _texts(self, conn, f: IndexedFile, query: str | None) -> Iterator[tuple[int, str]]:
        """(line number, text) of the stored lines of `f` that may match `query` (None: all)."""
        if f.lo > f.hi:
            return
        if query is None:
            yield from conn.execute("SELECT line, text FROM lines WHERE id BETWEEN ? AND ? ORDER BY id", (f.lo, f.hi))
            return
        import bisect

        ids = self._matching(conn, f.shard, query)
        a, b = bisect.bisect_left(ids, f.lo), bisect.bisect_right(ids, f.hi)
        for i in range(a, b, IDS_PER_SELECT):
            chunk = ids[i: min(b, i + IDS_PER_SELECT)]
            yield from conn.execute(f"SELECT line, text FROM lines WHERE id IN ({','.join('?' * len(chunk))}) ORDER BY id",
                                    chunk)

    def _matching(self, conn, shard: str | None, query: str) -> list[int]:
        """The rowids matching `query` in one database, ascending (asked once per query)."""
        key = (shard, query)
        if key not in self._candidates:
            self._candidates[key] = [r for (r,) in conn.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid",
                                                                  (query,))]
        return self._candidates[key]

    # -------------------------------------------------------- what it holds

    def info(self, check: bool = False) -> dict:
        """What `attncli index info` shows (schema: docs/index.md)."""
        with _sqlite_errors(self.path):
            size = os.path.getsize(self.path)
            shards = {s: os.path.getsize(self.path.parent / s) for s in self._shards if s}
            problems = self._integrity() if check else None
        files = [{"name": f.name, "path": f.path, "size": f.size, "lines": f.lines, "blank": f.blank,
                  "words": f.words, "skipped": f.skipped, "sha256": f.sha256, "indexed": f.indexed,
                  "shard": f.shard, "state": f.changed() or "unchanged"} for f in self.files]
        text = sum(f.size for f in self.files)
        out = {
            "index": str(self.path), "schema": SCHEMA_VERSION, "attncli": self.meta.get("attncli"),
            "created": self.meta.get("created"), "built": self.meta.get("built"),
            "files": len(files), "lines": sum(f.lines for f in self.files), "blank": sum(f.blank for f in self.files),
            "words": sum(f.words for f in self.files), "skipped": sum(f.skipped for f in self.files),
            "text_bytes": text, "index_bytes": size + sum(shards.values()), "shards": len(shards),
            "max_line_bytes": self.max_line_bytes, "key": self.meta.get("key"), "sqlite": self.meta.get("sqlite"),
            "file_list": files,
        }
        out["ratio"] = round(out["index_bytes"] / text, 3) if text else None
        if check:
            out["check"] = problems or ["ok"]
        return out

    def _integrity(self) -> list[str]:
        """Problems found by SQLite's checks and by counting each file's rows; [] when none."""
        problems = []
        for shard, conn in self._shards.items():
            where = self.path if shard is None else self.path.parent / shard
            for (row,) in conn.execute("PRAGMA quick_check"):
                if row != "ok":
                    problems.append(f"{where}: {row}")
            try:  # an INSERT that writes nothing, but needs the write lock
                conn.execute("INSERT INTO fts(fts, rank) VALUES ('integrity-check', 0)")
            except sqlite3.OperationalError as e:
                if "readonly" in str(e) or "locked" in str(e) or "busy" in str(e):
                    raise _error(e, where) from None
                problems.append(f"{where}: full-text index: {e}")
            except sqlite3.DatabaseError as e:
                problems.append(f"{where}: full-text index: {e}")
        for f in self.files:
            conn = self._shards[f.shard]
            stored = conn.execute("SELECT count(*) FROM lines WHERE id BETWEEN ? AND ?", (f.lo, f.hi)).fetchone()[0]
            skipped = conn.execute("SELECT count(*) FROM skips WHERE file = ?", (f.id,)).fetchone()[0]
            if stored + skipped + f.blank != f.lines or skipped != f.skipped:
                problems.append(f"{f.name}: {stored:,} lines stored, {skipped:,} skipped, {f.blank:,} blank, "
                                f"but {f.lines:,} read")
        return problems


@contextlib.contextmanager
def reading(path: str | os.PathLike, patterns: list[str] | None = None):
    """(the open Index, the files a query reads: all, or those `patterns` name), closed at the
    end. Notes (attncli.report) when the whole index is read and some of its files changed on
    disk since, or when its search keys were made by other rules."""
    from . import report

    ix = Index.open(path)
    try:
        files = ix.select(patterns)
        stale = [] if patterns else ix.stale(files)
        if stale:
            shown = ", ".join(f"{f.name} {why}" for f, why in stale[:3]) + (", ..." if len(stale) > 3 else "")
            report.note(f"{ix.path}: {len(stale):,} of {len(files):,} files changed since they were indexed ({shown}): "
                        f"the results are those of the indexed text; `attncli index build -o {ix.path}` updates it")
        if (warning := ix.check_key()) is not None:
            report.note(warning)
        yield ix, files
    finally:
        ix.close()


# ---------------------------------------------------------------- building


@dataclass
class BuildReport:
    """What a build did."""

    path: str
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # not named, not pruned: left as indexed
    gone: list[str] = field(default_factory=list)  # kept although gone from the disk (no --prune)
    left_out: list[str] = field(default_factory=list)  # inputs that are the index itself
    files: int = 0
    lines: int = 0
    words: int = 0
    skipped: int = 0
    text_bytes: int = 0
    index_bytes: int = 0


@dataclass(frozen=True)
class _Input:
    name: str  # as given (or as the index names it)
    path: str  # real absolute path


def build(path: str | os.PathLike, patterns: list[str] | None = None, *, prune: bool = False,
          max_line_bytes: int | None = None, engine: str = "local", scheduler: str | None = None,
          progress: Callable[[int], None] | None = None, total: Callable[[int], None] | None = None) -> BuildReport:
    """Index the files `patterns` (paths, globs) into the database `path`, created when it does
    not exist. Files indexed before: unchanged ones (same SHA-256) kept as they are, changed
    ones indexed again; with `prune`, files not named this time are dropped. Without
    `patterns`, the files the index holds are checked again (gone ones: kept, or dropped with
    `prune`). engine="dask": the files are read on Dask workers into shards. `total(n)`: the
    bytes this build reads, once known; `progress(n)`: n more of them read."""
    path = Path(path)
    if engine not in ("local", "dask"):
        raise UsageError(f"--engine must be local or dask, not {engine!r}")
    if scheduler is not None and engine != "dask":
        raise UsageError("--scheduler needs --engine dask")
    if max_line_bytes is not None and max_line_bytes < 1:
        raise UsageError(f"--max-line-bytes must be >= 1, not {max_line_bytes}")
    report = BuildReport(str(path))
    _remove_abandoned(path)
    conn, tmp = _open_for_build(path)
    fresh = tmp is not None
    new_shards: list[Path] = []
    try:
        with _sqlite_errors(path):
            if tmp is None:
                conn.execute("BEGIN IMMEDIATE")  # the write lock, for the whole build: a second build waits
                meta = _check(conn, path, "index")
                if meta.get("key") != key_spec():
                    raise DataError(f"{path}: built with search keys {meta.get('key')!r}, this attncli makes "
                                    f"{key_spec()!r}; build a new index (another -o)")
                limit = int(meta["max_line_bytes"])
                if max_line_bytes is not None and max_line_bytes != limit:
                    raise UsageError(f"{path} was built with --max-line-bytes {limit:,}: every file would have to be "
                                     "read again; build a new index (another -o) for another limit")
            else:
                limit = max_line_bytes or DEFAULT_MAX_LINE_BYTES
                _start_new(conn, "index", limit)
            inputs = _inputs(conn, path, patterns, report)
            _build(conn, path, report, inputs, prune=prune, limit=limit, engine=engine, scheduler=scheduler,
                   advance=progress or (lambda n: None), total=total, new_shards=new_shards)
            from . import __version__

            conn.executemany("UPDATE meta SET value = ? WHERE key = ?", [(_now(), "built"), (__version__, "attncli")])
            if tmp is not None:
                conn.execute("COMMIT")
                conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")  # one segment: the fewest pages per query
                conn.close()
                _publish(tmp, path)
                tmp = None
            else:
                conn.execute("PRAGMA busy_timeout = 120000")  # readers hold their lock while they embed: wait longer
                conn.execute("COMMIT")
                conn.execute("PRAGMA busy_timeout = %d" % (BUSY_TIMEOUT * 1000))
                if new_shards or _shard_dir(path).is_dir():
                    conn.execute("BEGIN IMMEDIATE")  # no other build writes shards meanwhile
                    _remove_unused_shards(conn, path)
                    conn.execute("COMMIT")
                conn.close()
    except BaseException as e:
        with contextlib.suppress(sqlite3.Error):
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        for s in new_shards:
            with contextlib.suppress(OSError):
                os.unlink(s)
        if isinstance(e, (StoreError, OSError)):  # what became of the index
            what = "nothing written" if fresh else "the index is as it was before this build"
            detail = str(e) if isinstance(e, StoreError) else f"cannot write {path}: {e.strerror or e}"
            raise DataError(f"{detail}; {what}") from None
        raise
    report.index_bytes = os.path.getsize(path) + sum(p.stat().st_size for p in _shards_of(path))
    return report


def _open_for_build(path: Path) -> tuple[sqlite3.Connection, Path | None]:
    """(a connection, None) to update the index at `path`; or (a connection, the temp file)
    to build a new one, given the name `path` at the end."""
    if os.path.lexists(path):
        if not path.is_file():
            raise DataError(f"{path}: exists and is not a regular file; -o names an index to update, or a new file")
        conn = _connect(path, write=True)
        try:
            _check(conn, path, "index")
        except DataError as e:
            conn.close()
            raise DataError(f"{e} (nothing written: -o names an index to update, or a new file)") from None
        return conn, None
    if not path.parent.is_dir():
        raise DataError(f"{path}: no such directory {path.parent}")
    tmp = path.parent / f".{path.name}{_TMP}{os.getpid()}-{os.urandom(4).hex()}"
    try:
        return sqlite3.connect(tmp, isolation_level=None, timeout=BUSY_TIMEOUT), tmp
    except sqlite3.Error as e:
        raise _error(e, path) from None


def _seal(tmp: Path) -> None:
    """A complete temp database on the disk, readable by all, before it takes its name."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o644)


def _start_new(conn: sqlite3.Connection, kind: str, limit: int) -> None:
    """The tables of a new temp database, and its one transaction begun (no journal: until it
    takes its name, nobody reads it, and a failed build removes it)."""
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    _create(conn, kind, limit)
    conn.execute("BEGIN")


def _publish(tmp: Path, path: Path) -> None:
    """Give the complete temp database its final name, unless a file took that name meanwhile."""
    _seal(tmp)
    try:
        os.link(tmp, path)  # fails when the name exists: never replaces what another build made
    except FileExistsError:
        raise DataError(f"{path}: was created by another process during this build; nothing written "
                        "(build again to update it)") from None
    except OSError:  # a file system without hard links
        if os.path.lexists(path):
            raise DataError(f"{path}: was created by another process during this build; nothing written") from None
        os.rename(tmp, path)
        _fsync_dir(path.parent)
        return
    os.unlink(tmp)
    _fsync_dir(path.parent)


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_abandoned(path: Path) -> None:
    """Temp databases and shards left by builds whose process died (kill -9)."""
    from .cache import pid_alive

    for d, prefix in ((path.parent, f".{path.name}{_TMP}"), (_shard_dir(path), _TMP)):
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if p.name.startswith(prefix):
                pid = p.name[len(prefix):].split("-", 1)[0]
                if pid.isdigit() and not pid_alive(int(pid)):
                    with contextlib.suppress(OSError):
                        p.unlink()


def _inputs(conn, path: Path, patterns: list[str] | None, report: BuildReport) -> list[_Input] | None:
    """The files this build names (None: those the index holds)."""
    if not patterns:
        if conn.execute("SELECT count(*) FROM files").fetchone()[0] == 0:
            raise UsageError("give the files to index: attncli index build CORPUS... -o INDEX")
        return None
    out = []
    me = _identity(path)
    for src in expand(patterns, option="CORPUS", stdin=False):
        if not src.regular:
            raise UsageError(f"{src.label}: not a regular file; an index records each file's path, size and "
                             "hash (copy a stream into a file first)")
        if me is not None and _identity(src.name) == me:
            report.left_out.append(src.name)
            continue
        out.append(_Input(src.name, os.path.realpath(src.name)))
    if not out:
        raise UsageError(f"nothing to index but {path} itself")
    return out


def _identity(name) -> tuple | None:
    try:
        st = os.stat(name)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _build(conn, path: Path, report: BuildReport, inputs: list[_Input] | None, *, prune: bool, limit: int,
           engine: str, scheduler: str | None, advance, total, new_shards: list[Path]) -> None:
    """The body of a build, inside its transaction."""
    from .inputs import os_error

    old = {f.path: f for f in _files(conn)}
    if inputs is None:  # check again what the index holds
        inputs = []
        for f in old.values():
            if os.path.isfile(f.path):
                inputs.append(_Input(f.name, f.path))
            elif not prune:
                report.gone.append(f.name)
    sizes = {}
    for i in inputs:
        try:
            sizes[i.path] = os.stat(i.path).st_size
        except OSError as e:
            raise os_error(e, i.name) from None
    # which files to read: new ones, and changed ones (another size, or the same size and another hash)
    same_size = [(i, old[i.path]) for i in inputs if i.path in old and old[i.path].size == sizes[i.path]]
    if total:
        total(sum(sizes.values()) if not same_size else sum(sizes.values()) + sum(f.size for _, f in same_size))
    unchanged = set()
    for i, f in same_size:
        try:
            if _sha256(i.path, advance) == f.sha256:
                unchanged.add(i.path)
        except OSError as e:
            raise os_error(e, i.name) from None
    plan = [i for i in inputs if i.path not in unchanged]
    for i in plan:
        if i.path in old:
            _drop(conn, old[i.path])
            report.changed.append(i.name)
        else:
            report.new.append(i.name)
    for i in inputs:
        if i.path in unchanged:
            st = os.stat(i.path)
            conn.execute("UPDATE files SET name = ?, mtime_ns = ? WHERE id = ?", (i.name, st.st_mtime_ns, old[i.path].id))
            report.unchanged.append(i.name)
            advance(sizes[i.path])  # counted once in total for the hash, once for the reading it was spared
    named = {i.path for i in inputs}
    for f in old.values():
        if f.path in named:
            continue
        if prune:
            _drop(conn, f)
            report.pruned.append(f.name)
        elif f.name not in report.gone:
            report.kept.append(f.name)
    # read what is new
    first_file = _next_file_id(conn)
    if engine == "dask":
        records = _build_dask(path, plan, first_file, limit, scheduler, new_shards)
        advance(sum(sizes[i.path] for i in plan))
    else:
        records, first = [], (conn.execute("SELECT max(id) FROM lines").fetchone()[0] or 0) + 1
        for k, i in enumerate(plan):
            rec = _index_file(conn, first_file + k, i.path, i.name, first, limit, advance)
            records.append((i, first_file + k, None, rec))
            first = rec["hi"] + 1
    columns = ", ".join(_FILE_COLUMNS)
    conn.executemany(f"INSERT INTO files ({columns}) VALUES ({', '.join('?' * len(_FILE_COLUMNS))})", [
        (file_id, -1, i.name, i.path, rec["size"], rec["mtime_ns"], rec["sha256"], rec["lines"], rec["blank"],
         rec["words"], rec["skipped"], shard, rec["lo"], rec["hi"], rec["indexed"])
        for i, file_id, shard, rec in records])
    # the reading order: this build's files in the order given, then the others as they were
    ids = dict(conn.execute("SELECT path, id FROM files"))
    first_ids = [ids[i.path] for i in inputs]
    named_ids = set(first_ids)
    rest = [fid for (fid,) in conn.execute("SELECT id FROM files ORDER BY position") if fid not in named_ids]
    conn.executemany("UPDATE files SET position = ? WHERE id = ?", [(k, fid) for k, fid in enumerate(first_ids + rest)])
    row = conn.execute("SELECT count(*), sum(lines), sum(words), sum(skipped), sum(size) FROM files").fetchone()
    report.files, report.lines, report.words, report.skipped, report.text_bytes = (v or 0 for v in row)


def _next_file_id(conn) -> int:
    """The id the next `files` row gets (AUTOINCREMENT: never one a dropped file had)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'files'").fetchone()
    used = conn.execute("SELECT max(id) FROM files").fetchone()[0] or 0
    return max(row[0] if row else 0, used) + 1


def _drop(conn, f: IndexedFile) -> None:
    """Remove file `f` from the index: its row, and its lines when they are in this database
    (FTS5 forgets a contentless row only when given the key it indexed)."""
    if f.shard is None:
        if f.lo <= f.hi:
            cur = conn.execute("SELECT id, text FROM lines WHERE id BETWEEN ? AND ?", (f.lo, f.hi))
            while rows := cur.fetchmany(ROWS_PER_INSERT):
                conn.executemany("INSERT INTO fts(fts, rowid, k) VALUES ('delete', ?, ?)",
                                 [(i, search_key(t)) for i, t in rows])
            conn.execute("DELETE FROM lines WHERE id BETWEEN ? AND ?", (f.lo, f.hi))
            conn.execute("DELETE FROM long_lines WHERE id BETWEEN ? AND ?", (f.lo, f.hi))
        conn.execute("DELETE FROM skips WHERE file = ?", (f.id,))
    conn.execute("DELETE FROM files WHERE id = ?", (f.id,))


# ---------------------------------------------------------------- Dask shards


def _shard_dir(path: Path) -> Path:
    return path.parent / (path.name + SHARDS)


def _shards_of(path: Path) -> list[Path]:
    d = _shard_dir(path)
    return sorted(d.glob("shard-*.db")) if d.is_dir() else []


def _build_dask(path: Path, inputs: list[_Input], first_file: int, limit: int, scheduler: str | None,
                new_shards: list[Path]) -> list[tuple]:
    """Index `inputs` into new shards, one Dask task each (files of about SHARD_BYTES in all,
    split over at least as many tasks as there are cores); returns (input, file id, shard, record)."""
    from .dask_engine import compute

    if not inputs:
        return []
    sizes = [os.stat(i.path).st_size for i in inputs]
    per_shard = max(1, min(SHARD_BYTES, sum(sizes) // max(1, min(len(inputs), os.cpu_count() or 1))))
    groups: list[list[int]] = [[]]
    acc = 0
    for k, size in enumerate(sizes):
        if groups[-1] and acc + size > per_shard:
            groups.append([])
            acc = 0
        groups[-1].append(k)
        acc += size
    shard_dir = _shard_dir(path)
    shard_dir.mkdir(exist_ok=True)
    calls, names = [], []
    for g in groups:
        name = f"shard-{os.urandom(8).hex()}.db"
        names.append(name)
        new_shards.append(shard_dir / name)
        calls.append((str((shard_dir / name).absolute()), [(first_file + k, inputs[k].path, inputs[k].name) for k in g],
                      limit))
    parts = compute(build_shard, calls, scheduler)
    return [(inputs[k], first_file + k, f"{shard_dir.name}/{name}", rec)
            for name, g, recs in zip(names, groups, parts) for k, rec in zip(g, recs)]


def build_shard(target: str, files: list[tuple[int, str, str]], limit: int) -> list[dict]:
    """Index `files` ((file id, path, name), in order) into a new shard database `target`,
    written as a temp file and renamed when whole; runs on a Dask worker."""
    target = Path(target)
    tmp = target.parent / f"{_TMP}{os.getpid()}-{os.urandom(4).hex()}"
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        with _sqlite_errors(target):
            _start_new(conn, "shard", limit)
            recs, first = [], 1
            for file_id, p, name in files:
                rec = _index_file(conn, file_id, p, name, first, limit, lambda n: None)
                first = rec["hi"] + 1
                recs.append(rec)
            conn.execute("COMMIT")
            conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        conn.close()
        _seal(tmp)
        os.rename(tmp, target)
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return recs


def _remove_unused_shards(conn, path: Path) -> None:
    """Remove the shards no file of the index points to (after a build committed, inside a
    write transaction, so that no other build is writing a shard meanwhile)."""
    used = {Path(s).name for (s,) in conn.execute("SELECT DISTINCT shard FROM files WHERE shard IS NOT NULL")}
    for p in _shards_of(path):
        if p.name not in used:
            with contextlib.suppress(OSError):
                p.unlink()
    with contextlib.suppress(OSError):
        _shard_dir(path).rmdir()  # when empty
