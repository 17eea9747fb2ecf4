"""The pure-numpy core: hand-computed cases and properties (numpy random with fixed seeds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attncli import attention as att
from attncli.attention import AttentionSettings, Projections

from .helpers import ref_heads, ref_softmax

SEEDS = range(5)


def rand_x(seed, n=5, d=8, scale=1.0):
    return (np.random.default_rng(seed).normal(size=(n, d)) * scale).astype(np.float32)


def rand_proj(seed, d=8, H=2, dk=3, dv=2, d_out=5, biases=True):
    rng = np.random.default_rng(1000 + seed)
    a = {
        "W_q": rng.normal(size=(d, H * dk)),
        "W_k": rng.normal(size=(d, H * dk)),
        "W_v": rng.normal(size=(d, H * dv)),
    }
    if d_out:
        a["W_o"] = rng.normal(size=(H * dv, d_out))
    if biases:
        a.update(b_q=rng.normal(size=H * dk), b_k=rng.normal(size=H * dk), b_v=rng.normal(size=H * dv))
        if d_out:
            a["b_o"] = rng.normal(size=d_out)
    a = {k: v.astype(np.float32) for k, v in a.items()}
    return Projections.from_arrays(a, d, H, source="test"), a


# ---------------------------------------------------------------- softmax


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_rows_sum_to_one_and_match_reference(seed):
    logits = (np.random.default_rng(seed).normal(size=(3, 4, 7)) * 10).astype(np.float32)
    w = att.softmax(logits)
    assert w.dtype == np.float32
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(w, ref_softmax(logits), atol=1e-6)


def test_softmax_huge_logits_do_not_overflow():
    logits = np.array([[1e4, 1e4 - 1, -1e4], [1e4, 1e4, 1e4]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # an overflow in exp would raise here
        w = att.softmax(logits)
    e = math.e
    np.testing.assert_allclose(w[0], [e / (1 + e), 1 / (1 + e), 0.0], atol=1e-6)
    np.testing.assert_allclose(w[1], [1 / 3] * 3, atol=1e-6)
    assert np.isfinite(w).all()


def test_softmax_mask_zeroes_masked_weights_and_renormalises():
    logits = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    w = att.softmax(logits, np.array([True, False, True]))
    assert w[1] == 0.0
    np.testing.assert_allclose(w[[0, 2]], ref_softmax([1.0, 3.0]), atol=1e-7)


def test_softmax_fully_masked_row_is_zeros_not_nan():
    logits = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    mask = np.array([[False, False], [True, True]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        w = att.softmax(logits, mask)
    assert not np.isnan(w).any()
    assert w[0].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(w[1].sum(), 1.0, atol=1e-6)


# ---------------------------------------------------------------- masks


def test_causal_and_self_mask_shapes_and_values():
    assert att.causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert att.self_mask(3).tolist() == [[False, True, True], [True, False, True], [True, True, False]]
    # a query block starting at position 1 of 3 keys
    assert att.causal_mask(2, 3, offset=1).tolist() == [[True, True, False], [True, True, True]]
    assert att.padding_mask(np.array([2, 3]), 3).tolist() == [[[True, True, False]], [[True, True, True]]]


# ---------------------------------------------------------------- the 3-token example by hand


# X = [[1, 0], [0, 1], [1, 1]] so X X^T = [[1, 0, 1], [0, 1, 1], [1, 1, 2]]. With logits / s and
# E = exp(1 / s), each row of softmax and the weighted sum of the rows of X work out to:
#   row 0: [E, 1, E] / (2E + 1)      -> new_0 = [2E, 1 + E] / (2E + 1)
#   row 1: [1, E, E] / (1 + 2E)      -> new_1 = [1 + E, 2E] / (1 + 2E)
#   row 2: [E, E, E^2] / (2E + E^2)  -> new_2 = [1 + E, 1 + E] / (2 + E)
X3 = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)


@pytest.mark.parametrize("scale", [False, True])
def test_three_tokens_by_hand(scale):
    E = math.exp(1 / (math.sqrt(2) if scale else 1.0))
    weights = [
        [E / (2 * E + 1), 1 / (2 * E + 1), E / (2 * E + 1)],
        [1 / (1 + 2 * E), E / (1 + 2 * E), E / (1 + 2 * E)],
        [1 / (2 + E), 1 / (2 + E), E / (2 + E)],
    ]
    new = [
        [2 * E / (2 * E + 1), (1 + E) / (2 * E + 1)],
        [(1 + E) / (1 + 2 * E), 2 * E / (1 + 2 * E)],
        [(1 + E) / (2 + E), (1 + E) / (2 + E)],
    ]
    out, w = att.self_attention(X3, AttentionSettings(scale=scale), Projections.identity(2))
    np.testing.assert_allclose(w[0], weights, atol=1e-6)
    np.testing.assert_allclose(out, new, atol=1e-6)


def test_three_tokens_by_hand_decimals():
    # The same, unscaled, as numbers: e / (2e + 1) = 0.4223188, 1 / (2e + 1) = 0.1553624,
    # 1 / (2 + e) = 0.2119416, e / (2 + e) = 0.5761169; new_2 = (1 + e) / (2 + e) = 0.7880584.
    out, w = att.self_attention(X3, AttentionSettings(scale=False), Projections.identity(2))
    np.testing.assert_allclose(w[0, 0], [0.4223188, 0.1553624, 0.4223188], atol=1e-6)
    np.testing.assert_allclose(w[0, 2], [0.2119416, 0.2119416, 0.5761169], atol=1e-6)
    np.testing.assert_allclose(out[2], [0.7880584, 0.7880584], atol=1e-6)


def test_three_tokens_cosine_by_hand():
    # cos(x_i, x_j) = [[1, 0, c], [0, 1, c], [c, c, 1]], c = 1/sqrt(2); unscaled
    c = 1 / math.sqrt(2)
    out, w = att.self_attention(X3 * 7, AttentionSettings(similarity="cosine", scale=False), Projections.identity(2))
    row0 = np.exp([1, 0, c]) / np.exp([1, 0, c]).sum()
    row2 = np.exp([c, c, 1]) / np.exp([c, c, 1]).sum()
    np.testing.assert_allclose(w[0, 0], row0, atol=1e-6)
    np.testing.assert_allclose(w[0, 2], row2, atol=1e-6)
    # values are the unnormalised inputs (7 X): cosine only changes the scores
    np.testing.assert_allclose(out[0], row0 @ (X3 * 7), atol=1e-5)


def test_three_tokens_exclude_self_by_hand():
    # diagonal masked: row 0 keeps keys 1, 2 with logits [0, 1] -> [1, e] / (1 + e)
    out, w = att.self_attention(X3, AttentionSettings(scale=False, exclude_self=True), Projections.identity(2))
    e = math.e
    np.testing.assert_allclose(w[0, 0], [0, 1 / (1 + e), e / (1 + e)], atol=1e-6)
    np.testing.assert_allclose(out[0], [e / (1 + e), 1.0], atol=1e-6)


def test_three_tokens_causal_by_hand():
    # row 0 sees only itself; row 1 sees keys 0, 1 with logits [0, 1]
    out, w = att.self_attention(X3, AttentionSettings(scale=False, causal=True), Projections.identity(2))
    e = math.e
    np.testing.assert_allclose(w[0, 0], [1, 0, 0], atol=1e-7)
    np.testing.assert_allclose(w[0, 1], [1 / (1 + e), e / (1 + e), 0], atol=1e-6)
    np.testing.assert_allclose(out[1], [1 / (1 + e), e / (1 + e)], atol=1e-6)


# ---------------------------------------------------------------- properties


SETTINGS = [
    AttentionSettings(),
    AttentionSettings(scale=False),
    AttentionSettings(similarity="cosine"),
    AttentionSettings(temperature=0.3),
    AttentionSettings(exclude_self=True),
    AttentionSettings(causal=True),
    AttentionSettings(causal=True, exclude_self=True),
    AttentionSettings(residual=0.4, layers=3),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=repr)
@pytest.mark.parametrize("seed", SEEDS)
def test_rows_sum_to_one(settings, seed):
    x = rand_x(seed, n=6, d=8, scale=5.0)  # large inputs: saturated softmax
    for proj in (Projections.identity(8), Projections.glorot(8, heads=2, seed=seed), rand_proj(seed)[0]):
        if settings.layers > 1 and proj.d_out != 8:
            continue
        out, w = att.self_attention(x, settings, proj)
        assert out.dtype == np.float32 and w.dtype == np.float32
        sums = w.sum(-1)  # (H, n)
        if settings.causal and settings.exclude_self:
            assert np.all(sums[:, 0] == 0)  # token 0 has nothing left to attend to
            sums = sums[:, 1:]
        np.testing.assert_allclose(sums, 1.0, atol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_identity_weights_equal_stage_one(seed):
    x = rand_x(seed, n=5, d=6)
    for settings in (AttentionSettings(), AttentionSettings(similarity="cosine", temperature=2.0)):
        out, w = att.self_attention(x, settings, Projections.identity(6))
        q = x / np.linalg.norm(x, axis=1, keepdims=True) if settings.similarity == "cosine" else x
        ref_w = ref_softmax(q.astype(np.float64) @ q.T / math.sqrt(6) / settings.temperature)
        np.testing.assert_allclose(w[0], ref_w, atol=1e-6)
        np.testing.assert_allclose(out, ref_w @ x, atol=1e-5)


@pytest.mark.parametrize("settings", [s for s in SETTINGS if not s.causal], ids=repr)
@pytest.mark.parametrize("seed", SEEDS)
def test_permutation_equivariance(settings, seed):
    """Without positions (and without a causal mask), attention ignores word order:
    permuting the tokens permutes the outputs and the weights the same way."""
    x = rand_x(seed, n=6, d=8)
    perm = np.random.default_rng(50 + seed).permutation(6)
    assert (perm != np.arange(6)).any()
    prior = np.random.default_rng(seed).normal(size=6).astype(np.float32)
    for proj in (Projections.identity(8), Projections.glorot(8, heads=2, seed=seed)):
        out, w = att.self_attention(x, settings, proj, key_bias=prior)
        out_p, w_p = att.self_attention(x[perm], settings, proj, key_bias=prior[perm])
        np.testing.assert_allclose(out_p, out[perm], atol=1e-5)
        np.testing.assert_allclose(w_p, w[:, perm][:, :, perm], atol=1e-6)


def test_causal_is_not_permutation_equivariant():
    x = rand_x(0, n=4, d=8)
    perm = np.array([3, 2, 1, 0])
    s = AttentionSettings(causal=True)
    out, _ = att.self_attention(x, s, Projections.identity(8))
    out_p, _ = att.self_attention(x[perm], s, Projections.identity(8))
    assert not np.allclose(out_p, out[perm], atol=1e-3)


@pytest.mark.parametrize("seed", SEEDS)
def test_sinusoidal_positions_break_permutation_equivariance(seed):
    x = rand_x(seed, n=5, d=8)
    perm = np.array([4, 0, 3, 1, 2])
    pe = att.sinusoidal_positions(5, 8)
    s, p = AttentionSettings(), Projections.identity(8)
    out, _ = att.self_attention(x + pe, s, p)
    out_p, _ = att.self_attention(x[perm] + pe, s, p)
    assert not np.allclose(out_p, out[perm], atol=1e-3)


@pytest.mark.parametrize("seed", SEEDS)
def test_scaling_divides_by_sqrt_dk_of_a_head(seed):
    """With H heads, d_k is the per-head width (H*d_k columns split), not d."""
    x = rand_x(seed, n=4, d=8, scale=2.0)
    _, w = att.self_attention(x, AttentionSettings(), Projections.identity(8, heads=2))  # d_k = 4
    for h in range(2):
        xh = x[:, 4 * h : 4 * (h + 1)].astype(np.float64)
        np.testing.assert_allclose(w[h], ref_softmax(xh @ xh.T / 2.0), atol=1e-6)
    # scale=False is the same as dividing by sqrt(d_k) through the temperature
    _, w_scaled = att.self_attention(x, AttentionSettings(), Projections.identity(8))
    _, w_temp = att.self_attention(x, AttentionSettings(scale=False, temperature=math.sqrt(8)), Projections.identity(8))
    _, w_raw = att.self_attention(x, AttentionSettings(scale=False), Projections.identity(8))
    np.testing.assert_allclose(w_scaled, w_temp, atol=1e-6)
    assert not np.allclose(w_scaled, w_raw, atol=1e-3)
    np.testing.assert_allclose(w_raw[0], ref_softmax(x.astype(np.float64) @ x.T), atol=1e-6)


def test_attention_function_scale_and_key_bias():
    rng = np.random.default_rng(3)
    q, k, v = (rng.normal(size=(2, 4, 9)).astype(np.float32) for _ in range(3))  # batch of 2
    b = rng.normal(size=(2, 1, 4)).astype(np.float32)
    out, w = att.attention(q, k, v, key_bias=b, temperature=0.5)
    ref = ref_softmax(q.astype(np.float64) @ np.swapaxes(k, -1, -2) / 3.0 / 0.5 + b)
    np.testing.assert_allclose(w, ref, atol=1e-6)
    np.testing.assert_allclose(out, ref @ v, atol=1e-5)
    with pytest.raises(ValueError, match="similarity"):
        att.attention(q, k, v, similarity="euclid")


def test_temperature_sharpens_and_flattens():
    x = rand_x(1, n=5, d=8)
    p = Projections.identity(8)
    _, cold = att.self_attention(x, AttentionSettings(temperature=0.01), p)
    _, hot = att.self_attention(x, AttentionSettings(temperature=1000.0), p)
    assert cold[0].max(-1).min() > 0.99  # nearly one-hot
    np.testing.assert_allclose(hot[0], 0.2, atol=1e-2)  # uniform


@pytest.mark.parametrize("seed", SEEDS)
def test_causal_mask(seed):
    x = rand_x(seed, n=5, d=8)
    s = AttentionSettings(causal=True)
    proj = Projections.glorot(8, heads=2, seed=seed)
    out, w = att.self_attention(x, s, proj)
    assert np.all(np.triu(np.ones((5, 5)), 1)[None] * w == 0)  # no weight on later tokens
    assert np.all(w[:, 0, 0] == 1.0)
    # token i does not change when later tokens do
    y = x.copy()
    y[3:] = rand_x(seed + 99, n=2, d=8)
    out_y, _ = att.self_attention(y, s, proj)
    np.testing.assert_allclose(out_y[:3], out[:3], atol=1e-6)
    assert not np.allclose(out_y[3:], out[3:], atol=1e-3)


@pytest.mark.parametrize("seed", SEEDS)
def test_self_mask(seed):
    x = rand_x(seed, n=5, d=8)
    out, w = att.self_attention(x, AttentionSettings(exclude_self=True), Projections.identity(8))
    assert np.all(np.diagonal(w[0]) == 0)
    # a token's new vector is built from its context alone: changing x_i alone (as a value)
    # cannot enter out_i except through its query; with identity weights, check the sum
    ref_w = ref_softmax(x.astype(np.float64) @ x.T / math.sqrt(8), ~np.eye(5, dtype=bool))
    np.testing.assert_allclose(out, ref_w @ x, atol=1e-5)


def test_fully_masked_rows_are_zero_not_nan():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        # one token with its diagonal masked: nothing to attend to
        out, w = att.self_attention(rand_x(0, n=1, d=8), AttentionSettings(exclude_self=True), Projections.identity(8))
        assert w.tolist() == [[[0.0]]] and np.all(out == 0)
        # causal + exclude-self: token 0 sees nothing
        out, w = att.self_attention(rand_x(0, n=3, d=8), AttentionSettings(causal=True, exclude_self=True), Projections.glorot(8, 2))
    assert not np.isnan(out).any() and not np.isnan(w).any()
    assert np.all(w[:, 0] == 0) and np.all(out[0] == 0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("H,dk,dv,d_out,biases", [(1, 4, 4, None, False), (2, 3, 2, 5, True), (4, 2, 3, None, True), (8, 1, 1, 3, True)])
def test_multi_head_equals_per_head_loop(seed, H, dk, dv, d_out, biases):
    proj, a = rand_proj(seed, d=8, H=H, dk=dk, dv=dv, d_out=d_out, biases=biases)
    x = rand_x(seed, n=5, d=8)
    for settings, mask in ((AttentionSettings(), None), (AttentionSettings(causal=True), np.tril(np.ones((5, 5), bool)))):
        out, w = att.self_attention(x, settings, proj)
        ref_out, ref_w = ref_heads(x, H=H, mask=mask, **a)
        assert w.shape == (H, 5, 5)
        assert out.shape == (5, d_out or H * dv)
        np.testing.assert_allclose(w, ref_w, atol=1e-5)
        np.testing.assert_allclose(out, ref_out, atol=1e-4, rtol=1e-5)


def test_head_h_uses_columns_h_dk_to_h_plus_1_dk():
    """Zero every column of W_q but head 1's: head 1 keeps its scores, head 0 becomes uniform."""
    proj, a = rand_proj(0, d=8, H=2, dk=3, dv=2, d_out=None, biases=False)
    a["W_q"][:, :3] = 0
    proj = Projections.from_arrays(a, 8, 2, source="test")
    _, w = att.self_attention(rand_x(0), AttentionSettings(), proj)
    np.testing.assert_allclose(w[0], 0.2, atol=1e-7)
    assert not np.allclose(w[1], 0.2, atol=1e-2)


@pytest.mark.parametrize("seed", SEEDS)
def test_batch_with_padding_equals_one_by_one(seed):
    rng = np.random.default_rng(seed)
    lengths = np.array([2, 5, 3])
    xb = rng.normal(size=(3, 5, 8)).astype(np.float32)
    proj = Projections.glorot(8, 2, seed)
    s = AttentionSettings(exclude_self=seed % 2 == 1)
    out, w = att.self_attention(xb, s, proj, lengths=lengths)
    assert out.shape == (3, 5, 8) and w.shape == (3, 2, 5, 5)
    for b, L in enumerate(lengths):
        o1, w1 = att.self_attention(xb[b, :L], s, proj)
        np.testing.assert_allclose(out[b, :L], o1, atol=1e-5)
        np.testing.assert_allclose(w[b, :, :L, :L], w1, atol=1e-6)
        assert np.all(w[b, :, :, L:] == 0)


def test_residual_and_layers():
    x = rand_x(2, n=4, d=8)
    p = Projections.identity(8)
    out, _ = att.self_attention(x, AttentionSettings(residual=1.0), p)
    np.testing.assert_allclose(out, x, atol=1e-7)
    once, _ = att.self_attention(x, AttentionSettings(), p)
    mixed, _ = att.self_attention(x, AttentionSettings(residual=0.25), p)
    np.testing.assert_allclose(mixed, 0.25 * x + 0.75 * once, atol=1e-6)
    twice, _ = att.self_attention(x, AttentionSettings(layers=2), p)
    again, _ = att.self_attention(once, AttentionSettings(), p)
    np.testing.assert_allclose(twice, again, atol=1e-6)
    with pytest.raises(ValueError, match="d_out"):
        att.self_attention(x, AttentionSettings(layers=2), rand_proj(0)[0])


@pytest.mark.parametrize(
    "kw", [dict(similarity="l2"), dict(temperature=0), dict(temperature=-1), dict(residual=1.5), dict(layers=0)]
)
def test_settings_validate(kw):
    with pytest.raises(ValueError):
        AttentionSettings(**kw)


def test_float32_compute_from_float64_input():
    x = rand_x(0).astype(np.float64)
    out, w = att.self_attention(x, AttentionSettings(), Projections.glorot(8, 2))
    assert out.dtype == np.float32 and w.dtype == np.float32


# ---------------------------------------------------------------- positions and prior


def test_sinusoidal_positions_formula():
    pe = att.sinusoidal_positions(3, 4)
    assert pe.dtype == np.float32 and pe.shape == (3, 4)
    # PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)); d = 4: 10000^(2/4) = 100
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1], atol=1e-7)
    np.testing.assert_allclose(pe[1], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], atol=1e-7)
    np.testing.assert_allclose(pe[2], [math.sin(2), math.cos(2), math.sin(0.02), math.cos(0.02)], atol=1e-7)
    pe50 = att.sinusoidal_positions(8, 50)
    f = 10000 ** (-10 / 50)  # i = 5
    np.testing.assert_allclose(pe50[7, 10:12], [math.sin(7 * f), math.cos(7 * f)], atol=1e-6)
    odd = att.sinusoidal_positions(3, 5)  # odd d: a last sine column
    np.testing.assert_allclose(odd[2, 4], math.sin(2 / 10000 ** (4 / 5)), atol=1e-7)
    np.testing.assert_allclose(odd[2, 3], math.cos(2 / 10000 ** (2 / 5)), atol=1e-7)


def test_zipf_prior_values():
    N, a = 100_000, 1e-3
    H_N = sum(1.0 / k for k in range(1, N + 1))
    ranks = np.array([0, 9, 999, 99_999])
    got = att.zipf_prior(ranks, N, a)
    want = [math.log(a / (a + 1 / ((r + 1) * H_N))) for r in ranks]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert np.all(np.diff(got) > 0)  # frequent words are lowered most
    assert got[0] < -4 and got[-1] > -0.01


# ---------------------------------------------------------------- projections


def test_glorot_weights():
    p = Projections.glorot(50, heads=2, seed=3)
    limit = math.sqrt(6 / 100)
    for W in (p.W_q, p.W_k, p.W_v):
        assert W.shape == (50, 50) and W.dtype == np.float32
        assert np.abs(W).max() <= limit and np.abs(W).max() > 0.95 * limit
    assert not p.trained and p.source == "random(seed=3)"
    q = Projections.glorot(50, heads=2, seed=3)
    assert np.array_equal(p.W_q, q.W_q)
    assert not np.array_equal(p.W_q, Projections.glorot(50, heads=2, seed=4).W_q)
    assert not np.array_equal(p.W_q, p.W_k)
    assert Projections.identity(50).trained


@pytest.mark.parametrize("d,heads", [(50, 3), (50, 0), (8, 16)])
def test_heads_must_divide_d(d, heads):
    with pytest.raises(ValueError, match="heads"):
        Projections.identity(d, heads)


def _contract(**changes):
    a = {"W_q": np.zeros((6, 4)), "W_k": np.zeros((6, 4)), "W_v": np.zeros((6, 2))}
    a.update(changes)
    return {k: v for k, v in a.items() if v is not None}


@pytest.mark.parametrize(
    "arrays, words",
    [
        (_contract(W_q=None), ["'W_q'", "missing"]),
        (_contract(W_k=np.zeros((6, 3))), ["W_k", "(6, 4)", "(6, 3)"]),
        (_contract(W_k=np.zeros((5, 4))), ["W_k", "(6, 4)", "(5, 4)"]),
        (_contract(W_q=np.zeros((7, 4)), W_k=np.zeros((7, 4))), ["W_q", "(6, 4)", "(7, 4)"]),
        (_contract(W_v=np.zeros((6,))), ["W_v", "found (6)"]),
        (_contract(W_o=np.zeros((3, 6))), ["W_o", "(2, 6)", "(3, 6)"]),
        (_contract(b_q=np.zeros(3)), ["b_q", "(4,)", "(3,)"]),
        (_contract(b_v=np.zeros((1, 2))), ["b_v", "(2,)", "(1, 2)"]),
        (_contract(W_o=np.zeros((2, 5)), b_o=np.zeros(6)), ["b_o", "(5,)", "(6,)"]),
        (_contract(b_o=np.zeros(6)), ["b_o", "W_o"]),
        (_contract(W_x=np.zeros(2)), ["W_x"]),
        (_contract(W_q=np.full((6, 4), np.nan)), ["W_q", "NaN"]),
        (_contract(W_q=np.zeros((6, 4), dtype=complex)), ["W_q", "complex"]),
        (_contract(W_q=np.array([["a"] * 4] * 6)), ["W_q", "dtype"]),
    ],
)
def test_weights_contract_errors_name_key_and_shapes(arrays, words):
    with pytest.raises(ValueError) as e:
        Projections.from_arrays(arrays, 6, 1, source="t")
    msg = str(e.value).replace(",)", ")")  # a 1-d shape may be written (4,) or (4)
    for w in words:
        assert w.replace(",)", ")") in msg


def test_weights_contract_heads_must_divide_columns():
    with pytest.raises(ValueError, match="3 heads"):
        Projections.from_arrays(_contract(), 6, 3, source="t")


def test_weights_contract_accepts_and_casts_to_float32():
    a = _contract(W_o=np.ones((2, 3)), b_q=np.ones(4), b_k=np.ones(4), b_v=np.ones(2), b_o=np.ones(3))
    p = Projections.from_arrays(a, 6, 2, source="w.npz")
    assert p.W_q.dtype == np.float32 and p.b_o.dtype == np.float32
    assert (p.d_in, p.d_out, p.heads, p.trained, p.source) == (6, 3, 2, True, "w.npz")


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_parameter_free_is_stage_one_of_the_layer_loop(similarity):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(5, 6)).astype(np.float32)
    new, weights = att.parameter_free(x, similarity=similarity, scale=False)
    # by hand: a_i = softmax_j(sim(x_i, x_j)), new_i = sum_j a_ij x_j
    u = x / np.linalg.norm(x, axis=1, keepdims=True) if similarity == "cosine" else x
    logits = u.astype(np.float64) @ u.T.astype(np.float64)
    a = np.exp(logits - logits.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    np.testing.assert_allclose(weights, a, atol=1e-6)
    np.testing.assert_allclose(new, a @ x, atol=1e-5)
    loop, w = att.self_attention(x, att.AttentionSettings(similarity=similarity, scale=False), att.Projections.identity(6))
    np.testing.assert_allclose(loop, new, atol=1e-6)
    np.testing.assert_allclose(w[0], weights, atol=1e-7)


def test_build_mask_rows_of_a_block_equal_the_whole_mask():
    s = att.AttentionSettings(causal=True, exclude_self=True)
    whole = att.build_mask(7, s)
    np.testing.assert_array_equal(att.build_mask(3, s, n_k=7, offset=2), whole[2:5])
    assert att.build_mask(4, att.AttentionSettings()) is None
