"""Word-in-Context (Pilehvar and Camacho-Collados, NAACL 2019): does a target word mean the
same in two sentences? Score of a pair = cosine between the target's contextual vectors in its
two sentences; a threshold fitted on one split decides; accuracy is reported on another.

Files: SPLIT.data.txt, tab-separated `word  PoS  i-j  sentence_1  sentence_2` (i, j: 0-based
indices of the target in the whitespace-tokenized sentences); SPLIT.gold.txt, `T` or `F`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import pipeline as P
from .errors import DataError
from .inputs import nonblank_lines
from .tokens import word_spans
from .vectors import Vectors


@dataclass(frozen=True)
class Pair:
    word: str
    pos: str
    index1: int
    index2: int
    sentence1: str
    sentence2: str
    where: str = field(default="", compare=False)  # "FILE:LINE" for messages


def read_pairs(path: str | Path) -> list[Pair]:
    """Parse a WiC data file; DataError names the file and line of anything malformed."""
    path = Path(path)
    pairs = []
    for n, line in enumerate(nonblank_lines(path), 1):
        cols = line.split("\t")
        if len(cols) != 5:
            raise DataError(f"{path}:{n}: expected 5 tab-separated fields, found {len(cols)}")
        word, pos, idx, s1, s2 = cols
        try:
            i, j = (int(v) for v in idx.split("-"))
        except ValueError:
            raise DataError(f"{path}:{n}: indices {idx!r} are not 'i-j'") from None
        for k, s in ((i, s1), (j, s2)):
            if not 0 <= k < len(s.split()):
                raise DataError(f"{path}:{n}: index {k} is outside the sentence ({len(s.split())} words)")
        pairs.append(Pair(word, pos, i, j, s1, s2, f"{path}:{n}"))
    if not pairs:
        raise DataError(f"{path}: holds no pairs")
    return pairs


def read_gold(path: str | Path, n: int) -> np.ndarray:
    path = Path(path)
    labels = []
    for k, line in enumerate(nonblank_lines(path), 1):
        if line not in ("T", "F"):
            raise DataError(f"{path}:{k}: expected T or F, found {line[:20]!r}")
        labels.append(line == "T")
    if len(labels) != n:
        raise DataError(f"{path}: {len(labels)} labels for {n} pairs")
    return np.array(labels)


def read_split(data: str | Path, gold: str | Path) -> tuple[list[Pair], np.ndarray]:
    """A split's pairs and their labels (True: same sense), checked to line up."""
    pairs = read_pairs(data)
    return pairs, read_gold(gold, len(pairs))


@dataclass
class _Sentence:
    prep: P.Prepared
    x: np.ndarray  # (n, d) static vectors of the kept tokens
    spans: list[list[int]]  # whitespace word -> token positions
    fallback: bool = False  # no word of it but the target is in the vocabulary: scored anyway


@dataclass(frozen=True)
class TargetContext:
    x: np.ndarray  # (n, d) model input of the sentence's tokens (centered when --center is on)
    ids: np.ndarray  # (n,) vocabulary rows, -1 for the target when it is out of the vocabulary
    row: int  # the target's row


class Scorer:
    """Scores pairs under any Config, tokenizing and looking up each sentence once."""

    def __init__(self, vec: Vectors, oov: str = "skip"):
        self.vec = vec
        self._base = P.Config(oov=oov)
        self._cache: dict[str, _Sentence] = {}
        self.unknown_targets = 0
        self.fallbacks = 0

    def sentence(self, text: str) -> _Sentence:
        """A sentence, tokenized and looked up once. One that the pipeline would refuse (no word
        in the vocabulary besides, perhaps, the target) is kept with what it has: its target
        then attends to whatever is left, possibly nothing (a zero vector, cosine 0)."""
        s = self._cache.get(text)
        if s is None:
            try:
                prep, fallback = P.prepare(text, self.vec, self._base), False
            except DataError:
                prep, fallback = P.prepare(text, self.vec, self._base, require_known=False), True
            s = _Sentence(prep, P.static_rows(self.vec, prep.ids, prep.subword), word_spans(text, prep.tokens), fallback)
            self._cache[text] = s
        return s

    def target_vector(self, text: str, index: int, cfg: P.Config, proj) -> np.ndarray:
        """The contextual vector of whitespace word `index` of `text`: its first alphabetic
        token in the vocabulary ("boards" -> "boards"; "bank's" -> "bank"). A word out of the
        vocabulary takes part as a zero vector, as under --oov zero: its new vector is what a
        query with no content attends to, the prior-weighted mean of its sentence."""
        ctx = self.target_context(text, index, cfg)
        out, _ = P.contextualize(ctx.x, cfg, proj, P.key_prior(self.vec, ctx.ids, cfg))
        return out[ctx.row]

    def target_context(self, text: str, index: int, cfg: P.Config) -> "TargetContext":
        """What attention sees of the sentence when whitespace word `index` is the target (see
        target_vector): the model input, the vocabulary rows and the target's row."""
        s = self.sentence(text)
        ids, x = s.prep.ids, s.x
        k = target_row(s.prep, s.spans[index])
        if k is None:
            self.unknown_targets += 1
            k = sum(1 for pos in s.prep.kept if pos < s.spans[index][0])  # where the word stands
            ids, x = np.insert(ids, k, -1), np.insert(x, k, 0.0, axis=0)
        return TargetContext(P.model_input(x, self.vec, cfg), ids, k)

    def target_input(self, text: str, index: int, cfg: P.Config) -> np.ndarray:
        """What attention receives for that word: its (centered) static vector; zero when it
        is out of the vocabulary."""
        s = self.sentence(text)
        k = target_row(s.prep, s.spans[index])
        if k is None:
            return np.zeros(self.vec.dim, dtype=np.float32)
        return P.model_input(s.x[k : k + 1], self.vec, cfg)[0]

    def scores(self, pairs: list[Pair], cfg: P.Config, progress: Callable[[int], None] | None = None) -> np.ndarray:
        proj = P.load_projections(cfg, self.vec.dim)
        self.unknown_targets = self.fallbacks = 0
        out = np.empty(len(pairs), dtype=np.float64)
        for i, p in enumerate(pairs):
            try:
                a = self.target_vector(p.sentence1, p.index1, cfg, proj)
                b = self.target_vector(p.sentence2, p.index2, cfg, proj)
            except DataError as e:  # e.g. --oov error: say which pair of which file
                raise DataError(f"{p.where}: {e}" if p.where else str(e)) from None
            out[i] = _cosine(a, b)
            self.fallbacks += self.sentence(p.sentence1).fallback or self.sentence(p.sentence2).fallback
            if progress:
                progress(1)
        return out


def target_row(prep: P.Prepared, token_positions: list[int]) -> int | None:
    """Row (among the kept tokens) of the word made of these token positions."""
    row_of = {pos: k for k, pos in enumerate(prep.kept)}
    rows = [row_of[t] for t in token_positions if t in row_of]
    for t in token_positions:
        if t in row_of and any(ch.isalpha() for ch in prep.tokens[t].text):
            return row_of[t]
    return rows[0] if rows else None


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine in float64 (vectors of 1e30 would overflow float32's squares); 0 for a zero vector."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na and nb else 0.0


def fit_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The threshold t maximizing accuracy of `score > t` -> same sense; returns (t, accuracy).
    t lies halfway between two neighbouring scores."""
    order = np.argsort(scores, kind="stable")
    s, y = scores[order], labels[order].astype(np.int64)
    n = len(s)
    below_pos = np.concatenate([[0], np.cumsum(y)])  # positives among the i lowest
    i = np.arange(n + 1)
    correct = (i - below_pos) + (y.sum() - below_pos)  # negatives below + positives above
    # only cut between distinct scores
    valid = np.ones(n + 1, dtype=bool)
    valid[1:n] = s[1:] > s[:-1]
    correct = np.where(valid, correct, -1)
    best = int(np.argmax(correct))
    if best == 0:
        t = s[0] - 1e-6
    elif best == n:
        t = s[-1] + 1e-6
    else:
        t = (s[best - 1] + s[best]) / 2
    return float(t), float(correct[best] / n)


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(((scores > threshold) == labels).mean())


# The --tune grid: the options of the "defaults that show meaning" section. grid() adds the
# starting config's own value on every axis, so the untuned settings are always a candidate.
TUNE_GRID = {
    "temperature": [0.5, 1.0, 2.0],
    "prior_a": [1e-5, 1e-4, 1e-3],
    "center": [0, 10_000],
    "exclude_self": [True, False],
}


def grid(base: P.Config, spec: dict = TUNE_GRID) -> Iterable[P.Config]:
    """Every combination of the spec's values, each axis extended by base's own value; the
    first config yielded is base itself (so a tie keeps the settings the user started from)."""
    base = base.resolved()
    keys = list(spec)
    axes = [[getattr(base, k)] + [v for v in spec[k] if v != getattr(base, k)] for k in keys]
    for values in itertools.product(*axes):
        yield base.replace(**dict(zip(keys, values)))


@dataclass
class EvalResult:
    accuracy: float  # on the eval split
    threshold: float  # fitted on the fit split
    n: int  # pairs in the eval split
    config: P.Config
    fit_accuracy: float
    unknown_targets: int  # eval target occurrences out of the vocabulary (scored by the sentence mean)
    trials: list[tuple[P.Config, float]]  # with --tune: every config tried, fit accuracy
    fallbacks: int = 0  # eval pairs with a sentence of no in-vocabulary word but the target (Scorer.sentence)


def evaluate(
    eval_pairs: list[Pair],
    eval_gold: np.ndarray,
    fit_pairs: list[Pair],
    fit_gold: np.ndarray,
    cfg: P.Config,
    vec: Vectors,
    tune: bool = False,
    progress: Callable[[int], None] | None = None,
    spec: dict = TUNE_GRID,
) -> EvalResult:
    """Fit the threshold (and with `tune` the options of `spec`) on the fit split only, then
    report accuracy on the eval split. Tuning starts from `cfg` itself and moves only to a
    strictly better fit accuracy: it never chooses worse than the settings it was given."""
    cfg = cfg.resolved()
    scorer = Scorer(vec, cfg.oov)
    trials = []
    candidates = list(grid(cfg, spec)) if tune else [cfg]
    best = None
    for c in candidates:
        t, acc = fit_threshold(scorer.scores(fit_pairs, c, progress), fit_gold)
        trials.append((c, acc))
        if best is None or acc > best[2]:
            best = (c, t, acc)
    chosen, threshold, fit_acc = best
    s = scorer.scores(eval_pairs, chosen, progress)
    return EvalResult(
        accuracy=accuracy(s, eval_gold, threshold),
        threshold=threshold,
        n=len(eval_pairs),
        config=chosen,
        fit_accuracy=fit_acc,
        unknown_targets=scorer.unknown_targets,
        fallbacks=scorer.fallbacks,
        trials=trials,
    )


# ---------------------------------------------------------------- baselines


@dataclass
class BaselineRow:
    """One stage of `eval wic`'s baselines table."""

    name: str
    accuracy: float  # on the eval split, threshold fitted on the fit split
    se: float  # binomial standard error of that accuracy, sqrt(p (1 - p) / n)
    fit_accuracy: float
    grouped_cv: float  # threshold-only cross-validation on the fit split, folds grouped by target word


def word_folds(pairs: list[Pair], k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number per pair; all pairs of one target word share a fold."""
    words = sorted({p.word for p in pairs})
    fold_of = {w: i % k for i, w in enumerate(np.random.default_rng(seed).permutation(words))}
    return np.array([fold_of[p.word] for p in pairs])


def binomial_se(p: float, n: int) -> float:
    return float(np.sqrt(p * (1 - p) / n)) if n else 0.0


def grouped_cv(scores: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> float:
    """Mean held-out accuracy over the folds, the threshold fitted on the other folds."""
    accs = []
    for f in np.unique(folds):
        t, _ = fit_threshold(scores[folds != f], labels[folds != f])
        accs.append(accuracy(scores[folds == f], labels[folds == f], t))
    return float(np.mean(accs))


def baselines(eval_pairs: list[Pair], eval_gold: np.ndarray, fit_pairs: list[Pair], fit_gold: np.ndarray, cfg: P.Config,
              vec: Vectors, progress: Callable[[int], None] | None = None) -> list[BaselineRow]:
    """The stages every evaluation prints beside the chosen settings (pseudowords.baseline_configs):
    static vectors (the target's own vector in both sentences), the uniform mean of the context,
    the prior-only average, the parameter-free defaults and the trained weights. The trained
    weights were fitted on WiC train: their grouped CV here is the threshold's only."""
    from .baselines import baseline_configs

    folds = word_folds(fit_pairs)
    rows = []
    for name, c in baseline_configs(cfg):
        scorer = Scorer(vec, cfg.oov)
        if c is None:
            c = cfg.resolved()

            def score(pairs):
                out = np.array([_cosine(scorer.target_input(p.sentence1, p.index1, c), scorer.target_input(p.sentence2, p.index2, c))
                                for p in pairs])
                if progress:
                    progress(len(pairs))
                return out
        else:
            c = c.resolved()

            def score(pairs, c=c):
                return scorer.scores(pairs, c, progress)
        fit_s, eval_s = score(fit_pairs), score(eval_pairs)
        t, fit_acc = fit_threshold(fit_s, fit_gold)
        acc = accuracy(eval_s, eval_gold, t)
        rows.append(BaselineRow(name, acc, binomial_se(acc, len(eval_pairs)), fit_acc, grouped_cv(fit_s, fit_gold, folds)))
    return rows
