"""Learning W_q, W_k and W_v on a WiC split: `attncli train wic` (--rank R >= 1).

The model is the attention of `--mode qkv` with the simple mode's settings. For the target t of
a sentence whose model inputs are x_1..x_n (d,) (vectors centered as --center says), with H
heads of d_h = d / H columns each:

    W = I + U V^T                        for each of W_q, W_k, W_v (U, V: d x R)
    q = x_t W_q,  k_j = x_j W_k,  v_j = x_j W_v         each split into H heads
    a_j^h = softmax_j( s cos(q^h, k_j^h) + log(a / (a + p_j)) )    over the keys t may see
    c_t = r x_t + (1 - r) concat_h sum_j a_j^h v_j^h

and a pair scores cos(c_1, c_2). `--mode qkv --weights FILE` computes exactly this when run with
similarity cosine, no sqrt(d_k) scaling, temperature 1/s, prior zipf with prior_a = a and
residual r: the file carries those settings.

Learned: U, V of each matrix, s = exp(log_s), a = exp(log_a), r = sigmoid(rho), and a read-out
sigma(beta (score - theta)). Loss: the mean binary cross-entropy of the read-out against the
labels plus lambda sum ||U V^T||_F^2, which keeps each W near I. Start: V = 0 (so W = I exactly),
U ~ N(0, 0.05^2), s, a, r from the base settings: training starts at the parameter-free model.
Gradients are written out by hand (checked against finite differences in the tests), Adam steps
on batches of pairs of similar length, float64 throughout; the same seed gives the same weights.

The number of epochs is chosen by cross-validation on the training split, in folds grouped by
target word (learn.word_folds): never by the evaluation split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import pipeline as P
from . import report
from .errors import DataError, UsageError
from .learn import word_folds
from .wic import Pair, Scorer, accuracy, fit_threshold

RANK = 8
MAX_EPOCHS = 20  # cross-validation looks at 1..MAX_EPOCHS
FOLDS = 5
BATCH = 256  # pairs per Adam step
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 0.01  # lambda of the penalty on U V^T
INIT_STD = 0.05
MATRICES = ("q", "k", "v")


@dataclass(frozen=True)
class Setup:
    """What stays fixed during training: read from the base Config and the options."""

    heads: int = 1
    rank: int = RANK
    exclude_self: bool = True
    prior: bool = True  # the zipf prior takes part (its a is learned)
    weight_decay: float = WEIGHT_DECAY
    learning_rate: float = LEARNING_RATE
    batch: int = BATCH


@dataclass
class Sentence:
    x: np.ndarray  # (n, d) float64 model input
    p: np.ndarray  # (n,) p(w) of each key for the prior
    row: int  # the target's row


@dataclass
class Batch:
    """Pairs padded to one length; sentences 2i and 2i + 1 are pair i's."""

    pairs: np.ndarray  # (B,) indices of the pairs into the split
    x: np.ndarray  # (2B, n, d) model inputs, zero padding
    p: np.ndarray  # (2B, n) p(w) of the keys (1 for padding, which is masked)
    keys: np.ndarray  # (2B, n) bool: keys the target may attend to
    target: np.ndarray  # (2B,) the target's row
    y: np.ndarray  # (B,) 1.0 same sense, 0.0 not


def check_config(cfg: P.Config) -> None:
    """The settings training can start from (the model above); UsageError otherwise."""
    wrong = [f"--similarity {cfg.similarity}" if cfg.similarity != "cosine" else "",
             "--scale" if cfg.scale else "", f"--layers {cfg.layers}" if cfg.layers != 1 else "",
             "--causal" if cfg.causal else "", f"--positions {cfg.positions}" if cfg.positions != "none" else "",
             f"--window {cfg.window}" if cfg.window else "", f"--weights {cfg.weights}" if cfg.weights != "identity" else ""]
    wrong = [w for w in wrong if w]
    if wrong:
        raise UsageError(f"train wic learns W_q, W_k, W_v for cosine attention (no --scale), one layer, no causal mask, "
                         f"window or positions, from the identity; not with {', '.join(wrong)}")
    if not 0 < cfg.residual < 1:
        raise UsageError(f"train wic learns the residual r in (0, 1): it cannot start at --residual {cfg.residual:g}")


def sentences(scorer: Scorer, pairs: list[Pair], cfg: P.Config, progress: Callable[[int], None] | None = None) -> list[Sentence]:
    """The two sentences of each pair, as Scorer.target_vector sees them (2N,)."""
    cfg = cfg.resolved()
    out = []
    for i, pair in enumerate(pairs):
        for text, index in ((pair.sentence1, pair.index1), (pair.sentence2, pair.index2)):
            ctx = scorer.target_context(text, index, cfg)
            out.append(Sentence(ctx.x.astype(np.float64), P.key_probability(scorer.vec, ctx.ids), ctx.row))
        if progress and i % 100 == 99:
            progress(i + 1)
    return out


def make_batches(sents: list[Sentence], labels: np.ndarray, index: np.ndarray, setup: Setup) -> list[Batch]:
    """`index`'s pairs in batches of setup.batch, bucketed by length (sorted, ties by index)."""
    length = np.array([max(len(sents[2 * i].x), len(sents[2 * i + 1].x)) for i in index])
    order = np.asarray(index)[np.lexsort((np.asarray(index), length))]
    d = sents[0].x.shape[1]
    batches = []
    for b0 in range(0, len(order), setup.batch):
        chosen = order[b0 : b0 + setup.batch]
        members = [sents[2 * i + j] for i in chosen for j in (0, 1)]
        n = max(len(s.x) for s in members)
        x = np.zeros((len(members), n, d))  # (2B, n, d)
        p = np.ones((len(members), n))  # (2B, n)
        keys = np.zeros((len(members), n), dtype=bool)  # (2B, n)
        for m, s in enumerate(members):
            x[m, : len(s.x)], p[m, : len(s.x)], keys[m, : len(s.x)] = s.x, s.p, True
            if setup.exclude_self:
                keys[m, s.row] = False
        target = np.array([s.row for s in members])
        batches.append(Batch(chosen, x, p, keys, target, labels[chosen].astype(np.float64)))
    return batches


# ---------------------------------------------------------------- parameters


def init_params(d: int, setup: Setup, base: P.Config, seed: int) -> dict[str, np.ndarray]:
    """U ~ N(0, INIT_STD^2), V = 0 (W = I), s, a, r from the base settings, read-out at beta = 10."""
    base = base.resolved()
    rng = np.random.default_rng(seed)
    params = {}
    for m in MATRICES:
        params[f"U_{m}"] = rng.normal(0.0, INIT_STD, (d, setup.rank))
        params[f"V_{m}"] = np.zeros((d, setup.rank))
    r = base.residual
    params.update(log_s=np.array(-math.log(base.temperature)), log_a=np.array(math.log(base.prior_a)),
                  rho=np.array(math.log(r / (1 - r))), beta=np.array(10.0), theta=np.array(0.5))
    return params


def matrices(params: dict[str, np.ndarray], float32: bool = False) -> dict[str, np.ndarray]:
    """W_m = I + U_m V_m^T (d, d); rounded through float32 (as the weights file stores them) when asked."""
    d = params["U_q"].shape[0]
    out = {}
    for m in MATRICES:
        w = np.eye(d) + params[f"U_{m}"] @ params[f"V_{m}"].T  # (d, d)
        out[m] = w.astype(np.float32).astype(np.float64) if float32 else w
    return out


def scalars(params: dict[str, np.ndarray]) -> dict[str, float]:
    """s, a, r as the attention settings use them."""
    return {"s": math.exp(float(params["log_s"])), "a": math.exp(float(params["log_a"])),
            "r": 1.0 / (1.0 + math.exp(-float(params["rho"])))}


# ---------------------------------------------------------------- forward and backward


def _unit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x / |x| over the last axis and |x| (a zero vector stays zero, as attention._unit)."""
    norm = np.sqrt((x * x).sum(-1, keepdims=True))
    norm = np.where(norm == 0, 1.0, norm)
    return x / norm, norm


def _unit_backward(dy: np.ndarray, y: np.ndarray, norm: np.ndarray) -> np.ndarray:
    return (dy - y * (y * dy).sum(-1, keepdims=True)) / norm


def _heads(x: np.ndarray, H: int) -> np.ndarray:
    """(S, n, H*dh) -> (S, H, n, dh)."""
    S, n, hd = x.shape
    return x.reshape(S, n, H, hd // H).transpose(0, 2, 1, 3)


def _merge(x: np.ndarray) -> np.ndarray:
    """(S, H, n, dh) -> (S, n, H*dh)."""
    S, H, n, dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(S, n, H * dh)


@dataclass
class _Cache:
    """What the backward pass needs of the forward pass."""

    xt: np.ndarray  # (S, d) the targets' inputs
    qh: np.ndarray  # (S, H, dh) unit queries
    qn: np.ndarray  # (S, H, 1) query norms
    kh: np.ndarray  # (S, H, n, dh) unit keys
    kn: np.ndarray  # (S, H, n, 1) key norms
    vh: np.ndarray  # (S, H, n, dh) values
    cs: np.ndarray  # (S, H, n) cosines
    A: np.ndarray  # (S, H, n) attention weights
    att: np.ndarray  # (S, d) attended values, heads concatenated
    ratio: np.ndarray  # (S, n) p / (a + p): d prior / d log a


def forward(W: dict[str, np.ndarray], sc: dict[str, float], batch: Batch, setup: Setup) -> tuple[np.ndarray, _Cache]:
    """The target's contextual vector c (2B, d) of each sentence of the batch (formula above)."""
    x = batch.x
    S, n, d = x.shape  # sentences, tokens, dims
    H = setup.heads
    dh = d // H
    xt = x[np.arange(S), batch.target]  # (S, d)
    qh, qn = _unit((xt @ W["q"]).reshape(S, H, dh))  # (S, H, dh), (S, H, 1)
    kh, kn = _unit(_heads(x @ W["k"], H))  # (S, H, n, dh), (S, H, n, 1)
    vh = _heads(x @ W["v"], H)  # (S, H, n, dh)
    cs = (kh @ qh[..., None])[..., 0]  # (S, H, n)
    logits = sc["s"] * cs
    a = sc["a"]
    ratio = batch.p / (a + batch.p)  # (S, n)
    if setup.prior:
        logits = logits + (np.log(a) - np.log(a + batch.p))[:, None, :]
    logits = np.where(batch.keys[:, None, :], logits, -np.inf)
    top = logits.max(-1, keepdims=True)
    e = np.exp(logits - np.where(np.isfinite(top), top, 0.0))
    total = e.sum(-1, keepdims=True)
    A = e / np.where(total == 0, 1.0, total)  # (S, H, n); a target with no key: all zero
    att = (A[:, :, None, :] @ vh)[:, :, 0, :].reshape(S, d)  # (S, d)
    c = sc["r"] * xt + (1 - sc["r"]) * att  # (S, d)
    return c, _Cache(xt, qh, qn, kh, kn, vh, cs, A, att, ratio)


def pair_cosines(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cos(c_1, c_2) per pair (B,), with the two sentences' c (B, d) each."""
    c1, c2 = c[0::2], c[1::2]
    n1 = np.maximum(np.linalg.norm(c1, axis=1), 1e-12)
    n2 = np.maximum(np.linalg.norm(c2, axis=1), 1e-12)
    return (c1 * c2).sum(1) / (n1 * n2), c1, c2


def loss_and_grad(params: dict[str, np.ndarray], batch: Batch, setup: Setup) -> tuple[float, dict[str, np.ndarray]]:
    """Mean cross-entropy of sigma(beta (cos(c_1, c_2) - theta)) over the batch's pairs plus
    lambda sum_m ||U_m V_m^T||^2, and its gradient for every parameter."""
    W, sc = matrices(params), scalars(params)
    c, k = forward(W, sc, batch, setup)
    S, n, d = batch.x.shape
    H, dh = setup.heads, d // setup.heads
    score, c1, c2 = pair_cosines(c)
    beta, theta, y = float(params["beta"]), float(params["theta"]), batch.y
    z = beta * (score - theta)
    loss = float(np.mean(np.logaddexp(0.0, z) - y * z))  # softplus(z) - y z
    dz = (0.5 * (1.0 + np.tanh(0.5 * z)) - y) / len(y)  # sigmoid(z) - y, over the mean
    grads = {"beta": np.array((dz * (score - theta)).sum()), "theta": np.array(-(dz * beta).sum())}
    ds = dz * beta  # (B,)
    n1 = np.maximum(np.linalg.norm(c1, axis=1, keepdims=True), 1e-12)
    n2 = np.maximum(np.linalg.norm(c2, axis=1, keepdims=True), 1e-12)
    dc = np.empty_like(c)  # (S, d)
    dc[0::2] = ds[:, None] * (c2 / (n1 * n2) - score[:, None] * c1 / n1**2)
    dc[1::2] = ds[:, None] * (c1 / (n1 * n2) - score[:, None] * c2 / n2**2)
    r = sc["r"]
    grads["rho"] = np.array((dc * (k.xt - k.att)).sum() * r * (1 - r))
    datt = ((1 - r) * dc).reshape(S, H, dh)
    dA = (k.vh @ datt[..., None])[..., 0]  # (S, H, n)
    dvh = k.A[..., None] * datt[:, :, None, :]  # (S, H, n, dh)
    dlogits = k.A * (dA - (k.A * dA).sum(-1, keepdims=True))  # (S, H, n)
    grads["log_s"] = np.array((dlogits * k.cs).sum() * sc["s"])
    grads["log_a"] = np.array((dlogits.sum(1) * k.ratio).sum() if setup.prior else 0.0)
    dcs = sc["s"] * dlogits
    dq = _unit_backward((dcs[:, :, None, :] @ k.kh)[:, :, 0, :], k.qh, k.qn).reshape(S, d)  # (S, d)
    dK = _unit_backward(dcs[..., None] * k.qh[:, :, None, :], k.kh, k.kn)  # (S, H, n, dh)
    flat = batch.x.reshape(S * n, d)
    dW = {"q": k.xt.T @ dq, "k": flat.T @ _merge(dK).reshape(S * n, d), "v": flat.T @ _merge(dvh).reshape(S * n, d)}
    for m in MATRICES:
        U, V = params[f"U_{m}"], params[f"V_{m}"]
        delta = U @ V.T  # (d, d)
        loss += setup.weight_decay * float((delta**2).sum())
        g = dW[m] + 2 * setup.weight_decay * delta
        grads[f"U_{m}"], grads[f"V_{m}"] = g @ V, g.T @ U
    return loss, grads


def scores(params: dict[str, np.ndarray], batches: list[Batch], setup: Setup, n_pairs: int, float32: bool = False) -> np.ndarray:
    """cos(c_1, c_2) of every pair in `batches`, at its index (n_pairs,); unbatched pairs are NaN."""
    W, sc = matrices(params, float32), scalars(params)
    out = np.full(n_pairs, np.nan)
    for b in batches:
        c, _ = forward(W, sc, b, setup)
        out[b.pairs], _, _ = pair_cosines(c)
    return out


# ---------------------------------------------------------------- optimization


class Adam:
    """Kingma and Ba 2015: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
    p -= lr m_hat / (sqrt(v_hat) + eps), with the bias-corrected m_hat, v_hat."""

    def __init__(self, params: dict[str, np.ndarray], lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        c1, c2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for k, g in grads.items():
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            params[k] = params[k] - self.lr * (self.m[k] / c1) / (np.sqrt(self.v[k] / c2) + self.eps)


def run(params: dict[str, np.ndarray], batches: list[Batch], setup: Setup, epochs: int, seed: int,
        after_epoch: Callable[[int, float], None] | None = None) -> list[float]:
    """Adam over `epochs` passes (batch order shuffled by `seed`, the same for the same seed);
    updates `params` in place and returns the mean training loss of each epoch."""
    rng = np.random.default_rng(seed)
    opt = Adam(params, setup.learning_rate)
    losses = []
    for epoch in range(1, epochs + 1):
        total = 0.0
        for i in rng.permutation(len(batches)):
            loss, grads = loss_and_grad(params, batches[i], setup)
            opt.step(params, grads)
            total += loss * len(batches[i].pairs)
        losses.append(total / sum(len(b.pairs) for b in batches))
        if after_epoch:
            after_epoch(epoch, losses[-1])
    return losses


def _start_readout(params, batches, setup, n_pairs, labels, index) -> None:
    """theta at the accuracy-best threshold of the starting scores: the read-out starts sensible."""
    s = scores(params, batches, setup, n_pairs)[index]
    theta, _ = fit_threshold(s, labels[index])
    params["theta"] = np.array(theta)


# ---------------------------------------------------------------- the command's work


@dataclass
class TrainedQKV:
    weights: dict[str, np.ndarray]  # W_q, W_k, W_v (d, d) float32
    config: dict  # the attention settings to run them with (Config fields)
    epochs: int  # chosen by cross-validation, or given
    cv_accuracy: list[float]  # mean held-out accuracy after 0, 1, ..., max epochs (grouped folds)
    losses: list[float]  # training loss per epoch of the final run
    train_accuracy: float  # on the whole training split, threshold fitted there
    threshold: float
    scores: np.ndarray  # (N,) pair scores of the training split, as --weights FILE gives them
    learned: dict[str, float] = field(default_factory=dict)  # s, a, r, beta, theta


def cross_validate(sents: list[Sentence], labels: np.ndarray, folds: np.ndarray, setup: Setup, base: P.Config,
                   epochs: int, seed: int, update: Callable | None = None) -> list[float]:
    """Mean held-out accuracy over the folds (grouped by target word), after 0..epochs epochs."""
    n_pairs, d = len(labels), sents[0].x.shape[1]
    per_fold = []
    used = np.unique(folds)  # a split with fewer words than folds leaves some empty
    for i, f in enumerate(used):
        train, test = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        tb, hb = make_batches(sents, labels, train, setup), make_batches(sents, labels, test, setup)
        params = init_params(d, setup, base, seed)
        _start_readout(params, tb, setup, n_pairs, labels, train)

        def held_out() -> float:
            t, _ = fit_threshold(scores(params, tb, setup, n_pairs)[train], labels[train])
            return accuracy(scores(params, hb, setup, n_pairs)[test], labels[test], t)

        accs = [held_out()]

        def after(epoch: int, loss: float) -> None:
            accs.append(held_out())
            if update:
                update(i * epochs + epoch, f"fold {i + 1}/{len(used)} epoch {epoch}/{epochs}: loss {loss:.4f}, held-out accuracy {accs[-1]:.4f}")

        run(params, tb, setup, epochs, seed, after)
        per_fold.append(accs)
    return [float(v) for v in np.mean(per_fold, axis=0)]


def train_qkv(pairs: list[Pair], labels: np.ndarray, cfg: P.Config, vec, rank: int = RANK,
              epochs: int | None = None, seed: int = 0) -> TrainedQKV:
    """Learn W_q, W_k, W_v on `pairs`; epochs by grouped cross-validation unless given."""
    cfg = cfg.resolved()
    check_config(cfg)
    if rank < 1:
        raise UsageError(f"--rank must be >= 1 here, not {rank}")
    d = vec.dim
    if d % cfg.heads:
        raise UsageError(f"--heads {cfg.heads}: {d} dimensions cannot be split into {cfg.heads} heads")
    if epochs is not None and epochs < 1:
        raise UsageError(f"--epochs must be >= 1, not {epochs}")
    setup = Setup(heads=cfg.heads, rank=rank, exclude_self=cfg.exclude_self, prior=cfg.prior == "zipf")
    labels = np.asarray(labels, dtype=bool)
    with report.progress("reading WiC sentences", len(pairs)) as update:
        sents = sentences(Scorer(vec, cfg.oov), pairs, cfg, update)
    folds = word_folds(pairs, FOLDS, seed)
    if len(np.unique(folds)) < 2:
        words = len({p.word for p in pairs})
        raise DataError(f"train wic needs pairs of at least 2 different words (it cross-validates in folds by "
                        f"target word); the file has {len(pairs)} pair(s) of {words} word(s): more data is needed")
    max_epochs = epochs or MAX_EPOCHS
    with report.progress("cross-validating (folds by target word)", len(np.unique(folds)) * max_epochs) as update:
        cv = cross_validate(sents, labels, folds, setup, cfg, max_epochs, seed, update)
    chosen = epochs or int(np.argmax(cv[1:])) + 1  # ties: the fewer epochs
    everything = np.arange(len(pairs))
    batches = make_batches(sents, labels, everything, setup)
    params = init_params(d, setup, cfg, seed)
    _start_readout(params, batches, setup, len(pairs), labels, everything)
    with report.progress(f"training on every pair ({chosen} epochs)", chosen) as update:
        losses = run(params, batches, setup, chosen, seed,
                     lambda e, loss: update(e, f"final epoch {e}/{chosen}: loss {loss:.4f}"))
    final = scores(params, batches, setup, len(pairs), float32=True)
    threshold, train_acc = fit_threshold(final, labels)
    sc = scalars(params)
    W = matrices(params)
    weights = {f"W_{m}": W[m].astype(np.float32) for m in MATRICES}
    config = {"heads": cfg.heads, "similarity": "cosine", "scale": False, "temperature": 1.0 / sc["s"],
              "exclude_self": cfg.exclude_self, "causal": False, "positions": "none", "prior": cfg.prior,
              "prior_a": sc["a"] if cfg.prior == "zipf" else cfg.prior_a, "residual": sc["r"], "layers": 1,
              "center": cfg.center}
    learned = {**sc, "beta": float(params["beta"]), "theta": float(params["theta"])}
    return TrainedQKV(weights, config, chosen, cv, losses, train_acc, threshold, final, learned)
