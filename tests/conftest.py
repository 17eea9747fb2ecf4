"""Shared fixtures: weights files written with numpy, small vector files written by gensim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .helpers import SMALL_VECTORS, SMALL_WORDS, random_weights


@pytest.fixture
def weights_file(tmp_path):
    """Factory: weights_file(W_q=..., ...) writes an .npz with exactly the given arrays and
    returns its path. Without arguments: random W_q, W_k (50, 8), W_v (50, 6), W_o (6, 4) and
    every bias, i.e. two heads of d_k=4, d_v=3 that fit the default vectors."""
    count = [0]

    def make(name: str | None = None, **arrays) -> Path:
        if not arrays:
            arrays = random_weights()
        count[0] += 1
        path = tmp_path / (name or f"weights{count[0]}.npz")
        np.savez(path, **arrays)
        return path

    return make


def _small_kv():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=SMALL_VECTORS.shape[1])
    kv.add_vectors(SMALL_WORDS, SMALL_VECTORS)
    return kv


@pytest.fixture(scope="session")
def word2vec_file(tmp_path_factory) -> Path:
    """word2vec text format (with a "count dim" header), written by gensim."""
    path = tmp_path_factory.mktemp("vectors") / "small.w2v.txt"
    _small_kv().save_word2vec_format(str(path), binary=False)
    return path


@pytest.fixture(scope="session")
def glove_file(tmp_path_factory) -> Path:
    """GloVe text format (no header), written by gensim."""
    path = tmp_path_factory.mktemp("vectors") / "small.glove.txt"
    _small_kv().save_word2vec_format(str(path), binary=False, write_header=False)
    return path
