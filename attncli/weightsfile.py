"""Weights files: the .npz that `--mode qkv --weights FILE` runs (weightsinfo.py describes one).

The contract: W_q, W_k (d, H*d_k), W_v (d, H*d_v), optional W_o and b_*, all real numbers
(attention.Projections.from_arrays checks them), plus an optional member `settings`: a 0-d
unicode array holding one JSON object,

    {"config": {"similarity": "cosine", "temperature": 0.8, ...},   attention settings to run with
     "training": {"data": "WiC train", "seed": 0, ...}}               free-form provenance

"config" takes the attention fields of pipeline.Config only (CARRIED). The file loads with
np.load(..., allow_pickle=False); any tool that reads .npz can read it.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from .errors import DataError

SETTINGS = "settings"  # the .npz member holding the JSON

# The Config fields a weights file may carry: the attention settings.
CARRIED = ("heads", "similarity", "scale", "temperature", "exclude_self", "causal", "positions", "prior",
           "prior_a", "residual", "layers", "center")

# Names --weights takes for the files shipped in data/.
SHIPPED = {"wic": "wic-qkv.npz"}


def weights_path(weights: str) -> Path:
    """The file --weights names: a shipped name ("wic") or a path."""
    if weights in SHIPPED:
        from .vectors import data_dir

        return data_dir() / SHIPPED[weights]
    return Path(weights)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every member of the .npz at `path` (never unpickling); DataError names the file."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a bare .npy array has no keys
            raise DataError(f"{path}: not an .npz archive (save W_q, W_k, W_v with numpy.savez)")
        with loaded as npz:
            return {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        reason = "holds pickled objects, which attncli never loads" if "pickle" in str(e) else f"not a readable .npz ({e})"
        raise DataError(f"{path}: {reason}") from None


def parse_settings(path: Path, member: np.ndarray | None) -> dict:
    """The `settings` member as {"config": {...}, "training": {...}}: a JSON object with known
    keys, "config" naming carried fields only (pipeline.checked_settings checks their values).
    DataError names the file."""
    if member is None:
        return {"config": {}, "training": {}}

    def bad(why: str) -> DataError:
        return DataError(f"{path}: invalid carried settings: {why}")

    if member.ndim != 0 or member.dtype.kind != "U":
        raise bad(f"expected a 0-d unicode string, found dtype {member.dtype} shape {member.shape}")
    try:
        data = json.loads(str(member))
    except json.JSONDecodeError as e:
        raise bad(f"not valid JSON ({e.msg} at line {e.lineno})") from None
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
