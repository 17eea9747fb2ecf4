"""Learning the value projection W_v on a WiC split: `attncli train wic`.

The model is stage 2 of the notes with Q = K = X (the tuned attention of simple mode) and a
learned V = X W_v. For the target word t of a sentence,

    c = r x_t + (1 - r) sum_j a_tj x_j W_v = r x_t + (1 - r) m_t W_v

and a pair scores cos(c_1, c_2), as in `eval wic`. W_v (d x d, started at I) and a logistic
read-out sigma(beta (score - theta)) are fitted by L-BFGS on the cross-entropy of the fit
split's labels, plus mu |W_v - I|^2, which keeps W_v near the identity (near the untrained
model). mu is chosen by cross-validation on the fit split, with folds split by target word so
that no word is both trained and tested on. The result is a weights file of the embed contract
(W_q = W_k = I, W_v), run by `--mode qkv --weights FILE` with the saved settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import pipeline as P
from .errors import DataError, UsageError
from .wic import Pair, Scorer, accuracy, fit_threshold, word_folds  # noqa: F401 (word_folds: learn_qkv takes it from here)

REGULARIZATION = (0.1, 0.03, 0.01, 0.003)  # candidates for mu


def target_parts(scorer: Scorer, pairs: list[Pair], cfg: P.Config, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """(N, 2, 2, d): for each pair and sentence, x_t (the target's model input, zero when out
    of the vocabulary) and m_t (what it attends to, before W_v)."""
    attend = dataclasses.replace(cfg, residual=0.0)  # simple mode: Q = K = V = X
    identity = P.load_projections(attend, scorer.vec.dim)
    out = np.zeros((len(pairs), 2, 2, scorer.vec.dim))
    for i, p in enumerate(pairs):
        for j, (text, index) in enumerate(((p.sentence1, p.index1), (p.sentence2, p.index2))):
            out[i, j, 1] = scorer.target_vector(text, index, attend, identity)
            out[i, j, 0] = scorer.target_input(text, index, cfg)
        if progress:
            progress(1)
    return out


def pair_scores(W_v: np.ndarray, parts: np.ndarray, residual: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cos(c_1, c_2) per pair, with c (N, 2, d) and its norms (N, 2)."""
    c = residual * parts[:, :, 0] + (1 - residual) * parts[:, :, 1] @ W_v  # (N, 2, d)
    norm = np.maximum(np.linalg.norm(c, axis=2), 1e-12)  # (N, 2)
    return (c[:, 0] * c[:, 1]).sum(1) / (norm[:, 0] * norm[:, 1]), c, norm


def _loss(theta: np.ndarray, parts: np.ndarray, y: np.ndarray, residual: float, mu: float):
    """Cross-entropy of sigma(beta (s - theta0)) plus mu |W_v - I|^2, and its gradient."""
    d = parts.shape[-1]
    W_v, beta, bias = theta[: d * d].reshape(d, d), theta[-2], theta[-1]
    s, c, norm = pair_scores(W_v, parts, residual)
    p = 0.5 * (1.0 + np.tanh(0.5 * beta * (s - bias)))  # sigmoid, without overflow
    eye = np.eye(d)
    loss = -np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)) + mu * ((W_v - eye) ** 2).sum()
    dz = (p - y) / len(y)  # d loss / d z, z = beta (s - bias)
    ds = dz * beta
    c1, c2, n1, n2 = c[:, 0], c[:, 1], norm[:, :1], norm[:, 1:]
    g1 = c2 / (n1 * n2) - s[:, None] * c1 / n1**2  # d s / d c_1
    g2 = c1 / (n1 * n2) - s[:, None] * c2 / n2**2
    dW = (1 - residual) * (parts[:, 0, 1].T @ (ds[:, None] * g1) + parts[:, 1, 1].T @ (ds[:, None] * g2))
    dW += 2 * mu * (W_v - eye)
    return loss, np.concatenate([dW.ravel(), [(dz * (s - bias)).sum(), -(dz * beta).sum()]])


def fit_value_projection(parts: np.ndarray, labels: np.ndarray, residual: float, mu: float, maxiter: int = 500) -> np.ndarray:
    """W_v (d, d) minimizing _loss from W_v = I."""
    from scipy.optimize import minimize  # only this command needs it

    d = parts.shape[-1]
    theta0 = np.concatenate([np.eye(d).ravel(), [5.0, 0.5]])
    fit = minimize(_loss, theta0, args=(parts, labels.astype(np.float64), residual, mu), jac=True,
                   method="L-BFGS-B", options={"maxiter": maxiter})
    return fit.x[: d * d].reshape(d, d)


def cross_validate(parts, labels, folds, residual: float, mu: float, progress=None) -> float:
    """Mean held-out accuracy (threshold fitted on each training part)."""
    accs = []
    for f in np.unique(folds):
        if progress:
            progress(1)
        train, test = folds != f, folds == f
        W_v = fit_value_projection(parts[train], labels[train], residual, mu)
        t, _ = fit_threshold(pair_scores(W_v, parts[train], residual)[0], labels[train])
        accs.append(accuracy(pair_scores(W_v, parts[test], residual)[0], labels[test], t))
    return float(np.mean(accs))


@dataclass
class Trained:
    weights: dict[str, np.ndarray]  # the .npz contents: W_q, W_k, W_v
    config: P.Config  # the settings to run them with (weights left for the caller to set)
    mu: float
    cv_accuracy: dict[float, float]  # mu -> cross-validated accuracy on the fit split
    fit_accuracy: float  # with the chosen mu, trained on the whole fit split
    threshold: float


FOLDS = 5


def steps(n_pairs: int, regs=REGULARIZATION) -> int:
    """Progress steps of train_value_projection: one per pair, one per cross-validation fit."""
    return n_pairs + len(regs) * FOLDS


def train_value_projection(
    pairs: list[Pair], labels: np.ndarray, cfg: P.Config, vec, regs=REGULARIZATION, progress=None
) -> Trained:
    cfg = cfg.resolved()
    if cfg.mode != "simple" or cfg.layers != 1 or cfg.heads != 1 or cfg.positions != "none" or cfg.causal:
        raise UsageError("train wic learns W_v on top of simple-mode attention: one layer, one head, no positions or causal mask")
    words = len({p.word for p in pairs})
    if words < 2:  # cross-validation by target word: one word leaves nothing to train a fold on
        raise DataError(f"train wic needs pairs of at least 2 different target words (it cross-validates by "
                        f"target word); the file has {len(pairs)} pair(s) of {words} word(s): more data is needed")
    scorer = Scorer(vec, cfg.oov)
    parts = target_parts(scorer, pairs, cfg, progress)
    folds = word_folds(pairs, FOLDS)
    cv = {mu: cross_validate(parts, labels, folds, cfg.residual, mu, progress) for mu in regs}
    mu = max(cv, key=lambda m: (cv[m], m))  # ties: the stronger regularization
    W_v = fit_value_projection(parts, labels, cfg.residual, mu)
    t, acc = fit_threshold(pair_scores(W_v, parts, cfg.residual)[0], labels)
    eye = np.eye(vec.dim, dtype=np.float32)
    weights = {"W_q": eye, "W_k": eye, "W_v": W_v.astype(np.float32)}
    run_with = dataclasses.replace(cfg, mode="qkv")  # every attention setting as tuned, now with W_v
    return Trained(weights, run_with, mu, cv, acc, t)
