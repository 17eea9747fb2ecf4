"""The HTML pages in a real browser: Debian's headless Chromium driven by Playwright.

Each page is opened from a file:// URL with every other request blocked and recorded; a test
fails on any such request, on any console error or uncaught exception (a Content-Security-Policy
violation logs one), and checks the DOM, not pixels. Screenshots go to artifacts/browser/.

`make test` installs chromium when it is missing and it can (root and apt-get); elsewhere these
tests skip, saying why. Run only the fast tests with `make test-fast` (-m "not browser").
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.html import compare_page, embed_page

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ATTNCLI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "browser"
# As the machine notes say: without the background-networking flags Chromium tries to reach
# Google's hosts at every start.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium where it can "
                "(root and apt-get); or set ATTNCLI_CHROMIUM", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


class Visit:
    """One page in a fresh context: blocked requests and console errors recorded."""

    def __init__(self, browser, path: Path, color_scheme: str = "light"):
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(color_scheme=color_scheme, viewport={"width": 1000, "height": 700})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", self._request)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")

    def _request(self, request):
        if not request.url.startswith(("file:", "data:", "about:")):
            self.requests.append(request.url)

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        out = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(out), full_page=True)
        assert out.stat().st_size > 1000
        return out

    def assert_clean(self):
        assert self.requests == [], f"the page asked the network for {self.requests}"
        assert self.errors == [], f"console errors: {self.errors}"

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser):
    opened = []

    def open_(path, **kw):
        v = Visit(browser, path, **kw)
        opened.append(v)
        return v

    yield open_
    for v in opened:
        v.close()


def _texts(page, selector) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")


def _visible_edges(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#headview line.edge",
        "els => els.filter(e => getComputedStyle(e).display !== 'none')"
        ".map(e => ({q: +e.dataset.q, k: +e.dataset.k, w: +e.dataset.w, width: +e.getAttribute('stroke-width')}))",
    )


def _embed(tmp_path, *args) -> tuple[Path, dict]:
    out = tmp_path / "view.html"
    res = CliRunner().invoke(app, ["embed", *args, "--html", str(out), "--json"])
    assert res.exit_code == 0, res.stderr
    return out, json.loads(res.stdout)


def test_embed_page_renders_tokens_and_lines_and_clicks(tmp_path, visit):
    path, record = _embed(tmp_path, "the bank of the river", "--exclude-self")
    v = visit(path)
    page = v.page
    toks = record["tokens"]
    assert _texts(page, "#headview text.tok.q") == toks
    assert _texts(page, "#headview text.tok.k") == toks
    att = np.asarray(record["attention"])
    edges = _visible_edges(page)
    assert len(edges) == int((att > 0).sum()) == 20  # every weight but the masked diagonal
    by_pair = {(e["q"], e["k"]): e for e in edges}
    assert not [p for p in by_pair if p[0] == p[1]]  # masked: no line
    heaviest = np.unravel_index(att.argmax(), att.shape)
    lightest = min(by_pair, key=lambda p: att[p])
    assert by_pair[heaviest]["width"] > by_pair[lightest]["width"]  # thicker for more weight
    assert _texts(page, "#headview text.wlabel.k") == [""] * 5

    page.click('#headview text.tok.q[data-i="1"]')  # "bank"
    page.mouse.move(0, 0)
    edges = _visible_edges(page)
    assert sorted(e["k"] for e in edges) == [0, 2, 3, 4] and {e["q"] for e in edges} == {1}
    assert _texts(page, "#headview text.wlabel.k") == [f"{w:.2f}" for w in att[1]]
    assert page.eval_on_selector_all(".heat tbody tr.hl", "els => els.map(e => +e.dataset.q)") == [1]
    assert "bank" in page.text_content("#focus-note")
    v.screenshot("embed-click-bank")

    page.click('#headview text.tok.k[data-i="4"]')  # key "river": the weight each query gives it
    page.mouse.move(0, 0)
    edges = _visible_edges(page)
    assert {e["k"] for e in edges} == {4} and sorted(e["q"] for e in edges) == [0, 1, 2, 3]
    assert _texts(page, "#headview text.wlabel.q") == [f"{w:.2f}" for w in att[:, 4]]

    page.click('#headview text.tok.k[data-i="4"]')  # again: everything back
    page.mouse.move(0, 0)
    assert len(_visible_edges(page)) == 20
    page.hover('#headview text.tok.q[data-i="4"]')  # hover previews without a click
    assert {e["q"] for e in _visible_edges(page)} == {4}
    v.assert_clean()


def test_head_selector_switches_lines_and_matrix(tmp_path, visit):
    path, record = _embed(tmp_path, "money bank grows fast", "--mode", "qkv", "--weights", "random", "--heads", "2")
    v = visit(path, color_scheme="dark")
    page = v.page
    heads = np.asarray(record["heads"])  # (2, n, n)
    def weights():
        w = np.zeros(heads.shape[1:])
        for e in _visible_edges(page):
            w[e["q"], e["k"]] = e["w"]
        return w
    np.testing.assert_allclose(weights(), np.asarray(record["attention"]), atol=1e-6)
    page.select_option("#head-select", "2")
    np.testing.assert_allclose(weights(), heads[1], atol=1e-6)
    shown = page.eval_on_selector_all("div.view", "els => els.filter(e => !e.hidden).map(e => +e.dataset.view)")
    assert shown == [2]
    page.click('#headview text.tok.q[data-i="0"]')
    page.mouse.move(0, 0)
    assert _texts(page, "#headview text.wlabel.k") == [f"{w:.2f}" for w in heads[1][0]]
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(15, 17, 23)"  # the dark theme, from prefers-color-scheme
    v.screenshot("embed-two-heads-dark")
    v.assert_clean()


def test_markup_in_tokens_renders_as_text_and_runs_nothing(tmp_path, visit, hostile_result, hostile_tokens):
    path = tmp_path / "hostile.html"
    path.write_text(embed_page(hostile_result), encoding="utf-8")
    v = visit(path)
    page = v.page
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.scripts.length") == 2
    assert _texts(page, "#headview text.tok.q") == hostile_tokens + ["bank"]
    assert page.text_content("#sentence") == hostile_result.text
    assert page.eval_on_selector_all('.view[data-view="0"] th.colhead', "els => els.map(e => e.textContent)") \
        == hostile_tokens + ["bank"]
    page.click('#headview text.tok.q[data-i="0"]')
    assert page.evaluate("window.pwned") is None
    v.screenshot("embed-markup-tokens")
    v.assert_clean()


def test_real_sentence_with_script_tag(tmp_path, visit):
    text = 'the bank said <script>alert("x")</script> & \'ok\''
    path, _ = _embed(tmp_path, text)
    v = visit(path)
    assert v.page.text_content("#sentence") == text
    surfaces = v.page.evaluate("JSON.parse(document.getElementById('attncli-data').textContent).surfaces")
    assert _texts(v.page, "#headview text.tok.q") == surfaces
    assert "script" in surfaces and "bank" in surfaces
    assert v.page.evaluate("document.scripts.length") == 2
    v.assert_clean()


def test_print_hides_the_controls(tmp_path, visit):
    path, _ = _embed(tmp_path, "money bank grows", "--mode", "qkv", "--weights", "random", "--heads", "2", "--exclude-self")
    v = visit(path, color_scheme="dark")
    v.page.emulate_media(media="print")
    assert v.page.evaluate("getComputedStyle(document.getElementById('head-select')).display") == "none"
    assert v.page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    assert len(_visible_edges(v.page)) == 6  # the lines still print (3 x 3 less the masked diagonal)
    v.assert_clean()


def test_compare_page_in_the_browser(tmp_path, visit, compare_data):
    path = tmp_path / "compare.html"
    compare_data["sentences"][2] = "we fished from the <b>grassy</b> bank"
    path.write_text(compare_page(compare_data), encoding="utf-8")
    v = visit(path)
    page = v.page
    assert page.evaluate("document.querySelectorAll('article.card').length") == 3
    assert page.evaluate("document.querySelectorAll('main b').length") == 0
    assert "<b>grassy</b>" in page.text_content("article.card:nth-child(3) h3")
    widths = page.eval_on_selector_all("article.card:nth-child(1) span.bar",
                                       "els => els.map(e => e.getBoundingClientRect().width)")
    weights = list(compare_data["occurrences"][0]["attention"].values())
    assert int(np.argmax(widths)) == int(np.argmax(weights))  # the longest bar is the largest weight
    assert page.evaluate("document.querySelectorAll('#contextual_cosine td.cell').length") == 9
    v.screenshot("compare")
    v.assert_clean()


def test_svg_image_loads_offline(tmp_path, visit):
    out = tmp_path / "t.svg"
    res = CliRunner().invoke(app, ["embed", "money bank grows", "--svg", str(out)])
    assert res.exit_code == 0, res.stderr
    v = visit(out)
    texts = v.page.evaluate("Array.from(document.querySelectorAll('text')).map(t => t.textContent).join(' ')")
    assert "money" in texts and "grows" in texts
    v.assert_clean()


def test_compare_command_page_in_the_browser(tmp_path, visit):
    out = tmp_path / "compare.html"
    res = CliRunner().invoke(app, ["compare", "I sat on the bank of the river", "the bank raised its rates",
                                   "--word", "bank", "--html", str(out), "--json"])
    assert res.exit_code == 0, res.stderr
    record = json.loads(res.stdout)
    v = visit(out)
    assert v.page.evaluate("document.querySelectorAll('article.card').length") == 2
    shown = v.page.eval_on_selector_all("#contextual_cosine td.cell", "els => els.map(e => +e.textContent)")
    np.testing.assert_allclose(shown, np.round(np.asarray(record["contextual_cosine"]).ravel(), 2), atol=1e-9)
    v.screenshot("compare-command")
    v.assert_clean()


def _page_at(browser, path: Path, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return context, page


def test_selected_row_is_outlined_as_a_row_not_cell_by_cell(tmp_path, visit):
    path, _ = _embed(tmp_path, "the bank of the river")
    page = visit(path).page
    page.click('#headview text.tok.q[data-i="1"]')
    page.mouse.move(0, 0)
    style = page.eval_on_selector_all(
        ".heat tbody tr", "rows => rows.map(r => [...r.querySelectorAll('td.cell')].map(td => {"
        " const s = getComputedStyle(td); return [s.borderTopColor, s.borderLeftColor, s.borderRightColor, s.outlineStyle]; }))")
    sel = style[1][0][0]
    assert sel != style[0][0][0]  # the selected row's top edge is coloured, another row's is not
    assert all(cell[0] == sel and cell[3] == "none" for cell in style[1])  # one line along the row, no outlines
    assert style[1][0][1] == sel and style[1][-1][2] == sel  # closed at both ends
    assert all(cell[1] != sel for cell in style[1][1:])  # no vertical lines between the cells


def test_at_1280_pixels_the_head_view_and_matrix_sit_side_by_side(tmp_path, browser):
    path, _ = _embed(tmp_path, "she sat on the bank of the river and watched the water")
    context, page = _page_at(browser, path, 1280)
    head = page.locator("#head-section").bounding_box()
    matrix = page.locator("#matrix-section").bounding_box()
    assert abs(head["y"] - matrix["y"]) < 2 and matrix["x"] > head["x"] + head["width"]
    assert matrix["x"] + matrix["width"] > 0.6 * 1280  # the right of the page is used
    context.close()


def test_long_sentences_draw_top_lines_until_a_token_is_selected(tmp_path, visit):
    from attncli.html import LINES_ALL_MAX, LINES_TOP_K

    words = ("the old harbour town grew around a deep river mouth where fishing boats returned each evening "
             "with their catch while merchants from distant cities traded wool grain and timber in the crowded "
             "market square near the stone church that had stood there since the twelfth century").split()
    assert len(words) > LINES_ALL_MAX
    path, record = _embed(tmp_path, " ".join(words))
    page = visit(path).page
    att = np.asarray(record["attention"])
    n = len(att)
    assert "only each query's 3 strongest keys are drawn" in page.text_content("#lines-note")
    edges = _visible_edges(page)
    assert len(edges) == n * LINES_TOP_K
    for q in range(n):  # each query's drawn lines are its heaviest
        drawn = sorted(att[q, e["k"]] for e in edges if e["q"] == q)
        assert drawn[0] >= np.sort(att[q])[-LINES_TOP_K] - 1e-6
    page.click('#headview text.tok.q[data-i="5"]')
    page.mouse.move(0, 0)
    assert len(_visible_edges(page)) == int((att[5] > 0).sum())  # all of the selected token's lines


def test_short_sentences_have_no_lines_note(tmp_path, visit):
    path, record = _embed(tmp_path, "the bank of the river")
    page = visit(path).page
    assert page.locator("#lines-note").count() == 0
    assert "limit" in page.text_content("#options-section") and "None" not in page.text_content("#options-section")
