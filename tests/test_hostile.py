"""Hostile and faulty input, class by class (docs/errors.md): every case ends with an exit code
in 0-3 (or 130/143 for signals), one `attncli: error:` line and no traceback, and leaves
nothing replaced, half-written or behind. Hostile files are made with real tools: gensim
writes then we cut, gzip compresses then we flip a bit, mknod makes devices (as root), a
tmpfs fills up (as root), real pickles carry a marker, real signals hit real processes.
"""

from __future__ import annotations

import errno
import gzip
import json
import math
import os
import pickle
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.errors import DataError

from .helpers import SMALL_VECTORS, SMALL_WORDS

ATTNCLI = str(Path(sys.executable).with_name("attncli"))
ROOT = os.geteuid() == 0
SENTENCES = "money bank grows\nthe river bank\n"


def cli(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def proc(*args, timeout=120, **kw):
    """A real process (fds, signals and devices behave as in a shell)."""
    kw.setdefault("capture_output", True)
    return subprocess.run([ATTNCLI, *map(str, args)], timeout=timeout, **kw)


def assert_error(result, code: int, *fragments: str) -> str:
    """Exit `code`, exactly one stderr line `attncli: error: ...` holding every fragment, no
    traceback. Works for CliRunner results and CompletedProcess."""
    rc = getattr(result, "exit_code", None)
    rc = result.returncode if rc is None else rc
    err = result.stderr if isinstance(result.stderr, str) else result.stderr.decode("utf-8", "replace")
    assert rc == code, (rc, err)
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("attncli: error:")]
    assert len(errors) == 1, err
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def no_temps(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


@pytest.fixture
def sentences(tmp_path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text(SENTENCES)
    return path


def _kv(words, vectors):
    from gensim.models import KeyedVectors

    vectors = np.asarray(vectors, dtype=np.float32)
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(list(words), vectors)
    return kv


# ---------------------------------------------------------------- output never replaces a non-regular file


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_fifo_output_is_streamed_into_and_stays_a_fifo(tmp_path, sentences):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = proc("batch", "-i", sentences, "-o", fifo, "-f", "jsonl", "-q")
    reader.join(30)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [json.loads(line)["tokens"] for line in got[0].splitlines()] == [["money", "bank", "grows"], ["the", "river", "bank"]]
    assert no_temps(tmp_path)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("flag", ["-o", "--html", "--svg"])
def test_dev_null_stays_a_character_device(tmp_path, sentences, flag):
    before = os.stat("/dev/null")
    args = ["batch", "-i", sentences, "-o", "/dev/null", "-f", "npz", "-q"] if flag == "-o" else ["embed", "money bank", flag, "/dev/null"]
    r = proc(*args)
    assert r.returncode == 0, r.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.skipif(not ROOT, reason="mknod needs root")
def test_a_character_device_made_with_mknod_is_written_into_not_replaced(tmp_path, sentences):
    dev = tmp_path / "null-device"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
    for args in (["batch", "-i", sentences, "-o", dev, "-f", "jsonl", "-q"], ["embed", "money bank", "--svg", dev, "--json"]):
        r = proc(*args)
        assert r.returncode == 0, r.stderr
        st = os.stat(dev)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert no_temps(tmp_path)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_dev_stdout_streams_into_the_shells_redirection(tmp_path, sentences):
    out = tmp_path / "redirected.jsonl"
    with open(out, "wb") as f:
        r = proc("batch", "-i", sentences, "-o", "/dev/stdout", "-f", "jsonl", "-q", stdout=f, stderr=subprocess.PIPE, capture_output=False)
    assert r.returncode == 0, r.stderr
    assert len(out.read_bytes().splitlines()) == 2
    assert os.path.islink("/dev/stdout") or stat.S_ISCHR(os.stat("/dev/stdout").st_mode)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_a_symlink_is_written_through_and_stays_a_link(tmp_path, sentences):
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real.name)
    dangling = tmp_path / "new-link.npz"
    dangling.symlink_to("made-by-attncli.npz")
    assert proc("batch", "-i", sentences, "-o", link, "-q").returncode == 0
    assert proc("batch", "-i", sentences, "-o", dangling, "-q").returncode == 0
    assert link.is_symlink() and dangling.is_symlink()
    assert len(real.read_text().splitlines()) == 2
    assert set(np.load(tmp_path / "made-by-attncli.npz").files) >= {"vectors", "tokens_utf8"}
    assert no_temps(tmp_path)


def test_write_atomic_refuses_a_directory_and_replaces_a_regular_file(tmp_path):
    from attncli.export import output_target, write_atomic

    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path, b"x")
    f = tmp_path / "a.json"
    f.write_text("old")
    write_atomic(f, b"new")
    assert f.read_text() == "new" and not output_target(f).stream and output_target("/dev/null").stream


# ---------------------------------------------------------------- never hang, never grow without bound


@pytest.fixture(scope="module")
def fasttext_bin(tmp_path_factory) -> Path:
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    corpus = [["the", "bank", "of", "the", "river"], ["money", "in", "the", "bank", "grows"]] * 10
    model = FastText(vector_size=6, min_count=1, epochs=1, bucket=500, min_n=2, max_n=3, seed=1, workers=1)
    model.build_vocab(corpus)
    model.train(corpus, total_examples=len(corpus), epochs=1)
    path = tmp_path_factory.mktemp("ft") / "ft.bin"
    save_facebook_model(model, str(path))
    return path


@pytest.mark.parametrize("damage", [
    lambda b: b[:300],  # inside the vocabulary: gensim would loop forever
    lambda b: b[:100],
    lambda b: b[:60],  # inside the header
    lambda b: b[:-3],  # inside the output matrix, which gensim never reads
    lambda b: b[:-1],
    lambda b: b + b"\0\0",  # bytes the header does not account for
], ids=["300-bytes", "100-bytes", "60-bytes", "3-bytes-short", "1-byte-short", "2-bytes-long"])
@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_truncated_or_padded_fasttext_is_one_error_and_never_hangs(tmp_path, fasttext_bin, damage):
    bad = tmp_path / "cut.bin"
    bad.write_bytes(damage(fasttext_bin.read_bytes()))
    r = proc("embed", "bank", "--vectors", bad, "--json", timeout=60)  # a regression hangs: the timeout fails it
    assert_error(r, 1, str(bad), "fastText")


def test_the_whole_fasttext_file_still_loads(fasttext_bin):
    r = cli("embed", "bank river", "--vectors", fasttext_bin, "--json")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("command, fragment", [
    (["batch", "-i", "/dev/zero", "-q"], "line 1"),
    (["compare", "-i", "/dev/zero", "-w", "bank"], "/dev/zero"),
    (["embed", "-"], "standard input"),  # the sentence from stdin, which is /dev/zero
])
@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_input_without_newlines_stops_with_one_line(command, fragment):
    t0 = time.monotonic()
    with open("/dev/zero", "rb") as zero:
        r = proc(*command, timeout=120, stdin=zero)
    assert_error(r, 1, fragment)
    assert time.monotonic() - t0 < 60


@pytest.mark.parametrize("args, fragment", [
    (["--config", "/dev/zero"], "not a settings file"),
    (["--mode", "qkv", "--weights", "/dev/zero"], "not a regular file"),
    (["--vectors", "/dev/zero"], "not a regular file"),
])
@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_a_device_as_an_input_file_is_one_line(args, fragment):
    assert_error(proc("embed", "money bank", *args, timeout=60), 1, "/dev/zero", fragment)


def test_an_over_long_line_is_an_error_record_and_the_rest_is_written(tmp_path):
    src = tmp_path / "long.txt"
    src.write_bytes(b"money bank\n" + b"a" * 5000 + b"\nthe river\n")
    r = cli("batch", "-i", src, "--max-line-bytes", "1000")
    assert r.exit_code == 3
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert [rec["line"] for rec in records] == [1, 2, 3]
    assert "--max-line-bytes" in records[1]["error"] and records[2]["tokens"] == ["the", "river"]


@pytest.mark.parametrize("limit, too_long", [(5, [2, 3, 4]), (6, [3, 4]), (13, [4]), (14, [])])
def test_jsonl_lines_over_the_limit_are_error_records_counted_without_the_line_end(limit, too_long):
    import io

    from attncli.batch import read_items

    data = b'"a"\n"abcd"\n"abcde"\r\n{"text":"x y"}\n'  # lines of 3, 6, 7 and 14 bytes, then "\r\n" / "\n"
    items = list(read_items(io.BufferedReader(io.BytesIO(data)), "jsonl", max_line_bytes=limit))
    assert [line for line, _ in items] == [1, 2, 3, 4]
    assert [line for line, item in items if "--max-line-bytes" in getattr(item, "error", "")] == too_long


def test_a_long_command_line_sentence_is_refused_before_building_its_matrix():
    r = cli("embed", " ".join(["bank money river"] * 40), "--json", "--max-attention-cells", "1000")
    assert_error(r, 1, "120 tokens", "--max-attention-cells", "batch -i")


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_zip_bomb_weights_fail_on_the_header_before_allocating(tmp_path):
    import zipfile

    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("W_q.npy", "w", force_zip64=True) as out:  # claims 4 GB, holds 64 MB of zeros
            np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False, "shape": (50, 20_000_000)})
            for _ in range(4):
                out.write(bytes(1 << 24))
    assert bomb.stat().st_size < 1 << 20
    t0 = time.monotonic()
    r = cli("embed", "money bank", "--mode", "qkv", "--weights", bomb)
    assert_error(r, 1, "W_q", "1,000,000,000 values")
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("arrays, fragment", [
    ({"W_q": np.float32(1)}, "expected a 2-d array, found shape ()"),
    ({"W_q": np.zeros((50, 0), np.float32)}, "no columns"),
    ({"W_q": np.array([None, 1], dtype=object)}, "Python objects"),
])
def test_weights_of_the_wrong_kind_are_refused_by_their_header(tmp_path, arrays, fragment):
    ok = np.ones((50, 4), np.float32)
    path = tmp_path / "w.npz"
    np.savez(path, **{"W_k": ok, "W_v": ok, **arrays})
    assert_error(cli("embed", "money bank", "--mode", "qkv", "--weights", path), 1, fragment)


# ---------------------------------------------------------------- no NaN, inf or garbage


@pytest.mark.parametrize("args, fragment", [
    (["--prior-a", "inf"], "--prior-a"),
    (["--prior-a", "nan"], "--prior-a"),
    (["--temperature", "inf"], "--temperature"),
    (["--temperature", "1e-300"], "--temperature"),
    (["--residual", "nan"], "--residual"),
])
def test_option_values_must_be_finite_and_in_range(args, fragment):
    assert_error(cli("embed", "money bank", "--json", *args), 2, fragment)


def test_huge_weights_stop_naming_the_weights_file_not_printing_null(tmp_path):
    path = tmp_path / "huge.npz"
    big = np.full((50, 4), 1e38, np.float32)
    np.savez(path, W_q=big, W_k=big, W_v=np.ones((50, 4), np.float32))
    r = cli("embed", "money bank grows", "--mode", "qkv", "--weights", path, "--json")
    assert_error(r, 1, "not finite", "huge.npz")
    assert "null" not in r.stdout


def test_nan_in_weights_names_key_and_row(tmp_path):
    w = np.ones((50, 4), np.float32)
    w[7, 2] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, W_q=np.ones((50, 4), np.float32), W_k=np.ones((50, 4), np.float32), W_v=w)
    assert_error(cli("embed", "money bank", "--mode", "qkv", "--weights", path), 1, "W_v", "row 8")


def test_vectors_of_1e30_with_textbook_stop_naming_the_vectors(tmp_path):
    path = tmp_path / "huge.txt"
    _kv(["a", "b", "c"], [[1e30, 1e30], [1e30, -1e30], [2, 2]]).save_word2vec_format(str(path))
    r = cli("embed", "a b c", "--vectors", path, "--textbook", "--json")
    assert_error(r, 1, "not finite", "huge.txt")
    assert r.stdout == ""


def test_vectors_of_1e30_give_the_cosines_of_the_same_vectors_scaled_down(tmp_path):
    """Cosine attention and neighbours do not depend on scale: values near float32's limit
    must give the same weights and cosines as small ones, not zeros from an overflowed norm."""
    small, huge = tmp_path / "small.txt", tmp_path / "huge.txt"
    _kv(SMALL_WORDS, SMALL_VECTORS).save_word2vec_format(str(small))
    _kv(SMALL_WORDS, SMALL_VECTORS * np.float32(1e30)).save_word2vec_format(str(huge))
    a, b = (json.loads(cli("embed", "money bank grows the river", "--vectors", p, "--json").stdout) for p in (small, huge))
    np.testing.assert_allclose(a["attention"], b["attention"], atol=1e-6)
    a, b = (json.loads(cli("vectors", "neighbors", "bank", "--vectors", p, "--json").stdout) for p in (small, huge))
    assert [n["word"] for n in a["neighbors"]] == [n["word"] for n in b["neighbors"]]
    np.testing.assert_allclose([n["cosine"] for n in a["neighbors"]], [n["cosine"] for n in b["neighbors"]], atol=1e-6)


def test_nan_in_a_vector_file_names_word_and_row(tmp_path):
    path = tmp_path / "nan.txt"
    path.write_text("2 2\nok 1 2\nbad nan 1\n")
    assert_error(cli("embed", "ok bad", "--vectors", path), 1, "'bad'", "row 2")


# ---------------------------------------------------------------- faults: disk, signals, streams, damaged state


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs (root only): a real full disk."""
    if not ROOT:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "full"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mnt
    subprocess.run(["umount", str(mnt)], capture_output=True)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("name", ["out.npz", "out.jsonl"])
def test_a_full_disk_leaves_nothing_behind(tmp_path, small_tmpfs, name):
    src = tmp_path / "many.txt"
    src.write_text("money bank grows the river bank flows\n" * 3000)  # ~ 4 MB of vectors
    r = proc("batch", "-i", src, "-o", small_tmpfs / name, "-q")
    assert_error(r, 1, "No space left on device")
    assert list(small_tmpfs.iterdir()) == []


def test_enospc_while_closing_an_npz_removes_the_temp_folder(tmp_path, monkeypatch, sentences):
    """Without root (no tmpfs): the disk fills at the last step, the archive's rename."""
    import attncli.writers as writers

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writers.os, "replace", full)
    r = cli("batch", "-i", sentences, "-o", tmp_path / "out.npz")
    assert_error(r, 1, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_npz_tokens_of_any_characters_read_back_as_json_lines_has_them(tmp_path):
    """tokens_utf8 ends each token with a line feed: control characters, NUL, escapes, non-ASCII
    and unknown words (kept with --oov zero) still read back one per row, equal to the JSON
    Lines tokens: every character that splitlines() splits on is a space to the tokenizer."""
    from .helpers import npz_tokens

    src = tmp_path / "odd.txt"
    src.write_text("bank \x1b[31m red \x00 nul\nnaïve café 日本 qqzzxx bank\nthe\x0bbank\x1cof\x85the\u2028river\n", encoding="utf-8")
    ok_npz = cli("batch", "-i", src, "-o", tmp_path / "out.npz", "--oov", "zero")
    ok_jsonl = cli("batch", "-i", src, "-o", tmp_path / "out.jsonl", "--oov", "zero")
    assert ok_npz.exit_code == ok_jsonl.exit_code == 0, ok_npz.stderr
    z = np.load(tmp_path / "out.npz", allow_pickle=False)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    tokens = npz_tokens(z)
    assert tokens == [t for r in records for t in r["tokens"]] and len(tokens) == len(z["vectors"])
    assert "\x1b" in tokens and "\x00" in tokens and "日本" in tokens and "qqzzxx" in tokens


def test_a_write_failing_in_the_writer_thread_stops_the_run_and_leaves_nothing(tmp_path, monkeypatch, sentences):
    """The vectors of a .npz are written by a thread of their own: its failure (a full disk)
    still ends the run with one line naming it, and removes the temp folder."""
    import attncli.writers as writers

    calls = []

    def full(data, value=0):
        calls.append(len(data))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writers.zlib, "crc32", full)
    big = tmp_path / "big.txt"
    big.write_text(sentences.read_text() * 4000)  # many chunks: the failure comes while more are queued
    r = cli("batch", "-i", big, "-o", tmp_path / "out.npz")
    assert_error(r, 1, "No space left on device")
    assert calls and sorted(p.name for p in tmp_path.iterdir()) == ["big.txt", "in.txt"]


def _foreground():
    """In the child: SIGINT as in a shell's foreground job (a test run may have left it ignored,
    which children inherit, as a shell's background jobs do)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_temp(directory: Path, p: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.monotonic()
    while no_temps(directory):
        assert p.poll() is None, p.communicate()
        assert time.monotonic() - t0 < timeout
        time.sleep(0.05)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("name", ["out.jsonl", "out.npz"])
def test_a_signal_mid_batch_exits_cleanly_and_leaves_nothing(tmp_path, sig, code, name):
    out = tmp_path / name
    p = subprocess.Popen([ATTNCLI, "batch", "-i", "-", "-o", str(out), "-q"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_foreground)
    p.stdin.write(SENTENCES.encode() * 2000)
    p.stdin.flush()
    _wait_for_temp(tmp_path, p)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    p.stdin.close()
    assert_error(subprocess.CompletedProcess(p.args, p.returncode, b"", err), code)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_kill_9_leaves_a_temp_that_the_next_run_removes(tmp_path, sentences):
    out = tmp_path / "out.jsonl"
    p = subprocess.Popen([ATTNCLI, "batch", "-i", "-", "-o", str(out), "-q"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.stdin.write(b"money bank\n")
    p.stdin.flush()
    _wait_for_temp(tmp_path, p)
    p.kill()
    p.wait(30)
    p.stdin.close()
    left = [q for q in tmp_path.iterdir() if q.name.endswith(".tmp")]
    assert len(left) == 1 and f".{p.pid}-" in left[0].name
    assert proc("batch", "-i", sentences, "-o", out, "-q").returncode == 0
    assert sorted(q.name for q in tmp_path.iterdir()) == ["in.txt", "out.jsonl"]


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("command", ["embed", "compare", "eval", "train"])
def test_every_command_ends_a_signal_with_its_code_and_no_traceback(tmp_path, command, sig, code):
    """The command blocks reading a FIFO (its handler is installed by then); the signal lands."""
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    wic = Path("/work/shared/wic")  # any readable file does: the FIFO is read first
    args = {
        "embed": ["embed", "money bank", "--config", fifo],
        "compare": ["compare", "-i", fifo, "-w", "bank"],
        "eval": ["eval", "wic", fifo, fifo, "--fit-data", fifo, "--fit-gold", fifo],
        "train": ["train", "wic", fifo, fifo, "-o", tmp_path / "w.npz"],
    }[command]
    p = subprocess.Popen([ATTNCLI, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_foreground)
    with open(fifo, "wb"):  # returns once attncli has opened the FIFO for reading
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
    assert_error(subprocess.CompletedProcess(p.args, p.returncode, out, err), code)
    assert not (tmp_path / "w.npz").exists() and wic  # nothing under the final name


@pytest.mark.parametrize("damage", ["truncate vectors.npy", "remove vectors.npy", "bad utf-8 in vocab.txt", "short vocab.txt"])
def test_a_damaged_cache_entry_is_discarded_and_rebuilt(tmp_path, damage):
    from attncli import cache
    from attncli.vectors import load_vectors

    path = tmp_path / "v.txt"
    _kv(SMALL_WORDS, SMALL_VECTORS).save_word2vec_format(str(path))
    load_vectors(path)
    (entry,) = cache.entries()
    target = entry.dir / ("vocab.txt" if "vocab" in damage else "vectors.npy")
    if damage.startswith("truncate"):
        target.write_bytes(target.read_bytes()[:-5])
    elif damage.startswith("remove"):
        target.unlink()
    elif damage.startswith("bad"):
        target.write_bytes(b"\xff\xfe\n" * len(SMALL_WORDS))
    else:
        target.write_text("money\n")
    r = cli("embed", "money bank", "--vectors", path, "--json")
    assert r.exit_code == 0, r.output
    assert "damaged" in r.stderr and "Traceback" not in r.stderr
    np.testing.assert_array_equal(json.loads(r.stdout)["static"][0], SMALL_VECTORS[0])
    assert cli("embed", "money", "--vectors", path).stderr.count("damaged") == 0  # fixed for good


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("args", [["embed", "money bank", "--json"], ["embed", "money bank"], ["batch", "-i", "-"]])
def test_full_stdout_is_one_line_naming_stdout(args):
    with open("/dev/full", "wb") as full:
        r = proc(*args, input=SENTENCES.encode(), stdout=full, stderr=subprocess.PIPE, capture_output=False)
    assert_error(r, 1, "standard output", "No space left")


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_closed_stdout_and_closed_stdin_are_one_line(tmp_path):
    r = subprocess.run(["sh", "-c", f'"{ATTNCLI}" embed "money bank" --json >&-'], capture_output=False,
                       stderr=subprocess.PIPE, timeout=60)
    assert_error(r, 1, "standard output is closed")
    for args in ('batch -i -', 'compare -i - -w bank'):
        r = subprocess.run(["sh", "-c", f'"{ATTNCLI}" {args} <&-'], capture_output=True, timeout=60)
        assert_error(r, 1, "standard input is closed")


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_a_broken_pipe_stays_quiet():
    r = subprocess.run(["sh", "-c", f'yes "money bank grows" | head -5000 | "{ATTNCLI}" batch -i - | head -c 10'],
                       capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stderr == b"" and len(r.stdout) == 10


# ---------------------------------------------------------------- tracebacks and misleading messages


@pytest.mark.parametrize("kind", ["word2vec", "glove", "word2vec-bin"])
def test_repeated_words_keep_the_first_vector_with_a_warning(tmp_path, kind):
    path = tmp_path / f"dup.{kind}"
    _kv(["a", "b", "c"], [[1, 2], [3, 4], [5, 6]]).save_word2vec_format(
        str(path), binary=kind == "word2vec-bin", write_header=kind != "glove")
    data = path.read_bytes()
    path.write_bytes(data.replace(b"c ", b"a ", 1) if kind == "word2vec-bin" else data.replace(b"\nc ", b"\na "))
    r = cli("embed", "a b", "--vectors", path, "--vectors-format", kind, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["static"] == [[1, 2], [3, 4]]
    assert json.loads(r.stdout)["vectors"]["vocab_size"] == 2
    where = {"word2vec": "line 4", "glove": "line 3", "word2vec-bin": "row 3"}[kind]
    assert "repeated word 'a'" in r.stderr and where in r.stderr


@pytest.mark.parametrize("seed", range(4))
def test_a_bit_flipped_gz_is_one_line(tmp_path, seed):
    text = "".join(f"w{i} {i} 1 2\n" for i in range(200)).encode()
    data = bytearray(gzip.compress(text))
    rng = np.random.default_rng(seed)
    data[int(rng.integers(12, len(data) - 8))] ^= 1 << int(rng.integers(8))
    path = tmp_path / "flip.txt.gz"
    path.write_bytes(bytes(data))
    r = cli("embed", "w1 w2", "--vectors", path, "--vectors-format", "glove", "--json")
    if r.exit_code == 0:  # a flip gzip cannot see (it changed a digit only): the numbers still parse
        return
    assert_error(r, 1, "flip.txt.gz")


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_invalid_utf8_in_the_sentence_argument(tmp_path):
    r = proc("embed", os.fsdecode(b"money \xff bank"), "--json")
    assert_error(r, 1, "not valid UTF-8")


@pytest.mark.parametrize("flag", ["--limit", "--center", "--seed"])
def test_integers_past_int64_are_usage_errors(flag):
    assert_error(cli("embed", "money bank", "--json", flag, str(2**64)), 2, flag)


@pytest.mark.parametrize("flag", ["--batch-size", "--max-attention-cells", "--max-line-bytes"])
def test_batch_integers_past_int64_are_usage_errors(sentences, flag):
    assert_error(cli("batch", "-i", sentences, flag, str(2**64)), 2, flag)


def test_seed_minus_one_blames_the_seed():
    assert_error(cli("embed", "money bank", "--mode", "qkv", "--weights", "random", "--seed", "-1"), 2, "--seed")


def test_dask_scheduler_garbage_is_a_usage_error(sentences, tmp_path):
    pytest.importorskip("distributed")
    r = cli("batch", "-i", sentences, "--engine", "dask", "--scheduler", "garbage://x", "-o", tmp_path / "shards")
    assert_error(r, 2, "--scheduler")


class _Marker:
    """Unpickling it creates the marker file: proof that code from the file ran."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_pickles_never_run_without_trust(tmp_path):
    marker = tmp_path / "PWNED"
    evil_kv = tmp_path / "evil.kv"
    evil_kv.write_bytes(pickle.dumps(_Marker(marker)))
    evil_npz = tmp_path / "evil.npz"
    np.savez(evil_npz, W_q=np.array([_Marker(marker)], dtype=object), W_k=np.ones((50, 4)), W_v=np.ones((50, 4)))
    bare_pickle = tmp_path / "bare.npz"
    bare_pickle.write_bytes(pickle.dumps(_Marker(marker)))
    assert_error(cli("embed", "money", "--vectors", evil_kv), 1, "--trust")
    assert_error(cli("embed", "money", "--mode", "qkv", "--weights", evil_npz), 1, "pickled")
    assert_error(cli("embed", "money", "--mode", "qkv", "--weights", bare_pickle), 1, "a Python pickle")
    assert not marker.exists()


def test_random_bytes_as_weights_are_not_called_pickles(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(300).replace(b"\x80", b"\x81").replace(b"PK", b"pk"))
    msg = assert_error(cli("embed", "money", "--mode", "qkv", "--weights", path), 1, "not an .npz archive")
    assert "pickle" not in msg


@pytest.fixture
def wic_files(tmp_path):
    rows = [("bank", "N", "1-1", "the bank grows", "a bank of the river", "F"),
            ("river", "N", "0-1", "river flows", "the river bank", "T"),
            ("money", "N", "0-0", "money grows", "money talks", "T"),
            ("zzqxv", "V", "0-0", "zzqxv !", "zzqxv the bank", "F"),
            ("zzqxv", "V", "0-0", "zzqxv ?", "zzqxv !", "T")]
    data, gold = tmp_path / "d.txt", tmp_path / "g.txt"
    data.write_text("".join("\t".join(r[:5]) + "\n" for r in rows))
    gold.write_text("".join(r[5] + "\n" for r in rows))
    return data, gold


def test_eval_wic_scores_every_pair_and_counts_fallbacks(wic_files):
    data, gold = wic_files
    r = cli("eval", "wic", data, gold, "--fit-data", data, "--fit-gold", gold, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n"] == 5 and out["fallbacks"] == 2
    assert "2 eval pair(s)" in r.stderr


def test_wic_errors_name_file_and_line(wic_files):
    data, gold = wic_files
    r = cli("eval", "wic", data, gold, "--fit-data", data, "--fit-gold", gold, "--oov", "error")
    assert_error(r, 1, f"{data}:4", "zzqxv")


def test_train_wic_on_one_target_word_says_more_data_is_needed(wic_files, tmp_path):
    data, gold = wic_files
    one, one_gold = tmp_path / "one.txt", tmp_path / "one-gold.txt"
    one.write_text(data.read_text().splitlines()[0] + "\n")
    one_gold.write_text("F\n")
    r = cli("train", "wic", one, one_gold, "-o", tmp_path / "w.npz")
    assert_error(r, 1, "more data")
    assert not (tmp_path / "w.npz").exists()


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_control_characters_never_reach_the_terminal():
    r = proc("embed", "money \x1b[31mred bank", "--oov", "zero", env=os.environ | {"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert b"\x1b[31m" not in r.stdout and b"\x1b" not in r.stderr
    assert b"\\x1b" in r.stdout and b"\\x1b" in r.stderr


def test_tables_show_tokens_as_written_never_as_markup_or_escapes(result_factory):
    from rich.console import Console

    from attncli.render import embed_renderables, neighbors_table

    result = result_factory(["[bold]", "x\x1b[31m", "[/]"])
    console = Console(record=True, width=200, color_system=None, file=open(os.devnull, "w"))
    for part in embed_renderables(result) + [neighbors_table(result.surfaces, [[("[red]", 0.5)]] * 3)]:
        console.print(part)
    text = console.export_text()
    assert "[bold]" in text and "[/]" in text and "[red]" in text and "x\\x1b[31m" in text
    assert "\x1b" not in text


# ---------------------------------------------------------------- property: any input, a clean end


def _finite_numbers(obj) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite_numbers(v) for v in obj.values())
    if isinstance(obj, list):
        return all(x is not None and _finite_numbers(x) for x in obj)
    return True


@pytest.fixture(scope="module")
def property_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("prop")
    good = d / "good.txt"
    _kv(SMALL_WORDS, SMALL_VECTORS).save_word2vec_format(str(good))
    return d, good


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_property_no_traceback_and_finite_json_whatever_the_input(property_files):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    d, good = property_files
    number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70)).map(repr)
    options = st.lists(st.tuples(
        st.sampled_from(["--temperature", "--prior-a", "--residual", "--heads", "--layers", "--center", "--seed", "--limit"]),
        number,
    ), max_size=3)
    fasttext_magic = (793712314).to_bytes(4, "little") + (12).to_bytes(4, "little")
    heads = st.sampled_from([b"", b"", fasttext_magic, b"PK\x03\x04", b"\x93NUMPY", b"\x80\x04", b"\x1f\x8b", b"3 2\n"])
    files = st.one_of(st.none(), st.tuples(
        st.sampled_from(["vectors", "weights"]), st.sampled_from(["txt", "bin", "npz", "gz"]),
        st.tuples(heads, st.binary(max_size=300)).map(b"".join),
    ))
    count = [0]
    codes = []

    words = st.one_of(st.sampled_from(SMALL_WORDS + ["!", "zzqxv", "\x1b[31m"]), st.text(max_size=8))
    sentences = st.lists(words, max_size=8).map(" ".join)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(sentence=sentences, opts=options, file=files, textbook=st.booleans())
    def run(sentence, opts, file, textbook):
        args = ["embed", sentence, "--json", "--vectors", str(good)]
        for flag, value in opts:
            args += [flag, value]
        if textbook:
            args.append("--textbook")
        if file is not None:
            count[0] += 1
            path = d / f"random-{count[0]}.{file[1]}"
            path.write_bytes(file[2])
            args += ["--vectors", str(path)] if file[0] == "vectors" else ["--mode", "qkv", "--weights", str(path)]
        r = CliRunner().invoke(app, args)
        codes.append(r.exit_code)
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exception)
        assert r.exit_code in (0, 1, 2, 3), (args, r.exit_code, r.output)
        assert "Traceback" not in r.output
        if r.exit_code == 0:
            out = json.loads(r.stdout)
            assert _finite_numbers(out), args
        else:
            assert r.stderr.startswith("attncli: error:") or "attncli: error:" in r.stderr, (args, r.stderr)

    run()
    assert codes.count(0) >= 5 and codes.count(2) >= 5 and codes.count(1) >= 5, codes  # each outcome is exercised


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_property_batch_of_random_bytes_writes_a_record_per_line_not_blank(tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    lines = st.lists(st.one_of(st.binary(max_size=40), st.sampled_from([b"money bank grows", b"the river", b"\xff\xfe", b"!"])),
                     min_size=1, max_size=12)

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(lines=lines, max_line=st.sampled_from(["5", "1000000"]))
    def run(lines, max_line):
        data = b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n"
        r = CliRunner().invoke(app, ["batch", "-i", "-", "--max-line-bytes", max_line], input=data)
        assert r.exit_code in (0, 3), (data, r.exit_code, r.output)
        assert "Traceback" not in r.stderr
        records = [json.loads(line) for line in r.stdout.splitlines()]

        def blank(line: bytes) -> bool:  # whitespace only (and not over the limit): skipped, no record
            line = line.removesuffix(b"\r")
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                return False
            return len(line) <= int(max_line) and (not text or text.isspace())

        kept = [n for n, line in enumerate(data.split(b"\n")[:-1], 1) if not blank(line)]
        assert [rec["line"] for rec in records] == kept
        assert all(_finite_numbers(rec) for rec in records)
        assert (r.exit_code == 3) == any("error" in rec for rec in records)

    run()
