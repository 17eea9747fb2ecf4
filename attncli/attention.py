"""Self-attention in pure numpy: numpy in, numpy out. No I/O, no printing, no gensim.

The three stages of the notes (`parameter_free` is stage 1 on its own; `self_attention` runs
any of them, layer after layer):

1. parameter-free:  new_i = sum_j a_ij x_j,  a_i = softmax_j(sim(x_i, x_j))
2. query/key/value: Q = X W_q + b_q,  K = X W_k + b_k,  V = X W_v + b_v  (row vectors; the
   same matrices for every word)
3. scaled dot-product, per head h:  softmax(Q_h K_h^T / sqrt(d_k)) V_h; heads concatenated,
   then @ W_o + b_o when given.

Every function accepts leading batch dimensions: x is (..., n, d). Compute is float32.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

SIMILARITIES = ("dot", "cosine")


def parameter_free(x: np.ndarray, mask: np.ndarray | None = None, **scores) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1 of the notes: each word's new vector is a weighted sum of the words of its
    sentence, new_i = sum_j a_ij x_j with a_i = softmax_j(sim(x_i, x_j)): no parameters, the
    static vectors play query, key and value at once. x (..., n, d) -> (new (..., n, d),
    weights (..., n, n)); `scores` as for attention() (similarity, scale, temperature, key_bias)."""
    return attention(x, x, x, mask, **scores)


# ---------------------------------------------------------------- softmax and masks


def softmax(logits: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Numerically stable softmax over the last axis.

    `mask` (broadcastable to logits, True = may attend) zeroes the masked weights. A row with
    nothing to attend to becomes all zeros, never NaN.
    """
    if mask is not None:
        logits = np.where(mask, logits, -np.inf)
    top = _row_max(logits)  # (..., 1)
    top = np.where(np.isfinite(top), top, 0)  # fully masked row: exp(-inf - 0) = 0
    e = np.exp(logits - top)
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total == 0, 1, total)


def _row_max(a: np.ndarray) -> np.ndarray:
    """a.max(axis=-1, keepdims=True), the same values; for many short rows (batches of short
    sentences) an elementwise maximum over the columns, several times faster than numpy's
    reduction along a short last axis."""
    n = a.shape[-1]
    if n == 0 or n > 32 or a.size < 4096:
        return a.max(axis=-1, keepdims=True)
    top = a[..., 0].copy()
    for j in range(1, n):
        np.maximum(top, a[..., j], out=top)
    return top[..., None]


def causal_mask(n_q: int, n_k: int | None = None, offset: int = 0) -> np.ndarray:
    """(n_q, n_k) True where query i (at position offset + i) may see key j: j <= i."""
    n_k = n_q if n_k is None else n_k
    return np.arange(n_k)[None, :] <= (offset + np.arange(n_q))[:, None]


def self_mask(n_q: int, n_k: int | None = None, offset: int = 0) -> np.ndarray:
    """(n_q, n_k) True everywhere but the diagonal: a word is built from its context alone."""
    n_k = n_q if n_k is None else n_k
    return np.arange(n_k)[None, :] != (offset + np.arange(n_q))[:, None]


def window_mask(n_q: int, n_k: int | None = None, offset: int = 0, window: int = 0) -> np.ndarray:
    """(n_q, n_k) True where key j is within `window` tokens of query i (at position offset + i):
    |j - (offset + i)| <= window. Attention then costs O(n * window), not O(n^2)."""
    n_k = n_q if n_k is None else n_k
    return np.abs(np.arange(n_k)[None, :] - (offset + np.arange(n_q))[:, None]) <= window


def padding_mask(lengths: np.ndarray, n: int) -> np.ndarray:
    """(B, 1, n) True for real keys, False for padding, for sequences of `lengths` padded to n."""
    return (np.arange(n)[None, :] < np.asarray(lengths)[:, None])[:, None, :]


# ---------------------------------------------------------------- inputs


def sinusoidal_positions(n: int, d: int) -> np.ndarray:
    """(n, d) positional encoding of Vaswani et al. 2017:
    PE[p, 2i] = sin(p / 10000^(2i/d)),  PE[p, 2i+1] = cos(p / 10000^(2i/d))."""
    pos = np.arange(n, dtype=np.float64)[:, None]  # (n, 1)
    freq = 10000.0 ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # (ceil(d/2),)
    angles = pos * freq  # (n, ceil(d/2))
    pe = np.empty((n, d), dtype=np.float64)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d // 2])
    return pe.astype(np.float32)


def zipf_probability(ranks: np.ndarray, vocab_size: int) -> np.ndarray:
    """p(w) (float64) from a word's 0-based frequency rank by Zipf's law:
    p(rank r) = 1 / ((r + 1) * H_N), H_N the N-th harmonic number."""
    harmonic = np.log(vocab_size) + 0.5772156649 + 1.0 / (2 * vocab_size)
    return 1.0 / ((np.asarray(ranks, dtype=np.float64) + 1.0) * harmonic)


def sif_prior(p: np.ndarray, a: float) -> np.ndarray:
    """Log SIF weight log(a / (a + p(w))) (float32) of words of probability p. Added to the
    attention logits of a key, it lowers very common words ("the", ",") and leaves rare ones."""
    return np.log(a / (a + p)).astype(np.float32)


def zipf_prior(ranks: np.ndarray, vocab_size: int, a: float = 1e-3) -> np.ndarray:
    """sif_prior of words by their 0-based frequency rank, p(w) = zipf_probability."""
    return sif_prior(zipf_probability(ranks, vocab_size), a)


# ---------------------------------------------------------------- attention


def attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    similarity: str = "dot",
    scale: bool = True,
    temperature: float = 1.0,
    key_bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """softmax(sim(Q, K) / sqrt(d_k) / T + key_bias) V  ->  (output, weights).

    query (..., n_q, d_k), key (..., n_k, d_k), value (..., n_k, d_v); mask broadcastable to
    (..., n_q, n_k), True = may attend; key_bias broadcastable to (..., 1, n_k), added to every
    query's logits (a prior over keys). sim is the dot product, or the cosine when
    similarity="cosine". Returns output (..., n_q, d_v) and weights (..., n_q, n_k).
    """
    logits = scores(query, key, similarity=similarity, scale=scale, temperature=temperature, key_bias=key_bias)
    weights = softmax(logits, mask)  # (..., n_q, n_k)
    return weights @ value, weights  # (..., n_q, d_v)


def scores(
    query: np.ndarray,
    key: np.ndarray,
    *,
    similarity: str = "dot",
    scale: bool = True,
    temperature: float = 1.0,
    key_bias: np.ndarray | None = None,
) -> np.ndarray:
    """The logits of `attention`, before mask and softmax: sim(Q, K) / sqrt(d_k) / T + key_bias.

    query (..., n_q, d_k), key (..., n_k, d_k) -> (..., n_q, n_k). With scale=False, T=1 and no
    key_bias it is the similarity alone (dot product, or cosine)."""
    d_k = query.shape[-1]
    if similarity == "cosine":
        query, key = (_unit(query),) * 2 if key is query else (_unit(query), _unit(key))  # Q = K: once
    elif similarity != "dot":
        raise ValueError(f"similarity must be one of {SIMILARITIES}, not {similarity!r}")
    logits = query @ np.swapaxes(key, -1, -2)  # (..., n_q, n_k)
    divisor = (np.sqrt(d_k) if scale else 1.0) * temperature
    if divisor != 1.0:
        logits = logits / np.float32(divisor)
    if key_bias is not None:
        logits = logits + key_bias
    return logits


def norms(x: np.ndarray) -> np.ndarray:
    """(...,) float64 lengths of the rows of x (..., d), without overflow: each row is scaled
    by its peak before squaring (the squares of float32 values of 1e20 and up are inf)."""
    x = np.asarray(x)
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1])
    peak = np.abs(x).max(axis=-1).astype(np.float64)  # (...,)
    scaled = x / np.where(peak == 0, 1, peak)[..., None]  # (..., d), entries in [-1, 1]
    return peak * np.sqrt(np.einsum("...i,...i->...", scaled, scaled, dtype=np.float64))


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    with np.errstate(over="ignore"):
        norm = np.sqrt(np.einsum("...i,...i->...", x, x))[..., None]  # as np.linalg.norm, without its temporaries
    if not np.isfinite(norm).all():  # squares past float32 (values ~1e20 and up): scale by each row's peak first
        peak = np.abs(x).max(axis=-1, keepdims=True)
        x = x / np.where(peak == 0, 1, peak)
        norm = np.sqrt(np.einsum("...i,...i->...", x, x))[..., None]
    norm[norm == 0] = 1
    return x / norm


# ---------------------------------------------------------------- projections


@dataclass(frozen=True)
class Projections:
    """Learned maps of stage 2 and 3, row-vector convention: y = x @ W + b.

    W_q, W_k: (d, H*d_k); W_v: (d, H*d_v); W_o: (H*d_v, d_out) or None; head h uses columns
    h*d_k:(h+1)*d_k. `trained` is False for random weights, so every display can say so.
    """

    W_q: np.ndarray
    W_k: np.ndarray
    W_v: np.ndarray
    W_o: np.ndarray | None = None
    b_q: np.ndarray | None = None
    b_k: np.ndarray | None = None
    b_v: np.ndarray | None = None
    b_o: np.ndarray | None = None
    heads: int = 1
    trained: bool = True
    source: str = "file"  # "identity", "random(seed=N)" or the weights file's path

    @property
    def d_in(self) -> int:
        return self.W_q.shape[0]

    @property
    def d_out(self) -> int:
        return self.W_o.shape[1] if self.W_o is not None else self.W_v.shape[1]

    @classmethod
    def identity(cls, d: int, heads: int = 1) -> "Projections":
        """W = I: stage 2 with these weights is stage 1 (split into heads when heads > 1)."""
        check_heads(d, heads)
        eye = np.eye(d, dtype=np.float32)
        return cls(eye, eye, eye, heads=heads, trained=True, source="identity")

    @classmethod
    def glorot(cls, d: int, heads: int = 1, seed: int = 0) -> "Projections":
        """Untrained Glorot-uniform weights, U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
        check_heads(d, heads)
        rng = np.random.default_rng(seed)
        limit = np.sqrt(6.0 / (d + d))
        W_q, W_k, W_v = (rng.uniform(-limit, limit, (d, d)).astype(np.float32) for _ in range(3))
        return cls(W_q, W_k, W_v, heads=heads, trained=False, source=f"random(seed={seed})")

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], d: int, heads: int, source: str) -> "Projections":
        """Validate a weights file's arrays against the contract; ValueError names the key,
        the expected and the found shape. A `settings` member (the attention settings the
        weights carry, read by weightsfile) is not a matrix and is left out here."""
        arrays = {k: v for k, v in arrays.items() if k != "settings"}
        for name in ("W_q", "W_k", "W_v"):
            if name not in arrays:
                raise ValueError(f"missing key {name!r} (found: {', '.join(sorted(arrays)) or 'none'})")
        unknown = set(arrays) - {"W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o"}
        if unknown:
            raise ValueError(f"unknown key {sorted(unknown)[0]!r}")
        a = {k: np.asarray(v) for k, v in arrays.items()}
        for name, v in a.items():
            if not np.issubdtype(v.dtype, np.number) or np.issubdtype(v.dtype, np.complexfloating):
                raise ValueError(f"{name}: expected real numbers, found dtype {v.dtype}")
            if not np.isfinite(v).all():
                raise ValueError(f"{name}: holds NaN or infinite values")
        hk, hv = a["W_q"].shape[-1], a["W_v"].shape[-1]
        expect = {"W_q": (d, hk), "W_k": (d, hk), "W_v": (d, hv)}
        if "W_o" in a:
            expect["W_o"] = (hv, a["W_o"].shape[-1] if a["W_o"].ndim == 2 else -1)
        for b, w in (("b_q", "W_q"), ("b_k", "W_k"), ("b_v", "W_v"), ("b_o", "W_o")):
            if b in a:
                if w not in expect:
                    raise ValueError(f"{b} given without {w}")
                expect[b] = (expect[w][1],)
        for name, shape in expect.items():
            if a[name].shape != shape:
                raise ValueError(f"{name}: expected shape {_shape(shape)}, found {_shape(a[name].shape)}")
        if hk % heads or hv % heads:
            raise ValueError(
                f"W_q has {hk} and W_v {hv} columns: not divisible into {heads} heads"
            )
        with np.errstate(over="ignore"):  # checked just below
            f32 = {k: v.astype(np.float32) for k, v in a.items()}
        for name, v in f32.items():
            if not np.isfinite(v).all():  # float64 values past float32's 3.4e38
                raise ValueError(f"{name}: values up to {float(np.abs(a[name]).max()):.3g} do not fit float32 "
                                 f"(at most {float(np.finfo(np.float32).max):.3g})")
        return cls(**f32, heads=heads, trained=True, source=source)


def check_heads(d: int, heads: int) -> None:
    if heads < 1 or d % heads:
        raise ValueError(f"{d} dimensions cannot be split into {heads} heads")


def _shape(shape) -> str:
    return "(" + ", ".join("?" if s == -1 else str(s) for s in shape) + ")"


def _split_heads(x: np.ndarray, heads: int) -> np.ndarray:
    *lead, n, hd = x.shape
    return np.swapaxes(x.reshape(*lead, n, heads, hd // heads), -2, -3)  # (..., H, n, d_h)


def _merge_heads(x: np.ndarray) -> np.ndarray:
    *lead, heads, n, dh = x.shape
    return np.swapaxes(x, -2, -3).reshape(*lead, n, heads * dh)  # (..., n, H*d_h)


def _is_identity(proj: Projections) -> bool:
    """Built by Projections.identity (one eye matrix shared by W_q, W_k, W_v, no biases)."""
    return proj.source == "identity" and proj.W_q is proj.W_k is proj.W_v and proj.b_q is None and proj.b_k is None and proj.b_v is None


def _qkv(x: np.ndarray, proj: Projections) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V of x (..., n, d): (..., n, H*d_k), (..., n, H*d_k), (..., n, H*d_v)."""
    if _is_identity(proj):  # x @ I == x exactly: skip three matmuls (stage 1, the default)
        return x, x, x
    q = x @ proj.W_q if proj.b_q is None else x @ proj.W_q + proj.b_q
    k = x @ proj.W_k if proj.b_k is None else x @ proj.W_k + proj.b_k
    v = x @ proj.W_v if proj.b_v is None else x @ proj.W_v + proj.b_v
    return q, k, v


@dataclass(frozen=True)
class HeadInputs:
    """Queries, keys and values split into heads, as multi_head attends with them."""

    q: np.ndarray  # (..., H, n, d_k)
    k: np.ndarray  # (..., H, n, d_k)
    v: np.ndarray  # (..., H, n, d_v)


def head_inputs(x: np.ndarray, proj: Projections) -> HeadInputs:
    """Q = X W_q + b_q, K = X W_k + b_k, V = X W_v + b_v of x (..., n, d), head h taking
    columns h*d_k:(h+1)*d_k (and h*d_v:(h+1)*d_v of V)."""
    q, k, v = _qkv(x, proj)
    H = proj.heads
    return HeadInputs(_split_heads(q, H), _split_heads(k, H), _split_heads(v, H))


def multi_head(
    x: np.ndarray,
    proj: Projections,
    mask: np.ndarray | None = None,
    **kw,
) -> tuple[np.ndarray, np.ndarray]:
    """Stage 2 and 3 over x (..., n, d) -> (output (..., n, d_out), weights (..., H, n, n))."""
    H = proj.heads
    q, k, v = _qkv(x, proj)
    if mask is not None:
        mask = np.expand_dims(mask, -3)  # broadcast over heads
    kb = kw.pop("key_bias", None)
    if kb is not None:
        kb = np.expand_dims(kb, -3)
    out, weights = attention(
        _split_heads(q, H), _split_heads(k, H), _split_heads(v, H), mask, key_bias=kb, **kw
    )  # (..., H, n, d_v), (..., H, n, n)
    return _project_out(_merge_heads(out), proj), weights  # (..., n, d_out), (..., H, n, n)


# ---------------------------------------------------------------- the whole layer stack


@dataclass(frozen=True)
class AttentionSettings:
    """How attention is computed; pipeline.Config holds these plus where inputs come from."""

    similarity: str = "dot"  # "dot" | "cosine": cosine ignores vector length (GloVe norms ~ frequency)
    scale: bool = True  # divide logits by sqrt(d_k): keeps softmax out of saturation as d grows
    temperature: float = 1.0  # logits / T; T < 1 sharpens, T > 1 flattens
    exclude_self: bool = False  # mask the diagonal: a word is built from its context alone
    causal: bool = False  # token i sees tokens j <= i only
    residual: float = 0.0  # out = residual * x + (1 - residual) * attended
    layers: int = 1  # apply the same attention this many times
    window: int = 0  # each token attends to the `window` tokens on either side only; 0: to all

    def __post_init__(self):
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, not {self.similarity!r}")
        if not 0 < self.temperature < float("inf"):
            raise ValueError(f"temperature must be > 0 and finite, not {self.temperature}")
        if not 0.0 <= self.residual <= 1.0:
            raise ValueError(f"residual must be in [0, 1], not {self.residual}")
        if self.layers < 1:
            raise ValueError(f"layers must be >= 1, not {self.layers}")
        if self.window < 0:
            raise ValueError(f"window must be >= 0, not {self.window}")

    @property
    def scores(self) -> dict:
        """The keyword arguments of attention() that shape the logits."""
        return dict(similarity=self.similarity, scale=self.scale, temperature=self.temperature)


def build_mask(
    n_q: int, settings: AttentionSettings, n_k: int | None = None, offset: int = 0, lengths: np.ndarray | None = None
) -> np.ndarray | None:
    """The boolean mask of these settings for queries offset..offset+n_q-1 against n_k keys:
    (n_q, n_k), or (B, n_q, n_k) with padded `lengths`; None when nothing is masked."""
    n_k = n_q if n_k is None else n_k
    mask = None
    if settings.causal:
        mask = causal_mask(n_q, n_k, offset)
    if settings.exclude_self:
        m = self_mask(n_q, n_k, offset)
        mask = m if mask is None else mask & m
    if settings.window:
        m = window_mask(n_q, n_k, offset, settings.window)
        mask = m if mask is None else mask & m
    if lengths is not None:
        pad = padding_mask(lengths, n_k)  # (B, 1, n_k)
        mask = pad if mask is None else mask & pad
    return mask


def self_attention(
    x: np.ndarray,
    settings: AttentionSettings,
    proj: Projections,
    key_bias: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
    block_cells: int | None = None,
    on_rows=None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Run `settings.layers` layers of attention over x (..., n, d).

    Returns the contextual vectors (..., n, d_out) and the last layer's weights (..., H, n, n).
    `lengths` (B,) marks padded batches: keys past a sequence's length are masked.
    With `block_cells`, x is one long sequence (n, d) computed in blocks of BLOCK_ROWS queries
    against at most block_cells // BLOCK_ROWS keys at a time (see _blocked_layer): memory is
    bounded by block_cells, the time grows as n^2 (as n with a window), and no weights are
    returned (None). `on_rows(r)` (blocked only) hears of each r query rows done, layer after
    layer: n * layers in all.
    """
    x = np.asarray(x, dtype=np.float32)
    n, d = x.shape[-2:]  # tokens, dims
    if (settings.layers > 1 or settings.residual > 0) and proj.d_out != d:
        raise ValueError(f"residual mixing and stacked layers need d_out == d, found {proj.d_out} != {d}")
    if block_cells is not None and x.ndim != 2:
        raise ValueError(f"blocked attention takes one sequence (n, d), found shape {x.shape}")
    if key_bias is not None:
        key_bias = np.expand_dims(np.asarray(key_bias, dtype=np.float32), -2)  # (..., 1, n)
    mask = build_mask(n, settings, lengths=lengths) if block_cells is None else None
    h, weights = x, None
    for _ in range(settings.layers):
        if block_cells is None:
            attended, weights = multi_head(h, proj, mask, key_bias=key_bias, **settings.scores)
        else:
            attended = _blocked_layer(h, proj, settings, key_bias, block_cells, on_rows)
        h = _mix(h, attended, settings.residual)
    return h.astype(np.float32, copy=False), weights


def attention_rows(
    x: np.ndarray,
    rows: np.ndarray,
    settings: AttentionSettings,
    proj: Projections,
    key_bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One layer of `self_attention(x)` for the query rows `rows` only: x (n, d), rows (R,) ->
    (contextual (R, d_out), weights (H, R, n)), the same numbers as self_attention's rows (up to
    float rounding: other matrix shapes), in R x n cells instead of n x n. What a word's
    occurrences in long lines need (attncli.corpus). One layer only: a second needs every row
    of the first."""
    if settings.layers != 1:
        raise ValueError("attention_rows computes one layer; more need every row")
    x = np.asarray(x, dtype=np.float32)
    n, d = x.shape  # tokens, dims
    if settings.residual > 0 and proj.d_out != d:
        raise ValueError(f"residual mixing needs d_out == d, found {proj.d_out} != {d}")
    rows = np.asarray(rows, dtype=np.int64)  # (R,)
    q, k, v = _qkv(x, proj)  # (n, H*d_k), (n, H*d_k), (n, H*d_v)
    masks = [build_mask(1, settings, n, offset=int(r)) for r in rows.tolist()]
    mask = None if masks and masks[0] is None else np.concatenate(masks)[None] if masks else None  # (1, R, n)
    kb = None if key_bias is None else np.asarray(key_bias, dtype=np.float32)[None, None, :]  # (1, 1, n)
    H = proj.heads
    out, weights = attention(_split_heads(q[rows], H), _split_heads(k, H), _split_heads(v, H), mask, key_bias=kb,
                             **settings.scores)  # (H, R, d_v), (H, R, n)
    return _mix(x[rows], _project_out(_merge_heads(out), proj), settings.residual).astype(np.float32, copy=False), weights


def blocked_self_attention(
    x: np.ndarray,
    settings: AttentionSettings,
    proj: Projections,
    key_bias: np.ndarray | None = None,
    block_cells: int = 1 << 20,
) -> np.ndarray:
    """`self_attention(x, ...)[0]` for one long sequence x (n, d), in row blocks."""
    return self_attention(x, settings, proj, key_bias, block_cells=block_cells)[0]


def blocked_cells(n: int, settings: AttentionSettings, heads: int = 1) -> int:
    """Attention cells (logits) the blocked path computes for one sequence of n tokens, about:
    n x n per head and layer, n x (2 window + 1) with a window."""
    keys = min(n, 2 * settings.window + 1) if settings.window else n
    return n * keys * heads * settings.layers


def _mix(h: np.ndarray, attended: np.ndarray, residual: float) -> np.ndarray:
    """residual * h + (1 - residual) * attended: keep some of each word's own vector."""
    if residual <= 0:
        return attended
    lam = np.float32(residual)
    return lam * h + (np.float32(1) - lam) * attended


def _project_out(out: np.ndarray, proj: Projections) -> np.ndarray:
    """Concatenated heads (..., n, H*d_v) -> (..., n, d_out) through W_o (+ b_o) when given."""
    if proj.W_o is None:
        return out
    return out @ proj.W_o if proj.b_o is None else out @ proj.W_o + proj.b_o


BLOCK_ROWS = 256  # query rows per block: big enough for BLAS to run at speed, small enough to share out
MAX_WORKERS = 4  # threads over row blocks (numpy's exp and BLAS release the GIL); BLAS itself on one each
PROGRESS_CELLS = 400_000_000  # a line needing more attention cells than this (~2 s) reports its progress


def _blocked_layer(
    h: np.ndarray, proj: Projections, settings: AttentionSettings, key_bias: np.ndarray | None, block_cells: int,
    on_rows=None,
) -> np.ndarray:
    """One layer over one long sequence h (n, d), block by block:
    out[r0:r1] = softmax(Q[r0:r1] K^T / ...) V with the masks of rows r0..r1.

    Row blocks have BLOCK_ROWS queries; each is computed against keys in slices of
    block_cells // BLOCK_ROWS columns with the running (online) softmax: per slice s,
    m' = max(m, max_j s_j), l' = l e^(m - m') + sum_j e^(s_j - m'), acc' = acc e^(m - m') + e^(s - m') V_s,
    and out = acc / l at the end; a row with no key to attend to stays zero. Memory is
    block_cells per worker whatever n is. Cosine keys are normalized once per layer; each
    layer needs the whole previous layer's output (n x d) for its keys and values.
    `on_rows(r)` is called with the number of query rows finished, as blocks complete."""
    n = h.shape[0]  # tokens
    H = proj.heads
    rows = min(BLOCK_ROWS, n)  # query rows per block
    width = max(1, block_cells // rows)  # key columns per slice
    q, k, v = _qkv(h, proj)  # (n, H*d_k), (n, H*d_k), (n, H*d_v)
    same = q is k  # identity projections: queries are the keys
    # (H, n, d_h), contiguous: a strided view would make each block's matmul skip BLAS
    k, v = (np.ascontiguousarray(_split_heads(a, H)) for a in (k, v))
    if settings.similarity == "cosine":
        k = _unit(k)  # once per layer, not per block
    q = k if same else np.ascontiguousarray(_split_heads(q, H))  # (H, n, d_k)
    unit_q = settings.similarity == "cosine" and not same
    divisor = np.float32((np.sqrt(q.shape[-1]) if settings.scale else 1.0) * settings.temperature)
    bias = None if key_bias is None else np.asarray(key_bias, dtype=np.float32).reshape(-1)  # (n,)
    d_v = v.shape[-1]
    merged = np.empty((n, d_v * H), dtype=np.float32)  # (n, H*d_v)

    def block(r0: int) -> int:
        r1 = min(n, r0 + rows)
        lo, hi = _key_range(r0, r1, n, settings)
        for head in range(H):
            qb = _unit(q[head, r0:r1]) if unit_q else q[head, r0:r1]  # (b, d_k)
            merged[r0:r1, head * d_v:(head + 1) * d_v] = _online_softmax(
                qb, k[head], v[head], bias, settings, r0, lo, hi, width, divisor
            )  # (b, d_v)
        return r1 - r0

    starts = range(0, n, rows)
    workers = min(MAX_WORKERS, _cores(), len(starts))
    with blas_threads(1):  # tiny products fight over threads; the row blocks are shared out instead
        if workers <= 1:
            for r0 in starts:
                done = block(r0)
                if on_rows is not None:
                    on_rows(done)
        else:
            import contextvars
            from concurrent.futures import ThreadPoolExecutor

            caller = contextvars.copy_context()  # the caller's np.errstate holds in the workers too
            with ThreadPoolExecutor(workers) as pool:
                for done in pool.map(lambda r0: caller.copy().run(block, r0), starts):
                    if on_rows is not None:
                        on_rows(done)
    return _project_out(merged, proj)  # (n, d_out)


def _key_range(r0: int, r1: int, n: int, settings: AttentionSettings) -> tuple[int, int]:
    """[lo, hi): the keys that queries r0..r1-1 may see at all; the rest is never computed."""
    hi = min(n, r1) if settings.causal else n
    if settings.window:  # query i sees i - window .. i + window
        return max(0, r0 - settings.window), min(hi, r1 + settings.window)
    return 0, hi


def _online_softmax(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None, settings: AttentionSettings,
    r0: int, lo: int, hi: int, width: int, divisor: np.float32,
) -> np.ndarray:
    """softmax(q k[lo:hi]^T / divisor + bias, masked) v[lo:hi] for the queries r0.. (q (b, d_k)),
    key slice by key slice (see _blocked_layer) -> (b, d_v)."""
    b = q.shape[0]
    if hi - lo <= width:  # one slice: the plain softmax, in attention()'s order of operations
        s = _logits(q, k, bias, settings, r0, lo, hi, divisor)  # (b, w)
        top = s.max(axis=1, keepdims=True)  # (b, 1)
        s -= np.where(np.isfinite(top), top, 0)
        np.exp(s, out=s)
        total = s.sum(axis=1, keepdims=True)  # (b, 1)
        s /= np.where(total == 0, 1, total)
        return s @ v[lo:hi]  # (b, d_v)
    # running sums in float64: one rounding per slice would add up over many slices
    acc = np.zeros((b, v.shape[-1]))  # (b, d_v)
    total = np.zeros(b)  # (b,)
    top = np.full(b, -np.inf, dtype=np.float32)  # (b,) running row maximum
    for k0 in range(lo, hi, width):
        k1 = min(hi, k0 + width)
        s = _logits(q, k, bias, settings, r0, k0, k1, divisor)  # (b, w)
        new = np.maximum(top, s.max(axis=1))  # (b,)
        safe = np.where(np.isfinite(new), new, 0).astype(np.float32)  # nothing seen yet: exp(-inf - 0) = 0
        s -= safe[:, None]
        np.exp(s, out=s)  # (b, w)
        shrink = np.exp((top - safe).astype(np.float64))  # (b,) earlier slices, rescaled to the new maximum
        total = total * shrink + s.sum(axis=1)
        acc = acc * shrink[:, None] + s @ v[k0:k1]
        top = new
    return (acc / np.where(total == 0, 1, total)[:, None]).astype(np.float32)  # (b, d_v)


def _logits(
    q: np.ndarray, k: np.ndarray, bias: np.ndarray | None, settings: AttentionSettings,
    r0: int, k0: int, k1: int, divisor: np.float32,
) -> np.ndarray:
    """(b, k1 - k0) masked logits of queries r0.. (q (b, d_k)) against keys k0..k1-1."""
    s = q @ k[k0:k1].T  # (b, w)
    if divisor != 1:
        s /= divisor
    if bias is not None:
        s += bias[k0:k1]
    if _masks_slice(settings, r0, r0 + len(q), k0, k1):
        mask = build_mask(len(q), settings, n_k=k1 - k0, offset=r0 - k0)  # query r0 + i against key k0 + j
        np.copyto(s, -np.inf, where=~mask)
    return s


def _masks_slice(settings: AttentionSettings, r0: int, r1: int, k0: int, k1: int) -> bool:
    """Whether the masks hide any of keys k0..k1-1 from queries r0..r1-1 (most slices: none)."""
    if settings.exclude_self and k0 < r1 and r0 < k1:  # the diagonal crosses the slice
        return True
    if settings.window and (k0 < r1 - 1 - settings.window or k1 - 1 > r0 + settings.window):
        return True  # a key beyond the window of the last or the first query
    return settings.causal and k1 - 1 > r0  # a key after the first query


def _cores() -> int:
    """The cores this process may run on (its CPU affinity; all of them where unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def blas_threads(count: int):
    """Run the block with BLAS limited to `count` threads (threadpoolctl), so that tiny block
    products do not fight over cores and every run uses the same number of threads."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=count, user_api="blas"):
        yield
