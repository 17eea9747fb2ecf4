"""Hostile output (docs/errors.md): control characters in anything a table shows (one escape,
render.Table), numbers that are not finite at output (one check, export.check_finite, for
tables and JSON alike), and stdout that is full or cannot encode the text.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.export import NotFinite, check_finite, dumps, masked
from attncli.tokens import tokenize
from attncli.weightsfile import npz_bytes

from .helpers import SMALL_VECTORS, SMALL_WORDS, random_weights
from .test_hostile import _kv, assert_error, proc

TINY = [str(Path(__file__).parent / "data" / f"wic_tiny.{k}.txt") for k in ("data", "gold")]
HOSTILE_TEXT = "\x1b]0;pwned\x07\x1b[2J[bold]x[/bold]\u202e\x9b31m"


def cli(*args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


# ---------------------------------------------------------------- one escape for every terminal string


def assert_escaped(text: str) -> None:
    for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert raw not in text, (raw, text)


def test_weights_info_escapes_the_file_name_and_its_provenance(tmp_path):
    path = tmp_path / "\x1b[31mevil\u202e.npz"
    path.write_bytes(npz_bytes(random_weights(), {"config": {}, "training": {"data": HOSTILE_TEXT, "vectors": HOSTILE_TEXT,
                                                                               "pairs": HOSTILE_TEXT, "rank": HOSTILE_TEXT}}))
    r = cli("weights", "info", path, env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    assert_escaped(r.stdout)
    assert "\\x1b[31mevil\\u202e.npz" in r.stdout and "\\x1b]0;pwned\\x07\\x1b[2J[bold]x[/bold]\\u202e\\x9b31m" in r.stdout


def test_vectors_info_and_neighbors_escape_a_file_name(tmp_path):
    path = tmp_path / "\x1b[2Jv\u202e.txt"
    _kv(SMALL_WORDS, SMALL_VECTORS).save_word2vec_format(str(path))
    for args in (["vectors", "info", path], ["vectors", "neighbors", "bank", "--vectors", path], ["vectors", "list"]):
        r = cli(*args, env={"COLUMNS": "300"})
        assert r.exit_code == 0, r.output
        assert_escaped(r.stdout + r.stderr)
        assert "\\x1b[2Jv\\u202e" in r.stdout


RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\x7f", "\u2028", "\x85")


def test_json_escapes_what_a_terminal_acts_on_and_reads_back_the_same(tmp_path):
    """--json printed on a terminal (or a JSON Lines file shown with cat) never carries a raw
    bidi override or C1 control: each is a \\u escape, the same string once parsed."""
    text = "money\u202ebank \x9b31m grows\x7f \u2066x\u2028\x85 “café” 日本"
    r = cli("embed", text, "--json", "--oov", "zero")
    assert r.exit_code == 0, r.output
    assert not any(c.encode() in r.stdout_bytes for c in RAW)
    tokens = [t.text for t in tokenize(text)]
    assert json.loads(r.stdout)["tokens"] == tokens and "\u202e" in tokens and "\x9b" in tokens
    src = tmp_path / "in.txt"
    src.write_text(text + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = cli("batch", "-i", src, "-o", out, "--oov", "zero", "-q")
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert not any(c.encode() in data for c in RAW) and b"\\u202e" in data and "café".encode() in data
    assert json.loads(data)["tokens"] == tokens
    # in an id only, and in a failed line's record only: the chunk's strings are searched
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a\u202eb", "text": "money bank"}) + "\n" + json.dumps({"id": 2, "text": "\u2066 \x9b"}) + "\n")
    r = cli("batch", "-i", src, "--input-format", "jsonl", "-o", out, "-q")
    data = out.read_bytes()
    assert not any(c.encode() in data for c in RAW) and b'"id":"a\\u202eb"' in data, data[:300]
    assert [json.loads(x)["id"] for x in data.splitlines()] == ["a\u202eb", 2]


def test_property_json_escapes_are_the_same_json():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(st.one_of(st.text(max_size=6), st.sampled_from(RAW + ("\\", '"', "\\u202e"))), max_size=10).map("".join))
    def run(text):
        data = dumps({"t": text, "n": [text]})
        assert json.loads(data) == {"t": text, "n": [text]}
        assert not any(c.encode() in data for c in RAW)

    run()


def test_every_table_escapes_titles_headers_and_cells():
    from rich.console import Console

    from attncli.render import Table

    t = Table(HOSTILE_TEXT, title=HOSTILE_TEXT, caption=HOSTILE_TEXT)
    t.add_column(HOSTILE_TEXT, HOSTILE_TEXT)
    t.add_row(HOSTILE_TEXT, HOSTILE_TEXT)
    console = Console(record=True, width=300, color_system=None, file=open(os.devnull, "w"))
    console.print(t)
    text = console.export_text()
    assert_escaped(text)
    assert text.count("[bold]x[/bold]") == 6  # never read as markup


def test_property_any_provenance_text_reaches_the_table_escaped(tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from rich.console import Console

    from attncli.render import weights_info_renderables
    from attncli.weightsinfo import weights_info

    control = st.sampled_from(["\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\x00", "\r", "\x7f", "\u2028"])
    texts = st.lists(st.one_of(st.text(max_size=5), control), max_size=8).map("".join)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(data=texts, vectors=texts, name=texts.map(lambda s: s.replace("/", "").replace("\x00", "")[:40]))
    def run(data, vectors, name):
        path = tmp_path / f"w{name}.npz"
        path.write_bytes(npz_bytes(random_weights(), {"config": {}, "training": {"data": data, "vectors": vectors}}))
        console = Console(record=True, width=200, color_system=None, file=open(os.devnull, "w"))
        for part in weights_info_renderables(weights_info(str(path))):
            console.print(part)
        text = console.export_text()
        assert not any(c in text for c in "\x1b\x07\x9b\u202e\u2066\x00\r\x7f\u2028"), repr(text)
        path.unlink()

    run()


# ---------------------------------------------------------------- one finite-number check at output


def test_dumps_refuses_numbers_that_are_not_finite_as_float32_and_names_them():
    with pytest.raises(NotFinite, match=r"matrices\[1\]\.norm = 1e\+300"):
        dumps({"matrices": [{"norm": 1.0}, {"norm": 1e300}]})
    with pytest.raises(NotFinite, match=r"a\[0\]\[1\]"):
        dumps({"a": np.array([[1.0, np.inf]])})
    with pytest.raises(NotFinite):
        dumps([np.float64(np.nan)])
    assert dumps({"a": [1.5, None]}) == b'{"a":[1.5,null]}'  # None is a number the schema leaves out


def test_masked_cells_are_null_and_only_there():
    assert dumps({"logits": masked(np.array([0.5, np.nan]))}) == b'{"logits":[0.5,null]}'
    with pytest.raises(NotFinite):
        dumps({"logits": masked(np.array([np.inf, np.nan]))})  # infinity is an overflow, masked or not
    check_finite({"x": masked(np.full((2, 2), np.nan))})


def test_the_check_walks_results_of_dataclasses():
    from attncli.weightsinfo import MatrixInfo

    check_finite(MatrixInfo("W_q", (2, 2), 1, 0.5, 2.0))
    with pytest.raises(NotFinite, match=r"\.norm"):
        check_finite([MatrixInfo("W_q", (2, 2), 1, 0.5, 1e39)])


@pytest.mark.parametrize("json_out", [False, True])
def test_a_norm_past_float32_is_one_line_in_tables_and_json_never_inf(tmp_path, json_out):
    """float32 weights of 1e38: finite, but ||W|| is 5e39: the table would print inf, the JSON null."""
    w = np.full((50, 50), 1e38, np.float32)
    path = tmp_path / "huge.npz"
    np.savez(path, W_q=w, W_k=w, W_v=w)
    r = cli("weights", "info", path, *(["--json"] if json_out else []))
    line = assert_error(r, 1, "not finite", "matrices[0]")
    assert r.stdout == "" and "inf" not in line.lower().replace("infinite", "")


def test_vectors_of_1e30_show_their_true_norms_in_tables(tmp_path):
    path = tmp_path / "huge.txt"
    _kv(SMALL_WORDS, SMALL_VECTORS * np.float32(1e30)).save_word2vec_format(str(path))
    for args in (["embed", "money bank", "--show-static"], ["explain", "money bank grows", "-w", "bank"]):
        r = cli(*args, "--vectors", path, env={"COLUMNS": "250"})
        assert r.exit_code == 0, r.output
        assert " inf" not in r.stdout and "nan" not in r.stdout.lower()
    r = cli("embed", "money bank", "--show-static", "--center", "0", "--vectors", path, env={"COLUMNS": "250"})  # raw vectors
    norm = np.linalg.norm((SMALL_VECTORS[0] * np.float32(1e30)).astype(np.float64))  # money's, 1.118e30
    assert f"{norm:.2f}"[:8] in r.stdout


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_no_numpy_warning_reaches_stderr(tmp_path):
    path = tmp_path / "huge.txt"
    _kv(SMALL_WORDS, SMALL_VECTORS * np.float32(1e30)).save_word2vec_format(str(path))
    w = np.eye(50) * 1e300
    weights = tmp_path / "w300.npz"
    np.savez(weights, W_q=w, W_k=w, W_v=w)
    for args in (["embed", "money bank", "--show-static", "--vectors", path], ["explain", "money bank", "-w", "bank", "--vectors", path],
                 ["weights", "info", weights], ["embed", "money bank", "--mode", "qkv", "--weights", weights]):
        r = proc(*args)
        assert b"Warning" not in r.stderr and b"Traceback" not in r.stderr, (args, r.stderr)
        assert r.returncode in (0, 1) and len(r.stderr.splitlines()) <= 2, r.stderr


def test_explain_json_keeps_masked_logits_null_and_every_other_number_finite():
    r = cli("explain", "money bank grows", "-w", "bank", "--json", "--heads", "2")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["heads"][0]["logits"][1] is None and out["logits"][1] is None  # the word itself: masked (exclude-self)
    assert all(x is not None for x in out["weights"] + out["logits"][:1] + out["logits"][2:])


# ---------------------------------------------------------------- stdout full or not UTF-8


FULL = {
    "vectors info": ["vectors", "info"],
    "vectors neighbors": ["vectors", "neighbors", "bank"],
    "vectors list": ["vectors", "list"],
    "vectors clear-cache": ["vectors", "clear-cache"],
    "weights info": ["weights", "info", "wic"],
    "explain": ["explain", "money bank grows", "-w", "bank"],
    "eval wic": ["eval", "wic", *TINY, "--fit-data", TINY[0], "--fit-gold", TINY[1]],
    "senses": ["senses", "bank", "-i", TINY[0]],
    "--version": ["--version"],
    "--help": ["--help"],
    "embed --help": ["embed", "--help"],
}


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("name", sorted(FULL))
def test_a_full_stdout_is_one_line_naming_stdout(name):
    with open("/dev/full", "wb") as full:
        r = proc(*FULL[name], stdout=full, stderr=subprocess.PIPE, capture_output=False)
    assert_error(r, 1, "cannot write to standard output", "No space left")


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_train_writes_nothing_on_stdout_so_a_full_one_does_not_matter(tmp_path):
    out = tmp_path / "w.npz"
    with open("/dev/full", "wb") as full:
        r = proc("train", "wic", *TINY, "-o", out, "--rank", "1", "--epochs", "1", stdout=full, stderr=subprocess.PIPE,
                 capture_output=False)
    assert r.returncode == 0, r.stderr
    assert b"attncli: wrote " in r.stderr and set(np.load(out).files) >= {"W_q", "W_k", "W_v", "settings"}


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("args", [["explain", "money bank grows", "-w", "bank"], ["embed", "naïve café", "--oov", "zero"],
                                  ["compare", "money bank", "river bank", "-w", "bank"]])
def test_an_ascii_only_stdout_gets_escapes_not_a_traceback(args):
    r = proc(*args, env=os.environ | {"PYTHONIOENCODING": "ascii", "COLUMNS": "100"})
    assert r.returncode == 0, r.stderr
    assert b"Traceback" not in r.stderr and r.stdout.isascii()
    assert b"\\u" in r.stdout or b"\\x" in r.stdout


@pytest.mark.slow  # two vector files written and converted: `make test` runs it, `make test-fast` leaves it out
def test_senses_of_vectors_of_1e30_group_as_the_same_vectors_at_scale_1(tmp_path):
    """Lengths of 1e30 overflow when squared in float32: the grouping's unit vectors keep the
    rows' directions (they became 0, and every score 0, before)."""
    from attncli import senses as lib
    from attncli.pipeline import Config, vectors_for

    from .test_senses import planted

    vec = vectors_for(Config())
    words, m = list(vec.words[:3000]), np.asarray(vec.matrix[:3000], dtype=np.float32)
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(planted()[0]) + "\n", encoding="utf-8")
    results = []
    for scale in (1, 1e30):
        path = tmp_path / f"v{scale:g}.txt"
        _kv(words, m * np.float32(scale)).save_word2vec_format(str(path))
        results.append(lib.senses("bank", [str(corpus)], Config(vectors=str(path)), lib.SenseOptions(k=2)))
    one, huge = results
    assert huge.grouping.labels.tolist() == one.grouping.labels.tolist()
    np.testing.assert_allclose(huge.grouping.score, one.grouping.score, atol=1e-5)
    assert np.abs(huge.grouping.score).min() > 0.1
