"""Weights files: the .npz that `--mode qkv --weights FILE` runs (weightsinfo.py describes one).

The contract: the projection arrays (attention.Projections.from_arrays checks them) and an
optional member `settings`, a 0-d unicode array holding {"config": the attention settings to
run with, "training": free-form provenance}; "config" takes the fields in CARRIED only. The file
loads with np.load(..., allow_pickle=False). The schema: docs/formats.md.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import zipfile
from pathlib import Path

import numpy as np

from .errors import DataError, os_error

SETTINGS = "settings"  # the .npz member holding the JSON

# The Config fields a weights file may carry: the attention settings.
CARRIED = ("heads", "similarity", "scale", "temperature", "exclude_self", "causal", "positions", "prior",
           "prior_a", "residual", "layers", "center", "window")

# Names --weights takes for the files shipped in data/.
SHIPPED = {"wic": "wic-qkv.npz"}


def weights_path(weights: str) -> Path:
    """The file --weights names: a shipped name ("wic") or a path."""
    if weights in SHIPPED:
        from .vectors import data_dir

        return data_dir() / SHIPPED[weights]
    return Path(weights)


MAX_WEIGHT_ELEMENTS = 1 << 26  # per array: 256 MiB of float32; d x 1M columns is no projection
MAX_WEIGHT_BYTES = 1 << 28  # the arrays of one file together, as their dtypes store them: 256 MiB
MAX_SETTINGS_CHARS = 1 << 20  # the settings JSON
# Each member's rank under the contract; `settings` is a 0-d unicode string.
_NDIM = {"W_q": 2, "W_k": 2, "W_v": 2, "W_o": 2, "b_q": 1, "b_k": 1, "b_v": 1, "b_o": 1, SETTINGS: 0}


def weights_stat(path: Path) -> os.stat_result:
    """The weights file's status; DataError (one line naming it) unless it is a regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such weights file") from None
    except OSError as e:
        raise os_error(e, path) from None
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: {'is a directory' if stat.S_ISDIR(st.st_mode) else 'not a regular file'}, not a weights file")
    return st


# What zipfile and its decompressors raise on a member they cannot read, besides BadZipFile:
# an encrypted member (RuntimeError), a compression method it lacks (NotImplementedError),
# damaged deflate / bz2 / lzma data, a CRC that does not match.
def _unreadable_member_errors() -> tuple[type[BaseException], ...]:
    import lzma
    import zlib

    return (ValueError, OSError, EOFError, zipfile.LargeZipFile, RuntimeError, NotImplementedError, zlib.error, lzma.LZMAError)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The members of the weights .npz at `path`, each checked from its .npy header before it
    is read: a known key, real numbers (never pickled objects; `settings` a string), the rank
    of the contract, at most MAX_WEIGHT_ELEMENTS values and, all members together, at most
    MAX_WEIGHT_BYTES as stored (float64 takes twice float32's share); then finite. An archive
    whose members claim gigabytes (a zip bomb) fails on its header, before anything is
    allocated. Shapes against d: attention.Projections.from_arrays. DataError names the file."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise os_error(e, path) from None
    if magic.startswith(b"\x93NUMPY"):
        raise DataError(f"{path}: a single .npy array, not an .npz archive (save W_q, W_k, W_v with numpy.savez)")
    if not magic.startswith(b"PK"):
        what = "a Python pickle" if magic[:1] == b"\x80" else "not a zip archive"
        raise DataError(f"{path}: not an .npz archive ({what}); save W_q, W_k, W_v with numpy.savez")
    arrays = {}
    budget = MAX_WEIGHT_BYTES
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                key = info.filename.removesuffix(".npy")
                if key not in _NDIM:
                    raise DataError(f"{path}: unknown key {key!r} (weights hold W_q, W_k, W_v[, W_o, b_q, b_k, b_v, b_o, settings])")
                if key in arrays:
                    raise DataError(f"{path}: the member {key} appears twice")
                if info.flag_bits & 0x1:
                    raise DataError(f"{path}: the member {key} is encrypted; save weights with numpy.savez")
                with zf.open(info) as member:
                    arrays[key] = _read_member(path, key, member, budget)
                budget -= arrays[key].nbytes
    except zipfile.BadZipFile as e:
        raise DataError(f"{path}: not a readable .npz ({e})") from None
    except NotImplementedError as e:  # a compression method zipfile lacks (implode, deflate64, ...)
        raise DataError(f"{path}: damaged or unusual .npz ({e}); save weights with numpy.savez") from None
    except _unreadable_member_errors() as e:  # a damaged member, a bad CRC
        raise DataError(f"{path}: damaged .npz ({' '.join(str(e).split()) or type(e).__name__})") from None
    return arrays


def _read_member(path: Path, key: str, member, budget: int = MAX_WEIGHT_BYTES) -> np.ndarray:
    fmt = np.lib.format
    version = fmt.read_magic(member)
    read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, fortran, dtype = read_header(member)
    where = f"{path}: {key}"
    if dtype.hasobject:
        raise DataError(f"{where} holds Python objects (pickled), which attncli never loads")
    if key == SETTINGS:
        if dtype.kind != "U" or shape != () or dtype.itemsize > 4 * MAX_SETTINGS_CHARS:
            raise DataError(f"{path}: invalid carried settings: expected a 0-d unicode string (one JSON object of at "
                            f"most {MAX_SETTINGS_CHARS:,} characters), found dtype {dtype} shape {tuple(shape)}")
    elif dtype.kind not in "fiu":
        raise DataError(f"{where}: expected real numbers, found dtype {dtype}")
    if len(shape) != _NDIM[key]:
        raise DataError(f"{where}: expected a {_NDIM[key]}-d array, found shape {tuple(shape)}")
    if key.startswith("W_") and 0 in shape:
        raise DataError(f"{where}: shape {tuple(shape)} has no columns or rows; a projection needs at least one of each")
    count = math.prod(shape)  # Python integers: a claimed shape cannot overflow into a small count
    if count > MAX_WEIGHT_ELEMENTS:
        raise DataError(f"{where}: shape {tuple(shape)} is {count:,} values, over the limit of {MAX_WEIGHT_ELEMENTS:,}")
    if count * dtype.itemsize > budget:
        raise DataError(f"{where}: shape {tuple(shape)} of {dtype} is {count * dtype.itemsize:,} bytes; a weights file's "
                        f"arrays may hold {MAX_WEIGHT_BYTES:,} bytes in all (save them as float32)")
    data = member.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise DataError(f"{where}: ends early (truncated)")
    a = np.frombuffer(data, dtype=dtype)
    a = a.reshape(shape[::-1]).T if fortran else a.reshape(shape)
    if key != SETTINGS and not np.isfinite(a).all():
        row = int(np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).all(axis=1))[0]) if a.ndim else 0
        raise DataError(f"{where}: row {row + 1} holds NaN or infinite values")
    return a


def parse_settings(path: Path, member: np.ndarray | None) -> dict:
    """The `settings` member (as read_arrays returns it: already checked to be one bounded
    string) as {"config": {...}, "training": {...}}: a JSON object with known keys, "config"
    naming carried fields only (pipeline.checked_settings checks their values). DataError names
    the file."""
    if member is None:
        return {"config": {}, "training": {}}

    def bad(why: str) -> DataError:
        return DataError(f"{path}: invalid carried settings: {why}")

    try:
        data = json.loads(str(member))
    except json.JSONDecodeError as e:
        raise bad(f"not valid JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:  # [[[[... nested deeper than Python's stack
        raise bad(f"JSON nested deeper than {MAX_SETTINGS_DEPTH} levels") from None
    if _depth(data) > MAX_SETTINGS_DEPTH:  # JSON output (orjson: 255 levels) and tables stay within bounds
        raise bad(f"JSON nested deeper than {MAX_SETTINGS_DEPTH} levels")
    if not isinstance(data, dict):
        raise bad("expected a JSON object")
    unknown = sorted(set(data) - {"config", "training"})
    if unknown:
        raise bad(f"unknown key {unknown[0]!r} (known: config, training)")
    config, training = data.get("config", {}), data.get("training", {})
    if not isinstance(config, dict) or not isinstance(training, dict):
        raise bad('"config" and "training" must be JSON objects')
    for name in config:
        if name not in CARRIED:
            raise bad(f"unknown setting {name!r} (a weights file carries: {', '.join(CARRIED)})")
    return {"config": config, "training": training}


MAX_SETTINGS_DEPTH = 32  # objects and lists within each other in the settings JSON


def _depth(obj, level: int = 1) -> int:
    """How deeply lists and objects nest in parsed JSON (stops counting past the limit)."""
    if level > MAX_SETTINGS_DEPTH or not isinstance(obj, (dict, list)):
        return level - (not isinstance(obj, (dict, list)))
    children = obj.values() if isinstance(obj, dict) else obj
    return max((_depth(c, level + 1) for c in children), default=level)


def npz_bytes(arrays: dict[str, np.ndarray], settings: dict | None = None) -> bytes:
    """An .npz of `arrays` (plus `settings` as JSON) that is the same bytes for the same input:
    numpy.savez stamps each member with the time, this writes a fixed date."""
    members = dict(arrays)
    if settings is not None:
        members[SETTINGS] = np.array(json.dumps(settings, sort_keys=True))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, array in members.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
            z.writestr(info, member.getvalue())
    return buffer.getvalue()
