"""Inputs as users have them: several files, globs and '-' the same way in every command; blank
lines skipped and counted; cased vocabularies (--case); text already tokenized (--tokenizer
whitespace, JSON Lines "tokens"); compare over a file; JSON Lines ids; warnings summarised; one
policy for -q and "wrote" lines. Vector files are written by gensim."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.inputs import ReadStats, Source, expand, read_items
from attncli.pipeline import Config, Lexicon, embed, get_vectors

from .helpers import npz_tokens, word2vec_file_of

runner = CliRunner()


def run(*args, input=None, env=None):
    return runner.invoke(app, [str(a) for a in args], input=input, env=env)


def ok(*args, **kw):
    r = run(*args, **kw)
    assert r.exit_code == 0, r.stderr
    return r


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture
def two(tmp_path):
    a = write(tmp_path / "a.txt", ["money bank grows", "", "the river bank"])
    b = write(tmp_path / "b.txt", ["a bank loan", "   ", "bank of the river", "cash"])
    return a, b


@pytest.fixture(scope="module")
def cased(tmp_path_factory) -> Path:
    """A cased word2vec file (as GoogleNews is): "England" without "england", "The" and "the",
    "Bank" and "bank" with different vectors. Written by gensim."""
    words = ["the", "The", "Bank", "bank", "of", "England", "raised", "rates", "London", "money", "river"]
    return word2vec_file_of(tmp_path_factory.mktemp("cased") / "cased.w2v.txt", words)


# ---------------------------------------------------------------- several files, globs, '-'


def test_batch_reads_every_input_in_order_and_names_each(two):
    a, b = two
    r = ok("batch", "-i", a, "-i", b)
    recs = records(r.stdout)
    assert [(Path(x["file"]).name, x["line"]) for x in recs] == [
        ("a.txt", 1), ("a.txt", 3), ("b.txt", 1), ("b.txt", 3), ("b.txt", 4)]
    assert "read 2 files, 7 lines (2 blank, skipped)" in r.stderr


def test_batch_glob_and_stdin_and_npz_sources(two, tmp_path):
    a, b = two
    out = tmp_path / "ab.npz"
    ok("batch", "-i", tmp_path / "*.txt", "-i", "-", "-o", out, input="money grows\n")
    z = np.load(out, allow_pickle=False)
    names = [Path(str(n)).name for n in z["sources"][z["source"]]]
    assert names == ["a.txt", "a.txt", "b.txt", "b.txt", "b.txt", "standard input"]
    assert z["lines"].tolist() == [1, 3, 1, 3, 4, 1]
    assert npz_tokens(z)[:3] == ["money", "bank", "grows"]
    one = tmp_path / "one.npz"
    ok("batch", "-i", a, "-o", one)  # one input: no sources
    assert "sources" not in np.load(one).files


def test_same_file_twice_is_read_once(two):
    a, _ = two
    r = ok("batch", "-i", a, "-i", str(a.parent / "." / a.name), "-i", a.parent / "a.*")
    assert len(records(r.stdout)) == 2 and "read 1 file," in r.stderr


def test_compare_counts_every_file(two):
    a, b = two
    doc = json.loads(ok("compare", "-w", "bank", "-i", a, "-i", b, "--json").stdout)
    assert len(doc["sentences"]) == 4  # a:1, a:3, b:1, b:3 ("cash" has no bank: skipped)


def test_expand_globs_fifo_left_out_with_a_note(tmp_path):
    import os

    write(tmp_path / "x.txt", ["money"])
    os.mkfifo(tmp_path / "y.txt")
    from attncli import report

    notes = []

    class Catch:
        def note(self, msg):
            notes.append(msg)

    previous = report.installed()
    report.install(Catch())
    try:
        found = expand([str(tmp_path / "*.txt")])
    finally:
        report.install(previous)
    assert [Path(s.name).name for s in found] == ["x.txt"] and found[0].regular
    assert "1 match left out (not regular files" in notes[0]
    named = expand([str(tmp_path / "y.txt")])  # named one by one: read as a stream
    assert not named[0].regular and named[0].size is None


# ---------------------------------------------------------------- blank lines


def test_blank_lines_are_skipped_and_counted_not_failures(tmp_path):
    path = write(tmp_path / "w.txt", ["money bank grows", "", " \t ", "\r", "the river bank"])
    r = ok("batch", "-i", path)
    assert [x["line"] for x in records(r.stdout)] == [1, 5]
    assert "5 lines (3 blank, skipped): 2 embedded" in r.stderr and "warning" not in r.stderr
    stats = ReadStats()
    with open(path, "rb") as f:
        assert [n for n, _ in read_items(f, stats=stats)] == [1, 5]
    assert (stats.lines, stats.blank) == (5, 3)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_wikitext_paragraph_file_is_not_failures(tmp_path):
    shared = Path("/work/shared/corpus/wikitext-2.valid.txt")
    if not shared.exists():
        pytest.skip("needs the shared corpus")
    r = run("batch", "-i", shared, "-o", tmp_path / "v.npz")
    # the "1,353 of 3,760 lines failed" were 1,299 blank lines and 54 headings of unknown words
    assert "3,760 lines (1,299 blank, skipped): 2,407 embedded, 54 failed" in r.stderr
    assert "54 of 2,461 lines failed" in r.stderr


# ---------------------------------------------------------------- case


def test_cased_vocabulary_exact_form_then_lowercase(cased):
    vec = get_vectors(cased)
    assert vec.cased and not get_vectors("default").cased
    r = embed("The Bank of England RAISED rates", vectors=str(cased))
    assert r.tokens == ["The", "Bank", "of", "England", "raised", "rates"] and r.oov == []
    keep = embed("The Bank of England RAISED rates", vectors=str(cased), case="keep")
    assert keep.tokens == ["The", "Bank", "of", "England", "rates"] and keep.oov == [{"token": "RAISED", "position": 4}]
    low = embed("The Bank of England RAISED rates", vectors=str(cased), case="lower")
    assert low.tokens == ["the", "bank", "of", "raised", "rates"]
    assert low.oov == [{"token": "england", "position": 3}]
    np.testing.assert_array_equal(r.static[1], vec.rows([vec.index["Bank"]])[0])
    np.testing.assert_array_equal(low.static[1], vec.rows([vec.index["bank"]])[0])


def test_default_glove_behaves_as_before():
    r = embed("The Bank of England")
    assert r.tokens == ["the", "bank", "of", "england"]
    assert Lexicon(get_vectors("default"), Config()).case == "lower"


@pytest.mark.parametrize("case", ["auto", "keep", "lower"])
def test_batch_fast_path_equals_embed_on_a_cased_vocabulary(cased, tmp_path, case):
    lines = ["The Bank of England raised rates", "THE bank of london", "money of The river", "England England"]
    path = write(tmp_path / "c.txt", lines)
    r = run("batch", "-i", path, "--vectors", cased, "--case", case, "-q")
    assert r.exit_code == (3 if case == "lower" else 0), r.stderr  # lowercased, "England England" has no known word
    for rec in records(r.stdout):
        line = lines[rec["line"] - 1]
        if "error" in rec:
            assert case == "lower" and line == "England England"
            continue
        want = embed(line, vectors=str(cased), case=case)
        assert rec["tokens"] == want.tokens and rec["oov"] == want.oov
        np.testing.assert_allclose(np.array(rec["contextual"], dtype=np.float32), want.contextual, rtol=1e-5, atol=1e-6)


def test_vectors_neighbors_follows_case(cased):
    assert json.loads(ok("vectors", "neighbors", "Bank", "--vectors", cased, "--json", "-q").stdout)["word"] == "Bank"
    assert json.loads(ok("vectors", "neighbors", "Bank", "--vectors", cased, "--case", "lower", "--json").stdout)["word"] == "bank"


def test_senses_and_compare_take_the_form_looked_up(cased, tmp_path):
    path = write(tmp_path / "e.txt", ["The Bank of England raised rates", "London money of England",
                                      "england of the river", "The river of England"])
    doc = json.loads(ok("senses", "England", "-i", path, "--vectors", cased, "-k", "1", "--json").stdout)
    assert doc["forms"] == ["England"] and [o["line"] for o in doc["occurrences"]] == [1, 2, 4]


# ---------------------------------------------------------------- tokens given


def test_whitespace_tokenizer_keeps_pre_tokenized_text():
    r = embed("the <unk> of the river @-@ bank", tokenizer="whitespace", oov="zero")
    assert r.tokens == ["the", "<unk>", "of", "the", "river", "@-@", "bank"]
    glove = embed("the <unk> of the river @-@ bank", oov="zero")
    assert "<unk>" not in glove.tokens and "unk" in glove.tokens


def test_batch_whitespace_tokenizer_equals_embed(tmp_path):
    lines = ["the <unk> of the river @-@ bank", "Mr. Smith 's bank , \t in the U.S.", "money-bank grows"]
    path = write(tmp_path / "t.txt", lines)
    got = records(ok("batch", "-i", path, "--tokenizer", "whitespace", "--oov", "zero", "-q").stdout)
    for rec, line in zip(got, lines):
        want = embed(line, tokenizer="whitespace", oov="zero")
        assert rec["tokens"] == want.tokens
        np.testing.assert_allclose(np.array(rec["contextual"], dtype=np.float32), want.contextual, rtol=1e-5, atol=1e-6)


def test_jsonl_tokens_used_as_given_and_ids_carried(tmp_path):
    lines = [{"id": "doc-1", "tokens": ["money", "bank", "grows"]},
             {"id": 7, "text": "the river bank"},
             {"tokens": ["New York", "bank"]},
             {"id": None, "text": "bank money"},
             {"id": 3.5, "text": "!!!"}]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    r = run("batch", "-i", path, "--input-format", "jsonl", "--oov", "zero")
    assert r.exit_code == 3
    recs = records(r.stdout)
    assert [x.get("id") for x in recs] == ["doc-1", 7, None, None, 3.5]
    assert recs[0]["tokens"] == ["money", "bank", "grows"] and recs[2]["tokens"] == ["new york", "bank"]
    assert "error" in recs[4] and recs[4]["id"] == 3.5
    want = embed(("money", "bank", "grows"))
    np.testing.assert_allclose(np.array(recs[0]["contextual"], dtype=np.float32), want.contextual, rtol=1e-5, atol=1e-6)
    out = tmp_path / "out.npz"
    run("batch", "-i", path, "--input-format", "jsonl", "--oov", "zero", "-o", out)
    z = np.load(out, allow_pickle=False)
    assert json.loads(z["ids"].tobytes()) == ["doc-1", 7, None, None]  # one per embedded sentence
    assert z["lines"].tolist() == [1, 2, 3, 4]


def test_npz_without_ids_has_no_ids_member(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "money bank"}\n')
    out = tmp_path / "o.npz"
    ok("batch", "-i", path, "--input-format", "jsonl", "-o", out)
    assert "ids" not in np.load(out).files


# ---------------------------------------------------------------- compare over a file


def test_compare_file_skips_lines_without_the_word(tmp_path):
    path = write(tmp_path / "c.txt", ["money bank grows", "no such word here", "bank river flows", "", "the bank"])
    r = ok("compare", "-w", "bank", "-i", path, "--json")
    doc = json.loads(r.stdout)
    assert doc["sentences"] == ["money bank grows", "bank river flows", "the bank"]
    assert "3 hold the word, 1 skipped" in r.stderr
    verbose = ok("compare", "-w", "bank", "-i", path, "--json", "--verbose")
    assert "line 2: skipped: absent" in verbose.stderr


def test_compare_sentence_arguments_must_hold_the_word(tmp_path):
    path = write(tmp_path / "c.txt", ["money bank grows", "bank river flows"])
    r = run("compare", "the river", "-w", "bank", "-i", path)
    assert r.exit_code == 1 and "sentence 1" in r.stderr


def test_compare_file_with_one_holding_line_is_one_error(tmp_path):
    path = write(tmp_path / "c.txt", ["money bank grows", "nothing"])
    r = run("compare", "-w", "bank", "-i", path)
    assert r.exit_code == 1 and "1 of 2 do" in r.stderr


# ---------------------------------------------------------------- warnings, -q, wrote


def test_unknown_words_summarised_with_counts(tmp_path):
    text = " ".join(["<unk>"] * 1200 + ["money bank"])  # the issue: one line of thousands of entries
    r = ok("embed", text, "--json")
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and warnings[0].endswith("skipped: 'unk' x1,200")  # '<' and '>' are in GloVe
    verbose = ok("embed", "money zzqxv bank zzqxv", "--json", "--verbose")
    assert "(position 1)" in verbose.stderr and "(position 3)" in verbose.stderr


def test_batch_failed_lines_listed_up_to_ten_then_counted(tmp_path):
    path = write(tmp_path / "bad.txt", ["zzqxv"] * 25 + ["money bank"])
    r = run("batch", "-i", path)
    assert r.exit_code == 3
    assert r.stderr.count("warning: line ") == 10 and "15 more failed lines (--verbose" in r.stderr
    assert run("batch", "-i", path, "--verbose").stderr.count(": no word of") == 25


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_one_policy_for_quiet_and_wrote(tmp_path, word2vec_file):
    corpus = write(tmp_path / "s.txt", ["money bank grows", "the river bank", "bank loan money", "river bank water"])
    page = tmp_path / "s.html"
    r = ok("senses", "bank", "-i", corpus, "-k", "2", "--html", page, "--json")
    assert f"attncli: wrote {page}" in r.stderr
    assert ok("senses", "bank", "-i", corpus, "-k", "2", "--html", page, "--json", "-q").stderr == ""
    # the cache conversion's notes: shown, or silenced by -q
    first = ok("embed", "money bank", "--vectors", word2vec_file, "-q")
    assert first.stderr == ""
    for command in (["embed", "money bank"], ["compare", "money bank", "the bank", "-w", "bank"],
                    ["batch", "-i", corpus], ["explain", "money bank", "-w", "bank"],
                    ["senses", "bank", "-i", corpus, "-k", "2"], ["eval", "pseudowords", corpus, "--pairs", "money:river"],
                    ["vectors", "info"], ["weights", "info", "wic"]):
        r = run(*command, "-q")
        assert r.exit_code in (0, 1), (command, r.stderr)
        assert "attncli: " not in r.stderr.replace("attncli: warning", "").replace("attncli: error", ""), (command, r.stderr)


def test_plain_text_output_has_no_trailing_spaces():
    out = ok("embed", "money bank grows", env={"COLUMNS": "80"}).stdout
    assert out == "\n".join(line.rstrip(" ") for line in out.split("\n"))
    assert " \n" not in ok("vectors", "info").stdout


# ---------------------------------------------------------------- smaller items


def test_env_vectors_that_do_not_exist_name_the_variable():
    r = run("embed", "money bank", env={"ATTNCLI_VECTORS": "nope.txt"})
    assert r.exit_code == 1 and "ATTNCLI_VECTORS=nope.txt" in r.stderr


def test_weights_imply_qkv():
    doc = json.loads(ok("embed", "money bank grows", "--weights", "wic", "--json").stdout)
    assert doc["config"]["mode"] == "qkv" and doc["config"]["weights"] == "wic"
    assert run("embed", "money bank grows", "--weights", "wic", "--mode", "simple").exit_code == 2
    assert embed("money bank grows", weights="wic").config.mode == "qkv"


def test_source_labels_and_reading_stdin_once():
    assert Source("-").label == "standard input" and Source("x.txt").label == "x.txt"
    r = run("batch", "-i", "-", "-i", "-", input="money\n")
    assert r.exit_code == 2 and "can be read once" in r.stderr


def test_compare_lists_ten_unreadable_lines_then_counts(tmp_path):
    path = tmp_path / "u.txt"
    path.write_bytes(b"\xff bank\n" * 15 + b"money bank grows\nthe river bank\n")
    r = ok("compare", "-w", "bank", "-i", path, "--json")
    assert r.stderr.count("not valid UTF-8") == 10 and "... and 5 more unreadable lines (--verbose" in r.stderr
    assert ok("compare", "-w", "bank", "-i", path, "--json", "--verbose").stderr.count("not valid UTF-8") == 15


def test_npz_ids_of_a_later_input_come_after_nulls_for_the_earlier(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"text": "money bank"}\n{"text": "the river"}\n')
    b.write_text('{"id": "x", "text": "bank loan"}\n')
    ok("batch", "-i", a, "-i", b, "--input-format", "jsonl", "-o", tmp_path / "ab.npz")
    assert json.loads(np.load(tmp_path / "ab.npz")["ids"].tobytes()) == [None, None, "x"]
