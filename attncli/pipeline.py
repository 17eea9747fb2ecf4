"""The Python API the CLI uses, and notebooks too:

    >>> import attncli
    >>> r = attncli.embed("money bank grows")
    >>> r.tokens, r.attention.shape, r.contextual.shape
    (['money', 'bank', 'grows'], (3, 3), (3, 50))

Returns dataclasses of numpy arrays; raises attncli.errors exceptions, never prints.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import attention as att
from .errors import DataError, UsageError
from .tokens import Token, tokenize
from .vectors import Vectors, load_vectors

MODES = ("simple", "qkv")
POSITIONS = ("none", "sinusoidal")
OOV_POLICIES = ("skip", "zero", "error")
PRIORS = ("none", "zipf")


@dataclass(frozen=True)
class Config:
    """Every option of an embedding run; `dataclasses.asdict(config)` is the JSON "config".

    The attention defaults were chosen by accuracy on the WiC train split (README, "Defaults
    that show meaning"): cosine scores, each word attending to its context only, frequent
    words damped by a Zipf prior, vectors centered on the mean of the 10,000 most frequent
    words, and 20% of the word's own vector kept. `Config.textbook()` is the plain
    softmax(x_i . x_j / sqrt(d)) of the notes.
    """

    vectors: str = "default"  # "default" (embedded GloVe 6B 50d) or a path
    mode: str = "simple"  # "simple": parameter-free (stage 1); "qkv": projections (stages 2-3)
    weights: str = "identity"  # qkv only: "identity" | "random" (untrained Glorot) | path to .npz
    seed: int = 0  # for weights="random"
    heads: int = 1
    similarity: str = "cosine"  # raw GloVe dot products let each word attend mostly to itself
    scale: bool = False  # divide by sqrt(d_k); cosines are already in [-1, 1]
    temperature: float = 1.0
    exclude_self: bool = True  # a word's new vector is built from its context alone
    causal: bool = False
    positions: str = "none"  # "sinusoidal": add Vaswani et al.'s encoding; attention is order-blind without it
    prior: str = "zipf"  # lower the logits of frequent words ("the", ",") by log(a / (a + p(w)))
    prior_a: float = 3e-4  # SIF's a
    residual: float = 0.2  # out = residual * x + (1 - residual) * attended: keep some of the word itself
    layers: int = 1
    center: int = 10_000  # subtract the mean of the N most frequent vectors first (0: off)
    oov: str = "skip"  # words not in the vocabulary: "skip" | "zero" | "error"

    @classmethod
    def textbook(cls, **changes) -> "Config":
        """The notes' formula as written: softmax(x_i . x_j / sqrt(d)), nothing else."""
        plain = dict(similarity="dot", scale=True, temperature=1.0, exclude_self=False, prior="none", center=0, residual=0.0)
        return cls(**{**plain, **changes})

    def __post_init__(self):
        for name, allowed in (("mode", MODES), ("positions", POSITIONS), ("oov", OOV_POLICIES), ("prior", PRIORS)):
            if getattr(self, name) not in allowed:
                raise UsageError(f"--{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.mode == "simple" and self.weights != "identity":
            raise UsageError("--weights needs --mode qkv (simple mode has no parameters)")
        if self.heads < 1:
            raise UsageError(f"--heads must be >= 1, not {self.heads}")
        if self.center < 0:
            raise UsageError(f"--center must be >= 0, not {self.center}")
        if not self.prior_a > 0:
            raise UsageError(f"--prior-a must be > 0, not {self.prior_a}")
        try:
            self.settings
        except ValueError as e:
            raise UsageError(str(e)) from None

    @property
    def settings(self) -> att.AttentionSettings:
        return att.AttentionSettings(
            similarity=self.similarity,
            scale=self.scale,
            temperature=self.temperature,
            exclude_self=self.exclude_self,
            causal=self.causal,
            residual=self.residual,
            layers=self.layers,
        )

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    def describe(self, proj: att.Projections | None = None) -> str:
        """One line for captions: mode, similarity, scaling and every non-default option."""
        parts = [self.mode if self.mode == "simple" else f"qkv, weights {_weights_label(self, proj)}"]
        if self.heads > 1:
            parts.append(f"{self.heads} heads")
        parts.append(f"{self.similarity}{' / sqrt(d_k)' if self.scale else ''}")
        if self.temperature != 1.0:
            parts.append(f"T={self.temperature:g}")
        for flag, label in ((self.exclude_self, "exclude-self"), (self.causal, "causal")):
            if flag:
                parts.append(label)
        if self.positions != "none":
            parts.append(f"{self.positions} positions")
        if self.prior != "none":
            parts.append(f"{self.prior} prior a={self.prior_a:g}")
        if self.residual:
            parts.append(f"residual {self.residual:g}")
        if self.layers > 1:
            parts.append(f"{self.layers} layers")
        if self.center:
            parts.append(f"centered on top {self.center:,}")
        return ", ".join(parts)


def _weights_label(cfg: Config, proj: att.Projections | None) -> str:
    if cfg.weights == "random":
        return f"random seed {cfg.seed} (untrained)"
    return cfg.weights


@dataclass
class EmbedResult:
    """One sentence, embedded. n = number of tokens that took part, d = static dimension."""

    text: str
    tokens: list[str]  # (n,) normalized tokens that took part, in order
    surfaces: list[str]  # (n,) the same tokens as written
    positions: list[int]  # (n,) index of each in the full token list
    oov: list[dict]  # [{"token", "position"}]: words not in the vocabulary (skipped, zeroed)
    static: np.ndarray  # (n, d) the static vectors
    attention: np.ndarray  # (n, n) attention weights, mean over heads, of the last layer
    heads: np.ndarray  # (H, n, n) per-head weights of the last layer
    contextual: np.ndarray  # (n, d_out) the new, contextual vectors
    config: Config
    vectors: dict  # {"name", "dim", "vocab_size"}
    untrained: bool = False  # random projections: the numbers show the mechanism, not meaning


@functools.lru_cache(maxsize=4)
def _cached_vectors(source: str) -> Vectors:
    return load_vectors(source)


def get_vectors(source: str | os.PathLike = "default") -> Vectors:
    """Load once per process: a notebook calling embed() in a loop reads the file once."""
    return _cached_vectors(str(source))


def load_projections(cfg: Config, d: int) -> att.Projections:
    """The W_q, W_k, W_v (, W_o) that --mode/--weights/--heads ask for, checked against d."""
    try:
        if cfg.mode == "simple" or cfg.weights == "identity":
            return att.Projections.identity(d, cfg.heads)
        if cfg.weights == "random":
            return att.Projections.glorot(d, cfg.heads, cfg.seed)
    except ValueError as e:
        raise UsageError(f"--heads {cfg.heads}: {e}") from None
    return _load_weights_file(Path(cfg.weights), d, cfg.heads)


@functools.lru_cache(maxsize=4)
def _load_weights_file(path: Path, d: int, heads: int) -> att.Projections:
    if not path.is_file():
        raise DataError(f"{path}: no such weights file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        reason = "holds pickled objects, which attncli never loads" if "pickle" in str(e) else f"not a readable .npz ({e})"
        raise DataError(f"{path}: {reason}") from None
    try:
        return att.Projections.from_arrays(arrays, d, heads, source=str(path))
    except ValueError as e:
        raise DataError(f"{path}: {e}") from None


@dataclass
class Prepared:
    """A sentence after tokenizing and vocabulary look-up, before attention."""

    text: str
    tokens: list[Token]  # every token
    kept: list[int]  # positions of the tokens that take part
    ids: np.ndarray  # (n,) vocabulary row per kept token, -1 for a zeroed OOV token
    oov: list[dict]


def prepare(text: str, vec: Vectors, cfg: Config) -> Prepared:
    """Tokenize and look up; apply the OOV policy. Raises DataError for a sentence that
    cannot be embedded (empty, only punctuation, nothing in the vocabulary)."""
    index = vec.index
    tokens = tokenize(text, index.__contains__)
    if not tokens:
        raise DataError("empty sentence: nothing to embed")
    if not any(ch.isalnum() for t in tokens for ch in t.text):
        raise DataError(f"{_clip(text)!r} holds only punctuation: nothing to embed")
    kept, ids, oov = [], [], []
    for i, t in enumerate(tokens):
        row = index.get(t.text)
        if row is None:
            oov.append({"token": t.text, "position": i})
            if cfg.oov == "skip":
                continue
            row = -1
        kept.append(i)
        ids.append(row)
    if oov and cfg.oov == "error":
        words = ", ".join(repr(o["token"]) for o in oov)
        raise DataError(f"not in the vocabulary of {vec.name}: {words} (--oov skip or zero to go on)")
    if not kept:
        raise DataError(f"no word of {_clip(text)!r} is in the vocabulary of {vec.name}")
    return Prepared(text, tokens, kept, np.asarray(ids, dtype=np.int64), oov)


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def static_rows(vec: Vectors, ids: np.ndarray) -> np.ndarray:
    """(n, d) float32; zero rows for ids == -1 (OOV under --oov zero)."""
    x = vec.rows(np.where(ids < 0, 0, ids))
    x[ids < 0] = 0.0
    return x


def key_prior(vec: Vectors, ids: np.ndarray, cfg: Config) -> np.ndarray | None:
    """(n,) log SIF weights per key token, None without --prior."""
    if cfg.prior == "none":
        return None
    if vec.counts is not None:
        p = vec.counts[np.where(ids < 0, 0, ids)] / vec.counts.sum()
        p = np.where(ids < 0, 0.0, p)
        return np.log(cfg.prior_a / (cfg.prior_a + p)).astype(np.float32)
    ranks = np.where(ids < 0, vec.vocab_size, ids)  # unknown words rank as the rarest
    return att.zipf_prior(ranks, vec.vocab_size, cfg.prior_a)


def model_input(x: np.ndarray, vec: Vectors, cfg: Config) -> np.ndarray:
    """What attention sees: the static vectors, centered when --center is on. Zeroed OOV
    rows stay zero."""
    if not cfg.center:
        return x
    return np.where(np.any(x != 0, axis=-1, keepdims=True), x - vec.mean(cfg.center), x)


def contextualize(
    x: np.ndarray, cfg: Config, proj: att.Projections, prior: np.ndarray | None = None, lengths=None
) -> tuple[np.ndarray, np.ndarray]:
    """Model input (..., n, d) -> (contextual (..., n, d_out), weights (..., H, n, n))."""
    if cfg.positions == "sinusoidal":
        x = x + att.sinusoidal_positions(x.shape[-2], x.shape[-1])
    try:
        return att.self_attention(x, cfg.settings, proj, key_bias=prior, lengths=lengths)
    except ValueError as e:
        raise UsageError(str(e)) from None


def embed(text: str, config: Config | None = None, vectors: Vectors | None = None, **options) -> EmbedResult:
    """Embed one sentence: `embed("money bank grows", similarity="cosine")`.

    `options` override fields of `config` (see Config). `vectors` defaults to config.vectors,
    loaded once per process."""
    cfg = (config or Config()).replace(**options) if options else (config or Config())
    vec = vectors if vectors is not None else get_vectors(cfg.vectors)
    proj = load_projections(cfg, vec.dim)
    prep = prepare(text, vec, cfg)
    x = static_rows(vec, prep.ids)  # (n, d)
    contextual, heads = contextualize(model_input(x, vec, cfg), cfg, proj, key_prior(vec, prep.ids, cfg))
    return EmbedResult(
        text=text,
        tokens=[prep.tokens[i].text for i in prep.kept],
        surfaces=[prep.tokens[i].surface for i in prep.kept],
        positions=prep.kept,
        oov=prep.oov,
        static=x,
        attention=heads.mean(axis=0),  # (n, n)
        heads=heads,  # (H, n, n)
        contextual=contextual,  # (n, d_out)
        config=cfg,
        vectors=vec.info(),
        untrained=not proj.trained,
    )


def neighbors(result: EmbedResult, k: int, vec: Vectors | None = None, exclude_self_word: bool = True) -> list[list[tuple[str, float]]]:
    """The k vocabulary words nearest (cosine) to each contextual vector of `result`, in the
    same space attention worked in (centered when --center is on). Needs d_out == d."""
    vec = vec if vec is not None else get_vectors(result.config.vectors)
    if result.contextual.shape[1] != vec.dim:
        raise UsageError(f"neighbours need contextual vectors of the vocabulary's {vec.dim} dims, not {result.contextual.shape[1]} (W_o changes the size)")
    exclude = [{t} for t in result.tokens] if exclude_self_word else None
    return vec.nearest(result.contextual, k, exclude, center=result.config.center)


@dataclass
class Occurrence:
    sentence: int  # index into CompareResult.sentences
    index: int  # row of the word among result.tokens
    result: EmbedResult
    neighbors: list[tuple[str, float]]

    @property
    def attention(self) -> dict[str, float]:
        """What the word attended to: token -> weight (a token that occurs twice gets the sum)."""
        out: dict[str, float] = {}
        for tok, w in zip(self.result.tokens, self.result.attention[self.index]):
            out[tok] = out.get(tok, 0.0) + float(w)
        return out


@dataclass
class CompareResult:
    word: str
    sentences: list[str]
    static_cosine: np.ndarray  # (m, m): 1.0 everywhere for known words: one vector per word
    contextual_cosine: np.ndarray  # (m, m)
    occurrences: list[Occurrence]
    config: Config
    vectors: dict


def compare(
    sentences: list[str],
    word: str,
    config: Config | None = None,
    vectors: Vectors | None = None,
    occurrence: int = 1,
    k: int = 5,
    exclude_word: bool = True,
    **options,
) -> CompareResult:
    """Embed each sentence and follow `word` through them: its static and contextual cosines
    between sentences, what it attended to, and its nearest vocabulary words in each.
    `occurrence` picks the K-th appearance (1-based) in sentences holding the word more than
    once; a sentence holding it once uses that one."""
    cfg = (config or Config()).replace(**options) if options else (config or Config())
    if len(sentences) < 2:
        raise UsageError(f"compare needs at least 2 sentences, got {len(sentences)}")
    if occurrence < 1:
        raise UsageError(f"--occurrence counts from 1, not {occurrence}")
    vec = vectors if vectors is not None else get_vectors(cfg.vectors)
    target = _single_token(word, vec)
    occurrences = []
    for i, text in enumerate(sentences):
        result = embed(text, cfg, vec)
        rows = [r for r, t in enumerate(result.tokens) if t == target]
        if not rows:
            missing = "out of the vocabulary and skipped (try --oov zero)" if any(o["token"] == target for o in result.oov) else "absent"
            raise DataError(f"{target!r} is {missing} in sentence {i + 1}: {_clip(text)!r}")
        if occurrence > len(rows) > 1:
            raise DataError(f"sentence {i + 1} holds {target!r} {len(rows)} times, not {occurrence}: {_clip(text)!r}")
        row = rows[occurrence - 1] if len(rows) > 1 else rows[0]
        occurrences.append(Occurrence(i, row, result, []))
    ctx = np.stack([o.result.contextual[o.index] for o in occurrences])  # (m, d_out)
    static = np.stack([o.result.static[o.index] for o in occurrences])  # (m, d)
    if k > 0:
        near = vec.nearest(ctx, k, [{target}] * len(occurrences) if exclude_word else None, center=cfg.center) if ctx.shape[1] == vec.dim else None
        if near is None:
            raise UsageError(f"neighbours need {vec.dim}-dim contextual vectors; use -n 0 with a W_o that changes the size")
        for o, nb in zip(occurrences, near):
            o.neighbors = nb
    return CompareResult(word, list(sentences), cosine_matrix(static), cosine_matrix(ctx), occurrences, cfg, vec.info())


def _single_token(word: str, vec: Vectors) -> str:
    toks = tokenize(word, vec.index.__contains__)
    if len(toks) != 1:
        raise UsageError(f"--word must be a single token, {word!r} is {len(toks)}: {[t.text for t in toks]}")
    return toks[0].text


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    """(m, m) cosines between the rows of x; a zero row has cosine 0 with everything."""
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    u = x / np.where(norm == 0, 1, norm)
    return np.clip(u @ u.T, -1.0, 1.0).astype(np.float32)
