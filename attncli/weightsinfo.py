"""`attncli weights info`: what a weights file for --mode qkv holds (weightsfile.py has the
format), how far each matrix is from the identity, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attention import Projections, norms
from .errors import DataError, UsageError
from .pipeline import checked_settings
from .weightsfile import SETTINGS, SHIPPED, parse_settings, read_arrays, weights_path, weights_stat


@dataclass
class MatrixInfo:
    name: str
    shape: tuple[int, ...]
    rank_from_identity: int | None  # numerical rank of W - I (square matrices up to MAX_RANK_ROWS), else None
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


MAX_RANK_ROWS = 2048  # an SVD of 2048 x 2048 takes seconds; of 8192 x 8192 (a hostile file), many minutes


def numerical_rank(m: np.ndarray, rtol: float = 1e-4) -> int:
    """Singular values above rtol * the largest (float32 rounding of W leaves ~1e-6 in W - I)."""
    s = np.linalg.svd(np.asarray(m, dtype=np.float64), compute_uv=False)
    return int((s > rtol * s.max()).sum()) if s.size and s.max() > 0 else 0


def _norm(m: np.ndarray) -> float:
    """||m||_F, without overflow (attention.norms of m as one row)."""
    return float(norms(m.reshape(1, -1))[0])


def weights_info(weights: str) -> WeightsInfo:
    """What a weights file (or a shipped name) holds: shapes, heads, how far each matrix is
    from the identity, the settings it carries and where it came from."""
    if weights in ("identity", "random"):
        raise UsageError(f"--weights {weights} is built in, not a file: weights info describes an .npz or 'wic'")
    path = weights_path(weights)
    st = weights_stat(path)
    arrays = read_arrays(path)
    settings = parse_settings(path, arrays.get(SETTINGS))
    checked_settings(path, arrays.get(SETTINGS))
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
        square = w.shape[0] == w.shape[1]
        delta = None
        if square:  # W - I without an n x n identity beside it
            delta = np.array(w, dtype=np.float32)
            delta[np.diag_indices(len(delta))] -= 1
        matrices.append(MatrixInfo(
            name, tuple(w.shape),
            numerical_rank(delta) if square and len(delta) <= MAX_RANK_ROWS else None,
            _norm(delta) / float(np.sqrt(w.shape[0])) if square else None,
            _norm(w),
        ))
    licence = None
    if weights in SHIPPED:
        from .vectors import provenance

        licence = provenance().get("weights", {}).get(SHIPPED[weights], {}).get("licence")
    return WeightsInfo(weights, str(path), st.st_size, heads, proj.d_in, proj.d_out, matrices,
                       settings["config"], settings["training"], licence)
