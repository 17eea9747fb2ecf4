"""Hostile inputs, the input layer's classes (docs/errors.md): repeated and missing -i, empty and
odd globs, blank-only files, pipes that can be read once, endless inputs, outputs that are
inputs, mixed-case vocabularies, text already tokenized and JSON Lines records of every wrong
shape. Each case ends with its documented exit code and one line, or works; nothing hangs."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from .helpers import word2vec_file_of
from .test_hostile import ATTNCLI, assert_error, cli, proc


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def good(tmp_path) -> Path:
    return write(tmp_path / "good.txt", "money bank grows\nthe river bank\n")


# ---------------------------------------------------------------- naming inputs


@pytest.mark.parametrize("command", [["batch", "-o", "{out}"], ["senses", "bank"], ["compare", "-w", "bank"]])
def test_one_missing_input_of_several_stops_everything(tmp_path, good, command):
    out = tmp_path / "out.npz"
    args = [a.format(out=out) for a in command]
    r = cli(*args, "-i", good, "-i", tmp_path / "missing.txt")
    assert_error(r, 1, "missing.txt: no such file")
    assert not out.exists()


@pytest.mark.parametrize("pattern, says", [
    ("*.csv", "no file matches"),
    ("sub*", "matches only directories"),
    ("", "no such file"),
])
def test_globs_and_names_that_name_nothing(tmp_path, good, pattern, says):
    (tmp_path / "sub1").mkdir()
    r = cli("batch", "-i", str(tmp_path / pattern) if pattern else "")
    assert_error(r, 1, says)


def test_no_input_at_all_is_usage(tmp_path):
    assert cli("batch").exit_code == 2
    assert_error(cli("eval", "pseudowords"), 2)


def test_stdin_twice_is_usage(good):
    assert_error(cli("batch", "-i", "-", "-i", "-", input="money\n"), 2, "read once")
    assert_error(cli("compare", "-", "-w", "bank", "-i", "-", input="money bank\n"), 2, "read once")


def test_a_directory_named_is_one_line(tmp_path):
    assert_error(cli("senses", "bank", "-i", tmp_path), 1, "is a directory")


@pytest.mark.slow  # a real process: `make test` runs it, `make test-fast` leaves it out
def test_a_glob_matching_a_fifo_does_not_block(tmp_path, good):
    os.mkfifo(tmp_path / "zz.txt")  # nobody ever writes it: opening it would block forever
    r = proc("batch", "-i", str(tmp_path / "*.txt"), "-o", tmp_path / "o.jsonl", timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"left out (not regular files" in r.stderr
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("name", ["a" * 300 + ".txt", "good.txt/inside"])
def test_odd_names_are_one_line(tmp_path, good, name):
    assert_error(cli("batch", "-i", tmp_path / name), 1)


# ---------------------------------------------------------------- blank-only and whitespace


def test_blank_only_file(tmp_path):
    blank = write(tmp_path / "blank.txt", "\n \n\t\n\r\n\u00a0\n")
    r = cli("batch", "-i", blank, "-o", tmp_path / "b.npz")
    assert r.exit_code == 0, r.stderr
    assert "5 lines (5 blank, skipped): 0 embedded" in r.stderr
    z = np.load(tmp_path / "b.npz", allow_pickle=False)
    assert z["vectors"].shape == (0, 50) and z["lines"].tolist() == []
    assert cli("batch", "-i", blank).stdout == ""
    assert_error(cli("senses", "bank", "-i", blank), 1, "does not occur")
    assert_error(cli("compare", "-w", "bank", "-i", blank), 1, "0 of 0")


def test_whitespace_tokenizer_on_odd_whitespace(tmp_path):
    path = write(tmp_path / "w.txt", "money\tbank\u00a0grows\x0bnow\n\u2003\n<unk>\x1c@-@ bank\n")
    r = cli("batch", "-i", path, "--tokenizer", "whitespace", "--oov", "zero")
    assert r.exit_code == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["tokens"] for x in recs] == [["money", "bank", "grows", "now"], ["<unk>", "@-@", "bank"]]
    assert [x["line"] for x in recs] == [1, 3]


# ---------------------------------------------------------------- read once: pipes and endless inputs


def _feed_fifo(path: Path, data: bytes) -> threading.Thread:
    def writer():
        with open(path, "wb") as f:
            f.write(data)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    return t


@pytest.mark.slow  # a real process: `make test` runs it, `make test-fast` leaves it out
def test_a_pipe_is_read_once_even_with_a_terminal_on_stderr(tmp_path):
    """The issue: `batch -i <(cat f) -o out.jsonl` on a terminal wrote 0 bytes (the pipe was
    drained counting its lines for the progress bar)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _feed_fifo(fifo, b"money bank grows\n\nthe river bank\n")
    master, slave = pty.openpty()
    try:
        p = subprocess.run([ATTNCLI, "batch", "-i", str(fifo), "-o", str(tmp_path / "o.jsonl")], stderr=slave,
                           stdout=subprocess.PIPE, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 0
    assert [json.loads(x)["line"] for x in (tmp_path / "o.jsonl").read_text().splitlines()] == [1, 3]


@pytest.mark.slow  # a real process: `make test` runs it, `make test-fast` leaves it out
def test_senses_reads_dev_stdin(tmp_path):
    text = "money bank loan\nriver bank water\nbank cash money\nbank river shore\n"
    r = proc("senses", "bank", "-i", "/dev/stdin", "-k", "2", "--json", input=text.encode(), timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["n"] == 4


@pytest.mark.slow  # a real process: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("command", [["senses", "bank", "-i"], ["batch", "-i"], ["compare", "-w", "bank", "-i"],
                                     ["eval", "pseudowords", "--pairs", "money:river"]])
def test_endless_input_stops_with_one_line(command):
    r = proc(*command, "/dev/zero", timeout=60)
    assert_error(r, 1, "/dev/zero", "no line end")


@pytest.mark.slow  # a real process: `make test` runs it, `make test-fast` leaves it out
def test_eval_pseudowords_reads_a_pipe_once(tmp_path):
    lines = ["the film was shown at the festival"] * 12 + ["the river flows to the sea"] * 12 \
        + ["the army marched"] * 12 + ["the music played"] * 12
    r = proc("eval", "pseudowords", "-", "--pairs", "film:river,army:music", "--json", "--grouping", "kurtosis", "--no-baselines",
             input=("\n".join(lines) + "\n").encode(), timeout=120)
    assert r.returncode == 0, r.stderr
    pairs = json.loads(r.stdout)["pairs"]
    assert [(p["a"], p["n"]) for p in pairs] == [("film", 24), ("army", 24)]


def test_senses_skips_a_line_over_the_limit_and_says_so(tmp_path):
    long = "bank " * 30_000  # 150 KB: over senses' default 100 KB
    path = write(tmp_path / "l.txt", f"money bank loan\n{long}\nriver bank water\n")
    r = cli("senses", "bank", "-i", path, "-k", "1", "--json")
    assert r.exit_code == 0, r.stderr
    assert [o["line"] for o in json.loads(r.stdout)["occurrences"]] == [1, 3]
    assert "l.txt:2: longer than 100,000 bytes" in r.stderr


# ---------------------------------------------------------------- an output that is an input


@pytest.mark.parametrize("how", ["same", "hardlink", "symlink"])
def test_an_output_that_is_an_input_is_refused(tmp_path, good, how):
    before = good.read_bytes()
    target = {"same": good, "hardlink": tmp_path / "h.txt", "symlink": tmp_path / "s.txt"}[how]
    if how == "hardlink":
        os.link(good, target)
    elif how == "symlink":
        target.symlink_to(good)
    assert_error(cli("batch", "-i", good, "-o", target, "-f", "jsonl"), 1, "is also an input")
    assert_error(cli("senses", "bank", "-i", good, "-k", "1", "--html", target), 1, "is also an input")
    assert_error(cli("compare", "-w", "bank", "-i", good, "--svg", target), 1, "is also an input")
    assert good.read_bytes() == before


# ---------------------------------------------------------------- vocabularies and records


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    words = ["Bank", "bank", "BANK", "Élan", "élan", "money", "İstanbul", "ǅemal"]
    return word2vec_file_of(tmp_path_factory.mktemp("mixed") / "mixed.txt", words, dim=6, seed=1)


@pytest.mark.parametrize("case, want", [
    ("auto", ["Bank", "bank", "BANK", "Élan", "élan", "money"]),
    ("keep", ["Bank", "bank", "BANK", "Élan", "élan"]),
    ("lower", ["bank", "bank", "bank", "élan", "élan", "money"]),
])
def test_mixed_case_vocabulary(mixed, tmp_path, case, want):
    path = write(tmp_path / "m.txt", "Bank bank BANK Élan élan MONEY\nİstanbul ǅemal\n")
    r = cli("batch", "-i", path, "--vectors", mixed, "--case", case, "--with-static")
    assert r.exit_code in (0, 3), r.stderr
    first = json.loads(r.stdout.splitlines()[0])
    assert first["tokens"] == want
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("record, says", [
    ('{"id": {"a": 1}, "text": "money bank"}', '"id" must be a JSON string'),
    ('{"id": [1], "text": "money bank"}', '"id" must be a JSON string'),
    ('{"tokens": "money bank"}', '"tokens" must be a list'),
    ('{"tokens": ["money", ""]}', '"tokens" must be a list of non-blank strings'),
    ('{"tokens": ["money", 3]}', '"tokens" must be a list'),
    ('{"tokens": []}', "empty sentence"),
    ('{"id": 1}', "string field 'text'"),
    ('["money"]', "not a JSON object"),
    ('{"id": NaN, "text": "money"}', "not valid JSON"),
])
def test_jsonl_records_of_every_wrong_shape(tmp_path, record, says):
    path = write(tmp_path / "r.jsonl", '{"text": "money bank"}\n' + record + "\n")
    r = cli("batch", "-i", path, "--input-format", "jsonl")
    assert r.exit_code == 3, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert "error" not in recs[0] and says in recs[1]["error"]


def test_jsonl_tokens_holding_line_breaks_and_tabs(tmp_path):
    path = write(tmp_path / "t.jsonl", json.dumps({"id": "x", "tokens": ["money\nbank", "the\tbank", "river"]}) + "\n")
    r = cli("batch", "-i", path, "--input-format", "jsonl", "--oov", "zero", "-o", tmp_path / "t.npz")
    assert r.exit_code == 0, r.stderr
    z = np.load(tmp_path / "t.npz", allow_pickle=False)
    assert z["vectors"].shape[0] == 3 and json.loads(z["ids"].tobytes()) == ["x"]
