"""Vector sources: every format read by gensim, the same vectors from the cache, fastText
subwords, --trust, the `attncli vectors` commands, and one clean error per bad file.

Every vector file here is written by gensim itself. ATTNCLI_CACHE_DIR points into tmp_path, so
the tests never touch the user's cache.
"""

from __future__ import annotations

import bz2
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli import cache, pipeline
from attncli.cli import app
from attncli.errors import DataError, UsageError
from attncli.vectors import load_vectors, ngram_hashes

gensim_models = pytest.importorskip("gensim.models")
KeyedVectors = gensim_models.KeyedVectors

WORDS = ["the", "bank", "money", "grows", "river", "water", "loan", "interest", "café", "naïve", "日本", "flow"]
DIM = 6


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private cache per test, no vector/trust defaults from the environment, a fresh
    per-process vector cache."""
    monkeypatch.setenv("ATTNCLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # should ATTNCLI_CACHE_DIR be lost
    for var in ("ATTNCLI_VECTORS", "ATTNCLI_TRUST"):
        monkeypatch.delenv(var, raising=False)
    pipeline._cached_vectors.cache_clear()
    yield
    pipeline._cached_vectors.cache_clear()


def make_kv(seed: int = 0, words=WORDS) -> "KeyedVectors":
    rng = np.random.default_rng(seed)
    kv = KeyedVectors(DIM)
    kv.add_vectors(list(words), rng.normal(size=(len(words), DIM)).astype(np.float32))
    return kv


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """One file per format, all written by gensim."""
    d = tmp_path_factory.mktemp("vectors")
    kv = make_kv()
    out = {
        "word2vec": d / "vecs.txt",
        "word2vec-bin": d / "vecs.bin",
        "glove": d / "glove.txt",
        "word2vec-gz": d / "vecs.txt.gz",
        "glove-bz2": d / "glove.txt.bz2",
        "kv": d / "vecs.kv",
        "fasttext": d / "ft.bin",
    }
    kv.save_word2vec_format(str(out["word2vec"]))
    kv.save_word2vec_format(str(out["word2vec-bin"]), binary=True)
    kv.save_word2vec_format(str(out["glove"]), write_header=False)
    kv.save_word2vec_format(str(out["word2vec-gz"]))
    kv.save_word2vec_format(str(out["glove-bz2"]), write_header=False)
    kv.save(str(out["kv"]))
    out["fasttext"] = make_fasttext(d / "ft.bin")
    return out


def make_fasttext(path: Path) -> Path:
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    corpus = [["the", "bank", "of", "the", "river"], ["money", "in", "the", "bank", "grows"],
              ["water", "flows", "past", "the", "bank"], ["the", "loan", "bears", "interest"]] * 20
    model = FastText(vector_size=8, min_count=1, epochs=3, bucket=2000, min_n=2, max_n=4, seed=3, workers=1)
    model.build_vocab(corpus)
    model.train(corpus, total_examples=len(corpus), epochs=3)
    save_facebook_model(model, str(path))
    return path


def gensim_reference(name: str, path: Path):
    """What gensim itself reads from the file: (words, float32 matrix)."""
    from gensim.models.fasttext import load_facebook_vectors

    if name == "fasttext":
        kv = load_facebook_vectors(str(path))
    elif name == "kv":
        kv = KeyedVectors.load(str(path))
    else:
        kv = KeyedVectors.load_word2vec_format(str(path), binary=name == "word2vec-bin", no_header=name.startswith("glove"))
    return list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32)


def entries_on_disk() -> list[str]:
    root = cache.vectors_root()
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


FORMAT_OF = {"word2vec": "word2vec", "word2vec-bin": "word2vec-bin", "glove": "glove", "word2vec-gz": "word2vec",
             "glove-bz2": "glove", "kv": "kv", "fasttext": "fasttext"}


# ---------------------------------------------------------------- every format, direct and cached


@pytest.mark.parametrize("name", list(FORMAT_OF))
def test_each_format_reads_what_gensim_reads_directly_and_from_the_cache(files, name):
    words, ref = gensim_reference(name, files[name])
    first = load_vectors(files[name], trust=True)  # converts
    assert first.format == FORMAT_OF[name]
    assert first.words == words
    np.testing.assert_array_equal(np.asarray(first.matrix), ref)
    assert isinstance(first.matrix, np.memmap) and first.matrix.dtype == np.float32
    [entry] = cache.entries()
    second = load_vectors(files[name], trust=True)  # from the cache
    assert second.meta["cache"] == str(entry.dir)
    assert second.words == words
    np.testing.assert_array_equal(np.asarray(second.matrix), ref)


@pytest.mark.parametrize("name", ["word2vec", "word2vec-bin", "glove", "kv"])
def test_explicit_format_gives_the_same_vectors_as_auto(files, name):
    auto = load_vectors(files[name], trust=True)
    named = load_vectors(files[name], format=FORMAT_OF[name], trust=True)
    assert named.words == auto.words
    np.testing.assert_array_equal(np.asarray(named.matrix), np.asarray(auto.matrix))


def test_a_cached_load_does_not_import_gensim_or_parse_text(files, tmp_path):
    load_vectors(files["word2vec"])  # convert in this process
    code = (
        "import sys; from attncli.vectors import load_vectors; "
        f"v = load_vectors({str(files['word2vec'])!r}); "
        "print(v.vocab_size, 'gensim' in sys.modules, 'gensim.models' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy(), check=True)
    assert out.stdout.split() == [str(len(WORDS)), "False", "False"]


def test_limit_keeps_the_first_words(files):
    words, ref = gensim_reference("word2vec", files["word2vec"])
    vec = load_vectors(files["word2vec"], limit=5)
    assert vec.words == words[:5]
    np.testing.assert_array_equal(np.asarray(vec.matrix), ref[:5])
    assert load_vectors(files["fasttext"], limit=3).vocab_size == 3
    assert load_vectors("default", limit=7).words == load_vectors("default").words[:7]
    assert len(cache.entries()) == 2  # limit is part of the key


def test_auto_detection_is_reported_on_stderr(files):
    r = CliRunner().invoke(app, ["vectors", "info", str(files["word2vec-bin"]), "--json"])
    assert r.exit_code == 0, r.stderr
    assert "word2vec binary" in r.stderr and "header line" in r.stderr and "binary rows" in r.stderr
    info = json.loads(r.stdout)
    assert (info["format"], info["dim"], info["vocab_size"]) == ("word2vec-bin", DIM, len(WORDS))
    assert Path(info["cache"]).is_dir() and info["cache_bytes"] > len(WORDS) * DIM * 4


# ---------------------------------------------------------------- fastText subwords


def test_fasttext_subword_vectors_match_gensim(files):
    from gensim.models.fasttext import load_facebook_vectors

    ft = load_facebook_vectors(str(files["fasttext"]))
    vec = load_vectors(files["fasttext"])
    vec = load_vectors(files["fasttext"])  # from the cache: no gensim object behind it
    assert vec.subwords and vec.ngram_range == (2, 4)
    for word in ["banking", "rivers", "moneys", "über", "日本語", "interesting"]:
        assert word not in vec
        assert ngram_hashes(word, 2, 4, 2000) == gensim_models.fasttext.ft_ngram_hashes(word, 2, 4, 2000)
        np.testing.assert_allclose(vec.oov_vector(word), ft.get_vector(word), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(vec.rows([vec.index["bank"]])[0], ft.get_vector("bank"))
    counts = [ft.get_vecattr(w, "count") for w in vec.words]
    assert vec.counts is not None and vec.counts.tolist() == counts


def test_embed_gives_fasttext_oov_words_subword_vectors_and_says_so(files):
    from gensim.models.fasttext import load_facebook_vectors

    ft = load_facebook_vectors(str(files["fasttext"]))
    r = CliRunner().invoke(app, ["embed", "the banking river", "--vectors", str(files["fasttext"]), "--json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["tokens"] == ["the", "banking", "river"]
    assert out["oov"] == [{"token": "banking", "position": 1, "handled": "subword"}]
    np.testing.assert_allclose(out["static"][1], ft.get_vector("banking"), rtol=1e-6, atol=1e-7)
    assert "subword" in r.stderr and "'banking'" in r.stderr


def test_without_subwords_oov_words_are_still_skipped(files):
    r = CliRunner().invoke(app, ["embed", "the banking river", "--vectors", str(files["word2vec"]), "--json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["tokens"] == ["the", "river"] and out["oov"] == [{"token": "banking", "position": 1}]


# ---------------------------------------------------------------- cache: keys, invalidation, crashes


def test_a_changed_file_is_read_again_and_its_old_entry_removed(tmp_path):
    path = tmp_path / "v.txt"
    make_kv(seed=1).save_word2vec_format(str(path))
    old = np.asarray(load_vectors(path).matrix).copy()
    old_entry = cache.entries()[0].dir
    make_kv(seed=2).save_word2vec_format(str(path))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a coarse clock could keep the mtime
    new = load_vectors(path)
    words, ref = gensim_reference("word2vec", path)
    np.testing.assert_array_equal(np.asarray(new.matrix), ref)
    assert not np.array_equal(old, ref)
    assert [e.dir for e in cache.entries()] == [Path(new.meta["cache"])] and not old_entry.exists()


def test_a_conversion_that_fails_midway_leaves_nothing_and_the_next_one_works(files, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash while writing meta.json")

    real_write_meta = cache._write_meta
    monkeypatch.setattr(cache, "_write_meta", crash)
    with pytest.raises(RuntimeError):
        load_vectors(files["word2vec"])
    assert entries_on_disk() == []  # no entry, no temp directory
    monkeypatch.setattr(cache, "_write_meta", real_write_meta)
    vec = load_vectors(files["word2vec"])
    assert vec.words == gensim_reference("word2vec", files["word2vec"])[0]


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_a_killed_conversion_leaves_nothing_loadable_and_is_cleaned_up(files):
    """SIGKILL half-way (vectors.npy written, meta.json not): the temp directory stays behind,
    is never read as an entry, and the next conversion removes it."""
    code = (
        "import os, signal; from attncli import cache; from attncli.vectors import load_vectors\n"
        "cache._write_meta = lambda d, meta: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"load_vectors({str(files['word2vec'])!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=os.environ.copy(), capture_output=True)
    assert proc.returncode == -9
    left = entries_on_disk()
    assert len(left) == 1 and left[0].startswith(".tmp-")
    assert (cache.vectors_root() / left[0] / "vectors.npy").exists()
    assert cache.entries() == []
    vec = load_vectors(files["word2vec"])
    assert vec.words == gensim_reference("word2vec", files["word2vec"])[0]
    assert entries_on_disk() == [Path(vec.meta["cache"]).name]


def test_an_entry_without_meta_json_is_ignored(files):
    vec = load_vectors(files["glove"])
    entry = Path(vec.meta["cache"])
    (entry / "meta.json").unlink()
    assert cache.entries() == []
    again = load_vectors(files["glove"])  # converts again, over the broken directory
    assert again.words == vec.words and (entry / "meta.json").exists()


def test_two_conversions_racing_both_end_with_the_one_correct_entry(files, monkeypatch):
    """Another process stores the same entry between our build and our rename: ours is
    discarded and theirs used."""
    real_rename = os.rename
    raced = []

    def rename(src, dst):
        if not raced and Path(src).name.startswith(".tmp-"):
            raced.append(dst)
            load_vectors(files["word2vec"])  # "the other process" wins the race
        return real_rename(src, dst)

    monkeypatch.setattr(cache.os, "rename", rename)
    vec = load_vectors(files["word2vec"])
    assert raced
    assert entries_on_disk() == [Path(vec.meta["cache"]).name]
    words, ref = gensim_reference("word2vec", files["word2vec"])
    np.testing.assert_array_equal(np.asarray(vec.matrix), ref)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_two_processes_converting_at_once(tmp_path):
    path = tmp_path / "big.txt"
    make_kv(seed=5, words=[f"w{i}" for i in range(20000)]).save_word2vec_format(str(path))
    cmd = [sys.executable, "-m", "attncli", "vectors", "info", str(path), "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy()) for _ in range(2)]
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    infos = [json.loads(o[0]) for o in outs]
    assert infos[0]["cache"] == infos[1]["cache"] and infos[0]["vocab_size"] == 20000
    assert entries_on_disk() == [Path(infos[0]["cache"]).name]
    np.testing.assert_array_equal(np.asarray(load_vectors(path).matrix), gensim_reference("word2vec", path)[1])


def test_words_with_line_breaks_survive_the_cache(tmp_path):
    words = ["plain", "two\nlines", "carriage\rreturn", "line\u2028separator", "tab\there"]
    kv = make_kv(words=words)
    kv.save(str(tmp_path / "odd.kv"))
    load_vectors(tmp_path / "odd.kv", trust=True)
    vec = load_vectors(tmp_path / "odd.kv", trust=True)  # from the cache
    assert vec.words == words
    np.testing.assert_array_equal(np.asarray(vec.matrix), kv.vectors)


def test_cache_root_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("ATTNCLI_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "attncli"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_root() == tmp_path / "home" / ".cache" / "attncli"


# ---------------------------------------------------------------- trust


def test_a_pickle_needs_trust_and_the_error_says_why(files):
    r = CliRunner().invoke(app, ["vectors", "info", str(files["kv"])])
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "pickle" in r.stderr and "--trust" in r.stderr and "Traceback" not in r.stderr
    assert entries_on_disk() == []
    r = CliRunner().invoke(app, ["vectors", "info", str(files["kv"]), "--json"], env={"ATTNCLI_TRUST": "1"})
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["format"] == "kv"


def test_a_pickle_named_like_a_text_file_is_still_refused(files, tmp_path):
    disguised = tmp_path / "vectors.txt"
    disguised.write_bytes(files["kv"].read_bytes())
    with pytest.raises(DataError, match="pickle"):
        load_vectors(disguised)


def test_the_project_reads_its_cache_without_pickle(files, monkeypatch):
    vec = load_vectors(files["word2vec"])
    seen = []
    real_load = np.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    load_vectors(files["word2vec"])
    load_vectors("default")
    assert seen and all(flag is False for flag in seen)
    assert Path(vec.meta["cache"], "vectors.npy").read_bytes()[:6] == b"\x93NUMPY"


# ---------------------------------------------------------------- bad files


def _w2v_text(tmp, name, body: bytes) -> Path:
    p = tmp / name
    p.write_bytes(body)
    return p


BAD = {
    "missing": (lambda d: d / "nope.txt", "no such file"),
    "directory": (lambda d: d, "is a directory"),
    "empty": (lambda d: _w2v_text(d, "empty.txt", b""), "is empty"),
    "header counts too many": (lambda d: _w2v_text(d, "short.txt", b"3 2\na 1 2\nb 1 2\n"), "ends early"),
    "header counts too few": (lambda d: _w2v_text(d, "long.txt", b"1 2\na 1 2\nb 1 2\n"), "counts 1 words but the file holds 1 more row"),
    "header dim wrong": (lambda d: _w2v_text(d, "dim.txt", b"2 3\na 1 2\nb 1 2\n"), "has 2 numbers, the header line says 3"),
    "ragged rows": (lambda d: _w2v_text(d, "ragged.txt", b"2 3\na 1 2 3\nb 1 2\n"), "line 3 ('b') has 2 numbers"),
    "ragged glove": (lambda d: _w2v_text(d, "ragged_glove.txt", b"a 1 2 3\nb 1 2 3\nc 1 2\n"), "line 3 ('c') has 2 numbers, the first row has 3"),
    "not utf-8": (lambda d: _w2v_text(d, "latin1.txt", b"2 2\na 1 2\ncaf\xe9 1 2\n"), "not valid UTF-8"),
    "nan": (lambda d: _w2v_text(d, "nan.txt", b"2 2\na 1 2\nbank nan 2\n"), "'bank' (row 2) holds NaN or infinite"),
    "inf": (lambda d: _w2v_text(d, "inf.txt", b"a 1 2\nriver 1 -inf\n"), "'river' (row 2) holds NaN or infinite"),
    "not vectors": (lambda d: _w2v_text(d, "prose.txt", b"hello world\nfoo\n"), "cannot tell its format"),
    "gzip not named .gz": (lambda d: _w2v_text(d, "packed.txt", __import__("gzip").compress(b"1 2\na 1 2\n")), "gzip-compressed but not named .gz"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_fail_with_one_line_exit_1_and_leave_nothing(tmp_path, case):
    make, fragment = BAD[case]
    d = tmp_path / "files"
    d.mkdir()
    path = make(d)
    r = CliRunner().invoke(app, ["embed", "a bank", "--vectors", str(path), "--json"])
    assert r.exit_code == 1, (r.stdout, r.stderr)
    assert r.stdout == ""
    errors = [line for line in r.stderr.splitlines() if line.startswith("attncli: error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr
    assert str(path) in errors[0] and fragment in errors[0], errors[0]
    assert entries_on_disk() == []


def test_truncated_binary_files(files, tmp_path):
    for name, cut, fragment in [("word2vec-bin", 60, "ends early"), ("fasttext", 3000, "truncated or damaged")]:
        path = tmp_path / f"cut-{files[name].name}"
        path.write_bytes(files[name].read_bytes()[:cut])
        with pytest.raises(DataError, match=fragment):
            load_vectors(path)
    assert entries_on_disk() == []


def test_unicode_errors_replace_reads_a_latin1_word(tmp_path):
    path = _w2v_text(tmp_path, "latin1.txt", b"2 2\na 1 2\ncaf\xe9 3 4\n")
    vec = load_vectors(path, unicode_errors="replace")
    assert vec.words == ["a", "caf\ufffd"]
    np.testing.assert_array_equal(np.asarray(vec.matrix), [[1, 2], [3, 4]])
    r = CliRunner().invoke(app, ["vectors", "info", str(path), "--unicode-errors", "ignore", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["unicode_errors"] == "ignore"


def test_bz2_text_is_read(tmp_path):
    path = tmp_path / "v.txt.bz2"
    path.write_bytes(bz2.compress(b"2 2\nbank 1 0\nriver 0 1\n"))
    vec = load_vectors(path)
    assert vec.words == ["bank", "river"] and vec.format == "word2vec"


def test_new_config_fields_are_validated():
    for bad in ({"vectors_format": "csv"}, {"unicode_errors": "loose"}, {"limit": 0}):
        with pytest.raises(UsageError):
            pipeline.Config(**bad)
    cfg = pipeline.Config(limit=10, trust=True)
    assert (cfg.vectors_format, cfg.limit, cfg.unicode_errors, cfg.trust) == ("auto", 10, "strict", True)


# ---------------------------------------------------------------- commands


def test_info_on_the_default_shows_licence_and_provenance():
    r = CliRunner().invoke(app, ["vectors", "info", "--json"])
    assert r.exit_code == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["name"], info["format"], info["dim"], info["vocab_size"]) == ("glove-6b-50d-100k", "embedded", 50, 100000)
    assert "PDDL" in info["licence"] and info["provenance"]["homepage"].startswith("https://nlp.stanford.edu")
    r = CliRunner().invoke(app, ["vectors", "info"])
    assert r.exit_code == 0 and "PDDL" in r.stdout and "100,000" in r.stdout


def test_list_and_clear_cache(files):
    runner = CliRunner()
    assert json.loads(runner.invoke(app, ["vectors", "list", "--json"]).stdout) == []
    load_vectors(files["word2vec"])
    load_vectors(files["fasttext"])
    rows = json.loads(runner.invoke(app, ["vectors", "list", "--json"]).stdout)
    assert sorted(r["source"] for r in rows) == sorted(str(files[n].resolve()) for n in ("word2vec", "fasttext"))
    assert all(r["state"] == "current" and r["cache_bytes"] > 0 for r in rows)
    assert {r["format"]: r["subwords"] for r in rows} == {"word2vec": False, "fasttext": True}
    table = runner.invoke(app, ["vectors", "list"])
    assert table.exit_code == 0 and "fasttext" in table.stdout
    r = runner.invoke(app, ["vectors", "clear-cache"])
    assert r.exit_code == 0 and "removed 2 cached sources" in r.stdout
    assert entries_on_disk() == [] and json.loads(runner.invoke(app, ["vectors", "list", "--json"]).stdout) == []


def test_neighbors_by_cosine_on_a_hand_made_file(tmp_path):
    path = _w2v_text(tmp_path, "plane.txt", b"4 2\nnorth 0 1\neast 1 0\nnortheast 3 3\nsouth 0 -2\n")
    r = CliRunner().invoke(app, ["vectors", "neighbors", "north", "-n", "3", "--vectors", str(path), "--json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    got = [(n["word"], round(n["cosine"], 6)) for n in out["neighbors"]]
    assert got == [("northeast", round(1 / np.sqrt(2), 6)), ("east", 0.0), ("south", -1.0)]


def test_neighbors_on_the_default_and_a_missing_word():
    r = CliRunner().invoke(app, ["vectors", "neighbors", "Bank", "-n", "4", "--json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    cos = [n["cosine"] for n in out["neighbors"]]
    assert out["word"] == "bank" and len(cos) == 4 and "bank" not in [n["word"] for n in out["neighbors"]]
    assert cos == sorted(cos, reverse=True) and "banks" in [n["word"] for n in out["neighbors"]]
    r = CliRunner().invoke(app, ["vectors", "neighbors", "qwzxv"])
    assert r.exit_code == 1 and "not in the vocabulary" in r.stderr


def test_neighbors_of_a_fasttext_oov_word_use_its_subword_vector(files):
    r = CliRunner().invoke(app, ["vectors", "neighbors", "banking", "--vectors", str(files["fasttext"]), "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["handled"] == "subword" and "subword" in r.stderr


def test_embed_with_a_user_file_uses_its_vectors(files):
    words, ref = gensim_reference("word2vec", files["word2vec"])
    r = CliRunner().invoke(app, ["embed", "money bank grows", "--vectors", str(files["word2vec"]), "--json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["vectors"] == {"name": "vecs.txt", "dim": DIM, "vocab_size": len(WORDS)}
    expected = ref[[words.index(w) for w in ("money", "bank", "grows")]]
    np.testing.assert_allclose(out["static"], expected, rtol=1e-6)
    assert out["config"]["vectors_format"] == "auto" and out["config"]["trust"] is False


def test_vectors_default_comes_from_the_environment(files):
    r = CliRunner().invoke(app, ["embed", "money bank", "--json"], env={"ATTNCLI_VECTORS": str(files["glove"])})
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["vectors"]["name"] == "glove.txt"


def test_an_unwritable_cache_still_gives_the_vectors(files, monkeypatch, tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache directory should be")
    monkeypatch.setenv("ATTNCLI_CACHE_DIR", str(blocked))
    r = CliRunner().invoke(app, ["vectors", "info", str(files["word2vec"]), "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["vocab_size"] == len(WORDS) and "cannot write the cache" in r.stderr


def test_whole_gensim_models_saved_with_save(tmp_path):
    """A Word2Vec or FastText .model (pickle) gives its .wv; a FastText one keeps its subwords."""
    from gensim.models import FastText, Word2Vec

    corpus = [["the", "bank", "of", "the", "river"], ["money", "in", "the", "bank"]] * 20
    w2v = Word2Vec(corpus, vector_size=5, min_count=1, epochs=1, workers=1, seed=1)
    ft = FastText(corpus, vector_size=5, min_count=1, epochs=1, workers=1, seed=1, bucket=500)
    w2v.save(str(tmp_path / "w2v.model"))
    ft.save(str(tmp_path / "ft.model"))
    for model, name in ((w2v, "w2v.model"), (ft, "ft.model")):
        vec = load_vectors(tmp_path / name, trust=True)
        assert vec.format == "kv" and vec.words == list(model.wv.index_to_key)
        np.testing.assert_array_equal(np.asarray(vec.matrix), model.wv.vectors)
    vec = load_vectors(tmp_path / "ft.model", trust=True)
    assert vec.subwords and load_vectors(tmp_path / "w2v.model", trust=True).oov_vector("banker") is None
    np.testing.assert_allclose(vec.oov_vector("banker"), ft.wv.get_vector("banker"), rtol=1e-6, atol=1e-7)


def test_conversion_reports_progress_up_to_the_word_count(files):
    from contextlib import contextmanager

    from attncli import report

    seen, notes = [], []

    class Recorder:
        def note(self, msg):
            notes.append(msg)

        @contextmanager
        def progress(self, label, total):
            seen.append(("total", total))
            yield lambda done: seen.append(("done", done))

    report.install(Recorder())
    try:
        load_vectors(files["word2vec"])
    finally:
        report.install(None)
    assert seen[0] == ("total", len(WORDS)) and seen[-1] == ("done", len(WORDS))
    assert any("detected: header line" in n for n in notes) and any("cached" in n for n in notes)


VOCAB_WORDS = ["the", ",", "two words", "", "x\ry", "the", "café", "日本", "multi\nline", "theme", "end"]


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_vocabulary_answers_as_the_list_of_its_words(trailing_newline):
    """cache.Vocabulary finds rows in the file's bytes; each answer is the list's, before and
    after the list is split: first occurrences, prefixes and suffixes of words that are not
    words, the empty word, "\\r" inside a word, a word holding "\\n" (kept in meta.json), a
    lone surrogate (no UTF-8 file holds one), a query that is not a string."""
    text = "\n".join("" if "\n" in w else w for w in VOCAB_WORDS) + ("\n" if trailing_newline else "")
    multiline = {"8": "multi\nline"}
    queries = [*VOCAB_WORDS, "th", "he", "them", "two", "words", "x", "café ", "日", "multi", "line", "absent", "\ud800", 5]
    expected = [VOCAB_WORDS.index(q) if q in VOCAB_WORDS else None for q in queries]
    fresh = [cache.Vocabulary(text.encode(), multiline) for _ in queries]
    assert [q in v for q, v in zip(queries, fresh)] == [e is not None for e in expected]
    assert [v.index(q) if e is not None else None for q, e, v in zip(queries, expected, fresh)] == expected
    from_text = [isinstance(q, str) and q != "" and "\n" not in q for q in queries]  # the others: from the list
    assert [v._list is None for v in fresh] == from_text
    assert len(cache.Vocabulary(text.encode(), multiline)) == len(VOCAB_WORDS)
    vocab = cache.Vocabulary(text.encode(), multiline)
    assert vocab == VOCAB_WORDS and vocab[2:4] == VOCAB_WORDS[2:4] and vocab[-1] == "end"
    assert list(reversed(vocab)) == VOCAB_WORDS[::-1] and [*vocab] == VOCAB_WORDS
    assert [vocab.index(q) if q in vocab else None for q in queries] == expected  # from the list now
    with pytest.raises(ValueError):
        cache.Vocabulary(text.encode()).index("absent")
    assert len(cache.Vocabulary(b"")) == 0 and cache.Vocabulary(b"") == []


def test_embedding_a_sentence_never_splits_the_default_vocabulary():
    """The start-up path: a sentence's few words are found in the vocabulary's text."""
    cfg = pipeline.Config(vectors="default")
    result = pipeline.embed("money bank grows", cfg)
    vec = pipeline.vectors_for(cfg)  # the one embed used (kept per process)
    assert result.tokens == ["money", "bank", "grows"]
    assert isinstance(vec.words, cache.Vocabulary) and vec.words._list is None and vec._index is None
    assert vec.vocab_size == 100_000 and vec.words[vec.lookup("bank")] == "bank"


def test_lookup_agrees_with_the_index_before_and_after_it_is_built():
    from attncli.vectors import Vectors

    words = ["the", "bank", "river", "the", "money"]  # a repeated word: its first row counts
    vec = Vectors("toy", words, np.zeros((5, 2), dtype=np.float32))
    queries = ["money", "the", "absent", "river", "", "bank"]
    scanned = [vec.lookup(q) for q in queries]
    assert scanned == [4, 0, None, 2, None, 1]
    assert vec._index is None  # answered by scanning
    assert [vec.index.get(q) for q in queries] == scanned
    assert [vec.lookup(q) for q in queries] == scanned and ("bank" in vec, "absent" in vec) == (True, False)
    big = Vectors("big", [f"w{i}" for i in range(5000)], np.zeros((5000, 1), dtype=np.float32))
    for i in range(10):
        assert big.lookup(f"missing{i}") is None
    assert big._index is not None  # the scanning budget ran out: the index was built


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_the_commands_register_whichever_module_is_imported_first():
    for first in ("attncli.cli.vectors", "attncli.cli.embed", "attncli.cli"):
        code = f"import {first}; import typer.main; from attncli.cli import app; print(sorted(typer.main.get_command(app).commands))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert "'vectors'" in out.stdout and "'embed'" in out.stdout


def test_batch_gives_fasttext_oov_words_the_same_subword_vectors(files, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("the banking river\nmoney grows\nthe loaning bank\n")
    r = CliRunner().invoke(app, ["embed", "-i", str(src), "--vectors", str(files["fasttext"]), "--with-static", "-q"])
    assert r.exit_code == 0, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines()]
    for rec, text in zip(records, src.read_text().splitlines()):
        single = json.loads(CliRunner().invoke(app, ["embed", text, "--vectors", str(files["fasttext"]), "--json"]).stdout)
        assert rec["tokens"] == single["tokens"] and rec["oov"] == single["oov"]
        np.testing.assert_allclose(rec["static"], single["static"], atol=1e-7)
        np.testing.assert_allclose(rec["contextual"], single["contextual"], atol=1e-6)
    assert records[0]["oov"] == [{"token": "banking", "position": 1, "handled": "subword"}]


@pytest.mark.parametrize("words", [
    ["bank", "1,000", "--", "ß", "x²", "²", "]", "^", "\\", "a-b", "", "é", "\u0301", "_", "[a]", "日本"],
    ["1", "2", ",", "."],  # no letter at all
])
def test_has_letter_is_any_character_alphabetic(words):
    """senses labels only words that hold a letter: one search per word, the same answer as
    looking at each character."""
    from attncli.vectors import Vectors

    vec = Vectors("t", words, np.zeros((len(words), 2), np.float32))
    assert vec.has_letter().tolist() == [any(ch.isalpha() for ch in w) for w in words]
