"""Issue 21, attention that earns its place: a self-supervised value projection. On every line
of the shared corpus, the parameter-free attention (the defaults with residual 0) gives each word
m_t, the attention-weighted mean of its context; W_v is fitted in closed form so that m_t W_v
predicts the word's own (centered) static vector, as context2vec predicts the masked word:

    W_v = argmin |M W - X|^2 + mu n |W - I|^2  =  (M^T M + mu n I)^-1 (M^T X + mu n I)

Then WiC scores c = r x_t + (1 - r) m_t W_v (r = 0.2, the defaults otherwise) with the threshold
fitted on train: accuracy on dev, threshold-only grouped cross-validation on train.

    .venv/bin/python scripts/wic_selfsup.py [--corpus ../shared/corpus] [--wic ../shared/wic]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from attncli import pipeline as P  # noqa: E402
from attncli import wic  # noqa: E402
from attncli.inputs import expand, read_lines  # noqa: E402
from attncli.errors import DataError  # noqa: E402
from attncli.learn import pair_scores, target_parts  # noqa: E402


def corpus_pairs(paths, vec, cfg):
    """(M, X): each in-vocabulary alphabetic token's attended context m_t and its model input x_t."""
    attend = cfg.replace(residual=0.0)
    proj = P.load_projections(attend, vec.dim)
    ms, xs = [], []
    for _, _, text in read_lines(expand([str(p) for p in paths])):
        if type(text) is not str:  # not UTF-8, too long
            continue
        try:
            prep = P.prepare(text, vec, attend)
        except DataError:
            continue
        if len(prep.ids) < 3:
            continue
        x = P.model_input(P.static_rows(vec, prep.ids, prep.subword), vec, attend)
        out, _ = P.contextualize(x, attend, proj, P.key_prior(vec, prep.ids, attend))
        keep = np.array([prep.tokens[k].text.isalpha() for k in prep.kept]) & (prep.ids >= 0)
        ms.append(out[keep])
        xs.append(x[keep])
    return np.concatenate(ms).astype(np.float64), np.concatenate(xs).astype(np.float64)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--wic", type=Path, default=ROOT.parent / "shared" / "wic")
    args = ap.parse_args()
    vec = P.get_vectors()
    cfg = P.Config().resolved()
    t0 = time.perf_counter()
    M, X = corpus_pairs(sorted(args.corpus.glob("*.txt")), vec, cfg)
    print(f"{len(M):,} corpus positions in {time.perf_counter() - t0:.0f} s")
    fit, fit_y = wic.read_split(args.wic / "train.data.txt", args.wic / "train.gold.txt")
    dev, dev_y = wic.read_split(args.wic / "dev.data.txt", args.wic / "dev.gold.txt")
    scorer = wic.Scorer(vec, cfg.oov)
    fit_parts, dev_parts = target_parts(scorer, fit, cfg), target_parts(scorer, dev, cfg)
    folds = wic.word_folds(fit)
    d = vec.dim
    G, B = M.T @ M, M.T @ X
    print(f"{'W_v':32s} {'train':>7s} {'grouped CV':>10s} {'dev':>7s}  (dev s.e. {wic.binomial_se(0.61, len(dev)):.4f})")
    for name, W in [("identity (the defaults)", np.eye(d))] + [
            (f"self-supervised, mu={mu:g}", np.linalg.solve(G + mu * len(M) * np.eye(d), B + mu * len(M) * np.eye(d)))
            for mu in (0.0, 0.01, 0.1, 1.0)]:
        s_fit = pair_scores(W, fit_parts, cfg.residual)[0]
        s_dev = pair_scores(W, dev_parts, cfg.residual)[0]
        t, acc = wic.fit_threshold(s_fit, fit_y)
        print(f"{name:32s} {acc:7.4f} {wic.grouped_cv(s_fit, fit_y, folds):10.4f} {wic.accuracy(s_dev, dev_y, t):7.4f}")


if __name__ == "__main__":
    main()
