"""The lower bound for `bench/batch.py`: the plain work of `attncli batch -i FILE -o out.npz` in
one short process, with none of attncli's checks, options, error lines or fallbacks:

    read the file; tokenize each line (attncli's regex, lowercased); look ids up in a dict,
    skipping unknown words; gather the centered vectors; simple-mode attention (cosine, Zipf
    prior, exclude-self, residual 0.2); write what attncli's .npz holds (vectors, offsets, the
    tokens as one UTF-8 string, lines) with numpy.savez.

    python bench/bound.py sentences FILE OUT.npz   # many lines: uniform batches per length
    python bench/bound.py jsonl FILE OUT.jsonl     # the same, written as attncli's JSON Lines records
    python bench/bound.py parquet FILE OUT.parquet # the same, written as attncli's Parquet columns (one table, pyarrow)
    python bench/bound.py pool FILE OUT.npz        # the .npz plus SIF-weighted sentence vectors (np.add.reduceat)
    python bench/bound.py line FILE OUT.npz        # one long line: row blocks, 2 threads

Run as its own process beside attncli, so both pay start-up and are measured the same way.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from attncli.attention import zipf_prior
from attncli.pipeline import get_vectors
from attncli.tokens import _TOKEN

RESIDUAL = np.float32(0.2)
CENTER = 10_000


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-30)


def sentences(path: str, out: str, kind: str = "sentences") -> None:
    vec = get_vectors()
    index = vec.index
    inputs = np.asarray(vec.matrix, dtype=np.float32) - vec.mean(CENTER)  # (V, d)
    prior_all = zipf_prior(np.arange(vec.vocab_size), vec.vocab_size, 3e-4)  # (V,)
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    ids, kept = [], []
    for n, line in enumerate(lines, start=1):
        row = [i for i in map(index.get, _TOKEN.findall(line.lower())) if i is not None]
        if row:
            ids.append(row)
            kept.append(n)
    lengths = np.array([len(r) for r in ids])
    order = np.argsort(lengths, kind="stable")
    flat = np.fromiter((i for r in ids for i in r), dtype=np.int64)  # (T,)
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    result = np.empty((len(flat), inputs.shape[1]), dtype=np.float32)  # (T, d)
    sorted_lengths = lengths[order]
    bounds = np.flatnonzero(np.diff(sorted_lengths)) + 1
    for group in np.split(order, bounds):
        n = lengths[group[0]]
        rows = (offsets[group][:, None] + np.arange(n)).reshape(-1)  # (B*n,)
        for start in range(0, len(group), 256):
            r = rows[start * n:(start + 256) * n]
            x = inputs[flat[r]].reshape(-1, n, inputs.shape[1])  # (B, n, d)
            u = unit(x)
            logits = u @ np.swapaxes(u, 1, 2) + prior_all[flat[r]].reshape(-1, 1, n)  # (B, n, n)
            logits[:, np.arange(n), np.arange(n)] = -np.inf
            top = logits.max(axis=-1, keepdims=True)
            w = np.exp(logits - np.where(np.isfinite(top), top, 0))
            w /= np.maximum(w.sum(axis=-1, keepdims=True), 1e-30)
            result[r] = (RESIDUAL * x + (1 - RESIDUAL) * (w @ x)).reshape(-1, x.shape[-1])
    tokens = token_list(vec, flat)
    if kind == "jsonl":
        write_jsonl(out, result, offsets, kept, tokens)
        return
    if kind == "parquet":
        write_parquet(out, result, offsets, kept, tokens)
        return
    extra = {}
    if kind == "pool":  # SIF: weights a / (a + p(w)), p by Zipf's law from the rank
        from attncli.attention import zipf_probability

        w = 3e-4 / (3e-4 + zipf_probability(flat, vec.vocab_size))  # (T,)
        sums = np.add.reduceat(result.astype(np.float64) * w[:, None], offsets[:-1], axis=0)  # (m, d)
        extra["sentences"] = (sums / np.add.reduceat(w, offsets[:-1])[:, None]).astype(np.float32)
    np.savez(out, vectors=result, offsets=offsets, tokens_utf8=utf8(tokens), lines=np.array(kept, dtype=np.int64), **extra)


def token_list(vec, ids: np.ndarray) -> list[str]:
    """The words of rows `ids`, from a plain list (vec.words may be the cache's lazy Vocabulary,
    whose item access is a Python call per token)."""
    words = list(vec.words)
    return [words[i] for i in ids.tolist()]


def utf8(tokens: list[str]) -> np.ndarray:
    """attncli's tokens_utf8: each token in UTF-8 followed by a line feed."""
    return np.frombuffer(("\n".join(tokens) + "\n").encode(), dtype=np.uint8)


def write_jsonl(out: str, result: np.ndarray, offsets: np.ndarray, lines: list[int], tokens: list[str]) -> None:
    """attncli's record per sentence (the same keys, the vectors and config objects included)."""
    import orjson

    from attncli.batch import BatchEmbedder

    meta = BatchEmbedder().meta()
    vectors, config = (orjson.Fragment(orjson.dumps(meta[k])) for k in ("vectors", "config"))
    bounds = offsets.tolist()
    with open(out, "wb") as f:
        for k, line in enumerate(lines):
            a, b = bounds[k], bounds[k + 1]
            record = {"line": line, "tokens": tokens[a:b], "oov": [], "vectors": vectors, "config": config,
                      "contextual": result[a:b]}
            f.write(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE))


def write_parquet(out: str, result: np.ndarray, offsets: np.ndarray, lines: list[int], tokens: list[str]) -> None:
    """attncli's Parquet columns (line, tokens, vectors), as one table written at once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = result.shape[1]
    off = pa.array(offsets.astype(np.int32))
    rows = pa.FixedSizeListArray.from_arrays(pa.array(result.reshape(-1)), d)
    table = pa.table({"line": pa.array(lines, pa.int64()), "tokens": pa.ListArray.from_arrays(off, pa.array(tokens, pa.string())),
                      "vectors": pa.ListArray.from_arrays(off, rows)})
    pq.write_table(table, out, compression="snappy")


def line(path: str, out: str) -> None:
    vec = get_vectors()
    index = vec.index
    with open(path, encoding="utf-8") as f:
        text = f.read()
    ids = np.array([i for i in map(index.get, _TOKEN.findall(text.lower())) if i is not None])
    x = np.asarray(vec.matrix, dtype=np.float32)[ids] - vec.mean(CENTER)  # (n, d)
    prior = zipf_prior(ids, vec.vocab_size, 3e-4)  # (n,)
    u = unit(x)
    n = len(x)
    rows = max(16, min(1024, 2**25 // n))  # query rows per block: at most 128 MiB of logits each
    result = np.empty_like(x)

    def block(r0: int) -> None:
        r1 = min(n, r0 + rows)
        logits = u[r0:r1] @ u.T + prior  # (b, n)
        logits[np.arange(r1 - r0), np.arange(r0, r1)] = -np.inf
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        result[r0:r1] = RESIDUAL * x[r0:r1] + (1 - RESIDUAL) * (logits @ x)

    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(2) as pool:
        list(pool.map(block, range(0, n, rows)))
    np.savez(out, vectors=result, offsets=np.array([0, n]), tokens_utf8=utf8(token_list(vec, ids)), lines=np.array([1]))


if __name__ == "__main__":
    kind, path, out = sys.argv[1:4]
    if kind == "line":
        line(path, out)
    else:
        sentences(path, out, kind)
