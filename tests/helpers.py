"""Test data shared by several test files (fixtures that write files are in conftest.py)."""

from __future__ import annotations

import math

import numpy as np

D = 50  # dimension of the embedded default vectors (GloVe 6B 50d)


def random_weights(d: int = D, hk: int = 8, hv: int = 6, d_out: int | None = 4, seed: int = 7, biases: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    a = {
        "W_q": rng.normal(0, 0.3, (d, hk)).astype(np.float32),
        "W_k": rng.normal(0, 0.3, (d, hk)).astype(np.float32),
        "W_v": rng.normal(0, 0.3, (d, hv)).astype(np.float32),
    }
    if d_out is not None:
        a["W_o"] = rng.normal(0, 0.3, (hv, d_out)).astype(np.float32)
    if biases:
        a["b_q"] = rng.normal(0, 0.1, hk).astype(np.float32)
        a["b_k"] = rng.normal(0, 0.1, hk).astype(np.float32)
        a["b_v"] = rng.normal(0, 0.1, hv).astype(np.float32)
        if d_out is not None:
            a["b_o"] = rng.normal(0, 0.1, d_out).astype(np.float32)
    return a


# A tiny vocabulary with hand-picked 4-d vectors, written by gensim in both text formats.
SMALL_WORDS = ["money", "bank", "grows", "river", "the", "'s"]
SMALL_VECTORS = np.array(
    [
        [1.0, 0.0, 0.5, 0.0],
        [0.5, 0.5, 0.0, 1.0],
        [0.0, 1.0, 0.0, -0.5],
        [0.0, 0.0, 1.0, 1.0],
        [0.25, 0.25, 0.25, 0.25],
        [-1.0, 0.5, 0.0, 0.0],
    ],
    dtype=np.float32,
)


# ---------------------------------------------------------------- float64 references


def ref_softmax(logits, mask=None):
    logits = np.asarray(logits, dtype=np.float64)
    if mask is not None:
        logits = np.where(mask, logits, -np.inf)
    out = np.zeros_like(logits)
    for idx in np.ndindex(logits.shape[:-1]):
        row = logits[idx]
        if np.isfinite(row).any():
            e = np.exp(row - row[np.isfinite(row)].max())
            out[idx] = e / e.sum()
    return out


def ref_heads(x, W_q, W_k, W_v, H, b_q=None, b_k=None, b_v=None, W_o=None, b_o=None, mask=None, scale=True, T=1.0):
    """Multi-head attention as a loop over heads, float64, written from the formula."""
    x = np.asarray(x, dtype=np.float64)
    dk, dv = W_q.shape[1] // H, W_v.shape[1] // H
    outs, weights = [], []
    for h in range(H):
        cq, cv = slice(h * dk, (h + 1) * dk), slice(h * dv, (h + 1) * dv)
        q = x @ W_q[:, cq] + (0 if b_q is None else b_q[cq])
        k = x @ W_k[:, cq] + (0 if b_k is None else b_k[cq])
        v = x @ W_v[:, cv] + (0 if b_v is None else b_v[cv])
        w = ref_softmax(q @ k.T / ((math.sqrt(dk) if scale else 1.0) * T), mask)
        outs.append(w @ v)
        weights.append(w)
    out = np.concatenate(outs, axis=-1)
    if W_o is not None:
        out = out @ W_o + (0 if b_o is None else b_o)
    return out, np.stack(weights)


# ---------------------------------------------------------------- JSON numbers


def float_literals(text: str) -> list[str]:
    """Every non-integer number of a JSON document (or of JSON Lines), as printed."""
    import json

    found: list[str] = []
    for line in text.splitlines() if text.lstrip().startswith("{") and "\n{" in text else [text]:
        if line.strip():
            json.loads(line, parse_float=lambda t: found.append(t) or 0.0)
    return found


def assert_float32_shortest(text: str) -> int:
    """The house rule for JSON numbers, precisely: each printed float t reads back (as float64)
    as exactly the decimal that numpy prints for float32(t) at its shortest round-trip length,
    so t carries no digit beyond what float32 holds (0.7021033763885498 fails, 0.7021034
    passes). Returns how many floats were checked."""
    floats = float_literals(text)
    for t in floats:
        shortest = np.format_float_scientific(np.float32(float(t)), unique=True)
        assert float(t) == float(shortest), f"{t} is not float32-shortest ({shortest})"
    return len(floats)


def npz_tokens(z) -> list[str]:
    """The tokens of a batch .npz, decoded the way docs/formats.md tells users to."""
    return z["tokens_utf8"].tobytes().decode("utf-8").splitlines()


def word2vec_file_of(path, words: list[str], dim: int = 8, seed: int = 0):
    """A word2vec text file of `words` with random vectors, written by gensim; returns its path."""
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(seed)
    kv = KeyedVectors(vector_size=dim)
    kv.add_vectors(list(words), rng.normal(size=(len(words), dim)).astype(np.float32))
    kv.save_word2vec_format(str(path))
    return path
