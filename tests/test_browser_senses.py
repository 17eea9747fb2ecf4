"""The senses page in a real browser (Debian's headless Chromium, as tests/test_browser.py):
one point per occurrence coloured by sense, hovering a point shows its text with the word
marked (hostile text stays text), a sense card dims the other senses' points, nothing is
fetched and no script error is logged."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.senses import sense_colour

from .test_browser import browser, visit  # noqa: F401  (the fixtures: Chromium, a page per test)
from .test_senses import planted, write

pytestmark = pytest.mark.browser

HOSTILE = 'money bank </script><script>window.pwned=1</script> <img src=x onerror=window.pwned=2> "loan" & credit'


def test_senses_page_map_hover_and_cards(tmp_path, visit):  # noqa: F811
    path = write(tmp_path, "c.txt", planted()[0] + [HOSTILE])
    out = tmp_path / "senses.html"
    res = CliRunner().invoke(app, ["senses", "bank", "-i", str(path), "-k", "2", "--html", str(out), "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    v = visit(out)
    page = v.page
    dots = page.eval_on_selector_all("#map circle.pt", "els => els.map(e => ({s: +e.dataset.sense, fill: e.getAttribute('fill')}))")
    assert len(dots) == doc["n"] == 41
    by_sense = {o["line"]: o["sense"] for o in doc["occurrences"]}
    assert [d["s"] for d in dots] == [by_sense[line] for line in range(1, 42)]
    assert all(d["fill"] == sense_colour(d["s"] - 1) for d in dots)
    assert page.eval_on_selector_all(".card.sense", "els => els.length") == 2

    page.hover("#map circle.pt[data-i='40']")  # the hostile line: shown as text
    hover = page.text_content("#hover")
    assert "</script><script>window.pwned=1</script>" in hover and "line 41" in hover
    assert page.text_content("#hover mark") == "bank"
    assert page.evaluate("window.pwned") is None
    page.hover("#map circle.pt[data-i='3']")
    assert "line 4" in page.text_content("#hover")
    assert page.eval_on_selector_all("#map circle.pt.on", "els => els.map(e => +e.dataset.i)") == [3]

    page.hover("#sense-1")
    dim = page.eval_on_selector_all("#map circle.pt.dim", "els => els.map(e => +e.dataset.sense)")
    assert dim and set(dim) == {2}
    v.screenshot("senses")
    v.assert_clean()
