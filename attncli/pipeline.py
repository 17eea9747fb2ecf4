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
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import attention as att
from . import report
from .errors import DataError, Option, UsageError
from .tokens import TOKENIZERS, Token, nfc, spans, tokenize
from .vectors import FORMATS as VECTOR_FORMATS
from .vectors import UNICODE_ERRORS, Vectors, load_vectors

MODES = ("simple", "qkv")
POSITIONS = ("none", "sinusoidal")
OOV_POLICIES = ("skip", "zero", "error")
CASES = ("auto", "keep", "lower")  # see Lexicon
PRIORS = ("none", "zipf")


# Options whose default depends on the mode (see Config).
MODE_DEFAULTS = {
    "simple": dict(similarity="cosine", scale=False, exclude_self=True, prior="zipf", center=10_000, residual=0.2),
    "qkv": dict(similarity="dot", scale=True, exclude_self=False, prior="none", center=0, residual=0.0),
}

INT64_MAX = 2**63 - 1  # integers beyond this cannot be written as JSON numbers (nor held in .npz int64)
# The allowed range of every numeric option, for Config and the command line alike.
LIMITS = {
    "seed": (0, INT64_MAX),
    "heads": (1, INT64_MAX),
    "temperature": (1e-6, 1e6),
    "prior_a": (1e-12, 1e6),
    "residual": (0.0, 1.0),
    "layers": (1, 64),
    "center": (0, INT64_MAX),
    "limit": (1, INT64_MAX),
    "window": (0, INT64_MAX),
}
_CHOICES = {
    "mode": MODES,
    "similarity": att.SIMILARITIES,
    "positions": POSITIONS,
    "prior": PRIORS,
    "oov": OOV_POLICIES,
    "case": CASES,
    "tokenizer": TOKENIZERS,
    "vectors_format": VECTOR_FORMATS,
    "unicode_errors": UNICODE_ERRORS,
}


@dataclass(frozen=True)
class Config:
    """Every option of an embedding run, as chosen: None means "not chosen, the mode's default".

    `resolved()` fills the six options whose default depends on the mode (MODE_DEFAULTS):
    - simple (stage 1): tuned for meaning on the WiC train split (docs/wic.md): cosine scores,
      each word attending to its context only, frequent words damped by a Zipf prior, vectors
      centered on the mean of the 10,000 most frequent words, 20% of the word's own vector kept;
    - qkv (stages 2-3): the notes' scaled dot-product softmax(Q K^T / sqrt(d_k)) V as written,
      so that trained weights run as they were trained.
    Because choices are kept apart from defaults, `replace(mode="qkv")` keeps what was chosen
    and lets the rest follow the new mode. The library resolves once where a run starts;
    results carry the resolved Config, whose `to_dict()` is the JSON "config".
    `Config.textbook()` is the plain formula in either mode.
    """

    vectors: str = "default"  # "default" (embedded GloVe 6B 50d) or a path
    mode: str = "simple"  # "simple": parameter-free (stage 1); "qkv": projections (stages 2-3)
    weights: str = "identity"  # qkv only: "identity" | "random" (untrained Glorot) | "wic" (shipped) | path to .npz
    seed: int = 0  # for weights="random"
    heads: int = 1
    similarity: str | None = None  # "dot" | "cosine"; raw GloVe dot products let a word attend mostly to itself
    scale: bool | None = None  # divide by sqrt(d_k); cosines are already in [-1, 1]
    temperature: float = 1.0
    exclude_self: bool | None = None  # a word's new vector is built from its context alone
    causal: bool = False
    positions: str = "none"  # "sinusoidal": add Vaswani et al.'s encoding; attention is order-blind without it
    prior: str | None = None  # "zipf": lower the logits of frequent words ("the", ",") by log(a / (a + p(w)))
    prior_a: float = 3e-4  # SIF's a
    residual: float | None = None  # out = residual * x + (1 - residual) * attended: keep some of the word itself
    layers: int = 1
    window: int = 0  # each token attends to the W tokens on either side only (0: all): cost O(n W), not O(n^2)
    center: int | None = None  # subtract the mean of the N most frequent vectors first (0: off)
    oov: str = "skip"  # words not in the vocabulary: "skip" | "zero" | "error"
    case: str = "auto"  # look-up: "lower" everything, "keep" the case, "auto": lower unless the vocabulary is cased (Lexicon)
    tokenizer: str = "glove"  # "glove" (PTB-style rules) | "whitespace" (the text is already tokenized)
    vectors_format: str = "auto"  # how to read --vectors: "auto" (by content) or a format of vectors.FORMATS
    limit: int | None = None  # keep only the first (most frequent) N words of the vectors
    unicode_errors: str = "strict"  # words of a word2vec/GloVe file that are not UTF-8: "strict" | "replace" | "ignore"
    trust: bool = False  # allow unpickling a gensim .kv/.model file (unpickling runs code from the file)

    @classmethod
    def textbook(cls, **changes) -> "Config":
        """The notes' formula as written: softmax(x_i . x_j / sqrt(d)), nothing else."""
        return cls(**{**MODE_DEFAULTS["qkv"], **changes})

    def __post_init__(self):
        for f in dataclasses.fields(self):
            check_option(f.name, getattr(self, f.name))
        if self.mode == "simple" and self.weights != "identity":
            raise UsageError(Option("weights"), " needs ", Option("mode", value="qkv"), " (simple mode has no parameters)")
        if self.is_resolved:
            try:
                self.settings
            except ValueError as e:
                raise UsageError(str(e)) from None

    @property
    def is_resolved(self) -> bool:
        return all(getattr(self, name) is not None for name in MODE_DEFAULTS[self.mode])

    def resolved(self) -> "Config":
        """The same choices with the mode's defaults filled in; itself when nothing is open."""
        if self.is_resolved:
            return self
        defaults = MODE_DEFAULTS[self.mode]
        return dataclasses.replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})

    def replace(self, **changes) -> "Config":
        """A copy with `changes` (dataclasses.replace: what was chosen stays chosen)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Every option, resolved: the JSON "config" and the settings-file format."""
        return dataclasses.asdict(self.resolved())

    @property
    def settings(self) -> att.AttentionSettings:
        """The attention options, resolved, as attention.py takes them."""
        r = self.resolved()
        return att.AttentionSettings(**{f.name: getattr(r, f.name) for f in dataclasses.fields(att.AttentionSettings)})

    def describe(self, vocab_size: int | None = None) -> str:
        """One line for captions: mode, similarity, scaling and every non-default option. Given
        the vocabulary size, centering reports the words really averaged, min(center, vocab_size)."""
        c = self.resolved()
        weights = {"random": f"random seed {c.seed} (untrained)", "wic": "wic (shipped, trained on WiC train)"}.get(c.weights, c.weights)
        parts = [c.mode if c.mode == "simple" else f"qkv, weights {weights}"]
        if c.heads > 1:
            parts.append(f"{c.heads} heads")
        parts.append(f"{c.similarity}{' / sqrt(d_k)' if c.scale else ''}")
        if c.temperature != 1.0:
            parts.append(f"T={c.temperature:g}")
        for flag, label in ((c.exclude_self, "exclude-self"), (c.causal, "causal")):
            if flag:
                parts.append(label)
        if c.positions != "none":
            parts.append(f"{c.positions} positions")
        if c.prior != "none":
            parts.append(f"{c.prior} prior a={c.prior_a:g}")
        if c.residual:
            parts.append(f"residual {c.residual:g}")
        if c.layers > 1:
            parts.append(f"{c.layers} layers")
        if c.window:
            parts.append(f"window {c.window}")
        if c.center:
            used = c.center if vocab_size is None else min(c.center, vocab_size)
            parts.append(f"centered on top {used:,}" + (f" (all, of {c.center:,} asked)" if used < c.center else ""))
        return ", ".join(parts)


_TYPES = {f.name: f.type for f in dataclasses.fields(Config)}


def check_option(name: str, value) -> None:
    """UsageError unless `value` is a valid value of option `name` (its type, choices and
    range): the one check behind Config, settings files and the API. The error names the
    option (errors.Option): `temperature` in Python, `--temperature` on the command line."""
    flag = Option(name)
    kind = _TYPES[name]
    if value is None:
        if "None" in kind:
            return
        raise UsageError(flag, " needs a value")
    if kind.startswith("bool"):
        ok = isinstance(value, bool)
        want = "true or false"
    elif kind.startswith("int"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "a whole number"
    elif kind.startswith("float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        want = "a finite number"
    else:
        ok = isinstance(value, str)
        want = "a string"
    if not ok:
        raise UsageError(flag, f" must be {want}, not {value!r}")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise UsageError(flag, f" must be one of {', '.join(_CHOICES[name])}, not {value!r}")
    if name in LIMITS:
        low, high = LIMITS[name]
        if not low <= value <= high:
            raise UsageError(flag, f" must be in [{low:g}, {high:g}], not {value:g}" if kind.startswith("float")
                             else f" must be between {low} and {high}, not {value}")


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
    line: int | None = None  # from batch.embed_batch: the 1-based number of the input text
    sentence: np.ndarray | None = None  # (d_out,) one vector for the sentence, when pooled (pool="mean" | "sif")

    def __repr__(self) -> str:
        shapes = {"attention": self.attention, "heads": self.heads, "static": self.static,
                  "contextual": self.contextual, "sentence": self.sentence}
        return "\n".join([
            f"EmbedResult{'' if self.line is None else f' (line {self.line})'}: {_clip(self.text)!r}",
            f"  tokens ({len(self.tokens)}): {_token_list(self.tokens)}",
            "  " + ", ".join(f"{k} {_shape(v)}" for k, v in shapes.items() if v is not None),
            f"  {self.vectors.get('name', '?')}: {self.config.describe(self.vectors.get('vocab_size'))}",
        ])

    def _repr_html_(self) -> str:
        """The `--html` view, inline in a notebook (attncli.html)."""
        from .html import embed_view

        return embed_view(self)


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
        raise UsageError(Option("heads", value=cfg.heads), f": {e}") from None
    from .weightsfile import weights_path, weights_stat

    path = weights_path(cfg.weights)
    weights_stat(path)
    try:
        return att.Projections.from_arrays(_weights_arrays(path), d, cfg.heads, source=str(path))
    except ValueError as e:
        raise DataError(f"{path}: {e}") from None


def _weights_arrays(path: Path) -> dict[str, np.ndarray]:
    """The members of a weights file, read once per process (carried_settings and
    load_projections both need them); its carried settings are checked here, however the
    file is reached. Never modified by callers (Projections.from_arrays copies)."""
    from .weightsfile import weights_stat

    stat = weights_stat(path)  # in the cache key: a rewritten file is read again
    return _read_weights(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_weights(path: Path, size: int, mtime_ns: int) -> dict[str, np.ndarray]:
    from .weightsfile import SETTINGS, read_arrays

    arrays = read_arrays(path)
    checked_settings(path, arrays.get(SETTINGS))
    return arrays


def carried_settings(weights: str) -> dict:
    """The attention settings (Config fields) that the weights file named by --weights carries,
    validated; {} for identity, random and files without. They rank above the mode's defaults
    and below options the user gives."""
    from .weightsfile import SETTINGS, weights_path

    if weights in ("identity", "random"):
        return {}
    path = weights_path(weights)
    return checked_settings(path, _weights_arrays(path).get(SETTINGS))


def checked_settings(path: Path, member: np.ndarray | None) -> dict:
    """The Config fields a weights file's `settings` member carries, each checked as the same
    option on the command line is; DataError names the file."""
    from .weightsfile import parse_settings

    config = parse_settings(path, member)["config"]
    try:
        for name, value in config.items():
            check_option(name, value)
        Config(mode="qkv", **config).settings  # and together (the attention settings' own checks)
    except UsageError as e:
        raise DataError(f"{path}: invalid carried settings: ", *e.parts) from None
    return config


class Lexicon:
    """How a config's words meet a vocabulary: the tokenizer (--tokenizer) and the case of the
    look-up (--case).

    - lower: every token lowercased before look-up (GloVe 6B, the default, is lowercase);
    - keep: the token as written, exactly (a cased vocabulary: "Bank" and "bank" differ);
    - auto: lower for a lowercase vocabulary; for a cased one (Vectors.cased: word2vec
      GoogleNews, fastText cc.en), the form as written first, then its lowercase when the
      written form is not in the vocabulary ("The" -> "the", "England" stays "England").
    A token's text is the form that was looked up (and found, or tried last)."""

    def __init__(self, vec: Vectors, cfg: Config):
        case = cfg.case
        if case == "auto":
            case = "fallback" if vec.cased else "lower"
        self.vec, self.case, self.split = vec, case, cfg.tokenizer
        self.lower = case == "lower"

    def row(self, word: str) -> int | None:
        """The vocabulary row of `word` as this lexicon looks it up (the form: form())."""
        row = self.vec.lookup(word)
        if row is None and self.case == "fallback" and (low := word.lower()) != word:
            return self.vec.lookup(low)
        return row

    def form(self, word: str) -> str:
        """The form of `word` that is looked up: itself, or its lowercase (fallback)."""
        if self.case == "fallback" and self.vec.lookup(word) is None and (low := word.lower()) != word \
                and self.vec.lookup(low) is not None:
            return low
        return word

    def known(self, word: str) -> bool:
        return self.row(word) is not None

    def given(self, tokens: tuple) -> list[str]:
        """A sentence's tokens as given (not split again), in the case of the look-up."""
        return [t.lower() for t in tokens] if self.lower else list(tokens)

    def spans(self, text: str):
        """(texts, starts, ends) of tokens(text): the forms looked up, and where each token's
        surface starts and ends in `text` (int64 arrays); without a Token per token where
        tokens.spans can (ASCII text, no case fallback)."""
        if self.case != "fallback" and (got := spans(text, self.known, lower=self.lower, split=self.split)) is not None:
            texts, starts, lengths = got
            return texts, starts, starts + lengths
        toks = self.tokens(text)
        starts = np.fromiter((t.start for t in toks), np.int64, len(toks))
        return [t.text for t in toks], starts, starts + np.fromiter((len(t.surface) for t in toks), np.int64, len(toks))

    def tokens(self, text: str | tuple) -> list[Token]:
        """`text` split into tokens (a tuple: tokens given, used as they are), each token's
        text the form looked up."""
        if isinstance(text, tuple):
            toks, at = [], 0
            for t, g in zip(text, self.given(text)):
                toks.append(Token(g, t, at))
                at += len(t) + 1
        else:
            toks = tokenize(text, self.known, lower=self.lower, split=self.split)
        if self.case != "fallback":
            return toks
        return [t if (f := self.form(t.text)) == t.text else t._replace(text=f) for t in toks]


def sentence_text(text: str | tuple) -> str:
    """The text of a sentence given as a string, or as its tokens (joined by spaces)."""
    return " ".join(text) if isinstance(text, tuple) else text


@dataclass
class Prepared:
    """A sentence after tokenizing and vocabulary look-up, before attention."""

    text: str
    tokens: list[Token]  # every token
    kept: list[int]  # positions of the tokens that take part
    ids: np.ndarray  # (n,) vocabulary row per kept token, -1 for an OOV token (zeroed, or subword)
    oov: list[dict]
    subword: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)  # kept index -> fastText OOV vector


def prepare(text: str | tuple, vec: Vectors, cfg: Config, *, require_known: bool = True) -> Prepared:
    """Tokenize and look up (Lexicon: --tokenizer, --case; a tuple is the sentence's tokens,
    used as given); apply the OOV policy. Raises DataError for a sentence that cannot be
    embedded (empty, only punctuation, nothing in the vocabulary, not UTF-8).
    With `require_known=False` a sentence of punctuation or unknown words is prepared anyway
    (possibly with no row at all): for callers that must score every input (WiC)."""
    lexicon = Lexicon(vec, cfg)
    tokens = lexicon.tokens(text)
    text = sentence_text(text)
    check_utf8(text)
    if not tokens:
        raise DataError("empty sentence: nothing to embed")
    if require_known and not any(ch.isalnum() for t in tokens for ch in t.text):
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
        raise DataError(f"not in the vocabulary of {vec.name}: {words} (", Option("oov"), " skip or zero to go on)")
    known = [tokens[i].text for i, row in zip(kept, ids) if row >= 0]
    if require_known and not any(ch.isalnum() for t in known for ch in t):  # all-zero vectors embed nothing either
        raise DataError(f"no word of {_clip(text)!r} is in the vocabulary of {vec.name}")
    return Prepared(text, tokens, kept, np.asarray(ids, dtype=np.int64), oov, subword)


def check_utf8(text: str, what: "str | Option" = "the sentence") -> None:
    """DataError when `text` holds bytes that were not UTF-8 (a command-line argument keeps them
    as lone surrogates, which no JSON or terminal output can carry)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        try:
            raw = text[e.start:e.end].encode("utf-8", "surrogateescape")  # the byte a command-line argument held
        except UnicodeEncodeError:  # a lone surrogate from Python ("\ud800"): its would-be bytes
            raw = text[e.start:e.end].encode("utf-8", "surrogatepass")
        raise DataError(what, f" is not valid UTF-8 (byte {raw[:1]!r} at character {e.start + 1})") from None


def _shape(a) -> str:
    return str(tuple(np.shape(a)))


def _token_list(tokens: list[str], most: int = 12) -> str:
    """Tokens for a repr: the first `most`, then how many more."""
    shown = " ".join(tokens[:most])
    return shown + (f" ... (+{len(tokens) - most})" if len(tokens) > most else "")


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
    """(n,) log SIF weights log(a / (a + p(w))) per key token, None without --prior."""
    cfg = cfg.resolved()
    if cfg.prior == "none":
        return None
    return att.sif_prior(key_probability(vec, ids), cfg.prior_a)  # (n,)


def key_probability(vec: Vectors, ids: np.ndarray) -> np.ndarray:
    """(n,) float64 p(w) of the prior: from the vectors' counts when they have them (0 for an
    unknown word), else from the frequency rank by Zipf's law (an unknown word ranks as the rarest)."""
    if vec.counts is not None:
        p = vec.counts[np.where(ids < 0, 0, ids)] / vec.counts.sum()
        return np.where(ids < 0, 0.0, p)
    ranks = np.where(ids < 0, vec.vocab_size, ids)
    return att.zipf_probability(ranks, vec.vocab_size)


def model_input(x: np.ndarray, vec: Vectors, cfg: Config) -> np.ndarray:
    """What attention sees: the static vectors, centered when --center is on. Zeroed OOV
    rows stay zero."""
    cfg = cfg.resolved()
    if not cfg.center:
        return x
    return np.where(np.any(x != 0, axis=-1, keepdims=True), x - vec.mean(cfg.center), x)


def formula_inputs(result: EmbedResult, vec: Vectors | None = None) -> np.ndarray:
    """(n, d) the x_i that attention started from for `result`: its static vectors, centered
    when --center is on, plus the position encodings when asked for (what `embed --show-static`
    shows, so that new_i = r x_i + (1 - r) sum_j a_ij x_j can be redone from the tables)."""
    vec = vec if vec is not None else vectors_for(result.config)
    x = model_input(result.static, vec, result.config)
    if result.config.positions == "sinusoidal":
        x = x + att.sinusoidal_positions(x.shape[-2], x.shape[-1])
    return x


def contextualize(
    x: np.ndarray, cfg: Config, proj: att.Projections, prior: np.ndarray | None = None, lengths=None,
    block_cells: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Model input (..., n, d) -> (contextual (..., n, d_out), weights (..., H, n, n)).
    `block_cells`: one long sentence (n, d) in row blocks, no weights (attention.self_attention)."""
    if cfg.positions == "sinusoidal":
        x = x + att.sinusoidal_positions(x.shape[-2], x.shape[-1])
    settings = cfg.settings
    n = x.shape[-2]
    slow = block_cells is not None and att.blocked_cells(n, settings, proj.heads) > att.PROGRESS_CELLS
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below, once
            if not slow:
                out, weights = att.self_attention(x, settings, proj, key_bias=prior, lengths=lengths, block_cells=block_cells)
            else:
                with report.progress(f"attention over {n:,} tokens", n * settings.layers) as update:
                    done = 0

                    def on_rows(rows: int) -> None:
                        nonlocal done
                        done += rows
                        update(done)

                    out, weights = att.self_attention(x, settings, proj, key_bias=prior, block_cells=block_cells,
                                                      on_rows=on_rows)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not (np.isfinite(out).all() and (weights is None or np.isfinite(weights).all())):
        raise not_finite(cfg, proj, x)
    return out, weights


def contextualize_rows(
    x: np.ndarray, rows: np.ndarray, cfg: Config, proj: att.Projections, prior: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Model input (n, d) -> (contextual (R, d_out), weights (H, R, n)) of the rows `rows` only
    (attention.attention_rows; one layer: cfg.layers == 1)."""
    if cfg.positions == "sinusoidal":
        x = x + att.sinusoidal_positions(x.shape[-2], x.shape[-1])
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below, once
            out, weights = att.attention_rows(x, rows, cfg.settings, proj, key_bias=prior)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not (np.isfinite(out).all() and np.isfinite(weights).all()):
        raise not_finite(cfg, proj, x)
    return out, weights


def not_finite(cfg: Config, proj: att.Projections, x: np.ndarray) -> DataError:
    """The error for a result that overflowed to NaN or infinity, naming the likely cause:
    an extreme option, a weights file or vectors of huge values. Never printed as null."""
    causes = []
    if cfg.temperature < 1e-3:
        causes.append((Option("temperature", value=cfg.temperature), " (too small: the scores overflow)"))
    if proj.trained:
        big = max(float(np.abs(w).max(initial=0)) for w in (proj.W_q, proj.W_k, proj.W_v) if w is not None)
        if big > 1e3:
            causes.append((f"the weights file {proj.source} (values up to {big:.3g})",))
    big = float(np.abs(x).max(initial=0))
    if big > 1e3:
        causes.append((f"the vectors {cfg.vectors} (values up to {big:.3g})",))
    if not causes:
        causes.append((f"the settings ({cfg.describe()}) with these vectors and weights",))
    parts = [part for k, cause in enumerate(causes) for part in ((" or ",) if k else ()) + cause]
    return DataError("the attention result is not finite (overflow to inf or NaN); caused by ", *parts,
                     "; nothing was written")


def with_options(config: Config | None, options: dict) -> Config:
    """`config` (default Config()) with the keyword `options` of an API call applied."""
    if options.get("weights", "identity") != "identity" and "mode" not in options and (config is None or config.mode == "simple"):
        options = {**options, "mode": "qkv"}  # weights= names projections: only qkv mode has them
    if config is None and options.get("mode") == "qkv" and "weights" in options:  # a new Config: the weights' own settings
        options = {**carried_settings(options["weights"]), **options}
    config = config or Config()
    return (config.replace(**options) if options else config).resolved()


MAX_ATTENTION_CELLS = 25_000_000  # H x n x n weights of one result: 100 MB of float32


class TooManyCells(DataError):
    """A sentence whose attention weights would pass the cap; `tokens` says how long it is."""

    def __init__(self, message: str, tokens: int):
        super().__init__(message)
        self.tokens = tokens


def check_attention_cells(n: int, heads: int, max_attention_cells: int, layers: int = 1) -> None:
    """TooManyCells (a DataError), before anything is computed, when a result would keep more
    than `max_attention_cells` attention weights: layers x heads x n x n (embed keeps the last
    layer's, explain every layer's)."""
    cells = layers * heads * n * n
    if cells > max_attention_cells:
        shape = f"{layers} layers x " if layers > 1 else ""
        raise TooManyCells(
            f"the sentence has {n:,} tokens: its attention weights ({shape}{heads} x {n:,} x {n:,} = {cells:,}) pass "
            f"--max-attention-cells {max_attention_cells:,}; for long texts use `attncli batch -i FILE` (computed in "
            "blocks, weights left out) or raise the limit", n)


def embed(
    text: str, config: Config | None = None, vectors: Vectors | None = None, *,
    max_attention_cells: int = MAX_ATTENTION_CELLS, pool: str | None = None, **options,
) -> EmbedResult:
    """Embed one sentence: `embed("money bank grows", similarity="cosine")` (`attncli.embed`
    also takes a list: api.embed).

    `options` override fields of `config` (see Config). `vectors` defaults to config.vectors,
    loaded once per process. `pool` ("mean" or "sif", attncli.pooling) adds `.sentence`, one
    vector for the sentence. A result holds every attention weight (H x n x n): a sentence
    whose weights would pass `max_attention_cells` is refused (DataError) before anything is
    computed; batch.BatchEmbedder embeds long texts in blocks without keeping the weights."""
    from .pooling import check_pool

    if isinstance(vectors, (str, os.PathLike)):  # a source, as in Config.vectors: embed(text, vectors="v.txt")
        options["vectors"], vectors = str(vectors), None
    check_pool(pool)
    if not (isinstance(text, str) or isinstance(text, tuple) and all(isinstance(t, str) for t in text)):
        raise UsageError(Option("text"), f" must be a string (or a tuple of its tokens), not {type(text).__name__}")
    cfg = with_options(config, options)
    vec = vectors if vectors is not None else vectors_for(cfg)
    proj = load_projections(cfg, vec.dim)
    prep = prepare(text, vec, cfg)
    n = len(prep.kept)
    check_attention_cells(n, proj.heads, max_attention_cells)
    x = static_rows(vec, prep.ids, prep.subword)  # (n, d)
    contextual, heads = contextualize(model_input(x, vec, cfg), cfg, proj, key_prior(vec, prep.ids, cfg))
    sentence = None
    if pool is not None:
        from .pooling import pool as pool_rows
        from .pooling import sif_weights

        weights = sif_weights(key_probability(vec, prep.ids), cfg.prior_a) if pool == "sif" else None
        sentence = pool_rows(contextual, np.array([0, n]), weights)[0]  # (d_out,)
    return EmbedResult(
        text=sentence_text(text),
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
        sentence=sentence,
    )


def neighbors(result: EmbedResult, k: int, vec: Vectors | None = None, exclude_self_word: bool = True) -> list[list[tuple[str, float]]]:
    """The k vocabulary words nearest (cosine) to each contextual vector of `result`, in the
    same space attention worked in (centered when --center is on). Needs d_out == d."""
    vec = vec if vec is not None else vectors_for(result.config)
    exclude = [{t} for t in result.tokens] if exclude_self_word else None
    return _nearest(vec, result.contextual, k, exclude, result.config.center)


def _nearest(vec: Vectors, contextual: np.ndarray, k: int, exclude, center: int) -> list[list[tuple[str, float]]]:
    """Vectors.nearest for contextual vectors, which must have the vocabulary's dimension."""
    if contextual.shape[1] != vec.dim:
        raise UsageError(f"neighbours need contextual vectors of the vocabulary's {vec.dim} dims, not "
                         f"{contextual.shape[1]} (W_o changes the size; leave neighbours out)")
    return vec.nearest(contextual, k, exclude, center=center)


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
    missing: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # skip_missing: (index, why) left out

    def __repr__(self) -> str:
        m = len(self.occurrences)
        off = ~np.eye(m, dtype=bool)
        ctx, st = self.contextual_cosine[off], self.static_cosine[off]
        cos = (f"contextual cosine {ctx[0]:.2f} (static {st[0]:.2f})" if m == 2 else
               f"contextual cosine {ctx.min():.2f} to {ctx.max():.2f} (static {st.min():.2f} to {st.max():.2f})") if m > 1 else ""
        lines = [f"CompareResult: {self.word!r} in {m} sentences; {cos}"]
        lines += [f"  s{o.sentence + 1}: {_clip(self.sentences[o.sentence])}" for o in self.occurrences[:4]]
        if m > 4:
            lines.append(f"  ... {m - 4} more")
        lines.append(f"  static_cosine {_shape(self.static_cosine)}, contextual_cosine {_shape(self.contextual_cosine)}, "
                     f"occurrences: {m}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from .html import compare_view

        return compare_view(self)


MAX_COMPARE = 1000  # sentences compared at once (m x m cosines, m x vocabulary neighbours): for a corpus, `senses`


def compare(
    sentences: list[str],
    word: str,
    config: Config | None = None,
    vectors: Vectors | None = None,
    occurrence: int = 1,
    k: int = 5,
    exclude_word: bool = True,
    skip_missing: bool = False,
    max_attention_cells: int = MAX_ATTENTION_CELLS,
    **options,
) -> CompareResult:
    """Embed each sentence and follow `word` through them: its static and contextual cosines
    between sentences, what it attended to, and its nearest vocabulary words in each.
    `occurrence` picks the K-th appearance (1-based) in sentences holding the word more than
    once; a sentence holding it once uses that one. A sentence without the word is an error,
    or, with `skip_missing` (lines of a file), left out and listed in `missing`. Each sentence
    is capped as embed caps one (`max_attention_cells`)."""
    cfg = with_options(config, options)
    if occurrence < 1:
        raise UsageError(Option("occurrence"), f" counts from 1, not {occurrence}")
    vec = vectors if vectors is not None else vectors_for(cfg)
    lexicon = Lexicon(vec, cfg)
    target = single_token(word, lexicon)
    occurrences, missing = [], []
    quick = target.lower()
    for i, text in enumerate(sentences):
        why = None
        if skip_missing and quick not in nfc(sentence_text(text)).lower():  # most lines of a file: not embedded
            missing.append((i, "absent"))
            continue
        try:
            result = embed(text, cfg, vec, max_attention_cells=max_attention_cells)
        except TooManyCells as e:
            raise TooManyCells(f"sentence {i + 1}: {e}", e.tokens) from None
        except DataError as e:
            if not skip_missing:
                raise
            missing.append((i, str(e)))
            continue
        rows = [r for r, t in enumerate(result.tokens) if t == target]
        if not rows:
            oov = any(o["token"] == target for o in result.oov)
            why = ("out of the vocabulary and skipped (try ", Option("oov", value="zero"), ")") if oov else ("absent",)
        elif occurrence > len(rows) > 1:
            why = (f"held {len(rows)} times, not {occurrence}",)
        if why is not None:
            if skip_missing:
                missing.append((i, str(DataError(*why))))  # its parts worded in the caller's style
                continue
            shown = _clip(sentence_text(text))
            if rows:
                raise DataError(f"sentence {i + 1} holds {target!r} {len(rows)} times, not {occurrence}: {shown!r}")
            raise DataError(f"{target!r} is ", *why, f" in sentence {i + 1}: {shown!r}")
        row = rows[occurrence - 1] if len(rows) > 1 else rows[0]
        occurrences.append(Occurrence(i, row, result, []))
        if len(occurrences) > MAX_COMPARE:
            raise DataError(f"more than {MAX_COMPARE:,} sentences hold {target!r}: compare shows every pair; "
                            f"for a corpus, `attncli senses {target} -i FILE` groups the occurrences")
    if len(occurrences) < 2:
        got = len(occurrences)
        if not skip_missing:
            raise UsageError(f"compare needs at least 2 sentences, got {got}")
        raise DataError(f"compare needs at least 2 sentences holding {target!r}; {got} of {len(sentences):,} do")
    ctx = np.stack([o.result.contextual[o.index] for o in occurrences])  # (m, d_out)
    static = np.stack([o.result.static[o.index] for o in occurrences])  # (m, d)
    if k > 0:
        near = _nearest(vec, ctx, k, [{target}] * len(occurrences) if exclude_word else None, cfg.center)
        for o, nb in zip(occurrences, near):
            o.neighbors = nb
    kept = [sentence_text(sentences[o.sentence]) for o in occurrences]
    for j, o in enumerate(occurrences):  # indices into the sentences compared (missing ones keep the input's)
        o.sentence = j
    return CompareResult(word, kept, cosine_matrix(static), cosine_matrix(ctx), occurrences, cfg, vec.info(), missing)


def single_token(word: str, lexicon: Lexicon) -> str:
    """The token `word` is, as the lexicon looks it up; UsageError when it is several."""
    check_utf8(word, Option("word"))
    toks = lexicon.tokens(word)
    if len(toks) != 1:
        raise UsageError(Option("word"), f" must be a single token, {word!r} is {len(toks)}: {[t.text for t in toks]}")
    return toks[0].text


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    """(m, m) cosines between the rows of x; a zero row has cosine 0 with everything."""
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    u = x / np.where(norm == 0, 1, norm)
    return np.clip(u @ u.T, -1.0, 1.0).astype(np.float32)
