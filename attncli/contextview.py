"""The context view of a word's occurrences: which word its context predicts (issue 21).

For each position t of a corpus, features of its context (the word at t left out):

    f(t) = [x(t-2), x(t-1), x(t+1), x(t+2), s_5(t), s_line(t)]          (6d values)

x the static vectors centered on the mean of the 10,000 most frequent words (0 outside the line
and for words out of the vocabulary, `<unk>` included); s_K the SIF-weighted mean
sum_j w_j x_j / sum_j w_j, w = a / (a + p(word)), a = 1e-3, p the corpus unigram frequency,
over the words within K of t (s_line: the whole line), t left out. One ridge regression from f
to the unit static vector of the word at t is fitted per corpus:

    beta = (F^T F + lam * trace(F^T F) / 6d * I)^-1 F^T Y      (F, Y centered; lam = 0.01)

on at most 200 random positions (seed 0) of each alphabetic word ranked 50th or lower by
frequency, never a word being grouped. An occurrence's view is its prediction f(t) beta: what
the context says the word should be. For the pseudoword test this separates the two words better
than the contextual vectors (docs/senses.md has the figures).

Pure numpy over token arrays; the caller reads the lines (attncli.inputs.read_lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .tokens import tokenize
from .vectors import Vectors

SIF_A = 1e-3
WINDOW = 5
OFFSETS = (-2, -1, 1, 2)
PER_WORD = 200  # training positions per word
MIN_RANK = 50  # the most frequent words (function words) are not prediction targets
RIDGE = 0.01
CENTER = 10_000


@dataclass
class CorpusTokens:
    """Every token of a corpus as arrays. Token i is in line line[i], whose tokens are
    starts[line]..starts[line + 1]; `where[(source, number)]` gives that line's index."""

    words: list[str]  # distinct token texts
    ids: np.ndarray  # (N,) index into words
    rows: np.ndarray  # (N,) vocabulary row, -1 out of the vocabulary and in `<unk>`
    line: np.ndarray  # (N,) line index
    starts: np.ndarray  # (lines + 1,)
    where: dict[tuple[str, int], int]  # (source, 1-based number) -> line index
    counts: np.ndarray  # (len(words),) corpus counts
    sources: list[str]  # (lines,) the file of each line
    numbers: np.ndarray  # (lines,) its 1-based number in that file

    def positions(self, keys: Iterable[tuple[str, int, int]]) -> np.ndarray:
        """Token indices of (source, line number, position in the line)."""
        return np.array([self.starts[self.where[(s, n)]] + p for s, n, p in keys], dtype=np.int64)

    def find(self, forms: Iterable[str]) -> np.ndarray:
        """Token indices equal to any of `forms`, in reading order."""
        index = {w: i for i, w in enumerate(self.words)}
        ids = [index[f] for f in forms if f in index]
        return np.flatnonzero(np.isin(self.ids, ids))


def read_tokens(lines: Iterable[tuple[str, int, str]], vectors: Vectors) -> CorpusTokens:
    """Tokenize (source, number, text) lines as attncli does everywhere (`<unk>` is three tokens,
    `<` `unk` `>`, all three without a vector here)."""
    index: dict[str, int] = {}
    ids: list[int] = []
    rows: list[int] = []
    lens: list[int] = []
    where: dict[tuple[str, int], int] = {}
    sources: list[str] = []
    numbers: list[int] = []
    vocab = vectors.index
    for source, number, text in lines:
        if type(text) is not str:  # a line inputs.read_lines could not read (not UTF-8, too long)
            continue
        toks = [t.text for t in tokenize(text, vectors.__contains__)]
        where[(source, number)] = len(lens)
        sources.append(source)
        numbers.append(number)
        lens.append(len(toks))
        unk = {j for i in range(len(toks) - 2) if toks[i : i + 3] == ["<", "unk", ">"] for j in (i, i + 1, i + 2)}
        for i, t in enumerate(toks):
            ids.append(index.setdefault(t, len(index)))
            rows.append(-1 if i in unk else vocab.get(t, -1))
    ids_a = np.array(ids, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    line = np.repeat(np.arange(len(lens)), lens)
    return CorpusTokens(list(index), ids_a, np.array(rows, dtype=np.int64), line, starts, where,
                        np.bincount(ids_a, minlength=len(index)), sources, np.array(numbers, dtype=np.int64))


def inputs(tokens: CorpusTokens, vectors: Vectors) -> tuple[np.ndarray, np.ndarray]:
    """(N, d) centered static vectors (0 without one) and (N,) SIF weights."""
    m = np.asarray(vectors.matrix, dtype=np.float32)
    x = np.where(tokens.rows[:, None] >= 0, m[np.maximum(tokens.rows, 0)] - center_of(vectors), 0).astype(np.float32)  # (N, d)
    p = tokens.counts[tokens.ids] / max(len(tokens.ids), 1)
    return x, np.where(tokens.rows >= 0, sif(p), 0.0)


def center_of(vectors: Vectors) -> np.ndarray:
    return vectors.mean(min(CENTER, vectors.vocab_size))


def sif(p):
    """SIF weight a / (a + p) of a word of unigram frequency p."""
    return SIF_A / (SIF_A + p)


@dataclass(frozen=True)
class Merge:
    """Tokens of `words` read as one word of static vector `row` and summed count (the
    pseudoword test: a and b become their mean)."""

    words: tuple[str, ...]
    row: np.ndarray  # (d,)


def features(tokens: CorpusTokens, x: np.ndarray, w: np.ndarray, pos: np.ndarray, merge: Merge | None = None,
             vectors: Vectors | None = None) -> np.ndarray:
    """(P, 6d) f(t) of the module docstring for the token indices `pos`. Windows never cross a
    line, so only the lines holding `pos` are read (and changed by `merge`)."""
    d = x.shape[1]
    lines = np.unique(tokens.line[pos])
    lo_l, hi_l = tokens.starts[lines], tokens.starts[lines + 1]
    lens = hi_l - lo_l
    idx = np.repeat(lo_l - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(lens.sum())  # (n,) their tokens
    lx, lw = x[idx], w[idx]  # (n, d), (n,)
    if merge is not None:
        ids = [i for i, t in enumerate(tokens.words) if t in merge.words]
        at = np.isin(tokens.ids[idx], ids)
        lx[at] = merge.row - center_of(vectors)
        lw[at] = sif(tokens.counts[ids].sum() / max(len(tokens.ids), 1))
    local = np.searchsorted(idx, pos)  # (P,)
    k = np.searchsorted(lines, tokens.line[pos])
    local_start = np.concatenate([[0], np.cumsum(lens)])
    starts, ends = local_start[k], local_start[k + 1]
    out = []
    for o in OFFSETS:
        q = local + o
        ok = (q >= starts) & (q < ends)
        out.append(np.where(ok[:, None], lx[np.clip(q, 0, max(len(lx) - 1, 0))], 0))
    cw = np.concatenate([np.zeros((1, d)), np.cumsum(lw[:, None] * lx, axis=0, dtype=np.float64)])  # (n + 1, d)
    cs = np.concatenate([[0.0], np.cumsum(lw, dtype=np.float64)])
    own_wx, own_w = lw[local, None] * lx[local], lw[local]
    for lo, hi in ((np.maximum(starts, local - WINDOW), np.minimum(ends, local + WINDOW + 1)), (starts, ends)):
        total = cs[hi] - cs[lo] - own_w
        s = (cw[hi] - cw[lo] - own_wx) / np.maximum(total, 1e-9)[:, None]
        out.append(np.where(total[:, None] > 1e-9, s, 0))
    return np.concatenate(out, axis=1).astype(np.float32)  # (P, 6d)


@dataclass
class Predictor:
    f_mean: np.ndarray  # (6d,)
    y_mean: np.ndarray  # (d,)
    beta: np.ndarray  # (6d, d)
    trained_on: int  # positions


def training_positions(tokens: CorpusTokens, exclude: set[str], seed: int = 0) -> np.ndarray:
    """At most PER_WORD random positions of each alphabetic word of frequency rank >= MIN_RANK
    with a vector, none of `exclude`."""
    order = np.argsort(-tokens.counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    word_ok = np.array([w.isalpha() and w not in exclude for w in tokens.words], dtype=bool) & (rank >= MIN_RANK)
    pos = np.flatnonzero(word_ok[tokens.ids] & (tokens.rows >= 0))
    key = np.random.default_rng(seed).random(len(pos))
    pos = pos[np.lexsort((key, tokens.ids[pos]))]  # by word, random within a word
    ids = tokens.ids[pos]
    first = np.searchsorted(ids, ids, side="left")
    return np.sort(pos[np.arange(len(pos)) - first < PER_WORD])


def fit(tokens: CorpusTokens, vectors: Vectors, exclude: set[str], x: np.ndarray | None = None,
        w: np.ndarray | None = None, seed: int = 0) -> Predictor:
    """The ridge regression of the module docstring."""
    if x is None or w is None:
        x, w = inputs(tokens, vectors)
    pos = training_positions(tokens, exclude, seed)
    m = np.asarray(vectors.matrix, dtype=np.float32)
    d6 = 6 * m.shape[1]
    if len(pos) < d6:
        from .errors import DataError

        raise DataError(f"the corpus is too small for the context view: {len(pos)} training positions, "
                        f"it needs at least {d6} (the words ranked {MIN_RANK}th or lower, at most {PER_WORD} each)")
    F = features(tokens, x, w, pos).astype(np.float64)  # (M, 6d)
    y = m[tokens.rows[pos]].astype(np.float64)
    y /= np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)  # (M, d)
    f_mean, y_mean = F.mean(axis=0), y.mean(axis=0)
    F -= f_mean
    gram = F.T @ F
    beta = np.linalg.solve(gram + RIDGE * np.trace(gram) / d6 * np.eye(d6), F.T @ (y - y_mean))
    return Predictor(f_mean, y_mean, beta, len(pos))


def predict(model: Predictor, tokens: CorpusTokens, x: np.ndarray, w: np.ndarray, pos: np.ndarray,
            merge: Merge | None = None, vectors: Vectors | None = None) -> np.ndarray:
    """(P, d) what the context of each position predicts, before centering."""
    f = features(tokens, x, w, pos, merge, vectors)
    return ((f - model.f_mean) @ model.beta + model.y_mean).astype(np.float32)
