"""Schütze's pseudoword test: two words merged into one, and how well grouping its occurrences
into two recovers which word was there (balanced accuracy; one group for all scores 0.5)."""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from . import report
from .corpus import MAX_LINE_BYTES, collect
from .errors import DataError, UsageError
from .grouping import SenseOptions, group, spherical_kmeans
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
class PseudowordResult:
    pairs: list[PairScore]
    skipped: list[str]  # built-in pairs left out, with why
    method: str

    @property
    def mean_balanced_accuracy(self) -> float:
        return float(np.mean([p.balanced_accuracy for p in self.pairs]))

    @property
    def mean_majority(self) -> float:
        return float(np.mean([p.majority for p in self.pairs]))


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """"a:b,c:d" -> [("a", "b"), ("c", "d")]."""
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
    inputs: list[str],
    pairs: list[tuple[str, str]] | None = None,
    config: Config | None = None,
    *,
    method: str = "senses",
    seed: int = 0,
    vectors: Vectors | None = None,
    index: str | None = None,
) -> PseudowordResult:
    """Schütze's test: for each pair (a, b), every a and b in the corpus becomes one pseudoword
    whose static vector is their mean; its occurrences are grouped into 2 (method "senses": the
    grouping `senses` uses; "kmeans": plain spherical 2-means, the baseline) and scored.
    `index`: an index (attncli.store) read instead of the files `inputs` (which then pick some
    of its files; none: all), only the lines that may hold a, b or the pseudoword."""
    if method not in ("senses", "kmeans"):
        raise UsageError(f"method must be senses or kmeans, not {method!r}")
    config = (config or Config()).resolved()
    vec = vectors if vectors is not None else vectors_for(config)
    builtin = pairs is None
    pairs = DEFAULT_PAIRS if builtin else pairs
    scores, skipped = [], []
    with _corpus(inputs, index) as (read, labels), report.progress("pseudoword pairs", len(pairs)) as update:
        for done, (a, b) in enumerate(pairs, start=1):
            try:
                score = _score_pair(read, a, b, config, vec, method, seed)
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
    return PseudowordResult(scores, skipped, method)


@contextlib.contextmanager
def _corpus(inputs: list[str] | None, index: str | None):
    """(read, labels): read(forms) gives the corpus lines ((source, line number, text), as
    inputs.read_lines does) that may hold one of `forms` (from the files: every line, each
    time; from an index: those it finds), and labels names the files."""
    if index is None:
        sources = expand(inputs or [])
        reading(sources)
        with rereadable(sources) as paths:
            yield (lambda forms: read_lines(paths, MAX_LINE_BYTES)), [s.label for s in sources]
        return
    from .store import reading as index_reading

    with index_reading(index, inputs or None) as (ix, files):
        yield (lambda forms: ix.lines(forms, files, MAX_LINE_BYTES)), [f.label for f in files]


def _score_pair(read, a, b, config, vec, method, seed) -> PairScore:
    pv, pseudo = pseudo_vectors(vec, a, b)
    truth: list[int] = []
    lines = replace_words(read([a, b, pseudo]), a, b, pseudo, Lexicon(pv, config), truth)
    found = collect(lines, [pseudo], config, pv, with_attention=False)
    occ, x = found.occurrences, found.vectors
    if len(truth) != len(occ):  # a line that could not be embedded: keep the truth of those that were
        raise DataError(f"{a}:{b}: {len(truth) - len(occ)} occurrence(s) could not be embedded")
    y = np.asarray(truth)
    n_a = int(np.sum(y == 0))
    if n_a == 0 or n_a == len(y):
        missing = a if n_a == 0 else b
        raise DataError(f"{missing!r} does not occur in the corpus")
    if method == "senses":
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
        "mean_majority": result.mean_majority,
        "method": result.method,
    }


