"""A word's occurrences in a corpus: the lines holding it, found and embedded.

Lines come from attncli.inputs.read_lines (files, bounded lines, blank lines skipped) or from
any iterable of (source, line number, text), such as a corpus index. Each line is tokenized as attncli tokenizes everything (lowercased, PTB-style); a
token equal to one of the word's forms is an occurrence (line numbers 1-based per file). Only
lines holding a form are embedded, through the batch engine, a chunk at a time: memory grows
with the occurrences (one vector and a short snippet each), not the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from . import report
from .errors import Option, UsageError
from .inputs import BatchError, ReadStats, Source, read_lines
from .pipeline import Config, Lexicon, vectors_for
from .tokens import nfc
from .vectors import Vectors

SNIPPET_TOKENS = 20  # tokens kept each side of the word in an occurrence's text
CHUNK_LINES = 64  # lines embedded together (their attention matrices are kept for one chunk)
ATTENDS_KEPT = 8  # context tokens of highest weight remembered per occurrence
# A corpus line longer than this is skipped (and reported): a paragraph of WikiText-2 is at most
# 2.5 KB; a 100 KB line of 20,000 tokens takes about a second to attend, a 1 MB line minutes.
MAX_LINE_BYTES = 100_000
MAX_OCCURRENCES = 50_000  # a word's occurrences kept at most (memory: about 7 KB each, ~500 MiB in all)


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



def resolve_forms(word: str, forms: Iterable[str] | None, lexicon: Lexicon) -> list[str]:
    """The single-token forms to look for, as the lexicon looks them up (lowercased, for a
    lowercase vocabulary): `forms` when given, else the word."""
    wanted = [word] if not forms else [f for f in forms if f.strip()]
    if not wanted:
        raise UsageError(Option("forms"), " is empty")
    out = []
    for f in wanted:
        toks = lexicon.tokens(f)
        if len(toks) != 1:
            raise UsageError(f"a form must be one token, {f!r} is {len(toks)}: {[t.text for t in toks]}")
        if toks[0].text not in out:
            out.append(toks[0].text)
    return out


def _snippet(text: str, starts, ends, i: int, width: int = SNIPPET_TOKENS) -> tuple[str, int, int]:
    """The line cut to `width` tokens each side of token i (starts, ends: where each token's
    surface lies in `text`), and where token i lies in the cut."""
    n = len(starts)
    lo, hi = max(0, i - width), min(n, i + width + 1)
    a, b = int(starts[lo]), int(ends[hi - 1])
    head = "… " if lo > 0 else ""
    tail = " …" if hi < n else ""
    start = len(head) + int(starts[i]) - a
    return head + text[a:b] + tail, start, start + int(ends[i]) - int(starts[i])


def _positions(texts: list[str], forms: list[str]) -> list[int]:
    """Where any of `forms` is in `texts`, in order; list.index finds each (no Python step per token)."""
    found = []
    for form in forms:
        i = -1
        try:
            while True:
                i = texts.index(form, i + 1)
                found.append(i)
        except ValueError:
            pass
    return sorted(found) if len(forms) > 1 else found


@dataclass
class _Line:
    source: str
    line: int
    text: str
    targets: list[int]  # token indices of the occurrences
    first: int  # index of its first occurrence
    tokens: tuple[str, ...] = ()  # its tokens as looked up: what is embedded (not tokenized twice)


def _find(lines: Iterable[tuple[str, int, str | BatchError]], forms: list[str], lexicon: Lexicon,
          occurrences: list[Occurrence], skipped: list[str], limit: int | None = None) -> Iterator[_Line]:
    """Lines holding a form; appends their occurrences to `occurrences` as they are found, and
    lines that could not be read (not UTF-8, too long) to `skipped`. Once `limit` occurrences
    are found (the last line's cut to fit), no more lines are read."""
    quick = [f.lower() for f in forms]
    for source, number, text in lines:
        if type(text) is not str:
            skipped.append(f"{source}:{number}: {text.error}")
            continue
        low = nfc(text).lower()  # a decomposed "café" is the form "café" (ASCII or NFC text: as it is)
        if not any(f in low for f in quick):  # most lines: no tokenizing
            continue
        texts, starts, ends = lexicon.spans(text)
        targets = _positions(texts, forms)
        if not targets:
            continue
        if limit is not None:
            targets = targets[:limit - len(occurrences)]
        first = len(occurrences)
        for i in targets:
            snippet, start, end = _snippet(text, starts, ends, i)
            occurrences.append(Occurrence(source, number, i, texts[i], snippet, start, end))
        yield _Line(source, number, text, targets, first, tuple(texts))
        if limit is not None and len(occurrences) >= limit:
            if hasattr(lines, "close"):  # a reader's generator: its file closed and its lines counted now
                lines.close()
            return


@dataclass
class Collected:
    occurrences: list[Occurrence]  # (n,) those embedded, in reading order
    vectors: np.ndarray  # (n, d_out) their contextual vectors
    skipped: list[str]  # lines that could not be embedded, "file:line: why"
    lines_read: int
    found: int = 0  # occurrences found, embedded or not (at most the limit)
    order: np.ndarray | None = None  # (n,) each embedded occurrence's number among those found
    limited: bool = False  # the limit was reached: the lines after were not read


def collect(
    lines: Iterable[tuple[str, int, str | BatchError]],
    forms: list[str],
    config: Config,
    vectors: Vectors,
    *,
    with_attention: bool = True,
    stats: ReadStats | None = None,
    total: int | None = None,
    limit: int | None = MAX_OCCURRENCES,
) -> Collected:
    """Find the occurrences of `forms` in `lines` ((source, line number, text), as
    inputs.read_lines gives them) and embed the lines holding them. An occurrence whose line
    cannot be embedded, or whose word is out of the vocabulary and skipped, is left out. With
    one layer only the occurrences' rows of attention are computed (BatchEmbedder.embed_rows);
    with more, whole lines, and a line too long to keep its attention weights is embedded
    without them (its occurrences attend to nothing listed). `stats`: what the reading counts
    (lines, bytes: progress of `total` bytes). `limit`: the first that many occurrences found
    are kept, and no line after them is read (None: all)."""
    from .batch import BatchEmbedder, BatchOptions

    stats = stats if stats is not None else ReadStats()
    emb = BatchEmbedder(config, vectors, BatchOptions(with_attention=with_attention), detail=True)
    plain = None  # the same without attention weights, for lines too long to keep them
    found: list[Occurrence] = []
    got: dict[int, np.ndarray] = {}  # occurrence index -> its contextual vector
    skipped: list[str] = []
    held: dict[int, _Line] = {}

    def lines_found():  # each line holding a form, held under its key until it is embedded
        for k, ln in enumerate(_find(lines, forms, Lexicon(vectors, config), found, skipped, limit)):
            held[k] = ln
            yield k, ln

    def take(chunk, k: int, ln: _Line) -> None:
        where = {p: r for r, p in enumerate(chunk.positions[k])}  # token index -> row
        attended = None if chunk.attention is None else _Attended(chunk.tokens[k], forms)
        for j, target in enumerate(ln.targets):
            r = where.get(target)
            if r is None:  # out of the vocabulary and skipped (--oov skip)
                continue
            if attended is not None:
                found[ln.first + j].attends = attended.top(chunk.attention[k][r])
            got[ln.first + j] = chunk.contextual[chunk.offsets[k] + r]

    if config.layers == 1:  # only the occurrences' rows of attention: R x n cells a line, not n x n
        with report.progress("finding and embedding occurrences", total) as update:
            # the tokens _find made are embedded: the embedder looks them up as they are
            for batch in _batched(((k, ln.tokens, ln.targets) for k, ln in lines_found()), CHUNK_LINES):
                update(stats.bytes)
                for key, r in emb.embed_rows(batch):
                    ln = held.pop(key)
                    if type(r) is BatchError:
                        skipped.append(f"{ln.source}:{ln.line}: {r.error}")
                        continue
                    at = 0
                    attended = _Attended(r.tokens, forms, r.ids, emb.vectors) if with_attention else None
                    for j, row in enumerate(r.rows):
                        if row is None:  # out of the vocabulary and skipped (--oov skip)
                            continue
                        if attended is not None:
                            found[ln.first + j].attends = attended.top(r.attention[at])
                        got[ln.first + j] = r.contextual[at]
                        at += 1
        return _collected(found, got, skipped, stats, emb.d_out, limit)
    with report.progress("finding and embedding occurrences", total) as update:
        for chunk in emb.embed_chunks(((k, ln.tokens) for k, ln in lines_found()), chunk_sentences=CHUNK_LINES):
            update(stats.bytes)
            for e in chunk.errors:
                ln = held.pop(e.line)
                if with_attention:  # maybe only its attention weights were too big: once more without
                    plain = plain or BatchEmbedder(config, vectors, BatchOptions(), detail=True)
                    again = plain.embed_chunk([(e.line, ln.tokens)])
                    if len(again.lines):
                        take(again, 0, ln)
                        continue
                    e = again.errors[0]
                skipped.append(f"{ln.source}:{ln.line}: {e.error}")
            for k, key in enumerate(chunk.lines.tolist()):
                take(chunk, k, held.pop(key))
    return _collected(found, got, skipped, stats, emb.d_out, limit)


def _collected(found: list[Occurrence], got: dict[int, np.ndarray], skipped: list[str], stats: ReadStats, d_out: int,
               limit: int | None) -> Collected:
    """The occurrences that got a vector, in reading order, and their vectors."""
    order = sorted(got)
    occurrences = [found[i] for i in order]
    matrix = np.stack([got[i] for i in order]).astype(np.float32) if got else np.zeros((0, d_out), np.float32)  # (n, d_out)
    return Collected(occurrences, matrix, skipped, stats.lines, len(found), np.array(order, np.int64),
                     limit is not None and len(found) >= limit)


class _Names:
    """names[i]: the word of vocabulary row rows[i] (a cached vocabulary splits its words on
    first need: asking for eight of a line's words needs no more)."""

    def __init__(self, words, rows: np.ndarray):
        self.words, self.rows = words, rows

    def __getitem__(self, i: int) -> str:
        return self.words[int(self.rows[i])]


def _batched(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def collect_file(path: str, forms: list[str], config: Config, max_line_bytes: int = MAX_LINE_BYTES,
                 limit: int | None = MAX_OCCURRENCES) -> Collected:
    """collect() over one file; runs on a Dask worker, which loads the vectors itself."""
    stats = ReadStats()
    return collect(read_lines([Source(path, regular=True)], max_line_bytes, stats), forms, config, vectors_for(config),
                   stats=stats, limit=limit)


def merge_collected(parts: list[Collected], limit: int | None = MAX_OCCURRENCES) -> Collected:
    """The Collected of several files, read one after the other, from each file's own (each
    found with the same `limit`): the first `limit` occurrences found over the files in order,
    as one collect() over them keeps. The files after the limit add nothing; the lines reported
    not embedded may still hold some of the limit's last file past it."""
    occurrences, vectors, skipped, lines, found = [], [], [], 0, 0
    for p in parts:
        keep = np.ones(len(p.occurrences), bool) if limit is None or p.order is None else p.order < limit - found
        occurrences += [o for o, k in zip(p.occurrences, keep.tolist()) if k]
        vectors.append(p.vectors[keep])
        skipped += p.skipped
        lines += p.lines_read
        found += p.found
        if limit is not None and found >= limit:
            break
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)  # (n, d_out)
    return Collected(occurrences, matrix, skipped, lines, min(found, limit) if limit is not None else found, None,
                     limit is not None and found >= limit)


class _Attended:
    """The context words of highest weight in attention rows over one line's tokens: a word's
    weights summed over its appearances, punctuation and the word itself left out, the
    heaviest ATTENDS_KEPT first (ties: first appearance first). The line's words are sorted
    out once; each row is then a few numpy operations (lines hold hundreds of tokens, and a
    frequent word many occurrences)."""

    def __init__(self, tokens: list[str], forms: list[str], ids: np.ndarray | None = None, vectors: Vectors | None = None):
        if ids is not None and len(ids) and ids.min() >= 0:  # every token a vocabulary word: by their rows, in numpy
            rows, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
            order = np.argsort(first, kind="stable")  # the words in order of first appearance
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            self.inverse = rank[inverse.reshape(-1)]  # (n,) each token's word, numbered by first appearance
            rows = rows[order]
            form_rows = [vectors.index[f] for f in forms if f in vectors.index]
            self.kept = np.flatnonzero(vectors.has_letter()[rows] & ~np.isin(rows, form_rows)).astype(np.int64)
            self.names = _Names(vectors.words, rows[self.kept])  # looked up for the few words shown only
            return
        first: dict[str, int] = {}
        self.inverse = np.fromiter((first.setdefault(t, len(first)) for t in tokens), np.int64, len(tokens))  # (n,)
        names = list(first)  # in order of first appearance
        self.kept = np.flatnonzero([t not in forms and any(ch.isalpha() for ch in t) for t in names]).astype(np.int64)
        self.names = [names[i] for i in self.kept.tolist()]

    def top(self, weights: np.ndarray) -> list[tuple[str, float]]:
        """One row (n,) of weights -> [(word, summed weight), ...], heaviest first."""
        sums = np.bincount(self.inverse, weights=weights.astype(np.float64), minlength=len(self.inverse))[self.kept]  # in token order, as Python's own sums
        order = np.argsort(-sums, kind="stable")[:ATTENDS_KEPT]
        return [(self.names[i], float(sums[i])) for i in order.tolist()]


