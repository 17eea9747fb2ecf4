"""`attncli train wic` at its edges: sizes bounded up front (--rank, --epochs), outputs that would
land on each other or on stdout, stdin named twice, -q, and the summary kept off stdout.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli.cli import app

from .test_hostile import assert_error, proc

TINY = [str(Path(__file__).parent / "data" / f"wic_tiny.{k}.txt") for k in ("data", "gold")]


def cli(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


@pytest.mark.parametrize("rank, fragment", [("1000000000", "--rank"), ("4097", "--rank"), ("51", "at most the 50 dimensions")])
def test_a_rank_past_the_dimensions_is_refused_before_training(tmp_path, rank, fragment):
    t0 = time.monotonic()
    r = cli("train", "wic", *TINY, "-o", tmp_path / "w.npz", "--rank", rank)
    assert_error(r, 2, fragment)
    assert time.monotonic() - t0 < 5 and not (tmp_path / "w.npz").exists()


def test_epochs_are_bounded():
    assert_error(cli("train", "wic", *TINY, "-o", "w.npz", "--epochs", "1001"), 2, "--epochs")


def test_dash_as_the_output_is_refused_not_a_file_named_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_error(cli("train", "wic", *TINY, "-o", "-"), 2, "-o -", "not to stdout")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("same", ["w.npz", "./w.npz", "link.npz"])
def test_weights_and_settings_in_one_file_are_refused(tmp_path, monkeypatch, same):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.npz").write_bytes(b"old weights")
    (tmp_path / "link.npz").symlink_to("w.npz")
    r = cli("train", "wic", *TINY, "-o", "w.npz", "--save-config", same)
    assert_error(r, 2, "-o and --save-config")
    assert (tmp_path / "w.npz").read_bytes() == b"old weights"


def test_stdin_twice_says_what_eval_says():
    train = assert_error(cli("train", "wic", "-", "-", "-o", "w.npz", input="x\n"), 2)
    evaluate = assert_error(cli("eval", "wic", "-", "-", "--fit-data", TINY[0], "--fit-gold", TINY[1], input="x\n"), 2)
    assert train == evaluate == "attncli: error: stdin ('-') can be read once, not for both data and gold"
    fit = assert_error(cli("eval", "wic", *TINY, "--fit-data", "-", "--fit-gold", "-", input="x\n"), 2)
    assert fit.endswith("not for both --fit-data and --fit-gold")


def test_quiet_says_nothing_and_the_summary_is_on_stderr(tmp_path):
    r = cli("train", "wic", *TINY, "-o", tmp_path / "w.npz", "--rank", "0", "-q")
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and r.stderr == ""
    r = cli("train", "wic", *TINY, "-o", tmp_path / "v.npz", "--rank", "0")
    assert r.stdout == "" and r.stderr.splitlines()[-1].startswith(f"attncli: wrote {tmp_path / 'v.npz'}: W_v learned")


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_weights_to_dev_stdout_are_the_whole_archive_and_nothing_else(tmp_path):
    out = tmp_path / "f.npz"
    with open(out, "wb") as f:
        r = proc("train", "wic", *TINY, "-o", "/dev/stdout", "--rank", "1", "--epochs", "1", stdout=f,
                 stderr=subprocess.PIPE, capture_output=False)
    assert r.returncode == 0, r.stderr
    assert set(np.load(out).files) >= {"W_q", "W_k", "W_v", "settings"}
    with open(tmp_path / "g.npz", "wb") as f:
        r = proc("train", "wic", *TINY, "-o", "/dev/stdout", "--json", stdout=f, stderr=subprocess.PIPE, capture_output=False)
    assert_error(r, 2, "--json")
