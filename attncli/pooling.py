"""Sentence vectors: one vector per sentence, pooled from its contextual token vectors.

    mean: (1/n) sum_i h_i                              every token alike
    sif:  sum_i w_i h_i / sum_i w_i,  w_i = a / (a + p(w_i))

`sif` is the word weighting of Arora, Liang and Ma's "simple but tough-to-beat baseline"
(ICLR 2017): frequent words ("the", ",") count little, rare ones fully; p(w) and a are those of
the frequency prior (pipeline.key_probability: the vectors' counts when they carry them, else
Zipf's law from the frequency rank; a = Config.prior_a). Their second step, removing the first
principal component of all the sentence vectors, needs the whole corpus before the first line
is written, so it is left out: batch output is streamed. With the default centering the token
vectors are already centered on the frequent words' mean, which removes much of that common
direction.

Pure numpy; no I/O.
"""

from __future__ import annotations

import numpy as np

from .errors import Option, UsageError

POOLS = ("mean", "sif")


def check_pool(pool: str | None) -> None:
    if pool is not None and pool not in POOLS:
        raise UsageError(Option("pool"), f" must be one of {', '.join(POOLS)}, not {pool!r}")


def sif_weights(probability: np.ndarray, a: float) -> np.ndarray:
    """(T,) float64 weights a / (a + p(w)) of tokens of probability `probability` (T,)."""
    return a / (a + np.asarray(probability, dtype=np.float64))


def pool(contextual: np.ndarray, offsets: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Token vectors (T, d) of m sentences (sentence i: rows offsets[i]:offsets[i+1], none empty)
    -> (m, d) float32: each sentence's mean, weighted by `weights` (T,) when given."""
    offsets = np.asarray(offsets, dtype=np.int64)
    m, d = len(offsets) - 1, contextual.shape[1]
    if m == 0:
        return np.zeros((0, d), dtype=np.float32)
    lengths = np.diff(offsets)  # (m,)
    if (lengths <= 0).any():
        raise ValueError("every sentence needs at least one token to pool")
    x = np.asarray(contextual, dtype=np.float64)  # (T, d)
    if weights is None:
        sums = np.add.reduceat(x, offsets[:-1], axis=0)  # (m, d)
        return (sums / lengths[:, None]).astype(np.float32)
    w = np.asarray(weights, dtype=np.float64)  # (T,)
    sums = np.add.reduceat(x * w[:, None], offsets[:-1], axis=0)  # (m, d)
    total = np.add.reduceat(w, offsets[:-1])  # (m,)
    return (sums / total[:, None]).astype(np.float32)
