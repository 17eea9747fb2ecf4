"""Shared fixtures: weights files written with numpy, small vector files written by gensim,
and HTML pages built from hand-made data, so that a test can put any text (`</script>`,
quotes, markup) into the tokens without a vocabulary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attncli.pipeline import Config, EmbedResult

from .helpers import SMALL_VECTORS, SMALL_WORDS, random_weights


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and config directories: the suite never reads or writes
    the user's ~/.cache/attncli or ~/.config/attncli (a test may point them elsewhere again)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("ATTNCLI_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.delenv("ATTNCLI_TRUST", raising=False)
    monkeypatch.delenv("ATTNCLI_VECTORS", raising=False)


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


# Tokens that would run or break the page if they were ever inserted as markup.
HOSTILE = [
    "</script><script>window.pwned=1</script>",
    "<img src=x onerror=window.pwned=2>",
    "\"double' single",
    "<!--",
    "&amp; & \u2028",
]


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def make_result(surfaces: list[str], heads: int = 1, seed: int = 0, text: str | None = None, **config) -> EmbedResult:
    """An EmbedResult with these tokens and random attention whose rows sum to 1."""
    rng = np.random.default_rng(seed)
    n, d = len(surfaces), 6
    per_head = _softmax_rows(rng.normal(size=(heads, n, n)) * 2).astype(np.float32)  # (H, n, n)
    static = rng.normal(size=(n, d)).astype(np.float32)
    cfg = Config(heads=heads, **config)
    return EmbedResult(
        text=text if text is not None else " ".join(surfaces),
        tokens=[s.lower() for s in surfaces],
        surfaces=list(surfaces),
        positions=list(range(n)),
        oov=[],
        static=static,
        attention=per_head.mean(axis=0),
        heads=per_head,
        contextual=per_head.mean(axis=0) @ static,
        config=cfg,
        vectors={"name": "hand-made", "dim": d, "vocab_size": 1234},
    )


def make_compare(sentences: list[str] | None = None, word: str = "bank") -> dict:
    """A `compare --json` object, built by hand."""
    sentences = sentences or [
        "I sat on the bank of the river",
        "the bank raised its interest rates",
        "we fished from the grassy bank",
    ]
    m = len(sentences)
    rng = np.random.default_rng(1)
    occurrences = []
    for s, sent in enumerate(sentences):
        toks = sent.split()
        weights = _softmax_rows(rng.normal(size=len(toks)))
        occurrences.append({
            "sentence": s,
            "index": toks.index(word) if word in toks else 0,
            "attention": {t: float(w) for t, w in zip(toks, weights)},
            "neighbors": [[f"near{s}a", 0.91 - 0.1 * s], [f"near{s}b", 0.52]],
        })
    ctx = np.full((m, m), 0.5) + np.eye(m) * 0.5
    ctx[0, 1] = ctx[1, 0] = 0.25
    return {
        "word": word,
        "sentences": sentences,
        "static_cosine": np.ones((m, m)).tolist(),
        "contextual_cosine": ctx.tolist(),
        "occurrences": occurrences,
        "vectors": {"name": "hand-made", "dim": 6, "vocab_size": 1234},
        "config": {"vectors": "default", "mode": "simple", "heads": 1, "similarity": "dot", "scale": True, "temperature": 1.0},
    }


@pytest.fixture
def hostile_result() -> EmbedResult:
    return make_result(HOSTILE + ["bank"], heads=2, text=" ".join(HOSTILE) + " bank")


@pytest.fixture
def result_factory():
    return make_result


@pytest.fixture
def compare_data() -> dict:
    return make_compare()


@pytest.fixture
def hostile_tokens() -> list[str]:
    return list(HOSTILE)
