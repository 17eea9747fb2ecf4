"""The explain page in a real browser (Debian's headless Chromium, as tests/test_browser.py):
the neuron view's rows are the JSON's numbers for the query token, a click makes another token
the query, nothing is fetched and no script error is logged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli.cli import app

from .test_browser import browser, visit  # noqa: F401  (the fixtures: Chromium, a page per test)

pytestmark = pytest.mark.browser


def _explain(tmp_path, text: str, word: str, *args) -> tuple[Path, dict, dict]:
    out = tmp_path / "explain.html"
    runner = CliRunner()
    res = runner.invoke(app, ["explain", text, "--word", word, *args, "--html", str(out), "--json"])
    assert res.exit_code == 0, res.stderr
    emb = runner.invoke(app, ["embed", text, *args, "--json"])
    return out, json.loads(res.stdout), json.loads(emb.stdout)


def _rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#neuron tbody tr",
        "trs => trs.map(tr => ({key: tr.querySelector('th').textContent,"
        " sim: tr.querySelector('td.sim').textContent, logit: tr.querySelector('td.logit').textContent,"
        " w: +tr.querySelector('td.weight').dataset.w, text: tr.querySelector('td.weight').textContent,"
        " bars: ['q', 'k', 'prod'].map(c => tr.querySelectorAll('td.' + c + ' .vec span').length)}))",
    )


def test_neuron_view_rows_and_click_to_change_the_query(tmp_path, visit):  # noqa: F811
    path, record, embedded = _explain(tmp_path, "the bank of the river grows", "bank")
    v = visit(path)
    page = v.page
    toks = record["tokens"]
    rows = _rows(page)
    assert [r["key"] for r in rows] == toks
    assert [r["text"] for r in rows] == [f"{w:.2f}" for w in record["weights"]]
    np.testing.assert_allclose([r["w"] for r in rows], record["weights"], atol=1e-6)
    assert [r["sim"] for r in rows] == [f"{s:.3f}" for s in record["similarity"]]
    assert [r["logit"] for r in rows] == ["masked" if x is None else f"{x:.3f}" for x in record["logits"]]
    assert all(r["bars"] == [50, 50, 50] for r in rows)  # one bar per dimension: q, k_j, q x k_j
    assert page.text_content("#formula").startswith("bank' = 0.2 · bank + 0.8 · (")
    assert page.eval_on_selector_all("#chips .chip.sel", "els => els.map(e => e.textContent)") == ["bank"]
    v.screenshot("explain-bank")

    page.click('#chips .chip[data-i="4"]')  # "river" becomes the query
    rows = _rows(page)
    np.testing.assert_allclose([r["w"] for r in rows], embedded["attention"][4], atol=1e-6)
    assert rows[4]["logit"] == "masked"  # exclude-self: the query's own row
    assert page.text_content("#formula").startswith("river' = ")
    assert page.eval_on_selector_all("#chips .chip.sel", "els => els.map(e => e.textContent)") == ["river"]

    page.click('#neuron tbody th[data-i="0"]')  # a row's key: "the" becomes the query
    np.testing.assert_allclose([r["w"] for r in _rows(page)], embedded["attention"][0], atol=1e-6)
    v.assert_clean()


def test_heads_and_layers_switch_the_numbers(tmp_path, visit):  # noqa: F811
    args = ["--mode", "qkv", "--weights", "random", "--heads", "2", "--layers", "2"]
    path, record, embedded = _explain(tmp_path, "money bank grows", "grows", *args)
    v = visit(path, color_scheme="dark")
    page = v.page
    np.testing.assert_allclose([r["w"] for r in _rows(page)], record["heads"][0]["weights"], atol=1e-6)
    page.select_option("#head-select", "1")
    np.testing.assert_allclose([r["w"] for r in _rows(page)], embedded["heads"][1][2], atol=1e-6)
    assert all(r["bars"] == [25, 25, 25] for r in _rows(page))
    page.select_option("#layer-select", "0")
    np.testing.assert_allclose([r["w"] for r in _rows(page)], record["layers"][0]["heads"][1]["weights"], atol=1e-6)
    assert page.text_content("#formula").startswith("head 2 of grows' = 0.")
    page.select_option("#layer-select", "1")
    assert page.text_content("#formula").startswith("head 2 of grows'' = ")
    assert "v_money'" in page.text_content("#formula")
    v.screenshot("explain-heads-layers-dark")
    v.assert_clean()


def test_markup_in_the_sentence_stays_text(tmp_path, visit):  # noqa: F811
    text = 'the bank said <img src=x onerror=window.pwned=1> & "ok"'
    path, record, _ = _explain(tmp_path, text, "bank")
    v = visit(path)
    page = v.page
    assert page.text_content("#sentence") == text
    assert page.evaluate("document.querySelectorAll('main img').length") == 0
    page.click('#chips .chip[data-i="3"]')
    assert page.evaluate("window.pwned") is None
    assert [r["key"] for r in _rows(page)] == page.evaluate(
        "JSON.parse(document.getElementById('attncli-data').textContent).surfaces")
    v.assert_clean()
