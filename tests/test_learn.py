"""attncli train wic: the learned value projection."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli import learn, wic
from attncli import pipeline as P
from attncli.cli import app

DATA = Path(__file__).parent / "data"
TINY = [str(DATA / "wic_tiny.data.txt"), str(DATA / "wic_tiny.gold.txt")]


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    d = 6
    parts = rng.normal(size=(20, 2, 2, d))
    y = rng.integers(0, 2, 20).astype(float)
    theta = np.concatenate([(np.eye(d) + 0.1 * rng.normal(size=(d, d))).ravel(), [4.0, 0.3]])
    _, grad = learn._loss(theta, parts, y, 0.2, 0.01)
    for i in (0, 7, 20, d * d, d * d + 1):
        e = np.zeros_like(theta)
        e[i] = 1e-6
        numeric = (learn._loss(theta + e, parts, y, 0.2, 0.01)[0] - learn._loss(theta - e, parts, y, 0.2, 0.01)[0]) / 2e-6
        assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_identity_w_v_reproduces_the_untrained_scores():
    vec = P.get_vectors()
    pairs = wic.read_pairs(TINY[0])
    cfg = P.Config().resolved()
    parts = learn.target_parts(wic.Scorer(vec), pairs, cfg)
    ours = learn.pair_scores(np.eye(vec.dim), parts, cfg.residual)[0]
    np.testing.assert_allclose(ours, wic.Scorer(vec).scores(pairs, cfg), atol=1e-5)


def test_word_folds_keep_a_word_in_one_fold():
    pairs = wic.read_pairs(TINY[0])
    folds = learn.word_folds(pairs, 3)
    for word in {p.word for p in pairs}:
        assert len({f for f, p in zip(folds, pairs) if p.word == word}) == 1


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_train_writes_weights_that_the_pipeline_runs_exactly(tmp_path):
    out, saved = tmp_path / "wv.npz", tmp_path / "wv.json"
    r = CliRunner().invoke(app, ["train", "wic", *TINY, "-o", str(out), "--rank", "0", "--save-config", str(saved), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)["training"]
    with np.load(out, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["W_k", "W_q", "W_v", "settings"]
        assert json.loads(str(npz["settings"]))["config"]["residual"] == 0.2  # carried: --weights alone runs them
        assert np.array_equal(npz["W_q"], np.eye(50, dtype=np.float32))
        assert not np.allclose(npz["W_v"], np.eye(50), atol=1e-3)  # it learned something
    settings = json.loads(saved.read_text())
    assert settings["mode"] == "qkv" and settings["weights"] == str(out.resolve())
    assert settings["similarity"] == "cosine" and settings["residual"] == 0.2  # the tuned attention, kept
    # eval with the saved settings gives the training-time fit accuracy and threshold
    ev = CliRunner().invoke(app, ["eval", "wic", *TINY, "--fit-data", TINY[0], "--fit-gold", TINY[1],
                                  "--config", str(saved), "--json"])
    assert ev.exit_code == 0, ev.output
    got = json.loads(ev.stdout)
    assert got["threshold"] == pytest.approx(summary["threshold"], abs=1e-5)
    assert got["accuracy"] == pytest.approx(summary["train_accuracy"])
    # and embed runs them too
    em = CliRunner().invoke(app, ["embed", "money bank grows", "--config", str(saved), "--json"])
    assert em.exit_code == 0 and json.loads(em.stdout)["config"]["weights"] == str(out.resolve())


def test_train_refuses_what_it_cannot_learn(tmp_path):
    r = CliRunner().invoke(app, ["train", "wic", *TINY, "-o", str(tmp_path / "w.npz"), "--rank", "0", "--heads", "2"])
    assert r.exit_code == 2 and "one head" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "w.npz").exists()
