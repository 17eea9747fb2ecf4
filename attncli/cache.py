"""The vector cache: each user vector file, once read by gensim, kept as plain arrays that load
in milliseconds with a memory map, without parsing text and without importing gensim.

Layout, one directory per source (name: file stem + a hash of its key):

    <cache root>/vectors/<stem>-<hash>/
        vectors.npy    float32 (vocab_size, dim), np.save; loaded with mmap_mode="r"
        ngrams.npy     fastText only: float32 (bucket, dim) subword n-gram vectors
        counts.npy     int64 (vocab_size,), only when the source carries real counts
        vocab.txt      UTF-8, one word per line ("\n"-separated, no newline translation);
                       a word holding "\n" is stored in meta.json instead ("multiline_words")
        meta.json      written LAST: source path, size, mtime_ns, format, options, shape, ...

The key is the source's resolved path, size and mtime_ns plus the reading options (format,
limit, unicode errors): a changed file gets a new key, and the older entries of the same path
are removed when the new one is stored.

Atomicity: an entry is built in a temp directory `.tmp-<pid>-<random>` under the root, and
renamed into place in one os.rename. A reader only ever sees a whole entry or none; an entry
without a valid meta.json is ignored. Two processes converting the same file both build; the
first rename wins and the second discards its copy and uses the winner's. A temp directory
left by a killed process is removed by the next conversion (its pid is gone) or clear-cache.
Everything is written and read with allow_pickle=False.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, os_error

CACHE_VERSION = 1
_VECTORS = "vectors"
_TMP = ".tmp-"
_TRASH = ".trash-"


def cache_root() -> Path:
    """ATTNCLI_CACHE_DIR, else $XDG_CACHE_HOME/attncli, else ~/.cache/attncli."""
    return _root_and_origin()[0]


def _root_and_origin() -> tuple[Path, str]:
    """The cache root and the variable it comes from."""
    explicit = os.environ.get("ATTNCLI_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser(), "ATTNCLI_CACHE_DIR"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(os.path.expanduser(xdg)):
        return Path(xdg).expanduser() / "attncli", "XDG_CACHE_HOME"
    return Path.home() / ".cache" / "attncli", "HOME"


def origin() -> str:
    """The environment variable the cache's place comes from: ATTNCLI_CACHE_DIR, XDG_CACHE_HOME or HOME."""
    return _root_and_origin()[1]


def _root_is_dir(root: Path) -> bool:
    """Whether the cache directory exists. None there (or a file, a link loop in the way) is an
    empty cache; a path that cannot even be looked at (a name too long, no permission) is one
    error naming the variable it comes from."""
    try:
        return stat.S_ISDIR(os.stat(root).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as e:
        if e.errno == errno.ELOOP:
            return False
        raise os_error(e, root, f"use the vector cache (from {origin()})") from None


def _make_root(root: Path) -> None:
    """Create the cache directory, and its parents, except a home directory that does not
    exist (HOME=/nonexistent): that is an OSError, and the vectors are used without caching."""
    if origin() == "HOME" and not os.path.isdir(os.path.expanduser("~")):
        raise OSError(errno.ENOENT, "the home directory does not exist", os.path.expanduser("~"))
    root.mkdir(parents=True, exist_ok=True)


def vectors_root() -> Path:
    return cache_root() / _VECTORS


def source_key(path: Path, st: os.stat_result, options: dict) -> str:
    """Directory name for a source file and reading options: readable stem + 20 hex digits."""
    import hashlib

    ident = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "version": CACHE_VERSION, **options}
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode("utf-8")).hexdigest()[:20]
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in path.name)[:40].lstrip(".") or "vectors"
    return f"{stem}-{digest}"


@dataclass
class Entry:
    """One complete cache entry."""

    dir: Path
    meta: dict

    @property
    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.dir.iterdir() if f.is_file())


def _read_meta(d: Path) -> dict | None:
    try:
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = (
        isinstance(meta, dict)
        and meta.get("cache_version") == CACHE_VERSION
        and isinstance(meta.get("vocab_size"), int)
        and isinstance(meta.get("dim"), int)
    )
    return meta if ok else None


def find(key: str) -> Entry | None:
    """The entry for `key` if it is complete (has a valid meta.json), else None."""
    d = vectors_root() / key
    meta = _read_meta(d)
    return Entry(d, meta) if meta is not None else None


def read(entry: Entry) -> tuple[Vocabulary, np.ndarray, dict[str, np.ndarray]]:
    """(words, memory-mapped float32 matrix, other arrays by name), checked against meta.json
    (shapes, float32, one word per row, UTF-8). Raises OSError/ValueError when the entry is
    damaged or went away: the caller discards it and converts again."""
    d, meta = entry.dir, entry.meta
    matrix = np.load(d / "vectors.npy", mmap_mode="r", allow_pickle=False)  # a cut file: ValueError
    if matrix.shape != (meta["vocab_size"], meta["dim"]) or matrix.dtype != np.float32:
        raise ValueError(f"vectors.npy is {matrix.dtype} {matrix.shape}, meta.json says float32 ({meta['vocab_size']}, {meta['dim']})")
    words = read_vocab(d / "vocab.txt", meta.get("multiline_words"))  # not UTF-8: UnicodeDecodeError
    if len(words) != meta["vocab_size"]:
        raise ValueError(f"vocab.txt holds {len(words)} words, meta.json says {meta['vocab_size']}")
    extra = {}
    for name in meta.get("arrays", []):
        extra[name] = np.load(d / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        if name == "counts" and extra[name].shape != (meta["vocab_size"],):
            raise ValueError(f"counts.npy has shape {extra[name].shape}, meta.json says ({meta['vocab_size']},)")
        if name == "ngrams" and (extra[name].ndim != 2 or extra[name].shape[1] != meta["dim"]):
            raise ValueError(f"ngrams.npy has shape {extra[name].shape}, not (buckets, {meta['dim']})")
    return words, matrix, extra


def read_vocab(path: Path, multiline: dict | None = None, *, check_utf8: bool = True) -> Vocabulary:
    """One word per "\n"-terminated line; no other character splits (not even "\r"). With
    `check_utf8`, a file that is not UTF-8 raises UnicodeDecodeError now rather than when the
    words are first listed."""
    vocab = Vocabulary(path.read_bytes(), multiline)
    if check_utf8:
        vocab.decode()
    return vocab


class Vocabulary(Sequence):
    """The words of a vocabulary file, one per "\n"-terminated line of UTF-8, kept as the file's
    bytes until something needs them one by one: decoding and splitting 100,000 words into a
    list costs ~10 ms and ~6 MB, most of the start-up of embedding one sentence, which looks up
    a few words.

    `index(word)` (the row of its first occurrence, as list.index), `in` and `len()` read the
    bytes (bytes.find for the word's line, then its row is the count of "\n" before it);
    anything else (an item, a slice, iteration) splits the text into a list once (tolist())
    and answers from it. Equal to a list of the same words.
    `multiline`: {row: word} for words holding "\n", whose line in the file is empty."""

    def __init__(self, data: bytes, multiline: dict | None = None):
        self._data = data if not data or data.endswith(b"\n") else data + b"\n"
        self._multiline = {int(row): word for row, word in (multiline or {}).items()}
        self._text: str | None = None
        self._list: list[str] | None = None
        self._len: int | None = None

    def decode(self) -> str:
        """The file's text, decoded once (UnicodeDecodeError when it is not UTF-8)."""
        if self._text is None:
            self._text = self._data.decode("utf-8")
        return self._text

    def tolist(self) -> list[str]:
        if self._list is None:
            words = self.decode().split("\n")
            words.pop()  # the empty string after the last "\n"
            for row, word in self._multiline.items():
                words[row] = word
            self._list = words
        return self._list

    def head(self, n: int) -> list[str]:
        """The first n words, decoded without splitting the whole file."""
        if self._list is not None:
            return self._list[:n]
        lines = self._data.split(b"\n", n)[:n]
        words = [b.decode("utf-8", "replace") for b in lines]
        return [self._multiline.get(i, w) for i, w in enumerate(words)] if self._multiline else words

    def index(self, word, *args) -> int:
        if self._list is not None or args or not isinstance(word, str) or not word or "\n" in word:
            return self.tolist().index(word, *args)
        try:
            line = word.encode("utf-8") + b"\n"
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 file holds it
            raise ValueError(f"{word!r} is not in the vocabulary") from None
        if self._data.startswith(line):
            return 0
        at = self._data.find(b"\n" + line)
        if at < 0:
            raise ValueError(f"{word!r} is not in the vocabulary")
        return self._data.count(b"\n", 0, at + 1)  # the lines before it

    def __contains__(self, word) -> bool:
        try:
            self.index(word)
        except ValueError:
            return False
        return True

    def __len__(self) -> int:
        if self._len is None:
            if self._list is not None:
                self._len = len(self._list)
            else:  # numpy counts the newlines 2-3x faster than bytes.count
                self._len = int(np.count_nonzero(np.frombuffer(self._data, dtype=np.uint8) == ord("\n")))
        return self._len

    def __getitem__(self, i):
        return self.tolist()[i]

    def __iter__(self):
        return iter(self.tolist())

    def __reversed__(self):
        return reversed(self.tolist())

    def __eq__(self, other) -> bool:
        if isinstance(other, Vocabulary):
            other = other.tolist()
        return self.tolist() == other if isinstance(other, list) else NotImplemented

    __hash__ = None  # like a list


def _vocab_bytes(words: list[str]) -> tuple[bytes, dict[str, str]]:
    multiline = {str(i): w for i, w in enumerate(words) if "\n" in w}
    if multiline:
        words = [("" if "\n" in w else w) for w in words]
    try:
        data = ("\n".join(words) + "\n").encode("utf-8") if words else b""
    except UnicodeEncodeError as e:
        raise DataError(f"a word cannot be stored as UTF-8 ({e.reason})") from None
    return data, multiline


def store(key: str, words: list[str], matrix: np.ndarray, arrays: dict[str, np.ndarray], meta: dict) -> Entry:
    """Write an entry atomically and return it (or the one another process stored first)."""
    import shutil
    import tempfile

    root = vectors_root()
    _make_root(root)
    prune_abandoned()
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP}{os.getpid()}-", dir=root))
    try:
        np.save(tmp / "vectors.npy", np.ascontiguousarray(matrix, dtype=np.float32), allow_pickle=False)
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
        vocab, multiline = _vocab_bytes(words)
        (tmp / "vocab.txt").write_bytes(vocab)
        meta = {
            **meta,
            "cache_version": CACHE_VERSION,
            "vocab_size": len(words),
            "dim": int(matrix.shape[1]),
            "arrays": sorted(arrays),
            "multiline_words": multiline,
        }
        _write_meta(tmp, meta)  # last: what makes the entry valid
        _fsync_dir(tmp)
        final = root / key
        try:
            os.rename(tmp, final)
        except OSError:
            if find(key) is None:  # a broken leftover in the way: set it aside and retry once
                discard(final)
                os.rename(tmp, final)
            else:  # another process stored the same entry first: use theirs
                shutil.rmtree(tmp, ignore_errors=True)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    entry = find(key)
    if entry is None:
        raise DataError(f"the cache entry {root / key} could not be written")
    return entry


def _write_meta(d: Path, meta: dict) -> None:
    with open(d / "meta.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def discard(d: Path) -> None:
    """Remove a directory by first renaming it out of the way (readers then never see half)."""
    import shutil
    import tempfile

    if not d.exists():
        return
    trash = Path(tempfile.mkdtemp(prefix=_TRASH, dir=d.parent))
    try:
        os.rename(d, trash / "x")
    except OSError:
        pass
    shutil.rmtree(trash, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (a pid reused by another process counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _converting(d: Path) -> bool:
    """A temp directory whose process is still writing it."""
    pid = d.name[len(_TMP):].split("-", 1)[0] if d.name.startswith(_TMP) else ""
    return pid.isdigit() and pid_alive(int(pid))


def prune_abandoned() -> int:
    """Remove temp and trash directories whose writing process has died. Returns how many."""
    import shutil

    root = vectors_root()
    removed = 0
    if not _root_is_dir(root):
        return 0
    for d in root.iterdir():
        if d.name.startswith(_TRASH):
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
        elif d.name.startswith(_TMP) and not _converting(d):
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed


def prune_stale(source: str, size: int, mtime_ns: int) -> int:
    """Remove the entries of `source` made from an earlier state of the file (other size or
    mtime): the file has changed, they can never be used again. Returns how many."""
    stale = [
        e for e in entries()
        if e.meta.get("source") == source and (e.meta.get("size"), e.meta.get("mtime_ns")) != (size, mtime_ns)
    ]
    for entry in stale:
        discard(entry.dir)
    return len(stale)


def entries() -> list[Entry]:
    """Every complete entry, sorted by source path."""
    root = vectors_root()
    if not _root_is_dir(root):
        return []
    out = []
    for d in root.iterdir():
        if d.is_dir() and not d.name.startswith("."):
            meta = _read_meta(d)
            if meta is not None:
                out.append(Entry(d, meta))
    return sorted(out, key=lambda e: (str(e.meta.get("source")), e.dir.name))


def clear() -> tuple[int, int]:
    """Remove every entry and leftover; returns (entries removed, bytes freed)."""
    root = vectors_root()
    if not _root_is_dir(root):
        return 0, 0
    count = freed = 0
    for d in list(root.iterdir()):
        if not d.is_dir() or _converting(d):
            continue
        if _read_meta(d) is not None:
            count += 1
        freed += sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
        discard(d)
    return count, freed
