"""`attncli explain`: the working for one word is the computation of embed, written out.

The four invariants of the JSON (weights = embed's attention row, softmax(logits) = weights,
sum(terms) + residual = contextual, contextual = embed's contextual row) over many option sets;
a 3-token case computed by hand; the text at 80 columns; bad input."""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from attncli.cli import app
from attncli.explain import explain
from attncli.export import explain_record
from attncli.pipeline import Config, embed
from attncli.render import explain_renderables, formula_lines

from .helpers import SMALL_VECTORS, random_weights
from .test_cli_embed import assert_one_line_error

runner = CliRunner()
TEXT = "money bank grows"
KEYS = ["word", "index", "tokens", "config", "similarity", "logits", "weights", "terms", "residual", "contextual", "static"]


def run(*args, env=None):
    return runner.invoke(app, [*map(str, args)], env=env)


def both_json(text: str, word: str, *args, occurrence: int = 1) -> tuple[dict, dict]:
    """`explain --json` and `embed --json` with the same options."""
    r = run("explain", text, "--word", word, "--occurrence", occurrence, *args, "--json")
    assert r.exit_code == 0, r.stderr
    e = json.loads(r.stdout)
    r = run("embed", text, *args, "--json")
    assert r.exit_code == 0, r.stderr
    return e, json.loads(r.stdout)


def softmax_of(logits: list) -> np.ndarray:
    """softmax over the logits, null (masked) as -inf, in float64."""
    z = np.array([-np.inf if v is None else v for v in logits], dtype=np.float64)
    e = np.exp(z - z[np.isfinite(z)].max())
    return e / e.sum()


def check_invariants(ex: dict, em: dict, *, heads: int = 1, layers: int = 1) -> None:
    i = ex["index"]
    n = len(ex["tokens"])
    assert list(ex)[: len(KEYS)] == KEYS
    assert set(ex) == set(KEYS) | {"change"} | ({"heads"} if heads > 1 else set()) | ({"layers"} if layers > 1 else set())
    assert ex["tokens"] == em["tokens"] and ex["config"] == em["config"]
    weights = np.asarray(ex["weights"])
    # 1. the weights are embed's attention row
    np.testing.assert_allclose(weights, em["attention"][i], atol=1e-6)
    assert weights.sum() == pytest.approx(1.0, abs=1e-5)
    # 2. softmax(logits) = weights
    assert len(ex["logits"]) == n
    np.testing.assert_allclose(softmax_of(ex["logits"]), weights, atol=1e-6)
    # 3. sum of the terms plus the residual is the contextual vector
    terms, residual, ctx = (np.asarray(ex[k], dtype=np.float64) for k in ("terms", "residual", "contextual"))
    assert terms.shape == (n, ctx.shape[0]) and residual.shape == ctx.shape
    np.testing.assert_allclose(terms.sum(axis=0) + residual, ctx, atol=1e-5 * max(1.0, np.abs(ctx).max()))
    # 4. the contextual vector is embed's, and so is the static one
    np.testing.assert_allclose(ctx, em["contextual"][i], atol=1e-6)
    np.testing.assert_allclose(ex["static"], em["static"][i], atol=0)
    if heads > 1:
        assert ex["similarity"] is None and len(ex["heads"]) == heads
        for h, head in enumerate(ex["heads"]):
            assert head["head"] == h + 1
            np.testing.assert_allclose(head["weights"], em["heads"][h][i], atol=1e-6)
            np.testing.assert_allclose(softmax_of(head["logits"]), head["weights"], atol=1e-6)
            v = np.asarray(head["v"])
            np.testing.assert_allclose(np.asarray(head["weights"]) @ v, head["output"], atol=1e-5)
        np.testing.assert_allclose(np.mean([h["weights"] for h in ex["heads"]], axis=0), weights, atol=1e-6)
    else:
        assert len(ex["similarity"]) == n
    if layers > 1:
        assert [entry["layer"] for entry in ex["layers"]] == list(range(1, layers + 1))
        last = ex["layers"][-1]
        np.testing.assert_allclose(last["output"], ctx, atol=1e-5)
        for entry in ex["layers"]:
            out = np.asarray(entry["terms"]).sum(axis=0) + np.asarray(entry["residual"])
            np.testing.assert_allclose(out, entry["output"], atol=1e-5)
            np.testing.assert_allclose(softmax_of(entry["logits"]), entry["weights"], atol=1e-6)


OPTION_SETS = {
    "simple defaults": ([], 1, 1),
    "textbook": (["--textbook"], 1, 1),
    "qkv identity": (["--mode", "qkv"], 1, 1),
    "qkv random 2 heads": (["--mode", "qkv", "--weights", "random", "--heads", "2"], 2, 1),
    "2 layers": (["--layers", "2"], 1, 2),
    "causal": (["--causal"], 1, 1),
    "positions sinusoidal": (["--positions", "sinusoidal"], 1, 1),
    "prior none": (["--prior", "none"], 1, 1),
    "temperature 0.5": (["--temperature", "0.5"], 1, 1),
    "cosine scaled, include self": (["--similarity", "cosine", "--scale", "--include-self"], 1, 1),
    "qkv random 2 heads 3 layers residual causal positions": (
        ["--mode", "qkv", "--weights", "random", "--heads", "2", "--layers", "3", "--residual", "0.3", "--causal",
         "--positions", "sinusoidal", "--seed", "4"], 2, 3),
    "simple 5 heads exclude-self": (["--heads", "5", "--temperature", "2"], 5, 1),
}


@pytest.mark.parametrize("name", list(OPTION_SETS))
def test_invariants_against_embed(name):
    args, heads, layers = OPTION_SETS[name]
    ex, em = both_json("the bank of the river grows", "bank", *args)
    assert ex["index"] == 1 and ex["word"] == "bank"
    check_invariants(ex, em, heads=heads, layers=layers)


def test_invariants_with_w_o_and_biases(weights_file):
    path = weights_file()  # 2 heads of d_k 4, d_v 3, W_o (6, 4), every bias
    ex, em = both_json(TEXT, "grows", "--mode", "qkv", "--weights", path, "--heads", "2")
    check_invariants(ex, em, heads=2)
    assert len(ex["contextual"]) == 4
    b_o = random_weights()["b_o"]
    np.testing.assert_allclose(ex["residual"], b_o, atol=1e-7)  # outside the sum: the bias alone
    assert ex["change"]["cosine"] is None and ex["change"]["after"] == []  # 4 dims: no vocabulary to compare with


def test_invariants_for_the_second_occurrence():
    ex, em = both_json("the bank and the bank", "the", "--layers", "2", "--include-self", occurrence=2)
    assert ex["index"] == 3
    check_invariants(ex, em, layers=2)


def test_library_working_is_embeds_for_every_head_and_layer():
    cfg = Config(mode="qkv", weights="random", heads=2, layers=2, residual=0.25, seed=3)
    e = explain("money bank grows fast", "grows", cfg)
    r = embed("money bank grows fast", cfg)
    assert e.index == 2
    np.testing.assert_allclose(e.attention, r.attention, atol=1e-6)
    for h, head in enumerate(e.layers[-1].heads):
        np.testing.assert_allclose(head.weights, r.heads[h], atol=1e-6)  # every query row, not only the word's
    # layer 2 attends over layer 1's outputs: the word's row of them is layer 1's worked output
    np.testing.assert_allclose(e.layers[1].input[e.index], e.layers[0].output, atol=1e-5)
    np.testing.assert_allclose(e.layers[-1].output, r.contextual[e.index], atol=1e-5)


# ---------------------------------------------------------------- by hand


@pytest.fixture
def small(word2vec_file):
    return ["--vectors", word2vec_file]


def test_three_tokens_by_hand(small):
    """x_money = (1, 0, .5, 0), x_bank = (.5, .5, 0, 1), x_grows = (0, 1, 0, -.5); the textbook
    formula: bank·money = 0.5, bank·bank = 1.5, bank·grows = 0, each divided by √4 = 2."""
    ex, _ = both_json(TEXT, "bank", *small, "--textbook")
    np.testing.assert_allclose(ex["similarity"], [0.5, 1.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(ex["logits"], [0.25, 0.75, 0.0], atol=1e-6)
    z = math.exp(0.25) + math.exp(0.75) + math.exp(0.0)
    alpha = [math.exp(0.25) / z, math.exp(0.75) / z, 1 / z]  # 0.2918, 0.4810, 0.2272
    np.testing.assert_allclose(ex["weights"], alpha, atol=1e-6)
    x = SMALL_VECTORS[:3].astype(np.float64)
    np.testing.assert_allclose(ex["terms"], np.asarray(alpha)[:, None] * x, atol=1e-6)
    np.testing.assert_allclose(ex["residual"], [0, 0, 0, 0])
    np.testing.assert_allclose(ex["contextual"], [0.53227, 0.46774, 0.14588, 0.36742], atol=1e-5)

    r = run("explain", TEXT, "-w", "bank", *small, "--textbook", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    assert "bank' = 0.29 · money + 0.48 · bank + 0.23 · grows" in r.stdout
    assert "x_bank·x_j ÷ √4" in r.stdout
    assert re.search(r"money\s+\+0\.500\s+\+0\.250\s+\+0\.250", r.stdout)  # similarity, ÷ √4, logit
    assert re.search(r"sum\s+" + f"{z / math.exp(0.75):.4f}" + r"\s+1\.00", r.stdout)  # Σ exp(logit - max)


def test_residual_and_self_mask_by_hand(small):
    """Without bank itself: logits 0.25 (money) and 0 (grows); bank' = 0.5 bank + 0.5 (α·x)."""
    ex, _ = both_json(TEXT, "bank", *small, "--textbook", "--exclude-self", "--residual", "0.5")
    assert ex["logits"][1] is None and ex["weights"][1] == 0.0
    a = math.exp(0.25) / (math.exp(0.25) + 1)
    np.testing.assert_allclose(ex["weights"], [a, 0, 1 - a], atol=1e-6)
    x = SMALL_VECTORS[:3].astype(np.float64)
    np.testing.assert_allclose(ex["residual"], 0.5 * x[1], atol=1e-7)
    np.testing.assert_allclose(ex["terms"][0], 0.5 * a * x[0], atol=1e-6)
    np.testing.assert_allclose(ex["contextual"], 0.5 * x[1] + 0.5 * (a * x[0] + (1 - a) * x[2]), atol=1e-6)
    r = run("explain", TEXT, "-w", "bank", *small, "--textbook", "--exclude-self", "--residual", "0.5")
    assert f"bank' = 0.5 · bank + 0.5 · ({a:.2f} · money + 0.00 · bank + {1 - a:.2f} · grows)" in r.stdout
    assert "masked (self)" in r.stdout


# ---------------------------------------------------------------- the text at 80 columns


def _assert_fits(out: str, width: int = 80) -> None:
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width, max(lines, key=len)
    assert not re.search(r"\S…|…\S", out), "a value cut with …"  # the lone … column marks more dimensions


def test_text_at_80_columns_has_the_formula_with_the_real_numbers():
    r = run("explain", TEXT, "--word", "bank", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    _assert_fits(r.stdout)
    w = embed(TEXT).attention[1]
    line = f"bank' = 0.2 · bank + 0.8 · ({w[0]:.2f} · money + {w[1]:.2f} · bank + {w[2]:.2f} · grows)"
    assert line in r.stdout
    for heading in ("1. Inputs", "2. Scores", "3. Softmax", "4. The weighted sum", "5. What changed"):
        assert heading in r.stdout
    assert "masked (self)" in r.stdout and "nearest before:" in r.stdout and "nearest after:" in r.stdout


@pytest.mark.parametrize("opts", [
    {},
    dict(mode="qkv", weights="random", heads=2, layers=2, residual=0.2, temperature=0.5, causal=True),
    dict(heads=10, layers=5, positions="sinusoidal"),
])
@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_long_sentences_and_tokens_fit_80_columns(opts):
    text = ("the international reconstruction bank's counter-revolutionary shareholders said "
            "that interest rates at the bank grew 3.5 percent")
    e = explain(text, "bank", occurrence=2, **opts)
    assert e.tokens[e.index] == "bank" and e.index > 3
    for dims in (6, 50):
        console = Console(width=80, file=io.StringIO(), color_system=None)
        for part in explain_renderables(e, dims=dims, width=80):
            console.print(part)
        out = console.file.getvalue()
        _assert_fits(out)
        assert "bank'" in out


def test_formula_wraps_between_terms():
    names = [f"token{j}" for j in range(14)]
    text = formula_lines("bank'", np.full(14, 1 / 14), names, before="0.2 · bank + 0.8 · (", after=")", width=60)
    lines = text.plain.splitlines()
    assert len(lines) > 1 and all(len(line) <= 60 for line in lines)
    assert all(re.fullmatch(r"\s*(bank' = 0\.2 · bank \+ 0\.8 · \()?(\+ )?(0\.07 · token\d+( \+ )?)+\)?", line.rstrip())
               for line in lines), lines
    assert " ".join(text.plain.split()).count("0.07 · token") == 14


def test_w_o_output_says_it_cannot_compare(weights_file):
    r = run("explain", TEXT, "-w", "bank", "--mode", "qkv", "--weights", weights_file(), "--heads", "2", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    _assert_fits(r.stdout)
    assert "[head 1 | head 2] W_o + b_o" in r.stdout
    assert "4-dimensional" in r.stdout and "cosine(" not in r.stdout


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("args, code, says", [
    (["money grows", "-w", "bank"], 1, "'bank' is not in 'money grows'"),
    (["bank money bank", "-w", "bank", "--occurrence", "3"], 2, "--occurrence 3: 'bank money bank' holds 'bank' 2 times"),
    (["money bank", "-w", "bank", "--occurrence", "2"], 2, "holds 'bank' once"),
    (["money bank", "-w", "bank", "--occurrence", "0"], 2, "--occurrence"),
    (["money qzxvbnk grows", "-w", "qzxvbnk"], 1, "out of the vocabulary"),
    (["", "-w", "bank"], 1, "empty sentence"),
    (["   ", "-w", "bank"], 1, "empty sentence"),
    (["money bank", "-w", "river bank"], 2, "single token"),
    (["money bank", "-w", ""], 2, "single token"),
    (["money bank"], 2, "--word"),
    (["money bank", "-w", "bank", "--dims", "0"], 2, "--dims"),
    (["money bank", "-w", "bank", "--top", "-1"], 2, "--top"),
    (["money bank", "-w", "bank", "--temperature", "0"], 2, "--temperature"),
    (["money bank", "-w", "bank", "--weights", "random", "--mode", "simple"], 2, "--mode qkv"),
    (["money bank", "-w", "bank", "--heads", "3", "--mode", "qkv"], 2, "heads"),
])
def test_bad_input_is_one_line(args, code, says):
    line = assert_one_line_error(run("explain", *args), code)
    assert says in line


def test_html_to_a_directory(tmp_path):
    line = assert_one_line_error(run("explain", TEXT, "-w", "bank", "--html", tmp_path), 2)
    assert "directory" in line


def test_html_to_a_missing_directory(tmp_path):
    line = assert_one_line_error(run("explain", TEXT, "-w", "bank", "--html", tmp_path / "no" / "page.html"), 1)
    assert "cannot write" in line


def test_a_word_with_every_key_masked():
    """The first word under --causal with its own key excluded: no softmax, every weight 0."""
    r = run("explain", TEXT, "-w", "money", "--causal", "--json")
    assert r.exit_code == 0 and "nothing left to attend to" in r.stderr
    ex = json.loads(r.stdout)
    assert ex["logits"] == [None] * 3 and ex["weights"] == [0.0] * 3
    np.testing.assert_allclose(ex["residual"], ex["contextual"], atol=1e-6)  # only the word's own share
    r = run("explain", TEXT, "-w", "money", "--causal", env={"COLUMNS": "80"})
    assert "every key is masked" in r.stdout and "masked (causal)" in r.stdout
    _assert_fits(r.stdout)


def test_oov_word_with_oov_zero_is_explained():
    r = run("explain", "money qzxvbnk grows", "-w", "qzxvbnk", "--oov", "zero", "--json")
    assert r.exit_code == 0
    assert "not in the vocabulary" in r.stderr  # a warning, on stderr only
    ex = json.loads(r.stdout)
    assert ex["index"] == 1 and not any(ex["static"])
    assert sum(ex["weights"]) == pytest.approx(1.0, abs=1e-6)


def test_library_raises_attncli_errors():
    from attncli.errors import DataError, UsageError

    with pytest.raises(DataError):
        explain("money grows", "bank")
    with pytest.raises(UsageError):
        explain(TEXT, "bank", occurrence=0)


def test_record_from_the_library_is_the_cli_json():
    from attncli.export import dumps

    r = run("explain", TEXT, "-w", "grows", "--json")
    assert json.loads(r.stdout) == json.loads(dumps(explain_record(explain(TEXT, "grows"))))


# ---------------------------------------------------------------- the page, without a browser


def test_explain_page_is_offline_escaped_and_carries_the_json(tmp_path):
    from .test_html import page_data, parse

    out = tmp_path / "e.html"
    text = 'the bank said </script><img src=x onerror=alert(1)> & "ok"'
    r = run("explain", text, "-w", "bank", "--html", out, "--json")
    assert r.exit_code == 0, r.stderr
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"(?i)\b(?:https?|ftp)://", page) and "url(" not in page
    dom = parse(page)
    assert not dom.find_all("img") and not dom.find_all("link")
    assert [s.attrs.get("type") for s in dom.find_all("script")] == ["application/json", None]
    (csp,) = [m for m in dom.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in csp.attrs["content"]
    (sentence,) = dom.find_all("p", id="sentence")
    assert sentence.text == text
    data = page_data(page)
    record = json.loads(r.stdout)
    assert {k: data[k] for k in record} == record  # the page's numbers are the --json numbers
    chips = dom.find_all("button", cls="chip")
    assert [c.text for c in chips] == data["surfaces"]
    assert [c.attrs["data-i"] for c in chips if "sel" in c.classes()] == [str(record["index"])]
    (layer,) = data["view"]["layers"]
    np.testing.assert_allclose(layer[0]["weights"][record["index"]], record["weights"], atol=1e-7)
    q = np.asarray(layer[0]["q"])
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)  # cosine: unit vectors, products sum to the score
    np.testing.assert_allclose(q @ np.asarray(layer[0]["k"]).T, layer[0]["similarity"], atol=1e-5)


def test_docs_sample_is_the_real_output():
    """docs/explain.md shows `COLUMNS=80 attncli explain "money bank grows" --word bank`: the same
    text the command prints now (trailing spaces aside)."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "explain.md").read_text(encoding="utf-8")
    sample = doc.split("```text\n", 1)[1].split("```", 1)[0]
    r = run("explain", TEXT, "--word", "bank", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    assert [line.rstrip() for line in r.stdout.splitlines()] == sample.splitlines()


def test_svg_with_json_writes_the_image_and_only_json_on_stdout(tmp_path):
    import xml.etree.ElementTree as ET

    out = tmp_path / "e.svg"
    r = run("explain", TEXT, "-w", "bank", "--svg", out, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["word"] == "bank"
    texts = " ".join(t.text or "" for t in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}text"))
    assert "bank'" in texts and "Softmax" in texts


# ---------------------------------------------------------------- the hooks in attention.py


def test_scores_are_the_logits_attention_softmaxes():
    from attncli import attention as att

    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 6, 4)), rng.normal(size=(2, 6, 3))
    bias = rng.normal(size=(1, 6))
    plain = att.scores(q, k, scale=False)
    np.testing.assert_allclose(plain, q @ np.swapaxes(k, -1, -2), atol=1e-12)
    logits = att.scores(q, k, temperature=0.5, key_bias=bias)
    np.testing.assert_allclose(logits, plain / (2.0 * 0.5) + bias, atol=1e-12)  # √4 = 2
    mask = att.causal_mask(5, 6)
    out, weights = att.attention(q, k, v, mask, temperature=0.5, key_bias=bias)
    np.testing.assert_array_equal(weights, att.softmax(logits, mask))
    cos = att.scores(q, k, similarity="cosine", scale=False)
    assert np.abs(cos).max() <= 1 + 1e-12
    np.testing.assert_allclose(cos[0, 1, 2], q[0, 1] @ k[0, 2] / np.linalg.norm(q[0, 1]) / np.linalg.norm(k[0, 2]))


def test_head_inputs_are_the_projections_columns():
    from attncli import attention as att

    w = random_weights(d=5, hk=6, hv=4, d_out=None)
    proj = att.Projections.from_arrays(w, 5, 2, source="test")
    x = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    hi = att.head_inputs(x, proj)
    assert hi.q.shape == (2, 3, 3) and hi.v.shape == (2, 3, 2)
    np.testing.assert_allclose(hi.q[1], x @ w["W_q"][:, 3:] + w["b_q"][3:], atol=1e-6)
    np.testing.assert_allclose(hi.k[0], x @ w["W_k"][:, :3] + w["b_k"][:3], atol=1e-6)
    np.testing.assert_allclose(hi.v[1], x @ w["W_v"][:, 2:] + w["b_v"][2:], atol=1e-6)
