"""Senses of a word in a corpus: every occurrence, its contextual vector, grouped by meaning.

    >>> from attncli.senses import senses
    >>> r = senses("bank", ["corpus.txt"])
    >>> [(s.size, s.label[:3]) for s in r.senses]

Occurrences are found and embedded by attncli.corpus and grouped by attncli.grouping (whose
docstring gives the method); here they are described (a label, what they attend to, central
examples), ranked against an example (--like) and written as JSON.

Raises attncli.errors exceptions; never prints. No typer, no rich.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .corpus import MAX_LINE_BYTES, Collected, Occurrence, collect, collect_file, merge_collected, resolve_forms
from .inputs import ReadStats, expand, read_lines, reading
from .errors import DataError, UsageError
from .export import config_record
from .grouping import Grouping, SenseOptions, centered_unit, group, unit
from .pipeline import Config, Lexicon, vectors_for
from .vectors import Vectors

# One colour per sense (cycled), the same in the terminal and on the page; distinct in both themes.
SENSE_COLOURS = ["#4c9be8", "#f08c00", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c940d"]


def sense_colour(i: int) -> str:
    """The colour of sense i (0-based)."""
    return SENSE_COLOURS[i % len(SENSE_COLOURS)]


# ---------------------------------------------------------------- results


@dataclass
class Sense:
    id: int  # 1-based, largest first
    size: int
    share: float  # size / occurrences
    label: list[str]  # vocabulary words nearest its centre, most distinctive first
    attends: list[str]  # context words its occurrences attend to most
    examples: list[int]  # the most central occurrences (indices into SensesResult.occurrences)


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
    centres = unit(np.stack([x[grouping.labels == j].mean(axis=0) for j in range(k)]))  # (k, d)
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
    max_line_bytes: int = MAX_LINE_BYTES,
    index: str | None = None,
) -> SensesResult:
    """Every occurrence of `word` (or its `forms`) in the files `inputs` (paths, globs, '-'),
    grouped into senses. With `like`, also rank the occurrences by cosine to the word in that
    example sentence. engine="dask": each file is searched and embedded by a Dask task (local
    processes, or the cluster at `scheduler`, whose workers see the files and vectors at the
    same paths); the grouping then runs here on the gathered vectors. `index`: an index
    (attncli.store) read instead of the files, only the lines that may hold a form; `inputs`
    then picks some of its files (none: all). The results are those of the same files read."""
    config = (config or Config()).resolved()
    options = options or SenseOptions()
    vec = vectors if vectors is not None else vectors_for(config)
    forms = resolve_forms(word, forms, Lexicon(vec, config))
    if index is not None:
        if engine != "local" or scheduler is not None:
            raise UsageError("--index reads the index here; --engine dask and --scheduler are for -i")
        from .store import reading as index_reading

        with index_reading(index, inputs or None) as (ix, files):
            stats = ReadStats()
            found = collect(ix.lines(forms, files, max_line_bytes, stats), forms, config, vec, stats=stats,
                            total=sum(f.size for f in files))
        return _finish(word, forms, [f.label for f in files], found, config, vec, options, like, top)
    sources = expand(inputs)
    reading(sources)
    if engine == "dask":
        if vectors is not None:
            raise UsageError("engine='dask' loads the vectors on each worker from config.vectors: pass no vectors=")
        if not all(s.regular for s in sources):
            raise UsageError("engine='dask' reads regular files (each on a worker), not standard input or pipes")
        from .dask_engine import compute

        found = merge_collected(compute(collect_file, [(s.name, forms, config, max_line_bytes) for s in sources], scheduler))
    elif engine == "local":
        if scheduler is not None:
            raise UsageError("--scheduler needs --engine dask")
        stats = ReadStats()
        sizes = [s.size for s in sources]
        found = collect(read_lines(sources, max_line_bytes, stats), forms, config, vec, stats=stats,
                        total=sum(sizes) if None not in sizes else None)
    else:
        raise UsageError(f"--engine must be local or dask, not {engine!r}")
    return _finish(word, forms, [s.label for s in sources], found, config, vec, options, like, top)


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
    q = unit(example.contextual[rows[0]] - mean)  # (d,)
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
