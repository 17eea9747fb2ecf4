"""attncli.contextview (the context view of issue 21) and the smoothing of attncli.grouping,
checked by hand on small inputs; the figures on the shared corpus are in docs/senses.md."""

from __future__ import annotations

import numpy as np
import pytest

from attncli import contextview as cv
from attncli import grouping
from attncli.pipeline import get_vectors


@pytest.fixture(scope="module")
def vec():
    return get_vectors()


def lines(*texts, source="f"):
    return [(source, i, t) for i, t in enumerate(texts, start=1)]


def test_read_tokens_lines_and_unk(vec):
    t = cv.read_tokens(lines("the <unk> river", "bank"), vec)
    assert t.words[:5] == ["the", "<", "unk", ">", "river"]
    assert t.rows[1:4].tolist() == [-1, -1, -1] and t.rows[0] == vec.index["the"]  # <unk> has no vector
    assert t.starts.tolist() == [0, 5, 6] and t.line.tolist() == [0, 0, 0, 0, 0, 1]
    assert t.positions([("f", 2, 0), ("f", 1, 4)]).tolist() == [5, 4]
    assert t.find(["river", "bank"]).tolist() == [4, 5]
    assert t.counts[t.words.index("the")] == 1 and t.sources == ["f", "f"] and t.numbers.tolist() == [1, 2]


def test_features_by_hand(vec):
    t = cv.read_tokens(lines("a b c d e f g h", "x y"), vec)
    d = vec.dim
    x = np.arange(len(t.ids) * d, dtype=np.float32).reshape(len(t.ids), d) % 7  # any values
    w = np.linspace(0.5, 1.5, len(t.ids))
    f = cv.features(t, x, w, np.array([1, 8]))  # "b" and "x"
    assert f.shape == (2, 6 * d)
    blocks = f.reshape(2, 6, d)
    # offsets -2, -1, +1, +2: zero outside the line
    np.testing.assert_allclose(blocks[0, :4], [np.zeros(d), x[0], x[2], x[3]])
    np.testing.assert_allclose(blocks[1, :4], [np.zeros(d), np.zeros(d), x[9], np.zeros(d)])
    # +-5 window and whole line, SIF-weighted, the position itself left out
    near = [0, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(blocks[0, 4], (w[near, None] * x[near]).sum(0) / w[near].sum(), rtol=1e-5)
    line = [0, 2, 3, 4, 5, 6, 7]
    np.testing.assert_allclose(blocks[0, 5], (w[line, None] * x[line]).sum(0) / w[line].sum(), rtol=1e-5)
    np.testing.assert_allclose(blocks[1, 4], x[9], rtol=1e-5)


def test_merge_makes_two_words_one(vec):
    t = cv.read_tokens(lines("the film crossed the river", "river film"), vec)
    x, w = cv.inputs(t, vec)
    row = (vec.rows([vec.index["film"]])[0] + vec.rows([vec.index["river"]])[0]) / 2
    pos = t.find(["film", "river"])
    f = cv.features(t, x, w, pos, cv.Merge(("film", "river"), row), vec).reshape(len(pos), 6, vec.dim)
    # the word after "film" in line 1 is "crossed"; in line 2 the one before "film" is river, now the mean
    np.testing.assert_allclose(f[0, 2], x[2])
    np.testing.assert_allclose(f[3, 1], row - cv.center_of(vec), rtol=1e-5)
    plain = cv.features(t, x, w, pos).reshape(len(pos), 6, vec.dim)
    np.testing.assert_allclose(plain[3, 1], x[5])  # without the merge it is "river" itself


def test_training_positions_leave_out_words_and_cap(vec):
    text = " ".join(f"w{i}" for i in range(60)) + " river river river"
    t = cv.read_tokens(lines(text), vec)
    t.rows[:] = 0  # pretend every token has a vector
    kept = cv.training_positions(t, exclude={"river"})
    assert kept.size == 0  # w0..w59 are not alphabetic; river is left out
    t2 = cv.read_tokens(lines(" ".join(["stone"] * 300 + ["the"] * 3)), vec)
    kept = cv.training_positions(t2, exclude=set())
    assert kept.size == 0  # the most frequent words (rank < 50) are never targets


def test_smooth_by_hand():
    z = np.array([[1, 0], [0, 1], [1, 1], [4, 4]], dtype=np.float32)
    out = grouping.smooth(z, ["a", "a", "a", "b"], np.array([1, 5, 30, 1]), within=10, weight=0.5)
    np.testing.assert_allclose(out, [[0.5, 0.5], [0.5, 0.5], [1, 1], [4, 4]])  # 1 and 5 are neighbours; 30 and file b alone
    assert grouping.smooth(z[:1], ["a"], np.array([1])).tolist() == z[:1].tolist()
