"""Machine output: one JSON schema, written with orjson. Every non-integer number, computed or
a setting, is printed as the shortest text that reads back as the same float32 (`float32()`
before orjson, which prints numpy float32 at its shortest round-trip precision): 0.48852888,
never float64's 0.7021033763885498. Files are written atomically: a temp file, then a rename;
devices, FIFOs and /dev/stdout are written into directly (see Target).

The schemas of `embed --json` and `compare --json`: docs/formats.md.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from .errors import DataError

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
    """The JSON object of `attncli compare` (schema in docs/formats.md)."""
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
    if isinstance(value, Masked):
        return Masked(float32(value.array))
    if isinstance(value, dict):
        return {k: float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [float32(v) for v in value]
    return value


def dumps(obj) -> bytes:
    """JSON bytes, no trailing newline; every float at its shortest float32 repr. A number
    that is not finite (as float32) is refused (check_finite), never written as null.
    Characters a terminal acts on are escaped (json_safe)."""
    check_finite(obj)
    return json_safe(orjson.dumps(float32(obj), option=_OPTS, default=_unwrap))


# In UTF-8 JSON, what a terminal acts on beyond what JSON escapes itself (U+0000-U+001F): DEL,
# the C1 controls, the line and paragraph separators and the bidi overrides (tokens.visible's set).
_RAW_CONTROL = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]|\xe2\x81[\xa6-\xa9]")


def json_safe(data: bytes) -> bytes:
    """UTF-8 JSON with those characters as \\u escapes: the same JSON once parsed (they can only
    be inside strings), but `--json` on a terminal, or a log shown with cat, never reorders or
    recolours what follows (U+202E, ESC's C1 twin U+009B)."""
    if b"\x7f" not in data and b"\xc2" not in data and b"\xe2\x80" not in data and b"\xe2\x81" not in data:  # fast: most JSON
        return data
    return _RAW_CONTROL.sub(lambda m: b"\\u%04x" % ord(m.group().decode()), data)


class NotFinite(DataError):
    """A number about to be printed or written is infinite or NaN."""


def check_finite(obj, what: str = "the result") -> None:
    """NotFinite unless every number in `obj` (floats, numpy scalars and arrays, inside dicts,
    lists, tuples and dataclasses) is finite as float32: the one check every output (JSON,
    tables, pages) passes before anything is shown. Values that do not fit float32 (1e300
    from a float64 weights file, a norm of vectors near 1e38) end here as one line, never as
    `inf` in a table or `null` in JSON. A number the schema leaves out is None (JSON null),
    e.g. a masked logit (see `masked`)."""
    where = _first_not_finite(obj, "")
    if where is not None:
        path, value = where
        raise NotFinite(f"{what} holds a number that is not finite ({path.lstrip('.') or 'the value'} = {value}): "
                        "values near float32's limit of 3.4e38 overflow; scale the vectors or weights down. Nothing was written")


def _first_not_finite(obj, path: str):
    """(path, value) of the first non-finite number in obj, else None."""
    if isinstance(obj, (float, np.floating)):
        with np.errstate(over="ignore"):
            return None if np.isfinite(np.float32(obj)) else (path, obj)
    if isinstance(obj, Masked):  # NaN is a masked cell there; infinity is still an overflow
        return _first_not_finite(np.where(np.isnan(obj.array), 0, obj.array), path)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "fc":
            return None
        with np.errstate(over="ignore"):
            bad = ~np.isfinite(obj if obj.dtype.itemsize <= 4 else obj.astype(np.float32))
        if not bad.any():
            return None
        index = np.unravel_index(int(np.flatnonzero(bad)[0]), obj.shape)
        return f"{path}[{']['.join(map(str, index))}]", obj[index]
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items = ((f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj))
    else:
        return None
    for key, value in items:
        found = _first_not_finite(value, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if found is not None:
            return found
    return None


class Masked:
    """A float array whose NaN cells are masked (a masked logit): written as JSON null, and
    let through by check_finite, which refuses any other NaN (and infinity, here too)."""

    def __init__(self, array):
        self.array = np.asarray(array)


def masked(array) -> Masked:
    return Masked(array)


def _unwrap(obj):
    """orjson's hook for types it does not know: a Masked array is its array."""
    if isinstance(obj, Masked):
        return obj.array
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


@dataclass(frozen=True)
class Target:
    """Where an output path is written, and how.

    - a new or regular file: a temp file beside it, renamed over it when complete (readers see
      the old file or the whole new one). A symlink is written through: the file it points to
      is replaced, the link stays a link.
    - anything else that exists (a character device like /dev/null or a terminal, a FIFO,
      `>(gzip > x.gz)`, /dev/stdout): written into directly, as a shell redirection would;
      replacing it by a rename would turn a device or a pipe into a regular file.
      A regular file reached through /proc or /dev/fd (`-o /dev/stdout > out.jsonl`) is
      the shell's open file: appended to, never truncated or replaced."""

    path: Path  # the file to replace (symlinks resolved), or what to open and write into
    stream: bool  # write into it directly, no temp file and no rename
    append: bool = False  # stream: open with O_APPEND (a regular file behind a /proc fd link)


def output_target(path: str | os.PathLike) -> Target:
    """The Target of an output path; IsADirectoryError for a directory."""
    path = Path(path)
    try:
        st = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        st = None  # a new file, or a link to one that does not exist yet
        os.stat(path.parent)  # as the kernel sees it: "missing/../x" or "file/../x" is an error, not "x"
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if st is not None and not stat.S_ISREG(st.st_mode):
        return Target(path, stream=True)
    if st is not None and _through_proc(path):
        return Target(path, stream=True, append=True)
    return Target(Path(os.path.realpath(path)), stream=False)


def _through_proc(path: Path) -> bool:
    """Whether resolving `path` passes through /proc (the /dev/stdout, /dev/fd/N links)."""
    p = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on links followed
        parent = os.path.realpath(os.path.dirname(p))
        p = os.path.join(parent, os.path.basename(p))
        if p.startswith("/proc/"):
            return True
        if not os.path.islink(p):
            return False
        p = os.path.join(parent, os.readlink(p))
    return False


def open_stream(target: Target):
    """A binary file object writing into a streamed target (never created, truncated or renamed)."""
    flags = os.O_WRONLY | (os.O_APPEND if target.append else 0)
    return os.fdopen(os.open(target.path, flags), "wb")


_LIVE: dict[Path, int] = {}  # temps this process made and has not yet renamed or removed -> pid


def temp_beside(path: Path, *, directory: bool = False) -> Path:
    """A new hidden temp file (or directory) beside `path`, named after it and this process's
    pid: `.NAME.PID-RANDOM.tmp`. Temps left by processes that died (kill -9, power loss) are
    removed first. Until `release(temp)`, it is removed when the process exits, however it
    exits short of SIGKILL (a signal between creating it and using it included)."""
    import tempfile  # here: 1.5 ms of imports (random, ...) that printing JSON does not need

    prune_stale_temps(path)
    prefix = f".{path.name}.{os.getpid()}-"
    if not _LIVE:
        atexit.register(_remove_live)
    if directory:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=prefix, suffix=".tmp"))
    else:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
    _LIVE[tmp] = os.getpid()
    return tmp


def release(tmp: Path) -> None:
    """`tmp` was renamed into place or removed: no longer this process's to clean up."""
    _LIVE.pop(Path(tmp), None)


def _remove_live() -> None:
    import shutil

    for tmp, pid in list(_LIVE.items()):
        if pid != os.getpid():  # a forked worker never removes its parent's temps
            continue
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            _unlink_quietly(tmp)
        _LIVE.pop(tmp, None)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def prune_stale_temps(path: Path) -> int:
    """Remove `.NAME.PID-*.tmp` files and directories beside `path` whose process is gone."""
    import shutil

    from .cache import pid_alive

    head = f".{path.name}."
    removed = 0
    try:
        names = os.listdir(path.parent)
    except OSError:
        return 0
    for name in names:
        if not (name.startswith(head) and name.endswith(".tmp")):
            continue
        pid = name[len(head):].split("-", 1)[0]
        if not pid.isdigit() or pid_alive(int(pid)):
            continue
        stale = path.parent / name
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            _unlink_quietly(stale)
        removed += 1
    return removed


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that a reader sees the old file or the whole new one, never a
    part: write a temp file in the same directory, fsync, then rename over the target.
    A target that is not a regular file (device, FIFO, /dev/stdout) is written into directly
    (see Target)."""
    target = output_target(path)
    if target.stream:
        with open_stream(target) as f:
            f.write(data)
        return
    tmp = temp_beside(target.path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target.path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    finally:
        release(tmp)


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
    heads = layer.heads
    if len(heads) == 1:
        similarity, logits = heads[0].similarity[i], heads[0].logits[i]
    else:
        with np.errstate(divide="ignore"):
            logits = np.where(layer.weights[i] > 0, np.log(layer.weights[i]), np.nan).astype(np.float32)
        similarity = None
    record = {"similarity": similarity, "logits": masked(logits), "weights": layer.weights[i],
              "terms": layer.terms, "residual": layer.residual, "output": layer.output}
    if len(heads) > 1:
        record["heads"] = [
            {"head": n, "q": h.q[i], "k": h.k, "v": h.v, "similarity": h.similarity[i], "logits": masked(h.logits[i]),
             "weights": h.weights[i], "output": h.output}
            for n, h in enumerate(heads, 1)
        ]
    return record
