"""Senses of a word in a corpus: every occurrence, its contextual vector, grouped by meaning.

    >>> from attncli.senses import senses
    >>> r = senses("bank", ["corpus.txt"])
    >>> [(s.size, s.label[:3]) for s in r.senses]

1. Occurrences: each line of each file is tokenized as attncli tokenizes everything (lowercased,
   PTB-style); a token equal to one of the word's forms is an occurrence (line numbers 1-based
   per file). Only lines holding a form are embedded, through the batch engine, a chunk at a
   time: memory grows with the occurrences (one vector and a short snippet each), not the corpus.
2. Grouping (`group`): the vectors are centered on their mean and scaled to length 1, so the
   word's own static vector, shared by every occurrence, no longer dominates; then reduced to
   their top `dims` principal components (at most one per 20 occurrences), whitened. A split
   into two is the threshold (1-D 2-means) along the direction w of lowest kurtosis there,
       w = argmin_{|w|=1} mean((z . w)^4) - 3,
   the most bimodal direction (two separated groups give a kurtosis near -2, one blob about 0),
   found by projected gradient descent from `restarts` seeded starts. k senses: split the
   group whose split is most bimodal, k - 1 times (bisecting). Plain k-means on these vectors
   follows the direction of largest variance, which is mostly the topic of the text, not the
   sense (docs/senses.md has the measurements).
3. `-k auto`: the bisection runs to max_k groups; each k >= 2 scores its mean silhouette (cosine,
   on the centered vectors) minus the silhouette the same procedure gets on a Gaussian sample of
   the same mean and covariance (one blob: what splitting finds when there is nothing to find).
   If no gap reaches MIN_GAP, k = 1; else the smallest k whose gap is within GAP_SLACK of the
   best (a split that adds little is not taken).

Raises attncli.errors exceptions; never prints. No typer, no rich.
"""

from __future__ import annotations

import dataclasses
import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import report
from .errors import DataError, UsageError
from .export import config_record
from .inputs import count_lines
from .pipeline import Config, vectors_for
from .tokens import tokenize
from .vectors import Vectors

DEFAULT_MAX_K = 5
MIN_GAP = 0.16  # -k auto: a split must beat the same split of one Gaussian blob by this much silhouette
GAP_SLACK = 0.05  # ... and the smallest k within this of the best gap is taken
DIMS = 8  # principal components kept (whitened) before splitting
POINTS_PER_DIM = 20  # ... at most one per 20 occurrences: with few points a random direction looks bimodal
RESTARTS = 100  # seeded starts of the direction search (fewer: the split depends on the seed)
SNIPPET_TOKENS = 20  # tokens kept each side of the word in an occurrence's text
CHUNK_LINES = 512  # lines embedded together (their attention matrices are kept for one chunk)
ATTENDS_KEPT = 8  # context tokens of highest weight remembered per occurrence
# One colour per sense (cycled), the same in the terminal and on the page; distinct in both themes.
SENSE_COLOURS = ["#4c9be8", "#f08c00", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c940d"]


def sense_colour(i: int) -> str:
    """The colour of sense i (0-based)."""
    return SENSE_COLOURS[i % len(SENSE_COLOURS)]


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class SenseOptions:
    """How occurrences are grouped and described."""

    k: int | None = None  # number of senses; None: choose (-k auto)
    max_k: int = DEFAULT_MAX_K  # -k auto never goes above this
    seed: int = 0  # the direction search's starts; same seed, same senses
    dims: int = DIMS
    restarts: int = RESTARTS
    label_words: int = 5  # nearest vocabulary words shown per sense
    attends_words: int = 5
    examples: int = 3

    def __post_init__(self):
        if self.k is not None and self.k < 1:
            raise UsageError(f"-k must be >= 1 or auto, not {self.k}")
        if self.max_k < 1:
            raise UsageError(f"--max-k must be >= 1, not {self.max_k}")
        if self.dims < 1 or self.restarts < 1:
            raise UsageError("dims and restarts must be >= 1")


@dataclass
class Occurrence:
    """One appearance of the word."""

    source: str  # the file, as given
    line: int  # 1-based within its file
    position: int  # index of the word among the line's tokens (attncli's tokenizer)
    form: str  # which form (lowercased)
    text: str  # the line, cut to SNIPPET_TOKENS tokens each side of the word ("…" where cut)
    start: int  # the word is text[start:end]
    end: int
    attends: list[tuple[str, float]] = field(default_factory=list)  # context tokens it attended to most


@dataclass
class Sense:
    id: int  # 1-based, largest first
    size: int
    share: float  # size / occurrences
    label: list[str]  # vocabulary words nearest its centre, most distinctive first
    attends: list[str]  # context words its occurrences attend to most
    examples: list[int]  # the most central occurrences (indices into SensesResult.occurrences)


@dataclass
class Grouping:
    labels: np.ndarray  # (n,) int, 0-based sense of each occurrence
    score: np.ndarray  # (n,) cosine of each occurrence to its sense's centre (centered space)
    k: int
    silhouettes: dict[int, float]  # -k auto: mean silhouette of each k tried (k >= 2)
    gaps: dict[int, float] = field(default_factory=dict)  # -k auto: silhouette minus the one-blob reference's


@dataclass
class SensesResult:
    word: str
    forms: list[str]
    sources: list[str]
    occurrences: list[Occurrence]
    vectors: np.ndarray  # (n, d_out) contextual vector of each occurrence
    grouping: Grouping
    senses: list[Sense]
    config: Config
    vectors_info: dict
    lines_read: int
    skipped: list[str] = field(default_factory=list)  # lines that could not be embedded, "file:line: why"
    like: "LikeResult | None" = None

    @property
    def k(self) -> int:
        return len(self.senses)


@dataclass
class LikeResult:
    """Occurrences ranked by closeness in meaning to the word in an example sentence."""

    text: str
    ranked: np.ndarray  # (m,) indices into occurrences, nearest first
    cosine: np.ndarray  # (m,) their cosines (centered on the mean of the occurrences)


# ---------------------------------------------------------------- inputs and occurrences


def expand_inputs(patterns: Iterable[str]) -> list[Path]:
    """Files named by `patterns` (paths or globs), in the order given, each once."""
    out: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise DataError(f"{pattern}: no file matches")
            paths = [Path(m) for m in matches if not Path(m).is_dir()]
            if not paths:
                raise DataError(f"{pattern}: matches only directories")
        else:
            path = Path(pattern)
            if not path.exists():
                raise DataError(f"{pattern}: no such file")
            if path.is_dir():
                raise DataError(f"{pattern}: is a directory (give its files, e.g. '{pattern}/*.txt')")
            paths = [path]
        out += [p for p in paths if p not in out]
    if not out:
        raise UsageError("give at least one corpus file with -i FILE")
    return out


def read_lines(paths: list[Path]) -> Iterator[tuple[str, int, str]]:
    """(file, 1-based line number, text) of every line, streamed."""
    for path in paths:
        try:
            with open(path, "rb") as f:
                for number, raw in enumerate(f, start=1):
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise DataError(f"{path}: line {number} is not UTF-8 ({e.reason} at byte {e.start + 1})") from None
                    yield str(path), number, text.rstrip("\r\n")
        except PermissionError:
            raise DataError(f"{path}: permission denied") from None


def resolve_forms(word: str, forms: Iterable[str] | None, known) -> list[str]:
    """The lowercased single-token forms to look for: `forms` when given, else the word."""
    wanted = [word] if not forms else [f for f in forms if f.strip()]
    if not wanted:
        raise UsageError("--forms is empty")
    out = []
    for f in wanted:
        toks = tokenize(f, known)
        if len(toks) != 1:
            raise UsageError(f"a form must be one token, {f!r} is {len(toks)}: {[t.text for t in toks]}")
        if toks[0].text not in out:
            out.append(toks[0].text)
    return out


def _snippet(text: str, tokens, i: int, width: int = SNIPPET_TOKENS) -> tuple[str, int, int]:
    lo, hi = max(0, i - width), min(len(tokens), i + width + 1)
    a = tokens[lo].start
    b = tokens[hi - 1].start + len(tokens[hi - 1].surface)
    head = "… " if lo > 0 else ""
    tail = " …" if hi < len(tokens) else ""
    snippet = head + text[a:b] + tail
    start = len(head) + tokens[i].start - a
    return snippet, start, start + len(tokens[i].surface)


@dataclass
class _Line:
    source: str
    line: int
    text: str
    targets: list[int]  # token indices of the occurrences
    first: int  # index of its first occurrence


def _find(lines: Iterable[tuple[str, int, str]], forms: list[str], known, occurrences: list[Occurrence]) -> Iterator[_Line]:
    """Lines holding a form; appends their occurrences to `occurrences` as they are found."""
    quick = [f.lower() for f in forms]
    for source, number, text in lines:
        low = text.lower()
        if not any(f in low for f in quick):  # most lines: no tokenizing
            continue
        tokens = tokenize(text, known)
        targets = [i for i, t in enumerate(tokens) if t.text in forms]
        if not targets:
            continue
        first = len(occurrences)
        for i in targets:
            snippet, start, end = _snippet(text, tokens, i)
            occurrences.append(Occurrence(source, number, i, tokens[i].text, snippet, start, end))
        yield _Line(source, number, text, targets, first)


@dataclass
class Collected:
    occurrences: list[Occurrence]  # (n,) those embedded, in reading order
    vectors: np.ndarray  # (n, d_out) their contextual vectors
    skipped: list[str]  # lines that could not be embedded, "file:line: why"
    lines_read: int


def collect(
    lines: Iterable[tuple[str, int, str]],
    forms: list[str],
    config: Config,
    vectors: Vectors,
    *,
    with_attention: bool = True,
    total: int | None = None,
) -> Collected:
    """Find the occurrences of `forms` in `lines` and embed the lines holding them. An
    occurrence whose line cannot be embedded, or whose word is out of the vocabulary and
    skipped, is left out. A line too long to keep its attention weights is embedded without
    them (its occurrences attend to nothing listed)."""
    from .batch import BatchEmbedder, BatchOptions

    emb = BatchEmbedder(config, vectors, BatchOptions(with_attention=with_attention), detail=True)
    plain = None  # the same without attention weights, for lines too long to keep them
    found: list[Occurrence] = []
    got: dict[int, np.ndarray] = {}  # occurrence index -> its contextual vector
    skipped: list[str] = []
    held: dict[int, _Line] = {}
    count = [0]

    def counted():
        for item in lines:
            count[0] += 1
            yield item

    def items():
        for k, ln in enumerate(_find(counted(), forms, vectors.__contains__, found)):
            held[k] = ln
            yield k, ln.text

    def take(chunk, k: int, ln: _Line) -> None:
        where = {p: r for r, p in enumerate(chunk.positions[k])}  # token index -> row
        for j, target in enumerate(ln.targets):
            r = where.get(target)
            if r is None:  # out of the vocabulary and skipped (--oov skip)
                continue
            if chunk.attention is not None:
                found[ln.first + j].attends = _attended(chunk.tokens[k], chunk.attention[k][r], forms)
            got[ln.first + j] = chunk.contextual[chunk.offsets[k] + r]

    with report.progress("finding and embedding occurrences", total) as update:
        for chunk in emb.embed_chunks(items(), chunk_sentences=CHUNK_LINES):
            update(count[0])
            for e in chunk.errors:
                ln = held.pop(e.line)
                if with_attention:  # maybe only its attention weights were too big: once more without
                    plain = plain or BatchEmbedder(config, vectors, BatchOptions(), detail=True)
                    again = plain.embed_chunk([(e.line, ln.text)])
                    if len(again.lines):
                        take(again, 0, ln)
                        continue
                    e = again.errors[0]
                skipped.append(f"{ln.source}:{ln.line}: {e.error}")
            for k, key in enumerate(chunk.lines.tolist()):
                take(chunk, k, held.pop(key))
    order = sorted(got)
    occurrences = [found[i] for i in order]
    matrix = np.stack([got[i] for i in order]).astype(np.float32) if got else np.zeros((0, emb.d_out), np.float32)  # (n, d_out)
    return Collected(occurrences, matrix, skipped, count[0])


def _collect_file(path: str, forms: list[str], config: Config) -> Collected:
    """collect() over one file; runs on a Dask worker, which loads the vectors itself."""
    return collect(read_lines([Path(path)]), forms, config, vectors_for(config))


def merge_collected(parts: list[Collected]) -> Collected:
    """The Collected of several files, read one after the other, from each file's own."""
    occurrences = [o for p in parts for o in p.occurrences]
    vectors = np.concatenate([p.vectors for p in parts]) if parts else np.zeros((0, 0), np.float32)  # (n, d_out)
    return Collected(occurrences, vectors, [s for p in parts for s in p.skipped], sum(p.lines_read for p in parts))


def _attended(tokens: list[str], weights: np.ndarray, forms: list[str]) -> list[tuple[str, float]]:
    """The context words of highest weight in one attention row (punctuation and the word left out)."""
    out: dict[str, float] = {}
    for t, w in zip(tokens, weights.tolist()):
        if t in forms or not any(ch.isalpha() for ch in t):
            continue
        out[t] = out.get(t, 0.0) + w
    return sorted(out.items(), key=lambda tw: -tw[1])[:ATTENDS_KEPT]


# ---------------------------------------------------------------- grouping


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


def centered_unit(x: np.ndarray) -> np.ndarray:
    """(n, d) -> rows minus their mean, scaled to length 1: what stays is what differs between
    occurrences (the word's shared static part is gone)."""
    x = np.asarray(x, dtype=np.float32)
    return _unit(x - x.mean(axis=0))  # (n, d)


def whiten(z: np.ndarray, dims: int) -> np.ndarray:
    """(n, d) -> (n, m): the top m = min(dims, d, n - 1) principal components, each scaled to
    unit variance: C = zc^T zc / n = V diag(l) V^T, out = zc V[:, :m] / sqrt(l[:m]). From the
    d x d covariance, so the cost is linear in n."""
    n = z.shape[0]
    zc = (z - z.mean(axis=0)).astype(np.float64)  # (n, d)
    vals, vecs = np.linalg.eigh(zc.T @ zc / n)  # ascending
    vals, vecs = vals[::-1], vecs[:, ::-1]
    m = int(min(dims, len(vals), n - 1, np.sum(vals > 1e-12 * max(vals[0], 1e-30)) if len(vals) else 0))
    return (zc @ vecs[:, :m] / np.sqrt(vals[:m])).astype(np.float32)  # (n, m)


def min_kurtosis_direction(w_z: np.ndarray, restarts: int, seed: int, steps: int = 100, rate: float = 0.1) -> tuple[np.ndarray, float]:
    """(n, m) whitened rows -> (projections (n,), kurtosis): the unit direction w minimizing
    kurt(w) = mean((z . w)^4) - 3, by projected gradient descent
    w <- normalize(w - rate * (mean(z (z . w)^3) - 3 w)), from `restarts` seeded starts, all
    moved at once (one column each)."""
    n, m = w_z.shape
    rng = np.random.default_rng(seed)
    w = _unit(rng.normal(size=(restarts, m))).T  # (m, R)
    for _ in range(steps):
        s = w_z @ w  # (n, R)
        grad = w_z.T @ s**3 / n - 3 * w  # (m, R)
        new = _unit((w - rate * grad).T).T
        done = np.all(np.abs(np.sum(new * w, axis=0)) > 1 - 1e-9)
        w = new
        if done:
            break
    s = w_z @ w  # (n, R)
    kurt = np.mean(s**4, axis=0) - 3  # (R,)
    best = int(np.argmin(kurt))
    return s[:, best], float(kurt[best])


def two_means_1d(s: np.ndarray) -> np.ndarray:
    """(n,) -> (n,) bool: the threshold between the two groups of lowest within-group sum of
    squares (the exact 1-D 2-means, over the sorted values)."""
    order = np.argsort(s, kind="stable")
    v = s[order].astype(np.float64)
    n = len(v)
    c1, c2 = np.cumsum(v), np.cumsum(v**2)
    i = np.arange(1, n)  # left group sizes
    left = c2[:-1] - c1[:-1] ** 2 / i
    right = (c2[-1] - c2[:-1]) - (c1[-1] - c1[:-1]) ** 2 / (n - i)
    cut = int(np.argmin(left + right)) + 1
    high = np.zeros(n, dtype=bool)
    high[order[cut:]] = True
    return high


@dataclass(frozen=True)
class Split:
    high: np.ndarray  # (members,) bool: the members that go to the new group
    kurtosis: float  # along the split's direction: lower is more bimodal


def _split(z: np.ndarray, members: np.ndarray, opts: SenseOptions) -> Split | None:
    """Split `members` (indices into z) in two, or None when there are too few to split."""
    if len(members) < 4:
        return None
    wz = whiten(z[members], min(opts.dims, max(1, len(members) // POINTS_PER_DIM)))
    if wz.shape[1] == 0:
        return None
    s, kurt = min_kurtosis_direction(wz, opts.restarts, opts.seed)
    high = two_means_1d(s)
    if high.all() or not high.any():
        return None
    return Split(high, kurt)


def bisect(z: np.ndarray, k: int, opts: SenseOptions) -> list[np.ndarray]:
    """(n, d) centered unit vectors -> the labels after each split: [k=1 (all 0), k=2, ...,
    up to k groups (fewer when no group can be split)]. Each step splits the group whose split
    is most bimodal (lowest kurtosis); the new group takes the next label."""
    n = len(z)
    labels = np.zeros(n, dtype=np.int64)
    steps = [labels.copy()]
    cache: dict[int, Split | None] = {}
    groups = 1
    while groups < k:
        for g in range(groups):
            if g not in cache:
                cache[g] = _split(z, np.flatnonzero(labels == g), opts)
        candidates = [(v.kurtosis, g) for g, v in cache.items() if v is not None]
        if not candidates:
            break
        _, g = min(candidates)
        members = np.flatnonzero(labels == g)
        high = cache.pop(g).high
        labels[members[high]] = groups
        groups += 1
        steps.append(labels.copy())
    return steps


def silhouette(z: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance: s_i = (b_i - a_i) / max(a_i, b_i), a_i the mean
    distance to its own group, b_i to the nearest other group; 0 for a point alone in its group."""
    ks = np.unique(labels)
    if len(ks) < 2:
        return 0.0
    u = _unit(z.astype(np.float32))
    onehot = (labels[:, None] == ks[None, :]).astype(np.float32)  # (n, k)
    sizes = onehot.sum(axis=0)  # (k,)
    # sum of distances to each group: sum_j (1 - u_i . u_j) = size - u_i . sum_j u_j
    sums = np.maximum(sizes[None, :] - u @ (u.T @ onehot), 0)  # (n, k)
    own = np.searchsorted(ks, labels)
    n_own = sizes[own]
    a = sums[np.arange(len(z)), own] / np.maximum(n_own - 1, 1)  # the point itself adds 0
    other = sums / sizes[None, :]
    other[np.arange(len(z)), own] = np.inf
    b = other.min(axis=1)
    top = np.maximum(a, b)
    s = np.where(top > 1e-6, (b - a) / np.maximum(top, 1e-6), 0.0)
    s[n_own <= 1] = 0.0
    return float(s.mean())


def group(x: np.ndarray, opts: SenseOptions) -> Grouping:
    """Group occurrence vectors (n, d) into senses (see the module docstring)."""
    n = len(x)
    z = centered_unit(x)  # (n, d)
    silhouettes: dict[int, float] = {}
    gaps: dict[int, float] = {}
    if opts.k is not None:
        if opts.k > n:
            raise DataError(f"-k {opts.k} is more than the {n} occurrence{'s' if n != 1 else ''} found")
        labels = bisect(z, opts.k, opts)[-1]
    else:
        labels = np.zeros(n, dtype=np.int64)
        steps = bisect(z, min(opts.max_k, n), opts)[1:]
        g_z = _gaussian_like(z, opts.seed)
        reference = bisect(g_z, min(opts.max_k, n), opts)[1:]
        for cut in steps:
            k = int(cut.max()) + 1
            silhouettes[k] = silhouette(z, cut)
            null = next((silhouette(g_z, r) for r in reference if int(r.max()) + 1 == k), 0.0)
            gaps[k] = silhouettes[k] - null
        if gaps and max(gaps.values()) >= MIN_GAP:
            best = max(gaps.values())
            k = min(k for k, v in gaps.items() if v >= best - GAP_SLACK)
            labels = steps[k - 2]
    labels = _by_size(labels)
    k = int(labels.max()) + 1 if n else 0
    centres = _unit(np.stack([z[labels == j].mean(axis=0) for j in range(k)])) if n else np.zeros((0, x.shape[1]))
    score = np.einsum("nd,nd->n", z, centres[labels]) if n else np.zeros(0)
    return Grouping(labels, score.astype(np.float32), k, silhouettes, gaps)


def _gaussian_like(z: np.ndarray, seed: int) -> np.ndarray:
    """n points from the Gaussian of z's mean and covariance: data with one blob and the same
    spread, the reference a split has to beat."""
    rng = np.random.default_rng(seed)
    z64 = z.astype(np.float64)
    return rng.multivariate_normal(z64.mean(axis=0), np.cov(z64.T), size=len(z)).astype(np.float32)


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber groups 0.. by decreasing size (ties: first appearance)."""
    if len(labels) == 0:
        return labels
    ids, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(ids)), key=lambda j: (-counts[j], first[j]))
    remap = np.empty(int(ids.max()) + 1, dtype=np.int64)
    for new, j in enumerate(order):
        remap[ids[j]] = new
    return remap[labels]


def spherical_kmeans(x: np.ndarray, k: int, seed: int = 0, restarts: int = 1, steps: int = 100) -> np.ndarray:
    """The baseline: plain spherical k-means (cosine) on the raw vectors, k-means++ starts."""
    u = _unit(np.asarray(x, dtype=np.float32))
    rng = np.random.default_rng(seed)
    best, best_obj = None, -np.inf
    for _ in range(restarts):
        centres = [u[rng.integers(len(u))]]
        for _ in range(k - 1):
            d = np.min([1 - u @ c for c in centres], axis=0).clip(0)
            centres.append(u[rng.choice(len(u), p=d / d.sum())] if d.sum() > 0 else u[rng.integers(len(u))])
        c = np.stack(centres)
        for _ in range(steps):
            lab = np.argmax(u @ c.T, axis=1)
            new = _unit(np.stack([u[lab == j].sum(axis=0) if (lab == j).any() else c[j] for j in range(k)]))
            if np.allclose(new, c):
                break
            c = new
        obj = float(np.sum(u * c[lab]))
        if obj > best_obj:
            best, best_obj = lab, obj
    return best


# ---------------------------------------------------------------- describing senses


LABEL_VOCAB = 20_000  # labels come from the most frequent words: rare ones make poor labels


def _labels(centres: np.ndarray, vectors: Vectors, center: int, forms: list[str], m: int) -> list[list[str]]:
    """Per sense, the m words w of highest cos(w, c_j) + (cos(w, c_j) - mean_{o != j} cos(w, c_o)):
    near its centre c_j and nearer it than the other senses' (k = 1: near the centre).
    Only the LABEL_VOCAB most frequent words, of 3 letters or more, never a form of the word."""
    k = len(centres)
    top = vectors.unit(center)[: min(LABEL_VOCAB, vectors.vocab_size)]  # (V, d)
    sims = top @ centres.T  # (V, k)
    out = []
    for j in range(k):
        score = sims[:, j] + (sims[:, j] - np.delete(sims, j, axis=1).mean(axis=1)) if k > 1 else sims[:, j]
        words = []
        for i in np.argsort(-score, kind="stable")[: 20 * m + len(forms)].tolist():
            w = vectors.words[i]
            if w not in forms and w.isalpha() and len(w) >= 3:
                words.append(w)
                if len(words) == m:
                    break
        out.append(words)
    return out


def describe(result_occ: list[Occurrence], x: np.ndarray, grouping: Grouping, forms: list[str], vectors: Vectors,
             center: int, opts: SenseOptions) -> list[Sense]:
    """Size, label, attended words and central examples of each sense."""
    n, k = len(result_occ), grouping.k
    if n == 0:
        return []
    can_label = x.shape[1] == vectors.dim
    centres = _unit(np.stack([x[grouping.labels == j].mean(axis=0) for j in range(k)]))  # (k, d)
    labels = _labels(centres, vectors, center, forms, opts.label_words) if can_label else [[] for _ in range(k)]
    senses = []
    for j in range(k):
        members = np.flatnonzero(grouping.labels == j)
        label = labels[j]
        weights: dict[str, float] = {}
        for i in members.tolist():
            for t, w in result_occ[i].attends:
                weights[t] = weights.get(t, 0.0) + w
        attends = [t for t, _ in sorted(weights.items(), key=lambda tw: -tw[1])[: opts.attends_words]]
        central, seen = [], set()  # most central first, one per line (a line's occurrences look alike)
        for i in members[np.argsort(-grouping.score[members], kind="stable")].tolist():
            key = (result_occ[i].source, result_occ[i].line)
            if key not in seen:
                seen.add(key)
                central.append(i)
                if len(central) == opts.examples:
                    break
        senses.append(Sense(j + 1, len(members), len(members) / n, label, attends, central))
    return senses


# ---------------------------------------------------------------- the whole run


def senses(
    word: str,
    inputs: list[str],
    config: Config | None = None,
    options: SenseOptions | None = None,
    *,
    forms: list[str] | None = None,
    like: str | None = None,
    top: int = 20,
    vectors: Vectors | None = None,
    engine: str = "local",
    scheduler: str | None = None,
) -> SensesResult:
    """Every occurrence of `word` (or its `forms`) in the files `inputs`, grouped into senses.
    With `like`, also rank the occurrences by cosine to the word in that example sentence.
    engine="dask": each file is searched and embedded by a Dask task (local processes, or the
    cluster at `scheduler`, whose workers see the files and vectors at the same paths); the
    grouping then runs here on the gathered vectors."""
    config = (config or Config()).resolved()
    options = options or SenseOptions()
    vec = vectors if vectors is not None else vectors_for(config)
    forms = resolve_forms(word, forms, vec.__contains__)
    paths = expand_inputs(inputs)
    if engine == "dask":
        if vectors is not None:
            raise UsageError("engine='dask' loads the vectors on each worker from config.vectors: pass no vectors=")
        from .dask_engine import compute

        found = merge_collected(compute(_collect_file, [(str(p), forms, config) for p in paths], scheduler))
    elif engine == "local":
        if scheduler is not None:
            raise UsageError("--scheduler needs --engine dask")
        total = sum(count_lines(p) for p in paths)
        found = collect(read_lines(paths), forms, config, vec, total=total)
    else:
        raise UsageError(f"--engine must be local or dask, not {engine!r}")
    return _finish(word, forms, [str(p) for p in paths], found, config, vec, options, like, top)


def _finish(word, forms, sources, found: Collected, config, vec, options, like, top) -> SensesResult:
    occ, x, skipped, n_lines = found.occurrences, found.vectors, found.skipped, found.lines_read
    n = len(occ)
    where = f"{len(sources)} file{'s' if len(sources) != 1 else ''} ({n_lines:,} lines)"
    if n == 0:
        names = "/".join(forms)
        if skipped:
            raise DataError(f"{names!r}: none of its {len(skipped)} line(s) in {where} could be embedded (first: {skipped[0]})")
        if not any(f in vec for f in forms) and config.oov == "skip":
            raise DataError(f"{names!r} is not in the vocabulary of {vec.name}: its occurrences have no vector (--oov zero groups them by context alone)")
        raise DataError(f"{names!r} does not occur in {where}")
    if n == 1 and (options.k is None or options.k > 1):
        raise DataError(f"{'/'.join(forms)!r} occurs once in {where}: one occurrence cannot be grouped")
    grouping = group(x, options)
    described = describe(occ, x, grouping, forms, vec, config.center, options)
    result = SensesResult(word, forms, sources, occ, x, grouping, described, config, vec.info(), n_lines, skipped)
    if like is not None:
        result.like = rank_like(result, like, top, vec)
    return result


def rank_like(result: SensesResult, text: str, top: int, vec: Vectors) -> LikeResult:
    """The occurrences nearest in meaning to the word in `text`: cosine between contextual
    vectors, both centered on the mean of the corpus occurrences (what they share is left out)."""
    from .pipeline import embed

    if top < 1:
        raise UsageError(f"-n must be >= 1, not {top}")
    example = embed(text, result.config, vec)
    rows = [i for i, t in enumerate(example.tokens) if t in result.forms]
    if not rows:
        raise UsageError(f"--like: the example holds no form of {result.word!r} ({'/'.join(result.forms)}): {text!r}")
    mean = result.vectors.mean(axis=0)
    q = _unit(example.contextual[rows[0]] - mean)  # (d,)
    cos = centered_unit(result.vectors) @ q if len(result.vectors) > 1 else np.ones(1, np.float32)
    # centered_unit subtracts the same mean: (x_i - mean) / |x_i - mean|
    order = np.argsort(-cos, kind="stable")[:top]
    return LikeResult(text, order, cos[order].astype(np.float32))


# ---------------------------------------------------------------- JSON


def senses_record(result: SensesResult) -> dict:
    """The `senses --json` object (schema in docs/senses.md)."""
    several = len(result.sources) > 1

    def where(o: Occurrence) -> dict:
        d = {"file": o.source} if several else {}
        d.update(line=o.line, position=o.position)
        return d

    senses_out = []
    for s in result.senses:
        examples = [{**where(result.occurrences[i]), "text": result.occurrences[i].text} for i in s.examples]
        senses_out.append({"id": s.id, "size": s.size, "label": s.label, "attends": s.attends, "examples": examples})
    g = result.grouping
    if result.like is None:
        occ = [{**where(o), "sense": int(g.labels[i]) + 1, "score": float(g.score[i])}
               for i, o in enumerate(result.occurrences)]
    else:
        occ = [{**where(result.occurrences[i]), "sense": int(g.labels[i]) + 1, "score": float(g.score[i]),
                "cosine": float(c), "text": result.occurrences[i].text}
               for i, c in zip(result.like.ranked.tolist(), result.like.cosine.tolist())]
    record = {"word": result.word, "forms": result.forms, "n": len(result.occurrences), "k": result.k,
              "senses": senses_out, "occurrences": occ}
    if result.like is not None:
        record["like"] = result.like.text
    if g.silhouettes:
        record["auto"] = {"silhouette": {str(k): v for k, v in g.silhouettes.items()},
                          "gap": {str(k): v for k, v in g.gaps.items()}}
    record["files"] = result.sources
    record["vectors"] = result.vectors_info
    record["config"] = config_record(result.config)
    return record


# ---------------------------------------------------------------- the pseudoword test


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


def replace_words(lines: Iterable[tuple[str, int, str]], a: str, b: str, pseudo: str, known, truth: list[int]) -> Iterator[tuple[str, int, str]]:
    """Each line with every token a or b written as `pseudo`; appends 0 (a) or 1 (b) to `truth`
    for each, in reading order."""
    for source, number, text in lines:
        low = text.lower()
        if a not in low and b not in low:
            yield source, number, text
            continue
        tokens = tokenize(text, known)
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
) -> PseudowordResult:
    """Schütze's test: for each pair (a, b), every a and b in the corpus becomes one pseudoword
    whose static vector is their mean; its occurrences are grouped into 2 (method "senses": the
    grouping `senses` uses; "kmeans": plain spherical 2-means, the baseline) and scored."""
    if method not in ("senses", "kmeans"):
        raise UsageError(f"method must be senses or kmeans, not {method!r}")
    config = (config or Config()).resolved()
    vec = vectors if vectors is not None else vectors_for(config)
    paths = expand_inputs(inputs)
    builtin = pairs is None
    pairs = DEFAULT_PAIRS if builtin else pairs
    scores, skipped = [], []
    with report.progress("pseudoword pairs", len(pairs)) as update:
        for done, (a, b) in enumerate(pairs, start=1):
            try:
                score = _score_pair(paths, a, b, config, vec, method, seed)
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
        raise DataError(f"no pair has occurrences of both words in {', '.join(map(str, paths))}"
                        + (f" ({skipped[0]})" if skipped else ""))
    return PseudowordResult(scores, skipped, method)


def _score_pair(paths, a, b, config, vec, method, seed) -> PairScore:
    pv, pseudo = pseudo_vectors(vec, a, b)
    truth: list[int] = []
    lines = replace_words(read_lines(paths), a, b, pseudo, vec.__contains__, truth)
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


# ---------------------------------------------------------------- the HTML page's data

MAX_POINTS = 5000  # occurrences drawn on the page's map; more are sampled evenly


def pca_2d(x: np.ndarray) -> np.ndarray:
    """(n, d) -> (n, 2): the centered unit vectors the grouping sees, on their top two principal
    axes (the sign of each axis fixed so its largest coordinate is positive)."""
    z = centered_unit(x).astype(np.float64)
    z = z - z.mean(axis=0)
    if len(z) < 2:
        return np.zeros((len(z), 2), dtype=np.float32)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    axes = vt[:2]
    if axes.shape[0] < 2:
        axes = np.vstack([axes, np.zeros((2 - axes.shape[0], z.shape[1]))])
    xy = z @ axes.T  # (n, 2)
    for j in range(2):
        if xy[np.argmax(np.abs(xy[:, j])), j] < 0:
            xy[:, j] = -xy[:, j]
    return xy.astype(np.float32)


def page_record(result: SensesResult) -> dict:
    """senses_record plus what the page draws: every occurrence (up to MAX_POINTS) with its
    map position, sense and text."""
    record = senses_record(result)
    n = len(result.occurrences)
    xy = pca_2d(result.vectors)
    keep = np.arange(n) if n <= MAX_POINTS else np.linspace(0, n - 1, MAX_POINTS).round().astype(np.int64)
    several = len(result.sources) > 1
    points = []
    for i in keep.tolist():
        o = result.occurrences[i]
        p = {"x": float(xy[i, 0]), "y": float(xy[i, 1]), "sense": int(result.grouping.labels[i]) + 1,
             "line": o.line, "text": o.text, "start": o.start, "end": o.end}
        if several:
            p["file"] = o.source
        points.append(p)
    record["points"] = points
    for s, out in zip(result.senses, record["senses"]):
        for i, ex in zip(s.examples, out["examples"]):
            ex["start"], ex["end"] = result.occurrences[i].start, result.occurrences[i].end
    return record
