"""Grouping a word's occurrence vectors into senses: pure numpy, no I/O.

1. The vectors are centered on their mean and scaled to length 1, so the word's own static
   vector, shared by every occurrence, no longer dominates; then reduced to their top `dims`
   principal components (at most one per 20 occurrences), whitened. A split into two is the
   threshold (1-D 2-means) along the direction w of lowest kurtosis there,
       w = argmin_{|w|=1} mean((z . w)^4) - 3,
   the most bimodal direction (two separated groups give a kurtosis near -2, one blob about 0),
   found by projected gradient descent from `restarts` seeded starts. k senses: split the
   group whose split is most bimodal, k - 1 times (bisecting). Plain k-means on these vectors
   follows the direction of largest variance, which is mostly the topic of the text, not the
   sense (docs/senses.md has the measurements).
2. `-k auto`: the bisection runs to max_k groups; each k >= 2 scores its mean silhouette (cosine,
   on the centered vectors) minus the silhouette the same procedure gets on a Gaussian sample of
   the same mean and covariance (one blob: what splitting finds when there is nothing to find).
   If no gap reaches MIN_GAP, k = 1; else the smallest k whose gap is within GAP_SLACK of the
   best (a split that adds little is not taken).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DataError, Option, UsageError

DEFAULT_MAX_K = 5
MIN_GAP = 0.16  # -k auto: a split must beat the same split of one Gaussian blob by this much silhouette
GAP_SLACK = 0.05  # ... and the smallest k within this of the best gap is taken
DIMS = 8  # principal components kept (whitened) before splitting
POINTS_PER_DIM = 20  # ... at most one per 20 occurrences: with few points a random direction looks bimodal
RESTARTS = 100  # seeded starts of the direction search (fewer: the split depends on the seed)


@dataclass(frozen=True)
class SenseOptions:
    """How occurrences are grouped and described."""

    k: int | None = None  # number of senses; None: choose (-k auto)
    max_k: int = DEFAULT_MAX_K  # -k auto never goes above this
    method: str = "kurtosis"  # "kurtosis": bisect along the most bimodal directions; "kmeans": spherical k-means
    seed: int = 0  # the direction search's starts; same seed, same senses
    dims: int = DIMS
    restarts: int = RESTARTS
    label_words: int = 5  # nearest vocabulary words shown per sense
    attends_words: int = 5
    examples: int = 3

    def __post_init__(self):
        if self.k is not None and self.k < 1:
            raise UsageError(Option("k", "-k"), f" must be >= 1, or None to choose (auto), not {self.k}")
        if self.max_k < 1:
            raise UsageError(Option("max_k"), f" must be >= 1, not {self.max_k}")
        if self.dims < 1 or self.restarts < 1:
            raise UsageError("dims and restarts must be >= 1")
        if self.method not in ("kurtosis", "kmeans"):
            raise UsageError(f"the grouping method must be kurtosis or kmeans, not {self.method!r}")


@dataclass
class Grouping:
    labels: np.ndarray  # (n,) int, 0-based sense of each occurrence
    score: np.ndarray  # (n,) cosine of each occurrence to its sense's centre (centered space)
    k: int
    silhouettes: dict[int, float]  # -k auto: mean silhouette of each k tried (k >= 2)
    gaps: dict[int, float] = field(default_factory=dict)  # -k auto: silhouette minus the one-blob reference's


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero). Rows so long that their squared length
    overflows (vectors of 1e30 in float32) are first divided by their largest value, so they
    keep their direction instead of becoming 0."""
    with np.errstate(over="ignore"):
        norm = np.linalg.norm(x, axis=-1, keepdims=True)
    if not np.isfinite(norm).all():
        x = x / np.maximum(np.abs(x).max(axis=-1, keepdims=True), np.finfo(x.dtype).tiny)
        norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


def centered_unit(x: np.ndarray) -> np.ndarray:
    """(n, d) -> rows minus their mean, scaled to length 1: what stays is what differs between
    occurrences (the word's shared static part is gone)."""
    x = np.asarray(x, dtype=np.float32)
    return unit(x - x.mean(axis=0))  # (n, d)


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
    w = unit(rng.normal(size=(restarts, m))).T  # (m, R)
    for _ in range(steps):
        s = w_z @ w  # (n, R)
        grad = w_z.T @ (s * s * s) / n - 3 * w  # (m, R); s * s * s: numpy's s**3 takes libm's pow, ~40x slower
        new = unit((w - rate * grad).T).T
        done = np.all(np.abs(np.sum(new * w, axis=0)) > 1 - 1e-9)
        w = new
        if done:
            break
    s = w_z @ w  # (n, R)
    s2 = s * s
    kurt = np.mean(s2 * s2, axis=0) - 3  # (R,)
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
    u = unit(z.astype(np.float32))
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


REFERENCES = 1  # -k auto: Gaussian references drawn; a split must beat the best of them (more: fewer splits of real words)
MIN_SENSE_LINES = 5  # -k auto: a sense holds occurrences from at least this many distinct lines


def _steps(z: np.ndarray, k: int, opts: SenseOptions) -> list[np.ndarray]:
    """Labels for 1, 2, ..., k groups (fewer when no group can be split)."""
    if opts.method == "kurtosis":
        return bisect(z, k, opts)
    out = [np.zeros(len(z), dtype=np.int64)]
    for j in range(2, k + 1):
        out.append(spherical_kmeans(z, j, seed=opts.seed, restarts=KMEANS_RESTARTS))
    return out


KMEANS_RESTARTS = 10


def _by_line(z: np.ndarray, labels: np.ndarray, lines: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """One point per (line, group): the occurrences of one line have nearly the same vector, and
    counted apart they make tight groups out of repetition."""
    if lines is None:
        return z, labels
    keys = np.stack([np.asarray(lines), labels], axis=1)
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    sums = np.zeros((inv.max() + 1, z.shape[1]), dtype=np.float64)
    np.add.at(sums, inv, z)
    lab = np.zeros(inv.max() + 1, dtype=np.int64)
    lab[inv] = labels
    return unit(sums).astype(np.float32), lab


def group(x: np.ndarray, opts: SenseOptions, lines: np.ndarray | None = None) -> Grouping:
    """Group occurrence vectors (n, d) into senses (see the module docstring). `lines` (n,) says
    which occurrences share a line (any integer key): -k auto then scores one point per line and
    group, and takes no sense of fewer than MIN_SENSE_LINES distinct lines."""
    n = len(x)
    z = centered_unit(x)  # (n, d)
    silhouettes: dict[int, float] = {}
    gaps: dict[int, float] = {}
    if opts.k is not None:
        if opts.k > n:
            raise DataError(f"-k {opts.k} is more than the {n} occurrence{'s' if n != 1 else ''} found")
        labels = _steps(z, opts.k, opts)[-1]
    else:
        labels = np.zeros(n, dtype=np.int64)
        steps = _steps(z, min(opts.max_k, n), opts)[1:]
        refs = []
        for r in range(REFERENCES):
            g_z = _gaussian_like(z, opts.seed + r)
            refs.append((g_z, _steps(g_z, min(opts.max_k, n), opts)[1:]))
        key = np.asarray(lines) if lines is not None else np.arange(n)
        for cut in steps:
            k = int(cut.max()) + 1
            distinct = [len(np.unique(key[cut == j])) for j in range(k)]
            if min(distinct) < MIN_SENSE_LINES:
                continue
            silhouettes[k] = silhouette(*_by_line(z, cut, lines))
            null = max((silhouette(*_by_line(g_z, r, lines)) for g_z, ref in refs for r in ref if int(r.max()) + 1 == k),
                       default=0.0)
            gaps[k] = silhouettes[k] - null
        if gaps and max(gaps.values()) >= MIN_GAP:
            best = max(gaps.values())
            k = min(k for k, v in gaps.items() if v >= best - GAP_SLACK)
            labels = steps[k - 2]
    labels = _by_size(labels)
    k = int(labels.max()) + 1 if n else 0
    centres = unit(np.stack([z[labels == j].mean(axis=0) for j in range(k)])) if n else np.zeros((0, x.shape[1]))
    score = np.einsum("nd,nd->n", z, centres[labels]) if n else np.zeros(0)
    return Grouping(labels, score.astype(np.float32), k, silhouettes, gaps)


SMOOTH_LINES = 10  # the context grouping pools each occurrence with those of its file within this many lines
SMOOTH_WEIGHT = 0.5


def smooth(z: np.ndarray, sources: list[str], lines: np.ndarray, within: int = SMOOTH_LINES, weight: float = SMOOTH_WEIGHT) -> np.ndarray:
    """(n, d) -> (n, d): z'_i = (1 - weight) z_i + weight * mean of z_j over the other occurrences
    of the same file within `within` lines (z_i alone when there is none): one sense per
    discourse, nearly true of neighbouring paragraphs (0.98 within a line for pseudowords)."""
    n = len(z)
    if n < 2 or within < 0 or weight == 0:
        return z
    _, src = np.unique(np.asarray([str(s) for s in sources]), return_inverse=True)
    src = src.ravel()
    lines = np.asarray(lines, dtype=np.int64)
    order = np.lexsort((lines, src))  # by file, then line: the neighbours of i are a run around it
    key = src[order] * (int(lines.max()) + 2 * within + 2) + lines[order]  # (n,) increasing
    lo = np.searchsorted(key, key - within, side="left")
    hi = np.searchsorted(key, key + within, side="right")
    zo = z[order].astype(np.float64)
    csum = np.concatenate([np.zeros((1, z.shape[1])), np.cumsum(zo, axis=0)])
    others = hi - lo - 1  # (n,)
    mean = (csum[hi] - csum[lo] - zo) / np.maximum(others, 1)[:, None]
    out = np.empty_like(zo)
    out[order] = np.where(others[:, None] > 0, (1 - weight) * zo + weight * mean, zo)
    return out.astype(np.float32)


def context_groups(pred: np.ndarray, sources: list[str], lines: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """The context grouping (attncli.contextview's predictions): centered, unit length, smoothed
    over neighbouring lines, unit again, then spherical k-means (seeded)."""
    z = unit(smooth(centered_unit(pred), sources, lines))
    return spherical_kmeans(z, k, seed=seed)


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
    u = unit(np.asarray(x, dtype=np.float32))
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
            new = unit(np.stack([u[lab == j].sum(axis=0) if (lab == j).any() else c[j] for j in range(k)]))
            if np.allclose(new, c):
                break
            c = new
        obj = float(np.sum(u * c[lab]))
        if obj > best_obj:
            best, best_obj = lab, obj
    return best


