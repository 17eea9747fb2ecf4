"""attncli index (attncli.store): the FTS5 pre-filter finds a superset of attncli's own matches
(hypothesis, both tokenizers, every case), queries with --index equal -i on the same files
(senses with --like, --json and --html, eval pseudowords, compare --word; occurrences, vectors
bitwise, groups, scores, skipped lines and counts), and builds keep the index current (hash,
changed files, --prune, a Dask build). Hostile cases: tests/test_hostile_index.py."""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from attncli import store
from attncli.cli import app
from attncli.inputs import ReadStats, expand, read_lines
from attncli.pipeline import Config, Lexicon, vectors_for

runner = CliRunner()
SHARED = Path("/work/shared/corpus")


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args):
    r = run(*args)
    assert r.exit_code == 0, (args, r.exit_code, r.stdout, r.stderr)
    return r


# A corpus with what -i meets in real files: blank and whitespace-only lines, CRLF, a line of
# "\r" alone, a line not UTF-8, cased and accented words, clitics, numbers glued to units,
# NUL and tabs, typographic quotes, and lines in the thousands of bytes.
HOSTILE_LINES = [
    b"The Bank of England raised its rates ; the bank was full of money .",
    b"",
    b"   \t ",
    b"We sat on the river bank , fishing in the muddy water .\r",
    b"\r",
    b"BANK , bank ; Bank ! the banks of the river",
    b"caf\xc3\xa9 bank\xe2\x80\x99s money \xe2\x80\x94 the bank\x00 in a\ttab",
    b"\xff\xfe the bank that is not UTF-8",
    b"don't bank on it , it's 3.5km to the bank and 10:30am now",
    b"the " * 600 + b"bank of the river",
    b"money loan deposit interest bank credit cash account",
    b"water stream boat bank flood shore swim trees",
]


def write_corpus(d: Path, lines: list[bytes] = HOSTILE_LINES) -> list[Path]:
    """Two files: the lines, and the lines reversed with a blank in between."""
    a, b = d / "a.txt", d / "b.txt"
    a.write_bytes(b"\n".join(lines) + b"\n")
    b.write_bytes(b"\n\n".join(reversed(lines)))  # no final line end
    return [a, b]


@functools.lru_cache(maxsize=None)
def glove():
    return vectors_for(Config())


@pytest.fixture(scope="module")
def cased_file(tmp_path_factory) -> Path:
    """A cased word2vec file written by gensim ("Bank" and "bank" differ; "England" only cased)."""
    from gensim.models import KeyedVectors

    words = ["the", "Bank", "bank", "England", "river", "money", "water", "do", "n't", "km", "3.5", "café", "İstanbul"]
    rng = np.random.default_rng(3)
    kv = KeyedVectors(vector_size=8)
    kv.add_vectors(words, rng.normal(size=(len(words), 8)).astype(np.float32))
    path = tmp_path_factory.mktemp("cased") / "cased.w2v.txt"
    kv.save_word2vec_format(str(path), binary=False)
    return path


# ---------------------------------------------------------------- the superset, by property

# Characters and pieces where attncli's tokenizer and a naive one part ways: case with no
# one-to-one lowercase (İ, ẞ, final sigma, Kelvin sign, long s, ligatures), combining marks,
# private use, scripts newer than SQLite's Unicode 6.1 tables, other digits, quotes, clitics,
# abbreviations, numbers, hyphens, underscores, NUL and other controls.
ODD = ["İ", "ı", "Σ", "ς", "σ", "ß", "ẞ", "\u212a", "ſ", "ﬁ", "é", "e\u0301", "\u0301", "\ue000", "\U0001e900",
       "٣", "²", "Ⅻ", "😀", "\x00", "\u200b", "\u00a0", "\u2028", "\x0b", "’", "‘", "“", "”", "'", '"', "`", "``",
       "''", "n't", "N'T", "n’t", "'s", "'S", "’s", "3.5", "1,000", "10:30", "u.s.", "U.S.", "mr.", "Mr.", "...",
       "--", "-", "@-@", "@.@", "_", "<unk>", ".", ",", ":", "bank", "Bank", "BANK", "do", "don", "km", "the",
       "England", "well", "known", "money", "a", "b", "z", "Z", "9", "0"]
fragment = st.one_of(st.sampled_from(ODD), st.text(max_size=3).filter(lambda s: "\n" not in s))
line_text = st.lists(st.one_of(fragment, st.sampled_from([" ", " ", "\t"])), min_size=1, max_size=25).map("".join)


def _fts():
    conn = sqlite3.connect(":memory:")
    conn.execute(store.FTS)
    return conn


def _superset_holds(text: str, vec, cfg: Config) -> None:
    """Every token attncli finds in `text` (its form as looked up) finds the line through FTS5."""
    conn = _fts()
    conn.execute("INSERT INTO fts(rowid, k) VALUES (1, ?)", (store.search_key(text),))
    conn.execute("INSERT INTO fts(rowid, k) VALUES (2, 'unrelated words only')")
    for tok in Lexicon(vec, cfg).tokens(text):
        query = store.match_query([tok.text])
        if query is None:
            continue  # no piece: every line is read
        hits = [r for (r,) in conn.execute("SELECT rowid FROM fts WHERE fts MATCH ?", (query,))]
        assert 1 in hits, (text, tok, store.search_key(text), query)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=line_text, tokenizer=st.sampled_from(["glove", "whitespace"]), case=st.sampled_from(["lower", "keep", "auto"]))
def test_fts_finds_every_line_attncli_finds_a_token_in(text, tokenizer, case):
    _superset_holds(text, glove(), Config(tokenizer=tokenizer, case=case))


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=60).filter(lambda s: "\n" not in s),
       tokenizer=st.sampled_from(["glove", "whitespace"]), case=st.sampled_from(["lower", "keep"]))
def test_fts_superset_on_any_unicode_text(text, tokenizer, case):
    _superset_holds(text, glove(), Config(tokenizer=tokenizer, case=case))


def test_fts_superset_with_a_cased_vocabulary(cased_file):
    """--case auto on a cased vocabulary looks up the form as written, then its lowercase."""
    vec = vectors_for(Config(vectors=str(cased_file)))
    assert vec.cased
    for text in ["The Bank of England", "BANK bank Bank", "İstanbul and ISTANBUL", "don't DON'T", "3.5km 3.5KM", "CAFÉ café"]:
        for tokenizer in ("glove", "whitespace"):
            for case in ("auto", "keep", "lower"):
                _superset_holds(text, vec, Config(vectors=str(cased_file), tokenizer=tokenizer, case=case))


def test_search_key_and_pieces_by_hand():
    assert store.search_key("The Bank's edge") == "The Bank's edge"  # ASCII: the ascii tokenizer folds and splits
    assert store.search_key("Café—BANK") == "café bank"
    assert store.pieces("U.S.") == ["u", "s"] and store.pieces("@-@") == [] and store.pieces("ΟΔΟΣ") == ["οδοσ"]
    assert store.search_key("don't") == "don't do n't"  # the glove split inside a word, added
    assert store.search_key("3.5km") == "3.5km 3.5 km"
    assert store.match_query(["bank", "U.S."]) == '"bank" OR ("u" AND "s")'
    assert store.match_query(["bank", ","]) is None  # a form of no piece: every line is read


def test_key_version_follows_the_tokenizer():
    """search_key's superset rests on attncli's tokenizer rules: when they change, bump
    store.KEY_VERSION (an index of other keys is then refused for updates, noted on queries)
    and the digest here."""
    import hashlib

    from attncli import tokens

    digest = hashlib.sha256((tokens._TOKEN.pattern + tokens._WHITESPACE.pattern + repr(tokens._QUOTE_PAIRS)).encode()).hexdigest()[:16]
    assert (store.KEY_VERSION, digest) == (2, "1ce1bafe05847d41"), digest


# ---------------------------------------------------------------- queries equal -i


@pytest.fixture
def hostile(tmp_path):
    files = write_corpus(tmp_path)
    db = tmp_path / "c.db"
    ok("index", "build", *files, "-o", db, "-q")
    return files, db


def _pairs(files, db):
    """(-i arguments, --index arguments) naming the same corpus."""
    return [a for f in files for a in ("-i", f)], ["--index", db]


@pytest.mark.parametrize("extra", [
    [],
    ["--like", "we fished from the bank of the river", "-n", "5"],
    ["-k", "2", "--tokenizer", "whitespace"],
    ["--case", "keep", "--forms", "bank,Bank,BANK"],
    ["--max-line-bytes", "60"],  # below the build's: the longer stored lines are reported, as -i does
    ["--window", "2", "--mode", "qkv", "--weights", "random"],
    ["--max-occurrences", "11"],  # the first 11 found: the same lines read up to them
])
def test_senses_json_equal_with_index_and_with_files(hostile, extra):
    files, db = hostile
    by_files, by_index = _pairs(files, db)
    a = ok("senses", "bank", *by_files, "--json", *extra)
    b = ok("senses", "bank", *by_index, "--json", *extra)
    assert a.stdout == b.stdout
    assert a.stderr == b.stderr  # the same lines not embedded, named the same way, in the same order
    record = json.loads(b.stdout)
    assert record["n"] >= 10 and record["files"] == [str(f) for f in files]


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_senses_page_equal_with_index_and_with_files(hostile, tmp_path):
    files, db = hostile
    by_files, by_index = _pairs(files, db)
    ok("senses", "bank", *by_files, "--html", tmp_path / "a.html", "-q")
    ok("senses", "bank", *by_index, "--html", tmp_path / "b.html", "-q")
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


def test_senses_tables_equal_with_index_and_with_files(hostile):
    files, db = hostile
    by_files, by_index = _pairs(files, db)
    a, b = ok("senses", "bank", *by_files), ok("senses", "bank", *by_index)
    assert a.stdout == b.stdout and "2 files" not in a.stderr


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_library_results_equal_bitwise(hostile):
    from attncli.senses import senses

    files, db = hostile
    a = senses("bank", [str(f) for f in files], like="the bank raised rates")
    b = senses("bank", [], index=str(db), like="the bank raised rates")
    assert [vars(o) for o in a.occurrences] == [vars(o) for o in b.occurrences]
    assert a.vectors.tobytes() == b.vectors.tobytes()  # bitwise
    assert np.array_equal(a.grouping.labels, b.grouping.labels) and a.grouping.score.tobytes() == b.grouping.score.tobytes()
    assert a.skipped == b.skipped and len(a.skipped) == 2  # the line not UTF-8, in each file
    assert a.lines_read == b.lines_read == 2 * len(HOSTILE_LINES) + len(HOSTILE_LINES) - 1
    assert a.like.ranked.tolist() == b.like.ranked.tolist() and a.like.cosine.tobytes() == b.like.cosine.tobytes()


def test_lines_are_those_of_read_lines_that_may_hold_the_form(hostile):
    """Index.lines gives exactly the lines of inputs.read_lines (text, numbers, errors, counts)
    that hold a piece of the form, and every line with forms=None."""
    files, db = hostile
    read_stats = ReadStats()
    everything = list(read_lines(expand([str(f) for f in files]), 1_000_000, read_stats))
    with store.reading(db) as (ix, chosen):
        all_stats = ReadStats()
        assert list(ix.lines(None, chosen, 1_000_000, all_stats)) == everything
        assert vars(all_stats) == vars(read_stats)
        some = list(ix.lines(["money"], chosen, 1_000_000))
    assert [x for x in everything if type(x[2]) is not str or "money" in x[2].lower()] == some


def test_a_lower_max_line_bytes_reports_what_read_lines_reports(hostile):
    """Lines longer than the query's limit are reported too long, stored or not, whatever their
    length (below LONG_LINE: every line's length is read). One difference, documented: a line
    of whitespace only (here 5 bytes) counts as blank, where -i with a limit below its length
    reports it too long; so no limit below 6 here."""
    files, db = hostile
    for limit in (6, 40, 70, 2500, 10_000, 1_000_000):
        want = list(read_lines(expand([str(f) for f in files]), limit))
        with store.reading(db) as (ix, chosen):
            got = list(ix.lines(None, chosen, limit))
        assert got == want, limit


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_eval_pseudowords_equal(tmp_path):
    from .test_senses import planted

    lines, _ = planted(15)
    lines = [ln.replace("bank", "money") if i % 2 else ln.replace("bank", "water") for i, ln in enumerate(lines)]
    f = tmp_path / "p.txt"
    f.write_text("\n".join(lines + ["", "a line without either"]) + "\n")
    db = tmp_path / "p.db"
    ok("index", "build", f, "-o", db, "-q")
    for method in ("senses", "kmeans"):
        a = ok("eval", "pseudowords", f, "--pairs", "money:water,loan:stream", "--grouping", method, "--json")
        b = ok("eval", "pseudowords", "--index", db, "--pairs", "money:water,loan:stream", "--grouping", method, "--json")
        assert a.stdout == b.stdout and a.stderr == b.stderr
    # the pseudoword itself in the text: -i finds it (and says so); so does the index
    with f.open("a") as out:
        out.write("moneywater is a word here\n")
    ok("index", "build", f, "-o", db, "-q")
    a = run("eval", "pseudowords", f, "--pairs", "money:water")
    b = run("eval", "pseudowords", "--index", db, "--pairs", "money:water")
    assert (a.exit_code, a.stdout, a.stderr) == (b.exit_code, b.stdout, b.stderr) and a.exit_code == 1


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_eval_pseudowords_built_in_pairs_equal(tmp_path):
    files = write_corpus(tmp_path)
    db = tmp_path / "c.db"
    ok("index", "build", *files, "-o", db, "-q")
    a = run("eval", "pseudowords", *files, "--pairs", "bank:river")
    b = run("eval", "pseudowords", "--index", db, "--pairs", "bank:river")
    assert (a.exit_code, a.stdout, a.stderr) == (b.exit_code, b.stdout, b.stderr)


@pytest.mark.parametrize("extra", [[], ["--verbose"], ["--json"], ["-q"], ["--occurrence", "2"]])
def test_compare_word_over_a_corpus_equal(hostile, extra):
    files, db = hostile
    by_files, by_index = _pairs(files, db)
    a = run("compare", "--word", "river", *by_files, *extra)
    b = run("compare", "--word", "river", *by_index, *extra)
    assert (a.exit_code, a.stdout, a.stderr) == (b.exit_code, b.stdout, b.stderr)
    assert a.exit_code == 0 and ("hold the word" in a.stderr or "-q" in extra)


def test_compare_too_few_holding_the_word_says_the_same(hostile):
    files, db = hostile
    a = run("compare", "--word", "england", "-i", files[0])
    b = run("compare", "--word", "england", "-i", files[0], "--index", db)
    assert a.exit_code == b.exit_code == 1 and a.stderr == b.stderr
    assert "compare needs at least 2 sentences holding 'england'; 1 of 8 do" in a.stderr


def test_index_with_i_reads_those_files_in_that_order(hostile):
    files, db = hostile
    a = ok("senses", "bank", "-i", files[1], "-i", files[0], "--json")
    b = ok("senses", "bank", "--index", db, "-i", files[1], "-i", files[0], "--json")
    assert a.stdout == b.stdout
    one = ok("senses", "bank", "--index", db, "-i", files[1], "--json")
    assert json.loads(one.stdout)["files"] == [str(files[1])]


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_shared_corpus_senses_and_pseudowords_equal(tmp_path):
    if not SHARED.is_dir():
        pytest.skip("needs ../shared/corpus")
    pattern = str(SHARED / "*.txt")
    db = tmp_path / "shared.db"
    ok("index", "build", pattern, "-o", db, "-q")
    for word in ("bank", "court"):
        a = ok("senses", word, "-i", pattern, "--json")
        b = ok("senses", word, "--index", db, "--json")
        assert a.stdout == b.stdout
    pairs = "army:music,court:ships,battle:university"
    a = ok("eval", "pseudowords", pattern, "--pairs", pairs, "--json")
    b = ok("eval", "pseudowords", "--index", db, "--pairs", pairs, "--json")
    assert a.stdout == b.stdout and a.stderr == b.stderr


# ---------------------------------------------------------------- keeping it current


def _info(db) -> dict:
    return json.loads(ok("index", "info", db, "--json").stdout)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_build_again_skips_unchanged_replaces_changed_prunes(tmp_path):
    a, b = write_corpus(tmp_path)
    c = tmp_path / "c.txt"
    c.write_text("the bank of the river\n")
    db = tmp_path / "i.db"
    r = json.loads(ok("index", "build", a, b, c, "-o", db, "--json", "-q").stdout)
    assert r["new"] == [str(a), str(b), str(c)] and r["files"] == 3
    os.utime(a, ns=(1, 1))  # touched, not changed: the hash says unchanged
    b.write_bytes(b.read_bytes() + b"\none more bank line\n")  # changed
    r = json.loads(ok("index", "build", a, b, "-o", db, "--json", "-q").stdout)
    assert (r["unchanged"], r["changed"], r["kept"], r["new"]) == ([str(a)], [str(b)], [str(c)], [])
    info = _info(db)
    assert [f["name"] for f in info["file_list"]] == [str(a), str(b), str(c)] and info["files"] == 3
    assert all(f["state"] == "unchanged" for f in info["file_list"])
    x = ok("senses", "bank", "-i", a, "-i", b, "-i", c, "--json")
    y = ok("senses", "bank", "--index", db, "--json")
    assert x.stdout == y.stdout  # the changed file's new text, the touched file as it is
    r = json.loads(ok("index", "build", b, a, "-o", db, "--prune", "--json", "-q").stdout)
    assert r["pruned"] == [str(c)] and r["unchanged"] == [str(b), str(a)]
    assert [f["name"] for f in _info(db)["file_list"]] == [str(b), str(a)]  # this build's order
    assert ok("index", "info", db, "--check").exit_code == 0


def test_build_without_corpus_checks_the_indexed_files_again(tmp_path):
    a, b = write_corpus(tmp_path)
    db = tmp_path / "i.db"
    ok("index", "build", a, b, "-o", db, "-q")
    a.write_text("a new text about the bank\n")
    b.unlink()
    r = run("index", "build", "-o", db, "--json")
    assert r.exit_code == 0
    report = json.loads(r.stdout)
    assert report["changed"] == [str(a)] and report["gone"] == [str(b)]
    assert f"{b}: gone from the disk; kept as indexed (--prune drops it)" in r.stderr
    report = json.loads(ok("index", "build", "-o", db, "--prune", "--json", "-q").stdout)
    assert report["pruned"] == [str(b)] and report["unchanged"] == [str(a)]
    assert _info(db)["lines"] == 1


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_changed_files_are_noted_and_the_indexed_text_answers(hostile):
    files, db = hostile
    before = ok("senses", "bank", "--index", db, "--json").stdout
    files[0].write_bytes(files[0].read_bytes() + b"a bank\n")
    r = ok("senses", "bank", "--index", db, "--json")
    assert r.stdout == before
    assert f"{db}: 1 of 2 files changed since they were indexed ({files[0]} changed)" in r.stderr


def test_the_index_itself_is_left_out_of_a_glob(tmp_path):
    write_corpus(tmp_path)
    db = tmp_path / "c.db"
    ok("index", "build", tmp_path / "*", "-o", db, "-q")
    r = ok("index", "build", tmp_path / "*", "-o", db)
    assert f"{db}: left out (it is the index itself)" in r.stderr
    assert _info(db)["files"] == 2


def test_info_says_what_it_holds(hostile):
    files, db = hostile
    info = _info(db)
    assert info["schema"] == store.SCHEMA_VERSION and info["files"] == 2 and info["skipped"] == 2
    assert info["lines"] == sum(f["lines"] for f in info["file_list"]) == 2 * len(HOSTILE_LINES) + len(HOSTILE_LINES) - 1
    assert info["text_bytes"] == sum(f.stat().st_size for f in files) and info["index_bytes"] == db.stat().st_size
    assert info["max_line_bytes"] == 1_000_000 and info["key"] == store.key_spec()
    table = ok("index", "info", db).stdout
    assert "schema" in table and "a.txt" in table and "b.txt" in table


def test_build_progress_and_summary_lines(tmp_path):
    files = write_corpus(tmp_path)
    r = ok("index", "build", *files, "-o", tmp_path / "c.db")
    assert r.stderr.splitlines()[-1].startswith(f"attncli: {tmp_path / 'c.db'}: 2 files (2 new), 35 lines")
    assert "2 not stored" in r.stderr
    assert ok("index", "build", *files, "-o", tmp_path / "d.db", "-q").stderr == ""


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_dask_build_equals_the_local_build(tmp_path):
    pytest.importorskip("dask")
    files = write_corpus(tmp_path)
    c = tmp_path / "c.txt"
    c.write_text("the bank of the river\nmoney in the bank\n")
    files.append(c)
    ok("index", "build", *files, "-o", tmp_path / "local.db", "-q")
    ok("index", "build", *files, "-o", tmp_path / "dask.db", "--engine", "dask", "-q")
    shards = sorted((tmp_path / "dask.db.shards").glob("shard-*.db"))
    assert len(shards) >= 2
    for extra in ([], ["--max-line-bytes", "50"]):
        a = ok("senses", "bank", "--index", tmp_path / "local.db", "--json", *extra)
        b = ok("senses", "bank", "--index", tmp_path / "dask.db", "--json", *extra)
        assert a.stdout == b.stdout and a.stderr == b.stderr
    a = run("compare", "--word", "river", "--index", tmp_path / "local.db")
    b = run("compare", "--word", "river", "--index", tmp_path / "dask.db")
    assert (a.stdout, a.stderr) == (b.stdout, b.stderr)
    # a file changed: indexed again here; the shard that held it alone is removed
    c.write_text("the bank of the river\nmoney in the bank\nthe bank again\n")
    ok("index", "build", *files, "-o", tmp_path / "dask.db", "-q")
    assert len(sorted((tmp_path / "dask.db.shards").glob("shard-*.db"))) <= len(shards)
    assert ok("index", "info", tmp_path / "dask.db", "--check").exit_code == 0
    ok("index", "build", *files, "-o", tmp_path / "local.db", "-q")
    a = ok("senses", "bank", "--index", tmp_path / "local.db", "--json")
    b = ok("senses", "bank", "--index", tmp_path / "dask.db", "--json")
    assert a.stdout == b.stdout
    ok("index", "build", files[0], "-o", tmp_path / "dask.db", "--prune", "-q")  # only a.txt: one shard left
    assert len(list((tmp_path / "dask.db.shards").iterdir())) == _info(tmp_path / "dask.db")["shards"] == 1
    files[0].write_text("the bank\nthe bank\n")  # indexed again here: no shard is used any more
    ok("index", "build", files[0], "-o", tmp_path / "dask.db", "-q")
    assert not (tmp_path / "dask.db.shards").exists()
