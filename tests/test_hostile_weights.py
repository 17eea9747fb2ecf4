"""Hostile weights files (docs/errors.md, "Weights files"): zip bombs within the value count but
in wide dtypes, members zipfile cannot read (encrypted, an unknown compression method), a
settings member nested past any sane depth, values past float32, matrices too big for an SVD,
and a property test over mutated members. Each ends with one line and exit 1 (or works),
within seconds and bounded memory.
"""

from __future__ import annotations

import io
import json
import struct
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.weightsfile import MAX_WEIGHT_BYTES, npz_bytes

from .helpers import random_weights
from .test_hostile import assert_error, proc

QKV = ["--mode", "qkv", "--weights"]


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def member_header(shape, descr: str) -> bytes:
    """The .npy header of an array of `shape` and dtype `descr`, without its data."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def npz(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)
    return path


def array_bytes(a: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, a, allow_pickle=False)
    return out.getvalue()


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.npz"
    path.write_bytes(npz_bytes(random_weights()))
    return path


# ---------------------------------------------------------------- one byte budget, by dtype, before reading


@pytest.mark.parametrize("descr, shape", [
    ("<f8", (8192, 8192)),  # 67,108,864 values (at the value limit): 512 MiB as float64
    ("<f16" if np.dtype(np.longdouble).itemsize == 16 else "<f8", (4096, 8192)),  # long double: 16 bytes each
    ("<i8", (50, 1_000_000)),
])
@pytest.mark.parametrize("command", ["embed", "weights info"])
def test_a_bomb_in_a_wide_dtype_is_refused_by_its_header(tmp_path, descr, shape, command):
    bomb = npz(tmp_path / "bomb.npz", {"W_q": member_header(shape, descr) + bytes(1 << 16)})  # claims 0.4-0.5 GB
    assert bomb.stat().st_size < 1 << 20
    t0 = time.monotonic()
    r = cli("embed", "money bank", *QKV, bomb) if command == "embed" else cli("weights", "info", bomb)
    assert_error(r, 1, "W_q", f"{MAX_WEIGHT_BYTES:,} bytes", "float32")
    assert time.monotonic() - t0 < 5


def test_the_budget_is_for_the_whole_file_not_each_member(tmp_path, monkeypatch):
    """Members each under the budget, together over it: the one that passes it is named (the
    budget made small here, so that the file is small)."""
    import attncli.weightsfile as wf

    monkeypatch.setattr(wf, "MAX_WEIGHT_BYTES", 3 * 50 * 8 * 4 + 100)
    w = array_bytes(np.ones((50, 8), np.float32))
    path = npz(tmp_path / "spread.npz", {"W_q": w, "W_k": w, "W_v": w, "W_o": array_bytes(np.ones((8, 8), np.float32))})
    assert_error(cli("weights", "info", path), 1, "W_o", "in all")
    path = npz(tmp_path / "fits.npz", {"W_q": w, "W_k": w, "W_v": w})
    assert cli("weights", "info", path).exit_code == 0


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_weights_info_on_a_large_matrix_skips_the_svd_and_ends_in_seconds(tmp_path):
    """4096 x 4096 W_q, W_k, W_v (192 MiB of float32, within the budget): the norms are
    computed, the rank of W - I (an SVD of minutes) is not."""
    eye = np.eye(4096, dtype=np.float32)
    path = tmp_path / "big.npz"
    np.savez_compressed(path, W_q=eye, W_k=eye, W_v=eye * 2)
    t0 = time.monotonic()
    r = proc("weights", "info", path, "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert [m["rank_from_identity"] for m in info["matrices"]] == [None, None, None]
    assert info["matrices"][2]["distance_from_identity"] == pytest.approx(1.0) and info["matrices"][0]["norm"] == 64.0
    assert time.monotonic() - t0 < 60


def test_the_rank_is_still_computed_up_to_the_bound(tmp_path, monkeypatch):
    import attncli.weightsinfo as wi

    w = np.eye(50, dtype=np.float32)
    w[:, 0] += 1
    path = tmp_path / "w.npz"
    np.savez(path, W_q=w, W_k=w, W_v=w)
    assert json.loads(cli("weights", "info", path, "--json").stdout)["matrices"][0]["rank_from_identity"] == 1
    monkeypatch.setattr(wi, "MAX_RANK_ROWS", 49)
    assert json.loads(cli("weights", "info", path, "--json").stdout)["matrices"][0]["rank_from_identity"] is None


# ---------------------------------------------------------------- members zipfile cannot read


def _patch_zip(data: bytes, *, flags: int | None = None, method: int | None = None) -> bytes:
    """The archive with the general-purpose flags / compression method of every member changed,
    in the local headers and the central directory alike."""
    b = bytearray(data)
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = b.find(sig)
        while i != -1:
            if flags is not None:
                b[i + at:i + at + 2] = struct.pack("<H", struct.unpack("<H", b[i + at:i + at + 2])[0] | flags)
            if method is not None:
                b[i + at + 2:i + at + 4] = struct.pack("<H", method)
            i = b.find(sig, i + 4)
    return bytes(b)


@pytest.mark.parametrize("patch, fragment", [
    ({"flags": 0x1}, "encrypted"),
    ({"method": 1}, "unusual .npz"),  # shrink: zipfile raises NotImplementedError
    ({"method": 9}, "unusual .npz"),  # deflate64
    ({"method": 99}, "unusual .npz"),  # AES
    ({"method": 12}, "damaged .npz"),  # bzip2 said, deflate stored: the bz2 decompressor fails
    ({"method": 14}, ".npz ("),  # lzma said: its decompressor fails, or the CRC
])
@pytest.mark.parametrize("command", ["embed", "weights info"])
def test_a_member_zipfile_cannot_read_is_one_line(good, tmp_path, patch, fragment, command):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(_patch_zip(good.read_bytes(), **patch))
    r = cli("embed", "money bank", *QKV, bad) if command == "embed" else cli("weights", "info", bad)
    assert_error(r, 1, str(bad), fragment)


@pytest.mark.parametrize("depth", [33, 5_000, 200_000])
def test_settings_nested_deeply_are_one_line(tmp_path, depth):
    settings = "[" * depth + "]" * depth if depth < 100_000 else "{\"a\":" * (depth // 5) + "1" + "}" * (depth // 5)
    members = {k: array_bytes(v) for k, v in random_weights().items()}
    members["settings"] = array_bytes(np.array(settings))
    path = npz(tmp_path / "deep.npz", members)
    for r in (cli("embed", "money bank", *QKV, path), cli("weights", "info", path)):
        assert_error(r, 1, "invalid carried settings", "nested deeper than 32 levels")


def test_settings_nested_within_the_bound_still_load(tmp_path):
    training = {"notes": [[[[{"fold": 1}]]]]}
    path = tmp_path / "ok.npz"
    path.write_bytes(npz_bytes(random_weights(), {"config": {}, "training": training}))
    r = cli("weights", "info", path, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["training"] == training


def test_a_member_twice_is_refused(tmp_path):
    w = array_bytes(np.ones((50, 4), np.float32))
    path = tmp_path / "twice.npz"
    with zipfile.ZipFile(path, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name": what a hostile tool would write
        for name in ("W_q", "W_k", "W_v", "W_q"):
            zf.writestr(f"{name}.npy", w)
    assert_error(cli("weights", "info", path), 1, "W_q appears twice")


def test_an_overflowing_shape_cannot_pass_as_a_small_count(tmp_path):
    """2^32 x 2^32 is 0 in int64 arithmetic: counted in Python integers, it is refused."""
    path = npz(tmp_path / "wrap.npz", {"W_q": member_header((2**32, 2**32), "<f4")})
    assert_error(cli("weights", "info", path), 1, "W_q", "18,446,744,073,709,551,616 values")


# ---------------------------------------------------------------- values past float32


@pytest.mark.parametrize("value", [1e300, -1e39])
def test_float64_values_past_float32_are_one_line_never_inf(tmp_path, value):
    w = np.eye(50) * value
    path = tmp_path / "w300.npz"
    np.savez(path, W_q=w, W_k=w, W_v=w)
    for r in (cli("embed", "money bank", *QKV, path, "--json"), cli("weights", "info", path), cli("weights", "info", path, "--json")):
        assert_error(r, 1, "W_q", "do not fit float32")
        assert "inf" not in r.stdout and "null" not in r.stdout and "RuntimeWarning" not in r.stderr


# ---------------------------------------------------------------- property: any mutation, a clean end


def test_property_mutated_weights_members_end_cleanly(tmp_path):
    """A valid weights file whose bytes are mutated (flipped, cut, a header field changed, a
    member's .npy header rewritten with another dtype or shape): `embed --weights` and
    `weights info` end with exit 0 or 1, one line, never a traceback, within seconds."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    base = npz_bytes(random_weights(), {"config": {"heads": 2}, "training": {"data": "x"}})
    dtypes = st.sampled_from(["<f4", "<f8", ">f4", "<f2", "<i8", "|u1", "<c8", "|b1", "<U10", "|O", "<M8[s]", "|V8"])
    shapes = st.lists(st.integers(0, 2**40), max_size=3).map(tuple)
    mutation = st.one_of(
        st.tuples(st.just("flip"), st.integers(0, len(base) - 1), st.integers(1, 255)),
        st.tuples(st.just("cut"), st.integers(0, len(base) - 1)),
        st.tuples(st.just("flags"), st.integers(0, 0xFFFF)),
        st.tuples(st.just("method"), st.integers(0, 0xFFFF)),
        st.tuples(st.just("header"), st.sampled_from(["W_q", "W_v", "b_o", "settings"]), dtypes, shapes),
    )
    count = [0]
    codes = []

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(m=mutation, info=st.booleans())
    def run(m, info):
        data = bytearray(base)
        if m[0] == "flip":
            data[m[1]] ^= m[2]
        elif m[0] == "cut":
            data = data[:m[1]]
        elif m[0] in ("flags", "method"):
            data = bytearray(_patch_zip(bytes(data), **{m[0]: m[1]}))
        else:
            members = {}
            with zipfile.ZipFile(io.BytesIO(base)) as zf:
                for name in zf.namelist():
                    members[name.removesuffix(".npy")] = zf.read(name)
            members[m[1]] = member_header(m[3], m[2]) + bytes(64)
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                for name, raw in members.items():
                    zf.writestr(f"{name}.npy", raw)
            data = bytearray(out.getvalue())
        count[0] += 1
        path = tmp_path / f"m{count[0]}.npz"
        path.write_bytes(bytes(data))
        t0 = time.monotonic()
        r = cli("weights", "info", path) if info else cli("embed", "money bank", *QKV, path, "--json")
        codes.append(r.exit_code)
        assert r.exit_code in (0, 1), (m, r.exit_code, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit), (m, r.exception)
        assert "Traceback" not in r.output
        if r.exit_code == 1:
            assert len([x for x in r.stderr.splitlines() if x.startswith("attncli: error:")]) == 1, r.stderr
        assert time.monotonic() - t0 < 10

    run()
    assert codes.count(1) > 20, codes  # the mutations do break the file
