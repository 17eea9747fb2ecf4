"""--window W: each token attends to the W tokens on either side. The same numbers as full
attention under a hand-built band mask, on the whole and the blocked paths; only the keys a
block needs are computed; bad values are refused with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli import attention as att
from attncli.batch import BatchEmbedder
from attncli.cli import app
from attncli.errors import UsageError
from attncli.pipeline import Config, embed, get_vectors

TOL = dict(rtol=1e-6, atol=1e-6)
TEXT = "the bank of the river rose as the money in the bank grew and the river fell"


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_window_mask_by_hand():
    assert att.window_mask(4, window=1).astype(int).tolist() == [
        [1, 1, 0, 0],
        [1, 1, 1, 0],
        [0, 1, 1, 1],
        [0, 0, 1, 1],
    ]
    # queries 5, 6 against keys 0..7, window 2
    assert att.window_mask(2, 8, offset=5, window=2).astype(int).tolist() == [
        [0, 0, 0, 1, 1, 1, 1, 1],
        [0, 0, 0, 0, 1, 1, 1, 1],
    ]


def test_three_tokens_window_one_by_hand():
    """x = e_0, e_1, e_2 (unit vectors), dot product, no scale: the first token sees itself
    (logit 1) and the second (logit 0): weights e/(e+1), 1/(e+1); never the third."""
    x = np.eye(3, dtype=np.float32)
    out = att.self_attention(x, att.AttentionSettings(scale=False, window=1), att.Projections.identity(3))[0]
    e = np.e
    np.testing.assert_allclose(out[0], [e / (e + 1), 1 / (e + 1), 0], **TOL)
    np.testing.assert_allclose(out[1], [1 / (e + 2), e / (e + 2), 1 / (e + 2)], **TOL)


@pytest.mark.parametrize("window", [1, 3, 40])
@pytest.mark.parametrize("extra", [{}, {"causal": True}, {"exclude_self": True, "similarity": "cosine", "scale": False}])
def test_window_is_full_attention_with_a_band_mask(window, extra):
    x = get_vectors().rows(np.random.default_rng(0).integers(0, 5000, 90))  # (90, 50)
    settings = att.AttentionSettings(window=window, **extra)
    n = len(x)
    band = np.abs(np.arange(n)[None, :] - np.arange(n)[:, None]) <= window
    if extra.get("causal"):
        band &= np.tri(n, dtype=bool)
    if extra.get("exclude_self"):
        band &= ~np.eye(n, dtype=bool)
    scores = {k: v for k, v in dict(att.AttentionSettings(**extra).scores).items()}
    want, weights = att.attention(x, x, x, band, **scores)
    got, got_weights = att.self_attention(x, settings, att.Projections.identity(50))
    np.testing.assert_allclose(got, want, **TOL)
    assert not got_weights[0][~band].any()  # nothing outside the band


def test_window_at_least_n_is_no_window():
    n = len(TEXT.split())
    for cfg in (Config(), Config.textbook(causal=True)):
        full = embed(TEXT, cfg)
        for window in (n - 1, n, 10**9):
            r = embed(TEXT, cfg.replace(window=window))
            np.testing.assert_allclose(r.contextual, full.contextual, **TOL)
            np.testing.assert_allclose(r.attention, full.attention, **TOL)


@pytest.mark.parametrize("cfg", [
    Config(window=5),
    Config(window=1, causal=True, layers=2),
    Config(mode="qkv", weights="random", heads=5, window=17, positions="sinusoidal"),
])
@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_blocked_equals_whole_with_window(cfg, monkeypatch):
    """A 900-token line in blocks of 64 rows (key slices of 2 to 300 columns) equals the whole
    matrix with the same window."""
    monkeypatch.setattr(att, "BLOCK_ROWS", 64)
    words = [w for w in get_vectors().words[100:3000] if w.isalpha()]
    text = " ".join(np.random.default_rng(1).choice(words, 900))
    whole = embed(text, cfg).contextual
    for block_cells in (64 * 2, 64 * 300, 10**9):
        chunk = BatchEmbedder(cfg, block_cells=block_cells).embed_chunk([(1, text)])
        np.testing.assert_allclose(chunk.contextual, whole, **TOL)


def test_blocked_window_computes_only_the_band(monkeypatch):
    """O(n W): every block's logits stay within its rows' band of keys."""
    monkeypatch.setattr(att, "BLOCK_ROWS", 50)
    seen = []
    logits = att._logits

    def spy(q, k, bias, settings, r0, k0, k1, divisor):
        seen.append((r0, len(q), k0, k1))
        return logits(q, k, bias, settings, r0, k0, k1, divisor)

    monkeypatch.setattr(att, "_logits", spy)
    n, window = 2000, 10
    x = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    att.blocked_self_attention(x, att.AttentionSettings(window=window), att.Projections.identity(8), block_cells=50 * 1000)
    assert all(k0 >= max(0, r0 - window) and k1 <= min(n, r0 + b + window) for r0, b, k0, k1 in seen)
    cells = sum(b * (k1 - k0) for _, b, k0, k1 in seen)
    assert cells <= n * (50 + 2 * window)  # not n * n = 4,000,000
    assert att.blocked_cells(n, att.AttentionSettings(window=window)) == n * (2 * window + 1)


@pytest.mark.parametrize("value", [-1, 2.5, True, "3", None, 2**64])
def test_bad_window_refused_by_config(value):
    with pytest.raises(UsageError) as e:
        Config(window=value)
    assert str(e.value).startswith("window ")  # the Python name: the CLI says --window (option_style)


@pytest.mark.parametrize("args", [["--window", "-1"], ["--window", "1.5"], ["--window", "many"], ["--window", str(2**64)]])
def test_bad_window_on_the_command_line(args):
    r = run("embed", TEXT, "--json", *args)
    assert r.exit_code == 2 and r.stdout == "" and "--window" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("value", [-3, 2.5, "3", True, 1e30, 2**64, None])
def test_bad_window_in_a_settings_file(tmp_path, value):
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"window": value}))
    r = run("embed", TEXT, "--json", "--config", str(f))
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"attncli: error: {f}: setting 'window': ") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr


def test_window_on_the_command_line_and_in_the_record(tmp_path):
    r = run("embed", TEXT, "--json", "--window", "2")
    assert r.exit_code == 0, r.stderr
    record = json.loads(r.stdout)
    assert record["config"]["window"] == 2
    weights = np.array(record["attention"])  # (n, n)
    n = len(weights)
    assert not weights[np.abs(np.arange(n)[None, :] - np.arange(n)[:, None]) > 2].any()
    f = tmp_path / "s.json"
    f.write_text('{"window": 3}')
    assert json.loads(run("embed", TEXT, "--json", "--config", str(f)).stdout)["config"]["window"] == 3


def test_explain_names_the_window_and_matches_embed():
    """explain works the same numbers as embed under --window, and says why far keys are hidden."""
    from attncli.explain import explain

    cfg = Config(window=2)
    e = explain(TEXT, "river", cfg)
    i = TEXT.split().index("river")
    reasons = e.masked
    assert all((r is not None and "window" in r) == (abs(j - i) > 2) for j, r in enumerate(reasons))
    np.testing.assert_allclose(e.layers[-1].heads[0].weights, embed(TEXT, cfg).attention, **TOL)
