"""Weights files: the .npz that `--mode qkv --weights FILE` runs, and what `weights info` says
about one.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, UsageError

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
    """The `settings` member as {"config": {...}, "training": {...}}, validated: a JSON object,
    known keys, carried Config fields of the right type and range. DataError names the file."""
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
    from .pipeline import Config, check_option  # the same checks as options given on the command line

    try:
        for name, value in config.items():
            if name not in CARRIED:
                raise bad(f"unknown setting {name!r} (a weights file carries: {', '.join(CARRIED)})")
            check_option(name, value)
        Config(mode="qkv", **config).settings  # and together (the attention settings' own checks)
    except UsageError as e:
        raise bad(str(e)) from None
    return {"config": config, "training": training}


def carried_config(weights: str) -> dict:
    """The Config fields the weights file `weights` carries ({} for identity, random, a missing
    file (loading it reports that) or a file without settings)."""
    if weights in ("identity", "random"):
        return {}
    path = weights_path(weights)
    if not path.is_file():
        return {}
    return parse_settings(path, read_arrays(path).get(SETTINGS))["config"]


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


@dataclass
class MatrixInfo:
    name: str
    shape: tuple[int, ...]
    rank_from_identity: int | None  # numerical rank of W - I (square matrices), else None
    distance_from_identity: float | None  # ||W - I||_F / ||I||_F (square), else None
    norm: float  # ||W||_F


@dataclass
class WeightsInfo:
    name: str  # what --weights was given
    path: str
    size: int  # bytes
    heads: int
    d_in: int
    d_out: int
    matrices: list[MatrixInfo]
    config: dict  # the carried attention settings
    training: dict  # the carried provenance
    licence: str | None = None  # a shipped file's, from data/PROVENANCE.json


def numerical_rank(m: np.ndarray, rtol: float = 1e-4) -> int:
    """Singular values above rtol * the largest (float32 rounding of W leaves ~1e-6 in W - I)."""
    s = np.linalg.svd(np.asarray(m, dtype=np.float64), compute_uv=False)
    return int((s > rtol * s.max()).sum()) if s.size and s.max() > 0 else 0


def weights_info(weights: str) -> WeightsInfo:
    """What a weights file (or a shipped name) holds: shapes, heads, how far each matrix is
    from the identity, the settings it carries and where it came from."""
    from .attention import Projections

    path = weights_path(weights)
    if not path.is_file():
        raise DataError(f"{path}: no such weights file")
    arrays = read_arrays(path)
    settings = parse_settings(path, arrays.get(SETTINGS))
    heads = settings["config"].get("heads", 1)
    d = np.asarray(arrays.get("W_q", np.zeros((0, 0)))).shape[0] if np.ndim(arrays.get("W_q")) == 2 else 0
    try:
        proj = Projections.from_arrays(arrays, d, heads, source=str(path))
    except ValueError as e:
        raise DataError(f"{path}: {e}") from None
    matrices = []
    for name in ("W_q", "W_k", "W_v", "W_o"):
        w = getattr(proj, name)
        if w is None:
            continue
        w = w.astype(np.float64)
        square = w.shape[0] == w.shape[1]
        delta = w - np.eye(w.shape[0]) if square else None
        matrices.append(MatrixInfo(
            name, tuple(w.shape),
            numerical_rank(delta) if square else None,
            float(np.linalg.norm(delta) / np.sqrt(w.shape[0])) if square else None,
            float(np.linalg.norm(w)),
        ))
    licence = None
    if weights in SHIPPED:
        from .vectors import provenance

        licence = provenance().get("weights", {}).get(SHIPPED[weights], {}).get("licence")
    return WeightsInfo(weights, str(path), path.stat().st_size, heads, proj.d_in, proj.d_out, matrices,
                       settings["config"], settings["training"], licence)
