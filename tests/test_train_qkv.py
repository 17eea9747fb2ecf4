"""attncli train wic learning W_q, W_k, W_v; weights files that carry their settings; --weights wic;
attncli weights info."""

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli import learn_qkv as L
from attncli import pipeline as P
from attncli import wic
from attncli.cli import app
from attncli.weightsfile import SHIPPED, npz_bytes, weights_path

# Two senses per word, three sentences per sense (written for these tests, not from WiC).
SENSES = {
    "bank": (["The bank raised its interest rates .", "She paid the loan back to the bank .", "The bank opened a new branch downtown ."],
             ["We walked along the bank of the river .", "Fish swam near the muddy bank .", "The river flooded its bank in spring ."]),
    "plant": (["The plant produces steel for cars .", "Workers at the plant went on strike .", "The plant closed its factory gates ."],
              ["The plant needs water and light .", "She watered the green plant .", "The plant grew tall leaves in the garden ."]),
    "bat": (["He swung the bat at the ball .", "The player dropped his bat .", "A wooden bat broke during the game ."],
            ["The bat flew out of the cave at night .", "A bat hunts insects in the dark .", "The bat slept hanging upside down ."]),
    "key": (["She lost the key to the door .", "He turned the key in the lock .", "The key opened the old box ."],
            ["Press the key on the keyboard .", "The piano key stuck .", "Each key of the typewriter clicked ."]),
}


def _fixture(tmp_path: Path) -> list[str]:
    """A WiC-format split of 4 words x 12 pairs (same sense: T, other sense: F)."""
    lines, gold = [], []
    for word, (a, b) in SENSES.items():
        for k in range(3):
            for s1, s2, same in ((a[k], a[(k + 1) % 3], True), (b[k], b[(k + 1) % 3], True), (a[k], b[k], False), (b[k], a[(k + 2) % 3], False)):
                i, j = s1.lower().split().index(word), s2.lower().split().index(word)
                lines.append(f"{word}\tN\t{i}-{j}\t{s1}\t{s2}")
                gold.append("T" if same else "F")
    data, labels = tmp_path / "fx.data.txt", tmp_path / "fx.gold.txt"
    data.write_text("\n".join(lines) + "\n")
    labels.write_text("\n".join(gold) + "\n")
    return [str(data), str(labels)]


@pytest.fixture
def split(tmp_path):
    return _fixture(tmp_path)


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def _one_error_line(r, code: int, *parts: str):
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("attncli: error:") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr
    for p in parts:
        assert p in r.stderr, r.stderr


# ---------------------------------------------------------------- the math


def _random_batch(rng, S=8, n=5, d=6):
    x = rng.normal(size=(S, n, d))
    x[0, 4] = 0  # an out-of-vocabulary key under --oov zero
    keys = np.ones((S, n), bool)
    x[1, 3:], keys[1, 3:] = 0, False  # padding
    target = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    x[5, 1] = 0  # a zero target: query 0, logits the prior alone
    keys[np.arange(S), target] = False  # exclude-self
    return L.Batch(np.arange(S // 2), x, rng.uniform(1e-5, 1e-2, (S, n)), keys, target, np.array([1.0, 0, 1, 0]))


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    setup = L.Setup(heads=2, rank=2, weight_decay=0.05)
    batch = _random_batch(rng)
    params = {}
    for m in "qkv":
        params[f"U_{m}"], params[f"V_{m}"] = rng.normal(0, 0.3, (6, 2)), rng.normal(0, 0.3, (6, 2))
    params.update(log_s=np.array(0.3), log_a=np.array(math.log(3e-3)), rho=np.array(-1.0), beta=np.array(4.0), theta=np.array(0.2))
    _, grads = L.loss_and_grad(params, batch, setup)
    for name, value in params.items():
        for idx in list(np.ndindex(value.shape))[:5]:
            up, down = ({k: v.copy() for k, v in params.items()} for _ in range(2))
            up[name][idx] += 1e-6
            down[name][idx] -= 1e-6
            numeric = (L.loss_and_grad(up, batch, setup)[0] - L.loss_and_grad(down, batch, setup)[0]) / 2e-6
            assert grads[name][idx] == pytest.approx(numeric, rel=1e-5, abs=1e-9), (name, idx)


def test_untrained_start_is_exactly_the_parameter_free_model(split):
    """V = 0: W = I, and s, a, r from simple mode's defaults: the scores of `eval wic` today."""
    vec = P.get_vectors()
    pairs, labels = wic.read_split(*split)
    cfg = P.Config()
    setup = L.Setup()
    sents = L.sentences(wic.Scorer(vec), pairs, cfg)
    params = L.init_params(vec.dim, setup, cfg, seed=3)
    ours = L.scores(params, L.make_batches(sents, labels, np.arange(len(pairs)), setup), setup, len(pairs))
    np.testing.assert_allclose(ours, wic.Scorer(vec).scores(pairs, cfg), atol=1e-5)


def test_softmax_row_with_no_key_is_zero_and_the_residual_remains():
    """A one-word sentence under exclude-self attends to nothing: c = r x_t, as attention does."""
    x = np.array([[[3.0, 4.0]]] * 2)  # (2, 1, 2)
    batch = L.Batch(np.array([0]), x, np.ones((2, 1)), np.zeros((2, 1), bool), np.array([0, 0]), np.array([1.0]))
    params = L.init_params(2, L.Setup(rank=1), P.Config(residual=0.25), seed=0)
    c, _ = L.forward(L.matrices(params), L.scalars(params), batch, L.Setup(rank=1))
    np.testing.assert_allclose(c, 0.25 * x[:, 0])


def _train(split, seed: int, epochs: int = 3):
    vec = P.get_vectors()
    pairs, labels = wic.read_split(*split)
    return L.train_qkv(pairs, labels, P.Config(), vec, rank=4, epochs=epochs, seed=seed)


def test_training_lowers_the_loss_and_is_the_same_for_the_same_seed(split):
    a, b = _train(split, 0, epochs=4), _train(split, 0, epochs=4)
    assert a.losses[-1] < a.losses[0]
    for name in ("W_q", "W_k", "W_v"):
        assert np.array_equal(a.weights[name], b.weights[name])  # bit for bit
    assert a.losses == b.losses and a.cv_accuracy == b.cv_accuracy
    setup, cfg = L.Setup(), P.Config()
    assert not np.array_equal(L.init_params(50, setup, cfg, 0)["U_q"], L.init_params(50, setup, cfg, 1)["U_q"])


@pytest.mark.slow
def test_epochs_are_chosen_by_cross_validation_on_the_training_split(split):
    t = _train(split, 0, epochs=None)
    assert len(t.cv_accuracy) == L.MAX_EPOCHS + 1
    assert t.epochs == int(np.argmax(t.cv_accuracy[1:])) + 1


def test_folds_need_two_words(tmp_path):
    data, gold = tmp_path / "one.data.txt", tmp_path / "one.gold.txt"
    data.write_text("bank\tN\t1-1\tThe bank lends .\tThe bank closed .\n" * 3)
    gold.write_text("T\nT\nF\n")
    r = CliRunner().invoke(app, ["train", "wic", str(data), str(gold), "-o", str(tmp_path / "w.npz")])
    _one_error_line(r, 1, "at least 2 different words")


# ---------------------------------------------------------------- the weights file round trip


@pytest.mark.parametrize("heads", [1, 2])
def test_weights_file_runs_exactly_as_trained(split, tmp_path, heads):
    out = tmp_path / "my.npz"
    r = CliRunner().invoke(app, ["train", "wic", *split, "-o", str(out), "--rank", "4", "--epochs", "4", "--heads", str(heads), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    with np.load(out, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["W_k", "W_q", "W_v", "settings"]
        carried = json.loads(str(npz["settings"]))
    assert carried["config"]["similarity"] == "cosine" and carried["config"]["scale"] is False
    assert carried["training"]["epochs"] == 4 and carried["training"]["data"] == "fx.data.txt"
    # --mode qkv --weights FILE alone: the carried settings apply, and eval reproduces training
    ev = CliRunner().invoke(app, ["eval", "wic", *split, "--fit-data", split[0], "--fit-gold", split[1],
                                  "--mode", "qkv", "--weights", str(out), "--json"])
    assert ev.exit_code == 0, ev.output
    got = json.loads(ev.stdout)
    # JSON prints every float at float32 precision (docs/output.md); the file keeps the exact value
    assert got["config"]["temperature"] == pytest.approx(carried["config"]["temperature"], rel=1e-7)
    assert got["config"]["heads"] == heads
    assert got["accuracy"] == pytest.approx(summary["training"]["train_accuracy"], abs=1e-12)
    assert got["threshold"] == pytest.approx(summary["training"]["threshold"], abs=1e-5)


def test_library_scores_match_the_inference_path(split, tmp_path):
    t = _train(split, 0, epochs=4)
    path = tmp_path / "w.npz"
    path.write_bytes(npz_bytes(t.weights, {"config": t.config, "training": {}}))
    cfg = P.Config(mode="qkv", weights=str(path), **t.config)
    pairs, _ = wic.read_split(*split)
    np.testing.assert_allclose(wic.Scorer(P.get_vectors()).scores(pairs, cfg), t.scores, atol=1e-5)


def test_the_same_seed_writes_the_same_bytes(split, tmp_path):
    runs = [CliRunner().invoke(app, ["train", "wic", *split, "-o", str(tmp_path / f"{k}.npz"), "--rank", "2", "--epochs", "2"]) for k in "ab"]
    assert all(r.exit_code == 0 for r in runs), runs[0].output
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_progress_is_one_line_per_epoch_when_stderr_is_not_a_terminal(split, tmp_path):
    r = CliRunner().invoke(app, ["train", "wic", *split, "-o", str(tmp_path / "w.npz"), "--rank", "2", "--epochs", "2"])
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    folds = [x for x in lines if "cross-validating" in x]
    assert len(folds) == 2 * 4 and "fold 1/4 epoch 1/2: loss " in folds[0] and "held-out accuracy 0." in folds[0]
    assert sum("final epoch" in x for x in lines) == 2
    assert r.stdout == ""  # the summary is a `wrote` line on stderr: stdout may be the weights (-o /dev/stdout)
    assert lines[-1].startswith("attncli: wrote ") and "held-out accuracy" in lines[-1]
    quiet = CliRunner().invoke(app, ["train", "wic", *split, "-o", str(tmp_path / "q.npz"), "--rank", "2", "--epochs", "2", "-q"])
    assert quiet.exit_code == 0 and quiet.stdout == "" and "cross-validating" not in quiet.stderr and "wrote" not in quiet.stderr


# ---------------------------------------------------------------- hostile options and files


def test_unwritable_output_fails_before_training(split, tmp_path, monkeypatch):
    def never(*a, **k):
        raise AssertionError("trained before checking -o")

    monkeypatch.setattr(L, "train_qkv", never)
    r = CliRunner().invoke(app, ["train", "wic", *split, "-o", str(tmp_path / "missing" / "w.npz")])
    _one_error_line(r, 1, "cannot write", "no such directory")
    r = CliRunner().invoke(app, ["train", "wic", *split, "-o", str(tmp_path)])
    assert r.exit_code in (1, 2) and r.stderr.startswith("attncli: error:") and "Traceback" not in r.stderr


@pytest.mark.parametrize("args, code, words", [
    (["--rank", "-1"], 2, "--rank"),
    (["--epochs", "0"], 2, "--epochs"),
    (["--rank", "0", "--epochs", "3"], 2, "--epochs is for --rank >= 1"),
    (["--similarity", "dot"], 2, "--similarity dot"),
    (["--heads", "3"], 2, "cannot be split into 3 heads"),
    (["--residual", "0"], 2, "residual"),
    (["--window", "3"], 2, "--window 3"),  # training attends over the whole sentence: a window would be ignored
])
def test_train_refuses_bad_options(split, tmp_path, args, code, words):
    r = CliRunner().invoke(app, ["train", "wic", *split, "-o", str(tmp_path / "w.npz"), *args])
    _one_error_line(r, code, words)
    assert not (tmp_path / "w.npz").exists()


def _eye_file(path: Path, settings) -> Path:
    eye = np.eye(50, dtype=np.float32)
    members = {"W_q": eye, "W_k": eye, "W_v": eye}
    if settings is not None:
        members["settings"] = settings if isinstance(settings, np.ndarray) else np.array(settings)
    np.savez(path, **members)
    return path


@pytest.mark.parametrize("settings, words", [
    ('{"config": {"temprature": 0.5}}', "unknown setting 'temprature'"),
    ('{"config": {"vectors": "x.txt"}}', "unknown setting 'vectors'"),
    ('{"config": {"temperature": "hot"}}', "--temperature must be a finite number, not 'hot'"),
    ('{"config": {"scale": 1}}', "--scale must be true or false, not 1"),
    ('{"config": {"heads": true}}', "--heads must be a whole number, not True"),
    ('{"config": {"residual": 1.5}}', "residual must be in [0, 1]"),
    ('{"config": {"similarity": "manhattan"}}', "similarity"),
    ('{"config": {"temperature": 0}}', "--temperature must be in [1e-06, 1e+06], not 0"),
    ('{"config": {"window": -1}}', "--window must be"),
    ('{"config": {"window": "2"}}', "--window must be a whole number"),
    ('{"config": [1, 2]}', "must be JSON objects"),
    ('{"confg": {}}', "unknown key 'confg'"),
    ("[1, 2]", "expected a JSON object"),
    ("{not json", "not valid JSON"),
    (np.array([1.0, 2.0]), "expected a 0-d unicode string"),
])
@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_invalid_carried_settings_get_one_clear_error(tmp_path, settings, words):
    path = _eye_file(tmp_path / "bad.npz", settings)
    for cmd in (["embed", "money bank grows", "--mode", "qkv", "--weights", str(path)], ["weights", "info", str(path)]):
        r = CliRunner().invoke(app, cmd)
        _one_error_line(r, 1, str(path), "invalid carried settings", words)


def test_invalid_settings_fail_through_the_python_api_too(tmp_path):
    path = _eye_file(tmp_path / "bad.npz", '{"config": {"layers": 0}}')
    with pytest.raises(P.DataError, match="layers must be between 1 and 64"):
        P.embed("money bank grows", P.Config(mode="qkv", weights=str(path)))


# ---------------------------------------------------------------- precedence of carried settings


def test_carried_settings_apply_unless_given(tmp_path, monkeypatch):
    path = _eye_file(tmp_path / "w.npz", '{"config": {"similarity": "cosine", "scale": false, "temperature": 0.5, "center": 0}}')
    base = ["embed", "money bank grows", "--mode", "qkv", "--weights", str(path), "--json"]
    got = json.loads(CliRunner().invoke(app, base).stdout)["config"]
    assert (got["similarity"], got["scale"], got["temperature"], got["center"]) == ("cosine", False, 0.5, 0)
    got = json.loads(CliRunner().invoke(app, [*base, "--temperature", "2", "--similarity", "dot"]).stdout)["config"]
    assert (got["similarity"], got["temperature"], got["scale"]) == ("dot", 2.0, False)
    # the user's config file sits below the weights' settings; --config FILE above
    xdg = tmp_path / "xdg" / "attncli"
    xdg.mkdir(parents=True)
    (xdg / "config.json").write_text('{"temperature": 3.0}')
    assert json.loads(CliRunner().invoke(app, base).stdout)["config"]["temperature"] == 0.5
    mine = tmp_path / "mine.json"
    mine.write_text('{"temperature": 4.0}')
    assert json.loads(CliRunner().invoke(app, [*base, "--config", str(mine)]).stdout)["config"]["temperature"] == 4.0
    # the Python API: a new Config from options takes them too, options win
    assert P.embed("money bank grows", mode="qkv", weights=str(path)).config.temperature == 0.5
    assert P.embed("money bank grows", mode="qkv", weights=str(path), temperature=2.0).config.temperature == 2.0


def test_a_carried_window_applies_as_on_the_command_line(tmp_path):
    """A W_v-only file (--rank 0) trained with --window carries it: the file alone runs the
    model it was trained as."""
    text = "the money in the bank grows and the river bank flows past the old mill"
    path = _eye_file(tmp_path / "w.npz", '{"config": {"window": 2}}')
    carried = P.embed(text, mode="qkv", weights=str(path))
    given = P.embed(text, mode="qkv", weights=str(path), window=2)
    full = P.embed(text, mode="qkv", weights=str(path), window=0)
    assert carried.config.window == 2
    np.testing.assert_array_equal(carried.contextual, given.contextual)
    assert not np.allclose(carried.contextual, full.contextual)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_rank_zero_training_writes_its_window(split, tmp_path):
    out = tmp_path / "w.npz"
    r = CliRunner().invoke(app, ["train", "wic", *split, "-o", str(out), "--rank", "0", "--window", "2"])
    assert r.exit_code == 0, r.stderr
    info = json.loads(CliRunner().invoke(app, ["weights", "info", str(out), "--json"]).stdout)
    assert info["config"]["window"] == 2


def test_a_file_without_settings_runs_at_the_mode_defaults(tmp_path):
    path = _eye_file(tmp_path / "plain.npz", None)
    got = json.loads(CliRunner().invoke(app, ["embed", "money bank grows", "--mode", "qkv", "--weights", str(path), "--json"]).stdout)
    assert got["config"]["similarity"] == "dot" and got["config"]["scale"] is True


# ---------------------------------------------------------------- the shipped weights


def test_shipped_weights_load_offline_with_their_settings():
    path = weights_path("wic")
    assert path.name == SHIPPED["wic"] and path.is_file()
    with np.load(path, allow_pickle=False) as npz:
        carried = json.loads(str(npz["settings"]))
    r = CliRunner().invoke(app, ["embed", "money bank grows", "--mode", "qkv", "--weights", "wic", "--json"])
    assert r.exit_code == 0, r.output
    cfg = json.loads(r.stdout)["config"]
    assert cfg["weights"] == "wic"
    for k, v in carried["config"].items():  # JSON floats at float32 precision (docs/output.md)
        assert cfg[k] == (pytest.approx(v, rel=1e-7) if isinstance(v, float) else v)
    r = CliRunner().invoke(app, ["embed", "money bank grows", "--mode", "qkv", "--weights", "wic"])
    assert "weights wic (shipped, trained on WiC train)" in " ".join(r.stdout.split())
    r = CliRunner().invoke(app, ["embed", "money bank grows", "--mode", "qkv", "--weights", "wic", "--residual", "0.5", "--json"])
    assert json.loads(r.stdout)["config"]["residual"] == 0.5


def test_shipped_weights_match_their_provenance():
    from attncli.vectors import data_dir, provenance

    entry = provenance()["weights"][SHIPPED["wic"]]
    assert entry["sha256"] == hashlib.sha256((data_dir() / SHIPPED["wic"]).read_bytes()).hexdigest()
    assert "CC BY-NC 4.0" in entry["licence"] and entry["seed"] == 0
    assert entry["scores"]["dev"] >= 0.625
    training = json.loads(str(np.load(data_dir() / SHIPPED["wic"], allow_pickle=False)["settings"]))["training"]
    assert training["train_accuracy"] == entry["scores"]["train"] and training["cv_accuracy"] == entry["scores"]["grouped_cv"]


def test_weights_info_of_the_shipped_file():
    r = CliRunner().invoke(app, ["weights", "info", "wic", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert [m["name"] for m in info["matrices"]] == ["W_q", "W_k", "W_v"]
    assert all(m["shape"] == [50, 50] and m["rank_from_identity"] == 8 for m in info["matrices"])
    assert all(0 < m["distance_from_identity"] < 1 for m in info["matrices"])
    assert info["heads"] == 1 and info["training"]["data"] == "train.data.txt"
    assert "non-commercial" in info["licence"]
    table = CliRunner().invoke(app, ["weights", "info", "wic"])
    assert table.exit_code == 0 and "rank of W - I" in table.stdout and "carried settings" in table.stdout


def test_weights_info_measures_distance_from_identity(tmp_path):
    eye = np.eye(50, dtype=np.float32)
    w_v = eye.copy()
    w_v[0, 1] = 0.5  # W - I of rank 1, ||W - I||_F / ||I||_F = 0.5 / sqrt(50)
    np.savez(tmp_path / "w.npz", W_q=eye, W_k=eye, W_v=w_v)
    info = json.loads(CliRunner().invoke(app, ["weights", "info", str(tmp_path / "w.npz"), "--json"]).stdout)
    by = {m["name"]: m for m in info["matrices"]}
    assert by["W_q"]["rank_from_identity"] == 0 and by["W_q"]["distance_from_identity"] == 0
    assert by["W_v"]["rank_from_identity"] == 1
    assert by["W_v"]["distance_from_identity"] == pytest.approx(0.5 / math.sqrt(50), rel=1e-6)
    assert info["config"] == {} and info["training"] == {}


def test_weights_info_of_a_missing_or_broken_file(tmp_path):
    _one_error_line(CliRunner().invoke(app, ["weights", "info", "identity"]), 2, "built in")
    _one_error_line(CliRunner().invoke(app, ["weights", "info", str(tmp_path / "nope.npz")]), 1, "no such weights file")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    _one_error_line(CliRunner().invoke(app, ["weights", "info", str(tmp_path / "junk.npz")]), 1, "junk.npz")
