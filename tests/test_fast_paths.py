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


# Lines that take every branch of the one-pass look-up: known words only; unknown words
# skipped; an unknown hyphenated word (split by prepare); "mr." merged inside a line but not at
# its end; only punctuation; empty; nothing known; non-ASCII and typographic quotes; numbers.
TRICKY = [
    "money bank grows",
    "The qqzzxx bank raised zzyyqq rates .",
    "A money-qqzzxx deal and a well-known bank .",
    "mr. smith went to the bank .",
    "i met mr. smith",
    "the end , said mr .",
    "... ! ?",
    "",
    "qqzzxx zzyyqq",
    "İstanbul’s “bank” isn't café-owned ; 3.5 1,000 10:30 u.s. e.g.",
    "don't can't won't o'neill rock'n'roll 's",
    "   spaced   out   words   ",
]


@pytest.mark.parametrize("cfg", [Config(), Config(oov="zero"), Config(oov="error")], ids=["skip", "zero", "error"])
def test_the_one_pass_look_up_equals_embedding_each_line_alone(cfg):
    """Every line, through the chunk path (one regex pass, vectorized look-up, the cache on the
    second pass), gives embed()'s tokens, OOV report and vectors, or its error."""
    from attncli.errors import DataError

    items = list(enumerate(TRICKY * 2, start=1))  # the second copy comes from the cache
    emb = BatchEmbedder(cfg)
    chunks = [emb.embed_chunk(items[:len(TRICKY)]), emb.embed_chunk(items[len(TRICKY):])]
    for chunk, first in zip(chunks, (1, len(TRICKY) + 1)):
        got = {int(line): k for k, line in enumerate(chunk.lines)}
        errors = {e.line: e.error for e in chunk.errors}
        assert chunk.token_bytes().tobytes().decode().splitlines() == [t for s in chunk.tokens for t in s]
        for i, text in enumerate(TRICKY):
            line = first + i
            try:
                want = embed(text, cfg)
            except DataError as e:
                assert errors.pop(line) == str(e)
                continue
            k = got.pop(line)
            assert chunk.tokens[k] == want.tokens and chunk.oov[k] == want.oov and chunk.texts[k] == text
            a, b = chunk.offsets[k], chunk.offsets[k + 1]
            np.testing.assert_allclose(chunk.contextual[a:b], want.contextual, **TOL)
        assert not got and not errors


def test_a_text_holding_a_line_end_is_embedded_alone():
    """JSON Lines can carry a "\n" inside a sentence: such a chunk is tokenized line by line."""
    chunk = BatchEmbedder().embed_chunk([(1, "money bank\ngrows"), (2, "the river bank")])
    assert chunk.tokens == [["money", "bank", "grows"], ["the", "river", "bank"]]
