"""Rich renderables for the terminal. Builds tables; prints nothing (the command prints)."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.color import Color
from rich.console import Group
from rich.style import Style
from rich.table import Table as _RichTable
from rich.text import Text

from .attention import norms
from .tokens import visible


def cell(text: str) -> Text:
    """Text from the user's data (a token, a word, a sentence, a path): control characters
    escaped, and never read as rich markup ("[bold]" stays "[bold]")."""
    return Text(visible(str(text)))


def _plain(value):
    """A table's title, header or cell: a str becomes cell(str); renderables pass unchanged."""
    return cell(value) if isinstance(value, str) else value


class Table(_RichTable):
    """rich's Table, every string in it (title, caption, headers, footers, cells) shown as
    cell() shows it: escaped, never read as markup. Every table of attncli is one: a file's
    name, a provenance or a token with ESC or U+202E in it cannot reach the terminal raw."""

    def __init__(self, *headers, title=None, caption=None, **kwargs):
        super().__init__(title=_plain(title), caption=_plain(caption), **kwargs)
        for header in headers:
            self.add_column(header)

    def add_column(self, header="", footer="", **kwargs) -> None:
        super().add_column(_plain(header), _plain(footer), **kwargs)

    def add_row(self, *cells, **kwargs) -> None:
        super().add_row(*map(_plain, cells), **kwargs)

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
    return visible(f"vectors {v['name']} ({v['dim']}d, {v['vocab_size']:,} words) · {result.config.describe(v['vocab_size'])}")


# A header or row label longer than this folds onto more lines: the whole token stays visible.
_HEAD_CAP = 10
_LABEL_CAP = 20


class BlockedTable:
    """A labelled matrix that never loses a cell at any console width: when the columns do not
    fit, they are split into blocks, each a table of its own with every row label, its title
    numbered ("keys 1-12 of 20"). The split is decided when rich renders it, from the width the
    console offers (options.max_width), so 80, 100 and 200 columns each get their own layout.

    A table of k columns of widths w_j (box SIMPLE_HEAD, no edge padding, one column of padding)
    is sum(w_j) + 2k characters wide. Headers longer than _HEAD_CAP and row labels longer than
    _LABEL_CAP fold onto several lines; numbers are never narrowed below their width.
    """

    def __init__(self, title: str, corner: str, row_labels: list[str], col_labels: list[str],
                 cells: list[list[Text]], *, unit: str, span=None, trailing: tuple[str, list[Text]] | None = None,
                 note: str | None = None):
        # the user's text (tokens) escaped once here, and rendered as Text, never as markup
        row_labels, col_labels = [visible(str(t)) for t in row_labels], [visible(str(t)) for t in col_labels]
        self.title, self.corner, self.unit, self.note = visible(title), corner, unit, note
        # the title suffix of a block of columns [a, b): "keys 1-12 of 20" unless given
        self.span = span or (lambda a, b: f"{unit} {a + 1}-{b} of {len(col_labels)}")
        self.row_labels, self.col_labels, self.cells, self.trailing = row_labels, col_labels, cells, trailing
        widest_row_label = max((len(t) for t in row_labels), default=0)
        self.label_width = max(min(widest_row_label, _LABEL_CAP), len(corner) if len(corner) <= _LABEL_CAP else 1, 1)
        self.widths = [
            max(min(len(head), _HEAD_CAP), max((c.cell_len for c in (row[j] for row in cells)), default=1), 1)
            for j, head in enumerate(col_labels)
        ]
        self.trailing_width = 0
        if trailing is not None:
            self.trailing_width = max(len(trailing[0]), max((c.cell_len for c in trailing[1]), default=1))

    def _fixed(self) -> int:
        """Width of the row labels and the trailing column, with their padding."""
        return self.label_width + 2 + (self.trailing_width + 2 if self.trailing is not None else 0)

    def _fits(self, cols: range, width: int) -> bool:
        return len(cols) <= 1 or self._fixed() + sum(self.widths[j] + 2 for j in cols) <= width

    def blocks(self, width: int) -> list[range]:
        """Consecutive column ranges that each fit in `width` (at least one column each): as few
        blocks as greedy filling needs, then the columns shared out evenly when that still fits
        (11 + 10 rather than 12 + 9)."""
        greedy, start = [], 0
        for j in range(1, len(self.widths) + 1):
            if not self._fits(range(start, j), width):
                greedy.append(range(start, j - 1))
                start = j - 1
        greedy.append(range(start, len(self.widths)))
        count, n = len(greedy), len(self.widths)
        even = [range(n * b // count, n * (b + 1) // count) for b in range(count)]
        return even if all(self._fits(cols, width) for cols in even) else greedy

    def _table(self, cols: range) -> Table:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
        table.add_column(self.corner, style="bold", width=self.label_width, overflow="fold")
        for j in cols:
            table.add_column(Text(self.col_labels[j]), justify="right", width=self.widths[j], overflow="fold")
        if self.trailing is not None:
            table.add_column(self.trailing[0], justify="right", style="cyan", width=self.trailing_width)
        for i, label in enumerate(self.row_labels):
            extra = [self.trailing[1][i]] if self.trailing is not None else []
            table.add_row(Text(label), *(self.cells[i][j] for j in cols), *extra)
        return table

    def __rich_console__(self, console, options):
        blocks = self.blocks(options.max_width)
        total = len(self.widths)
        for cols in blocks:
            title = self.title
            if len(blocks) > 1:
                title += f" ({self.span(cols.start, cols.stop)})"
            yield Text(title, style="bold")
            yield self._table(cols)
        if len(blocks) > 1:
            yield Text(f"{total} {self.unit} in {len(blocks)} blocks to fit {options.max_width} columns.", style="dim")
        if self.note:
            yield Text(self.note, style="dim")

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        full = self._fixed() + sum(w + 2 for w in self.widths)
        narrowest = self._fixed() + max((w + 2 for w in self.widths), default=0)
        return Measurement(min(narrowest, options.max_width), min(max(full, len(self.title)), options.max_width))


def attention_table(result, weights: np.ndarray | None = None, title: str | None = None) -> BlockedTable:
    """Rows: query tokens; columns: key tokens; each cell a weight on a heat background.
    Up to 9 tokens the cells read 0.78; beyond, percentages (78) keep the columns narrow.
    The title says which matrix it is (the mean of H heads, or one head) and, when a mask leaves
    a query nothing to attend to, which rows are zero instead of summing to 1."""
    weights = result.attention if weights is None else weights
    n_heads = result.heads.shape[0]
    percent = len(result.surfaces) > 9
    if title is None:
        title = f"Mean of {n_heads} heads" if n_heads > 1 else "Attention"
    empty = [i for i, row in enumerate(weights) if not np.any(row)]
    whole = "100%" if percent else "weight 1"
    title += f": each query (row) spreads {whole} over the keys"
    if empty:
        which = ", ".join(f"{i + 1} ({result.surfaces[i]})" for i in empty)
        title += f" it may see; row {which}: masked, nothing to attend to, all 0"
    elif not percent:
        title += " (columns)"
    cells = [[Text(f"{100 * w:.0f}" if percent else f"{w:.2f}", style=heat_style(w)) for w in row] for row in weights]
    return BlockedTable(title, "%" if percent else "query \\ key", list(result.surfaces), list(result.surfaces),
                        cells, unit="keys")


def vectors_table(tokens: list[str], matrix: np.ndarray, dims: int, title: str, note: str | None = None,
                  say_dims: bool = True) -> BlockedTable:
    """The first `dims` dimensions of each vector and its norm (of all dimensions); the title
    says how many of the dimensions are shown (unless `say_dims` is off: the caller's title does)."""
    total = matrix.shape[1]
    shown = min(dims, total)
    if say_dims:
        title += f" ({total} dims)" + ("" if shown == total else f": d0-d{shown - 1} shown (--dims), norm of all")
    lengths = norms(matrix)
    cells = [[Text(f"{x:+.2f}") for x in row[:shown]] for row in matrix]
    return BlockedTable(title, "token", list(tokens), [f"d{j}" for j in range(shown)], cells, unit="dimensions",
                        span=lambda a, b: f"d{a}-d{b - 1}", trailing=("norm", [Text(f"{x:.2f}") for x in lengths]),
                        note=note)


def embed_renderables(result, *, dims: int = 8, inputs: np.ndarray | None = None) -> list:
    """Everything `attncli embed` shows for one sentence, in order. `inputs`: the x_i of the
    formula (pipeline.formula_inputs: the static vectors, centered when --center is on), shown
    so that a reader can redo the contextual rows from the table (--show-static)."""
    parts = [Text(caption(result), style="dim"), attention_table(result)]
    if result.heads.shape[0] > 1:
        for h, w in enumerate(result.heads):
            parts.append(attention_table(result, w, title=f"Head {h + 1} of {result.heads.shape[0]}"))
    if inputs is not None:
        c = result.config
        title = "Static vectors x_i"
        if c.center:
            title += ", centered"
        if c.positions != "none":
            title += f", plus {c.positions} positions"
        note = None
        if c.mode == "qkv" and not result.untrained and c.weights != "identity":
            note = "v_j = x_j W_v (and Q, K) are not shown: attncli explain works them through"
        parts.append(vectors_table(result.surfaces, inputs, dims, title, note))
    r = result.config.residual
    v = "x_j" if result.config.mode == "simple" else "v_j"  # simple mode has no W_v: the values are the inputs
    note = f"new_i = sum_j a_ij {v}" if not r else f"new_i = {r:g} x_i + {1 - r:g} sum_j a_ij {v}"
    if result.config.center:
        used = min(result.config.center, result.vectors["vocab_size"])
        note += f" (vectors centered on the mean of the top {used:,} words)"
    if result.untrained:
        note += " · weights are random and untrained: they show the mechanism, not meaning"
    parts.append(vectors_table(result.surfaces, result.contextual, dims, "Contextual vectors", note))
    return parts


def neighbors_table(tokens: list[str], near: list[list[tuple[str, float]]], title: str | None = None,
                    label: str = "token") -> Group:
    """Each token (or sentence: `label` heads that column) and its nearest vocabulary words, with cosines."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column(label, style="bold", overflow="fold")
    table.add_column("nearest words (cosine)")
    for tok, words in zip(tokens, near):
        table.add_row(cell(tok), cell(", ".join(f"{w} {c:.2f}" for w, c in words)))
    return Group(Text(title or "Nearest vocabulary words to each contextual vector", style="bold"), table)


def cosine_table(labels: list[str], matrix: np.ndarray, title: str) -> BlockedTable:
    cells = [[Text(f"{c:.2f}", style=heat_style(c)) for c in row] for row in matrix]
    return BlockedTable(title, "", labels, labels, cells, unit="sentences")


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
    parts.append(cosine_table(labels, result.contextual_cosine, "Contextual cosine between occurrences (1 = unchanged meaning)"))
    attended = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    attended.add_column("", style="bold", no_wrap=True)
    attended.add_column(cell(f"what {result.word!r} attended to (weight)"))
    for label, o in zip(labels, result.occurrences):
        ranked = sorted(o.attention.items(), key=lambda kv: -kv[1])
        attended.add_row(label, Text("  ").join(Text(f"{visible(t)} {w:.2f}", style=heat_style(w)) for t, w in ranked))
    parts.append(Group(Text("Attention of the word in each sentence", style="bold"), attended))
    if any(o.neighbors for o in result.occurrences):
        parts.append(neighbors_table(labels, [o.neighbors for o in result.occurrences],
                                     title=f"Nearest vocabulary words to {result.word!r} in each sentence",
                                     label="sentence"))
    return parts


def wic_renderables(result, eval_name: str, fit_name: str, baselines: list | None = None) -> list:
    """The WiC score, the threshold, and what was fitted where; the baselines table when given."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0), show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("accuracy", cell(f"{result.accuracy:.4f} on {result.n:,} pairs of {eval_name}"))
    table.add_row("threshold", cell(f"cosine > {result.threshold:.4f} means same sense (fitted on {fit_name})"))
    table.add_row("fit accuracy", f"{result.fit_accuracy:.4f}")
    if len(result.trials) > 1:
        untuned = result.trials[0][1]  # the grid starts from the settings given
        table.add_row("tuned", f"best of {len(result.trials)} settings on the fit split "
                               f"(the settings given, untuned: fit accuracy {untuned:.4f})")
    table.add_row("settings", result.config.describe())
    parts = [Group(Text("Word-in-Context", style="bold"), table)]
    if not baselines:
        return parts + [Text("Static vectors score about 0.50: the target's vector is the same in both sentences "
                             "(up to its inflection).", style="dim")]
    from .wic import binomial_se

    base = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    for name, justify in (("stage", "left"), ("accuracy", "right"), ("± s.e.", "right"), ("fit", "right"), ("grouped CV", "right")):
        base.add_column(name, justify=justify, no_wrap=True)
    for r in baselines:
        base.add_row(r.name, f"{r.accuracy:.4f}", f"{r.se:.4f}", f"{r.fit_accuracy:.4f}", f"{r.grouped_cv:.4f}")
    base.add_section()
    base.add_row("chosen (the settings above)", f"{result.accuracy:.4f}", f"{binomial_se(result.accuracy, result.n):.4f}",
                 f"{result.fit_accuracy:.4f}", "", style="bold")
    note = Text("accuracy on the eval split, threshold fitted on the fit split; s.e. = sqrt(p (1 - p) / n); grouped CV: "
                "the threshold fitted on 4 of 5 folds of the fit split grouped by target word, accuracy on the fifth "
                "(for the trained weights, trained on all of WiC train, the threshold only)", style="dim")
    return parts + [Text(""), Text("Baselines", style="bold"), base, note]


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
    table = Table(title=cell(f"vectors {d['name']}"), box=box.SIMPLE_HEAD, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("format", d.get("format")),
        ("detected", (d.get("detected") or "").removeprefix("detected: ")),
        ("dimensions", d.get("dim")),
        ("vocabulary", f"{d['vocab_size']:,} words" + (f" (--limit {d['limit']})" if d.get("limit") else "")),
        ("subwords", "yes: out-of-vocabulary words get fastText n-gram vectors" if d.get("subwords") else None),
        ("counts", "yes (from the file)" if d.get("counts") else None),
        ("path", PathText(d["path"]) if d.get("path") else None),
        ("source size", _mib(d.get("source_bytes"))),
        ("cache", PathText(d["cache"]) if d.get("cache") else None),
        ("cache size", _mib(d.get("cache_bytes"))),
        ("licence", d.get("licence")),
    ]
    prov = d.get("provenance") or {}
    rows += [("description", prov.get("description")), ("authors", prov.get("authors")),
             ("homepage", prov.get("homepage")), ("derived", prov.get("transform"))]
    for field, value in rows:
        if value not in (None, ""):
            table.add_row(field, value if isinstance(value, PathText) else cell(str(value)))
    return table


class PathText:
    """A file path that wraps after a '/' when its column is narrower than the path (and folds
    only a single name longer than the column): never broken in the middle of a name."""

    def __init__(self, path: str, prefix: str = "", style: str = ""):
        path = visible(path)
        self.path, self.prefix, self.style = path, prefix, style
        self.parts = [p + "/" for p in path.split("/")[:-1]] + [path.split("/")[-1]]
        if prefix:
            self.parts[0] = prefix + self.parts[0]

    def lines(self, width: int) -> list[str]:
        out = [""]
        for part in self.parts:
            if out[-1] and len(out[-1]) + len(part) > width:
                out.append("")
            out[-1] += part
        return out

    def __rich_console__(self, console, options):
        yield Text("\n".join(self.lines(options.max_width)), overflow="fold", style=self.style)

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        return Measurement(max(len(p) for p in self.parts), len(self.prefix) + len(self.path))


class CacheTable:
    """`attncli vectors list`: the cached sources. The source paths get what the console width
    leaves after the other columns (and at least their longest name), wrapped after a '/'."""

    COLUMNS = ("source", "format", "words", "dim", "cache size", "state")

    def __init__(self, rows: list[dict], where: str):
        self.where = where
        self.rows = [[r["source"], r["format"], f"{r['vocab_size']:,}", str(r["dim"]), _mib(r["cache_bytes"]), r["state"]]
                     for r in rows]
        total = sum(r["cache_bytes"] for r in rows)
        self.summary = f"{len(rows)} source{'s' if len(rows) != 1 else ''}, {_mib(total)}"

    def __rich_console__(self, console, options):
        others = [max([len(col)] + [len(row[j]) for row in self.rows]) for j, col in enumerate(self.COLUMNS) if j]
        overhead = 2 * len(self.COLUMNS)  # padding, dividers and edges: see BlockedTable
        paths = [PathText(row[0]) for row in self.rows]
        longest_name = max((max(len(p) for p in path.parts) for path in paths), default=len("source"))
        longest_path = max((len(path.path) for path in paths), default=len("source"))
        yield PathText(self.where, prefix="cached vector sources in ", style="bold")
        room = options.max_width - overhead - sum(others)
        if room < max(len("source"), longest_name):  # too narrow for a table: one paragraph per source
            for path, row in zip(paths, self.rows):
                yield path
                yield Text(f"  {row[1]} · {row[2]} words · {row[3]} dims · {row[4]} · {row[5]}", overflow="fold")
            yield Text(self.summary, style="dim")
            return
        width = max(len("source"), longest_name, min(longest_path, room))
        table = Table(caption=self.summary, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
        for j, col in enumerate(self.COLUMNS):
            table.add_column(col, justify="right" if col in ("words", "dim", "cache size") else "left",
                             no_wrap=True, width=width if j == 0 else others[j - 1])
        for path, row in zip(paths, self.rows):
            table.add_row(Text("\n".join(path.lines(width))), *row[1:])
        yield table


def cache_table(rows: list[dict], where: str) -> CacheTable:
    """`attncli vectors list`: the cached sources."""
    return CacheTable(rows, where)


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


# ---------------------------------------------------------------- attncli explain


def _clip_label(s: str, width: int = 16) -> str:
    s = visible(s)
    return s if len(s) <= width else s[: width - 1] + "~"


def _marked(tok: str, layer: int) -> str:
    """A token's name after `layer` layers: money, money', money'', money''', money(4)."""
    return tok + ("'" * layer if layer <= 3 else f"({layer})")


def formula_lines(lhs: str, coefs, names: list[str], *, before: str = "", after: str = "", width: int = 80) -> Text:
    """`lhs = before 0.47 · money + 0.00 · bank + 0.53 · grows after`, wrapped between terms
    so that no line passes `width`; continuation lines align under the first term."""
    head = f"{lhs} = {before}"
    terms = [f"{c:.2f} · {n}" for c, n in zip(coefs, names)]
    terms[-1] += after
    indent = " " * min(len(head), width // 3)
    lines, line = [], head
    for k, term in enumerate(terms):
        piece = term if k == 0 else f" + {term}"
        if k and len(line) + len(piece) > width:
            lines.append(line)
            line = indent + "+ " + term
        else:
            line += piece
    lines.append(line)
    return Text("\n".join(lines))


def _fit_dims(dims: int, labels: list[str], total: int, width: int) -> int:
    """As many of the first `dims` dimensions as fit beside the labels in `width` columns."""
    label = max((len(s) for s in labels), default=5)
    return max(1, min(dims, total, (width - label - 12) // 7))


def _vectors(labels: list[str], matrix: np.ndarray, dims: int, width: int, title: str, note: str | None = None) -> Group:
    matrix = np.atleast_2d(matrix)
    shown = _fit_dims(dims, labels, matrix.shape[1], width)
    return vectors_table(labels, matrix, shown, f"{title} (first {shown} of {matrix.shape[1]} dims)", note, say_dims=False)


def _uses_qkv(e) -> bool:
    """Whether queries, keys and values differ from the inputs (qkv mode, weights not identity)."""
    return e.config.mode == "qkv" and e.config.weights != "identity"


def _scores_table(e, head, layer_no: int) -> Group:
    """Step 2: the word's similarity to each key, then every transformation in order."""
    word = _marked(_clip_label(e.surfaces[e.index]), layer_no)
    q, k = (f"q_{word}", "k_j") if _uses_qkv(e) else (f"x_{word}", "x_j")
    sim = f"cos({q}, {k})" if e.config.similarity == "cosine" else f"{q}·{k}"
    formula = " ".join([sim] + [s.label for s in head.steps[1:-1]])
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("j", justify="right", no_wrap=True)
    table.add_column("key", style="bold", no_wrap=True)
    for step in head.steps:
        header = {"similarity": "similarity", "prior": "prior_j"}.get(step.name, step.label)
        table.add_column(header, justify="right", no_wrap=True, style="cyan" if step.name == "logit" else None)
    for j, tok in enumerate(e.surfaces):
        cells = []
        for step in head.steps:
            if step.name == "logit" and e.masked[j]:
                cells.append(f"masked ({e.masked[j]})")
            else:
                cells.append(f"{step.values[j]:+.3f}")
        table.add_row(str(j + 1), _marked(_clip_label(tok), layer_no), *cells)
    return Group(Text(f"2. Scores: logit_j = {formula}", style="bold"), table)


def _softmax_table(e, head, layer_no: int) -> Group:
    """Step 3: exp of each logit (less the largest), their sum, and each weight."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0), show_footer=True)
    logits = head.steps[-1].values
    total = float(head.exp.sum())
    table.add_column("key", "sum", style="bold", no_wrap=True)
    table.add_column("logit", justify="right", no_wrap=True)
    table.add_column("exp(logit - max)", f"{total:.4f}", justify="right", no_wrap=True)
    table.add_column("α_j = exp / sum", f"{head.weights[e.index].sum():.2f}", justify="right", no_wrap=True)
    for j, tok in enumerate(e.surfaces):
        w = float(head.weights[e.index, j])
        logit = "masked" if e.masked[j] else f"{logits[j]:+.3f}"
        table.add_row(_marked(_clip_label(tok), layer_no), logit, f"{head.exp[j]:.4f}", Text(f"{w:.2f}", style=heat_style(w)))
    parts = [Text("3. Softmax: α_j = exp(logit_j) / Σ_k exp(logit_k)", style="bold"), table]
    if not head.exp.any():
        parts.append(Text("   every key is masked: nothing to attend to, so every α_j is 0", style="dim"))
    return Group(*parts)


_QKV_TITLE = "1. q = x W_q, k_j = x_j W_k, v_j = x_j W_v (+ biases), this head's columns"


def _qkv_table(e, head, layer_no: int, dims: int, width: int) -> Group:
    """Step 1 in qkv mode: the word's query and each token's key and value (this head's columns)."""
    toks = [_marked(_clip_label(t), layer_no) for t in e.surfaces]
    labels = [f"q  {toks[e.index]}"] + [f"k  {t}" for t in toks] + [f"v  {t}" for t in toks]
    d_k, d_v = head.q.shape[1], head.v.shape[1]
    if d_k == d_v:
        return _vectors(labels, np.vstack([head.q[e.index][None], head.k, head.v]), dims, width, _QKV_TITLE)
    return Group(_vectors(labels[: 1 + len(toks)], np.vstack([head.q[e.index][None], head.k]), dims, width, "   query and keys"),
                 _vectors(labels[1 + len(toks):], head.v, dims, width, "   values"))


def explain_renderables(e, *, dims: int = 6, width: int = 80) -> list:
    """Everything `attncli explain` shows, step by step, each line at most `width` columns."""
    cfg, H, L = e.config, e.heads, len(e.layers)
    qkv = _uses_qkv(e)
    word = _clip_label(e.surfaces[e.index])
    parts = [Text(caption(e), style="dim"),
             Text(f"Explaining {word!r} (token {e.index + 1} of {len(e.tokens)}) in: {visible(e.text)}", style="bold")]
    if e.untrained:
        parts.append(Text("The projections are random and untrained: the numbers show the mechanism, not meaning.", style="dim"))
    notes = []
    if cfg.center:
        notes.append(f"centered: minus the mean of the {cfg.center:,} most frequent words")
    title, inputs = "1. Inputs: static vectors x_j", e.model_input
    if cfg.positions == "sinusoidal":  # what layer 1 sums: the terms below add up from these
        title, inputs = "1. Inputs: x_j + p_j, p_j the sinusoidal position", e.layers[0].input
    parts.append(_vectors([_clip_label(t) for t in e.surfaces], inputs, dims, width, title, "; ".join(notes) or None))
    r = cfg.residual
    for ell, layer in enumerate(e.layers):
        toks = [_marked(_clip_label(t), ell) for t in e.surfaces]
        new = _marked(word, ell + 1)
        if L > 1:
            parts.append(Text(f"━━ Layer {ell + 1} of {L}" + (f": its inputs are layer {ell}'s outputs" if ell else ""), style="bold magenta"))
            if ell:
                parts.append(_vectors(toks, layer.input, dims, width, "   inputs"))
        values = [f"v_{t}" for t in toks] if qkv else toks
        for h, head in enumerate(layer.heads):
            if H > 1:
                parts.append(Text(f"── Head {h + 1} of {H} (d_k = {head.q.shape[1]})", style="bold yellow"))
            if qkv or H > 1:
                parts.append(_qkv_table(e, head, ell, dims, width))
            parts += [_scores_table(e, head, ell), _softmax_table(e, head, ell)]
            row = head.weights[e.index]
            if H > 1:
                parts.append(Text("4. This head's output for the word", style="bold"))
                parts.append(formula_lines(f"head {h + 1}", row, values, width=width))
                parts.append(_vectors([f"head {h + 1}"], head.output, dims, width, f"   head {h + 1}'s output for {new}"))
        parts.append(Text("4. The weighted sum" if H == 1 else f"Concatenation of the {H} heads", style="bold"))
        wo = " W_o" + (" + b_o" if e.b_o else "") if e.w_o else ""
        open_, close = (f"{r:g} · {toks[e.index]} + {1 - r:g} · (", ")") if r else ("", "")
        if H == 1:
            before, after = open_ + ("(" if wo else ""), (")" + wo if wo else "") + close
            parts.append(formula_lines(new, row, values, before=before, after=after, width=width))
        else:
            names = [f"head {h + 1}" for h in range(H)] if H <= 4 else ["head 1", "...", f"head {H}"]
            cat = f"[{' | '.join(names)}]{wo}"
            parts.append(Text(f"{new} = {r:g} · {toks[e.index]} + {1 - r:g} · {cat}" if r and not wo else f"{new} = {open_}{cat}{close}"))
        share = f"{1 - r:g} · " if r else ""
        if H == 1:
            labels = [f"{share}{w:.2f} · {v}{' W_o' if e.w_o else ''}" for w, v in zip(row, values)]
        else:
            labels = [f"share of {t}" for t in toks]
        outside = ([f"{r:g} · {toks[e.index]}"] if r else []) + ([f"{1 - r:g} · b_o" if r else "b_o"] if e.b_o else [])
        extra = []
        if outside:
            labels.append(" + ".join(outside))
            extra = [layer.residual[None]]
        labels.append(f"= {new}")
        note = None
        if H > 1:
            note = f"share of token j: {share}[α_1j v_1j | ... | α_{H}j v_{H}j]" + (" W_o" if e.w_o else "")
        stack = np.vstack([layer.terms, *extra, layer.output[None]])
        parts.append(_vectors(labels, stack, dims, width, "   the sum, term by term", note))
    parts.append(Text("5. What changed", style="bold"))
    if e.cosine is None:
        parts.append(Text(f"   W_o makes the output {e.contextual.shape[0]}-dimensional: it cannot be compared with the "
                          f"{e.model_input.shape[1]}-dimensional input or the vocabulary.", style="dim"))
    else:
        parts.append(Text(f"   cosine({word} before, {word} after) = {e.cosine:.2f}"))
    near = Table.grid(padding=(0, 1))
    near.add_column(no_wrap=True)
    near.add_column()
    for label, pairs in (("before", e.before), ("after", e.after)):
        if pairs:
            near.add_row(f"   nearest {label}:", cell(", ".join(f"{w} {c:.2f}" for w, c in pairs)))
    if near.row_count:
        parts.append(near)
    return parts


def weights_info_renderables(info) -> list:
    """`attncli weights info`: what a weights file holds (weightsfile.WeightsInfo), the settings
    it carries and where it came from."""
    facts = Table(title=f"weights {info.name}", box=box.SIMPLE_HEAD, show_header=False)
    facts.add_column("field", style="bold")
    facts.add_column("value", overflow="fold")
    t = info.training
    rows = [("path", info.path), ("size", _mib(info.size)), ("heads", info.heads),
            ("dimensions", f"{info.d_in} in, {info.d_out} out"),
            ("carried settings", ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.config.items()) or "none"),
            ("trained on", f"{t['data']} ({t.get('pairs', '?')} pairs), vectors {t.get('vectors', '?')}" if "data" in t else None),
            ("rank, seed, epochs", ", ".join(str(t.get(k, "-")) for k in ("rank", "seed", "epochs")) if "rank" in t else None),
            ("accuracy (train)", f"{t['train_accuracy']:.4f}" if "train_accuracy" in t else None),
            ("accuracy (grouped CV)", f"{t['cv_accuracy']:.4f}" if isinstance(t.get("cv_accuracy"), float) else None),
            ("licence", info.licence)]
    for field, value in rows:
        if value not in (None, ""):
            facts.add_row(field, str(value))
    mats = Table(title="matrices", box=box.SIMPLE_HEAD)
    for col in ("matrix", "shape", "rank of W - I", "|W - I| / |I|", "|W|"):
        mats.add_column(col, justify="left" if col == "matrix" else "right")
    for m in info.matrices:
        mats.add_row(m.name, " x ".join(map(str, m.shape)),
                     "-" if m.rank_from_identity is None else str(m.rank_from_identity),
                     "-" if m.distance_from_identity is None else f"{m.distance_from_identity:.4f}", f"{m.norm:.3f}")
    return [facts, mats]


# ---------------------------------------------------------------- senses

def _kwic(o, width: int = 50) -> Text:
    """An occurrence's text cut to `width` characters each side of the word, the word in bold
    (control characters escaped, never read as markup)."""
    a, b = max(0, o.start - width), min(len(o.text), o.end + width)
    text = Text(("…" if a > 0 else "") + visible(o.text[a:o.start]))
    text.append(visible(o.text[o.start:o.end]), style="bold")
    text.append(visible(o.text[o.end:b]) + ("…" if b < len(o.text) else ""))
    return text


def _where(o, several: bool) -> str:
    """Where an occurrence is: its line, after the file's name when there are several files
    (the JSON gives the path as given)."""
    from pathlib import Path

    return f"{Path(o.source).name}:{o.line}" if several else f"line {o.line}"


def senses_renderables(result) -> list:
    """What `attncli senses` shows: a caption, one table of senses, their examples, and with
    --like the ranked occurrences."""
    from .palette import sense_colour
    several = len(result.sources) > 1
    n = len(result.occurrences)
    g = result.grouping
    how = "chosen by silhouette" if g.silhouettes else "given"
    cap = (f"{n:,} occurrences of {visible('/'.join(result.forms))} in {len(result.sources)} file"
           f"{'s' if several else ''} ({result.lines_read:,} lines) · {result.k} sense{'s' if result.k != 1 else ''} ({how})")
    parts = [Text(f"vectors {result.vectors_info['name']} · {result.config.describe()}", style="dim"), Text(cap, style="bold")]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("sense", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("label (nearest words)")
    table.add_column("attends to")
    for s in result.senses:
        table.add_row(Text(f"■ {s.id}", style=sense_colour(s.id - 1)), f"{s.size:,}", f"{100 * s.share:.0f}%",
                      cell(", ".join(s.label)), cell(", ".join(s.attends)))
    parts.append(table)
    for s in result.senses:
        parts.append(Text(f"sense {s.id}: most central examples", style=f"bold {sense_colour(s.id - 1)}"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column()
        for i in s.examples:
            o = result.occurrences[i]
            grid.add_row(cell(_where(o, several)), _kwic(o, 40))
        parts.append(grid)
    if g.silhouettes:
        sil = ", ".join(f"k={k}: {v:.2f} ({g.gaps[k]:+.2f})" for k, v in g.silhouettes.items())
        parts.append(Text(f"-k auto: silhouette (gap over one Gaussian blob) {sil}; "
                          "k = 1 unless a gap reaches 0.16", style="dim"))
    if result.like is not None:
        parts.append(like_table(result))
    return parts


def like_table(result) -> Group:
    """The occurrences nearest in meaning to the word in the --like example, ranked."""
    from .palette import sense_colour
    several = len(result.sources) > 1
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("cosine", justify="right", no_wrap=True)
    table.add_column("sense", no_wrap=True)
    table.add_column("where", no_wrap=True)
    table.add_column("text")
    for rank, (i, c) in enumerate(zip(result.like.ranked.tolist(), result.like.cosine.tolist()), start=1):
        o = result.occurrences[i]
        s = int(result.grouping.labels[i])
        table.add_row(str(rank), f"{c:.2f}", Text(str(s + 1), style=sense_colour(s)), cell(_where(o, several)), _kwic(o, 40))
    title = Text(f"Nearest in meaning to “{visible(result.like.text)}”", style="bold")
    return Group(title, table)


def pseudowords_table(result) -> Group:
    """Per pair of `eval pseudowords`: occurrences, balanced accuracy, majority share; and the means."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("pair", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("balanced accuracy", justify="right", no_wrap=True)
    table.add_column("majority", justify="right", no_wrap=True)
    for p in result.pairs:
        table.add_row(cell(f"{p.a}:{p.b}"), f"{p.n:,}", f"{p.balanced_accuracy:.3f}", f"{p.majority:.3f}")
    table.add_section()
    table.add_row(f"mean of {len(result.pairs)}", "", f"{result.mean_balanced_accuracy:.3f} ± {result.se_balanced_accuracy:.3f}",
                  f"{result.mean_majority:.3f}", style="bold")
    how = {"context": "the context view (the word its context predicts), smoothed over nearby lines, spherical 2-means",
           "kurtosis": "the contextual vectors' most bimodal direction (kurtosis)",
           "kmeans": "plain spherical 2-means of the contextual vectors"}.get(result.method, result.method)
    note = Text(f"2 groups by {how}; balanced accuracy = mean recall of the two words (0.5: chance, "
                "and what static vectors get), ± its standard error over pairs; majority = share of the more frequent word", style="dim")
    parts = [Text("Pseudoword test: A and B merged into one word", style="bold"), table, note]
    if result.baselines:
        base = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
        base.add_column("view", no_wrap=True)
        base.add_column("balanced accuracy", justify="right", no_wrap=True)
        base.add_column("± s.e.", justify="right", no_wrap=True)
        for b in result.baselines:
            base.add_row(b.name, f"{b.mean:.3f}", f"{b.se:.3f}")
        base.add_section()
        base.add_row(f"chosen: {result.method}", f"{result.mean_balanced_accuracy:.3f}", f"{result.se_balanced_accuracy:.3f}", style="bold")
        parts += [Text(""), Text("Baselines on the same pairs (contextual vectors grouped by kurtosis)", style="bold"), base]
    return Group(*parts)


# ---------------------------------------------------------------- attncli index info


def index_info_renderables(d: dict) -> list:
    """`attncli index info`: what the index holds, then one row per file."""
    facts = Table(title=cell(f"index {d['index']}"), box=box.SIMPLE_HEAD, show_header=False)
    facts.add_column("field", style="bold")
    facts.add_column("value", overflow="fold")
    ratio = f" ({d['ratio']:.2f}x the text)" if d.get("ratio") else ""
    shards = f" in {d['shards'] + 1} files (DB and its shards)" if d.get("shards") else ""
    rows = [
        ("files", f"{d['files']:,}"),
        ("lines", f"{d['lines']:,} ({d['blank']:,} blank)" + (f", {d['skipped']:,} not stored (not UTF-8 or too long)" if d["skipped"] else "")),
        ("words", f"{d['words']:,} (whitespace-separated)"),
        ("text", _mib(d["text_bytes"]) or "0 bytes"),
        ("size", f"{_mib(d['index_bytes'])}{ratio}{shards}"),
        ("built", f"{d['built']} by attncli {d['attncli']} (created {d['created']})"),
        ("schema", f"{d['schema']}; search keys {d['key']}; SQLite {d['sqlite']}"),
        ("lines up to", f"{d['max_line_bytes']:,} bytes (--max-line-bytes)"),
    ]
    if d.get("check"):
        rows.append(("check", "; ".join(d["check"])))
    for field, value in rows:
        facts.add_row(field, cell(value))
    files = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("file", "lines", "words", "size", "sha256", "on disk"):
        files.add_column(col, justify="right" if col in ("lines", "words", "size") else "left",
                         overflow="fold" if col == "file" else "ellipsis")
    for f in d["file_list"]:
        files.add_row(PathText(f["name"]), f"{f['lines']:,}", f"{f['words']:,}", _mib(f["size"]) or f"{f['size']} B",
                      f["sha256"][:12], f["state"])
    return [facts, files]
