"""Terminal tables at any width: no value or token is ever dropped or cut, wide matrices split
into numbered column blocks, and the titles say what is really shown."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from attncli.cli import app
from attncli.pipeline import Config, embed, formula_inputs
from attncli.render import BlockedTable, PathText, embed_renderables

from .conftest import make_result

runner = CliRunner()

SHORT = "money bank grows"
TWENTY = "In 1851 Dr Smith sailed from the river bank to the savings bank with money and a map of the coast"
SIXTY = (
    "The old harbour town grew around a deep river mouth where fishing boats returned each evening with "
    "their catch while merchants from distant cities traded wool grain and timber in the crowded market "
    "square near the stone church that had stood there since the twelfth century when monks first drained "
    "the marshes and built a mill on the east bank"
)


def cli(*args, columns: int = 80):
    r = runner.invoke(app, [*map(str, args)], env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, r.stderr
    return r.stdout


def tables(out: str) -> list[dict]:
    """Every table printed: {"title", "header": [..], "rows": [[label, cells...]]}. A header is
    the line above a rule of '─' (above it the table's blank top edge, above that its title);
    rows run to the next blank line."""
    lines = out.splitlines()
    found = []
    for i, line in enumerate(lines):
        if not line.strip().startswith("─"):
            continue
        rows = []
        for row in lines[i + 1:]:
            if not row.strip():
                break
            rows.append(row.split())
        k = i - 3
        while k >= 0 and lines[k].strip():
            k -= 1
        title = " ".join(lines[k + 1:i - 2])
        header = lines[i - 1].split()
        header = ["query \\ key", *header[3:]] if header[:3] == ["query", "\\", "key"] else header
        found.append({"title": " ".join(title.split()), "header": header, "rows": rows})
    return found


def blocks_of(out: str, kind: str) -> list[dict]:
    return [t for t in tables(out) if kind in t["title"]]


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("text", [SHORT, TWENTY, SIXTY], ids=["3", "20", "60"])
def test_every_token_in_full_as_row_and_column_and_nothing_cut_at_80_columns(text):
    out = cli("embed", text)
    result = embed(text, Config())
    n = len(result.surfaces)
    assert n in (3, 21, 60)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    att = blocks_of(out, "each query (row)")
    assert att, out
    headers = [tok for block in att for tok in block["header"][1:]]
    assert headers == result.surfaces  # every key once, in order, over the blocks
    for block in att:
        assert [row[0] for row in block["rows"]] == result.surfaces  # every block has every row
    # the cells, put back together from the blocks, are the matrix
    percent = n > 9
    rebuilt = [sum((block["rows"][i][1:] for block in att), []) for i in range(n)]
    want = [[f"{100 * w:.0f}" if percent else f"{w:.2f}" for w in row] for row in result.attention]
    assert rebuilt == want
    if len(att) > 1:
        assert f"(keys 1-{len(att[0]['header']) - 1} of {n})" in att[0]["title"]
        assert f"of {n})" in att[-1]["title"] and f"-{n} of {n})" in att[-1]["title"]
        assert f"{n} keys in {len(att)} blocks to fit 80 columns" in out
    else:
        assert "blocks" not in out


@pytest.mark.parametrize("columns,expect_blocks", [(80, 2), (100, 2), (200, 1)])
def test_block_count_follows_the_console_width(columns, expect_blocks):
    out = cli("embed", TWENTY, columns=columns)
    assert max(len(line) for line in out.splitlines()) <= columns
    assert len(blocks_of(out, "each query (row)")) == expect_blocks


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("dims", [10, 12, 50])
def test_vector_tables_wrap_into_blocks_of_dimensions(dims):
    out = cli("embed", TWENTY, "--dims", dims, "--show-static")
    result = embed(TWENTY, Config())
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out and "no…" not in out
    for kind, matrix in (("Static vectors", formula_inputs(result)), ("Contextual vectors", result.contextual)):
        blocks = blocks_of(out, kind)
        shown = min(dims, 50)
        assert [h for b in blocks for h in b["header"][1:-1]] == [f"d{j}" for j in range(shown)]
        for b in blocks:
            assert b["header"][-1] == "norm" and [r[0] for r in b["rows"]] == result.surfaces
        rebuilt = [sum((b["rows"][i][1:-1] for b in blocks), []) for i in range(len(result.surfaces))]
        assert rebuilt == [[f"{x:+.2f}" for x in row[:shown]] for row in matrix]
        norms = [f"{x:.2f}" for x in np.linalg.norm(matrix, axis=1)]
        assert all([r[-1] for r in b["rows"]] == norms for b in blocks)
        if shown < 50:
            assert f"d0-d{shown - 1} shown" in blocks[0]["title"]


def render(parts, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    for p in parts:
        console.print(p)
    return console.file.getvalue()


def test_a_token_longer_than_a_column_folds_and_stays_whole():
    long = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"  # 58 letters
    out = render(embed_renderables(make_result(["the", long, "bank"] * 4)), 80)
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out
    flat = re.sub(r"\s+", "", out)
    # the header folds every 10 letters, the row label every 20: each piece is somewhere
    for size in (10, 20):
        for k in range(0, len(long), size):
            assert long[k:k + size] in flat


def test_one_column_wider_than_the_console_still_shows():
    table = BlockedTable("t", "", ["a"], ["x"], [[__import__("rich.text").text.Text("123456")]], unit="keys")
    assert table.blocks(3) == [range(0, 1)]


def test_blocks_are_even_when_they_fit():
    result = make_result([f"w{i:02d}" for i in range(21)])
    table = embed_renderables(result)[1]
    sizes = [len(b) for b in table.blocks(80)]
    assert sum(sizes) == 21 and max(sizes) - min(sizes) <= 1


def test_mean_of_heads_is_labelled_as_the_mean():
    out = render(embed_renderables(make_result(["money", "bank", "grows"], heads=3)), 100)
    titles = [t["title"] for t in tables(out)]
    assert "Mean of 3 heads: each query (row)" in titles[0] and "Head" not in titles[0]
    assert [t.split(":")[0] for t in titles[1:4]] == ["Head 1 of 3", "Head 2 of 3", "Head 3 of 3"]


def test_causal_caption_names_the_query_with_nothing_to_attend_to():
    out = cli("embed", SHORT, "--causal")  # simple mode excludes self: "money" sees nothing
    title = tables(out)[0]["title"]
    assert "it may see; row 1 (money): masked" in title and "all 0" in title
    out = cli("embed", SHORT)
    assert "masked" not in tables(out)[0]["title"]


def test_centering_caption_says_how_many_words_were_averaged(glove_file):
    out = cli("embed", SHORT, "--vectors", glove_file)  # 6 words, center 10,000 asked
    assert "centered on top 6 (all, of 10,000 asked)" in " ".join(out.split())
    assert "mean of the top 6 words" in " ".join(out.split())
    assert "top 10,000" in " ".join(cli("embed", SHORT).split())
    assert Config().describe(6).endswith("centered on top 6 (all, of 10,000 asked)")
    assert Config().describe().endswith("centered on top 10,000")


def test_compare_neighbours_table_heads_its_column_sentence():
    out = cli("compare", "money bank grows", "bank river flows", "--word", "bank")
    near = [t for t in tables(out) if t["title"].startswith("Nearest")]
    assert near and near[0]["header"][0] == "sentence"
    cos = [t for t in tables(out) if "Contextual cosine" in t["title"]]
    assert cos and cos[0]["header"] == ["s1", "s2"]


def test_path_text_breaks_after_slashes_only():
    path = "/tmp/pytest-of-root/pytest-0/vectors0/small.w2v.txt"
    lines = PathText(path).lines(20)
    assert "".join(lines) == path
    assert all(line.endswith("/") for line in lines[:-1]) and all(len(line) <= 20 for line in lines)


def test_vectors_info_and_list(glove_file, tmp_path, monkeypatch):
    from attncli import pipeline

    monkeypatch.setenv("ATTNCLI_CACHE_DIR", str(tmp_path / "cache"))
    pipeline._cached_vectors.cache_clear()  # load (and convert) into this private cache
    info = cli("vectors", "info", glove_file)
    row = next(line for line in info.splitlines() if line.split()[:1] == ["detected"])
    assert row.split().count("detected") == 1 and "detected:" not in row
    out = cli("vectors", "list", columns=60)
    assert "1 source," in out and "1 sources" not in out
    assert max(len(line) for line in out.splitlines()) <= 60
    for name in str(glove_file).strip("/").split("/"):  # each name in the path whole
        assert re.search(rf"(^|[\s/]){re.escape(name)}(/|\s|$)", out), name


def test_vectors_repr_is_one_short_line():
    import attncli

    text = repr(attncli.get_vectors())
    assert "\n" not in text and len(text) < 200
    assert text.startswith("Vectors(name='glove-6b-50d-100k', vocab_size=100000, dim=50, source=")


@pytest.mark.parametrize("columns", [40, 80])
def test_vectors_list_never_cuts_a_value(glove_file, tmp_path, monkeypatch, columns):
    from attncli import pipeline

    monkeypatch.setenv("ATTNCLI_CACHE_DIR", str(tmp_path / "cache"))
    pipeline._cached_vectors.cache_clear()
    cli("vectors", "info", glove_file)
    out = cli("vectors", "list", columns=columns)
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= columns
    for value in ("glove", "current", "0.7 KiB", "1 source,", "small.glove.txt"):
        assert value in out, value
