"""Rich renderables for the terminal. Builds tables; prints nothing (the command prints)."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.color import Color
from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text

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
    return f"vectors {v['name']} ({v['dim']}d, {v['vocab_size']:,} words) · {result.config.describe()}"


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
        table.add_column(tok, justify="right", no_wrap=True, min_width=2 if percent else 4)
    for tok, row in zip(result.surfaces, weights):
        cells = (f"{100 * w:.0f}" if percent else f"{w:.2f}" for w in row)
        table.add_row(tok, *(Text(c, style=heat_style(w)) for c, w in zip(cells, row)))
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
        table.add_row(tok, *cells, f"{norm:.2f}")
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
    note = "new_i = sum_j a_ij v_j"
    if result.untrained:
        note += " · weights are random and untrained: they show the mechanism, not meaning"
    parts.append(vectors_table(result.surfaces, result.contextual, dims, f"Contextual vectors ({d_out} dims)", note))
    return parts


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
