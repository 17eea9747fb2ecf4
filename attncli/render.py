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
        table.add_row(tok, ", ".join(f"{w} {c:.2f}" for w, c in words))
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
        sentences.add_row(label, text)
    parts.append(Group(Text(f"{result.word!r} in {len(labels)} sentences", style="bold"), sentences))
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
    attended.add_column(f"what {result.word!r} attended to (weight)")
    for label, o in zip(labels, result.occurrences):
        ranked = sorted(o.attention.items(), key=lambda kv: -kv[1])
        attended.add_row(label, Text("  ").join(Text(f"{t} {w:.2f}", style=heat_style(w)) for t, w in ranked))
    parts.append(Group(Text("Attention of the word in each sentence", style="bold"), attended))
    if any(o.neighbors for o in result.occurrences):
        parts.append(neighbors_table(labels, [o.neighbors for o in result.occurrences],
                                     title=f"Nearest vocabulary words to {result.word!r} in each sentence"))
    return parts


def wic_renderables(result, eval_name: str, fit_name: str) -> list:
    """The WiC score, the threshold, and what was fitted where."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0), show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("accuracy", f"{result.accuracy:.4f} on {result.n:,} pairs of {eval_name}")
    table.add_row("threshold", f"cosine > {result.threshold:.4f} means same sense (fitted on {fit_name})")
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
        table.add_row(r["source"], r["format"], f"{r['vocab_size']:,}", str(r["dim"]), _mib(r["cache_bytes"]), r["state"])
    return table


def word_neighbors_table(word: str, pairs: list[tuple[str, float]], name: str, subword: bool = False) -> Table:
    """`attncli vectors neighbors`: rank, word, cosine."""
    how = " (subword vector)" if subword else ""
    table = Table(title=f"nearest to {word!r}{how} in {name}", box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right")
    table.add_column("word")
    table.add_column("cosine", justify="right")
    for rank, (w, c) in enumerate(pairs, 1):
        table.add_row(str(rank), w, f"{c:.3f}")
    return table


# ---------------------------------------------------------------- attncli explain


def _clip_label(s: str, width: int = 16) -> str:
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
    return vectors_table(labels, matrix, shown, f"{title} (first {shown} of {matrix.shape[1]} dims)", note)


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
             Text(f"Explaining {word!r} (token {e.index + 1} of {len(e.tokens)}) in: {e.text}", style="bold")]
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
            near.add_row(f"   nearest {label}:", ", ".join(f"{w} {c:.2f}" for w, c in pairs))
    if near.row_count:
        parts.append(near)
    return parts


# ---------------------------------------------------------------- senses

def _kwic(o, width: int = 50) -> Text:
    """An occurrence's text cut to `width` characters each side of the word, the word in bold."""
    a, b = max(0, o.start - width), min(len(o.text), o.end + width)
    text = Text(("…" if a > 0 else "") + o.text[a:o.start])
    text.append(o.text[o.start:o.end], style="bold")
    text.append(o.text[o.end:b] + ("…" if b < len(o.text) else ""))
    return text


def _where(o, several: bool) -> str:
    """Where an occurrence is: its line, after the file's name when there are several files
    (the JSON gives the path as given)."""
    from pathlib import Path

    return f"{Path(o.source).name}:{o.line}" if several else f"line {o.line}"


def senses_renderables(result) -> list:
    """What `attncli senses` shows: a caption, one table of senses, their examples, and with
    --like the ranked occurrences."""
    from .senses import sense_colour
    several = len(result.sources) > 1
    n = len(result.occurrences)
    g = result.grouping
    how = "chosen by silhouette" if g.silhouettes else "given"
    cap = (f"{n:,} occurrences of {'/'.join(result.forms)} in {len(result.sources)} file"
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
                      ", ".join(s.label), ", ".join(s.attends))
    parts.append(table)
    for s in result.senses:
        parts.append(Text(f"sense {s.id}: most central examples", style=f"bold {sense_colour(s.id - 1)}"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column()
        for i in s.examples:
            o = result.occurrences[i]
            grid.add_row(_where(o, several), _kwic(o, 40))
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
    from .senses import sense_colour
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
        table.add_row(str(rank), f"{c:.2f}", Text(str(s + 1), style=sense_colour(s)), _where(o, several), _kwic(o, 40))
    title = Text(f"Nearest in meaning to “{result.like.text}”", style="bold")
    return Group(title, table)


def pseudowords_table(result) -> Group:
    """Per pair of `eval pseudowords`: occurrences, balanced accuracy, majority share; and the means."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("pair", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("balanced accuracy", justify="right", no_wrap=True)
    table.add_column("majority", justify="right", no_wrap=True)
    for p in result.pairs:
        table.add_row(f"{p.a}:{p.b}", f"{p.n:,}", f"{p.balanced_accuracy:.3f}", f"{p.majority:.3f}")
    table.add_section()
    table.add_row(f"mean of {len(result.pairs)}", "", f"{result.mean_balanced_accuracy:.3f}", f"{result.mean_majority:.3f}", style="bold")
    how = "the grouping of `attncli senses`" if result.method == "senses" else "plain spherical 2-means"
    note = Text(f"2 groups by {how}; balanced accuracy = mean recall of the two words (0.5: chance, "
                "and what static vectors get); majority = share of the more frequent word", style="dim")
    return Group(Text("Pseudoword test: A and B merged into one word", style="bold"), table, note)
