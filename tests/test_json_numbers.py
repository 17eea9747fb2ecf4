"""One rule for every number in every JSON output: the shortest repr of its float32 value
(tests/helpers.assert_float32_shortest says exactly what is checked)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli import export
from attncli.cli import app

from .helpers import assert_float32_shortest, float_literals

DATA = Path(__file__).parent / "data"
TINY = [str(DATA / "wic_tiny.data.txt"), str(DATA / "wic_tiny.gold.txt")]
FIT = ["--fit-data", TINY[0], "--fit-gold", TINY[1]]


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def out(*args, input=None) -> str:
    r = CliRunner().invoke(app, [*map(str, args)], input=input)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def test_the_check_itself():
    assert_float32_shortest('{"a": 0.48852888, "b": [1.0, 0.0003, 1e-7, -2.5], "n": 3}')
    with pytest.raises(AssertionError):
        assert_float32_shortest('{"cosine": 0.7021033763885498}')  # float64 digits
    assert float_literals('{"n": 3, "x": [1.5]}') == ["1.5"]


def test_dumps_turns_every_float_into_float32():
    obj = {"py": 0.7021033763885498, "f64": np.float64(1 / 3), "arr": np.array([1 / 3, 2 / 3]),
           "nested": [(0.1, "w", 2), {"k": [np.float32(0.2)]}], "int": 7, "flag": True, "none": None}
    text = export.dumps(obj).decode()
    assert assert_float32_shortest(text) == 6
    back = json.loads(text)
    assert back["py"] == 0.7021034 and back["int"] == 7 and back["flag"] is True and back["none"] is None
    assert back["nested"][0] == [0.1, "w", 2]
    a = np.zeros(3, np.float32)
    assert export.float32(a) is a  # no copy


COMMANDS = {
    "embed": ["embed", "money bank grows", "--json", "--neighbors", "3"],
    "embed-heads": ["embed", "money bank grows", "--json", "--mode", "qkv", "--weights", "random", "--heads", "2"],
    "explain": ["explain", "money bank grows", "--word", "bank", "--json"],
    "compare": ["compare", "money bank grows", "bank river flows", "--word", "bank", "--json"],
    "eval": ["eval", "wic", *TINY, *FIT, "--json"],
    "vectors-neighbors": ["vectors", "neighbors", "bank", "-n", "5", "--json"],
    "vectors-info": ["vectors", "info", "--json"],
    "batch": ["embed", "-i", "-", "--with-attention", "--with-static", "-q"],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_json_output_prints_float32_shortest(name):
    text = out(*COMMANDS[name], input="money bank grows\nthe river bank\n" if name == "batch" else None)
    assert assert_float32_shortest(text) >= {"vectors-info": 0, "eval": 2, "vectors-neighbors": 5}.get(name, 10)


def test_compare_and_neighbour_scores_print_float32_digits():
    doc = json.loads(out(*COMMANDS["compare"]))
    c = doc["contextual_cosine"][0][1]
    word, cos = doc["occurrences"][0]["neighbors"][0]
    for value in (c, cos):  # float32's digits, not float64's 0.7021033763885498
        assert repr(value) == str(np.float32(value)) and len(repr(value)) <= 11


def test_html_data_block_and_npz_meta_follow_the_rule(tmp_path):
    page = tmp_path / "view.html"
    out("embed", "money bank grows", "--html", page, "--neighbors", "2")
    block = page.read_text().split('id="attncli-data">')[1].split("</script>")[0]
    assert assert_float32_shortest(block) > 10
    cpage = tmp_path / "compare.html"
    out("compare", "money bank grows", "bank river flows", "--word", "bank", "--html", cpage)
    block = cpage.read_text().split('id="attncli-data">')[1].split("</script>")[0]
    assert assert_float32_shortest(block) > 5


@pytest.mark.slow
def test_train_wic_json(tmp_path):
    text = out("train", "wic", *TINY, "-o", tmp_path / "w.npz", "--json")
    assert assert_float32_shortest(text) > 2
