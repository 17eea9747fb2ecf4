"""Batch embedding: many sentences at once, for files and corpora.

    >>> from attncli.batch import embed_batch
    >>> for r in embed_batch(["money bank grows", "", "the river bank"]):
    ...     print(r.line, r.error if isinstance(r, BatchError) else r.tokens)

The same numbers as `pipeline.embed` per sentence (within float32 rounding), computed
vectorized: a chunk of sentences is sorted by length, cut into batches of at most
`batch_size` sentences and BLOCK_CELLS attention cells, padded to the longest of its batch,
and attended in one masked batched matmul per batch (`attention.self_attention(lengths=)`).
A sentence too long for one batch is computed alone in row blocks
(`attention.blocked_self_attention`): memory linear in its length.

A sentence that cannot be embedded (empty, only punctuation, nothing in the vocabulary, not
UTF-8) becomes a BatchError with its line number; the others go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
from dataclasses import dataclass
from itertools import repeat
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np

from . import attention as att
from .errors import DataError, Option, UsageError
from .pipeline import (
    INT64_MAX,
    MAX_ATTENTION_CELLS,
    Config,
    EmbedResult,
    Lexicon,
    contextualize,
    contextualize_rows,
    key_prior,
    key_probability,
    load_projections,
    model_input,
    prepare,
    sentence_text,
    static_rows,
    vectors_for,
)
from .inputs import DEFAULT_MAX_LINE_BYTES, INPUT_FORMATS, BatchError, ReadStats, Source, opened, read_items  # noqa: F401 (re-exported)
from .pooling import check_pool, pool, sif_weights
from .tokens import lines_token_texts, token_texts
from .vectors import Vectors

DEFAULT_BATCH_SIZE = 256
DEFAULT_MAX_ATTENTION_CELLS = MAX_ATTENTION_CELLS  # H x n x n weights kept for --with-attention: 100 MB of float32
BLOCK_CELLS = 1 << 20  # attention cells (B x H x n x n) computed at once: 4 MiB of float32, cache-sized
MIN_UNIFORM = 16  # sentences of one length batched alone, unpadded; fewer are padded with neighbours
CHUNK_SENTENCES = 8192  # sentences read, sorted and embedded together
CHUNK_CHARS = 1 << 18  # ... or fewer, when their text passes this many characters
CACHE_SENTENCES = 16_384  # tokenized sentences remembered (corpora repeat lines: headers, boilerplate)
CACHE_CHARS = 1 << 24  # ... holding at most about this many characters of text


_NO_ROWS = np.zeros(0, np.int64)


@dataclass(frozen=True)
class BatchOptions:
    """How a batch run reads and embeds its lines: one object, passed from the command to the
    engine (local or Dask) and on to each shard."""

    input_format: str = "text"  # see INPUT_FORMATS
    text_field: str = "text"  # jsonl: the field holding the sentence
    batch_size: int = DEFAULT_BATCH_SIZE  # sentences attended together in one padded matmul
    with_static: bool = False  # add the static vectors to the output
    with_attention: bool = False  # add the attention weights to the output
    max_attention_cells: int = DEFAULT_MAX_ATTENTION_CELLS  # with_attention: a bigger line fails
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES  # a longer line fails (and is read past, never held)
    pool: str | None = None  # add one vector per sentence: "mean" or "sif" (attncli.pooling)

    def __post_init__(self):
        check_pool(self.pool)
        if self.input_format not in INPUT_FORMATS:
            raise UsageError(Option("input_format"), f" must be text or jsonl, not {self.input_format!r}")
        for name in ("batch_size", "max_attention_cells", "max_line_bytes"):
            value = getattr(self, name)
            if not 1 <= value <= INT64_MAX:  # what the manifest and the .npz can hold
                raise UsageError(Option(name), f" must be between 1 and {INT64_MAX}, not {value}")


@dataclass
class Chunk:
    """Consecutive input lines, embedded; m sentences that worked, T = their total tokens."""

    lines: np.ndarray  # (m,) int64, 1-based input line of each embedded sentence, ascending
    texts: list[str | tuple]  # (m,) each as read: a text, or its tokens (a tuple)
    oov: list[list[dict]]  # (m,) [{"token", "position"}] per sentence
    offsets: np.ndarray  # (m + 1,) int64: sentence i is rows offsets[i]:offsets[i+1]
    contextual: np.ndarray  # (T, d_out) float32
    static: np.ndarray | None  # (T, d) float32; None unless with_static (or detail mode): never gathered
    attention: list[np.ndarray] | None  # (m,) of (n, n), mean over heads; with_attention only
    heads: list[np.ndarray] | None  # (m,) of (H, n, n); with_attention only
    errors: list[BatchError]  # lines that failed, ascending
    ids: np.ndarray  # (T,) int64 vocabulary row of each token, -1 for an OOV word (zeroed or fastText)
    unknown: dict[int, str]  # row -> the token, for each row whose id is -1
    vocab: "_Vocab"
    surfaces: list[list[str]] | None = None  # detail mode only (embed_batch)
    positions: list[list[int]] | None = None
    source: str | None = None  # the input its lines come from, when a run reads several (embed_stream)
    sentences: np.ndarray | None = None  # (m, d_out) float32 pooled sentence vectors; BatchOptions.pool only
    line_ids: list | None = None  # (m,) the JSON Lines records' "id" (None: none), when any had one

    @property
    def size(self) -> int:
        """Input lines covered, embedded or not."""
        return len(self.lines) + len(self.errors)

    @functools.cached_property
    def tokens(self) -> list[list[str]]:
        """(m,) the normalized tokens of each sentence that took part."""
        flat = list(map(self.vocab.words.__getitem__, self.ids.tolist()))  # (T,)
        for row, text in self.unknown.items():
            flat[row] = text
        bounds = self.offsets.tolist()
        return [flat[a:b] for a, b in zip(bounds, bounds[1:])]

    def token_bytes(self) -> np.ndarray:
        """(bytes,) uint8: the T tokens in UTF-8, each ended by "\n" (no token holds a line
        break), gathered from the vocabulary without a Python loop over tokens."""
        return self.vocab.utf8(self.ids, self.unknown)


class Sentence(NamedTuple):
    """One sentence after tokenizing and look-up, as the batch engine keeps it (a tuple:
    millions are made and cached)."""

    tokens: list[str]  # (n,) normalized tokens that take part
    ids: list[int]  # (n,) vocabulary rows, -1 for an OOV word (zeroed, or a fastText subword vector)
    oov: list[dict]  # [{"token", "position"[, "handled"]}]
    subword: dict[int, np.ndarray] | None  # row -> fastText vector of an out-of-vocabulary word
    surfaces: list[str] | None = None  # detail mode only: the tokens as written
    positions: list[int] | None = None  # detail mode only: index of each in the full token list


class Computed(NamedTuple):
    """The numbers of a chunk's m sentences, T tokens in all."""

    offsets: np.ndarray  # (m + 1,) sentence i is rows offsets[i]:offsets[i+1]
    contextual: np.ndarray  # (T, d_out)
    static: np.ndarray | None  # (T, d); None when compute(with_static=False)
    attention: list[np.ndarray] | None  # (m,) of (n, n), mean over heads; with_attention only
    heads: list[np.ndarray] | None  # (m,) of (H, n, n); with_attention only


class Rows(NamedTuple):
    """Some token rows of one sentence, embedded alone (BatchEmbedder.embed_rows)."""

    tokens: list[str]  # (n,) the tokens that took part
    ids: np.ndarray  # (n,) their vocabulary rows, -1 for an OOV word (zeroed, or a fastText subword vector)
    positions: list[int]  # (n,) index of each in the full token list
    rows: list[int | None]  # for each position asked for: its row among the n, None when it took no part (OOV skipped)
    contextual: np.ndarray  # (R, d_out) the contextual vector of each row found, in the order asked
    attention: np.ndarray  # (R, n) its attention weights, mean over heads


class _Vocab:
    """The vocabulary's words as one UTF-8 byte string, for gathering tokens by row."""

    def __init__(self, words: list[str]):
        self.words = words

    @functools.cached_property
    def _encoded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every word, packed (_packed)."""
        return _packed([w.encode("utf-8", "surrogatepass") for w in self.words])  # surrogatepass: never fails

    def utf8(self, ids: np.ndarray, unknown: dict[int, str]) -> np.ndarray:
        """(bytes,) uint8: the words of rows `ids` (T,), each ended by "\n"; row r with id -1
        is unknown[r]."""
        blob, starts, sizes = self._encoded
        ids = np.asarray(ids, dtype=np.int64)
        if unknown:  # words outside the vocabulary: rows after it, for this call only
            rows = sorted(unknown)
            extra, extra_starts, extra_sizes = _packed([unknown[r].encode("utf-8") for r in rows])
            ids = ids.copy()
            ids[rows] = len(self.words) + np.arange(len(rows))
            starts = np.concatenate([starts, len(blob) + extra_starts])
            blob = np.concatenate([blob, extra])
            sizes = np.concatenate([sizes, extra_sizes])
        n = sizes[ids]  # (T,) bytes of each token
        ends = np.cumsum(n)  # (T,)
        return blob[np.repeat(starts[ids] - (ends - n), n) + np.arange(int(ends[-1]) if len(n) else 0)]


def _packed(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Byte strings each ended by "\n", one after the other: (blob (bytes,) uint8, starts (k,),
    sizes (k,) counting the "\n")."""
    sizes = np.fromiter(map(len, encoded), np.int64, len(encoded)) + 1
    blob = b"\n".join(encoded) + b"\n" if encoded else b""
    return np.frombuffer(blob, dtype=np.uint8), np.cumsum(sizes) - sizes, sizes


class BatchEmbedder:
    """Embeds chunks of (line, text) pairs with one config; keeps the vectors, projections
    and a cache of tokenized sentences between chunks."""

    def __init__(
        self,
        config: Config | None = None,
        vectors: Vectors | None = None,
        options: BatchOptions | None = None,
        *,
        block_cells: int = BLOCK_CELLS,
        detail: bool = False,
    ):
        self.config = (config or Config()).resolved()
        self.options = options or BatchOptions()
        self.vectors = vectors if vectors is not None else vectors_for(self.config)
        self.proj = load_projections(self.config, self.vectors.dim)
        self.block_cells = block_cells
        self.detail = detail  # keep surfaces and positions (for EmbedResult)
        self._cache: dict[str, np.ndarray | Sentence | str] = {}  # see lookup
        self._cached_chars = 0
        self._alnum: np.ndarray | None = None  # see _isalnum
        self._index = self.vectors.index
        self._lexicon = Lexicon(self.vectors, self.config)  # --tokenizer, --case
        self._known = self._index.__contains__ if self._lexicon.case != "fallback" else self._lexicon.known
        self._matrix = None  # float32 copy of the vectors, when small enough (faster gathers)
        self._inputs = None  # the same, centered as pipeline.model_input does (--center)
        if self.vectors.matrix.size <= 1 << 27:
            self._matrix = np.asarray(self.vectors.matrix, dtype=np.float32)
            self._inputs = self._matrix - self.vectors.mean(self.config.center) if self.config.center else self._matrix
        self._vocab: _Vocab | None = None
        self._buffers: dict[str, np.ndarray] = {}  # see _buffer

    @property
    def vocab(self) -> _Vocab:
        if self._vocab is None:
            self._vocab = _Vocab(list(self.vectors.words))  # a list: indexed once per token, in C
        return self._vocab

    @property
    def d_out(self) -> int:
        return self.proj.d_out

    def meta(self) -> dict:
        """What every output of this run records: {"vectors": ..., "config": ...}."""
        from .export import config_record

        return {"vectors": self.vectors.info(), "config": config_record(self.config, untrained=not self.proj.trained)}

    # ------------------------------------------------------------ tokens and look-up

    def lookup(self, texts: list[str]) -> list[np.ndarray | Sentence | str]:
        """Each text tokenized and looked up: its vocabulary rows ((n,) int64) in the common case
        (every token known, no repair), a Sentence when pipeline.prepare's exact path was needed
        (OOV words, repairs; always in detail mode), or the message of the DataError that it
        cannot be embedded. Remembered per distinct text: corpora repeat lines."""
        cache = self._cache
        if len(cache) + len(texts) > CACHE_SENTENCES or self._cached_chars > CACHE_CHARS:
            cache.clear()
            self._cached_chars = 0
        found = list(map(cache.get, texts))
        missing = list(dict.fromkeys(t for t, f in zip(texts, found) if f is None))
        if not missing:
            return found
        made = dict(zip(missing, self._prepare_many(missing)))
        cache.update(made)
        self._cached_chars += sum(map(len, missing))
        return [made[t] if f is None else f for t, f in zip(texts, found)]

    def _prepare_many(self, texts: list[str]) -> list[np.ndarray | Sentence | str]:
        """lookup() of distinct texts, not yet remembered: the whole list tokenized in one regex
        pass and looked up in one C loop. Texts whose unknown words are simply skipped (the
        default --oov skip, no fastText) are done here too; only the texts a repair may apply
        to, or with other OOV handling, or with no word at all go through pipeline.prepare."""
        tokens = None if self.detail or "\n" in self._index else self._flat_tokens(texts)
        if tokens is None:  # detail mode, or a text holding a line end (JSON Lines)
            return [self._prepare_one(t) for t in texts]
        ids = np.array(list(map(self._index.get, tokens, repeat(-1))), dtype=np.int64)  # (N,) -1: unknown
        unknown = np.flatnonzero(ids < 0)
        if self._lexicon.case == "fallback":  # a cased vocabulary: "The" -> "the" where "The" is not known
            found = [(q, low) for q in unknown.tolist() if (low := tokens[q].lower()) != tokens[q] and low in self._index]
            for q, low in found:
                tokens[q] = low
                ids[q] = self._index[low]
            if found:
                unknown = np.flatnonzero(ids < 0)
        ends = unknown[[tokens[i] == "\n" for i in unknown.tolist()]]  # (len(texts) - 1,) the line ends
        ids[ends] = -2
        starts = np.concatenate([[0], ends + 1])  # (len(texts),) each text's tokens: ids[starts[k]:stops[k]]
        stops = np.concatenate([ends, [len(ids)]])
        oov = np.concatenate([[0], np.cumsum(ids == -1)])  # (N + 1,) running counts
        words = np.concatenate([[0], np.cumsum(self._isalnum[np.maximum(ids, 0)] & (ids >= 0))])
        good = words[stops] > words[starts]  # (len(texts),) a known word to embed
        plain = good & (oov[stops] == oov[starts])  # ... and no unknown one
        skipped = good & ~plain if self.config.oov == "skip" and not self.vectors.subwords else np.zeros_like(good)
        dot = self._index.get(".")
        if dot is not None:  # "mr" "." -> "mr." when known, for a "." neither first nor last: prepare() repairs
            p = np.flatnonzero(ids[1:-1] == dot) + 1
            for q in p[(ids[p - 1] != -2) & (ids[p + 1] != -2)].tolist():
                if self._known(tokens[q - 1] + "."):
                    k = np.searchsorted(starts, q, side="right") - 1  # the text holding it
                    plain[k] = skipped[k] = False
        out = [ids[i:j] if ok else None for i, j, ok in zip(starts.tolist(), stops.tolist(), plain.tolist())]
        for k in np.flatnonzero(skipped).tolist():
            out[k] = self._skipping(tokens[starts[k]:stops[k]], ids[starts[k]:stops[k]])
        return [self._prepare_one(t) if f is None else f for t, f in zip(texts, out)]

    def _flat_tokens(self, texts: list) -> list[str] | None:
        """The tokens of every text, with a "\n" token between one text's and the next's (as
        tokens.lines_token_texts), the case as the lexicon wants it; None when a text holds a
        line end. Sentences given as tokens (tuples) are taken as they are."""
        lex = self._lexicon
        if all(type(t) is str for t in texts):
            return lines_token_texts(texts, lower=lex.lower, split=lex.split)
        flat: list[str] = []
        for t in texts:
            if type(t) is tuple:
                toks = lex.given(t)
            else:
                toks = token_texts(t, lower=lex.lower, split=lex.split)
            if any("\n" in w for w in toks):
                return None
            flat += toks
            flat.append("\n")
        flat.pop()
        return flat

    @staticmethod
    def _skipping(tokens: list[str], ids: np.ndarray, surfaces: list[str] | None = None) -> Sentence | None:
        """pipeline.prepare's result under --oov skip for a sentence whose unknown tokens need
        no repair (None when one is hyphenated: prepare splits it). With `surfaces`, as detail
        mode gives it: the kept tokens' surfaces and positions too."""
        missing = np.flatnonzero(ids < 0).tolist()
        if any("-" in tokens[q] for q in missing):
            return None
        kept = ids >= 0
        sentence = Sentence([t for t, ok in zip(tokens, kept.tolist()) if ok], ids[kept].tolist(),
                            [{"token": tokens[q], "position": q} for q in missing], None)
        if surfaces is None:
            return sentence
        positions = np.flatnonzero(kept).tolist()
        return sentence._replace(surfaces=[surfaces[i] for i in positions], positions=positions)

    def _prepare_one(self, text: str) -> np.ndarray | Sentence | str:
        """One text, as lookup() gives it."""
        try:
            s = self._prepare(text)
        except DataError as e:
            return str(e)
        return np.asarray(s.ids, dtype=np.int64) if not (self.detail or s.oov or s.subword) else s

    def _prepare(self, text: str) -> Sentence:
        if self.detail and (s := self._skipping_tuple(text)) is not None:
            return s
        if not self.detail:
            lex = self._lexicon
            if type(text) is tuple:
                texts = lex.given(text)
            else:
                texts = token_texts(text, self._known, lower=lex.lower, split=lex.split)
            if lex.case == "fallback":
                texts = list(map(lex.form, texts))
            ids = list(map(self._index.get, texts))  # the loop in C
            # the common case; anything else (OOV, errors) takes pipeline.prepare's exact path
            if texts and None not in ids and any(t.isalnum() for t in texts):
                return Sentence(texts, ids, [], None)
        p = prepare(text, self.vectors, self.config)
        tokens = [p.tokens[i].text for i in p.kept]
        subword = p.subword or None
        if self.detail:
            return Sentence(tokens, p.ids.tolist(), p.oov, subword, [p.tokens[i].surface for i in p.kept], list(p.kept))
        return Sentence(tokens, p.ids.tolist(), p.oov, subword)

    @property
    def _isalnum(self) -> np.ndarray:
        """(V,) bool: is the word of each row all letters and digits (a sentence of known
        words needs one such word to embed)."""
        if self._alnum is None:
            words = self.vectors.words
            self._alnum = np.fromiter(map(str.isalnum, words), bool, len(words))
        return self._alnum

    # ------------------------------------------------------------ a chunk

    def embed_chunk(self, items: Iterable[tuple[int, str | BatchError]]) -> Chunk:
        """Embed (line, text) pairs (a BatchError in place of a text passes through)."""
        lines, texts, errors = [], [], []
        for line, text in items:
            if type(text) is str or type(text) is tuple:
                lines.append(line)
                texts.append(text)
            else:
                errors.append(text)
        found = self.lookup(texts)  # (m,) rows, Sentence or error message per text
        special = {k: f for k, f in enumerate(found) if type(f) is not np.ndarray}  # Sentences and errors
        rows = list(found) if special else found
        failed = {}  # k -> message
        for k, f in special.items():
            if type(f) is str:
                failed[k] = f
                rows[k] = _NO_ROWS
            else:
                rows[k] = np.asarray(f.ids, dtype=np.int64)
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))  # (m,)
        if self.options.with_attention:
            limit = self.options.max_attention_cells // self.proj.heads
            failed.update({k: self._too_big(int(lengths[k])) for k in np.flatnonzero(lengths * lengths > limit).tolist()})
        if failed:
            errors += [BatchError(lines[k], message, sentence_text(texts[k])) for k, message in failed.items()]
            errors.sort(key=lambda e: e.line)
            keep = [k for k in range(len(rows)) if k not in failed]
            lines, texts, rows, found = ([x[k] for k in keep] for x in (lines, texts, rows, found))
            lengths = lengths[keep]
        ids = np.concatenate(rows) if rows else np.zeros(0, np.int64)  # (T,)
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        oov = [[] for _ in rows]
        unknown, subword = {}, {}  # row of the chunk -> the token / its fastText vector, for rows with id -1
        for k, f in enumerate(found) if special else ():
            if type(f) is Sentence:
                start = int(offsets[k])
                oov[k] = f.oov
                unknown.update({start + j: f.tokens[j] for j, i in enumerate(f.ids) if i < 0})
                if f.subword:
                    subword.update({start + j: v for j, v in f.subword.items()})
        done = self.compute(ids, lengths, subword, with_static=self.options.with_static or self.detail)
        return Chunk(
            sentences=self.pooled(done.contextual, done.offsets, ids),
            lines=np.asarray(lines, dtype=np.int64), texts=texts, oov=oov, offsets=done.offsets,
            contextual=done.contextual, static=done.static, attention=done.attention, heads=done.heads, errors=errors,
            ids=ids, unknown=unknown, vocab=self.vocab,
            surfaces=[f.surfaces for f in found] if self.detail else None,
            positions=[f.positions for f in found] if self.detail else None,
        )

    def pooled(self, contextual: np.ndarray, offsets: np.ndarray, ids: np.ndarray) -> np.ndarray | None:
        """(m, d_out) one vector per sentence as BatchOptions.pool asks (None without it)."""
        if self.options.pool is None:
            return None
        weights = None
        if self.options.pool == "sif":
            weights = sif_weights(key_probability(self.vectors, ids), self.config.prior_a)  # (T,)
        return pool(contextual, offsets, weights)

    def embed_rows(self, items: Iterable[tuple[int, str | tuple, list[int]]]) -> list[tuple[int, Rows | BatchError]]:
        """(line, text, positions) -> (line, Rows) with the contextual vectors and attention
        weights of those token positions only (attention.attention_rows: R x n cells a
        sentence, not n x n), or a BatchError. One layer only (config.layers == 1); detail
        mode (the positions are those of the full token list)."""
        if not self.detail or self.config.layers != 1:
            raise ValueError("embed_rows needs detail mode and one layer")
        items = list(items)
        out = []
        for (line, text, wanted), f in zip(items, self.lookup([t for _, t, _ in items])):
            if type(f) is str:
                out.append((line, BatchError(line, f, sentence_text(text))))
                continue
            ids = np.asarray(f.ids, dtype=np.int64)  # (n,)
            where = {p: r for r, p in enumerate(f.positions)}
            rows = [where.get(p) for p in wanted]
            present = np.array([r for r in rows if r is not None], dtype=np.int64)  # (R,)
            x = model_input(static_rows(self.vectors, ids, f.subword), self.vectors, self.config)  # (n, d)
            ctx, weights = contextualize_rows(x, present, self.config, self.proj, key_prior(self.vectors, ids, self.config))
            out.append((line, Rows(f.tokens, ids, f.positions, rows, ctx, weights.mean(axis=0))))  # (R, d_out), (R, n)
        return out

    def _skipping_tuple(self, tokens) -> Sentence | None:
        """A sentence given as tokens (a tuple) looked up in one C loop, its unknown words
        skipped (--oov skip, no fastText): what pipeline.prepare gives it in detail mode, when
        a word of it is in the vocabulary; None for anything else (prepare's exact path then)."""
        lex = self._lexicon
        if type(tokens) is not tuple or not tokens or lex.case == "fallback" or self.config.oov != "skip" or self.vectors.subwords:
            return None
        toks = lex.given(tokens)
        ids = np.fromiter(map(self._index.get, toks, repeat(-1)), np.int64, len(toks))  # -1: unknown
        if not self._isalnum[ids[ids >= 0]].any():  # prepare says why it cannot be embedded
            return None
        return self._skipping(toks, ids, list(tokens))

    def _too_big(self, n: int) -> str:
        H = self.proj.heads
        cells = H * n * n
        shape = f"{H} x {n} x {n}" if H > 1 else f"{n} x {n}"
        return str(DataError(  # as the front end names options (errors.option_style)
            f"{n} tokens: the attention weights ({shape} = {cells:,} cells, {cells * 4 / 2**20:,.0f} MiB) are above ",
            Option("max_attention_cells"), f" {self.options.max_attention_cells:,}; leave out ", Option("with_attention"),
            " (the vectors alone are computed in blocks) or raise the limit",
        ))

    # ------------------------------------------------------------ the math

    def compute(self, ids, lengths, subword: dict[int, np.ndarray] | None = None, with_static: bool = True) -> Computed:
        """Vocabulary rows `ids` (T,) of sentences of `lengths` (m,) -> their numbers.
        `subword` gives the static vector of rows whose id is -1 but that fastText can build.
        With with_static=False the static vectors are not gathered (Computed.static is None) when
        the model input can be gathered straight from the vectors."""
        cfg, vec, proj = self.config, self.vectors, self.proj
        lengths = np.asarray(lengths, dtype=np.int64)
        m = len(lengths)
        offsets = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if not with_static and self._inputs is not None:
            static = None  # not asked for: the model input below is gathered from self._inputs
        elif self._matrix is None:
            static = static_rows(vec, ids)  # (T, d)
        else:  # the same numbers as static_rows, from the float32 copy
            static = self._matrix[np.where(ids < 0, 0, ids)]  # (T, d)
            static[ids < 0] = 0.0
        for row, v in (subword or {}).items() if static is not None else ():
            static[row] = v
        prior = key_prior(vec, ids, cfg)  # (T,) or None
        out = np.empty((len(ids), proj.d_out), dtype=np.float32)  # (T, d_out)
        attn = [None] * m if self.options.with_attention else None
        heads = [None] * m if self.options.with_attention else None
        order = np.argsort(lengths, kind="stable")
        sorted_lengths = lengths[order]  # (m,) ascending
        # token rows in sorted-sentence order: a batch of one length is then a plain slice
        sorted_offsets = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(sorted_lengths, out=sorted_offsets[1:])
        perm = np.repeat(offsets[order] - sorted_offsets[:-1], sorted_lengths) + np.arange(len(ids))  # (T,)
        if self._inputs is None:
            xs = model_input(static, vec, cfg)[perm]  # (T, d): centered when --center
        else:  # the same numbers, gathered straight from the centered copy
            sorted_ids = ids[perm]
            xs = np.take(self._inputs, np.where(sorted_ids < 0, 0, sorted_ids), axis=0,
                         out=self._buffer("inputs", len(ids), self._inputs.shape[1]))  # (T, d)
            xs[sorted_ids < 0] = 0.0
            if subword:
                where = np.empty_like(perm)
                where[perm] = np.arange(len(perm))
                for row, v in subword.items():
                    xs[where[row]] = model_input(v[None, :], vec, cfg)[0]
        sorted_prior = None if prior is None else prior[perm]
        outs = self._buffer("outputs", len(ids), proj.d_out)  # (T, d_out) in sorted order
        with att.blas_threads(1):  # small products: one BLAS thread each, no spinning threads beside the writer's
            self._attend(xs, sorted_prior, sorted_lengths, sorted_offsets, order, outs, attn, heads)
        out[perm] = outs
        return Computed(offsets, out, static, attn, heads)

    def _attend(self, xs, sorted_prior, sorted_lengths, sorted_offsets, order, outs, attn, heads) -> None:
        """compute()'s batches: model inputs `xs` (T, d) of sentences sorted by length ->
        `outs` (T, d_out) in the same order; the weights into attn/heads by input sentence."""
        cfg, proj, H = self.config, self.proj, self.proj.heads
        for i, j in self._batches(sorted_lengths):
            L, B = int(sorted_lengths[j - 1]), j - i
            a, b = sorted_offsets[i], sorted_offsets[j]
            if B == 1 and H * L * L > self.block_cells and not self.options.with_attention:
                outs[a:b] = self._blocked(xs[a:b], None if sorted_prior is None else sorted_prior[a:b])
                continue
            if sorted_lengths[i] == L:  # one length: no padding; the same numbers as one sentence alone
                batch_prior = None if sorted_prior is None else sorted_prior[a:b].reshape(B, L)
                h, w = contextualize(xs[a:b].reshape(B, L, -1), cfg, proj, batch_prior)  # (B, L, d_out), (B, H, L, L)
                outs[a:b] = h.reshape(B * L, -1)
            else:
                lens = sorted_lengths[i:j]  # (B,)
                rows = sorted_offsets[i:j, None] + np.arange(L)  # (B, L)
                valid = np.arange(L) < lens[:, None]  # (B, L)
                src = np.where(valid, rows, 0)
                xb = xs[src]  # (B, L, d)
                xb[~valid] = 0.0
                batch_prior = None if sorted_prior is None else sorted_prior[src]
                h, w = contextualize(xb, cfg, proj, batch_prior, lengths=lens)  # (B, L, d_out), (B, H, L, L)
                outs[a:b] = h[valid]
            if self.options.with_attention:
                for k in range(B):
                    n, s = int(sorted_lengths[i + k]), int(order[i + k])
                    hw = np.ascontiguousarray(w[k, :, :n, :n])  # (H, n, n)
                    heads[s] = hw
                    attn[s] = hw.mean(axis=0)  # (n, n)

    def _buffer(self, name: str, rows: int, cols: int) -> np.ndarray:
        """(rows, cols) float32 scratch space kept between chunks (grown when short): memory
        already touched is several times faster to fill than fresh pages. Never returned."""
        buf = self._buffers.get(name)
        if buf is None or len(buf) < rows:
            buf = self._buffers[name] = np.empty((max(rows, 1 << 16), cols), dtype=np.float32)
        return buf[:rows]

    def _batches(self, sorted_lengths: np.ndarray) -> Iterator[tuple[int, int]]:
        """(i, j): batches over sentences sorted by length `sorted_lengths`. Sentences of one length go
        together, unpadded, up to batch_size and block_cells; lengths with fewer than
        MIN_UNIFORM sentences are padded together with their neighbours."""
        m, H = len(sorted_lengths), self.proj.heads
        i = 0
        while i < m:
            run = int(np.searchsorted(sorted_lengths, sorted_lengths[i], side="right"))
            j = run
            if run - i < MIN_UNIFORM:  # few of this length: pad them with the next few lengths
                while j < m and j - i < self.options.batch_size:
                    nxt = int(np.searchsorted(sorted_lengths, sorted_lengths[j], side="right"))
                    if nxt - j >= MIN_UNIFORM:
                        break
                    j = nxt
            L = int(sorted_lengths[min(j, i + self.options.batch_size) - 1])
            j = min(j, i + self.options.batch_size, i + max(1, self.block_cells // (H * L * L)))
            yield i, j
            i = j

    def _blocked(self, x: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
        """One long sentence (n, d) -> (n, d_out), in row blocks; as pipeline.contextualize."""
        return contextualize(x, self.config, self.proj, prior, block_cells=self.block_cells)[0]

    # ------------------------------------------------------------ a stream

    def embed_chunks(
        self,
        items: Iterable[tuple[int, str | BatchError]],
        chunk_sentences: int = CHUNK_SENTENCES,
        chunk_chars: int = CHUNK_CHARS,
    ) -> Iterator[Chunk]:
        """Embed a stream of (line, text) pairs, a chunk at a time, in input order."""
        buf, chars = [], 0
        for item in items:
            buf.append(item)
            if type(item[1]) is str:
                chars += len(item[1])
            elif type(item[1]) is tuple:
                chars += sum(map(len, item[1])) + len(item[1])
            if len(buf) >= chunk_sentences or chars >= chunk_chars:
                yield self.embed_chunk(buf)
                buf, chars = [], 0
        if buf:
            yield self.embed_chunk(buf)


def embed_batch(
    texts: Iterable[str],
    config: Config | None = None,
    vectors: Vectors | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    with_attention: bool = True,
    max_attention_cells: int = DEFAULT_MAX_ATTENTION_CELLS,
    pool: str | None = None,
) -> Iterator[EmbedResult | BatchError]:
    """Embed many sentences: one EmbedResult per text (its `.line`: the 1-based index), or
    a BatchError, in order. The numbers equal pipeline.embed's for each text alone. Without
    `with_attention`, `.attention` and `.heads` are None. `pool` ("mean" or "sif",
    attncli.pooling) sets each result's `.sentence`, one vector for the sentence."""
    if isinstance(texts, (str, bytes)):  # one string would be embedded character by character
        raise UsageError(Option("texts"), " must be a list (or iterable) of strings, not one string: embed() takes one")
    options = BatchOptions(batch_size=batch_size, with_attention=with_attention, max_attention_cells=max_attention_cells,
                           pool=pool)
    emb = BatchEmbedder(config, vectors, options, detail=True)
    info = emb.vectors.info()
    items = ((i, t if isinstance(t, str) else BatchError(i, f"not a string but {type(t).__name__}: {t!r:.60}"))
             for i, t in enumerate(texts, start=1))  # a NaN in a dataframe's column fails its line, not the run
    for chunk in emb.embed_chunks(items):
        ei = 0
        for k, line in enumerate(chunk.lines.tolist()):
            while ei < len(chunk.errors) and chunk.errors[ei].line < line:
                yield chunk.errors[ei]
                ei += 1
            a, b = chunk.offsets[k], chunk.offsets[k + 1]
            result = EmbedResult(
                text=sentence_text(chunk.texts[k]), tokens=chunk.tokens[k], surfaces=chunk.surfaces[k],
                positions=chunk.positions[k], oov=chunk.oov[k], static=chunk.static[a:b],
                attention=chunk.attention[k] if with_attention else None,
                heads=chunk.heads[k] if with_attention else None,
                contextual=chunk.contextual[a:b], config=emb.config, vectors=info,
                untrained=not emb.proj.trained, line=line,
                sentence=None if chunk.sentences is None else chunk.sentences[k],
            )
            yield result
        yield from chunk.errors[ei:]


# ---------------------------------------------------------------- a whole stream into a writer


def embed_stream(
    emb: BatchEmbedder, sources: list[Source], writer, on_chunk: Callable[[Chunk], None] | None = None,
    stats: ReadStats | None = None,
) -> tuple[int, int]:
    """Read every line of each of `sources` in turn, embed it and hand each chunk to `writer`
    (writers.JsonlWriter or NpzWriter, closed here: committed on success, removed on failure).
    A chunk holds lines of one source only: with several, `chunk.source` names it. JSON Lines
    records' ids reach the writer as `chunk.line_ids` and BatchError.id. `on_chunk(chunk)` sees
    each chunk after it is written (progress, error reports); `stats` counts what was read.
    Returns (non-blank lines read, lines that failed)."""
    opts = emb.options
    stats = stats if stats is not None else ReadStats()
    done = failed = 0
    several = len(sources) > 1
    with writer, no_gc():
        for src in sources:
            ids = {} if opts.input_format == "jsonl" else None
            with opened(src, stats) as f:
                items = read_items(f, opts.input_format, opts.text_field, opts.max_line_bytes, stats, ids)
                for chunk in emb.embed_chunks(items, getattr(writer, "chunk_sentences", CHUNK_SENTENCES)):
                    if several:
                        chunk.source = src.label
                    if ids:
                        _attach_ids(chunk, ids)
                    writer.write(chunk)
                    done += chunk.size
                    failed += len(chunk.errors)
                    if on_chunk is not None:
                        on_chunk(chunk)
    return done, failed


def _attach_ids(chunk: Chunk, ids: dict) -> None:
    """Move the ids of the chunk's lines from `ids` (line -> id) onto the chunk."""
    chunk.line_ids = [ids.pop(line, None) for line in chunk.lines.tolist()]
    chunk.errors = [dataclasses.replace(e, id=ids.pop(e.line)) if e.line in ids else e for e in chunk.errors]


@contextlib.contextmanager
def no_gc():
    """Pause Python's cyclic garbage collector: a run allocates millions of small lists that
    live on (the tokenizer's cache) and hold no cycles, and the collector would rescan them
    over and over (about a quarter of the time on 200k distinct lines)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
