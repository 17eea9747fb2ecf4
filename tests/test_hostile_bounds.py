"""Bounds (docs/errors.md, "Limits" and "Numbers"): every integer option below 2^63, settings-file
option errors with the command line's exit code (2), and explain's attention-cell cap, which
refuses a long sentence before computing anything, as embed and compare do.
"""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from attncli.cli import app

from .test_hostile import assert_error

BIG = str(2**63)


def cli(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


# Every integer option of every command, at 2^63: a usage error naming it.
INTEGER_OPTIONS = [
    ["embed", "money bank", "--neighbors"], ["embed", "money bank", "--dims"], ["embed", "money bank", "--max-attention-cells"],
    ["explain", "money bank", "-w", "bank", "-n"], ["explain", "money bank", "-w", "bank", "--occurrence"],
    ["explain", "money bank", "-w", "bank", "--dims"], ["explain", "money bank", "-w", "bank", "--max-attention-cells"],
    ["compare", "money bank", "river bank", "-w", "bank", "-n"], ["compare", "money bank", "river bank", "-w", "bank", "--occurrence"],
    ["senses", "bank", "-i", "-", "-n"], ["vectors", "neighbors", "bank", "-n"],
    ["batch", "-i", "-", "--batch-size"], ["batch", "-i", "-", "--max-attention-cells"], ["batch", "-i", "-", "--max-line-bytes"],
    ["embed", "money bank", "--heads"], ["embed", "money bank", "--seed"], ["embed", "money bank", "--limit"],
    ["embed", "money bank", "--center"], ["embed", "money bank", "--window"], ["embed", "money bank", "--layers"],
    ["senses", "bank", "-i", "-", "--max-k"], ["senses", "bank", "-i", "-", "--max-occurrences"],
    ["train", "wic", "a", "b", "-o", "w.npz", "--rank"],
    ["train", "wic", "a", "b", "-o", "w.npz", "--epochs"],
]


@pytest.mark.parametrize("value", [BIG, str(2**64 + 1), "-1"])
@pytest.mark.parametrize("args", INTEGER_OPTIONS, ids=lambda a: " ".join(a[:1] + a[-1:]))
def test_every_integer_option_is_bounded(args, value):
    if value == "-1" and args[-1] in ("--seed",):
        return  # tests/test_hostile.py: -1 blames the seed
    r = cli(*args, value, input="money bank\n")
    assert_error(r, 2, args[-1])
    assert r.stdout == ""


def test_the_largest_integer_still_works():
    r = cli("embed", "money bank", "--neighbors", str(2**63 - 1), "--json")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["neighbors"][0]) == 100_000 - 1  # every other word of the vocabulary


@pytest.mark.parametrize("setting", [{"heads": 2**63}, {"layers": 65}, {"temperature": "hot"}, {"no_such": 1}])
def test_settings_file_option_errors_exit_2_naming_the_file(tmp_path, setting):
    f = tmp_path / "s.json"
    f.write_text(json.dumps(setting))
    assert_error(cli("embed", "money bank", "--config", f), 2, str(f))


@pytest.mark.parametrize("content", ["{nope", "[1]", "\xff"])
def test_a_settings_file_that_is_not_settings_stays_bad_data(tmp_path, content):
    f = tmp_path / "s.json"
    f.write_bytes(content.encode("latin-1"))
    assert_error(cli("embed", "money bank", "--config", f), 1, str(f))


# ---------------------------------------------------------------- explain's attention-cell cap


def test_explain_refuses_a_long_sentence_before_computing():
    sentence = " ".join(["bank money river"] * 7000)  # 21,000 tokens: 441,000,000 cells
    t0 = time.monotonic()
    r = cli("explain", sentence, "-w", "bank")
    assert_error(r, 1, "21,000 tokens", "--max-attention-cells 1,000,000", "batch -i")
    assert time.monotonic() - t0 < 10


def test_explain_counts_every_layer_and_head_it_keeps():
    r = cli("explain", " ".join(["bank money river"] * 10), "-w", "bank", "--layers", "3", "--heads", "2",
            "--max-attention-cells", "5000")
    assert_error(r, 1, "3 layers x 2 x 30 x 30 = 5,400", "--max-attention-cells 5,000")
    ok = cli("explain", " ".join(["bank money river"] * 10), "-w", "bank", "--layers", "3", "--heads", "2",
             "--max-attention-cells", "5400", "--json")
    assert ok.exit_code == 0, ok.output


def test_the_api_has_the_same_cap():
    from attncli.errors import DataError
    from attncli.explain import explain

    with pytest.raises(DataError, match="pass --max-attention-cells 8"):
        explain("money bank grows", "bank", max_attention_cells=8)


@pytest.mark.parametrize("value", ["0", "x", "1.5"])
def test_max_occurrences_below_one_or_not_an_integer_is_a_usage_error(value):
    r = cli("senses", "bank", "-i", "-", "--max-occurrences", value, input="money bank\n")
    assert_error(r, 2, "--max-occurrences")


@pytest.mark.parametrize("value", [0, -3, 2.5, "10", True])
def test_python_max_occurrences_names_the_argument(value):
    import attncli
    from attncli.errors import UsageError

    with pytest.raises(UsageError, match="^max_occurrences must be an integer >= 1 or None"):
        attncli.senses("bank", texts=["money bank", "river bank"], max_occurrences=value)
