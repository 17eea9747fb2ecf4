"""The notes' formula for one word, worked with the numbers of a real run.

For the word at row i of a sentence, layer by layer and head by head:

    s_j     = sim(q_i, k_j)                      (x_i . x_j, the cosine, or q_i . k_j)
    logit_j = s_j / sqrt(d_k) / T + prior_j      (each step only when its option is on)
    a_j     = exp(logit_j) / sum_k exp(logit_k)  (masked keys: a_j = 0)
    head    = sum_j a_j v_j
    new_i   = r x_i + (1 - r) ([head_1 | ... | head_H] W_o + b_o)

Every number comes from the functions that compute `pipeline.embed`: the pipeline's steps
(prepare, static_rows, model_input, key_prior, load_projections, contextualize) and
attention's primitives (head_inputs, scores, build_mask, softmax). A layer's input is the
model input for layer 1 and `contextualize` run for one layer fewer after that, so the
working cannot drift from what embed computes; tests assert that it does not.

No typer or rich here; errors are attncli.errors exceptions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import attention as att
from .errors import DataError, Option, UsageError
from .pipeline import (
    Config,
    Lexicon,
    check_attention_cells,
    single_token,
    contextualize,
    key_prior,
    load_projections,
    model_input,
    prepare,
    static_rows,
    vectors_for,
)
from .vectors import Vectors

# Cells (layers x heads x n x n) a working may keep. Each is held about six times (similarity,
# logits, weights, masked logits, and the page's JSON text, ~35 bytes): 1,000,000 cells (1,000
# tokens, one head, one layer) is ~150 MB and a 35 MB page; the 25,000,000 of embed took 3.2 GB
# and an 887 MB page with --html. A working of more tokens is not one a reader follows.
MAX_ATTENTION_CELLS = 1_000_000


@dataclass(frozen=True)
class Step:
    """One transformation of the word's scores, with the values after it (n,)."""

    name: str  # "similarity" | "scale" | "temperature" | "prior" | "logit"
    label: str  # how a reader writes it: "q·k_j", "÷ √50", "÷ T=0.5", "+ prior_j"
    values: np.ndarray  # (n,) the scores after this step; for "prior", the prior itself


@dataclass
class HeadWorking:
    """One head of one layer. Matrices hold every query token (the page lets any token be the
    query); the fields ending in _i are the explained word's row."""

    q: np.ndarray  # (n, d_k) queries (X W_q + b_q, this head's columns)
    k: np.ndarray  # (n, d_k) keys
    v: np.ndarray  # (n, d_v) values
    similarity: np.ndarray  # (n, n) sim(q_i, k_j) before any scaling
    logits: np.ndarray  # (n, n) after scaling, temperature and prior; masked cells NaN
    weights: np.ndarray  # (n, n) softmax of each row of logits, masked cells 0
    steps: list[Step]  # the word's row, step by step
    exp: np.ndarray  # (n,) exp(logit_j - max_k logit_k) of the word's row, 0 where masked
    terms: np.ndarray  # (n, d_v) a_j v_j of the word's row
    output: np.ndarray  # (d_v,) sum of terms: this head's output for the word


@dataclass
class LayerWorking:
    """One layer for the word: its heads, then concatenation, W_o and the residual."""

    input: np.ndarray  # (n, d) what the layer attends over
    heads: list[HeadWorking]
    terms: np.ndarray  # (n, d_out) (1 - r) [a_1j v_1j | ... | a_Hj v_Hj] W_o: token j's share of the output
    residual: np.ndarray  # (d_out,) r x_i + (1 - r) b_o: added outside the sum (zeros when neither)
    output: np.ndarray  # (d_out,) sum of terms + residual

    @property
    def weights(self) -> np.ndarray:
        """(n,) the word's weights, mean over heads (what embed reports as attention)."""
        return np.mean([h.weights for h in self.heads], axis=0)


@dataclass
class Explanation:
    """Everything `attncli explain` shows. n tokens, d static dims, d_out output dims."""

    text: str
    word: str  # the normalized token explained
    index: int  # its row among tokens
    tokens: list[str]  # (n,)
    surfaces: list[str]  # (n,)
    oov: list[dict]  # words not in the vocabulary, as in EmbedResult.oov
    masked: list[str | None]  # (n,) why key j is masked for the word ("self", "causal"), None if not
    static: np.ndarray  # (n, d) static vectors
    model_input: np.ndarray  # (n, d) what layer 1 sees before positions (centered when --center)
    prior: np.ndarray | None  # (n,) log SIF weight per key, None without --prior
    layers: list[LayerWorking]
    contextual: np.ndarray  # (d_out,) the word's new vector, as contextualize returns it
    cosine: float | None  # cos(model_input[index], contextual); None when W_o changes the size
    before: list[tuple[str, float]]  # nearest vocabulary words to the word's input vector
    after: list[tuple[str, float]]  # nearest to its contextual vector ([] when W_o changes the size)
    config: Config
    vectors: dict
    untrained: bool = False
    heads: int = 1
    w_o: bool = False  # the projections end with W_o
    b_o: bool = False  # ... and its bias b_o

    @property
    def attention(self) -> np.ndarray:
        """(n, n) the last layer's weights, mean over heads: embed's `attention`."""
        return np.mean([h.weights for h in self.layers[-1].heads], axis=0)

    def __repr__(self) -> str:
        weights = ", ".join(f"{t} {w:.2f}" for t, w in zip(self.tokens[:12], self.layers[-1].weights[self.index][:12]))
        change = "" if self.cosine is None else f"cosine before/after {self.cosine:.2f}"
        if self.after:
            change += f"{'; ' if change else ''}nearest after: {', '.join(w for w, _ in self.after[:5])}"
        text = self.text if len(self.text) <= 60 else self.text[:59] + "…"
        return "\n".join([
            f"Explanation of {self.word!r} (token {self.index + 1} of {len(self.tokens)}) in {text!r}",
            f"  weights: {weights}{' ...' if len(self.tokens) > 12 else ''}",
            *([f"  {change}"] if change else []),
            f"  {len(self.layers)} layer{'s' if len(self.layers) != 1 else ''}, {self.heads} head{'s' if self.heads != 1 else ''}; "
            f"contextual {tuple(self.contextual.shape)}; {self.config.describe(self.vectors.get('vocab_size'))}",
        ])

    def _repr_html_(self) -> str:
        """The `explain --html` neuron view, inline in a notebook (attncli.html)."""
        from .html import explain_view

        return explain_view(self)


def explain(
    text: str,
    word: str,
    config: Config | None = None,
    vectors: Vectors | None = None,
    occurrence: int = 1,
    k: int = 5,
    max_attention_cells: int = MAX_ATTENTION_CELLS,
    **options,
) -> Explanation:
    """Work the formula for `word` (its `occurrence`-th appearance, from 1) in `text`:
    `explain("money bank grows", "bank")`. `options` override fields of `config`; `k` nearest
    vocabulary words before and after (0: none). The working keeps every layer's and head's
    n x n weights, logits and similarities: a sentence whose layers x heads x n x n passes
    `max_attention_cells` is refused (DataError) before anything is computed."""
    if isinstance(vectors, (str, os.PathLike)):  # a source, as in Config.vectors
        options["vectors"], vectors = str(vectors), None
    cfg = config or Config()
    cfg = (cfg.replace(**options) if options else cfg).resolved()
    if occurrence < 1:
        raise UsageError(Option("occurrence"), f" counts from 1, not {occurrence}")
    vec = vectors if vectors is not None else vectors_for(cfg)
    target = single_token(word, Lexicon(vec, cfg))
    proj = load_projections(cfg, vec.dim)
    prep = prepare(text, vec, cfg)
    check_attention_cells(len(prep.kept), proj.heads, max_attention_cells, layers=cfg.layers)
    tokens = [prep.tokens[j].text for j in prep.kept]
    index = _find(target, occurrence, tokens, prep.oov, text)
    x = static_rows(vec, prep.ids, prep.subword)  # (n, d)
    m = model_input(x, vec, cfg)  # (n, d)
    prior = key_prior(vec, prep.ids, cfg)  # (n,) or None
    contextual, _ = contextualize(m, cfg, proj, prior)  # (n, d_out)
    n, d = m.shape  # tokens, dims
    settings = cfg.settings
    mask = att.build_mask(n, settings)  # (n, n) or None

    layers = []
    for layer in range(cfg.layers):
        if layer == 0:
            h = m + att.sinusoidal_positions(n, d) if cfg.positions == "sinusoidal" else m  # (n, d)
        else:
            h, _ = contextualize(m, cfg.replace(layers=layer), proj, prior)  # (n, d): the previous layer's output
        layers.append(_layer(h, index, proj, settings, prior, mask))

    d_out = contextual.shape[1]
    near_before = near_after = []
    cosine = None
    if d_out == d:
        cosine = _cosine(m[index], contextual[index])
        if k > 0:
            near_before, near_after = vec.nearest(np.stack([m[index], contextual[index]]), k, [{target}] * 2, center=cfg.center)
    elif k > 0:
        near_before = vec.nearest(m[index][None], k, [{target}], center=cfg.center)[0]
    return Explanation(
        text=text,
        word=target,
        index=index,
        tokens=tokens,
        surfaces=[prep.tokens[j].surface for j in prep.kept],
        oov=prep.oov,
        masked=_mask_reasons(index, n, settings),
        static=x,
        model_input=m,
        prior=prior,
        layers=layers,
        contextual=contextual[index],
        cosine=cosine,
        before=near_before,
        after=near_after,
        config=cfg,
        vectors=vec.info(),
        untrained=not proj.trained,
        heads=proj.heads,
        w_o=proj.W_o is not None,
        b_o=proj.b_o is not None,
    )


def _layer(
    h: np.ndarray, i: int, proj: att.Projections, s: att.AttentionSettings, prior: np.ndarray | None, mask: np.ndarray | None
) -> LayerWorking:
    """One layer of attention over h (n, d), worked for row i, as multi_head computes it."""
    n = h.shape[0]  # tokens
    qkv = att.head_inputs(h, proj)  # q, k (H, n, d_k), v (H, n, d_v)
    bias = None if prior is None else np.asarray(prior, dtype=np.float32)[None, None, :]  # (1, 1, n)
    logits = att.scores(qkv.q, qkv.k, key_bias=bias, **s.scores)  # (H, n, n)
    sim = att.scores(qkv.q, qkv.k, similarity=s.similarity, scale=False, temperature=1.0)  # (H, n, n)
    weights = att.softmax(logits, None if mask is None else mask[None])  # (H, n, n)
    allowed = np.ones((n, n), dtype=bool) if mask is None else mask  # (n, n)
    d_k = qkv.q.shape[-1]
    heads = []
    for hd in range(proj.heads):
        row = weights[hd, i]  # (n,)
        terms = row[:, None] * qkv.v[hd]  # (n, d_v)
        masked_logits = np.where(allowed, logits[hd], np.nan).astype(np.float32)  # (n, n)
        heads.append(HeadWorking(
            q=np.ascontiguousarray(qkv.q[hd]), k=np.ascontiguousarray(qkv.k[hd]), v=np.ascontiguousarray(qkv.v[hd]),
            similarity=sim[hd], logits=masked_logits, weights=weights[hd],
            steps=_steps(sim[hd, i], logits[hd, i], d_k, s, prior),
            exp=_exp(logits[hd, i], allowed[i]),
            terms=terms, output=terms.sum(axis=0),
        ))
    concat = np.concatenate([hw.terms for hw in heads], axis=-1)  # (n, H*d_v)
    r = np.float32(s.residual)
    projected = concat @ proj.W_o if proj.W_o is not None else concat  # (n, d_out)
    terms = (np.float32(1) - r) * projected  # (n, d_out)
    residual = np.zeros(terms.shape[1], dtype=np.float32)  # (d_out,)
    if proj.b_o is not None:
        residual = residual + (np.float32(1) - r) * proj.b_o
    if r > 0:
        residual = residual + r * h[i]
    return LayerWorking(input=h, heads=heads, terms=terms, residual=residual, output=terms.sum(axis=0) + residual)


def _steps(sim: np.ndarray, logit: np.ndarray, d_k: int, s: att.AttentionSettings, prior: np.ndarray | None) -> list[Step]:
    """The word's scores after each transformation that is on, in the order attention applies
    them. The last step, "logit", is what attention computed (the in-between values are the
    same arithmetic one step at a time, for reading)."""
    label = "cos(q, k_j)" if s.similarity == "cosine" else "q·k_j"
    steps = [Step("similarity", label, sim)]
    value = sim.astype(np.float64)
    if s.scale:
        value = value / np.sqrt(d_k)
        steps.append(Step("scale", f"÷ √{d_k}", value.astype(np.float32)))
    if s.temperature != 1.0:
        value = value / s.temperature
        steps.append(Step("temperature", f"÷ T={s.temperature:g}", value.astype(np.float32)))
    if prior is not None:
        steps.append(Step("prior", "+ prior_j", np.asarray(prior, dtype=np.float32)))
    steps.append(Step("logit", "logit", logit))
    return steps


def _exp(logit: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """exp(logit_j - max) over the keys the word may attend to, 0 elsewhere (n,): softmax's
    numerators; subtracting the max changes no weight and keeps exp from overflowing."""
    if not allowed.any():
        return np.zeros_like(logit)
    top = logit[allowed].max()
    return np.where(allowed, np.exp(np.where(allowed, logit - top, 0)), 0).astype(np.float32)


def _mask_reasons(i: int, n: int, s: att.AttentionSettings) -> list[str | None]:
    """Why each key is hidden from query i: the same rules as attention.build_mask."""
    reasons = []
    for j in range(n):
        rules = (("self", s.exclude_self and j == i), ("causal", s.causal and j > i), ("window", 0 < s.window < abs(j - i)))
        why = [name for name, on in rules if on]
        reasons.append(", ".join(why) or None)
    return reasons


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na and nb else 0.0


def _find(target: str, occurrence: int, tokens: list[str], oov: list[dict], text: str) -> int:
    """The row of the `occurrence`-th appearance of target among the tokens that took part."""
    rows = [r for r, t in enumerate(tokens) if t == target]
    short = text if len(text) <= 60 else text[:59] + "…"
    if not rows:
        if any(o["token"] == target for o in oov):
            raise DataError(f"{target!r} is out of the vocabulary and skipped in {short!r} (try ", Option("oov", value="zero"), ")")
        listed = " ".join(tokens)
        listed = listed if len(listed) <= 60 else listed[:59] + "…"
        raise DataError(f"{target!r} is not in {short!r} (its tokens: {listed})")
    if occurrence > len(rows):  # the sentence is fine; the option asks for what is not there
        times = "once" if len(rows) == 1 else f"{len(rows)} times"
        raise UsageError(Option("occurrence", value=occurrence), f": {short!r} holds {target!r} {times}")
    return rows[occurrence - 1]


from .entry import make_callable  # noqa: E402  (attncli.explain(...) calls explain(...): entry.py says why)

make_callable(__name__)
