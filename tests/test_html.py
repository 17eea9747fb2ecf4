"""The HTML pages and the SVG export, without a browser: what the page holds, that user text
stays text, that the embedded JSON is safe and complete, and that nothing points off the file.
The same pages in a real browser: tests/test_browser.py."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.html import compare_page, embed_page, script_json

# ---------------------------------------------------------------- a small DOM, from the stdlib parser

_VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def iter(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        return [
            n for n in self.iter()
            if (tag is None or n.tag == tag) and (cls is None or cls in n.classes())
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in _VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(page: str) -> Node:
    b = _Builder()
    b.feed(page)
    b.close()
    return b.root


def page_data(page: str) -> dict:
    (block,) = parse(page).find_all("script", id="attncli-data")
    return json.loads(block.text)


def cell_matrix(table: Node) -> np.ndarray:
    return np.array([[float(td.text) for td in tr.find_all("td", cls="cell")] for tr in table.find_all("tr", cls=None)
                     if tr.find_all("td", cls="cell")])


runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


# ---------------------------------------------------------------- embed page, from the real pipeline


@pytest.fixture(scope="module")
def bank_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "view.html"
    res = run("embed", "the bank of the river", "--html", str(out), "--json", "--textbook")
    assert res.exit_code == 0, res.output
    return out.read_text(encoding="utf-8"), json.loads(res.stdout)


def test_embed_html_writes_the_page_and_keeps_json_on_stdout(bank_page):
    page, record = bank_page
    assert page.startswith("<!doctype html>")
    assert record["tokens"] == ["the", "bank", "of", "the", "river"]


def test_embed_page_numbers_are_the_json_numbers(bank_page):
    page, record = bank_page
    data = page_data(page)
    assert data["tokens"] == record["tokens"]
    np.testing.assert_allclose(data["attention"], record["attention"], rtol=0, atol=0)
    np.testing.assert_allclose(data["contextual"], record["contextual"], rtol=0, atol=0)
    assert data["config"] == record["config"]


def test_embed_page_heatmap_shows_every_weight_rounded(bank_page):
    page, record = bank_page
    (table,) = parse(page).find_all("table", cls="heat")
    shown = cell_matrix(table)
    want = np.round(np.asarray(record["attention"]), 2)
    assert shown.shape == (5, 5)
    np.testing.assert_allclose(shown, want, atol=1e-9)
    heads = [th.text for th in table.find_all("th", cls="colhead")]
    rows = [th.text for th in table.find_all("th", cls="rowhead")]
    assert heads == rows == ["the", "bank", "of", "the", "river"]


def test_embed_page_lists_the_options(bank_page):
    page, _ = bank_page
    (opts,) = parse(page).find_all("table", cls="options")
    rows = {tr.find_all("th")[0].text: tr.find_all("td")[0].text for tr in opts.find_all("tr")}
    assert rows["mode"] == "simple"
    assert rows["heads"] == "1"
    assert rows["scaling"] == "divide scores by √d_k"
    assert rows["temperature"] == "1"
    assert rows["vectors"].startswith("glove-6b-50d-100k (50d, 100,000 words)")
    assert "weights (qkv)" not in rows  # simple mode has none
    assert rows["centering (top-N mean)"] == "off"


def test_embed_page_is_offline_and_self_contained(bank_page):
    page, _ = bank_page
    assert not re.search(r"(?i)\b(?:https?|ftp)://|//[a-z0-9.-]+\.[a-z]{2,}/", page)
    dom = parse(page)
    assert not dom.find_all("link")
    assert all("src" not in s.attrs for s in dom.find_all("script"))
    assert not [n for n in dom.iter() if n.attrs.get("src") or n.attrs.get("href")]
    assert "@import" not in page and "url(" not in page
    (csp,) = [m for m in dom.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in csp.attrs["content"]


def test_embed_page_has_dark_and_print_styles(bank_page):
    page, _ = bank_page
    assert "@media (prefers-color-scheme:dark)" in page
    assert "@media print" in page


def test_temperature_and_heads_reach_the_page(tmp_path):
    out = tmp_path / "v.html"
    res = run("embed", "money bank grows", "--mode", "qkv", "--weights", "random", "--heads", "2",
              "--temperature", "0.5", "--html", str(out))
    assert res.exit_code == 0, res.stderr
    page = out.read_text(encoding="utf-8")
    dom = parse(page)
    (select,) = dom.find_all("select", id="head-select")
    assert [o.text for o in select.find_all("option")] == ["Mean of 2 heads", "Head 1 of 2", "Head 2 of 2"]
    tables = dom.find_all("table", cls="heat")
    data = page_data(page)
    assert len(tables) == 3 and len(data["heads"]) == 2
    np.testing.assert_allclose(cell_matrix(tables[2]), np.round(np.asarray(data["heads"][1]), 2), atol=1e-9)
    np.testing.assert_allclose(np.mean(data["heads"], axis=0), data["attention"], atol=1e-6)
    rows = {tr.find_all("th")[0].text: tr.find_all("td")[0].text for tr in dom.find_all("table", cls="options")[0].find_all("tr")}
    assert rows["temperature"] == "0.5" and rows["weights (qkv)"] == "random" and rows["untrained weights"] == "yes"


def test_a_real_sentence_with_markup_stays_text(tmp_path):
    out = tmp_path / "v.html"
    text = 'the bank said <script>alert("x")</script> & \'yes\''
    res = run("embed", text, "--html", str(out))
    assert res.exit_code == 0, res.stderr
    page = out.read_text(encoding="utf-8")
    dom = parse(page)
    assert len(dom.find_all("script")) == 2  # the JSON block and the page's own script
    (sentence,) = dom.find_all("p", id="sentence")
    assert sentence.text == text
    assert page_data(page)["text"] == text


# ---------------------------------------------------------------- escaping, with hand-made tokens


def test_hostile_tokens_are_escaped_everywhere(hostile_result, hostile_tokens):
    page = embed_page(hostile_result)
    dom = parse(page)
    scripts = dom.find_all("script")
    assert [s.attrs.get("type") for s in scripts] == ["application/json", None]
    assert not dom.find_all("img")  # the <img onerror> token did not become an element
    assert not [n for n in dom.iter() if any(k.startswith("on") for k in n.attrs)]
    (table,) = [t for t in dom.find_all("table", cls="heat") if t.attrs.get("data-view") == "0"]
    assert [th.text for th in table.find_all("th", cls="colhead")] == hostile_tokens + ["bank"]
    (title,) = dom.find_all("title")
    assert title.text == "attncli · " + hostile_result.text
    data = page_data(page)
    assert data["surfaces"] == hostile_tokens + ["bank"]
    assert data["text"] == hostile_result.text


@pytest.mark.parametrize("s", ["</script>", "</SCRIPT >", "<!--", "<script>", "a&b", "x\u2028y\u2029z", "]]>", "\"'"])
def test_script_json_cannot_break_out_and_reads_back(s):
    obj = {"k": [s, {s: s}]}
    text = script_json(obj)
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == obj


# ---------------------------------------------------------------- compare page, from a hand-built compare object


def test_compare_page_shows_each_occurrence(compare_data):
    page = compare_page(compare_data)
    dom = parse(page)
    cards = dom.find_all("article", cls="card")
    assert len(cards) == 3
    top = max(w for o in compare_data["occurrences"] for w in o["attention"].values())  # the longest bar
    for card, occ, sent in zip(cards, compare_data["occurrences"], compare_data["sentences"]):
        assert sent in card.find_all("h3")[0].text
        rows = card.find_all("table", cls="bars")[0].find_all("tr")
        assert [r.find_all("th")[0].text for r in rows] == list(occ["attention"])
        nums = [float(r.find_all("td", cls="num")[0].text) for r in rows]
        np.testing.assert_allclose(nums, np.round(list(occ["attention"].values()), 2), atol=1e-9)
        widths = [float(re.search(r"width:([\d.]+)%", r.find_all("span", cls="bar")[0].attrs["style"]).group(1)) for r in rows]
        np.testing.assert_allclose(widths, 100 * np.array(list(occ["attention"].values())) / top, atol=0.051)
        bank = [r for r in rows if r.find_all("th")[0].text == "bank"]
        assert bank and "self" in bank[0].classes()
        neighbors = [li.find_all("span", cls="nb")[0].text for li in card.find_all("li")]
        assert neighbors == [w for w, _ in occ["neighbors"]]


def test_compare_page_cosine_matrices(compare_data):
    page = compare_page(compare_data)
    dom = parse(page)
    (ctx,) = dom.find_all("table", id="contextual_cosine")
    (static,) = dom.find_all("table", id="static_cosine")
    np.testing.assert_allclose(cell_matrix(ctx), np.round(compare_data["contextual_cosine"], 2), atol=1e-9)
    assert cell_matrix(static).tolist() == [[1.0] * 3] * 3
    assert [th.text for th in ctx.find_all("th", cls="rowhead")] == ["S1", "S2", "S3"]
    assert page_data(page)["word"] == "bank"


def test_compare_page_escapes_and_stays_offline(compare_data):
    compare_data["sentences"][1] = 'the bank <script>alert(1)</script> "q"'
    compare_data["occurrences"][1]["attention"] = {"<script>": 0.5, "bank": 0.5}
    compare_data["occurrences"][1]["neighbors"] = [["</b><i>", 0.4]]
    page = compare_page(compare_data)
    dom = parse(page)
    assert [s.attrs.get("type") for s in dom.find_all("script")] == ["application/json"]
    assert not dom.find_all("i") and not dom.find_all("b")
    assert compare_data["sentences"][1] in dom.find_all("article")[1].text
    assert not re.search(r"(?i)https?://", page)


def test_compare_page_two_occurrences_in_one_sentence_get_distinct_labels(compare_data):
    compare_data["occurrences"][1]["sentence"] = 0
    compare_data["occurrences"][1]["index"] = 7
    dom = parse(compare_page(compare_data))
    (ctx,) = dom.find_all("table", id="contextual_cosine")
    labels = [th.text for th in ctx.find_all("th", cls="rowhead")]
    assert len(set(labels)) == 3 and labels[1] == "S1·7"


# ---------------------------------------------------------------- SVG export


def _svg_text(path) -> str:
    root = ET.parse(path).getroot()  # valid XML, or this raises
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return "".join(root.itertext()).replace("\xa0", " ")


def test_embed_svg_is_valid_xml_with_the_tokens_and_the_terminal_output_too(tmp_path):
    out = tmp_path / "t.svg"
    res = run("embed", "money bank grows", "--svg", str(out))
    assert res.exit_code == 0, res.stderr
    text = _svg_text(out)
    for token in ("money", "bank", "grows", "Attention", "Contextual vectors"):
        assert token in text
        assert token in res.stdout
    assert not re.search(r'url\(\s*"?https?:', out.read_text(encoding="utf-8"))  # rich's CDN fonts are gone


def test_embed_svg_with_json_writes_the_image_and_only_json_on_stdout(tmp_path):
    out = tmp_path / "t.svg"
    res = run("embed", "money bank grows", "--svg", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["tokens"] == ["money", "bank", "grows"]
    assert "money" in _svg_text(out)


@pytest.mark.parametrize("flag", ["--html", "--svg"])
def test_unwritable_output_is_one_line_exit_1(tmp_path, flag):
    target = tmp_path / "no-such-dir" / "x.out"
    res = run("embed", "money bank grows", flag, str(target))
    assert res.exit_code == 1
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("attncli: error: cannot write")
    assert res.stdout == ""
    assert not target.parent.exists()


def test_svg_leaves_room_below_the_last_line(tmp_path):
    """rich clips the image at its last line: underscores on it would vanish without a spare line."""
    out = tmp_path / "t.svg"
    assert run("embed", "money bank grows", "--svg", str(out)).exit_code == 0
    root = ET.parse(out).getroot()
    ns = {"s": "http://www.w3.org/2000/svg"}
    (clip,) = [c for c in root.iterfind(".//s:clipPath", ns) if c.get("id", "").endswith("-clip-terminal")]
    height = float(clip.find("s:rect", ns).get("height"))
    last = max(float(t.get("y")) for t in root.iterfind(".//s:text", ns) if (t.text or "").strip("\xa0 ")
               and "_" in (t.text or ""))
    assert last + 6 <= height


# ---------------------------------------------------------------- compare --html and --svg, from the command


def test_compare_html_and_svg_from_the_command(tmp_path):
    html_out, svg_out = tmp_path / "c.html", tmp_path / "c.svg"
    res = run("compare", "I sat on the bank of the river", "the bank raised its rates", "--word", "bank",
              "--html", str(html_out), "--svg", str(svg_out), "--json")
    assert res.exit_code == 0, res.stderr
    record = json.loads(res.stdout)
    page = html_out.read_text(encoding="utf-8")
    data = page_data(page)
    assert data["word"] == "bank" and data["sentences"] == record["sentences"]
    np.testing.assert_allclose(data["contextual_cosine"], record["contextual_cosine"], atol=0)
    dom = parse(page)
    cards = dom.find_all("article", cls="card")
    assert len(cards) == 2
    for card, occ in zip(cards, record["occurrences"]):
        assert [li.find_all("span", cls="nb")[0].text for li in card.find_all("li")] == [w for w, _ in occ["neighbors"]]
    (ctx,) = dom.find_all("table", id="contextual_cosine")
    np.testing.assert_allclose(cell_matrix(ctx), np.round(record["contextual_cosine"], 2), atol=1e-9)
    text = _svg_text(svg_out)
    assert "bank" in text and "Contextual cosine" in text


def test_compare_svg_alongside_the_tables(tmp_path):
    svg_out = tmp_path / "c.svg"
    res = run("compare", "money bank grows", "bank river flows", "--word", "bank", "--svg", str(svg_out))
    assert res.exit_code == 0, res.stderr
    assert "Contextual cosine" in res.stdout and "Contextual cosine" in _svg_text(svg_out)


def test_options_show_limit_as_all_and_the_words_really_centered(result_factory):
    from attncli.html import options_table

    table = options_table({"limit": None, "center": 10_000}, {"name": "v", "dim": 6, "vocab_size": 1234})
    assert "None" not in table and "all (no --limit)" in table
    assert "mean of the 1,234 most frequent vectors" in table
    assert "mean of the 500 most frequent" in options_table({"center": 500}, {"name": "v", "dim": 6, "vocab_size": 1234})
