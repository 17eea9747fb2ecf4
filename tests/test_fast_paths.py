"""Batch fast paths give the plain path's numbers: no static vectors gathered when none are asked
for, scratch buffers reused from chunk to chunk, OOV words skipped or zeroed."""

from __future__ import annotations

import numpy as np
import pytest

from attncli.batch import BatchEmbedder, BatchOptions
from attncli.pipeline import Config, embed

TOL = dict(rtol=1e-6, atol=1e-6)
LINES = [
    "The bank raised its interest rates .",
    "An xqzvw word that is unknown sits in this longer sentence about banks and rivers and money .",
    "Go .",
    "We sat on the river bank and watched the water flow past the old mill .",
] * 5


@pytest.mark.parametrize("cfg", [Config(), Config(oov="zero"), Config(mode="qkv", weights="random", heads=2, window=3)])
def test_without_static_the_same_vectors(cfg):
    items = list(enumerate(LINES, start=1))
    plain = BatchEmbedder(cfg, options=BatchOptions(with_static=True)).embed_chunk(items)
    fast = BatchEmbedder(cfg).embed_chunk(items)
    assert fast.static is None and plain.static.shape == (len(plain.ids), 50)
    np.testing.assert_array_equal(fast.contextual, plain.contextual)
    for k, line in enumerate(LINES[:4]):
        a, b = plain.offsets[k], plain.offsets[k + 1]
        np.testing.assert_allclose(plain.contextual[a:b], embed(line, cfg).contextual, **TOL)


def test_buffers_reused_across_chunks_change_nothing():
    """A big chunk, then a small one, then a big one through one embedder (its scratch buffers
    reused, longer than needed) equal fresh embedders' chunks; earlier results are not overwritten."""
    cfg = Config(oov="zero")
    sizes = [len(LINES), 3, len(LINES)]
    emb = BatchEmbedder(cfg)
    chunks = []
    for size in sizes:
        chunks.append(emb.embed_chunk(list(enumerate(LINES[:size], start=1))))
    kept = [c.contextual.copy() for c in chunks]
    for chunk, size, before in zip(chunks, sizes, kept):
        fresh = BatchEmbedder(cfg).embed_chunk(list(enumerate(LINES[:size], start=1)))
        np.testing.assert_array_equal(chunk.contextual, fresh.contextual)
        np.testing.assert_array_equal(chunk.contextual, before)
