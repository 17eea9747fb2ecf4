"""attncli senses and eval pseudowords: occurrences, grouping, --like, the pseudoword test,
JSON, the page, and bad input. Corpora are built here (tmp_path); the shared corpus only in
the slow tests, which skip without it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli import corpus, grouping
from attncli import pseudowords as pw
from attncli import senses as lib
from attncli.cli import app
from attncli.errors import DataError, UsageError
from attncli.inputs import ReadStats, expand, read_lines
from attncli.pipeline import Config, Lexicon, embed, vectors_for

runner = CliRunner()
SHARED = Path("/work/shared/corpus")

FINANCE = ["money", "loan", "deposit", "interest", "credit", "cash", "account", "mortgage", "savings", "payment"]
RIVER = ["river", "water", "fishing", "shore", "stream", "boat", "flood", "muddy", "swim", "trees"]


def planted(n: int = 20, seed: int = 0) -> tuple[list[str], list[int]]:
    """Sentences holding "bank": the first n with finance words only, the next n with river
    words only (5 drawn from each list); and which was which."""
    rng = np.random.default_rng(seed)
    lines, truth = [], []
    for sense, words in enumerate((FINANCE, RIVER)):
        for _ in range(n):
            ctx = list(rng.choice(words, size=5, replace=False))
            lines.append(" ".join(ctx[:2] + ["bank"] + ctx[2:]))
            truth.append(sense)
    return lines, truth


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_error(result, code: int, *fragments: str):
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("attncli: error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for f in fragments:
        assert f in result.stderr, result.stderr


@pytest.fixture(scope="module")
def vec():
    return vectors_for(Config())


# ---------------------------------------------------------------- finding occurrences


def test_occurrences_forms_case_punctuation_files_and_lines(tmp_path, vec):
    a = write(tmp_path, "a.txt", ["Money in the bank.", "", "BANK, bank; Bank!", "embankment banks", "no word here"])
    b = write(tmp_path, "b.txt", ["nothing", "the river bank's edge"])
    stats = ReadStats()
    lines = read_lines(expand([str(a), str(b)]), stats=stats)
    found = corpus.collect(lines, ["bank"], Config().resolved(), vec, stats=stats)
    occ, x, skipped, n_lines = found.occurrences, found.vectors, found.skipped, found.lines_read
    got = [(Path(o.source).name, o.line, o.position, o.form) for o in occ]
    assert got == [("a.txt", 1, 3, "bank"), ("a.txt", 3, 0, "bank"), ("a.txt", 3, 2, "bank"), ("a.txt", 3, 4, "bank"),
                   ("b.txt", 2, 2, "bank")]
    assert n_lines == 7 and stats.blank == 1 and skipped == [] and x.shape == (5, 50)
    for o in occ:  # the snippet marks the word as written
        assert o.text[o.start:o.end].lower() == "bank"
    # two forms: "banks" too, not "embankment"
    occ2 = corpus.collect(read_lines(expand([str(a)])), ["bank", "banks"], Config().resolved(), vec).occurrences
    assert [(o.line, o.form) for o in occ2] == [(1, "bank"), (3, "bank"), (3, "bank"), (3, "bank"), (4, "banks")]


def test_forms_are_lowercased_single_tokens(vec):
    lexicon = Lexicon(vec, Config())
    assert corpus.resolve_forms("Bank", None, lexicon) == ["bank"]
    assert corpus.resolve_forms("match", ["Match", "matches", "match"], lexicon) == ["match", "matches"]
    with pytest.raises(UsageError, match="one token"):
        corpus.resolve_forms("bank", ["river bank"], lexicon)


def test_inputs_globs_and_order(tmp_path):
    a, b = write(tmp_path, "a.txt", ["x"]), write(tmp_path, "b.txt", ["y"])
    assert [s.name for s in expand([str(tmp_path / "*.txt"), str(a)])] == [str(a), str(b)]
    with pytest.raises(DataError, match="no file matches"):
        expand([str(tmp_path / "*.csv")])
    with pytest.raises(DataError, match="is a directory"):
        expand([str(tmp_path)])


def test_snippet_is_cut_around_the_word():
    from attncli.tokens import spans

    text = " ".join(f"w{i}" for i in range(100))
    _, starts, lengths = spans(text)
    snippet, start, end = corpus._snippet(text, starts, starts + lengths, 50, width=3)
    assert snippet == "… w47 w48 w49 w50 w51 w52 w53 …" and snippet[start:end] == "w50"
    snippet, start, end = corpus._snippet(text, starts, starts + lengths, 1, width=3)
    assert snippet == "w0 w1 w2 w3 w4 …" and snippet[start:end] == "w1"


# ---------------------------------------------------------------- the grouping's parts


def test_two_means_1d_by_hand():
    s = np.array([5.0, 0.0, 5.1, 0.1, 0.2])
    assert grouping.two_means_1d(s).tolist() == [True, False, True, False, False]


def test_balanced_accuracy_by_hand():
    assert pw.balanced_accuracy([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert pw.balanced_accuracy([1, 1, 0, 0], [0, 0, 1, 1]) == 1.0  # groups are matched to words
    assert pw.balanced_accuracy([0, 0, 0, 0], [0, 0, 0, 1]) == 0.5  # the majority gains nothing
    assert pw.balanced_accuracy([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx((2 / 3 + 1) / 2)


def test_silhouette_by_hand():
    # two tight orthogonal pairs: a = 0 inside, b = 1 across: silhouette 1
    z = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=np.float32)
    assert grouping.silhouette(z, np.array([0, 0, 1, 1])) == pytest.approx(1.0)
    # the wrong grouping: point 0 is at distance 1 from its group's other point (a = 1) and
    # 0 and 1 from the other group (b = 0.5): (0.5 - 1) / 1 = -0.5, the same for every point
    assert grouping.silhouette(z, np.array([0, 1, 0, 1])) == pytest.approx(-0.5)
    assert grouping.silhouette(z, np.zeros(4, dtype=int)) == 0.0


def test_min_kurtosis_direction_finds_the_two_groups():
    rng = np.random.default_rng(3)
    n = 400
    side = np.repeat([-1.0, 1.0], n // 2)
    x = np.column_stack([side * 2 + rng.normal(0, 0.3, n), rng.normal(0, 3, n), rng.normal(0, 3, n)])
    wz = grouping.whiten(x.astype(np.float32), 3)
    s, kurt = grouping.min_kurtosis_direction(wz, restarts=5, seed=0)
    assert kurt < -1.5  # two separated groups: near -2
    high = grouping.two_means_1d(s)
    assert pw.balanced_accuracy(high.astype(int), (side > 0).astype(int)) == 1.0


def test_whiten_has_unit_variance_components():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6)) * np.array([10, 5, 1, 1, 0.1, 0.1])
    w = grouping.whiten(x.astype(np.float32), 4)
    assert w.shape == (50, 4)
    np.testing.assert_allclose(np.cov(w.T, bias=True), np.eye(4), atol=1e-4)


# ---------------------------------------------------------------- senses end to end


def test_planted_senses_are_recovered_exactly(tmp_path):
    lines, truth = planted()
    path = write(tmp_path, "c.txt", lines)
    for k in (2, None):  # given, and chosen by -k auto
        r = lib.senses("bank", [str(path)], options=lib.SenseOptions(k=k))
        assert r.k == 2
        labels = r.grouping.labels
        assert pw.balanced_accuracy(labels, truth) == 1.0
        assert [s.size for s in r.senses] == [20, 20]
    finance = next(s for s in r.senses if r.grouping.labels[s.examples[0]] == r.grouping.labels[0])
    assert set(finance.attends) <= set(FINANCE)


def test_same_seed_same_senses(tmp_path):
    path = write(tmp_path, "c.txt", planted(seed=5)[0])
    a = lib.senses("bank", [str(path)], options=lib.SenseOptions(k=3))
    b = lib.senses("bank", [str(path)], options=lib.SenseOptions(k=3))
    assert a.grouping.labels.tolist() == b.grouping.labels.tolist()
    assert [s.size for s in a.senses] == sorted((s.size for s in a.senses), reverse=True)  # largest first


def test_auto_finds_one_sense_in_one_kind_of_context(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(60):
        ctx = list(rng.choice(FINANCE, size=5, replace=False))
        lines.append(" ".join(ctx[:2] + ["bank"] + ctx[2:]))
    r = lib.senses("bank", [str(write(tmp_path, "c.txt", lines))])
    assert r.k == 1 and r.senses[0].size == 60
    assert set(r.grouping.gaps) == {2, 3, 4, 5} and max(r.grouping.gaps.values()) < grouping.MIN_GAP


def test_auto_needs_evidence_at_40_occurrences(tmp_path):
    # 40 occurrences of one kind of context, a few lines holding the word twice and a few lines
    # repeated: repetition made tight little groups that beat the one-blob reference (issue 21)
    rng = np.random.default_rng(3)
    lines = []
    while sum(line.split().count("bank") for line in lines) < 40:
        ctx = list(rng.choice(FINANCE, size=6, replace=False))
        line = " ".join(ctx[:2] + ["bank"] + ctx[2:4] + (["bank"] if len(lines) % 5 == 0 else []) + ctx[4:])
        lines += [line, line] if len(lines) % 7 == 0 else [line]
    r = lib.senses("bank", [str(write(tmp_path, "c.txt", lines))])
    assert len(r.occurrences) in (40, 41) and r.k == 1
    # the same count with two kinds of context is split
    two = lib.senses("bank", [str(write(tmp_path, "d.txt", planted(20, seed=3)[0]))])
    assert len(two.occurrences) == 40 and two.k == 2


def test_labels_skip_the_unk_markup(tmp_path, monkeypatch):
    # river contexts full of WikiText's <unk> (tokens < unk >): the sense's centre leans toward
    # < and >, whose neighbours ("mon", "str") made its label before issue 21
    rng = np.random.default_rng(0)
    lines = []
    for words, unk in ((FINANCE, 0), (RIVER, 4)):
        for _ in range(20):
            c = list(rng.choice(words, size=3, replace=False))
            lines.append(" ".join(c[:1] + ["<unk>"] * unk + ["bank"] + c[1:] + ["<unk>"] * unk))
    path = str(write(tmp_path, "c.txt", lines))
    river = lambda r: next(s for s in r.senses if r.grouping.labels[s.examples[0]] == r.grouping.labels[-1])  # noqa: E731
    label = river(lib.senses("bank", [path], options=lib.SenseOptions(k=2))).label
    assert {"river", "shore"} & set(label), label
    monkeypatch.setattr(lib, "MARKUP", ())  # without the rule the markup's neighbours come back
    assert not {"river", "shore"} & set(river(lib.senses("bank", [path], options=lib.SenseOptions(k=2))).label)


def test_auto_never_goes_above_max_k(tmp_path):
    path = write(tmp_path, "c.txt", planted()[0])
    r = lib.senses("bank", [str(path)], options=lib.SenseOptions(max_k=1))
    assert r.k == 1 and r.senses[0].size == 40


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_like_ranks_the_planted_near_duplicate_first(tmp_path):
    lines = planted()[0] + ["the farmer paid the bank his mortgage and loan", "they sat on the bank watching the river"]
    path = write(tmp_path, "c.txt", lines)
    r = lib.senses("bank", [str(path)], like="the farmer paid the bank a mortgage and a loan", top=5)
    first = r.occurrences[int(r.like.ranked[0])]
    assert first.line == len(lines) - 1
    assert len(r.like.ranked) == 5 and np.all(np.diff(r.like.cosine) <= 1e-6)
    r2 = lib.senses("bank", [str(path)], like="we sat on the bank watching the river", top=3)
    assert r2.occurrences[int(r2.like.ranked[0])].line == len(lines)


# ---------------------------------------------------------------- the pseudoword test


def test_pseudoword_replacement_never_leaks(tmp_path, vec):
    a, b = "film", "river"
    pv, pseudo = pw.pseudo_vectors(vec, a, b)
    assert pseudo not in vec and pseudo in pv and pv.words[-1] == pseudo
    np.testing.assert_allclose(pv.rows([pv.index[pseudo]])[0], (vec.rows([vec.index[a]])[0] + vec.rows([vec.index[b]])[0]) / 2,
                               rtol=1e-6)
    assert pv.vocab_size == vec.vocab_size + 1 and np.array_equal(pv.mean(10_000), vec.mean(10_000))
    lines = [("f", 1, "The Film crossed the river."), ("f", 2, "Rivers and films"), ("f", 3, "river, FILM; river-film")]
    truth: list[int] = []
    out = list(pw.replace_words(lines, a, b, pseudo, Lexicon(pv, Config()), truth))
    from attncli.tokens import tokenize

    for (_, _, before), (_, _, after) in zip(lines, out):
        toks = [t.text for t in tokenize(after, pv.__contains__)]
        assert a not in toks and b not in toks
    assert out[1][2] == "Rivers and films"  # other forms are other words
    assert truth == [0, 1, 1, 0, 1, 0]
    # the embedder sees the pseudoword as one token with the mean vector
    occ = corpus.collect(iter(out), [pseudo], Config().resolved(), pv, with_attention=False).occurrences
    assert len(occ) == 6 and {o.form for o in occ} == {pseudo}


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_pseudowords_on_planted_contexts(tmp_path):
    lines = []
    rng = np.random.default_rng(1)
    for word, ctx in (("film", ["director", "actor", "screen", "movie", "cinema", "scene"]),
                      ("river", RIVER[1:])):
        for _ in range(15):
            c = list(rng.choice(ctx, size=4, replace=False))
            lines.append(" ".join(c[:2] + [word] + c[2:]))
    path = write(tmp_path, "c.txt", lines)
    r = pw.pseudowords([str(path)], [("film", "river")], method="kurtosis")
    (p,) = r.pairs
    assert (p.n, p.n_a, p.majority) == (30, 15, 0.5)
    assert p.balanced_accuracy == 1.0 and r.mean_balanced_accuracy == 1.0 and r.baselines == []
    res = run("eval", "pseudowords", path, "--pairs", "film:river", "--grouping", "kurtosis", "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc) == {"pairs", "mean_balanced_accuracy", "se_balanced_accuracy", "mean_majority", "method", "baselines"}
    assert doc["pairs"] == [{"a": "film", "b": "river", "n": 30, "balanced_accuracy": 1.0, "majority": 0.5}]
    assert doc["se_balanced_accuracy"] == 0.0 and doc["method"] == "kurtosis"
    names = [b["name"] for b in doc["baselines"]]
    assert names == ["static vectors", "uniform mean of the context", "prior-only average (similarity off)",
                     "parameter-free defaults", "trained weights (--weights wic)"]
    assert doc["baselines"][0]["mean_balanced_accuracy"] == 0.5  # one static vector for every occurrence
    assert doc["baselines"][3]["mean_balanced_accuracy"] == 1.0  # the defaults are what kurtosis grouped above
    res = run("eval", "pseudowords", path, "--pairs", "film:river", "--grouping", "senses", "--no-baselines")
    assert res.exit_code == 0 and "film:river" in res.stdout and "1.000" in res.stdout and "Baselines" not in res.stdout
    # the context view needs a corpus to fit on: 30 lines are too few, said in one line
    assert_error(run("eval", "pseudowords", path, "--pairs", "film:river"), 1, "too small for the context view")


def test_pair_sets_are_disjoint_and_held_out():
    tuning, heldout, builtin = pw.parse_pairs("tuning"), pw.parse_pairs("heldout"), pw.parse_pairs("builtin")
    assert len(tuning) == 44 and len(heldout) == 24 and builtin == list(pw.DEFAULT_PAIRS)
    words = lambda pairs: {w for p in pairs for w in p}  # noqa: E731
    assert not words(heldout) & words(tuning) and not words(heldout) & words(builtin)
    assert len(words(heldout)) == 48  # every word in one pair only


def test_standard_error_by_hand():
    assert pw.standard_error([0.5, 0.7, 0.9]) == pytest.approx(0.2 / np.sqrt(3))
    assert pw.standard_error([0.6]) == 0.0


def test_parse_pairs():
    assert pw.parse_pairs("a:b, C:d") == [("a", "b"), ("c", "d")]
    for bad in ("a", "a:b:c", "a:", "a:a"):
        with pytest.raises(UsageError):
            pw.parse_pairs(bad)


# ---------------------------------------------------------------- the command


def test_json_schema(tmp_path):
    path = write(tmp_path, "c.txt", planted()[0])
    res = run("senses", "bank", "-i", path, "-k", "2", "--json")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.count("\n") == 1
    doc = json.loads(res.stdout)
    assert list(doc)[:6] == ["word", "forms", "n", "k", "senses", "occurrences"]
    assert (doc["word"], doc["forms"], doc["n"], doc["k"]) == ("bank", ["bank"], 40, 2)
    for s in doc["senses"]:
        assert set(s) == {"id", "size", "label", "attends", "examples"}
        assert len(s["label"]) == 5 and all(isinstance(w, str) for w in s["label"])
        assert "bank" not in s["label"]
        for ex in s["examples"]:
            assert set(ex) == {"line", "position", "text"} and ex["position"] == 2
    assert [s["id"] for s in doc["senses"]] == [1, 2] and sum(s["size"] for s in doc["senses"]) == 40
    assert len(doc["occurrences"]) == 40
    for o in doc["occurrences"]:
        assert set(o) == {"line", "position", "sense", "score"} and o["sense"] in (1, 2)
    assert [o["line"] for o in doc["occurrences"]] == list(range(1, 41))


def test_json_several_files_and_like(tmp_path):
    lines = planted()[0]
    a, b = write(tmp_path, "a.txt", lines[:25]), write(tmp_path, "b.txt", lines[25:])
    res = run("senses", "bank", "-i", a, "-i", b, "--like", "money bank loan", "-n", "4", "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["n"] == 40 and len(doc["occurrences"]) == 4 and doc["like"] == "money bank loan"
    cos = [o["cosine"] for o in doc["occurrences"]]
    assert cos == sorted(cos, reverse=True)
    for o in doc["occurrences"]:
        assert {"file", "line", "position", "sense", "score", "cosine"} <= set(o)
        assert o["file"] == str(a)  # finance lines are all in the first file
    assert {ex["file"] for s in doc["senses"] for ex in s["examples"]} <= {str(a), str(b)}


def test_tables(tmp_path):
    path = write(tmp_path, "c.txt", planted()[0])
    res = run("senses", "bank", "-i", path, "--like", "river bank water", "-n", "2")
    assert res.exit_code == 0, res.stderr
    assert "2 senses (chosen by silhouette)" in res.stdout and "most central examples" in res.stdout
    assert "Nearest in meaning to" in res.stdout


def test_tables_show_corpus_text_as_text(tmp_path):
    hostile = "[bold]money[/bold] bank \x1b[31mloan"
    path = write(tmp_path, "c.txt", [hostile] * 3 + planted()[0][:10])
    res = run("senses", "bank", "-i", path, "-k", "1", "--like", hostile, "-n", "1")
    assert res.exit_code == 0, res.stderr
    assert "[bold]money[/bold] bank \\x1b[31mloan" in res.stdout and "\x1b" not in res.stdout.replace("\\x1b", "")


@pytest.mark.parametrize("args, code, fragment", [
    (["senses", "zebra", "-i", "{c}"], 1, "'zebra' does not occur in 1 file (40 lines)"),
    (["senses", "qqqzzzq", "-i", "{c}"], 1, "not in the vocabulary"),
    (["senses", "mortgage", "-i", "{one}"], 1, "occurs once"),
    (["senses", "bank", "-i", "{c}", "-k", "41"], 1, "-k 41 is more than the 40 occurrences"),
    (["senses", "bank", "-i", "{c}", "-k", "0"], 2, "-k must be >= 1"),
    (["senses", "bank", "-i", "{c}", "-k", "many"], 2, "-k takes a number of senses or 'auto'"),
    (["senses", "bank", "-i", "{empty}"], 1, "does not occur"),
    (["senses", "bank", "-i", "{missing}"], 1, "no such file"),
    (["senses", "bank", "-i", "{dir}/*.csv"], 1, "no file matches"),
    (["senses", "bank"], 2, "-i"),
    (["senses", "bank", "-i", "{c}", "--like", "the river flows"], 2, "holds no form of 'bank'"),
    (["senses", "bank", "-i", "{c}", "--forms", "river bank"], 2, "one token"),
    (["senses", "bank", "-i", "{c}", "--max-k", "0"], 2, "--max-k"),
    (["eval", "pseudowords", "{c}", "--pairs", "film"], 2, "A:B"),
    (["eval", "pseudowords", "{c}", "--pairs", "film:zebra"], 1, "'film' does not occur"),
    (["eval", "pseudowords", "{c}", "--pairs", "film:qqqzzzq"], 1, "not in the vocabulary"),
    (["eval", "pseudowords", "{missing}"], 1, "no such file"),
    (["eval", "pseudowords", "{empty}"], 1, "no pair has occurrences"),
    (["eval", "pseudowords", "{c}", "--grouping", "spectral"], 2, "--grouping"),
    (["eval", "pseudowords", "{c}", "--pairs", "heldout"], 1, "does not occur"),
    (["eval", "pseudowords", "{c}", "--pairs", "film:river", "--grouping", "kurtosis", "--baselines", "--weights", "x", "--mode", "simple"], 2, "--weights needs --mode qkv"),
    (["senses", "bank", "-i", "{c}", "--grouping", "kmeans"], 2, "--grouping"),
    (["senses", "bank", "-i", "{c}", "--grouping", "context", "-k", "2"], 1, "too small for the context view"),
])
@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_bad_input_is_one_line(tmp_path, args, code, fragment):
    paths = {"c": write(tmp_path, "c.txt", planted()[0]), "one": write(tmp_path, "one.txt", ["a mortgage", "nothing"]),
             "empty": write(tmp_path, "empty.txt", []), "missing": tmp_path / "missing.txt", "dir": tmp_path}
    assert_error(run(*[a.format(**paths) for a in args]), code, fragment)


def test_a_line_not_utf8_is_skipped_and_named(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"bank one money\n\xff bank\nriver bank water\n")
    r = run("senses", "bank", "-i", path, "-k", "2", "--json")
    assert r.exit_code == 0, r.stderr
    assert [o["line"] for o in json.loads(r.stdout)["occurrences"]] == [1, 3]
    assert f"not embedded: {path}:2: not valid UTF-8" in r.stderr


# ---------------------------------------------------------------- the page (without a browser)


def test_page_is_standalone_and_escaped(tmp_path):
    lines = planted()[0] + ['bank </script><script>window.pwned=1</script> "quotes" & <b>bold</b> money']
    path = write(tmp_path, "c.txt", lines)
    out = tmp_path / "s.html"
    res = run("senses", "bank", "-i", path, "-k", "2", "--html", out, "--json")
    assert res.exit_code == 0, res.stderr
    page = out.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<script>window.pwned" not in page and "<b>bold</b>" not in page
    assert page.count('class="pt"') == 41
    assert "http://" not in page and "https://" not in page
    data = json.loads(page.split('id="attncli-data">')[1].split("</script>")[0])
    assert len(data["points"]) == 41 and data["n"] == 41
    assert any("</script>" in p["text"] for p in data["points"])  # JSON.parse gets the text back
    assert json.loads(res.stdout)["n"] == 41


def test_pca_2d_shape_and_sign():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 5)).astype(np.float32)
    xy = lib.pca_2d(x)
    assert xy.shape == (30, 2)
    for j in range(2):
        assert xy[np.argmax(np.abs(xy[:, j])), j] > 0
    assert lib.pca_2d(x[:1]).shape == (1, 2)


# ---------------------------------------------------------------- the shared corpus


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared corpus at /work/shared/corpus")
def test_shared_corpus_bank_and_a_pseudoword_pair():
    r = lib.senses("bank", [str(SHARED / "*.txt")], options=lib.SenseOptions(k=2))
    assert len(r.occurrences) == 42 and r.k == 2
    finance = [s for s in r.senses if {"banks", "banking"} & set(s.label)]
    assert len(finance) == 1
    p = pw.pseudowords([str(SHARED / "*.txt")], [("army", "music")], method="kurtosis")
    assert p.pairs[0].balanced_accuracy > 0.9
    p = pw.pseudowords([str(SHARED / "*.txt")], [("army", "music"), ("company", "hill")], method="context")
    assert p.pairs[0].balanced_accuracy > 0.9 and p.method == "context"
    assert p.pairs[1].balanced_accuracy < 0.6  # the built-in pair no grouping separates (docs/senses.md)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared corpus at /work/shared/corpus")
def test_auto_does_not_split_small_counts_on_the_shared_corpus():
    # issue 21: "bank" (42 occurrences) was split into 4 senses, "plant" (31) into 5
    for word in ("bank", "plant"):
        assert lib.senses(word, [str(SHARED / "*.txt")]).k == 1
    assert lib.senses("record", [str(SHARED / "*.txt")]).k == 2


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_a_long_line_keeps_the_attention_of_its_occurrences(tmp_path):
    """One layer: only the occurrences' rows of attention are computed (5,101 cells here, not
    26 million), so even a long line says what its occurrence attended to. With two layers
    every row is needed: a line too long to keep its weights is embedded without them."""
    long_line = "bank " + " ".join(["money"] * 5100)  # 5101 tokens: 26 million attention cells in all
    lines = planted()[0]
    path = write(tmp_path, "c.txt", lines[:20] + [long_line] + lines[20:])
    r = lib.senses("bank", [str(path)], options=lib.SenseOptions(k=2))
    assert len(r.occurrences) == 41 and [o.line for o in r.occurrences] == list(range(1, 42))  # reading order
    assert r.occurrences[20].attends[0][0] == "money" and r.occurrences[19].attends != []
    assert r.skipped == []
    two = lib.senses("bank", [str(path)], Config(layers=2), options=lib.SenseOptions(k=2))
    assert len(two.occurrences) == 41 and two.occurrences[20].attends == [] and two.occurrences[19].attends != []


def test_the_rows_of_the_occurrences_are_the_rows_of_the_whole_line(tmp_path, vec):
    """collect's one-layer path (attention_rows) gives each occurrence the vector embed gives
    its token, up to float rounding, in every mode and mask."""
    lines = ["the bank raised its interest rates and the bank grew", "we sat on the bank of the river",
             "the zzqxv bank of <unk> money"]  # unknown words: skipped
    for cfg in (Config(), Config(causal=True, window=2), Config(mode="qkv", weights="wic"), Config(mode="qkv", weights="random", heads=2)):
        found = corpus.collect(iter([("x", i + 1, t) for i, t in enumerate(lines)]), ["bank"], cfg.resolved(), vec)
        for o, v in zip(found.occurrences, found.vectors):
            whole = embed(lines[o.line - 1], cfg)
            np.testing.assert_allclose(v, whole.contextual[whole.positions.index(o.position)], rtol=1e-5, atol=1e-6)
            row = whole.attention[whole.positions.index(o.position)]
            assert [w for w, _ in o.attends][:1] == [max((t for t in whole.tokens if t != "bank" and t.isalpha()),
                                                         key=lambda t: sum(x for u, x in zip(whole.tokens, row) if u == t))]


def test_a_line_that_cannot_be_embedded_is_skipped_with_a_warning(tmp_path):
    path = write(tmp_path, "c.txt", planted()[0] + ["bank qqqzzzq"])
    res = run("senses", "bank", "-i", path, "-k", "2", "--oov", "error", "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["n"] == 40
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"attncli: warning: not embedded: {path}:41: ")
    assert "qqqzzzq" in res.stderr


# ---------------------------------------------------------------- the limit on a word's occurrences


def test_max_occurrences_keeps_the_first_found_and_reads_no_further(tmp_path):
    texts = [f"the money bank {i} and the river bank" for i in range(30)]  # two occurrences a line
    whole = lib.senses("bank", texts=texts, options=grouping.SenseOptions(k=2))
    cut = lib.senses("bank", texts=texts, options=grouping.SenseOptions(k=2), max_occurrences=7)
    assert (len(whole.occurrences), whole.limited) == (60, None)
    assert len(cut.occurrences) == 7 and cut.limited == 7  # the 4th line cut to one
    assert [(o.line, o.position) for o in cut.occurrences] == [(o.line, o.position) for o in whole.occurrences[:7]]
    assert np.allclose(cut.vectors, whole.vectors[:7], rtol=1e-5, atol=1e-6)  # lines batched otherwise: float32 sums
    assert lib.senses_record(cut)["limited"] == 7 and "limited" not in lib.senses_record(whole)
    path = write(tmp_path, "c.txt", texts)
    assert lib.senses("bank", [path], options=grouping.SenseOptions(k=2), max_occurrences=7).lines_read == 4
    r = run("senses", "bank", "-i", path, "-k", "2", "--max-occurrences", "7", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["n"] == 7
    assert r.stderr.count("kept the first 7 occurrences of 'bank', the lines after them not read (--max-occurrences raises the limit)") == 1


def test_dask_parts_merged_keep_the_first_found_over_the_files(tmp_path, vec):
    """--engine dask collects each file with the limit; the merge keeps what one pass keeps."""
    a = write(tmp_path, "a.txt", [f"money bank {i} river bank" for i in range(3)])
    b = write(tmp_path, "b.txt", [f"bank of {i}" for i in range(5)])
    config = Config().resolved()
    for limit in (2, 5, 7, 9, 11, None):
        parts = [corpus.collect(read_lines(expand([str(p)]), 10_000, ReadStats()), ["bank"], config, vec, limit=limit)
                 for p in (a, b)]
        merged = corpus.merge_collected(parts, limit)
        one = corpus.collect(read_lines(expand([str(a), str(b)]), 10_000, ReadStats()), ["bank"], config, vec, limit=limit)
        assert [(o.source, o.line, o.position) for o in merged.occurrences] == [(o.source, o.line, o.position) for o in one.occurrences]
        assert np.array_equal(merged.vectors, one.vectors) and merged.limited == one.limited == (limit is not None and limit <= 11)


def test_pseudowords_past_the_limit_score_the_first_found(tmp_path, monkeypatch):
    lines = [f"the director film and the river {i} bank" if i % 2 else f"a river flows {i} past the old film studio"
             for i in range(40)]
    path = write(tmp_path, "c.txt", lines)
    monkeypatch.setattr(corpus, "MAX_OCCURRENCES", 25)
    r = pw.pseudowords([str(path)], [("film", "river")], method="kurtosis")
    assert r.pairs[0].n == 25
