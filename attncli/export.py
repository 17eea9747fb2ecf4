"""Machine output: one JSON schema, written with orjson. Every non-integer number, computed or
a setting, is printed as the shortest text that reads back as the same float32 (`float32()`
before orjson, which prints numpy float32 at its shortest round-trip precision): 0.48852888,
never float64's 0.7021033763885498. Files are written atomically: a temp file, then a rename.

Schema of `embed --json` (see README, "JSON output"):
    {"tokens": [str] (n), "oov": [{"token": str, "position": int}],
     "vectors": {"name", "dim", "vocab_size"}, "config": {every option},
     "attention": n x n (mean over heads), "heads": H x n x n (only when H > 1),
     "static": n x d, "contextual": n x d_out}
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import orjson

_OPTS = orjson.OPT_SERIALIZE_NUMPY


def config_dict(result) -> dict:
    """The "config" of a result's JSON: every option, and "untrained" for random weights."""
    return config_record(result.config, untrained=result.untrained)


def config_record(config, *, untrained: bool = False) -> dict:
    cfg = config.to_dict()
    if untrained:
        cfg["untrained"] = True
    return cfg


def embed_record(result) -> dict:
    """The JSON object of one embedded sentence (docs/formats.md)."""
    record = {
        "tokens": result.tokens,
        "oov": result.oov,
        "vectors": result.vectors,
        "config": config_dict(result),
        "attention": result.attention,
    }
    if result.heads.shape[0] > 1:
        record["heads"] = result.heads
    record["static"] = result.static
    record["contextual"] = result.contextual
    return record


def compare_record(result) -> dict:
    """The JSON object of `attncli compare` (schema in the README)."""
    return {
        "word": result.word,
        "sentences": result.sentences,
        "static_cosine": result.static_cosine,
        "contextual_cosine": result.contextual_cosine,
        "occurrences": [
            {
                "sentence": o.sentence,
                "index": o.index,
                "tokens": o.result.tokens,
                "attention": o.attention,
                "neighbors": [[w, c] for w, c in o.neighbors],
            }
            for o in result.occurrences
        ],
        "vectors": result.vectors,
        "config": result.config.to_dict(),
    }


def float32(value):
    """`value` with every float (Python or numpy, scalar or array, inside dicts, lists and
    tuples) as float32; ints, bools, strings, None and anything else unchanged. A float32 array
    is not copied."""
    if isinstance(value, (float, np.floating)):
        return np.float32(value)
    if isinstance(value, np.ndarray):
        return value.astype(np.float32, copy=False) if value.dtype.kind == "f" else value
    if isinstance(value, dict):
        return {k: float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [float32(v) for v in value]
    return value


def dumps(obj) -> bytes:
    """JSON bytes, no trailing newline; every float at its shortest float32 repr."""
    return orjson.dumps(float32(obj), option=_OPTS)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that a reader sees the old file or the whole new one, never a
    part: write a temp file in the same directory, fsync, then rename over the target."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def explain_record(e) -> dict:
    """The JSON object of `attncli explain` (schema in docs/explain.md). The top-level working
    is the last layer's; with several heads, "weights" is their mean and "logits" its log, and
    each head's own numbers are under "heads"; with several layers, each one is under "layers"."""
    record = {"word": e.word, "index": e.index, "tokens": e.tokens, "config": config_dict(e)}
    last = _layer_record(e.layers[-1], e.index)
    del last["output"]  # the last layer's output is "contextual", as contextualize returns it
    heads = last.pop("heads", None)
    record.update(last, contextual=e.contextual, static=e.static[e.index])
    if heads is not None:
        record["heads"] = heads
    if len(e.layers) > 1:
        record["layers"] = [{"layer": n, **_layer_record(layer, e.index)} for n, layer in enumerate(e.layers, 1)]
    record["change"] = {"cosine": e.cosine, "before": [[w, c] for w, c in e.before], "after": [[w, c] for w, c in e.after]}
    return record


def _layer_record(layer, i: int) -> dict:
    import numpy as np

    heads = layer.heads
    if len(heads) == 1:
        similarity, logits = heads[0].similarity[i], heads[0].logits[i]
    else:
        with np.errstate(divide="ignore"):
            logits = np.where(layer.weights[i] > 0, np.log(layer.weights[i]), np.nan).astype(np.float32)
        similarity = None
    record = {"similarity": similarity, "logits": logits, "weights": layer.weights[i],
              "terms": layer.terms, "residual": layer.residual, "output": layer.output}
    if len(heads) > 1:
        record["heads"] = [
            {"head": n, "q": h.q[i], "k": h.k, "v": h.v, "similarity": h.similarity[i], "logits": h.logits[i],
             "weights": h.weights[i], "output": h.output}
            for n, h in enumerate(heads, 1)
        ]
    return record
