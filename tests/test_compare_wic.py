"""compare, embed --neighbors, eval wic, saved settings."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import attncli.pipeline as P
from attncli import wic
from attncli.cli import app

DATA = Path(__file__).parent / "data"
TINY = [str(DATA / "wic_tiny.data.txt"), str(DATA / "wic_tiny.gold.txt")]
FIT = ["--fit-data", TINY[0], "--fit-gold", TINY[1]]
MONEY, RIVER = "money bank grows", "bank river flows"
FINANCE = {"money", "funds", "cash", "banks", "credit", "investment", "raise", "debt", "loans", "billions", "fund"}
WATER = {"river", "rivers", "flows", "tributary", "tributaries", "creek", "downstream", "upstream", "shore", "confluence", "stream"}


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def run(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input)


# ---------------------------------------------------------------- compare


def test_static_cannot_tell_senses_apart_contextual_can():
    r = P.compare([MONEY, RIVER, "The bank raised interest rates ."], "bank")
    assert np.array_equal(r.static_cosine, np.ones((3, 3), dtype=np.float32))
    c = r.contextual_cosine
    assert np.allclose(np.diag(c), 1.0, atol=1e-6) and np.allclose(c, c.T)
    # the two financial senses are closer to each other than either is to the river
    assert c[0, 2] > c[0, 1] and c[0, 2] > c[1, 2]


def test_default_neighbours_show_the_sense():
    r = P.compare([MONEY, RIVER], "bank", k=5)
    money, river = ({w for w, _ in o.neighbors} for o in r.occurrences)
    assert len(money & FINANCE) >= 3, money
    assert len(river & WATER) >= 3, river
    assert "bank" not in money | river  # excluded by default


def test_attention_row_is_the_words_row_and_sums_to_one():
    r = P.compare([MONEY, RIVER], "bank")
    for o in r.occurrences:
        assert o.result.tokens[o.index] == "bank"
        assert sum(o.attention.values()) == pytest.approx(1.0, abs=1e-6)
        assert o.attention["bank"] == 0.0  # exclude-self is a default


def test_repeated_token_weights_are_summed():
    r = P.compare(["the bank and the river", RIVER], "bank")
    o = r.occurrences[0]
    the = [w for t, w in zip(o.result.tokens, o.result.attention[o.index]) if t == "the"]
    assert len(the) == 2 and o.attention["the"] == pytest.approx(sum(the))


def test_occurrence_picks_the_kth_appearance():
    text = "the bank by the river and the bank with money"
    first = P.compare([text, MONEY], "bank", occurrence=1).occurrences[0]
    second = P.compare([text, MONEY], "bank", occurrence=2).occurrences[0]
    assert (first.index, second.index) == (1, 7)
    # attention ignores order: both occurrences see the same bag of words, so they agree...
    vec = lambda o: o.result.contextual[o.index]
    assert np.allclose(vec(first), vec(second), atol=1e-6)
    # ...until positions tell them apart
    first = P.compare([text, MONEY], "bank", occurrence=1, positions="sinusoidal").occurrences[0]
    second = P.compare([text, MONEY], "bank", occurrence=2, positions="sinusoidal").occurrences[0]
    assert not np.allclose(vec(first), vec(second), atol=1e-3)


def test_compare_json_schema_and_inputs_agree():
    args = ["compare", MONEY, RIVER, "--word", "bank", "--json", "-n", "3"]
    from_args = run(*args)
    assert from_args.exit_code == 0, from_args.output
    data = json.loads(from_args.stdout)
    assert set(data) >= {"word", "sentences", "static_cosine", "contextual_cosine", "occurrences"}
    assert data["sentences"] == [MONEY, RIVER] and data["word"] == "bank"
    assert np.array(data["static_cosine"]).shape == (2, 2)
    for k, occ in enumerate(data["occurrences"]):
        assert occ["sentence"] == k
        assert set(occ) >= {"sentence", "index", "attention", "neighbors"}
        assert len(occ["neighbors"]) == 3 and all(isinstance(w, str) and -1 <= c <= 1 for w, c in occ["neighbors"])
    from_stdin = run("compare", "--word", "bank", "--json", "-n", "3", "-i", "-", input=f"{MONEY}\n\n{RIVER}\n")
    assert from_stdin.exit_code == 0
    assert json.loads(from_stdin.stdout) == data


def test_compare_tables():
    r = run("compare", MONEY, RIVER, "--word", "bank")
    assert r.exit_code == 0
    assert "Static cosine between occurrences: 1.00 everywhere" in r.stdout
    assert "cannot tell senses apart" in r.stdout
    assert "Contextual cosine" in r.stdout and "Nearest vocabulary words" in r.stdout


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["compare", MONEY, "the river flows", "--word", "bank"], 1, "absent in sentence 2"),
        (["compare", MONEY, "--word", "bank"], 2, "at least 2 sentences"),
        (["compare", "the bank and the bank", RIVER, "--word", "bank", "--occurrence", "3"], 1, "2 times, not 3"),
        (["compare", MONEY, RIVER, "--word", "river bank"], 2, "single token"),
        (["compare", "money qqzxv grows", "qqzxv river", "--word", "qqzxv"], 1, "out of the vocabulary"),
        (["compare", MONEY, RIVER], 2, "--word"),
    ],
)
def test_compare_errors_are_one_line(args, code, message):
    r = run(*args)
    assert r.exit_code == code
    assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


# ---------------------------------------------------------------- embed --neighbors


def test_embed_neighbors_json():
    r = run("embed", MONEY, "--json", "--neighbors", "4")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert len(data["neighbors"]) == 3 and all(len(n) == 4 for n in data["neighbors"])
    assert all(w != tok for tok, near in zip(data["tokens"], data["neighbors"]) for w, _ in near)
    assert "neighbors" not in json.loads(run("embed", MONEY, "--json").stdout)


# ---------------------------------------------------------------- WiC


def test_fit_threshold_hand_case():
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    labels = np.array([False, False, True, True, True])
    t, acc = wic.fit_threshold(scores, labels)
    assert 0.2 < t < 0.3 and acc == 1.0
    t, acc = wic.fit_threshold(np.array([0.5, 0.5, 0.5]), np.array([True, False, True]))
    assert acc == pytest.approx(2 / 3)  # cannot cut between equal scores: all "same"
    assert wic.accuracy(np.array([0.5, 0.5, 0.5]), np.array([True, False, True]), t) == pytest.approx(2 / 3)


def test_target_index_maps_onto_tokens():
    vec = P.get_vectors()
    s = wic.Scorer(vec).sentence("He nailed the boards to the bank 's floor .")
    assert s.prep.tokens[wic.target_row(s.prep, s.spans[3])].text == "boards"
    assert s.prep.tokens[s.prep.kept[wic.target_row(s.prep, s.spans[6])]].text == "bank"


def test_eval_json_exact_keys_and_fit_only_on_fit_split(tmp_path):
    r = run("eval", "wic", *TINY, *FIT, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) == {"accuracy", "se", "threshold", "n", "fallbacks", "config", "baselines"}
    assert data["n"] == 8 and 0.5 <= data["accuracy"] <= 1.0
    p = data["accuracy"]
    assert data["se"] == pytest.approx((p * (1 - p) / 8) ** 0.5)
    rows = {b["name"]: b for b in data["baselines"]}
    assert list(rows) == ["static vectors", "uniform mean of the context", "prior-only average (similarity off)",
                          "parameter-free defaults", "trained weights (--weights wic)"]
    assert rows["parameter-free defaults"]["accuracy"] == data["accuracy"]  # the defaults were chosen here
    assert all(set(b) == {"name", "accuracy", "se", "fit_accuracy", "grouped_cv"} for b in rows.values())
    # a different fit split moves the threshold; the eval split alone never does
    flipped = tmp_path / "flipped.gold.txt"
    flipped.write_text("".join("F\n" if l.strip() == "T" else "T\n" for l in open(TINY[1])))
    other = json.loads(run("eval", "wic", *TINY, "--fit-data", TINY[0], "--fit-gold", str(flipped), "--json").stdout)
    assert other["threshold"] != data["threshold"]
    same = json.loads(run("eval", "wic", TINY[0], str(flipped), *FIT, "--json").stdout)
    assert same["threshold"] == data["threshold"] and same["accuracy"] == pytest.approx(1 - data["accuracy"])


def test_tune_saves_settings_that_every_command_reads(tmp_path):
    saved = tmp_path / "tuned.json"
    r = run("eval", "wic", *TINY, *FIT, "--tune", "--json", "--save-config", str(saved))
    assert r.exit_code == 0, r.output
    chosen = json.loads(r.stdout)["config"]
    on_disk = json.loads(saved.read_text())
    assert "trust" not in on_disk  # a shared settings file never carries it
    assert {k: on_disk[k] for k in chosen if k != "trust"} == {k: v for k, v in chosen.items() if k != "trust"}
    assert on_disk["_tuned"]["by"].endswith("--tune")
    embed_cfg = json.loads(run("embed", MONEY, "--json", "--config", str(saved)).stdout)["config"]
    assert embed_cfg == chosen
    # the command line wins over the file
    assert json.loads(run("embed", MONEY, "--json", "--config", str(saved), "--temperature", "3").stdout)["config"]["temperature"] == 3


def test_user_config_file_is_read_and_overridden(tmp_path, monkeypatch):
    cfg_dir = tmp_path / "xdg" / "attncli"
    cfg_dir.mkdir(parents=True)
    (cfg_dir / "config.json").write_text('{"temperature": 0.25, "_note": "mine"}')
    got = json.loads(run("embed", MONEY, "--json").stdout)["config"]
    assert got["temperature"] == 0.25
    got = json.loads(run("embed", MONEY, "--json", "--textbook").stdout)["config"]
    assert (got["similarity"], got["scale"], got["temperature"], got["center"]) == ("dot", True, 1.0, 0)


@pytest.mark.parametrize(
    "content, message, code",
    [('{"temprature": 1}', "unknown setting 'temprature'", 2), ("[1, 2]", "one JSON object", 1), ("{nope", "not valid JSON", 1),
     ('{"similarity": "manhattan"}', "similarity", 2)],
)  # a file that is not settings is bad data (1); a setting unknown or out of range, bad usage (2), as on the command line
def test_bad_config_file(tmp_path, content, message, code):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = run("embed", MONEY, "--config", str(bad))
    assert r.exit_code == code and message in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "line, message",
    [("bank\tN\t1-0\tonly four fields", "expected 5"), ("bank\tN\tx-y\ta b\tc d", "not 'i-j'"), ("bank\tN\t9-0\ta b\tc d", "outside the sentence")],
)
def test_bad_wic_files(tmp_path, line, message):
    data = tmp_path / "bad.data.txt"
    data.write_text(line + "\n")
    (tmp_path / "bad.gold.txt").write_text("T\n")
    r = run("eval", "wic", str(data), str(tmp_path / "bad.gold.txt"), *FIT)
    assert r.exit_code == 1 and message in r.stderr and f"{data}:1" in r.stderr


def test_gold_count_mismatch(tmp_path):
    gold = tmp_path / "short.gold.txt"
    gold.write_text("T\nF\n")
    r = run("eval", "wic", TINY[0], str(gold), *FIT)
    assert r.exit_code == 1 and "2 labels for 8 pairs" in r.stderr


WIC = Path(__file__).resolve().parents[2] / "shared" / "wic"


@pytest.mark.slow
@pytest.mark.skipif(not (WIC / "dev.data.txt").exists(), reason="WiC splits not found in ../shared/wic")
def test_defaults_reach_the_target_on_wic_dev():
    vec = P.get_vectors()
    tr, dv = wic.read_pairs(WIC / "train.data.txt"), wic.read_pairs(WIC / "dev.data.txt")
    result = wic.evaluate(dv, wic.read_gold(WIC / "dev.gold.txt", len(dv)), tr, wic.read_gold(WIC / "train.gold.txt", len(tr)), P.Config(), vec)
    assert result.accuracy >= 0.60
    textbook = wic.evaluate(dv, wic.read_gold(WIC / "dev.gold.txt", len(dv)), tr, wic.read_gold(WIC / "train.gold.txt", len(tr)), P.Config.textbook(), vec)
    assert textbook.accuracy < result.accuracy


@pytest.mark.parametrize("command", [["eval", "wic", *TINY, *FIT], ["train", "wic", *TINY, "-o", "OUT"]])
def test_unwritable_output_is_one_line(tmp_path, command):
    missing = str(tmp_path / "no" / "such" / "dir" / "x.json")
    args = [a if a != "OUT" else missing.replace(".json", ".npz") for a in command] + ["--save-config", missing]
    r = run(*args, "-q")
    assert r.exit_code == 1 and "cannot write" in r.stderr and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr
    if command[0] != "eval":
        return
    # without -q, the progress lines come first and the error is still one last line
    lines = run(*args).stderr.splitlines()
    assert lines[-1].startswith("attncli: error: cannot write") and "Traceback" not in "\n".join(lines)
    assert all(line.startswith("attncli: ") and "%" in line for line in lines[:-1])


# ---------------------------------------------------------------- --tune


@pytest.mark.parametrize("base", [P.Config(), P.Config(temperature=0.7, prior_a=0.02, center=500, exclude_self=False)],
                         ids=["defaults", "custom"])
def test_tune_grid_holds_the_starting_settings_first(base):
    base = base.resolved()
    configs = list(wic.grid(base))
    assert configs[0] == base
    axes = {k: {getattr(base, k), *v} for k, v in wic.TUNE_GRID.items()}
    assert len(configs) == int(np.prod([len(v) for v in axes.values()])) == len(set(configs))
    for c in configs:  # only the grid's options move
        assert c.replace(**{k: getattr(base, k) for k in axes}) == base
    if base == P.Config().resolved():
        assert 3e-4 in axes["prior_a"] and len(configs) == 48  # the default prior a=3e-4 is in


@pytest.mark.parametrize("base", [P.Config(), P.Config(temperature=0.3, prior_a=0.02)], ids=["defaults", "custom"])
def test_tune_never_chooses_a_lower_fit_accuracy_than_its_start(base):
    base = base.resolved()
    pairs, gold = wic.read_split(*TINY)
    vec = P.vectors_for(base)
    untuned = wic.evaluate(pairs, gold, pairs, gold, base, vec)
    tuned = wic.evaluate(pairs, gold, pairs, gold, base, vec, tune=True)
    assert tuned.trials[0] == (base, untuned.fit_accuracy)
    assert tuned.fit_accuracy == max(acc for _, acc in tuned.trials) >= untuned.fit_accuracy


def test_tune_keeps_the_starting_settings_on_a_tie():
    pairs, gold = wic.read_split(*TINY)
    base = P.Config().resolved()
    # the seed of random projections plays no part in simple mode: every candidate ties
    tuned = wic.evaluate(pairs, gold, pairs, gold, base, P.vectors_for(base), tune=True, spec={"seed": [5, 6]})
    assert len(tuned.trials) == 3 and len({acc for _, acc in tuned.trials}) == 1
    assert tuned.config == base


def test_tuned_table_names_the_untuned_fit_accuracy():
    untuned = json.loads(run("eval", "wic", *TINY, *FIT, "--json", "-q").stdout)
    pairs, gold = wic.read_split(*TINY)
    base_acc = wic.evaluate(pairs, gold, pairs, gold, P.Config().resolved(), P.vectors_for(P.Config())).fit_accuracy
    r = CliRunner().invoke(app, ["eval", "wic", *TINY, *FIT, "--tune", "-q"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    assert f"untuned: fit accuracy {base_acc:.4f}" in r.stdout and "best of 48 settings" in r.stdout
    assert untuned["n"] == 8
