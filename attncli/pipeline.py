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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import attention as att
from .errors import DataError, UsageError
from .tokens import Token, tokenize
from .vectors import FORMATS as VECTOR_FORMATS
from .vectors import UNICODE_ERRORS, Vectors, load_vectors

MODES = ("simple", "qkv")
POSITIONS = ("none", "sinusoidal")
OOV_POLICIES = ("skip", "zero", "error")
PRIORS = ("none", "zipf")


@dataclass(frozen=True)
class Config:
    """Every option of an embedding run; `dataclasses.asdict(config)` is the JSON "config"."""

    vectors: str = "default"  # "default" (embedded GloVe 6B 50d) or a path
    mode: str = "simple"  # "simple": parameter-free (stage 1); "qkv": projections (stages 2-3)
    weights: str = "identity"  # qkv only: "identity" | "random" (untrained Glorot) | path to .npz
    seed: int = 0  # for weights="random"
    heads: int = 1
    similarity: str = "dot"
    scale: bool = True  # divide by sqrt(d_k)
    temperature: float = 1.0
    exclude_self: bool = False
    causal: bool = False
    positions: str = "none"  # "sinusoidal": add Vaswani et al.'s encoding; attention is order-blind without it
    prior: str = "none"  # "zipf": lower the logits of frequent words by log(a / (a + p(w)))
    prior_a: float = 1e-3  # SIF's a
    residual: float = 0.0  # out = residual * x + (1 - residual) * attended
    layers: int = 1
    oov: str = "skip"  # words not in the vocabulary: "skip" | "zero" | "error"
    vectors_format: str = "auto"  # how to read --vectors: "auto" (by content) or a format of vectors.FORMATS
    limit: int | None = None  # keep only the first (most frequent) N words of the vectors
    unicode_errors: str = "strict"  # words of a word2vec/GloVe file that are not UTF-8: "strict" | "replace" | "ignore"
    trust: bool = False  # allow unpickling a gensim .kv/.model file (unpickling runs code from the file)

    def __post_init__(self):
        for name, allowed in (("mode", MODES), ("positions", POSITIONS), ("oov", OOV_POLICIES), ("prior", PRIORS)):
            if getattr(self, name) not in allowed:
                raise UsageError(f"--{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.vectors_format not in VECTOR_FORMATS:
            raise UsageError(f"--vectors-format must be one of {', '.join(VECTOR_FORMATS)}, not {self.vectors_format!r}")
        if self.unicode_errors not in UNICODE_ERRORS:
            raise UsageError(f"--unicode-errors must be one of {', '.join(UNICODE_ERRORS)}, not {self.unicode_errors!r}")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be >= 1, not {self.limit}")
        if self.mode == "simple" and self.weights != "identity":
            raise UsageError("--weights needs --mode qkv (simple mode has no parameters)")
        if self.heads < 1:
            raise UsageError(f"--heads must be >= 1, not {self.heads}")
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
    oov: list[dict]  # [{"token", "position"}]: words not in the vocabulary (skipped, zeroed); fastText
    #                  words given subword vectors add "handled": "subword"
    static: np.ndarray  # (n, d) the static vectors
    attention: np.ndarray  # (n, n) attention weights, mean over heads, of the last layer
    heads: np.ndarray  # (H, n, n) per-head weights of the last layer
    contextual: np.ndarray  # (n, d_out) the new, contextual vectors
    config: Config
    vectors: dict  # {"name", "dim", "vocab_size"}
    untrained: bool = False  # random projections: the numbers show the mechanism, not meaning


@functools.lru_cache(maxsize=4)
def _cached_vectors(source: str, vectors_format: str, limit: int | None, unicode_errors: str, trust: bool) -> Vectors:
    return load_vectors(source, vectors_format, limit, unicode_errors, trust)


def get_vectors(
    source: str | os.PathLike = "default",
    vectors_format: str = "auto",
    limit: int | None = None,
    unicode_errors: str = "strict",
    trust: bool = False,
) -> Vectors:
    """Load once per process: a notebook calling embed() in a loop reads the file once."""
    return _cached_vectors(str(source), vectors_format, limit, unicode_errors, trust)


def vectors_for(cfg: Config) -> Vectors:
    """The vectors that cfg's --vectors, --vectors-format, --limit, ... name (once per process)."""
    return get_vectors(cfg.vectors, cfg.vectors_format, cfg.limit, cfg.unicode_errors, cfg.trust)


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
    import zipfile  # only for its exception: not imported on every start-up

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
    ids: np.ndarray  # (n,) vocabulary row per kept token, -1 for an OOV token (zeroed, or subword)
    oov: list[dict]
    subword: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)  # kept index -> fastText OOV vector


def prepare(text: str, vec: Vectors, cfg: Config) -> Prepared:
    """Tokenize and look up; apply the OOV policy. Raises DataError for a sentence that
    cannot be embedded (empty, only punctuation, nothing in the vocabulary)."""
    tokens = tokenize(text, vec.__contains__)
    if not tokens:
        raise DataError("empty sentence: nothing to embed")
    if not any(ch.isalnum() for t in tokens for ch in t.text):
        raise DataError(f"{_clip(text)!r} holds only punctuation: nothing to embed")
    kept, ids, oov, subword = [], [], [], {}
    for i, t in enumerate(tokens):
        row = vec.lookup(t.text)  # not vec.index: one sentence need not build the whole index
        if row is None and (v := vec.oov_vector(t.text)) is not None:  # fastText: from its n-grams
            oov.append({"token": t.text, "position": i, "handled": "subword"})
            subword[len(kept)] = v
            row = -1
        elif row is None:
            oov.append({"token": t.text, "position": i})
            if cfg.oov == "skip":
                continue
            row = -1
        kept.append(i)
        ids.append(row)
    if cfg.oov == "error" and (missing := [o for o in oov if "handled" not in o]):
        words = ", ".join(repr(o["token"]) for o in missing)
        raise DataError(f"not in the vocabulary of {vec.name}: {words} (--oov skip or zero to go on)")
    if not kept:
        raise DataError(f"no word of {_clip(text)!r} is in the vocabulary of {vec.name}")
    return Prepared(text, tokens, kept, np.asarray(ids, dtype=np.int64), oov, subword)


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def static_rows(vec: Vectors, ids: np.ndarray, subword: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """(n, d) float32; zero rows for ids == -1 (OOV under --oov zero), except the rows that
    `subword` (Prepared.subword) gives a fastText vector."""
    x = vec.rows(np.where(ids < 0, 0, ids))
    x[ids < 0] = 0.0
    for i, v in (subword or {}).items():
        x[i] = v
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


def contextualize(
    x: np.ndarray, cfg: Config, proj: att.Projections, prior: np.ndarray | None = None, lengths=None
) -> tuple[np.ndarray, np.ndarray]:
    """Static (..., n, d) -> (contextual (..., n, d_out), weights (..., H, n, n))."""
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
    vec = vectors if vectors is not None else vectors_for(cfg)
    proj = load_projections(cfg, vec.dim)
    prep = prepare(text, vec, cfg)
    x = static_rows(vec, prep.ids, prep.subword)  # (n, d)
    contextual, heads = contextualize(x, cfg, proj, key_prior(vec, prep.ids, cfg))
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
