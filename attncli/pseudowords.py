"""Schütze's pseudoword test: two words merged into one, and how well grouping its occurrences
into two recovers which word was there (balanced accuracy; one group for all scores 0.5)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from . import corpus, report
from .baselines import baseline_configs
from .corpus import MAX_LINE_BYTES, collect
from .errors import DataError, UsageError
from .grouping import SenseOptions, context_groups, group, spherical_kmeans
from .inputs import expand, read_lines, reading, rereadable
from .pipeline import Config, Lexicon, vectors_for
from .vectors import Vectors


# Frequent nouns of unrelated meaning, paired (all frequent in WikiText-2); used when no pairs are given.
DEFAULT_PAIRS = [
    ("army", "music"), ("episode", "highway"), ("battle", "university"), ("band", "county"),
    ("government", "video"), ("fire", "career"), ("court", "ships"), ("company", "hill"),
    ("series", "navy"), ("death", "street"), ("group", "land"), ("history", "service"),
]
MIN_PAIR_OCCURRENCES = 10  # built-in pairs with fewer occurrences of either word are left out
# How the occurrences are split in two: "context" (the context view, attncli.contextview, smoothed
# over neighbouring lines, spherical 2-means), "kurtosis" (the contextual vectors split along their
# most bimodal direction: the grouping of `senses` before issue 21), "kmeans" (plain spherical
# 2-means of the contextual vectors); "senses": whatever `attncli senses` uses by default.
METHODS = ("senses", "context", "kurtosis", "kmeans")
SENSES_DEFAULT = "kurtosis"  # what `attncli senses` groups by default
# Named pair sets (data/pseudowords, chosen by scripts/choose_pseudoword_pairs.py).
PAIR_SETS = ("builtin", "tuning", "heldout")


@dataclass
class PairScore:
    a: str
    b: str
    pseudoword: str
    n: int  # occurrences of the pseudoword
    n_a: int
    balanced_accuracy: float  # mean recall of the two words, best matching of groups to words
    majority: float  # share of the more frequent word: what one group for everything gets right


@dataclass
class Baseline:
    """One row of the baselines table: a view, its mean balanced accuracy and standard error over pairs."""

    name: str
    mean: float
    se: float
    scores: list[float]


@dataclass
class PseudowordResult:
    pairs: list[PairScore]
    skipped: list[str]  # built-in pairs left out, with why
    method: str
    baselines: list[Baseline] = dataclasses.field(default_factory=list)

    @property
    def se_balanced_accuracy(self) -> float:
        return standard_error([p.balanced_accuracy for p in self.pairs])

    @property
    def mean_balanced_accuracy(self) -> float:
        return float(np.mean([p.balanced_accuracy for p in self.pairs]))

    @property
    def mean_majority(self) -> float:
        return float(np.mean([p.majority for p in self.pairs]))

    def __repr__(self) -> str:
        lines = [f"PseudowordResult ({self.method}): mean balanced accuracy {self.mean_balanced_accuracy:.3f} over "
                 f"{len(self.pairs)} pairs (majority {self.mean_majority:.3f})"]
        lines += [f"  {p.a}:{p.b} n={p.n} balanced accuracy {p.balanced_accuracy:.3f}" for p in self.pairs[:12]]
        return "\n".join(lines)


def standard_error(values) -> float:
    """Standard error of the mean, sd / sqrt(n) (0 for fewer than 2 values)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def pair_set(name: str) -> list[tuple[str, str]]:
    """A named pair set: "builtin" (DEFAULT_PAIRS), "tuning" or "heldout" (data/pseudowords)."""
    if name == "builtin":
        return list(DEFAULT_PAIRS)
    from .vectors import data_dir

    path = data_dir() / "pseudowords" / f"{name}.txt"
    return parse_pairs(",".join(line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                                if line.strip() and not line.startswith("#")))


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """"a:b,c:d" -> [("a", "b"), ("c", "d")]; a set's name (builtin, tuning, heldout) -> its pairs."""
    if text.strip().lower() in PAIR_SETS:
        return pair_set(text.strip().lower())
    pairs = []
    for part in text.split(","):
        part = part.strip()
        bits = [b.strip().lower() for b in part.split(":")]
        if len(bits) != 2 or not all(bits):
            raise UsageError(f"--pairs takes A:B,C:D,...; {part!r} is not A:B")
        if bits[0] == bits[1]:
            raise UsageError(f"--pairs: {part!r} pairs a word with itself")
        pairs.append((bits[0], bits[1]))
    return pairs


def pseudo_vectors(vec: Vectors, a: str, b: str) -> tuple[Vectors, str]:
    """`vec` plus one new word, the pseudoword "ab" (a longer name if that is taken), whose
    vector is the mean of a's and b's; appended last, so it ranks as the rarest word (the
    frequency prior damps it least) and the top-N means used for centering do not change."""
    for w in (a, b):
        if w not in vec:
            raise DataError(f"{w!r} is not in the vocabulary of {vec.name}")
    name = f"{a}{b}"  # one token wherever it lands (a hyphen would join it to a neighbouring word)
    while name in vec:
        name += "x"
    m = np.asarray(vec.matrix, dtype=np.float32)
    row = (m[vec.index[a]] + m[vec.index[b]]) / np.float32(2)  # (d,)
    counts = None if vec.counts is None else np.append(vec.counts, vec.counts[vec.index[a]] + vec.counts[vec.index[b]])
    new = dataclasses.replace(vec, words=[*vec.words, name], matrix=np.vstack([m, row[None, :]]), counts=counts,
                              _index=None, _unit={}, _means={}, ngrams=None)
    new._scan_budget = None
    return new, name


def replace_words(lines: Iterable[tuple[str, int, str]], a: str, b: str, pseudo: str, lexicon: Lexicon,
                  truth: list[int]) -> Iterator[tuple[str, int, str]]:
    """Each line with every token a or b written as `pseudo`; appends 0 (a) or 1 (b) to `truth`
    for each, in reading order. Lines that could not be read (a BatchError) pass as they are."""
    for source, number, text in lines:
        if type(text) is not str:
            yield source, number, text
            continue
        low = text.lower()
        if a not in low and b not in low:
            yield source, number, text
            continue
        tokens = lexicon.tokens(text)
        hits = [t for t in tokens if t.text in (a, b)]
        if not hits:
            yield source, number, text
            continue
        parts, last = [], 0
        for t in hits:
            parts += [text[last:t.start], pseudo]
            last = t.start + len(t.surface)
            truth.append(int(t.text == b))
        parts.append(text[last:])
        yield source, number, "".join(parts)


def balanced_accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    """Mean recall of the two words under the better matching of groups 0/1 to words 0/1;
    a single group scores 0.5."""
    labels, truth = np.asarray(labels), np.asarray(truth)
    best = 0.0
    for flip in (False, True):
        pred = (labels == 0) if flip else (labels != 0)
        recall = [float(np.mean(pred[truth == c] == bool(c))) for c in (0, 1) if np.any(truth == c)]
        best = max(best, float(np.mean(recall)))
    return best


def pseudowords(
    inputs: list[str] | str | os.PathLike | None = None,
    pairs: list[tuple[str, str]] | None = None,
    config: Config | None = None,
    *,
    method: str = "context",
    seed: int = 0,
    vectors: Vectors | None = None,
    baselines: bool = False,
    index: str | None = None,
) -> PseudowordResult:
    """Schütze's test: for each pair (a, b), every a and b in the corpus becomes one pseudoword
    whose static vector is their mean; its occurrences are grouped into 2 (`method`, see
    METHODS) and scored. With `baselines`, also the rows of BASELINES (each view grouped by
    kurtosis, as `senses` did before the context view), with their standard errors over pairs.
    `index`: an index (attncli.store) read instead of the files `inputs` (which then pick some
    of its files; none: all), only the lines that may hold a, b or the pseudoword."""
    if method not in METHODS:
        raise UsageError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    method = SENSES_DEFAULT if method == "senses" else method
    config = (config or Config()).resolved()
    vec = vectors if vectors is not None else vectors_for(config)
    if isinstance(inputs, (str, os.PathLike)):  # one file
        inputs = [inputs]
    inputs = [os.fspath(p) for p in inputs or []]  # pathlib.Path too
    builtin = pairs is None
    pairs = DEFAULT_PAIRS if builtin else pairs
    for a, b in pairs:
        for w in (a, b):
            if w not in vec:
                raise DataError(f"{w!r} is not in the vocabulary of {vec.name}")
    with _corpus(inputs, index) as (read, labels):  # read once per pair: a pipe is copied first
        context = _ContextRun(read, pairs, vec, seed) if method == "context" else None
        scores, skipped = _run(labels, pairs, builtin, lambda a, b: _score_pair(read, a, b, config, vec, method, seed, context))
        result = PseudowordResult(scores, skipped, method)
        if baselines:
            kept = [(p.a, p.b) for p in scores]
            for name, cfg in baseline_configs(config):
                if cfg is None:
                    values = [0.5] * len(kept)  # every occurrence has the same static vector
                else:
                    cfg = cfg.resolved()
                    v = vec if cfg.vectors == config.vectors else vectors_for(cfg)
                    values = [_score_pair(read, a, b, cfg, v, "kurtosis", seed, None).balanced_accuracy for a, b in kept]
                result.baselines.append(Baseline(name, float(np.mean(values)), standard_error(values), values))
    return result


@contextlib.contextmanager
def _corpus(inputs: list[str], index: str | None):
    """(read, labels): read(forms) gives the corpus lines ((source, line number, text), as
    inputs.read_lines does) that may hold one of `forms` (None: every line; from the files:
    every line, each time; from an index: those it finds), and labels names the files."""
    if index is None:
        sources = expand(inputs)
        reading(sources)
        with rereadable(sources, MAX_LINE_BYTES) as paths:
            yield (lambda forms: read_lines(paths, MAX_LINE_BYTES)), [s.label for s in sources]
        return
    from .store import reading as index_reading

    with index_reading(index, inputs or None) as (ix, files):
        yield (lambda forms: ix.lines(forms, files, MAX_LINE_BYTES)), [f.label for f in files]


def _run(labels: list[str], pairs, builtin, score_pair):
    scores, skipped = [], []
    with report.progress("pseudoword pairs", len(pairs)) as update:
        for done, (a, b) in enumerate(pairs, start=1):
            try:
                score = score_pair(a, b)
            except DataError as e:
                if not builtin:
                    raise
                skipped.append(f"{a}:{b}: {e}")
                continue
            if builtin and min(score.n_a, score.n - score.n_a) < MIN_PAIR_OCCURRENCES:
                skipped.append(f"{a}:{b}: fewer than {MIN_PAIR_OCCURRENCES} occurrences of one word")
                continue
            scores.append(score)
            update(done)
    if not scores:
        raise DataError(f"no pair has occurrences of both words in {', '.join(labels)}"
                        + (f" ({skipped[0]})" if skipped else ""))
    return scores, skipped


class _ContextRun:
    """The context view over the whole corpus, fitted once per run with every word of every
    pair left out of its training positions."""

    def __init__(self, read, pairs, vec: Vectors, seed: int):
        from . import contextview as cv

        self.cv, self.vec, self.seed = cv, vec, seed
        self.tokens = cv.read_tokens(read(None), vec)
        self.x, self.w = cv.inputs(self.tokens, vec)
        self.exclude = {w for p in pairs for w in p}
        self.model = None  # fitted at the first pair whose words both occur

    def score(self, a: str, b: str) -> PairScore:
        t, cv = self.tokens, self.cv
        pos = t.find([a, b])
        truth = np.array([int(t.words[i] == b) for i in t.ids[pos]], dtype=np.int64)
        _check_both(a, b, truth)
        if self.model is None:
            self.model = cv.fit(t, self.vec, self.exclude, self.x, self.w, self.seed)
        m = np.asarray(self.vec.matrix, dtype=np.float32)
        row = (m[self.vec.index[a]] + m[self.vec.index[b]]) / np.float32(2)  # (d,) the pseudoword's vector
        pred = cv.predict(self.model, t, self.x, self.w, pos, cv.Merge((a, b), row), self.vec)  # (n, d)
        labels = context_groups(pred, [t.sources[i] for i in t.line[pos]], t.numbers[t.line[pos]], 2, self.seed)
        n_a = int(np.sum(truth == 0))
        return PairScore(a, b, f"{a}{b}", len(truth), n_a, balanced_accuracy(labels, truth), max(n_a, len(truth) - n_a) / len(truth))


def _check_both(a: str, b: str, truth: np.ndarray) -> None:
    n_a = int(np.sum(truth == 0))
    if n_a == 0 or n_a == len(truth):
        missing = a if n_a == 0 else b
        raise DataError(f"{missing!r} does not occur in the corpus")


def _score_pair(read, a, b, config, vec, method, seed, context) -> PairScore:
    if method == "context":
        return context.score(a, b)
    pv, pseudo = pseudo_vectors(vec, a, b)
    truth: list[int] = []
    lines = replace_words(read([a, b, pseudo]), a, b, pseudo, Lexicon(pv, config), truth)
    found = collect(lines, [pseudo], config, pv, with_attention=False, limit=corpus.MAX_OCCURRENCES)
    occ, x = found.occurrences, found.vectors
    if found.limited:  # the lines after the limit were not read; the last one's occurrences past it not kept
        del truth[found.found:]
        report.note(f"{a}:{b}: scored on the first {found.found:,} occurrences (a word's limit, as in senses)")
    if len(truth) != len(occ):  # a line that could not be embedded: keep the truth of those that were
        raise DataError(f"{a}:{b}: {len(truth) - len(occ)} occurrence(s) could not be embedded")
    y = np.asarray(truth)
    _check_both(a, b, y)
    n_a = int(np.sum(y == 0))
    if method == "kurtosis":
        labels = group(x, SenseOptions(k=2, seed=seed)).labels
    else:
        labels = spherical_kmeans(x, 2, seed=seed)
    return PairScore(a, b, pseudo, len(y), n_a, balanced_accuracy(labels, y), max(n_a, len(y) - n_a) / len(y))


def pseudowords_record(result: PseudowordResult) -> dict:
    """The `eval pseudowords --json` object."""
    return {
        "pairs": [{"a": p.a, "b": p.b, "n": p.n, "balanced_accuracy": p.balanced_accuracy, "majority": p.majority}
                  for p in result.pairs],
        "mean_balanced_accuracy": result.mean_balanced_accuracy,
        "se_balanced_accuracy": result.se_balanced_accuracy,
        "mean_majority": result.mean_majority,
        "method": result.method,
        "baselines": [{"name": b.name, "mean_balanced_accuracy": b.mean, "se_balanced_accuracy": b.se}
                      for b in result.baselines],
    }




from .entry import make_callable  # noqa: E402  (attncli.pseudowords(...) calls pseudowords(...): entry.py says why)

make_callable(__name__)
