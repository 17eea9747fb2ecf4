"""Rich renderables for the terminal. Builds tables; prints nothing (the command prints)."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.color import Color
from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text

from .tokens import visible


def cell(text: str) -> Text:
    """Text from the user's data (a token, a word, a sentence, a path): control characters
    escaped, and never read as rich markup ("[bold]" stays "[bold]")."""
    return Text(visible(str(text)))

# Sequential heat scale from low to high weight; cells print their number too, so the colour is
# a reading aid and NO_COLOR loses nothing.
_LOW = (30, 34, 60)
_HIGH = (250, 170, 40)


def heat_style(w: float) -> Style:
    """Background from dark blue (0) to amber (1); text dark or light for contrast."""
    w = float(min(max(w, 0.0), 1.0)) ** 0.6  # lift small weights so 0.1 and 0.3 differ visibly
    rgb = tuple(int(lo + (hi - lo) * w) for lo, hi in zip(_LOW, _HIGH))
    luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    fg = Color.from_rgb(0, 0, 0) if luminance > 120 else Color.from_rgb(235, 235, 235)
    return Style(color=fg, bgcolor=Color.from_rgb(*rgb))


def caption(result) -> str:
    v = result.vectors
    return visible(f"vectors {v['name']} ({v['dim']}d, {v['vocab_size']:,} words) · {result.config.describe()}")


def attention_table(result, weights: np.ndarray | None = None, title: str | None = None) -> Group:
    """Rows: query tokens; columns: key tokens; each cell a weight on a heat background.
    Up to 9 tokens the cells read 0.78; beyond, percentages (78) keep 80 columns readable."""
    weights = result.attention if weights is None else weights
    percent = len(result.surfaces) > 9
    title = title or "Attention: each row (query) spreads weight 1 over the columns (keys)"
    if percent:
        title += ", in %"
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("query \\ key" if not percent else "%", style="bold", no_wrap=True)
    for tok in result.surfaces:
        table.add_column(cell(tok), justify="right", no_wrap=True, min_width=2 if percent else 4)
    for tok, row in zip(result.surfaces, weights):
        cells = (f"{100 * w:.0f}" if percent else f"{w:.2f}" for w in row)
        table.add_row(cell(tok), *(Text(c, style=heat_style(w)) for c, w in zip(cells, row)))
    return Group(Text(title, style="bold"), table)


def vectors_table(tokens: list[str], matrix: np.ndarray, dims: int, title: str, note: str | None = None) -> Group:
    """The first `dims` dimensions of each vector, an ellipsis column when cut, and the norm."""
    total = matrix.shape[1]
    shown = min(dims, total)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("token", style="bold", no_wrap=True)
    for j in range(shown):
        table.add_column(f"d{j}", justify="right", no_wrap=True)
    if shown < total:
        table.add_column("…", justify="center", no_wrap=True)
    table.add_column("norm", justify="right", style="cyan", no_wrap=True)
    norms = np.linalg.norm(matrix, axis=1)
    for tok, row, norm in zip(tokens, matrix, norms):
        cells = [f"{x:+.2f}" for x in row[:shown]]
        if shown < total:
            cells.append("…")
        table.add_row(cell(tok), *cells, f"{norm:.2f}")
    parts = [Text(title, style="bold"), table]
    if note:
        parts.append(Text(note, style="dim"))
    return Group(*parts)


def embed_renderables(result, *, dims: int = 8, show_static: bool = False) -> list:
    """Everything `attncli embed` shows for one sentence, in order."""
    d_out = result.contextual.shape[1]
    parts = [Text(caption(result), style="dim"), attention_table(result)]
    if result.heads.shape[0] > 1:
        for h, w in enumerate(result.heads):
            parts.append(attention_table(result, w, title=f"Head {h + 1} of {result.heads.shape[0]}"))
    if show_static:
        parts.append(vectors_table(result.surfaces, result.static, dims, f"Static vectors ({result.static.shape[1]} dims)"))
    r = result.config.residual
    note = "new_i = sum_j a_ij v_j" if not r else f"new_i = {r:g} x_i + {1 - r:g} sum_j a_ij v_j"
    if result.config.center:
        note += f" (vectors centered on the mean of the top {result.config.center:,} words)"
    if result.untrained:
        note += " · weights are random and untrained: they show the mechanism, not meaning"
    parts.append(vectors_table(result.surfaces, result.contextual, dims, f"Contextual vectors ({d_out} dims)", note))
    return parts


def neighbors_table(tokens: list[str], near: list[list[tuple[str, float]]], title: str | None = None) -> Group:
    """Each token and its nearest vocabulary words, with cosines."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("token", style="bold", no_wrap=True)
    table.add_column("nearest words (cosine)")
    for tok, words in zip(tokens, near):
        table.add_row(cell(tok), cell(", ".join(f"{w} {c:.2f}" for w, c in words)))
    return Group(Text(title or "Nearest vocabulary words to each contextual vector", style="bold"), table)


def cosine_table(labels: list[str], matrix: np.ndarray) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("", style="bold", no_wrap=True)
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True)
    for label, row in zip(labels, matrix):
        table.add_row(label, *(Text(f"{c:.2f}", style=heat_style(c)) for c in row))
    return table


def compare_renderables(result) -> list:
    """Everything `attncli compare` shows."""
    labels = [f"s{o.sentence + 1}" for o in result.occurrences]
    parts = [Text(caption(result), style="dim")]
    sentences = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    sentences.add_column("", style="bold", no_wrap=True)
    sentences.add_column("sentence")
    for label, text in zip(labels, result.sentences):
        sentences.add_row(label, cell(text))
    parts.append(Group(Text(f"{visible(repr(result.word))} in {len(labels)} sentences", style="bold"), sentences))
    static = result.static_cosine
    off = static[~np.eye(len(static), dtype=bool)]
    parts.append(Text.assemble(
        ("Static cosine between occurrences: ", "bold"),
        f"{off.min():.2f}" if off.min() != off.max() else f"{off.min():.2f} everywhere",
        (" — a static vector is the same in every sentence, so it cannot tell senses apart.", "dim"),
    ))
    parts.append(Group(Text("Contextual cosine between occurrences (1 = unchanged meaning)", style="bold"), cosine_table(labels, result.contextual_cosine)))
    attended = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    attended.add_column("", style="bold", no_wrap=True)
    attended.add_column(cell(f"what {result.word!r} attended to (weight)"))
    for label, o in zip(labels, result.occurrences):
        ranked = sorted(o.attention.items(), key=lambda kv: -kv[1])
        attended.add_row(label, Text("  ").join(Text(f"{visible(t)} {w:.2f}", style=heat_style(w)) for t, w in ranked))
    parts.append(Group(Text("Attention of the word in each sentence", style="bold"), attended))
    if any(o.neighbors for o in result.occurrences):
        parts.append(neighbors_table(labels, [o.neighbors for o in result.occurrences],
                                     title=visible(f"Nearest vocabulary words to {result.word!r} in each sentence")))
    return parts


def wic_renderables(result, eval_name: str, fit_name: str) -> list:
    """The WiC score, the threshold, and what was fitted where."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0), show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("accuracy", cell(f"{result.accuracy:.4f} on {result.n:,} pairs of {eval_name}"))
    table.add_row("threshold", cell(f"cosine > {result.threshold:.4f} means same sense (fitted on {fit_name})"))
    table.add_row("fit accuracy", f"{result.fit_accuracy:.4f}")
    if len(result.trials) > 1:
        table.add_row("tuned", f"best of {len(result.trials)} settings on the fit split")
    table.add_row("settings", result.config.describe())
    return [Group(Text("Word-in-Context", style="bold"), table), Text("Static vectors score 0.50 by construction.", style="dim")]


def svg_image(parts: list, *, title: str = "attncli", width: int | None = None) -> str:
    """The renderables as rich draws them in a terminal, as an SVG document. The width is what
    the widest part needs (60 to 200 columns) unless given. rich's template names web fonts on a
    CDN; those URLs are taken out so the image never fetches anything (local Fira Code or the
    system's monospace font draws it)."""
    import io
    import re

    from rich._export_format import CONSOLE_SVG_FORMAT
    from rich.console import Console

    if width is None:
        probe = Console(width=200, file=io.StringIO())
        widest = max((probe.measure(p).maximum for p in parts), default=80)
        width = min(max(widest + 1, 60), 200)
    rec = Console(record=True, file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor")
    for part in parts:
        rec.print(part)
    rec.print()  # room below the last line: the image is clipped at its last baseline
    offline = re.sub(r',\s*url\("https?://[^"]*"\)\s*format\("[^"]*"\)', "", CONSOLE_SVG_FORMAT)
    return rec.export_svg(title=title, code_format=offline)


# ---------------------------------------------------------------- attncli vectors ...


def _mib(n) -> str:
    if n is None:
        return ""
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 1024:,.1f} KiB"


def vectors_info_table(d: dict) -> Table:
    """`attncli vectors info`: one row per fact about a vector source."""
    table = Table(title=f"vectors {d['name']}", box=box.SIMPLE_HEAD, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("format", d.get("format")),
        ("detected", d.get("detected")),
        ("dimensions", d.get("dim")),
        ("vocabulary", f"{d['vocab_size']:,} words" + (f" (--limit {d['limit']})" if d.get("limit") else "")),
        ("subwords", "yes: out-of-vocabulary words get fastText n-gram vectors" if d.get("subwords") else None),
        ("counts", "yes (from the file)" if d.get("counts") else None),
        ("path", d.get("path")),
        ("source size", _mib(d.get("source_bytes"))),
        ("cache", d.get("cache")),
        ("cache size", _mib(d.get("cache_bytes"))),
        ("licence", d.get("licence")),
    ]
    prov = d.get("provenance") or {}
    rows += [("description", prov.get("description")), ("authors", prov.get("authors")),
             ("homepage", prov.get("homepage")), ("derived", prov.get("transform"))]
    for field, value in rows:
        if value not in (None, ""):
            table.add_row(field, str(value))
    return table


def cache_table(rows: list[dict], where: str) -> Table:
    """`attncli vectors list`: the cached sources."""
    total = sum(r["cache_bytes"] for r in rows)
    table = Table(title=f"cached vector sources in {where}", caption=f"{len(rows)} sources, {_mib(total)}", box=box.SIMPLE_HEAD)
    for col in ("source", "format", "words", "dim", "cache size", "state"):
        table.add_column(col, justify="right" if col in ("words", "dim", "cache size") else "left", overflow="fold")
    for r in rows:
        table.add_row(cell(r["source"]), r["format"], f"{r['vocab_size']:,}", str(r["dim"]), _mib(r["cache_bytes"]), r["state"])
    return table


def word_neighbors_table(word: str, pairs: list[tuple[str, float]], name: str, subword: bool = False) -> Table:
    """`attncli vectors neighbors`: rank, word, cosine."""
    how = " (subword vector)" if subword else ""
    table = Table(title=cell(f"nearest to {word!r}{how} in {name}"), box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right")
    table.add_column("word")
    table.add_column("cosine", justify="right")
    for rank, (w, c) in enumerate(pairs, 1):
        table.add_row(str(rank), cell(w), f"{c:.3f}")
    return table


def batch_progress(total: int | None, console=None):
    """A rich Progress for `embed -i`: bar, sentences done, sentences/s, ETA (on stderr)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn

    class Rate(ProgressColumn):
        def render(self, task):
            return Text(f"{task.speed or 0:,.0f} sentences/s", style="progress.data.speed")

    return Progress(
        TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), Rate(), TimeRemainingColumn(),
        console=console or Console(stderr=True),
    )
