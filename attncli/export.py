"""Machine output: one JSON schema, written with orjson (numpy arrays natively, float32 at its
shortest round-trip precision). Files are written atomically: a temp file, then a rename.

Schema of `embed --json` (see README, "JSON output"):
    {"tokens": [str] (n), "oov": [{"token": str, "position": int}],
     "vectors": {"name", "dim", "vocab_size"}, "config": {every option},
     "attention": n x n (mean over heads), "heads": H x n x n (only when H > 1),
     "static": n x d, "contextual": n x d_out}
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import orjson

_OPTS = orjson.OPT_SERIALIZE_NUMPY


def config_dict(result) -> dict:
    """The "config" of a result's JSON: every option, and "untrained" for random weights."""
    return config_record(result.config, untrained=result.untrained)


def config_record(config, *, untrained: bool = False) -> dict:
    cfg = dataclasses.asdict(config)
    if untrained:
        cfg["untrained"] = True
    return cfg


def embed_record(result, *, static: bool = True, attention: bool = True) -> dict:
    """The JSON object of one embedded sentence."""
    record = {
        "tokens": result.tokens,
        "oov": result.oov,
        "vectors": result.vectors,
        "config": config_dict(result),
    }
    if attention:
        record["attention"] = result.attention
        if result.heads.shape[0] > 1:
            record["heads"] = result.heads
    if static:
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
        "config": dataclasses.asdict(result.config),
    }


def dumps(obj) -> bytes:
    """JSON bytes, no trailing newline."""
    return orjson.dumps(obj, option=_OPTS)


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
