"""Batch embedding: the same numbers as one sentence at a time, file outputs, bad
lines, exit codes, atomic writes, long inputs in row blocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from attncli import attention as att
from attncli.batch import BatchEmbedder, BatchError, BatchOptions, embed_batch, read_items
from attncli.cli import app
from attncli.errors import DataError
from attncli.pipeline import Config, embed, get_vectors
from attncli.tokens import token_texts, tokenize

from .helpers import npz_tokens

TOL = dict(rtol=1e-6, atol=1e-6)

SENTENCES = [
    "The bank raised its interest rates .",
    "We sat on the river bank and watched the water .",
    "bank",  # one token: under --exclude-self its only row is fully masked
    "Money grows on trees , said nobody ever .",
    "",  # empty
    "... !?",  # only punctuation
    "xqzvw zzqxv",  # nothing in the vocabulary
    "The well-known money-bank of Mr. Smith's U.S. firm didn't pay 3.5 % .",
    "An xqzvw word that is unknown sits in this longer sentence about banks and rivers and money .",
    "Go .",
]

CONFIGS = [
    Config(),
    Config.textbook(),
    Config(center=0, residual=0.0),
    Config(causal=True),
    Config(exclude_self=True),
    Config(mode="qkv", weights="random", heads=2, seed=3),
    Config(positions="sinusoidal"),
    Config(prior="zipf"),
    Config(residual=0.3, layers=3),
    Config(similarity="cosine", causal=True, exclude_self=True),
    Config(oov="zero", prior="zipf", positions="sinusoidal"),
    Config(mode="qkv", weights="random", heads=5, layers=2, residual=0.5, positions="sinusoidal",
           prior="zipf", temperature=0.5, exclude_self=True, oov="zero"),
]


def _single(text, cfg):
    try:
        return embed(text, cfg)
    except DataError as e:
        return e


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.describe())
def test_embed_batch_equals_one_at_a_time(cfg):
    results = list(embed_batch(SENTENCES, cfg, batch_size=3))
    assert len(results) == len(SENTENCES)
    for line, (text, got) in enumerate(zip(SENTENCES, results), start=1):
        want = _single(text, cfg)
        if isinstance(want, DataError):
            assert isinstance(got, BatchError) and got.line == line and got.error == str(want)
            continue
        assert not isinstance(got, BatchError), got
        assert got.line == line
        assert (got.tokens, got.surfaces, got.positions, got.oov) == (want.tokens, want.surfaces, want.positions, want.oov)
        for field in ("static", "contextual", "attention", "heads"):
            a, b = getattr(got, field), getattr(want, field)
            assert a.shape == b.shape, field
            np.testing.assert_allclose(a, b, **TOL, err_msg=field)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("cfg", CONFIGS[:8], ids=lambda c: c.describe())
def test_fast_path_padding_and_blocks_equal_one_at_a_time(cfg):
    """The CLI's path: fast tokenizer, padded batches of mixed lengths, and (block_cells tiny)
    the longer sentences computed alone in row blocks."""
    texts = SENTENCES * 3 + [" ".join(["the bank of the river"] * 12)]
    for block_cells in (10**6, 50):
        emb = BatchEmbedder(cfg, options=BatchOptions(batch_size=4), block_cells=block_cells)
        chunk = emb.embed_chunk(list(enumerate(texts, start=1)))
        k = 0
        for line, text in enumerate(texts, start=1):
            want = _single(text, cfg)
            if isinstance(want, DataError):
                assert any(e.line == line and e.error == str(want) for e in chunk.errors)
                continue
            assert chunk.lines[k] == line and chunk.tokens[k] == want.tokens and chunk.oov[k] == want.oov
            got = chunk.contextual[chunk.offsets[k] : chunk.offsets[k + 1]]
            np.testing.assert_allclose(got, want.contextual, rtol=1e-5, atol=1e-5)
            k += 1
        assert k == len(chunk.lines)
        assert chunk.token_bytes().tobytes().decode().splitlines() == [t for s in chunk.tokens for t in s]


def test_uniform_batch_has_no_padding_effect_on_masked_rows():
    """Hand-checked property: under --causal the first token sees only itself, so its
    contextual vector is its static vector, in every sentence of a batch."""
    emb = BatchEmbedder(Config.textbook(causal=True), options=BatchOptions(batch_size=64, with_static=True))
    chunk = emb.embed_chunk(list(enumerate(SENTENCES, start=1)))
    first = chunk.offsets[:-1]
    np.testing.assert_allclose(chunk.contextual[first], chunk.static[first], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "settings,proj",
    [
        (att.AttentionSettings(), att.Projections.identity(50)),
        (att.AttentionSettings(causal=True, exclude_self=True, layers=3, residual=0.2, similarity="cosine"),
         att.Projections.glorot(50, 5, 1)),
        (att.AttentionSettings(exclude_self=True, temperature=0.3, layers=2), att.Projections.glorot(50, 2, 7)),
    ],
)
@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_blocked_equals_full_attention(settings, proj):
    vec = get_vectors()
    ids = np.random.default_rng(0).integers(0, 20000, 700)
    x = vec.rows(ids)  # (700, 50) real GloVe rows
    prior = att.zipf_prior(ids, vec.vocab_size)
    full = att.self_attention(x, settings, proj, key_bias=prior)[0]
    for block_cells in (1, 700 * 5 * 13, 10**9):  # one row, 13 rows, everything at once
        blocked = att.blocked_self_attention(x, settings, proj, prior, block_cells=block_cells)
        assert blocked.shape == full.shape
        # the same formula; float32 sums over 700 keys in another order: a few ulps
        np.testing.assert_allclose(blocked, full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(256, 1, 8, 8), (3, 4), (1000, 33), (64, 2, 16, 16), (5000, 1)])
def test_row_max_is_max(shape):
    a = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    a[::3, ..., 0] = -np.inf
    a[::7] = -np.inf  # fully masked rows
    np.testing.assert_array_equal(att._row_max(a), a.max(axis=-1, keepdims=True))


def test_blocked_causal_first_row_is_first_input():
    x = np.random.default_rng(1).normal(size=(300, 8)).astype(np.float32)
    out = att.blocked_self_attention(x, att.AttentionSettings(causal=True), att.Projections.identity(8), block_cells=40)
    np.testing.assert_allclose(out[0], x[0], rtol=1e-6)
    out = att.blocked_self_attention(x[:1], att.AttentionSettings(exclude_self=True), att.Projections.identity(8))
    assert not out.any()  # nothing to attend to: zeros, not NaN


@pytest.mark.parametrize(
    "text",
    ["Mr. Smith's well-known money-bank", "U.S. e.g. DON'T can't 3.5 1,000 ...", "‘quoted’ “twice”",
     "İstanbul straße ǅemal", "a . b", "mr. x", "mr. x .", "--x-- co-op -", "", "   "],
)
def test_token_texts_equals_tokenize(text):
    known = get_vectors().index.__contains__
    assert token_texts(text, known) == [t.text for t in tokenize(text, known)]
    assert token_texts(text) == [t.text for t in tokenize(text)]


def test_token_texts_equals_tokenize_fuzzed():
    """Random strings over the characters the repairs look at."""
    known = get_vectors().index.__contains__
    rng = np.random.default_rng(5)
    alphabet = list("ab.-' ’“") + ["mr", "st", "co", "op", "u.s", "n't", "well", "known", "MR", "İ"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet, rng.integers(0, 12)))
        assert token_texts(text, known) == [t.text for t in tokenize(text, known)], text


def test_read_items_bad_utf8_and_jsonl(tmp_path):
    p = tmp_path / "in.txt"
    p.write_bytes(b"one\r\n\xff\xfe two\nthree")
    with open(p, "rb") as f:
        items = list(read_items(f))
    assert [i[0] for i in items] == [1, 2, 3]
    assert items[0][1] == "one" and items[2][1] == "three"
    assert isinstance(items[1][1], BatchError) and "UTF-8" in items[1][1].error
    p.write_bytes(b'{"text": "a b"}\n{"t": 1}\nnot json\n["x"]\n')
    with open(p, "rb") as f:
        items = list(read_items(f, "jsonl"))
    assert items[0] == (1, "a b")
    assert all(isinstance(t, BatchError) for _, t in items[1:])


# ---------------------------------------------------------------- the command line

runner = CliRunner()
ATTNCLI = str(Path(sys.executable).with_name("attncli"))  # for runs in a subprocess
GOOD = [1, 2, 3, 4, 8, 9, 10]  # 1-based lines of SENTENCES that embed under the default config
BAD = [5, 6, 7]


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    return p


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_cli_jsonl_stdout_with_bad_lines(corpus, how):
    if how == "file":
        result = runner.invoke(app, ["embed", "-i", str(corpus)])
    else:
        result = runner.invoke(app, ["embed", "-i", "-"], input=corpus.read_bytes())
    assert result.exit_code == 3
    records = _records(result.stdout)
    assert [r["line"] for r in records] == [n for n in range(1, len(SENTENCES) + 1) if n != 5]  # 5 is blank: skipped
    for r in records:
        text = SENTENCES[r["line"] - 1]
        if r["line"] in BAD:
            assert set(r) == {"line", "error", "text"} and r["text"] == text
            assert f"line {r['line']}: " in result.stderr
            continue
        want = embed(text)
        assert r["tokens"] == want.tokens and r["oov"] == want.oov
        assert r["vectors"] == want.vectors and r["config"]["mode"] == "simple"
        assert "static" not in r and "attention" not in r
        np.testing.assert_allclose(np.array(r["contextual"], dtype=np.float32), want.contextual, **TOL)
    assert "2 of 9 lines failed" in result.stderr and "10 lines (1 blank, skipped): 7 embedded, 2 failed" in result.stderr


def test_cli_all_good_exit_0_and_jsonl_file_equals_stdout(tmp_path):
    p = tmp_path / "good.txt"
    p.write_text("money bank grows\nthe river bank\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r1 = runner.invoke(app, ["embed", "-i", str(p), "--causal"])
    r2 = runner.invoke(app, ["embed", "-i", str(p), "--causal", "-o", str(out), "-q"])
    assert (r1.exit_code, r2.exit_code) == (0, 0)
    assert r2.stdout == ""
    assert out.read_text() == r1.stdout
    assert [x.name for x in tmp_path.iterdir() if x.name.startswith(".")] == []  # no temp left


def test_cli_npz(corpus, tmp_path):
    out = tmp_path / "out.npz"
    result = runner.invoke(app, ["embed", "-i", str(corpus), "-o", str(out), "--with-attention", "--with-static", "--heads", "2", "--mode", "qkv", "--weights", "random"])
    assert result.exit_code == 3
    z = np.load(out, allow_pickle=False)
    assert set(z.files) == {"vectors", "offsets", "tokens_utf8", "lines", "config", "static", "attention", "attention_offsets"}
    assert z["vectors"].dtype == np.float32 and z["offsets"].dtype == np.int64 and z["lines"].dtype == np.int64
    assert z["tokens_utf8"].dtype == np.uint8
    tokens = npz_tokens(z)
    assert list(z["lines"]) == GOOD
    offsets, att_offsets = z["offsets"], z["attention_offsets"]
    assert offsets[0] == 0 and offsets[-1] == len(z["vectors"]) == len(tokens) == len(z["static"])
    assert json.loads(str(z["config"]))["config"]["heads"] == 2
    cfg = Config(mode="qkv", weights="random", heads=2)
    for i, line in enumerate(z["lines"]):
        want = embed(SENTENCES[line - 1], cfg)
        a, b = offsets[i], offsets[i + 1]
        assert tokens[a:b] == want.tokens
        np.testing.assert_allclose(z["vectors"][a:b], want.contextual, **TOL)
        np.testing.assert_allclose(z["static"][a:b], want.static, **TOL)
        n = b - a
        weights = z["attention"][att_offsets[i] : att_offsets[i + 1]].reshape(n, n)
        np.testing.assert_allclose(weights, want.attention, **TOL)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_npz_spilled_to_disk_equals_held_in_memory(tmp_path, monkeypatch):
    """Past its memory budget a .npz array goes to a temp file; the result is the same."""
    from attncli import batch, writers

    p = tmp_path / "in.txt"
    p.write_text("money bank grows\nthe internationalization of banks\n" * 50 + "a b\n", encoding="utf-8")
    held, spilled = tmp_path / "held.npz", tmp_path / "spilled.npz"
    args = ["embed", "-i", str(p), "--with-static", "--with-attention"]
    assert runner.invoke(app, [*args, "-o", str(held)]).exit_code == 0
    original = batch.BatchEmbedder.embed_chunks
    monkeypatch.setattr(batch.BatchEmbedder, "embed_chunks", lambda self, items, *_: original(self, items, 7))
    monkeypatch.setattr(writers._Spill.__init__, "__defaults__", ((), 100))  # 100 bytes in memory
    on_disk = []
    write_into = writers._Spill.write_into
    monkeypatch.setattr(writers._Spill, "write_into", lambda self, zf, name: (on_disk.append(self.f is not None), write_into(self, zf, name))[1])
    assert runner.invoke(app, [*args, "-o", str(spilled)]).exit_code == 0
    assert on_disk == [True] * 3  # tokens, static, attention went through temp files (vectors: straight in)
    a, b = np.load(held), np.load(spilled)
    assert a.files == b.files
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert npz_tokens(a) == ["money", "bank", "grows", "the", "internationalization", "of", "banks"] * 50 + ["a", "b"]


def test_cli_npz_by_format_option_and_jsonl_input(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id": 1, "body": "money bank grows"}\n{"id": 2}\n{"body": "the river bank"}\n')
    out = tmp_path / "vectors.bin"
    result = runner.invoke(app, ["embed", "-i", str(src), "--input-format", "jsonl", "--text-field", "body", "-o", str(out), "-f", "npz"])
    assert result.exit_code == 3, result.stderr
    assert "line 2: not a JSON object with a string field 'body'" in result.stderr
    z = np.load(out, allow_pickle=False)
    assert list(z["lines"]) == [1, 3] and npz_tokens(z) == ["money", "bank", "grows", "the", "river", "bank"]


@pytest.mark.parametrize(
    "args",
    [
        ["embed"],
        ["embed", "money", "-i", "x.txt"],
        ["embed", "money", "-o", "out.npz"],
        ["embed", "money", "--with-attention"],
        ["embed", "-i", "IN", "-o", "out.txt"],
        ["embed", "-i", "IN", "-f", "npz"],
        ["embed", "-i", "IN", "--scheduler", "tcp://x:1"],
        ["embed", "-i", "IN", "--batch-size", "0"],
    ],
)
def test_cli_usage_errors_exit_2(args, corpus):
    args = [str(corpus) if a == "IN" else a for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("attncli: error: ") and result.stderr.count("\n") == 1


def test_cli_fatal_errors_exit_1(tmp_path, corpus):
    result = runner.invoke(app, ["embed", "-i", str(tmp_path / "missing.txt")])
    assert result.exit_code == 1 and "no such file" in result.stderr
    out = tmp_path / "out.npz"
    result = runner.invoke(app, ["embed", "-i", str(corpus), "--mode", "qkv", "--weights", str(tmp_path / "w.npz"), "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()


def test_cli_attention_too_big_fails_that_line_only(tmp_path):
    p = tmp_path / "in.txt"
    long = " ".join(["the bank"] * 10)  # 20 tokens: 400 cells
    p.write_text(f"money bank grows\n{long}\n", encoding="utf-8")
    out = tmp_path / "out.npz"
    result = runner.invoke(app, ["embed", "-i", str(p), "-o", str(out), "--with-attention", "--max-attention-cells", "399"])
    assert result.exit_code == 3
    assert "line 2: 20 tokens" in result.stderr and "--max-attention-cells 399" in result.stderr
    assert list(np.load(out)["lines"]) == [1]
    result = runner.invoke(app, ["embed", "-i", str(p), "-o", str(out), "--with-attention", "--max-attention-cells", "400"])
    assert result.exit_code == 0


@pytest.mark.parametrize("suffix", ["npz", "jsonl"])
def test_cli_interrupted_run_leaves_no_output(tmp_path, monkeypatch, suffix):
    """Atomic: the final name appears only when the run ends well; a failure midway leaves
    neither the file nor temp files."""
    from attncli import batch

    p = tmp_path / "in.txt"
    p.write_text("money bank grows\n" * 10, encoding="utf-8")
    out = tmp_path / f"out.{suffix}"
    original = batch.BatchEmbedder.embed_chunks

    def broken(self, items, chunk_sentences=3, chunk_chars=10**6):
        for i, chunk in enumerate(original(self, items, 3, chunk_chars)):
            assert not out.exists()  # chunks are being written: the target does not exist yet
            if i == 2:
                raise DataError("disk on fire")
            yield chunk

    monkeypatch.setattr(batch.BatchEmbedder, "embed_chunks", broken)
    result = runner.invoke(app, ["embed", "-i", str(p), "-o", str(out)])
    assert result.exit_code == 1 and "disk on fire" in result.stderr
    assert list(tmp_path.iterdir()) == [p]


def test_cli_empty_input_writes_empty_npz(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    out = tmp_path / "out.npz"
    result = runner.invoke(app, ["embed", "-i", str(p), "-o", str(out)])
    assert result.exit_code == 0
    z = np.load(out)
    assert z["vectors"].shape == (0, 50) and list(z["offsets"]) == [0] and len(z["lines"]) == 0
    result = runner.invoke(app, ["embed", "-i", str(p), "-o", str(tmp_path), "-f", "npz"])
    assert result.exit_code == 1 and "is a directory" in result.stderr


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("suffix", ["npz", "jsonl"])
def test_killed_run_leaves_no_file_under_the_final_name(tmp_path, suffix):
    """SIGKILL midway (stdin still open, so the run cannot have finished): no out.* exists."""
    import signal
    import time

    out = tmp_path / f"out.{suffix}"
    proc = subprocess.Popen([ATTNCLI, "embed", "-i", "-", "-o", str(out), "-q"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.stdin.write(b"the bank raised its rates .\n" * 20000)  # more than two chunks
    proc.stdin.flush()
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    assert all(p.name.startswith(f".out.{suffix}.") for p in tmp_path.iterdir())  # only the hidden temp


def test_cli_output_over_existing_file_is_replaced(tmp_path):
    p = tmp_path / "in.txt"
    p.write_text("money bank grows\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    assert runner.invoke(app, ["embed", "-i", str(p), "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text())["tokens"] == ["money", "bank", "grows"]


# ---------------------------------------------------------------- long inputs

def _long_line(path: Path, n: int) -> None:
    words = get_vectors().words[100:5100]
    rng = np.random.default_rng(0)
    words = [w for w in words if w.isalpha()]
    path.write_text(" ".join(rng.choice(words, n)) + "\n", encoding="utf-8")


def test_long_line_blocked_equals_unblocked(tmp_path):
    """A 1,500-token line: the row-block computation (CLI default) equals the whole matrix."""
    p = tmp_path / "long.txt"
    _long_line(p, 1500)
    text = p.read_text().strip()
    for cfg in (Config(), Config(causal=True, prior="zipf", positions="sinusoidal")):
        blocked = BatchEmbedder(cfg).embed_chunk([(1, text)])
        assert len(text.split()) ** 2 > 2**20  # really took the blocked path
        whole = embed(text, cfg).contextual
        np.testing.assert_allclose(blocked.contextual, whole, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_20000_token_line_under_500_mib(tmp_path):
    p = tmp_path / "long.txt"
    _long_line(p, 20000)
    out = tmp_path / "out.npz"
    # measured in a fresh parent, so that no other child of this test run counts
    probe = (
        "import resource, subprocess, sys; "
        "done = subprocess.run(sys.argv[1:], capture_output=True); "
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", probe, ATTNCLI, "embed", "-i", str(p), "-o", str(out), "-q"],
                          capture_output=True, text=True, check=True)
    code, peak_kib = map(int, done.stdout.split())
    assert code == 0
    assert peak_kib < 500 * 1024, f"max RSS {peak_kib / 1024:.0f} MiB"
    z = np.load(out)
    assert z["vectors"].shape == (20000, 50) and np.isfinite(z["vectors"]).all()
    assert list(z["offsets"]) == [0, 20000]


def test_crc32_combine_equals_zlib_on_the_joined_bytes():
    import random
    import zlib

    from attncli.writers import crc32_combine

    rng = random.Random(3)
    for _ in range(200):
        a, b = rng.randbytes(rng.randrange(0, 200)), rng.randbytes(rng.randrange(0, 5000))
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_the_npz_archive_checks_out_member_by_member(corpus, tmp_path):
    """The vectors are streamed into the archive and their header and CRC fixed in place at the
    end: every member's CRC matches its bytes, and numpy reads the right shape without pickle."""
    import zipfile

    out = tmp_path / "out.npz"
    assert runner.invoke(app, ["batch", "-i", str(corpus), "-o", str(out), "--with-static"]).exit_code == 3
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        assert zf.namelist()[0] == "vectors.npy"
    z = np.load(out, allow_pickle=False)
    assert z["vectors"].shape == z["static"].shape == (z["offsets"][-1], 50)
    assert len(npz_tokens(z)) == z["offsets"][-1]
