"""Hostile cases of the outputs for data tools (--pool, Parquet, the projector files) and of the
Python API's new arguments: each bad case is one line on stderr (or one exception) with its
exit code, and nothing is left half-written."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import attncli
from attncli.cli import app
from attncli.errors import DataError, UsageError

from .test_hostile import assert_error, no_temps

runner = CliRunner()
ATTNCLI = str(Path(sys.executable).with_name("attncli"))


@pytest.fixture
def corpus(tmp_path) -> Path:
    p = tmp_path / "in.txt"
    p.write_text("money bank grows\nthe river bank\n", encoding="utf-8")
    return p


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("args, code, fragment", [
    (["--pool", "max"], 2, "'max' is not one of 'mean', 'sif'"),
    (["--pool"], 2, "--pool"),
    (["--format", "parquet"], 2, "--format parquet needs -o FILE"),
    (["--format", "projector"], 2, "--format projector needs -o DIR"),
    (["-o", "out.arrow"], 2, "name it .jsonl, .npz or .parquet, or give --format"),
    (["--format", "csv", "-o", "x.csv"], 2, "'csv' is not one of"),
])
def test_bad_output_options_are_one_line(corpus, tmp_path, monkeypatch, args, code, fragment):
    monkeypatch.chdir(tmp_path)
    assert_error(cli("batch", "-i", corpus, *args), code, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_parquet_without_pyarrow_is_one_line_naming_the_extra(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    err = assert_error(cli("batch", "-i", corpus, "-o", tmp_path / "out.parquet"), 1)
    assert err == "attncli: error: Parquet output needs pyarrow: pip install 'attncli[parquet]'"
    assert not (tmp_path / "out.parquet").exists() and no_temps(tmp_path)


def test_parquet_onto_a_directory_is_refused(corpus, tmp_path):
    (tmp_path / "out.parquet").mkdir()
    assert_error(cli("batch", "-i", corpus, "-o", tmp_path / "out.parquet"), 1, "is a directory")


def test_projector_onto_a_file_is_refused_and_the_file_kept(corpus, tmp_path):
    target = tmp_path / "proj"
    target.write_text("mine\n")
    assert_error(cli("batch", "-i", corpus, "-o", target, "--format", "projector"), 1, "proj: is a file")
    assert target.read_text() == "mine\n" and no_temps(tmp_path)


def test_projector_into_a_folder_of_other_files_is_refused_before_any_work(corpus, tmp_path):
    target = tmp_path / "proj"
    target.mkdir()
    (target / "notes.txt").write_text("keep\n")
    (target / "vectors.tsv").write_text("1\t2\n")
    assert_error(cli("batch", "-i", corpus, "-o", target, "--format", "projector"), 1, "holds other files (notes.txt)")
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt", "vectors.tsv"]
    assert (target / "vectors.tsv").read_text() == "1\t2\n"
    path = tmp_path / "c.txt"
    path.write_text("money bank grows\nthe bank of the river\n" * 3)
    assert_error(cli("senses", "bank", "-i", path, "--projector", target), 1, "holds other files")


def test_projector_rewrites_a_folder_holding_only_its_own_files(corpus, tmp_path):
    target = tmp_path / "proj"
    assert cli("batch", "-i", corpus, "-o", target, "-f", "projector", "--pool", "mean").exit_code == 0
    assert len((target / "vectors.tsv").read_text().splitlines()) == 2
    assert cli("batch", "-i", corpus, "-o", target, "-f", "projector").exit_code == 0  # tokens now
    assert len((target / "vectors.tsv").read_text().splitlines()) == 6
    assert sorted(p.name for p in target.iterdir()) == ["metadata.tsv", "projector_config.pbtxt", "vectors.tsv"]
    assert no_temps(tmp_path)


def test_projector_in_a_missing_directory_is_one_line(corpus, tmp_path):
    assert_error(cli("batch", "-i", corpus, "-o", tmp_path / "no" / "proj", "-f", "projector"), 1, "does not exist")


def test_a_failing_projector_run_leaves_the_folder_as_it_was(corpus, tmp_path, monkeypatch):
    from attncli import writers

    target = tmp_path / "proj"
    assert cli("batch", "-i", corpus, "-o", target, "-f", "projector").exit_code == 0
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def broken(self, chunk):
        raise DataError("disk on fire")

    monkeypatch.setattr(writers.ProjectorWriter, "write", broken)
    assert_error(cli("batch", "-i", corpus, "-o", target, "-f", "projector", "--pool", "sif"), 1, "disk on fire")
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before and no_temps(tmp_path)


@pytest.mark.parametrize("fmt", ["parquet", "projector"])
def test_an_interrupted_run_leaves_nothing(corpus, tmp_path, monkeypatch, fmt):
    from attncli import batch

    original = batch.BatchEmbedder.embed_chunks

    def broken(self, items, chunk_sentences=1, chunk_chars=10**6):
        for i, chunk in enumerate(original(self, items, 1, chunk_chars)):
            if i == 1:
                raise KeyboardInterrupt
            yield chunk

    monkeypatch.setattr(batch.BatchEmbedder, "embed_chunks", broken)
    out = tmp_path / ("out.parquet" if fmt == "parquet" else "proj")
    r = cli("batch", "-i", corpus, "-o", out, "--format", fmt)
    assert r.exit_code == 130 and r.stderr == "attncli: error: interrupted\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


@pytest.mark.slow  # a subprocess and a reader thread
def test_parquet_into_a_fifo_is_streamed_and_it_stays_a_fifo(corpus, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = subprocess.run([ATTNCLI, "batch", "-i", str(corpus), "-o", str(fifo), "-f", "parquet", "-q"],
                       capture_output=True, text=True, timeout=120)
    reader.join(30)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    import io

    assert pq.read_table(io.BytesIO(got[0])).column("tokens").to_pylist() == [["money", "bank", "grows"], ["the", "river", "bank"]]


# ---------------------------------------------------------------- the Python API's arguments


@pytest.mark.parametrize("call, error, message", [
    (lambda: attncli.embed("money bank grows", pool="max"), UsageError, "pool must be one of mean, sif, not 'max'"),
    (lambda: attncli.embed(b"money bank grows"), UsageError, "text must be a string or a list of strings, not bytes"),
    (lambda: attncli.embed(None), UsageError, "text must be a string or a list of strings, not NoneType"),
    (lambda: attncli.embed(["money bank grows", None]), DataError, "texts[1]: not a string but NoneType: None"),
    (lambda: attncli.embed(["money bank grows", "\ud800"]), DataError, "texts[1]: "),
    (lambda: list(attncli.embed_batch("money bank grows")), UsageError, "texts must be a list"),
    (lambda: attncli.senses("bank"), UsageError, "give the corpus as inputs (files), index or texts (the texts): one of them"),
    (lambda: attncli.senses("bank", "a.txt", texts=["x"]), UsageError, "give the corpus as inputs (files), index or texts"),
    (lambda: attncli.senses("bank", texts="the bank"), UsageError, "texts must be a list"),
    (lambda: attncli.senses("bank", texts=["money grows"]), DataError, "'bank' does not occur in"),
    (lambda: attncli.senses("bank", "/nonexistent/c.txt"), DataError, "/nonexistent/c.txt: no such file"),
    (lambda: attncli.Config(temperature=float("nan")), UsageError, "temperature must be a finite number, not nan"),
    (lambda: attncli.compare(["money bank grows"], "bank"), UsageError, "compare needs at least 2 sentences, got 1"),
])
def test_bad_python_arguments_raise_one_error_naming_the_argument(call, error, message):
    with pytest.raises(error) as e:
        call()
    assert str(e.value).startswith(message) or message in str(e.value), str(e.value)
    assert "--" not in str(e.value)  # Python callers are not told of flags


def test_a_nan_in_a_column_of_texts_fails_that_line_only():
    out = list(attncli.embed_batch(["money bank grows", float("nan"), "the river bank"]))
    assert [type(r).__name__ for r in out] == ["EmbedResult", "BatchError", "EmbedResult"]
    assert out[1].line == 2 and out[1].error == "not a string but float: nan"


def test_senses_texts_with_gaps_count_their_lines():
    texts = ["money bank grows", None, "the bank of the river", "bank loans", float("nan"), "river bank"] * 3
    s = attncli.senses("bank", texts=texts, options=attncli.SenseOptions(k=2))
    assert s.lines_read == 18 and len(s.occurrences) == 12
    assert sorted({o.line for o in s.occurrences})[:4] == [1, 3, 4, 6]
    assert np.isfinite(s.vectors).all()
