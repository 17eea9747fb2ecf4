"""Static word vectors: the embedded default, and the user's files read by gensim.

The only module that imports gensim, and only inside the functions that need it: its import
costs over a second. A user file is read by gensim once and kept in the cache (cache.py) as
plain memory-mapped arrays; later loads, and the embedded default, never import gensim.

Formats (--vectors-format, "auto" detects by content):
    word2vec      text with a "count dim" header line   KeyedVectors.load_word2vec_format
    word2vec-bin  binary with the same header           ... binary=True
    glove         text without header                   ... no_header=True
    fasttext      Facebook's .bin                       load_facebook_vectors (subword n-grams)
    kv            gensim's KeyedVectors.save (a pickle) KeyedVectors.load, only with trust
Text formats may be .gz or .bz2 compressed.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import cache, report
from .errors import DataError, os_error, os_reason, shown_path

FORMATS = ("auto", "word2vec", "word2vec-bin", "glove", "fasttext", "kv")
UNICODE_ERRORS = ("strict", "replace", "ignore")
FORMAT_LABELS = {
    "word2vec": "word2vec text",
    "word2vec-bin": "word2vec binary",
    "glove": "GloVe text (no header)",
    "fasttext": "fastText .bin",
    "kv": "gensim .kv/.model (pickle)",
    "embedded": "embedded (float16 .npy)",
}
_PICKLED = {"kv"}  # formats that unpickle, and so may run code from the file
_FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")

DEFAULT_NAME = "glove-6b-50d-100k"
_DEFAULT_VECTORS = "glove.6B.50d.100k.f16.npy"
_DEFAULT_VOCAB = "glove.6B.50d.100k.vocab.txt"


def data_dir() -> Path:
    """The embedded data: attncli/data in an installed wheel, ./data in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "data", here.parent / "data"):
        if (candidate / _DEFAULT_VOCAB).exists():
            return candidate
    raise DataError(f"the embedded default vectors are missing (looked in {here / 'data'}); reinstall attncli")


@dataclass
class Vectors:
    """A vocabulary and its (vocab_size, dim) matrix, in frequency order when the source is.

    `matrix` may be a read-only float16 memory map; `rows()` returns float32 copies.
    """

    name: str
    words: Sequence[str]  # a list, or the cache's Vocabulary (a list split from the file on first need)
    matrix: np.ndarray
    format: str = "embedded"
    path: str | None = None
    counts: np.ndarray | None = None  # occurrence counts, when the source carries them
    _index: dict[str, int] | None = field(default=None, repr=False)
    _unit: dict = field(default_factory=dict, repr=False)  # center -> unit matrix
    _means: dict = field(default_factory=dict, repr=False)  # k -> mean of the first k rows
    ngrams: np.ndarray | None = field(default=None, repr=False)  # fastText: (bucket, dim) n-gram vectors
    ngram_range: tuple[int, int] = (0, 0)  # fastText: min_n, max_n
    meta: dict = field(default_factory=dict, repr=False)  # source and cache details (see details())
    _scan_budget: int | None = field(default=None, init=False, repr=False)  # see lookup()
    _cased: bool | None = field(default=None, init=False, repr=False)  # see cased
    _letters: np.ndarray | None = field(default=None, init=False, repr=False)  # see has_letter

    def __repr__(self) -> str:
        """One line: the dataclass default would print every word of the vocabulary."""
        source = self.path or self.format
        return f"Vectors(name={self.name!r}, vocab_size={self.vocab_size}, dim={self.dim}, source={source!r})"

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:  # the first row of a repeated word, as list.index finds it
            self._index = dict(zip(reversed(self.words), range(len(self.words) - 1, -1, -1)))
        return self._index

    def __contains__(self, word: str) -> bool:
        return self.lookup(word) is not None

    def lookup(self, word: str) -> int | None:
        """The row of `word`, None when it is not in the vocabulary. Until `index` is built, a
        look-up scans the word list, or the text of a cached vocabulary (C speed; frequent words
        come first): embedding one short sentence then never builds the full index (~25 ms per
        100k words, a tenth of the CLI's start-up) nor the list (cache.Vocabulary). Once about half a vocabulary's worth of scanning is spent, the index is built."""
        if self._index is None:
            if self._scan_budget is None:
                self._scan_budget = len(self.words) // 2 + 1000
            if self._scan_budget > 0:
                try:
                    row = self.words.index(word)
                except ValueError:
                    self._scan_budget -= len(self.words)
                    return None
                self._scan_budget -= row + 1
                return row
        return self.index.get(word)

    @property
    def cased(self) -> bool:
        """Whether the vocabulary tells case apart ("Bank" beside "bank"): 1% or more of its
        CASE_SAMPLE first (most frequent) words hold an uppercase letter. GloVe 6B: none;
        word2vec GoogleNews and fastText cc.en: about a third."""
        if self._cased is None:
            words = self.words.head(CASE_SAMPLE) if hasattr(self.words, "head") else self.words[:CASE_SAMPLE]
            upper = sum(1 for w in words if w != w.lower())
            self._cased = upper >= max(1, len(words) // 100)
        return self._cased

    def has_letter(self) -> np.ndarray:
        """(vocab_size,) bool: does each word hold a letter (not punctuation, not a number)."""
        if self._letters is None:  # a search per word for any letter the vocabulary holds: no Python step per character
            words = self.words
            letters = sorted(ch for ch in set("".join(words)) if ch.isalpha())
            found = re.compile("[" + "".join(map(re.escape, letters)) + "]").search if letters else lambda w: None
            self._letters = np.fromiter(map(bool, map(found, words)), bool, self.vocab_size)
        return self._letters

    def rows(self, ids) -> np.ndarray:
        """float32 copy of the given rows, (len(ids), dim)."""
        return np.asarray(self.matrix[np.asarray(ids, dtype=np.int64)], dtype=np.float32)

    def mean(self, k: int) -> np.ndarray:
        """(dim,) mean of the k first (most frequent) vectors: the common direction that
        centering removes ("all-but-the-top", Mu and Viswanath 2018)."""
        k = min(k, self.vocab_size)
        if k not in self._means:
            self._means[k] = np.asarray(self.matrix[:k], dtype=np.float32).mean(axis=0)
        return self._means[k]

    def unit(self, center: int = 0) -> np.ndarray:
        """(vocab_size, dim) float32 rows, minus mean(center) when center > 0, scaled to
        length 1 (zero rows stay zero): cosines against the vocabulary are one matmul."""
        if center not in self._unit:
            m = np.asarray(self.matrix, dtype=np.float32)
            if center:
                m = m - self.mean(center)
            self._unit[center] = unit_rows(m)
        return self._unit[center]

    def nearest(
        self, queries: np.ndarray, k: int = 10, exclude: list[set[str]] | None = None, center: int = 0
    ) -> list[list[tuple[str, float]]]:
        """The k vocabulary words of highest cosine to each query vector (m, dim), best first.
        `exclude[i]` names words to leave out of query i's list (e.g. the word itself).
        With center > 0, queries are taken as already centered and the vocabulary is centered
        the same way."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))  # (m, d)
        out = []
        for b in range(0, q.shape[0], NEAREST_BLOCK):  # (V, block) at a time: memory bounded by the block
            sims = self.unit(center) @ unit_rows(q[b:b + NEAREST_BLOCK]).T  # (V, block)
            for c in range(sims.shape[1]):
                skip = exclude[b + c] if exclude else set()
                take = min(k + len(skip), self.vocab_size)
                top = np.argpartition(-sims[:, c], take - 1)[:take]
                top = top[np.argsort(-sims[top, c], kind="stable")]
                out.append([(self.words[j], float(sims[j, c])) for j in top if self.words[j] not in skip][:k])
        return out

    def info(self) -> dict:
        return {"name": self.name, "dim": self.dim, "vocab_size": self.vocab_size}

    @property
    def subwords(self) -> bool:
        """True for fastText sources: any word gets a vector from its character n-grams."""
        return self.ngrams is not None and self.ngrams.shape[0] > 0

    def oov_vector(self, word: str) -> np.ndarray | None:
        """fastText's vector of a word that is not in the vocabulary: the mean of its character
        n-gram vectors, computed as gensim's FastTextKeyedVectors.get_vector does (same hash,
        same float32 sums), from the cached arrays. None without subwords or without n-grams."""
        if not self.subwords:
            return None
        hashes = ngram_hashes(word, *self.ngram_range, self.ngrams.shape[0])
        if not hashes:
            return None
        v = np.zeros(self.dim, dtype=np.float32)
        for h in hashes:
            v += self.ngrams[h]
        return v / np.float32(len(hashes))

    def details(self) -> dict:
        """Everything `attncli vectors info` shows."""
        return {**self.info(), "format": self.format, "path": self.path, "subwords": self.subwords,
                "counts": self.counts is not None, **self.meta}


CASE_SAMPLE = 10_000  # words looked at by Vectors.cased
NEAREST_BLOCK = 64  # queries of Vectors.nearest scored at once


def unit_rows(m: np.ndarray) -> np.ndarray:
    """(n, d) rows scaled to length 1, zero rows left zero. Each row is first divided by its
    largest absolute value, so that squaring cannot overflow float32 (rows of 1e30 are valid
    vectors; a plain norm would be inf and every cosine 0)."""
    m = np.asarray(m, dtype=np.float32)
    peak = np.abs(m).max(axis=1, keepdims=True) if m.size else np.zeros((len(m), 1), np.float32)  # (n, 1)
    m = m / np.where(peak == 0, 1, peak)  # (n, d), entries in [-1, 1]
    norm = np.linalg.norm(m, axis=1, keepdims=True)  # (n, 1)
    return m / np.where(norm == 0, 1, norm)


def ngram_hashes(word: str, min_n: int, max_n: int, buckets: int) -> list[int]:
    """fastText's n-gram bucket ids of `word`: the n-grams of "<word>" counted in characters
    but cut on UTF-8 bytes (Facebook's computeSubwords), hashed with its FNV-1a variant (bytes
    sign-extended as int8), modulo the bucket count. Matches gensim's ft_ngram_hashes."""
    b = f"<{word}>".encode("utf-8")
    out = []
    for i in range(len(b)):
        if b[i] & 0xC0 == 0x80:  # continuation byte: not the start of a character
            continue
        j, n = i, 1
        while j < len(b) and n <= max_n:
            j += 1
            while j < len(b) and b[j] & 0xC0 == 0x80:
                j += 1
            if n >= min_n and not (n == 1 and (i == 0 or j == len(b))):
                h = 2166136261
                for byte in b[i:j]:
                    h = ((h ^ (byte | 0xFFFFFF00 if byte & 0x80 else byte)) * 16777619) & 0xFFFFFFFF
                out.append(h % buckets)
            n += 1
    return out


def load_default(limit: int | None = None) -> Vectors:
    """The embedded GloVe 6B 50d, 100,000 most frequent words, float16, memory-mapped: the same
    fast path as a cached user file (np.load with mmap_mode="r", a vocabulary split on "\n")."""
    root = data_dir()
    matrix = np.load(root / _DEFAULT_VECTORS, mmap_mode="r", allow_pickle=False)
    words = cache.read_vocab(root / _DEFAULT_VOCAB, check_utf8=False)  # UTF-8 as built (scripts/build_default_vectors.py)
    if len(words) != matrix.shape[0]:
        raise DataError(f"embedded vectors are damaged: {len(words)} words for {matrix.shape[0]} rows; reinstall attncli")
    if limit is not None:
        words, matrix = words[:limit], matrix[:limit]
    return Vectors(DEFAULT_NAME, words, matrix, format="embedded", path=str(root / _DEFAULT_VECTORS),
                   meta={"limit": limit})


def provenance() -> dict:
    return json.loads((data_dir() / "PROVENANCE.json").read_text(encoding="utf-8"))


def load_vectors(
    source: str | os.PathLike | None = None,
    format: str = "auto",
    limit: int | None = None,
    unicode_errors: str = "strict",
    trust: bool = False,
) -> Vectors:
    """`default` (or None) for the embedded GloVe, else a path to a vector file in any format
    gensim reads (see the module docstring). `limit` keeps the first (most frequent) N words;
    `unicode_errors` is gensim's, for words that are not valid UTF-8; `trust` allows unpickling."""
    if format not in FORMATS:
        raise DataError(f"unknown vector format {format!r} (one of {', '.join(FORMATS)})")
    if source is None or str(source) == "default":
        return load_default(limit)
    return load_file(Path(source), format, limit, unicode_errors, trust)


def load_file(
    path: Path, format: str = "auto", limit: int | None = None, unicode_errors: str = "strict", trust: bool = False
) -> Vectors:
    """A user vector file: from the cache when it holds this file as it is now, else read by
    gensim once, checked, and stored in the cache."""
    st = _check_file(path)
    if format == "auto":
        format, why = detect_format(path)
    else:
        why = "as asked (--vectors-format)"
    source = str(path.resolve())
    options = {"format": format, "limit": limit}
    if format not in ("fasttext", "kv"):  # gensim's unicode_errors only applies to word2vec/GloVe files
        options["unicode_errors"] = unicode_errors
    key = cache.source_key(Path(source), st, options)
    entry = cache.find(key)
    if entry is not None:
        try:
            return _from_entry(path, entry)
        except (OSError, ValueError) as e:  # damaged (a cut vectors.npy, a vocab.txt not UTF-8) or gone
            report.note(f"warning: the cache entry {entry.dir} is damaged ({_gensim_message(e)}); discarding it and converting again")
            cache.discard(entry.dir)
    if format in _PICKLED and not trust:
        raise DataError(
            f"{path}: is a gensim .kv/.model file, a Python pickle ({why}), and unpickling runs any code the "
            "file holds; load it only if you trust its origin, with --trust or ATTNCLI_TRUST=1"
        )
    report.note(f"reading {path} as {FORMAT_LABELS[format]} ({why}); converting it once into the cache")
    import time

    t0 = time.perf_counter()
    def changed() -> bool:
        try:
            now = path.stat()
        except OSError:
            return True
        return (st.st_size, st.st_mtime_ns) != (now.st_size, now.st_mtime_ns)

    try:
        loaded = _read_with_gensim(path, format, limit, unicode_errors)
    except DataError:
        if changed():  # a file being written says nothing about itself: blame the change
            raise DataError(f"{path}: changed while it was being read; try again when it is complete") from None
        raise
    if changed():
        raise DataError(f"{path}: changed while it was being read; try again when it is complete")
    _check_finite(path, loaded)
    meta = {
        "source": source, "name": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "format": format, "detected": why, "limit": limit, "unicode_errors": options.get("unicode_errors"),
        "counts": loaded["counts"] is not None, "header_count": loaded.get("header_count"),
        "ngram_range": loaded.get("ngram_range"), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    arrays = {k: loaded[k] for k in ("counts", "ngrams") if loaded.get(k) is not None}
    try:
        entry = cache.store(key, loaded["words"], loaded["matrix"], arrays, meta)
    except OSError as e:  # read-only or full disk: still usable, just not cached
        report.note(f"warning: cannot write the cache in {shown_path(cache.vectors_root())} (from {cache.origin()}): "
                    f"{os_reason(e)}; using the vectors without caching them")
        return Vectors(
            path.name, loaded["words"], np.asarray(loaded["matrix"], dtype=np.float32), format=format, path=str(path),
            counts=arrays.get("counts"), ngrams=arrays.get("ngrams"), ngram_range=tuple(meta["ngram_range"] or (0, 0)),
            meta={k: meta[k] for k in ("source", "detected", "limit", "unicode_errors", "header_count")},
        )
    cache.prune_stale(source, st.st_size, st.st_mtime_ns)
    report.note(
        f"cached {len(loaded['words']):,} words x {loaded['matrix'].shape[1]} in {entry.dir} "
        f"({time.perf_counter() - t0:.1f} s); later runs load it directly"
    )
    return _from_entry(path, entry)


def _from_entry(path: Path, entry: cache.Entry) -> Vectors:
    words, matrix, extra = cache.read(entry)
    m = entry.meta
    return Vectors(
        path.name, words, matrix, format=m["format"], path=str(path), counts=extra.get("counts"),
        ngrams=extra.get("ngrams"), ngram_range=tuple(m.get("ngram_range") or (0, 0)),
        meta={k: m.get(k) for k in ("source", "detected", "limit", "unicode_errors", "header_count", "created")}
        | {"cache": str(entry.dir), "cache_bytes": entry.size_bytes, "source_bytes": m.get("size")},
    )


def _check_file(path: Path) -> os.stat_result:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise os_error(e, path) from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a directory, not a vector file")
    if not stat.S_ISREG(st.st_mode):  # a device, a FIFO: read more than once, and cached by size and time
        raise DataError(f"{path}: not a regular file; give the vector file itself")
    if st.st_size == 0:
        raise DataError(f"{path}: is empty")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: cannot read (permission denied)")
    return st


_COMPRESSED = {b"\x1f\x8b": ".gz", b"BZh": ".bz2"}
_COMPRESSION = {".gz": "gzip", ".bz2": "bzip2"}


def _open_text(path: Path):
    """The file, decompressed as gensim would (by its name: .gz, .bz2)."""
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, "rb")
    if path.suffix == ".bz2":
        import bz2

        return bz2.open(path, "rb")
    return open(path, "rb")


def detect_format(path: Path) -> tuple[str, str]:
    """(format, why) from the first bytes: fastText's magic number, a pickle, a "count dim"
    header line followed by text or binary rows, or a text row of a word and numbers."""
    with open(path, "rb") as f:
        raw = f.read(4)
    compressed = next((ext for magic, ext in _COMPRESSED.items() if raw.startswith(magic)), None)
    if compressed != (path.suffix if path.suffix in (".gz", ".bz2") else None):
        if compressed:
            raise DataError(f"{path}: is {_COMPRESSION[compressed]}-compressed but not named {compressed}; rename it")
        raise DataError(f"{path}: is named {path.suffix} but is not {_COMPRESSION[path.suffix]}-compressed")
    if raw == _FASTTEXT_MAGIC:
        return "fasttext", "detected: fastText magic number"
    if raw[:1] == b"\x80":
        return "kv", "detected: a Python pickle"
    import zlib

    try:
        with _open_text(path) as f:
            head = f.read(1 << 16)
    except (OSError, EOFError, zlib.error) as e:  # a bit flipped in a .gz: zlib.error
        raise DataError(f"{path}: cannot decompress ({_gensim_message(e)}): damaged or truncated") from None
    if not head.strip():
        raise DataError(f"{path}: holds no vectors")
    first, _, rest = head.partition(b"\n")
    parts = first.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        row = rest.split(b"\n", 1)[0].split()
        text_row = len(row) >= 2 and _numbers(row[1:])  # binary rows are not a word and numbers
        header = f"header line {first.decode().strip()!r}"
        return ("word2vec", f"detected: {header}, text rows") if text_row else (
            "word2vec-bin", f"detected: {header}, binary rows")
    if len(parts) >= 2 and _numbers(parts[1:]):
        return "glove", f"detected: no header, rows of a word and {len(parts) - 1} numbers"
    raise DataError(f"{path}: cannot tell its format from its first bytes; name it with --vectors-format")


def _numbers(parts: list[bytes]) -> bool:
    try:
        [float(p) for p in parts]
    except ValueError:
        return False
    return True


def _read_with_gensim(path: Path, format: str, limit: int | None, unicode_errors: str) -> dict:
    """Read with gensim's own loader; every failure becomes one DataError naming the file."""
    try:
        if format in ("word2vec", "word2vec-bin", "glove"):
            return _read_word2vec(path, format, limit, unicode_errors)
        if format == "fasttext":
            return _read_fasttext(path, limit)
        return _read_kv(path, limit)
    except DataError:
        raise
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}: a word is not valid UTF-8 ({e.reason} at byte {e.start}: {e.object[max(0, e.start - 10):e.end + 10]!r}); "
            "--unicode-errors replace (or ignore) reads it anyway"
        ) from None
    except EOFError:
        raise DataError(f"{path}: ends early: truncated, or its header counts more words than it holds") from None
    except MemoryError:
        raise DataError(f"{path}: does not fit in memory while converting; try --limit N") from None
    except Exception as e:
        import zlib

        if isinstance(e, zlib.error) or "CRC check failed" in str(e) or "Invalid data stream" in str(e):
            raise DataError(f"{path}: cannot decompress ({_gensim_message(e)}): damaged or truncated") from None
        return _unreadable(path, format, e)


def _unreadable(path: Path, format: str, e: Exception):
    """gensim's loaders raise ValueError, struct.error, pickle errors, ...: one DataError."""
    try:
        ragged = _ragged_row(path, format) if format in ("word2vec", "glove") else None
    except Exception:  # the file cannot even be read line by line: report gensim's error
        ragged = None
    if ragged:
        raise DataError(f"{path}: {ragged}") from None
    damaged = " (truncated or damaged?)" if format in ("fasttext", "kv") else ""
    raise DataError(f"{path}: cannot read as {FORMAT_LABELS[format]}{damaged}: {_gensim_message(e)}") from None


def _ragged_row(path: Path, format: str) -> str | None:
    """After gensim failed on a text file: the first row whose length differs, described."""
    with _open_text(path) as f:
        first = f.readline()
        if format == "word2vec":
            want, what, line_no = int(first.split()[1]), "the header line says", 1
        else:
            want, what, line_no = len(first.split()) - 1, "the first row has", 1
            f.seek(0)
            line_no = 0
        for line in f:
            line_no += 1
            parts = line.rstrip().split(b" ")
            if line.strip() and len(parts) - 1 != want:
                word = parts[0].decode("utf-8", "replace")
                return f"rows of different lengths: line {line_no} ({word!r}) has {len(parts) - 1} numbers, {what} {want}"
    return None


def _gensim_message(e: Exception) -> str:
    """gensim's exception as one line of at most 200 characters (it may quote a whole row)."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _read_word2vec(path: Path, format: str, limit: int | None, unicode_errors: str) -> dict:
    from gensim.models import KeyedVectors  # slow import: only here

    header_count = None
    if format != "glove":
        with _open_text(path) as f:
            first = f.readline().split()
        if len(first) != 2 or not all(p.isdigit() for p in first):
            raise DataError(f"{path}: no 'count dim' header line, as {FORMAT_LABELS[format]} needs (GloVe text? --vectors-format glove)")
        header_count = int(first[0])
        if header_count == 0 or int(first[1]) == 0:
            raise DataError(f"{path}: its header line counts {header_count} words of {int(first[1])} dimensions: no vectors")
    total = min(x for x in (header_count, limit) if x is not None) if (header_count or limit) else None

    with report.progress(f"reading {path.name}", total) as update:

        rows_seen = [0]
        repeated: list[tuple[str, int]] = []

        class _Counting(KeyedVectors):  # gensim adds rows one by one: count them for the progress bar
            def add_vector(self, key, vector):
                i = super().add_vector(key, vector)
                if i % 8192 == 0:
                    update(i)
                return i

            def has_index_for(self, key):  # gensim asks once per row read, before adding it
                rows_seen[0] += 1
                found = super().has_index_for(key)
                if found:
                    repeated.append((key, rows_seen[0]))
                return found

        kv = _Counting.load_word2vec_format(
            str(path), binary=format == "word2vec-bin", no_header=format == "glove",
            limit=limit, unicode_errors=unicode_errors,
        )
        update(len(kv))
    if repeated:  # gensim keeps the first and leaves an empty (None) slot at the end for each repeat
        n = len(kv) - len(repeated)
        kv.index_to_key = kv.index_to_key[:n]
        kv.vectors = kv.vectors[:n]
        where = "line" if format != "word2vec-bin" else "row"
        offset = 1 if format == "word2vec" else 0  # the header line
        shown = ", ".join(f"{w!r} ({where} {r + offset:,})" for w, r in repeated[:5])
        more = f" and {len(repeated) - 5:,} more" if len(repeated) > 5 else ""
        report.note(f"warning: {path}: repeated word{'s' if len(repeated) > 1 else ''} {shown}{more}: "
                    "keeping each word's first vector")
    if len(kv) == 0:
        raise DataError(f"{path}: holds no vectors")
    if header_count is not None and (limit is None or limit >= header_count) and unicode_errors != "ignore":
        _check_no_extra_rows(path, format, header_count, len(kv), kv)
    return {"words": list(kv.index_to_key), "matrix": kv.vectors, "counts": None, "header_count": header_count}


def _check_no_extra_rows(path: Path, format: str, header_count: int, n_read: int, kv) -> None:
    """gensim stops after the header's count of rows; more rows than that is a wrong header.
    Text: count the lines. Binary: the size the rows read should take (word bytes, a space,
    dim float32 values, at most one "\n" each) against the size of the file."""
    if n_read < header_count:  # gensim dropped repeated words (and warned): sizes no longer add up
        return
    with _open_text(path) as f:
        if format == "word2vec":
            lines = 0
            last = b"\n"
            while chunk := f.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
            lines += last != b"\n"
            if lines <= header_count + 1:
                return
            f.seek(0)
            lines = sum(1 for line in f if line.strip())  # careful count, ignoring blank lines
            if lines <= header_count + 1:
                return
            extra = lines - 1 - header_count
        else:
            size = 0
            while chunk := f.read(1 << 20):
                size += len(chunk)
            first = len(f"{header_count} {kv.vector_size}\n".encode())
            record = sum(len(w.encode("utf-8", "replace")) for w in kv.index_to_key) + n_read * (1 + 4 * kv.vector_size)
            if size <= first + record + n_read + 16:  # word2vec.c ends each row with "\n": allowed
                return
            extra = None
    more = f"{extra:,} more row{'s' if extra > 1 else ''}" if extra else "more data"
    raise DataError(f"{path}: its header line counts {header_count:,} words but the file holds {more} after them")


def check_fasttext_layout(path: Path) -> None:
    """Walk a fastText .bin's structure and check its size before gensim reads it: gensim loops
    forever on a file cut inside the vocabulary, and never reads the output matrix at the end
    (so a file cut there passes). Layout (Facebook's FastText::saveModel, native byte order):

        magic int32, version int32, args: 12 int32 (dim ... bucket, minn, maxn ...) + float64 t
        dictionary: size int32, nwords int32, nlabels int32, ntokens int64, pruneidx_size int64,
                    size x (word bytes, b"\0", count int64, type int8), pruneidx_size x 2 int32
        input matrix: quant bool, rows int64 (= nwords + bucket), cols int64 (= dim), float32s
        output matrix: quant bool, rows int64, cols int64 (= dim), float32s; then the end.
    """
    import mmap
    import struct

    where = f"{path}: a fastText .bin"
    if path.suffix in (".gz", ".bz2"):
        raise DataError(f"{path}: fastText .bin files are read uncompressed; decompress it first")
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        size = len(m)

        def take(fmt: str, at: int, what: str) -> tuple:
            n = struct.calcsize(fmt)
            if at + n > size:
                raise DataError(f"{where} that ends early, inside {what} (byte {size:,}): truncated or damaged")
            return struct.unpack_from(fmt, m, at)

        magic, version = take("@2i", 0, "the header")
        if magic != 793712314:
            raise DataError(f"{path}: not a fastText .bin (magic number {magic})")
        args = take("@12id", 8, "the header")
        dim, bucket = args[0], args[8]
        at = 8 + struct.calcsize("@12id")
        vocab_size, nwords, nlabels = take("@3i", at, "the dictionary header")
        _ntokens, prune = take("@2q", at + 12, "the dictionary header")  # gensim reads them apart: no padding
        at += 12 + 16
        if not (0 < dim <= 1 << 16 and 0 <= nwords <= vocab_size and bucket >= 0 and nlabels >= 0):
            raise DataError(f"{where} with a damaged header (dim {dim}, {nwords} words of {vocab_size}, "
                            f"{bucket} buckets): truncated or damaged")
        if nlabels:
            raise DataError(f"{path}: a supervised fastText model (with labels): not word vectors")
        for i in range(vocab_size):
            end = m.find(b"\0", at)
            if end < 0:
                raise DataError(f"{where} that ends early, inside word {i + 1:,} of {vocab_size:,}: truncated or damaged")
            at = end + 1 + struct.calcsize("@qb")
        at += 8 * max(prune, 0)
        for what, rows_want in (("input matrix", nwords + bucket), ("output matrix", None)):
            (quant,) = take("@?", at, f"the {what} header")
            rows, cols = take("@2q", at + 1, f"the {what} header")
            at += 1 + 16
            if quant:
                raise DataError(f"{path}: a quantized fastText model (.ftz): not supported, use the .bin")
            if cols != dim or rows < 0 or (rows_want is not None and rows != rows_want):
                raise DataError(f"{where} whose {what} is {rows} x {cols}, the header says "
                                f"{rows_want if rows_want is not None else '?'} x {dim}: truncated or damaged")
            at += 4 * rows * cols
            if at > size:
                raise DataError(f"{where} that ends early, inside the {what} ({size:,} bytes of {at:,}): truncated or damaged")
        if at != size:
            raise DataError(f"{where} of {size:,} bytes, {size - at:,} more than its header accounts for: damaged")


def _read_fasttext(path: Path, limit: int | None) -> dict:
    from gensim.models.fasttext import load_facebook_vectors  # slow import: only here

    check_fasttext_layout(path)
    with report.progress(f"reading {path.name}", None):
        kv = load_facebook_vectors(str(path))
    return _from_gensim_kv(path, kv, limit, counts=kv.expandos.get("count"))


def _read_kv(path: Path, limit: int | None) -> dict:
    from gensim.models import KeyedVectors  # slow import: only here

    with report.progress(f"reading {path.name}", None):
        obj = KeyedVectors.load(str(path), mmap="r")
    kv = getattr(obj, "wv", obj)  # a whole Word2Vec/FastText .model holds its vectors in .wv
    if not isinstance(kv, KeyedVectors):
        raise DataError(f"{path}: holds a {type(obj).__name__}, not gensim KeyedVectors")
    return _from_gensim_kv(path, kv, limit, counts=None)  # counts of a .kv may be gensim's made-up ones


def _from_gensim_kv(path: Path, kv, limit: int | None, counts) -> dict:
    from gensim.models.fasttext import FastTextKeyedVectors

    n = len(kv) if limit is None else min(limit, len(kv))
    if n == 0:
        raise DataError(f"{path}: holds no vectors")
    out = {"words": list(kv.index_to_key[:n]), "matrix": kv.vectors[:n], "counts": None}
    if counts is not None and np.asarray(counts).shape == (len(kv),):
        out["counts"] = np.asarray(counts[:n], dtype=np.int64)
    if isinstance(kv, FastTextKeyedVectors) and kv.bucket:
        out["ngrams"] = kv.vectors_ngrams
        out["ngram_range"] = [int(kv.min_n), int(kv.max_n)]
    return out


def _check_finite(path: Path, loaded: dict) -> None:
    """Reject NaN and infinite values, naming the first word (or n-gram bucket) that has one."""
    m = loaded["matrix"]
    for start in range(0, m.shape[0], 65536):
        bad = np.flatnonzero(~np.isfinite(np.asarray(m[start:start + 65536])).all(axis=1))
        if bad.size:
            row = start + int(bad[0])
            raise DataError(f"{path}: the vector of {loaded['words'][row]!r} (row {row + 1}) holds NaN or infinite values")
    ngrams = loaded.get("ngrams")
    if ngrams is not None and not np.isfinite(ngrams).all():
        raise DataError(f"{path}: its subword n-gram vectors hold NaN or infinite values")


def cache_dir():
    """Where converted vector files are kept (ATTNCLI_CACHE_DIR, else the XDG cache dir)."""
    return cache.vectors_root()


def cache_entries() -> list[dict]:
    """One dict per cached source: its path, format, shape, options, size on disk, and whether
    the source file is still there as it was (else the entry is stale)."""
    out = []
    for e in cache.entries():
        m = e.meta
        try:
            st = os.stat(m["source"])
            state = "current" if (st.st_size, st.st_mtime_ns) == (m.get("size"), m.get("mtime_ns")) else "stale"
        except (OSError, KeyError, TypeError):
            state = "missing"
        out.append({
            "source": m.get("source"), "format": m.get("format"), "vocab_size": m["vocab_size"], "dim": m["dim"],
            "limit": m.get("limit"), "subwords": bool(m.get("ngram_range")), "cache": str(e.dir),
            "cache_bytes": e.size_bytes, "source_bytes": m.get("size"), "created": m.get("created"), "state": state,
        })
    return out


def clear_cache() -> tuple[int, int]:
    """Remove every cached source; (how many, bytes freed)."""
    return cache.clear()
