"""The grouping experiments of issue 21 (docs/senses.md): views of a pseudoword's occurrences and
ways to split them in two, scored on the pair sets of data/pseudowords.

    .venv/bin/python scripts/senses_lab.py METHOD... [--set tuning|heldout|builtin] [--corpus DIR]

Every view is computed from the corpus here (token ids per line), so methods are compared on the
same occurrences. Not part of the package: what wins moves to attncli/grouping.py and
attncli/contextview.py.
"""

from __future__ import annotations

import argparse
import collections
import functools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from attncli.pipeline import get_vectors  # noqa: E402
from attncli.tokens import tokenize  # noqa: E402
from attncli.grouping import unit, spherical_kmeans  # noqa: E402


@dataclass
class Corpus:
    words: list[str]  # vocabulary of the corpus tokens
    ids: np.ndarray  # (N,) corpus-vocabulary id of each token
    vid: np.ndarray  # (N,) GloVe row, -1 out of the vocabulary (and <unk>)
    line: np.ndarray  # (N,) global line index
    file: np.ndarray  # (N,) file index
    lineno: np.ndarray  # (N,) 1-based line number within its file
    starts: np.ndarray  # (lines + 1,) first token of each line
    counts: np.ndarray  # (V,) token counts


@functools.lru_cache(maxsize=None)
def vectors():
    return get_vectors()


def load_corpus(paths: tuple[str, ...]) -> Corpus:
    vec = vectors()
    index: dict[str, int] = {}
    ids, vid, line, file, lineno, starts = [], [], [], [], [], [0]
    g = 0
    for f, path in enumerate(paths):
        for number, text in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            toks = [t.text for t in tokenize(text, vec.__contains__)]
            unk = set()
            for i in range(len(toks) - 2):
                if toks[i] == "<" and toks[i + 1] == "unk" and toks[i + 2] == ">":
                    unk |= {i, i + 1, i + 2}
            for i, t in enumerate(toks):
                ids.append(index.setdefault(t, len(index)))
                vid.append(-1 if i in unk else vec.index.get(t, -1))
            line += [g] * len(toks)
            file += [f] * len(toks)
            lineno += [number] * len(toks)
            starts.append(starts[-1] + len(toks))
            g += 1
    ids = np.array(ids)
    return Corpus(list(index), ids, np.array(vid), np.array(line), np.array(file), np.array(lineno), np.array(starts),
                  np.bincount(ids, minlength=len(index)))


def static_inputs(c: Corpus, center: int = 10_000, a: float = 1e-3):
    """(N, d) centered static vectors (0 out of the vocabulary) and (N,) SIF weights a / (a + p)."""
    vec = vectors()
    m = np.asarray(vec.matrix, dtype=np.float32)
    mean = m[:center].mean(axis=0)
    x = np.where(c.vid[:, None] >= 0, m[np.maximum(c.vid, 0)] - mean, 0).astype(np.float32)
    p = c.counts[c.ids] / c.counts.sum()
    w = np.where(c.vid >= 0, a / (a + p), 0.0)
    return x, w


def context_features(c: Corpus, x: np.ndarray, w: np.ndarray, pos: np.ndarray, offsets=(-2, -1, 1, 2), window: int = 5) -> np.ndarray:
    """(P, 4d + 2d): x at the offsets (0 outside the line), SIF means over +-window and the line,
    the position itself left out."""
    starts, ends = c.starts[c.line[pos]], c.starts[c.line[pos] + 1]
    d = x.shape[1]
    out = []
    for o in offsets:
        q = pos + o
        ok = (q >= starts) & (q < ends)
        out.append(np.where(ok[:, None], x[np.clip(q, 0, len(x) - 1)], 0))
    cw = np.concatenate([np.zeros((1, d)), np.cumsum(w[:, None] * x, axis=0, dtype=np.float64)])
    cs = np.concatenate([[0.0], np.cumsum(w, dtype=np.float64)])
    self_wx, self_w = w[pos, None] * x[pos], w[pos]
    for lo, hi in ((np.maximum(starts, pos - window), np.minimum(ends, pos + window + 1)), (starts, ends)):
        s = cw[hi] - cw[lo] - self_wx
        tot = cs[hi] - cs[lo] - self_w
        out.append(np.where(tot[:, None] > 1e-9, s / np.maximum(tot, 1e-9)[:, None], 0))
    return np.concatenate(out, axis=1).astype(np.float32)


def training_positions(c: Corpus, exclude: set[str], per_word: int = 200, min_rank: int = 50, seed: int = 0) -> np.ndarray:
    order = np.argsort(-c.counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    ok_word = np.array([w.isalpha() and w not in exclude for w in c.words]) & (rank >= min_rank)
    ok = ok_word[c.ids] & (c.vid >= 0)
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(ok)
    pos = pos[rng.permutation(len(pos))]
    taken = collections.Counter()
    keep = []
    for p in pos.tolist():
        i = c.ids[p]
        if taken[i] < per_word:
            taken[i] += 1
            keep.append(p)
    return np.sort(np.array(keep))


def fit_ridge(F: np.ndarray, Y: np.ndarray, lam: float = 0.01):
    fm, ym = F.mean(axis=0), Y.mean(axis=0)
    Fc = (F - fm).astype(np.float64)
    G = Fc.T @ Fc
    beta = np.linalg.solve(G + lam * np.trace(G) / G.shape[0] * np.eye(G.shape[0]), Fc.T @ (Y - ym))
    return fm, ym, beta


def read_pairs(name: str) -> list[tuple[str, str]]:
    if name == "builtin":
        from attncli.pseudowords import DEFAULT_PAIRS

        return list(DEFAULT_PAIRS)
    path = ROOT / "data" / "pseudowords" / f"{name}.txt"
    return [tuple(l.split(":")) for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]


def occurrences(c: Corpus, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    ia, ib = c.words.index(a), c.words.index(b)
    pos = np.flatnonzero((c.ids == ia) | (c.ids == ib))
    return pos, (c.ids[pos] == ib).astype(np.int64)


def balanced_accuracy(labels, truth) -> float:
    from attncli.pseudowords import balanced_accuracy as ba

    return ba(labels, truth)


def smooth(z: np.ndarray, c: Corpus, pos: np.ndarray, lines: int = 10, weight: float = 0.5) -> np.ndarray:
    """z'_i = (1 - weight) z_i + weight * mean of z_j, j != i in the same file within `lines` lines."""
    if lines <= 0 or weight == 0:
        return z
    f, ln = c.file[pos], c.lineno[pos]
    near = (f[:, None] == f[None, :]) & (np.abs(ln[:, None] - ln[None, :]) <= lines)
    np.fill_diagonal(near, False)
    cnt = near.sum(axis=1)
    m = near.astype(np.float32) @ z / np.maximum(cnt, 1)[:, None]
    return np.where(cnt[:, None] > 0, (1 - weight) * z + weight * m, z)
