"""Static word vectors: the embedded default, and the user's files read by gensim.

The only module that imports gensim, and only inside the functions that need it: its import
costs over a second, and the embedded default never needs it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError

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
    words: list[str]
    matrix: np.ndarray
    format: str = "embedded"
    path: str | None = None
    counts: np.ndarray | None = None  # occurrence counts, when the source carries them
    frequency_ordered: bool = True  # row order is frequency rank (GloVe, word2vec, fastText files)
    _index: dict[str, int] | None = field(default=None, repr=False)
    _unit: dict = field(default_factory=dict, repr=False)  # center -> unit matrix
    _means: dict = field(default_factory=dict, repr=False)  # k -> mean of the first k rows

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {w: i for i, w in enumerate(self.words)}
        return self._index

    def __contains__(self, word: str) -> bool:
        return word in self.index

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
            norm = np.linalg.norm(m, axis=1, keepdims=True)
            self._unit[center] = m / np.where(norm == 0, 1, norm)
        return self._unit[center]

    def nearest(
        self, queries: np.ndarray, k: int = 10, exclude: list[set[str]] | None = None, center: int = 0
    ) -> list[list[tuple[str, float]]]:
        """The k vocabulary words of highest cosine to each query vector (m, dim), best first.
        `exclude[i]` names words to leave out of query i's list (e.g. the word itself).
        With center > 0, queries are taken as already centered and the vocabulary is centered
        the same way."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))  # (m, d)
        norm = np.linalg.norm(q, axis=1, keepdims=True)
        sims = self.unit(center) @ (q / np.where(norm == 0, 1, norm)).T  # (V, m)
        out = []
        for i in range(q.shape[0]):
            skip = exclude[i] if exclude else set()
            take = min(k + len(skip), self.vocab_size)
            top = np.argpartition(-sims[:, i], take - 1)[:take]
            top = top[np.argsort(-sims[top, i], kind="stable")]
            out.append([(self.words[j], float(sims[j, i])) for j in top if self.words[j] not in skip][:k])
        return out

    def info(self) -> dict:
        return {"name": self.name, "dim": self.dim, "vocab_size": self.vocab_size}


def load_default() -> Vectors:
    """The embedded GloVe 6B 50d, 100,000 most frequent words, float16, memory-mapped."""
    root = data_dir()
    matrix = np.load(root / _DEFAULT_VECTORS, mmap_mode="r", allow_pickle=False)
    words = (root / _DEFAULT_VOCAB).read_text(encoding="utf-8").split("\n")
    if words and words[-1] == "":
        words.pop()
    if len(words) != matrix.shape[0]:
        raise DataError(f"embedded vectors are damaged: {len(words)} words for {matrix.shape[0]} rows; reinstall attncli")
    return Vectors(DEFAULT_NAME, words, matrix, format="embedded", path=str(root / _DEFAULT_VECTORS))


def provenance() -> dict:
    return json.loads((data_dir() / "PROVENANCE.json").read_text(encoding="utf-8"))


def load_vectors(source: str | os.PathLike | None = None) -> Vectors:
    """`default` (or None) for the embedded GloVe, else a path to a vector file."""
    if source is None or str(source) == "default":
        return load_default()
    return load_file(Path(source))


def load_file(path: Path) -> Vectors:
    """A word2vec / GloVe text file, read by gensim (header detected from the first line)."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a vector file")
    from gensim.models import KeyedVectors  # slow import: only here

    no_header = not _has_header(path)
    try:
        kv = KeyedVectors.load_word2vec_format(str(path), binary=False, no_header=no_header)
    except (ValueError, UnicodeDecodeError, EOFError, OSError) as e:
        raise DataError(f"{path}: cannot read as word2vec/GloVe text: {e}") from None
    matrix = np.asarray(kv.vectors, dtype=np.float32)
    if matrix.size == 0:
        raise DataError(f"{path}: holds no vectors")
    return Vectors(path.name, list(kv.index_to_key), matrix, format="glove" if no_header else "word2vec", path=str(path))


def _has_header(path: Path) -> bool:
    with open(path, "rb") as f:
        first = f.readline().split()
    return len(first) == 2 and all(p.isdigit() for p in first)
