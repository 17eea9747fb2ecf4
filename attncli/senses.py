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

import contextlib
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from . import report
from .corpus import MAX_LINE_BYTES, MAX_OCCURRENCES, Collected, Occurrence, collect, collect_file, merge_collected, resolve_forms
from .inputs import ReadStats, expand, read_lines, reading, rereadable
from .errors import DataError, Option, UsageError
from .export import config_record
from .grouping import Grouping, SenseOptions, centered_unit, group, unit
from .pipeline import Config, Lexicon, vectors_for
from .vectors import Vectors

from .palette import SENSE_COLOURS, sense_colour  # noqa: F401  (the senses' colours, for the terminal and the page)


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
    limited: int | None = None  # max_occurrences, when it was reached: the lines after were not read

    @property
    def k(self) -> int:
        return len(self.senses)

    def __repr__(self) -> str:
        files = f"{len(self.sources)} file{'s' if len(self.sources) != 1 else ''} ({self.lines_read:,} lines)"
        if self.sources == [TEXTS]:
            files = f"{self.lines_read:,} texts"
        lines = [f"SensesResult: {'/'.join(self.forms)!r} in {files}: "
                 f"{len(self.occurrences):,} occurrences, {self.k} sense{'s' if self.k != 1 else ''}"]
        for s in self.senses[:8]:
            lines.append(f"  {s.id}: {s.size:,} ({100 * s.share:.0f}%) {', '.join(s.label)}")
        lines.append(f"  vectors {tuple(self.vectors.shape)}; grouping.labels ({len(self.occurrences)},)")
        return "\n".join(lines)

    def to_projector(self, path) -> None:
        """Write the occurrences for the TensorBoard embedding projector into directory `path`
        (writers.ProjectorWriter; columns: projector_columns)."""
        from .writers import write_projector

        write_projector(path, self.vectors, projector_columns(self))

    def _repr_html_(self) -> str:
        """The `senses --html` map and senses, inline in a notebook (attncli.html)."""
        from .html import senses_view

        return senses_view(page_record(self))


@dataclass
class LikeResult:
    """Occurrences ranked by closeness in meaning to the word in an example sentence."""

    text: str
    ranked: np.ndarray  # (m,) indices into occurrences, nearest first
    cosine: np.ndarray  # (m,) their cosines (centered on the mean of the occurrences)


# ---------------------------------------------------------------- describing senses


LABEL_VOCAB = 20_000  # labels come from the most frequent words: rare ones make poor labels
# Markup of placeholder tokens: WikiText's `<unk>` is tokenized `<` `unk` `>`, and a sense whose
# contexts are full of it has a centre pulled toward `<` and `>` (labels "width, mon, col").
MARKUP = ("<", ">")


def _labels(centres: np.ndarray, vectors: Vectors, center: int, forms: list[str], m: int) -> list[list[str]]:
    """Per sense, the m words w of highest cos(w, c_j) + (cos(w, c_j) - mean_{o != j} cos(w, c_o)):
    near its centre c_j and nearer it than the other senses' (k = 1: near the centre).
    Only the LABEL_VOCAB most frequent words, of 3 letters or more, never a form of the word.
    The direction of the placeholder markup (MARKUP, `<unk>`'s pieces) is first taken out of
    each centre: a context of unknown words says nothing of the sense."""
    k = len(centres)
    unit_rows = vectors.unit(center)
    top = unit_rows[: min(LABEL_VOCAB, vectors.vocab_size)]  # (V, d)
    markup = [vectors.index[t] for t in MARKUP if t in vectors]
    if markup and centres.shape[1] == top.shape[1]:  # the markup direction taken out of each centre
        u = unit(unit_rows[markup].sum(axis=0))  # (d,)
        centres = unit(centres - (centres @ u)[:, None] * u[None, :])
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

TEXTS = "<texts>"  # the source name of texts given as a list (senses(texts=...))


def senses(
    word: str,
    inputs: list[str] | str | os.PathLike | None = None,
    config: Config | None = None,
    options: SenseOptions | None = None,
    *,
    texts: Iterable[str] | None = None,
    forms: list[str] | None = None,
    like: str | None = None,
    top: int = 20,
    vectors: Vectors | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    grouping: str = "kurtosis",
    index: str | None = None,
    max_occurrences: int | None = MAX_OCCURRENCES,
) -> SensesResult:
    """Every occurrence of `word` (or its `forms`) in the files `inputs` (paths, globs, '-'),
    grouped into senses. With `like`, also rank the occurrences by cosine to the word in that
    example sentence. engine="dask": each file is searched and embedded by a Dask task (local
    processes, or the cluster at `scheduler`, whose workers see the files and vectors at the
    same paths); the grouping then runs here on the gathered vectors. `texts` in place of
    `inputs`: the texts themselves (a list, a dataframe's column), each a line (numbered from 1)
    of a corpus named "<texts>". `index`: an index (attncli.store) read instead of the files,
    only the lines that may hold a form; `inputs` then picks some of its files (none: all). The
    results are those of the same files read. grouping="context": the occurrences are grouped
    by attncli.contextview's prediction (fitted on the whole corpus, the word's forms left out),
    smoothed over nearby lines, by spherical k-means; "kurtosis": their contextual vectors by
    the bisection along the most bimodal directions (attncli.grouping). `max_occurrences`: the
    first that many occurrences are kept and no line after them is read (memory: about 7 KB
    each); None: all."""
    if max_occurrences is not None and (type(max_occurrences) is not int or max_occurrences < 1):
        raise UsageError(Option("max_occurrences"), f" must be an integer >= 1 or None, not {max_occurrences!r}")
    limit = max_occurrences
    if grouping not in GROUPINGS:
        raise UsageError(Option("grouping"), f" must be one of {', '.join(GROUPINGS)}, not {grouping!r}")
    config = (config or Config()).resolved()
    options = options or SenseOptions()
    vec = vectors if vectors is not None else vectors_for(config)
    if texts is not None and (inputs is not None or index is not None) or texts is None and inputs is None and index is None:
        raise UsageError("give the corpus as ", Option("inputs"), " (files), ", Option("index"), " or ", Option("texts"),
                         " (the texts): one of them (inputs may pick some of an index's files)")
    if isinstance(inputs, (str, os.PathLike)):  # one file: a list of its characters would be meant by nobody
        inputs = [inputs]
    forms = resolve_forms(word, forms, Lexicon(vec, config))
    if texts is not None:
        if isinstance(texts, str):
            raise UsageError(Option("texts"), " must be a list (or iterable) of strings, not one string")
        lines = [(TEXTS, n, t if isinstance(t, str) else "") for n, t in enumerate(texts, start=1)]  # a gap: no occurrence
        found = collect(iter(lines), forms, config, vec, stats=ReadStats(files=1, lines=len(lines)), limit=limit)
        view = context_view(lambda: iter(lines), forms, found, vec, options.seed) if grouping == "context" and found.occurrences else None
        return _finish(word, forms, [TEXTS], found, config, vec, options, like, top, view)
    if index is not None:
        if engine != "local" or scheduler is not None:
            raise UsageError(Option("index"), " reads the index here; ", Option("engine", value="dask"), " and ",
                             Option("scheduler"), " are for -i")
        from .store import reading as index_reading

        with index_reading(index, inputs or None) as (ix, files):
            stats = ReadStats()
            found = collect(ix.lines(forms, files, max_line_bytes, stats), forms, config, vec, stats=stats,
                            total=sum(f.size for f in files), limit=limit)
            view = None
            if grouping == "context" and found.occurrences:
                view = context_view(lambda: ix.lines(None, files, max_line_bytes), forms, found, vec, options.seed)
        return _finish(word, forms, [f.label for f in files], found, config, vec, options, like, top, view)
    sources = expand([os.fspath(p) for p in inputs])  # pathlib.Path too
    reading(sources)
    # the context view reads the corpus a second time: a pipe or stdin is first copied (rereadable)
    with rereadable(sources, max_line_bytes) if grouping == "context" else contextlib.nullcontext(sources) as srcs:
        if engine == "dask":
            if vectors is not None:
                raise UsageError("engine='dask' loads the vectors on each worker from config.vectors: pass no vectors=")
            if not all(s.regular for s in sources):
                raise UsageError("engine='dask' reads regular files (each on a worker), not standard input or pipes")
            from .dask_engine import compute

            found = merge_collected(compute(collect_file, [(s.name, forms, config, max_line_bytes, limit) for s in sources],
                                            scheduler), limit)
        elif engine == "local":
            if scheduler is not None:
                raise UsageError(Option("scheduler"), " needs ", Option("engine", value="dask"))
            stats = ReadStats()
            sizes = [s.size for s in srcs]
            found = collect(read_lines(srcs, max_line_bytes, stats), forms, config, vec, stats=stats,
                            total=sum(sizes) if None not in sizes else None, limit=limit)
        else:
            raise UsageError(Option("engine"), f" must be local or dask, not {engine!r}")
        view = None
        if grouping == "context" and found.occurrences:
            view = context_view(lambda: read_lines(srcs, max_line_bytes), forms, found, vec, options.seed)
    return _finish(word, forms, [s.label for s in sources], found, config, vec, options, like, top, view)


GROUPINGS = ("context", "kurtosis")


def context_view(lines, forms: list[str], found: Collected, vec: Vectors, seed: int) -> np.ndarray:
    """(n, d) the context view of each occurrence (attncli.contextview), centered, unit length and
    smoothed over the occurrences of the same file within 10 lines. `lines()`: the corpus's
    (source, line number, text) again, as collect() read them."""
    from . import contextview as cv
    from .grouping import smooth

    tokens = cv.read_tokens(lines(), vec)
    x, w = cv.inputs(tokens, vec)
    model = cv.fit(tokens, vec, set(forms), x, w, seed)
    occ = found.occurrences
    pred = cv.predict(model, tokens, x, w, tokens.positions((o.source, o.line, o.position) for o in occ))
    return unit(smooth(centered_unit(pred), [o.source for o in occ], np.array([o.line for o in occ])))


def _finish(word, forms, sources, found: Collected, config, vec, options, like, top, view=None) -> SensesResult:
    occ, x, skipped, n_lines = found.occurrences, found.vectors, found.skipped, found.lines_read
    n = len(occ)
    where = f"{len(sources)} file{'s' if len(sources) != 1 else ''} ({n_lines:,} lines)"
    if n == 0:
        names = "/".join(forms)
        if skipped:
            raise DataError(f"{names!r}: none of its {len(skipped)} line(s) in {where} could be embedded (first: {skipped[0]})")
        if not any(f in vec for f in forms) and config.oov == "skip":
            raise DataError(f"{names!r} is not in the vocabulary of {vec.name}: its occurrences have no vector (",
                            Option("oov", value="zero"), " groups them by context alone)")
        raise DataError(f"{names!r} does not occur in {where}")
    if n == 1 and (options.k is None or options.k > 1):
        raise DataError(f"{'/'.join(forms)!r} occurs once in {where}: one occurrence cannot be grouped")
    lines = np.unique([(o.source, o.line) for o in occ], axis=0, return_inverse=True)[1].ravel()
    if view is not None:
        grouping = group(view, dataclasses.replace(options, method="kmeans"), lines)
    else:
        grouping = group(x, options, lines)
    described = describe(occ, x, grouping, forms, vec, config.center, options)
    result = SensesResult(word, forms, sources, occ, x, grouping, described, config, vec.info(), n_lines, skipped)
    if found.limited:
        result.limited = found.found
        report.note(str(DataError(f"kept the first {found.found:,} occurrences of {'/'.join(forms)!r}, the lines after them "
                                  "not read (", Option("max_occurrences"), " raises the limit)")))
    if like is not None:
        result.like = rank_like(result, like, top, vec)
    return result


def rank_like(result: SensesResult, text: str, top: int, vec: Vectors) -> LikeResult:
    """The occurrences nearest in meaning to the word in `text`: cosine between contextual
    vectors, both centered on the mean of the corpus occurrences (what they share is left out)."""
    from .pipeline import TooManyCells, embed

    if top < 1:
        raise UsageError(Option("top", "-n"), f" must be >= 1, not {top}")
    try:
        example = embed(text, result.config, vec)
    except TooManyCells as e:  # its hint names embed's --max-attention-cells, which senses has not
        raise DataError(Option("like"), f": the example has {e.tokens:,} tokens, too long to embed as one sentence; "
                        f"give one sentence holding {result.word!r}") from None
    rows = [i for i, t in enumerate(example.tokens) if t in result.forms]
    if not rows:
        raise UsageError(Option("like"), f": the example holds no form of {result.word!r} ({'/'.join(result.forms)}): {text!r}")
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
    if result.limited is not None:
        record["limited"] = result.limited
    if g.silhouettes:
        record["auto"] = {"silhouette": {str(k): v for k, v in g.silhouettes.items()},
                          "gap": {str(k): v for k, v in g.gaps.items()}}
    record["files"] = result.sources
    record["vectors"] = result.vectors_info
    record["config"] = config_record(result.config)
    return record


def projector_columns(result: SensesResult) -> dict[str, list]:
    """The projector's metadata, one value per occurrence: the form found, its sense, the
    file (several files only), the line and the text around it."""
    occ = result.occurrences
    columns = {"token": [o.form for o in occ], "sense": (result.grouping.labels + 1).tolist()}
    if len(result.sources) > 1:
        columns["file"] = [o.source for o in occ]
    columns["line"] = [o.line for o in occ]
    columns["sentence"] = [o.text for o in occ]
    return columns


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


from .entry import make_callable  # noqa: E402  (attncli.senses(...) calls senses(...): entry.py says why)

make_callable(__name__)
