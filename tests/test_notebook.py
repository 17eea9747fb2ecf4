"""The inline views in a real notebook: a notebook is executed by a real Jupyter kernel
(nbclient, ipykernel), exported to HTML by nbconvert (JupyterLab's template, light and dark),
and opened in the project's browser (Debian's Chromium through Playwright, as
tests/test_browser.py does: every request outside file:/data: blocked and recorded, console
errors fail the test).

Checked: each result's `_repr_html_` is what the notebook shows; two views of each kind on one
page are all drawn and each answers only its own hover and clicks; nothing is fetched; in the
dark theme the views are dark with light text (legible), in the light theme the opposite; the
short reprs are the text/plain outputs. nbconvert's own page asks a CDN for MathJax and
require.js: the export points both at an empty data: URL, so any request left is the views'.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_browser import browser, visit  # noqa: F401  (the fixtures: Chromium, a page per test)
from .test_senses import planted, write

pytestmark = pytest.mark.browser

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed: pip install -e '.[test]'")
nbconvert = pytest.importorskip("nbconvert", reason="nbconvert is not installed: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="ipykernel is not installed: pip install -e '.[test]'")

CELLS = [
    "import attncli",
    'attncli.embed("money bank grows")',
    'attncli.embed("she sat on the bank of the river")',
    'attncli.compare(["money bank grows", "bank river flows"], "bank")',
    'attncli.explain("money bank grows", "bank")',
    'attncli.explain("the river bank flooded", "bank")',
    "attncli.senses('bank', {corpus!r}, options=attncli.SenseOptions(k=2))",
    "attncli.senses('bank', {corpus!r}, options=attncli.SenseOptions(k=2, seed=1))",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook, executed: (notebook, folder)."""
    tmp = tmp_path_factory.mktemp("notebook")
    lines, _ = planted(15)
    corpus = write(tmp, "corpus.txt", lines)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c.format(corpus=str(corpus))) for c in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp)}}).execute()
    nbformat.write(nb, tmp / "views.ipynb")
    return nb, tmp


def export(nb, folder: Path, theme: str) -> Path:
    exporter = nbconvert.HTMLExporter(template_name="lab", theme=theme)
    exporter.mathjax_url = exporter.require_js_url = "data:text/javascript,"  # nbconvert's own CDN scripts: see the module docstring
    body, _ = exporter.from_notebook_node(nb)
    out = folder / f"views-{theme}.html"
    out.write_text(body, encoding="utf-8")
    return out


def outputs(nb, mime: str) -> list[str]:
    return [o["data"][mime] for c in nb.cells for o in c.get("outputs", []) if mime in o.get("data", {})]


def test_results_show_short_reprs_and_html_views(executed):
    nb, _ = executed
    for cell in nb.cells:
        assert not [o for o in cell.get("outputs", []) if o["output_type"] == "error"], cell.source
    plain = outputs(nb, "text/plain")
    assert [p.split(":")[0].split(" ")[0] for p in plain] == [
        "EmbedResult", "EmbedResult", "CompareResult", "Explanation", "Explanation", "SensesResult", "SensesResult"]
    assert max(len(p) for p in plain) < 800  # short: an 8-token EmbedResult's dataclass repr was 18,400 characters
    html = outputs(nb, "text/html")
    assert len(html) == 7
    assert [h.count('class="attncli attncli-') for h in html] == [1] * 7
    assert "http://" not in "".join(html) and "https://" not in "".join(html)  # nothing to fetch


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_views_drawn_interactive_and_apart_in_the_exported_notebook(executed, visit, theme):  # noqa: F811
    nb, folder = executed
    v = visit(export(nb, folder, theme), color_scheme="light" if theme == "dark" else "dark")  # the page's theme wins
    page = v.page
    embeds = page.locator(".attncli-embed")
    assert embeds.count() == 2
    tokens = [embeds.nth(i).locator(".headview text.tok.q").all_text_contents() for i in range(2)]
    assert tokens == [["money", "bank", "grows"], ["she", "sat", "on", "the", "bank", "of", "the", "river"]]
    first, second = embeds.nth(0), embeds.nth(1)
    lines = [e.locator(".headview line.edge").count() for e in (first, second)]
    assert lines == [6, 56]  # every weight but the masked diagonal: n * (n - 1)

    def shown(view) -> int:
        return view.locator(".headview line.edge").evaluate_all(
            "els => els.filter(e => getComputedStyle(e).display !== 'none').length")

    # hover "bank" in the first view: only its lines there, the second view untouched
    first.locator(".headview text.tok.q").nth(1).hover()
    assert shown(first) == 2 and shown(second) == 56
    assert first.locator(".headview text.wlabel.k").all_text_contents()[0] != ""
    assert second.locator(".sel").count() == 0
    # click "river" in the second view: kept there; the first view released when the mouse leaves
    second.locator(".headview text.tok.q").nth(7).click()
    page.mouse.move(1, 1)
    assert shown(second) == 7 and shown(first) == 6
    assert second.locator(".heat tbody tr.hl").count() == 1 and first.locator(".heat .hl").count() == 0

    explains = page.locator(".attncli-explain")
    assert explains.count() == 2
    formulas = [e.locator(".formula").text_content() for e in (explains.nth(0), explains.nth(1))]
    assert formulas[0].startswith("bank' = ") and formulas[1].startswith("bank' = ")
    explains.nth(0).locator(".chips .chip").nth(0).click()  # "money" becomes the query in the first only
    assert explains.nth(0).locator(".formula").text_content().startswith("money' = ")
    assert explains.nth(1).locator(".formula").text_content() == formulas[1]

    assert page.locator(".attncli-compare").count() == 1
    assert page.locator(".attncli-compare .cards .card").count() == 2
    senses = page.locator(".attncli-senses")
    assert senses.count() == 2
    assert senses.nth(0).locator(".map .pt").count() == 30
    senses.nth(1).locator(".map .pt").nth(3).focus()  # as hovering does (points may overlap)
    assert "bank" in senses.nth(1).locator(".hover").text_content()
    assert senses.nth(0).locator(".hover").text_content().strip() == ""

    # legible in the notebook's theme, whatever the system's: the view paints its own colours
    colours = first.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
    bg, fg = (_luminance(c) for c in colours)
    if theme == "dark":
        assert bg < 0.05 and fg > 0.7, colours
    else:
        assert bg > 0.9 and fg < 0.1, colours
    assert (max(bg, fg) + 0.05) / (min(bg, fg) + 0.05) > 7  # WCAG AAA contrast
    cell = first.locator(".heat td.cell").first
    cell_colours = cell.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
    cb, cf = (_luminance(c) for c in cell_colours)
    assert (max(cb, cf) + 0.05) / (min(cb, cf) + 0.05) > 4.5, cell_colours  # WCAG AA in the heat cells too
    v.screenshot(f"notebook-{theme}")
    v.assert_clean()


def _luminance(css: str) -> float:
    """Relative luminance (WCAG) of an rgb()/rgba()/color(srgb ...) colour."""
    import re

    nums = [float(x) for x in re.findall(r"[\d.]+", css)]
    rgb = nums[:3] if css.startswith("rgb") else [255 * x for x in nums[:3]]
    lin = [(c / 255 / 12.92) if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_the_notebook_file_holds_the_views(executed):
    """Saved and read back, the outputs are still the views (what a reader of the .ipynb sees)."""
    _, folder = executed
    saved = json.loads((folder / "views.ipynb").read_text(encoding="utf-8"))
    html = ["".join(o["data"]["text/html"]) for c in saved["cells"] for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert len(html) == 7 and all("attncli-data" in h for h in html)
