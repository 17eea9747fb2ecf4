"""Hostile and faulty cases of the corpus index (attncli index, --index): files that are not an
index or are damaged, a newer schema, a missing shard, a locked or busy index, two builds at
once, builds interrupted by real signals (SIGINT, SIGTERM, kill -9) and by a full disk, and an
index of other files than the user thinks. Each ends with one `attncli: error:` line (or a note
where the results stay right), an exit code, no traceback, and the previous index unchanged."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from attncli import store
from attncli.cli import app

from .test_hostile import ATTNCLI, assert_error, proc, small_tmpfs  # noqa: F401 (a fixture)

runner = CliRunner()
TEXT = "the bank raised its rates\n\nwe sat on the river bank\nmoney in the bank\n"


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def corpus(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text(TEXT)
    b = tmp_path / "b.txt"
    b.write_text("the bank of the river\nthe bank again\n")
    return a, b


@pytest.fixture
def db(tmp_path, corpus):
    path = tmp_path / "c.db"
    assert cli("index", "build", *corpus, "-o", path, "-q").exit_code == 0
    return path


def state(path: Path, check: bool = True) -> tuple:
    """What an index answers: its info (without times), and a query's result."""
    info = json.loads(cli("index", "info", path, "--json", *(["--check"] if check else [])).stdout)
    assert info.pop("check", ["ok"]) == ["ok"]
    info.pop("built"), info.pop("created")
    for f in info["file_list"]:
        f.pop("indexed"), f.pop("state")
    query = cli("senses", "bank", "--index", path, "--json", "-k", "1")
    return info, query.exit_code, query.stdout


def big_corpus(path: Path, mb: int = 24) -> Path:
    """Lines of real-looking words, about `mb` MB: a build of some seconds."""
    rng = np.random.default_rng(0)
    words = np.array("the bank river money water of and a in to loan stream boat".split())
    lines = [" ".join(words[rng.integers(0, len(words), 16)]) for _ in range(4000)]
    block = ("\n".join(lines) + "\n").encode()
    with open(path, "wb") as f:
        for _ in range(mb * (1 << 20) // len(block)):
            f.write(block)
    return path


# ---------------------------------------------------------------- not an index, damaged, newer


def _not_indexes(tmp_path) -> dict[str, Path]:
    made = {}
    made["text"] = tmp_path / "text.db"
    made["text"].write_text("the bank\n" * 100)
    made["empty"] = tmp_path / "empty.db"
    made["empty"].write_bytes(b"")
    made["sqlite"] = tmp_path / "other.sqlite"
    with sqlite3.connect(made["sqlite"]) as c:
        c.execute("CREATE TABLE t(x)")
    made["gzip"] = tmp_path / "corpus.db.gz"
    import gzip

    made["gzip"].write_bytes(gzip.compress(b"SQLite format 3\x00" + b"\x00" * 4000))
    return made


@pytest.mark.parametrize("kind, fragment", [
    ("text", "not an attncli index (not an SQLite database)"),
    ("empty", "an empty file, not an attncli index"),
    ("sqlite", "an SQLite database, but not an attncli index"),
    ("gzip", "not an attncli index"),
])
def test_not_an_index_is_one_line_everywhere(tmp_path, corpus, kind, fragment):
    path = _not_indexes(tmp_path)[kind]
    before = path.read_bytes()
    assert_error(cli("index", "info", path), 1, fragment)
    assert_error(cli("senses", "bank", "--index", path), 1, fragment)
    assert_error(cli("eval", "pseudowords", "--index", path), 1, fragment)
    assert_error(cli("compare", "--word", "bank", "--index", path), 1, fragment)
    assert_error(cli("index", "build", *corpus, "-o", path), 1, fragment)
    assert path.read_bytes() == before  # never overwritten


@pytest.mark.parametrize("target, code, fragment", [
    ("missing.db", 1, "no such file"),
    ("/dev/null", 1, "not a regular file"),
])
def test_a_missing_or_odd_index_is_one_line(tmp_path, target, code, fragment):
    path = target if target.startswith("/") else tmp_path / target
    assert_error(cli("senses", "bank", "--index", path), code, fragment)
    assert_error(cli("index", "info", path), code, fragment)


def test_a_directory_or_fifo_as_the_index(tmp_path, corpus):
    assert_error(cli("senses", "bank", "--index", tmp_path), 2, "directory")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert_error(cli("senses", "bank", "--index", fifo), 1, "not a regular file")
    assert_error(cli("index", "build", *corpus, "-o", fifo), 1, "not a regular file")


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=3000), sqlite_header=st.booleans())
def test_any_bytes_as_an_index_are_one_line(tmp_path_factory, data, sqlite_header):
    path = tmp_path_factory.mktemp("bytes") / "x.db"
    path.write_bytes((b"SQLite format 3\x00" if sqlite_header else b"") + data)
    r = cli("index", "info", path)
    assert_error(r, 1)


def test_a_truncated_index_is_damaged(tmp_path):
    src = big_corpus(tmp_path / "big.txt", mb=2)
    db = tmp_path / "c.db"
    assert cli("index", "build", src, "-o", db, "-q").exit_code == 0
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 2)
    assert_error(cli("index", "info", db, "--check"), 1, "damaged")
    assert_error(cli("senses", "bank", "--index", db), 1, "damaged")


def test_overwritten_pages_are_found_by_check(tmp_path):
    src = big_corpus(tmp_path / "big.txt", mb=2)
    db = tmp_path / "c.db"
    assert cli("index", "build", src, "-o", db, "-q").exit_code == 0
    size = db.stat().st_size
    with open(db, "r+b") as f:  # garbage over pages in the middle (lines, FTS segments)
        for at in range(size // 4, 3 * size // 4, size // 16):
            f.seek(at)
            f.write(os.urandom(4096))
    r = cli("index", "info", db, "--check")
    assert_error(r, 1, "damaged")


@pytest.mark.parametrize("version, fragment", [(store.SCHEMA_VERSION + 1, "made by a newer attncli"),
                                               (0, "made by an older attncli")])
def test_another_schema_is_one_line(db, corpus, version, fragment):
    with sqlite3.connect(db) as c:
        c.execute(f"PRAGMA user_version = {version}")
    before = db.read_bytes()
    assert_error(cli("senses", "bank", "--index", db), 1, fragment)
    assert_error(cli("index", "info", db), 1, fragment)
    assert_error(cli("index", "build", *corpus, "-o", db), 1, fragment, "nothing written")
    assert db.read_bytes() == before


def test_other_search_keys_are_refused_for_updates_and_noted_on_queries(db, corpus):
    with sqlite3.connect(db) as c:
        c.execute("UPDATE meta SET value = 'attncli-key/0 unicode/1.0' WHERE key = 'key'")
    assert_error(cli("index", "build", *corpus, "-o", db), 1, "built with search keys 'attncli-key/0 unicode/1.0'")
    r = cli("senses", "bank", "--index", db, "--json")
    assert r.exit_code == 0 and "may be missed; build the index again to be sure" in r.stderr


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_a_missing_shard_is_one_line(tmp_path, corpus):
    pytest.importorskip("dask")
    db = tmp_path / "d.db"
    assert cli("index", "build", *corpus, "-o", db, "--engine", "dask", "-q").exit_code == 0
    next((tmp_path / "d.db.shards").glob("shard-*.db")).unlink()
    assert_error(cli("senses", "bank", "--index", db), 1, "a shard of", "is missing")


# ---------------------------------------------------------------- locked, busy, concurrent


def test_a_build_waits_then_fails_when_another_holds_the_index(db, corpus, monkeypatch):
    monkeypatch.setattr(store, "BUSY_TIMEOUT", 0.3)
    before = state(db)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # what a running build holds
    try:
        corpus[0].write_text("changed text about a bank\n")
        assert_error(cli("index", "build", *corpus, "-o", db), 1, "locked by another process")
    finally:
        other.execute("ROLLBACK")
        other.close()
    corpus[0].write_text(TEXT)
    assert state(db) == before


def test_readers_see_the_index_before_a_build_never_half(db, corpus):
    before = state(db, check=False)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM files")  # a build, half way
    try:
        assert state(db, check=False) == before
        assert_error(cli("index", "info", db, "--check"), 1, "locked by another process")  # never "damaged"
    finally:
        writer.execute("ROLLBACK")
        writer.close()


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("existing", [False, True])
def test_two_builds_at_once_never_corrupt(tmp_path, corpus, existing):
    big = big_corpus(tmp_path / "big.txt", mb=6)
    db = tmp_path / "c.db"
    if existing:
        assert cli("index", "build", corpus[0], "-o", db, "-q").exit_code == 0
    ps = [subprocess.Popen([ATTNCLI, "index", "build", str(f), str(big), "-o", str(db), "-q"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE) for f in corpus]
    results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in ps]
    for code, err in results:
        assert code in (0, 1) and "Traceback" not in err
        if code == 1:
            assert err.count("\n") == 1 and err.startswith("attncli: error: "), err
    assert any(code == 0 for code, _ in results)
    info, code, _ = state(db)
    assert code == 0 and str(big) in [f["name"] for f in info["file_list"]]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".c.db.tmp-")]


# ---------------------------------------------------------------- interrupted builds


def _start_build(*args) -> subprocess.Popen:
    return subprocess.Popen([ATTNCLI, "index", "build", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(path: Path, p: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert p.poll() is None, p.stderr.read()
        assert time.monotonic() < end
        time.sleep(0.01)
    time.sleep(0.3)  # well into the writing


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -9)])
def test_an_interrupted_update_leaves_the_index_as_it_was(tmp_path, db, corpus, sig, code):
    before = state(db)
    big = big_corpus(tmp_path / "big.txt")
    p = _start_build(*corpus, big, "-o", db)
    _wait_for(Path(f"{db}-journal"), p)  # the update has begun writing
    p.send_signal(sig)
    assert p.wait(timeout=60) == code
    err = p.stderr.read().decode()
    if sig != signal.SIGKILL:
        assert err.endswith({130: "attncli: error: interrupted\n", 143: "attncli: error: terminated\n"}[code]), err
        assert not Path(f"{db}-journal").exists()
    assert state(db) == before  # a hot journal (kill -9) is rolled back by the next reader


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_an_interrupted_first_build_leaves_no_index(tmp_path, corpus, sig):
    big = big_corpus(tmp_path / "big.txt")
    db = tmp_path / "new.db"
    p = _start_build(*corpus, big, "-o", db)
    end = time.monotonic() + 60
    while not [x for x in tmp_path.iterdir() if x.name.startswith(".new.db.tmp-")]:
        assert p.poll() is None and time.monotonic() < end
        time.sleep(0.01)
    time.sleep(0.3)
    p.send_signal(sig)
    p.wait(timeout=60)
    assert not db.exists()
    left = [x for x in tmp_path.iterdir() if x.name.startswith(".new.db.tmp-")]
    assert left == [] if sig == signal.SIGTERM else len(left) == 1  # kill -9 cannot clean up
    assert cli("index", "build", *corpus, "-o", db, "-q").exit_code == 0  # ... the next build does
    assert not [x for x in tmp_path.iterdir() if x.name.startswith(".new.db.tmp-")]


def _limited(limit: int, *args) -> subprocess.CompletedProcess:
    """attncli in a process whose files may not grow past `limit` bytes (RLIMIT_FSIZE, SIGXFSZ
    ignored): writes fail as on a full disk, without root."""
    code = ("import resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
            "from attncli.cli import main\n"
            f"sys.argv = ['attncli', *{[str(a) for a in args]!r}]\n"
            "main()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_a_write_limit_mid_build_leaves_the_index_as_it_was(tmp_path, db, corpus):
    before = state(db)
    big = big_corpus(tmp_path / "big.txt", mb=2)
    r = _limited(db.stat().st_size + 200_000, "index", "build", *corpus, big, "-o", db)
    assert_error(r, 1, str(db), "the index is as it was")
    assert state(db) == before
    r = _limited(100_000, "index", "build", *corpus, big, "-o", tmp_path / "new.db")
    assert_error(r, 1, "new.db", "nothing written")
    assert not (tmp_path / "new.db").exists() and not [x for x in tmp_path.iterdir() if ".tmp-" in x.name]


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_a_full_disk_leaves_the_index_as_it_was(tmp_path, corpus, small_tmpfs):
    db = small_tmpfs / "c.db"
    assert cli("index", "build", *corpus, "-o", db, "-q").exit_code == 0
    before = state(db)
    big = big_corpus(tmp_path / "big.txt", mb=2)
    r = proc("index", "build", *corpus, big, "-o", db)
    assert_error(r, 1, "full", "the index is as it was")
    assert state(db) == before
    r = proc("index", "build", big, "-o", small_tmpfs / "new.db")
    assert_error(r, 1, "nothing written")
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["c.db"]


def test_a_file_changing_while_indexed_is_one_line(tmp_path, corpus, monkeypatch):
    original = store._HashingReader.read

    grown = []

    def read_and_grow(self, n=-1):
        data = original(self, n)
        if not grown:  # another process appends, once, while the file is read
            grown.append(1)
            with open(corpus[0], "a") as f:
                f.write("more\n")
        return data

    monkeypatch.setattr(store._HashingReader, "read", read_and_grow)
    assert_error(cli("index", "build", *corpus, "-o", tmp_path / "c.db"), 1, "changed while it was being indexed")
    assert not (tmp_path / "c.db").exists()


# ---------------------------------------------------------------- other files than the user thinks


def test_i_names_a_file_the_index_does_not_hold(db, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("the bank\n")
    assert_error(cli("senses", "bank", "--index", db, "-i", other), 1, "other.txt: not in", "attncli index build")
    assert_error(cli("compare", "--word", "bank", "--index", db, "-i", other), 1, "not in")
    assert_error(cli("eval", "pseudowords", other, "--index", db), 1, "not in")


def test_i_names_a_file_changed_since_it_was_indexed(db, corpus):
    corpus[0].write_text(TEXT + "one more bank\n")
    assert_error(cli("senses", "bank", "--index", db, "-i", corpus[0]), 1, "changed since", "update the index")
    corpus[1].unlink()
    r = cli("senses", "bank", "--index", db, "--json")  # the whole index: the indexed text answers, with a note
    assert r.exit_code == 0 and "2 of 2 files changed since they were indexed" in r.stderr and "gone" in r.stderr


@pytest.mark.parametrize("args, code, fragment", [
    (["senses", "bank"], 2, "give the corpus: -i FILE"),
    (["eval", "pseudowords"], 2, "give the corpus: CORPUS files, or --index DB"),
    (["senses", "bank", "--index", "{db}", "-i", "-"], 2, "standard input is not one of"),
    (["senses", "bank", "--index", "{db}", "--engine", "dask"], 2, "--engine dask and --scheduler are for -i"),
    (["compare", "--word", "bank", "--index", "{db}", "--max-line-bytes", "5"], 2, "No such option"),
    (["compare", "--word", "river bank", "--index", "{db}"], 2, "--word must be a single token"),
    (["index", "build", "{a}", "-o", "{db}", "--max-line-bytes", "99"], 2, "built with --max-line-bytes 1,000,000"),
    (["index", "build", "-", "-o", "{tmp}/x.db"], 2, "reads files, not standard input"),
    (["index", "build", "{tmp}/nothing*.txt", "-o", "{tmp}/x.db"], 1, "no file matches"),
    (["index", "build", "{tmp}", "-o", "{tmp}/x.db"], 1, "is a directory"),
    (["index", "build", "{a}", "-o", "{tmp}"], 2, "directory"),
    (["index", "build", "{a}", "-o", "{tmp}/no/such/dir/x.db"], 1, "no such directory"),
    (["index", "build", "{a}", "-o", "{tmp}/x.db", "--scheduler", "tcp://x:1"], 2, "--scheduler needs --engine dask"),
    (["index", "build", "-o", "{tmp}/x.db"], 2, "give the files to index"),
    (["index", "build", "{a}"], 2, "Missing option '-o'"),
    (["index", "info"], 2, "Missing argument 'DB'"),
    (["index", "build", "{a}", "-o", "{tmp}/x.db", "--max-line-bytes", "0"], 2, "0 is not in the range"),
])
def test_usage_and_input_errors_are_one_line(tmp_path, db, corpus, args, code, fragment):
    args = [a.format(db=db, a=corpus[0], tmp=tmp_path) for a in args]
    assert_error(cli(*args), code, fragment)


def test_senses_max_line_bytes_above_the_builds(db):
    assert_error(cli("senses", "bank", "--index", db, "--max-line-bytes", "2000000"), 2,
                 "built with --max-line-bytes 1,000,000")


def test_a_fifo_named_as_corpus_is_refused(tmp_path, corpus):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert_error(cli("index", "build", fifo, "-o", tmp_path / "x.db"), 2, "not a regular file")
    assert not (tmp_path / "x.db").exists()


def test_odd_file_names_and_text_show_as_text(tmp_path):
    name = tmp_path / "a\x1b[31mred\u202e.txt"
    name.write_text("the bank \x1b[2J of the river\nthe bank\n")
    db = tmp_path / "c.db"
    assert cli("index", "build", name, "-o", db, "-q").exit_code == 0
    r = cli("index", "info", db)
    assert r.exit_code == 0 and "\x1b" not in r.stdout and "\\x1b" in r.stdout


def test_a_readonly_index_can_be_queried(db, monkeypatch):
    """An index on read-only media, or of another user: opened read-only (mode=ro), no journal,
    no WAL files needed (root can write anything, so os.access says no here)."""
    monkeypatch.setattr(store, "_writable", lambda path: False)
    os.chmod(db, 0o444)
    os.chmod(db.parent, 0o555)
    try:
        r = cli("senses", "bank", "--index", db, "--json", "-k", "1")
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["n"] == 5
        assert sorted(p.name for p in db.parent.iterdir()) == ["a.txt", "b.txt", "c.db"]
    finally:
        os.chmod(db.parent, 0o755)
        os.chmod(db, 0o644)
