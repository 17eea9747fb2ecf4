"""Standalone HTML pages: `embed --html` and `compare --html`. Builds a string; writes nothing.

A page is one self-contained file that works with no network at all: inline CSS, inline vanilla
JavaScript, no fonts, images or scripts from elsewhere, and a Content-Security-Policy that forbids
the browser to fetch anything. The numbers ride along as JSON in a
`<script type="application/json" id="attncli-data">` block (the same schema as `--json`), with
every `<`, `>` and `&` written as a \\u escape so that a token like `</script>` cannot end it.
Text from the user reaches the page only through html.escape (Python) or textContent (JS).

Light and dark themes follow `prefers-color-scheme`; `@media print` prints light, without controls.
No rich, no typer here.
"""

from __future__ import annotations

import os
from html import escape as _escape
from typing import NamedTuple

import numpy as np

from .export import dumps, embed_record

# ---------------------------------------------------------------- helpers


def _e(value) -> str:
    """Text for HTML content or a quoted attribute value."""
    return _escape(str(value), quote=True)


def script_json(obj) -> str:
    """JSON for a <script type="application/json"> block: `<`, `>`, `&` and the JS line
    separators as \\u escapes, so `</script>` or `<!--` inside a string cannot break out.
    JSON.parse reads the escapes back as the same characters."""
    text = dumps(obj).decode("utf-8")
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _lift(w: float) -> float:
    """Colour intensity of a weight: lifted like the terminal's heat scale (render.heat_style)."""
    return float(min(max(w, 0.0), 1.0)) ** 0.6


def _heat_td(w: float, text: str, title: str = "") -> str:
    lifted = _lift(w)
    cls = "cell hot" if lifted > 0.55 else "cell"
    tip = f' title="{_e(title)}"' if title else ""
    return f'<td class="{cls}" style="--w:{lifted:.3f}"{tip}>{_e(text)}</td>'


def heat_table(rows: list[str], cols: list[str], matrix, *, corner: str = "", attrs: str = "",
               fmt: str = "{:.2f}", tip: str = "{row} → {col}: {value}") -> str:
    """A heat-coloured matrix as an HTML table, the number in every cell."""
    m = np.asarray(matrix, dtype=np.float64)
    head = "".join(f'<th scope="col" class="colhead" data-k="{j}">{_e(c)}</th>' for j, c in enumerate(cols))
    body = []
    for i, (label, row) in enumerate(zip(rows, m)):
        cells = "".join(
            _heat_td(w, fmt.format(w), tip.format(row=label, col=c, value=fmt.format(w)))
            for c, w in zip(cols, row)
        )
        body.append(f'<tr data-q="{i}"><th scope="row" class="rowhead" data-q="{i}">{_e(label)}</th>{cells}</tr>')
    return (
        f'<table class="heat"{attrs}><thead><tr><th class="corner">{_e(corner)}</th>{head}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table>'
    )


_LABELS = {
    "mode": "mode",
    "weights": "weights (qkv)",
    "seed": "seed",
    "heads": "heads",
    "similarity": "similarity",
    "scale": "scaling",
    "temperature": "temperature",
    "exclude_self": "exclude self",
    "causal": "causal mask",
    "positions": "positions",
    "prior": "frequency prior",
    "prior_a": "prior a",
    "residual": "residual",
    "layers": "layers",
    "window": "window (tokens on each side)",
    "center": "centering (top-N mean)",
    "oov": "out-of-vocabulary words",
    "untrained": "untrained weights",
}


def _option_value(key: str, value) -> str:
    if key == "limit" and value is None:
        return "all (no --limit)"
    if key == "scale":
        return "divide scores by √d_k" if value else "none"
    if key == "center":
        return f"subtract the mean of the {int(value):,} most frequent vectors" if value else "off"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def options_table(config: dict, vectors: dict | None = None) -> str:
    """Every option of the run, one row each; options that do not apply are left out."""
    rows = []
    if vectors:
        desc = str(vectors.get("name", "?"))
        if "dim" in vectors and "vocab_size" in vectors:
            desc += f" ({vectors['dim']}d, {int(vectors['vocab_size']):,} words)"
        rows.append(("vectors", desc))
    for key, value in config.items():
        if key == "vectors" and vectors:
            continue
        if key in ("weights", "seed") and config.get("mode") == "simple":
            continue
        if key == "seed" and config.get("weights") != "random":
            continue
        if key == "prior_a" and config.get("prior", "none") == "none":
            continue
        if key == "center" and value and vectors and "vocab_size" in vectors:
            value = min(int(value), int(vectors["vocab_size"]))  # the words really averaged
        rows.append((_LABELS.get(key, key.replace("_", " ")), _option_value(key, value)))
    body = "".join(f"<tr><th scope=\"row\">{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="options">{body}</table>'


class View(NamedTuple):
    """One view (embed, compare, explain or senses): its markup, the numbers it carries, its
    script (a function body over `root`, the view's element) and its own CSS."""

    kind: str
    body: str
    data: dict
    script: str = ""
    css: str = ""


class _Ids:
    """` id="NAME"` attributes on a standalone page (one view: ids are unique, and the page's
    tests and readers use them); nothing inline, where several views share a page and the
    script finds its elements by class within its own root."""

    def __init__(self, standalone: bool):
        self.standalone = standalone

    def __call__(self, name: str) -> str:
        return f' id="{_e(name)}"' if self.standalone else ""


def _root(view: View, uid: str, standalone: bool) -> str:
    """The view's element: markup, its JSON block and its script, which finds this element
    (document.currentScript's ancestor, else by the unique id) and touches nothing outside."""
    data_id = ' id="attncli-data"' if standalone else ""
    js = ""
    if view.script:
        js = (f"<script>(function (root) {{{view.script}}})("
              f'(document.currentScript && document.currentScript.closest(".attncli")) || document.getElementById("{uid}"));</script>')
    return (f'<div class="attncli attncli-{view.kind}" id="{uid}">{view.body}'
            f'<script type="application/json" class="attncli-data"{data_id}>{script_json(view.data)}</script>{js}</div>')


def _inline(view: View) -> str:
    """A view to put inside another page (a notebook's output): its own scoped style, a unique
    id, nothing fetched. Several on one page do not meet: every rule is under the view's
    `.attncli` class, and each script works within its own element."""
    uid = "attncli-" + os.urandom(6).hex()
    return f"<style>{_SCOPED_CSS}{_scope(view.css)}</style>{_root(view, uid, standalone=False)}"


def _page(title: str, view: View) -> str:
    from . import __version__

    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Nothing may be fetched: not a font, an image, a script or a request.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        '<meta name="color-scheme" content="light dark">'
        f'<meta name="generator" content="attncli {_e(__version__)}">'
        f"<title>{_e(title)}</title><style>{_PAGE_CSS}{_SCOPED_CSS}{_scope(view.css)}</style></head>\n"
        f"<body><main>{_root(view, 'attncli-view', standalone=True)}"
        f'<footer>Made with attncli {_e(__version__)}. Every number on this page is in the JSON block '
        f'<code>#attncli-data</code> inside this file.</footer></main>\n'
        "</body></html>\n"
    )


def _scope(css: str, scope: str = ".attncli") -> str:
    """Every rule of `css` (our own: rules and @media blocks, no other nesting) applied only
    within `scope`: `.heat td` -> `.attncli .heat td`; `:root` and `body` -> `.attncli` itself;
    `*` -> the scope and everything in it."""
    out, i = [], 0
    while i < len(css):
        brace = css.find("{", i)
        if brace < 0:
            break
        head = css[i:brace].strip()
        if head.startswith("@"):  # @media (...) { rules }: scope the rules inside
            depth, j = 1, brace + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(css[j], 0)
                j += 1
            out.append(f"{head}{{{_scope(css[brace + 1:j - 1], scope)}}}")
        else:
            j = css.index("}", brace) + 1
            selectors = []
            for sel in head.split(","):
                sel = sel.strip()
                if sel in (":root", "body", "main"):
                    selectors.append(scope)
                elif sel == "*":
                    selectors += [scope, f"{scope} *"]
                else:
                    selectors.append(f"{scope} {sel}")
            out.append(f"{','.join(selectors)}{css[brace:j]}")
        i = j
    return "".join(out)


# ---------------------------------------------------------------- embed


# Above this many tokens the head view draws, until a token is selected, only each query's
# LINES_TOP_K heaviest lines: n x n lines of 50 tokens paint a solid block.
LINES_ALL_MAX = 40
LINES_TOP_K = 3


def embed_page(result) -> str:
    """The page for one embedded sentence: head view, attention matrix, options."""
    return _page(f"attncli · {result.text}", _embed_view(result, True))


def embed_view(result) -> str:
    """The same view inline, for a notebook: EmbedResult._repr_html_."""
    return _inline(_embed_view(result, False))


def _embed_view(result, standalone: bool) -> "View":
    i_ = _Ids(standalone)
    n_heads = int(result.heads.shape[0])
    layers = result.config.layers
    data = embed_record(result)  # what --json prints, and a few things for the page
    data.update(text=result.text, surfaces=result.surfaces, positions=result.positions,
                lines_all_max=LINES_ALL_MAX, lines_top_k=LINES_TOP_K,
                describe=result.config.describe(result.vectors["vocab_size"]))
    if "heads" not in data:
        data["heads"] = result.heads  # the head view always has them, even for one head

    # View 0 is the mean over heads (the only head when there is one); view h + 1 is head h.
    views = [f"Mean of {n_heads} heads" if n_heads > 1 else "Attention"]
    views += [f"Head {h + 1} of {n_heads}" for h in range(n_heads)] if n_heads > 1 else []
    matrices = [result.attention] + (list(result.heads) if n_heads > 1 else [])
    toks = result.surfaces

    selector = ""
    if n_heads > 1:
        opts = "".join(f'<option value="{i}">{_e(label)}</option>' for i, label in enumerate(views))
        selector = f'<label class="control">Head <select class="head-select"{i_("head-select")}>{opts}</select></label>'
    tables = "".join(
        f'<div class="view" data-view="{i}"{"" if i == 0 else " hidden"}>'
        + (f"<h3>{_e(label)}</h3>" if n_heads > 1 else "")
        + '<div class="scroll">' + heat_table(toks, toks, m, corner="query \\ key", attrs=f' data-view="{i}"')
        + "</div></div>"
        for i, (label, m) in enumerate(zip(views, matrices))
    )
    notes = []
    if layers > 1:
        notes.append(f"The weights are those of the last of {layers} layers.")
    if result.oov:
        how = {"skip": "skipped", "zero": "given zero vectors"}.get(result.config.oov, result.config.oov)
        words = ", ".join(f"“{o['token']}”" for o in result.oov)
        notes.append(f"Not in the vocabulary of {result.vectors['name']}, {how}: {words}.")
    if result.untrained:
        notes.append("The projections are random and untrained: the weights show the mechanism, not meaning.")
    notes_html = "".join(f'<p class="note">{_e(t)}</p>' for t in notes)
    lines_note = ""
    if len(toks) > LINES_ALL_MAX:
        lines_note = (f'<p class="note lines-note"{i_("lines-note")}>{len(toks)} tokens: to keep the lines readable, only each query\'s '
                      f"{LINES_TOP_K} strongest keys are drawn (all of them up to {LINES_ALL_MAX} tokens). "
                      "Hover over or click a token to draw every line of that token.</p>")

    body = (
        f'<header><h1>Attention</h1><p class="sentence"{i_("sentence")}>{_e(result.text)}</p>'
        f'<p class="caption">{_e(result.config.describe(result.vectors["vocab_size"]))}</p>{notes_html}</header>'
        f'<div class="panes"><section class="head-section"{i_("head-section")}><h2>Head view</h2>'
        f'<div class="controls">{selector}'
        f'<p class="hint focus-note"{i_("focus-note")}>Hover over a token to see only its lines; click to keep it.</p></div>'
        f"{lines_note}"
        f'<svg class="headview"{i_("headview")} role="img" aria-label="Lines from each query token (left) to the key tokens (right), '
        'thicker and darker for more weight"></svg>'
        "<noscript><p class=\"note\">The head view needs JavaScript; the matrix below holds the same numbers.</p></noscript>"
        "</section>"
        f'<section{i_("matrix-section")}><h2>Attention matrix</h2>'
        '<p class="hint">Rows are queries, columns keys: row i is how token i spreads a weight of 1 over the tokens.</p>'
        f"{tables}</section></div>"
        f'<section{i_("options-section")}><h2>Options</h2>{options_table(data["config"], result.vectors)}</section>'
    )
    return View("embed", body, data, _EMBED_JS)


# ---------------------------------------------------------------- compare


def _occurrence_labels(data: dict) -> list[str]:
    occ = data.get("occurrences") or []
    labels = []
    for k, o in enumerate(occ):
        s = o.get("sentence", k)
        labels.append(f"S{s + 1}" if isinstance(s, int) else f"#{k + 1}")
    if len(set(labels)) < len(labels):  # several occurrences in one sentence: add the position
        labels = [f"{lab}·{o.get('index', '?')}" for lab, o in zip(labels, occ)]
    return labels


def _sentence_of(data: dict, occ: dict) -> str:
    s = occ.get("sentence")
    sentences = data.get("sentences") or []
    if isinstance(s, int) and 0 <= s < len(sentences):
        return str(sentences[s])
    return str(s) if isinstance(s, str) else ""


def _bars(word: str, attention: dict, top: float = 1.0) -> str:
    """One row per token: a bar as long as its weight (the longest bar on the page is `top`)."""
    rows = []
    for tok, w in attention.items():
        w = float(w)
        cls = ' class="self"' if str(tok).lower() == word.lower() else ""
        rows.append(
            f"<tr{cls}><th scope=\"row\">{_e(tok)}</th>"
            f'<td class="barcell"><span class="bar" style="width:{100 * min(max(w / top, 0.0), 1.0):.1f}%"></span></td>'
            f'<td class="num">{w:.2f}</td></tr>'
        )
    return f'<table class="bars">{"".join(rows)}</table>'


def _neighbors(pairs) -> str:
    items = "".join(f'<li><span class="nb">{_e(w)}</span> <span class="num">{float(c):.2f}</span></li>' for w, c in pairs)
    return f'<ol class="neighbors">{items}</ol>' if items else '<p class="hint">none</p>'


def compare_page(data: dict) -> str:
    """The page for `compare`: compare_record(result) -> a standalone page (_compare_view)."""
    return _page(f"attncli compare · {data.get('word', '')}", _compare_view(data, True))


def compare_view(result) -> str:
    """The compare view inline, for a notebook: CompareResult._repr_html_."""
    from .export import compare_record

    return _inline(_compare_view(compare_record(result), False))


def _compare_view(data: dict, standalone: bool) -> "View":
    """The view for `compare`: the word's attention in each sentence side by side, the contextual
    (and static) cosine matrices between its occurrences, and each occurrence's nearest words.

    `data` is the `compare --json` object: {"word", "sentences", "static_cosine", "contextual_cosine",
    "occurrences": [{"sentence", "index", "attention": {token: weight}, "neighbors": [[word, cos]]}],
    "vectors", "config"}."""
    i_ = _Ids(standalone)
    word = str(data.get("word", ""))
    occ = data.get("occurrences") or []
    labels = _occurrence_labels(data)
    # One scale for every card, so bars compare across sentences.
    top = max((float(w) for o in occ for w in (o.get("attention") or {}).values()), default=1.0)
    top = top if top > 0 else 1.0
    cards = []
    for label, o in zip(labels, occ):
        cards.append(
            f'<article class="card"><h3><span class="tag">{_e(label)}</span> {_e(_sentence_of(data, o))}</h3>'
            f"<h4>Attention of “{_e(word)}”</h4>{_bars(word, o.get('attention') or {}, top)}"
            f"<h4>Nearest words</h4>{_neighbors(o.get('neighbors') or [])}</article>"
        )
    mats = []
    for key, title, hint in (
        ("contextual_cosine", "Contextual", "after attention: different contexts pull the occurrences apart"),
        ("static_cosine", "Static", "before attention: one vector per word, the same in every sentence"),
    ):
        m = data.get(key)
        if m is not None and len(m) == len(labels):
            mats.append(
                f'<div class="matrix"><h3>{_e(title)}</h3><p class="hint">{_e(hint)}</p>'
                + '<div class="scroll">'
                + heat_table(labels, labels, m, attrs=f' data-matrix="{key}"{i_(key)}', tip="{row} · {col}: cosine {value}")
                + "</div></div>"
            )
    legend = "".join(
        f'<li><span class="tag">{_e(label)}</span> {_e(_sentence_of(data, o))}</li>' for label, o in zip(labels, occ)
    )
    vectors = data.get("vectors") or {}
    body = (
        f'<header><h1>Compare “{_e(word)}”</h1><p class="caption">{len(occ)} occurrence'
        f'{"s" if len(occ) != 1 else ""} in {len(data.get("sentences") or [])} sentences</p></header>'
        f'<section{i_("attention-section")}><h2>Attention of “{_e(word)}” in each sentence</h2>'
        f'<div class="cards">{"".join(cards)}</div></section>'
        f'<section{i_("cosine-section")}><h2>Cosine between the occurrences</h2>'
        f'<ul class="legend">{legend}</ul><div class="matrices">{"".join(mats)}</div></section>'
        f'<section{i_("options-section")}><h2>Options</h2>{options_table(data.get("config") or {}, vectors)}</section>'
    )
    return View("compare", body, data)


# ---------------------------------------------------------------- style and script

# The colours of a view, as variables on its root. A view follows the page's theme: the OS
# setting (prefers-color-scheme) on a page of its own; in a notebook, JupyterLab's or VS
# Code's theme when the page says which (body[data-jp-theme-light], body.vscode-dark), since
# a notebook's theme need not be the system's. The view paints its own background, so its
# text stays legible on any page.
_LIGHT = ("--bg:#fff;--fg:#1f2328;--muted:#59636e;--rule:#d0d7de;--panel:#f6f8fa;--edge:#1864ab;"
          "--heat-lo:#f1f3f9;--heat-hi:#f08c00;--sel:#e8590c;--bar:#f08c00;color-scheme:light")
_DARK = ("--bg:#0f1117;--fg:#e6e8eb;--muted:#9ba5b0;--rule:#30363d;--panel:#161b22;--edge:#74c0fc;"
         "--heat-lo:#1c2133;--heat-hi:#fab005;--sel:#ffa94d;--bar:#fab005;color-scheme:dark")
_PRINT = ("--bg:#fff;--fg:#000;--muted:#444;--rule:#bbb;--panel:#fff;--edge:#1864ab;--heat-lo:#f4f5f8;"
          "--heat-hi:#f08c00;--sel:#c2410c;--bar:#f08c00;color-scheme:light")
_THEMES = (
    f".attncli{{{_LIGHT}}}@media (prefers-color-scheme:dark){{.attncli{{{_DARK}}}}}"
    f"body[data-jp-theme-light=true] .attncli,body.vscode-light .attncli{{{_LIGHT}}}"
    f"body[data-jp-theme-light=false] .attncli,body.vscode-dark .attncli,body.vscode-high-contrast .attncli{{{_DARK}}}"
    f"@media print{{.attncli.attncli{{{_PRINT}}}}}"
)

# The view's own rules, scoped to its root by _scope (":root" is the root itself). The first
# ones undo what a notebook's stylesheet gives every table and paragraph of an output
# (JupyterLab: fixed table layout, striped rows, words broken anywhere): scoped, they are as
# specific as those rules and come later.
_VIEW_CSS = """
:root{background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,sans-serif;text-align:left;padding:12px 16px 16px;border-radius:6px}
*{box-sizing:border-box}
h1{font-size:1.5rem;margin:0 0 .3rem;color:inherit}h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--rule);
padding-bottom:.25rem;color:inherit}h3{font-size:1rem;margin:.8rem 0 .4rem;color:inherit}h4{font-size:.85rem;margin:.8rem 0 .3rem;color:var(--muted)}
p{color:inherit}
.sentence{font-size:1.25rem;margin:.2rem 0;white-space:pre-wrap;overflow-wrap:anywhere}
.caption,.hint{color:var(--muted);margin:.2rem 0}.hint{font-size:.9rem}
.note{margin:.3rem 0;padding:.3rem .6rem;border-left:3px solid var(--sel);background:var(--panel)}
.controls{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;margin:.4rem 0}
select{font:inherit;padding:.15rem .3rem;background:var(--panel);color:var(--fg);border:1px solid var(--rule);border-radius:4px}
.headview{display:block;max-width:100%;height:auto;font-size:14px;user-select:none}
.headview .tok{fill:var(--fg);cursor:pointer}.headview .tok:focus{outline:none}
.headview .tok.sel{fill:var(--sel);text-decoration:underline}.headview .tok:focus-visible{text-decoration:underline}
.headview .colname{fill:var(--muted);font-size:12px}
.headview .edge{stroke:var(--edge);stroke-linecap:round}.headview .edge.off{display:none}
.headview .wlabel{fill:var(--sel);font-size:12px;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;table-layout:auto;margin:0;color:inherit;font-size:inherit;border:none;width:auto}
thead{border:none}tr,tbody tr:nth-child(odd),tbody tr:nth-child(even),tbody tr:hover{background:transparent}
th,td{border:none;max-width:none;line-height:inherit;vertical-align:middle;padding:0;white-space:normal}
p{word-break:normal;white-space:normal;text-align:left;margin:0 0 .5em}
.heat{font-variant-numeric:tabular-nums;font-size:.85rem;margin:.2rem 0 .6rem}
.heat th{font-weight:600;padding:.15rem .4rem;white-space:nowrap}.heat .colhead{text-align:center}
.heat .rowhead{text-align:right;cursor:default}.heat .corner{color:var(--muted);font-weight:400;font-size:.75rem}
.heat td.cell{min-width:3.1em;padding:.2rem .35rem;text-align:right;border:1px solid var(--bg);
background:color-mix(in srgb,var(--heat-hi) calc(var(--w)*100%),var(--heat-lo))}
.heat td.cell.hot{color:#111}
.heat tr.hl th.rowhead,.heat th.colhead.hl{color:var(--sel)}
.heat tr.hl>td.cell{border-top-color:var(--sel);border-bottom-color:var(--sel);box-shadow:inset 0 1px var(--sel),inset 0 -1px var(--sel)}
.heat tr.hl>th.rowhead+td.cell{border-left-color:var(--sel)}.heat tr.hl>td.cell:last-child{border-right-color:var(--sel)}
.heat td.cell.hl{border-left-color:var(--sel);border-right-color:var(--sel);box-shadow:inset 1px 0 var(--sel),inset -1px 0 var(--sel)}
.heat tbody tr:first-child td.cell.hl{border-top-color:var(--sel)}.heat tbody tr:last-child td.cell.hl{border-bottom-color:var(--sel)}
.options th{text-align:left;font-weight:500;color:var(--muted);padding:.1rem 1rem .1rem 0}.options td{padding:.1rem 0;text-align:left}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:14px}
.card{border:1px solid var(--rule);border-radius:8px;padding:.6rem .8rem;background:var(--panel);break-inside:avoid}
.card h3{font-weight:500;overflow-wrap:anywhere}
.tag{display:inline-block;font-size:.75rem;font-weight:700;padding:0 .35rem;border-radius:4px;background:var(--rule)}
.bars{width:100%;font-size:.9rem}.bars th{text-align:right;font-weight:400;padding:.05rem .5rem .05rem 0;white-space:nowrap;width:1%}
.bars tr.self th{font-weight:700;color:var(--sel)}.barcell{width:100%}
.bar{display:block;height:.8em;min-width:1px;background:var(--bar);border-radius:2px}
.num{font-variant-numeric:tabular-nums;text-align:right;padding-left:.5rem;color:var(--muted)}
.neighbors{margin:0;padding-left:1.6rem;columns:2}.neighbors .num{padding-left:.2rem}
.legend{list-style:none;padding:0;margin:.4rem 0}.legend li{margin:.15rem 0}
.matrices{display:flex;flex-wrap:wrap;gap:2rem}
.panes{display:flex;flex-wrap:wrap;gap:0 3rem;align-items:flex-start}.panes>section{flex:0 1 auto;min-width:0;max-width:100%}
.scroll{overflow-x:auto;max-width:100%}.panes .hint{max-width:26em}
.head-section{min-width:min(22rem,100%)}
.focus-note{width:0;min-width:100%;height:2.9em;overflow:hidden}
code{font-size:.85em}
@media print{*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.controls select,.controls label,.focus-note{display:none}
section,.card,table{break-inside:avoid}.scroll{overflow:visible}}
"""

# The page around a standalone view (--html FILE).
_PAGE_CSS = (
    "html{color-scheme:light dark}body{margin:0;background:#fff}"
    "@media (prefers-color-scheme:dark){body{background:#0f1117}}@media print{body{background:#fff}}"
    "main{max-width:1640px;margin:0 auto;padding:12px 4px 40px}main>.attncli{border-radius:0}"
    "footer{margin:2.5rem 16px 0;font:.8rem/1.4 system-ui,sans-serif;color:#59636e}"
    "@media (prefers-color-scheme:dark){footer{color:#9ba5b0}}@media print{main{max-width:none;padding:0}footer{display:none}}"
)
_SCOPED_CSS = _THEMES + _scope(_VIEW_CSS)

# The head view: tokens in two columns, a line from each query (left) to each key (right) it
# attends to, thicker and more opaque with more weight. Hover previews a token, click keeps it.
_EMBED_JS = r"""
"use strict";
(function () {
  var data = JSON.parse(root.querySelector("script.attncli-data").textContent);
  var svg = root.querySelector(".headview");
  var NS = svg.namespaceURI;  // the SVG namespace, without writing a URL into the page
  var toks = data.surfaces, n = toks.length;
  var views = [data.attention].concat(data.heads.length > 1 ? data.heads : []);
  var select = root.querySelector(".head-select");
  var note = root.querySelector(".focus-note");
  var hint = note.textContent;
  var view = 0, locked = null, preview = null, lines = [];
  var ROW = 26, TOP = 34, GAP = 200, PAD = 10, LABEL = 46;
  var TOPK = n > data.lines_all_max ? data.lines_top_k : n;  // lines drawn per query with nothing selected

  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(w) { return w.toFixed(2); }
  function y(i) { return TOP + i * ROW; }

  var edges = el("g", {"class": "edges"}), qs = [], ks = [], ql = [], kl = [];
  svg.appendChild(edges);
  for (var i = 0; i < n; i++) {
    qs.push(el("text", {"class": "tok q", "data-i": i, "tabindex": 0, "role": "button", "text-anchor": "end",
                        "dominant-baseline": "middle", "aria-label": "query " + toks[i]}, toks[i]));
    ks.push(el("text", {"class": "tok k", "data-i": i, "tabindex": 0, "role": "button",
                        "dominant-baseline": "middle", "aria-label": "key " + toks[i]}, toks[i]));
    ql.push(el("text", {"class": "wlabel q", "data-i": i, "text-anchor": "end", "dominant-baseline": "middle"}));
    kl.push(el("text", {"class": "wlabel k", "data-i": i, "dominant-baseline": "middle"}));
    [qs[i], ks[i], ql[i], kl[i]].forEach(function (e) { svg.appendChild(e); });
  }
  var widest = 0;
  qs.forEach(function (t) { widest = Math.max(widest, t.getComputedTextLength ? t.getComputedTextLength() : 0); });
  if (!widest) widest = 8 * Math.max.apply(null, toks.map(function (t) { return t.length; }));
  var XQ = LABEL + widest, XK = XQ + GAP, W = XK + widest + LABEL + 8;
  for (var j = 0; j < n; j++) {
    qs[j].setAttribute("x", XQ); qs[j].setAttribute("y", y(j));
    ks[j].setAttribute("x", XK); ks[j].setAttribute("y", y(j));
    ql[j].setAttribute("x", LABEL - 8); ql[j].setAttribute("y", y(j));
    kl[j].setAttribute("x", XK + widest + 8); kl[j].setAttribute("y", y(j));
  }
  svg.appendChild(el("text", {"class": "colname", x: XQ, y: 12, "text-anchor": "end"}, "query"));
  svg.appendChild(el("text", {"class": "colname", x: XK, y: 12}, "key"));
  svg.setAttribute("viewBox", "0 0 " + W + " " + (TOP + n * ROW));
  svg.setAttribute("width", W);
  svg.setAttribute("height", TOP + n * ROW);

  function draw() {
    while (edges.firstChild) edges.removeChild(edges.firstChild);
    lines = [];
    var m = views[view];
    for (var q = 0; q < n; q++) {
      var rank = m[q].map(function (w, k) { return k; }).sort(function (a, b) { return m[q][b] - m[q][a]; });
      var strong = {};
      rank.slice(0, TOPK).forEach(function (k) { strong[k] = true; });
      for (var k = 0; k < n; k++) {
      var w = m[q][k];
      if (!(w > 0)) continue;  // masked: no line
      var line = el("line", {"class": "edge", x1: XQ + PAD, y1: y(q), x2: XK - PAD, y2: y(k),
                             "stroke-width": (0.6 + 7 * w).toFixed(2), "stroke-opacity": (0.08 + 0.92 * Math.pow(Math.min(w, 1), 0.6)).toFixed(3),
                             "data-q": q, "data-k": k, "data-w": w});
      line.appendChild(el("title", {}, toks[q] + " \u2192 " + toks[k] + ": " + fmt(w)));
      edges.appendChild(line);
      lines.push({el: line, q: q, k: k, strong: !!strong[k]});
      }
    }
    apply();
  }

  function apply() {
    var f = preview || locked, m = views[view];
    lines.forEach(function (l) {
      l.el.classList.toggle("off", f ? (f.side === "q" ? l.q !== f.i : l.k !== f.i) : !l.strong);
    });
    for (var i = 0; i < n; i++) {
      qs[i].classList.toggle("sel", !!f && f.side === "q" && f.i === i);
      ks[i].classList.toggle("sel", !!f && f.side === "k" && f.i === i);
      kl[i].textContent = f && f.side === "q" ? fmt(m[f.i][i]) : "";
      ql[i].textContent = f && f.side === "k" ? fmt(m[i][f.i]) : "";
    }
    root.querySelectorAll(".heat tr.hl, .heat .hl").forEach(function (e) { e.classList.remove("hl"); });
    if (f && f.side === "q") {
      root.querySelectorAll('.heat tbody tr[data-q="' + f.i + '"]').forEach(function (e) { e.classList.add("hl"); });
    } else if (f) {
      root.querySelectorAll(".heat tbody tr").forEach(function (tr) {
        var cell = tr.querySelectorAll("td.cell")[f.i];
        if (cell) cell.classList.add("hl");
      });
      root.querySelectorAll('.heat th.colhead[data-k="' + f.i + '"]').forEach(function (e) { e.classList.add("hl"); });
    }
    if (!f) note.textContent = hint;
    else if (f.side === "q") note.textContent = "Query \u201c" + toks[f.i] + "\u201d: its weights over the keys" + (locked ? " (click again to release)" : "");
    else note.textContent = "Key \u201c" + toks[f.i] + "\u201d: the weight each query gives it" + (locked ? " (click again to release)" : "");
  }

  function same(a, b) { return !!a && !!b && a.side === b.side && a.i === b.i; }
  function bind(list, side) {
    list.forEach(function (t, i) {
      var f = {side: side, i: i};
      t.addEventListener("mouseenter", function () { preview = f; apply(); });
      t.addEventListener("mouseleave", function () { preview = null; apply(); });
      function toggle() { locked = same(locked, f) ? null : f; preview = null; apply(); }
      t.addEventListener("click", toggle);
      t.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); }
      });
    });
  }
  bind(qs, "q"); bind(ks, "k");
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { locked = preview = null; apply(); }
  });
  root.querySelectorAll(".heat th.rowhead").forEach(function (th) {
    th.style.cursor = "pointer";
    th.addEventListener("click", function () {
      var f = {side: "q", i: +th.getAttribute("data-q")};
      locked = same(locked, f) ? null : f; apply();
    });
  });
  if (select) select.addEventListener("change", function () {
    view = +select.value;
    root.querySelectorAll("div.view").forEach(function (d) { d.hidden = +d.getAttribute("data-view") !== view; });
    draw();
  });
  draw();
})();
"""


# ---------------------------------------------------------------- explain


def _scored(a: np.ndarray, cosine: bool) -> np.ndarray:
    """The vectors whose dot product is the score: unit length under cosine similarity."""
    if not cosine:
        return a
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    return a / np.where(norm == 0, 1, norm)


def explain_page(e) -> str:
    """The page for `attncli explain` (_explain_view)."""
    return _page(f"attncli explain · {e.surfaces[e.index]} · {e.text}", _explain_view(e, True))


def explain_view(e) -> str:
    """The neuron view inline, for a notebook: Explanation._repr_html_."""
    return _inline(_explain_view(e, False))


def _explain_view(e, standalone: bool) -> "View":
    """The view for `attncli explain`: the worked example as a neuron view. For the query token,
    one row per key token j: the query q and the key k_j as small bars per dimension, their
    elementwise product (whose sum is the score), the score, the logit and the weight. Clicking
    a token makes it the query; the page carries every token's numbers for every layer and head.

    The JSON block holds what `explain --json` prints, plus "text", "surfaces", "describe" and
    "view": {"cosine", "residual", "layers": [[{"q", "k", "similarity", "logits", "weights"}
    per head] per layer]}, q and k (n x d_k) as scored (unit length under cosine)."""
    from .export import explain_record, masked

    i_ = _Ids(standalone)
    cosine = e.config.similarity == "cosine"
    data = explain_record(e)
    data.update(text=e.text, surfaces=e.surfaces, describe=e.config.describe())
    data["view"] = {
        "cosine": cosine,
        "residual": e.config.residual,
        "qkv": e.config.mode == "qkv" and e.config.weights != "identity",
        "prior": e.prior,
        "layers": [[{"q": _scored(h.q, cosine), "k": _scored(h.k, cosine), "similarity": h.similarity,
                     "logits": masked(h.logits), "weights": h.weights} for h in layer.heads] for layer in e.layers],
    }
    H, L = e.heads, len(e.layers)
    selects = ""
    if L > 1:
        opts = "".join(f'<option value="{k}"{" selected" if k == L - 1 else ""}>Layer {k + 1} of {L}</option>' for k in range(L))
        selects += f'<label class="control">Layer <select class="layer-select"{i_("layer-select")}>{opts}</select></label>'
    if H > 1:
        opts = "".join(f'<option value="{h}">Head {h + 1} of {H}</option>' for h in range(H))
        selects += f'<label class="control">Head <select class="head-select"{i_("head-select")}>{opts}</select></label>'
    chips = "".join(
        f'<button type="button" class="chip{" sel" if j == e.index else ""}" data-i="{j}">{_e(t)}</button>'
        for j, t in enumerate(e.surfaces)
    )
    sim = "cos(q, k_j)" if cosine else "q · k_j"
    notes = []
    if e.untrained:
        notes.append("The projections are random and untrained: the numbers show the mechanism, not meaning.")
    if cosine:
        notes.append("Cosine similarity: q and k are drawn at unit length, so their products sum to the cosine.")
    change = ""
    if e.cosine is not None:
        change = f"cosine between “{e.surfaces[e.index]}” before and after attention: {e.cosine:.2f}"
    near = "".join(
        f"<li><b>{_e(label)}</b> {_e(', '.join(f'{w} {c:.2f}' for w, c in pairs))}</li>"
        for label, pairs in (("nearest before:", e.before), ("nearest after:", e.after)) if pairs
    )
    body = (
        f'<header><h1>Explain “{_e(e.surfaces[e.index])}”</h1><p class="sentence"{i_("sentence")}>{_e(e.text)}</p>'
        f'<p class="caption">{_e(e.config.describe())}</p>'
        + "".join(f'<p class="note">{_e(t)}</p>' for t in notes) + "</header>"
        f'<section{i_("neuron-section")}><h2>Neuron view</h2>'
        f'<div class="controls">{selects}<span class="hint">Click a token to make it the query.</span></div>'
        f'<div class="chips"{i_("chips")} role="group" aria-label="query token">{chips}</div>'
        f'<p class="formula"{i_("formula")}></p>'
        f'<div class="scroll"><table class="neuron"{i_("neuron")}><thead><tr>'
        '<th scope="col">key j</th><th scope="col">query q</th><th scope="col">key k_j</th>'
        f'<th scope="col">q × k_j</th><th scope="col">{_e(sim)}</th>'
        + ('<th scope="col">prior_j</th>' if e.prior is not None else "") + '<th scope="col">logit</th>'
        '<th scope="col">weight α_j</th></tr></thead><tbody></tbody></table></div>'
        '<p class="hint">Bars: one per dimension, orange for a positive value and blue for a negative one, '
        'as tall as its size (one scale per column). The score is the sum of the products; the logit '
        'divides it by √d_k and T when they are on and adds the prior; the weights are the softmax of the logits.</p>'
        "<noscript><p class=\"note\">The neuron view needs JavaScript; every number is in the JSON block.</p></noscript>"
        "</section>"
        f'<section{i_("change-section")}><h2>What changed</h2><p>{_e(change)}</p><ul class="near">{near}</ul></section>'
        f'<section{i_("options-section")}><h2>Options</h2>{options_table(data["config"], e.vectors)}</section>'
    )
    return View("explain", body, data, _EXPLAIN_JS, _EXPLAIN_CSS)


_EXPLAIN_CSS = (
    ".chips{display:flex;flex-wrap:wrap;gap:.35rem;margin:.5rem 0}"
    ".chip{font:inherit;padding:.1rem .55rem;border:1px solid var(--rule);border-radius:999px;background:var(--panel);color:var(--fg);cursor:pointer}"
    ".chip.sel{border-color:var(--sel);color:var(--sel);font-weight:700}"
    ".formula{font-family:ui-monospace,monospace;font-size:.9rem;overflow-wrap:anywhere}"
    ".neuron{font-variant-numeric:tabular-nums;font-size:.85rem}.neuron th,.neuron td{padding:.15rem .45rem;text-align:right;white-space:nowrap}"
    ".neuron tbody th{cursor:pointer}.neuron tr.self th{color:var(--sel)}.neuron td.masked{color:var(--muted)}"
    ".vec{display:inline-flex;align-items:center;height:30px;gap:1px;vertical-align:middle}"
    ".vec span{display:inline-block;min-height:1px}.vec .pos{background:#f08c00}.vec .neg{background:#1c7ed6}"
    ".wbar{display:inline-block;height:.7em;background:var(--bar);vertical-align:middle;margin-right:.4em;border-radius:2px}"
    ".near{padding-left:1.2rem}@media print{.chips{display:none}}"
)

# The neuron view: rows built from the JSON block for the query token; a click on a token
# (a chip above the table, or a row's key) makes it the query.
_EXPLAIN_JS = r"""
"use strict";
(function () {
  var data = JSON.parse(root.querySelector("script.attncli-data").textContent);
  var view = data.view, toks = data.surfaces, n = toks.length;
  var layerSel = root.querySelector(".layer-select"), headSel = root.querySelector(".head-select");
  var layer = view.layers.length - 1, head = 0, query = data.index;
  var tbody = root.querySelector(".neuron tbody"), formula = root.querySelector(".formula");

  function absMax(rows) {
    var m = 0;
    rows.forEach(function (r) { r.forEach(function (v) { m = Math.max(m, Math.abs(v)); }); });
    return m || 1;
  }
  function vec(values, top, name) {
    var box = document.createElement("span"), w = Math.max(1, Math.floor(110 / values.length));
    box.className = "vec";
    box.setAttribute("title", name);
    values.forEach(function (v, d) {
      var s = document.createElement("span");
      s.className = v >= 0 ? "pos" : "neg";
      s.style.width = w + "px";
      s.style.height = (1 + 28 * Math.abs(v) / top).toFixed(1) + "px";
      s.setAttribute("title", name + " d" + d + ": " + v.toFixed(3));
      box.appendChild(s);
    });
    return box;
  }
  function cell(tr, content, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    if (typeof content === "string") td.textContent = content; else td.appendChild(content);
    tr.appendChild(td);
    return td;
  }
  function mark(tok, k) { return tok + (k <= 3 ? "'".repeat(k) : "(" + k + ")"); }  // after k layers, as the terminal
  function name(j) { return (view.qkv ? "v_" : "") + mark(toks[j], layer); }

  function draw() {
    var h = view.layers[layer][head], q = h.q[query];
    var prods = h.k.map(function (k) { return k.map(function (x, d) { return x * q[d]; }); });
    var topQK = absMax([q].concat(h.k)), topP = absMax(prods);
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    for (var j = 0; j < n; j++) {
      var tr = document.createElement("tr"), th = document.createElement("th");
      tr.setAttribute("data-k", j);
      if (j === query) tr.className = "self";
      th.scope = "row";
      th.textContent = toks[j];
      th.setAttribute("data-i", j);
      th.addEventListener("click", pick);
      tr.appendChild(th);
      cell(tr, vec(q, topQK, "q " + toks[query]), "q");
      cell(tr, vec(h.k[j], topQK, "k " + toks[j]), "k");
      cell(tr, vec(prods[j], topP, "q \u00d7 k " + toks[j]), "prod");
      cell(tr, h.similarity[query][j].toFixed(3), "sim");
      if (view.prior) cell(tr, view.prior[j].toFixed(3), "prior");
      var lg = h.logits[query][j];
      cell(tr, lg === null ? "masked" : lg.toFixed(3), lg === null ? "logit masked" : "logit");
      var w = h.weights[query][j], wrap = document.createElement("span"), bar = document.createElement("span");
      bar.className = "wbar";
      bar.style.width = (60 * w).toFixed(1) + "px";
      wrap.appendChild(bar);
      wrap.appendChild(document.createTextNode(w.toFixed(2)));
      cell(tr, wrap, "weight").setAttribute("data-w", w);
      tbody.appendChild(tr);
    }
    var terms = [];
    for (var k = 0; k < n; k++) terms.push(h.weights[query][k].toFixed(2) + " \u00b7 " + name(k));
    var lhs = view.layers[layer].length > 1 ? "head " + (head + 1) + " of " + mark(toks[query], layer + 1) : mark(toks[query], layer + 1);
    var sum = terms.join(" + "), r = view.residual;
    formula.textContent = lhs + " = " + (r && view.layers[layer].length === 1
      ? r + " \u00b7 " + mark(toks[query], layer) + " + " + (+(1 - r).toFixed(6)) + " \u00b7 (" + sum + ")" : sum);
    root.querySelectorAll(".chips .chip").forEach(function (c) {
      c.classList.toggle("sel", +c.getAttribute("data-i") === query);
      c.setAttribute("aria-pressed", +c.getAttribute("data-i") === query ? "true" : "false");
    });
  }
  function pick(ev) { query = +ev.currentTarget.getAttribute("data-i"); draw(); }
  root.querySelectorAll(".chips .chip").forEach(function (c) { c.addEventListener("click", pick); });
  if (layerSel) layerSel.addEventListener("change", function () { layer = +layerSel.value; draw(); });
  if (headSel) headSel.addEventListener("change", function () { head = +headSel.value; draw(); });
  draw();
})();
"""


# ---------------------------------------------------------------- senses

_MAP_W, _MAP_H, _MAP_PAD = 560, 420, 14


def _marked(text: str, start: int, end: int) -> str:
    """An occurrence's text, escaped, the word inside <mark>."""
    return f"{_e(text[:start])}<mark>{_e(text[start:end])}</mark>{_e(text[end:])}"


def senses_page(data: dict) -> str:
    """The page for `senses --html` (_senses_view): `data` is senses.page_record(result)."""
    return _page(f"attncli senses · {data.get('word', '')}", _senses_view(data, True))


def senses_view(data: dict) -> str:
    """The senses view inline, for a notebook: SensesResult._repr_html_."""
    return _inline(_senses_view(data, False))


def _senses_view(data: dict, standalone: bool) -> "View":
    """The view for `senses --html`: a 2-D map of the occurrences (PCA of the vectors the
    grouping sees) coloured by sense, hovering or focusing a point shows its text; beside it
    each sense's size, label, attended words and central examples.

    `data` is `senses.page_record`: the `senses --json` object plus "points": [{"x", "y",
    "sense", "line", "text", "start", "end"[, "file"]}] and "start"/"end" in each example."""
    from .palette import sense_colour

    i_ = _Ids(standalone)
    word = str(data.get("word", ""))
    points = data.get("points") or []
    xs = [float(p["x"]) for p in points] or [0.0]
    ys = [float(p["y"]) for p in points] or [0.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (_MAP_W - 2 * _MAP_PAD) / ((x1 - x0) or 1.0)
    sy = (_MAP_H - 2 * _MAP_PAD) / ((y1 - y0) or 1.0)
    dots = []
    for i, p in enumerate(points):
        cx = _MAP_PAD + (float(p["x"]) - x0) * sx
        cy = _MAP_H - _MAP_PAD - (float(p["y"]) - y0) * sy
        where = f"{p['file']}:{p['line']}" if "file" in p else f"line {p['line']}"
        s = int(p["sense"])
        dots.append(
            f'<circle class="pt" data-i="{i}" data-sense="{s}" cx="{cx:.1f}" cy="{cy:.1f}" r="4" '
            f'fill="{sense_colour(s - 1)}" tabindex="0"><title>{_e(where)} · sense {s}: {_e(p["text"])}</title></circle>'
        )
    svg = (f'<svg class="map"{i_("map")} viewBox="0 0 {_MAP_W} {_MAP_H}" width="{_MAP_W}" height="{_MAP_H}" role="img" '
           f'aria-label="occurrences of {_e(word)}, coloured by sense">'
           f'<rect class="frame" x="0.5" y="0.5" width="{_MAP_W - 1}" height="{_MAP_H - 1}"/>{"".join(dots)}</svg>')
    cards = []
    for s in data.get("senses") or []:
        sid = int(s["id"])
        examples = "".join(
            f'<li><span class="where">{_e(str(ex.get("file", "")) + ":" if "file" in ex else "line ")}{_e(ex["line"])}</span> '
            f'{_marked(str(ex["text"]), int(ex.get("start", 0)), int(ex.get("end", 0)))}</li>'
            for ex in s.get("examples") or []
        )
        cards.append(
            f'<article class="card sense"{i_(f"sense-{sid}")} data-sense="{sid}">'
            f'<h3><span class="swatch" style="background:{sense_colour(sid - 1)}"></span> Sense {sid} '
            f'<span class="num">{int(s["size"]):,} · {100 * int(s["size"]) / max(int(data.get("n", 1)), 1):.0f}%</span></h3>'
            f'<p><b>label</b> <span class="label">{_e(", ".join(s.get("label") or []))}</span></p>'
            f'<p><b>attends to</b> <span class="attends">{_e(", ".join(s.get("attends") or []))}</span></p>'
            f'<ol class="examples">{examples}</ol></article>'
        )
    n, shown = int(data.get("n", len(points))), len(points)
    sample = f" ({shown:,} of them drawn, evenly sampled)" if shown < n else ""
    forms = "/".join(data.get("forms") or [word])
    body = (
        f'<header><h1>Senses of “{_e(word)}”</h1><p class="caption">{n:,} occurrences of {_e(forms)}{_e(sample)} in '
        f'{_e(", ".join(data.get("files") or []))} · {int(data.get("k", 0))} senses</p></header>'
        f'<div class="senses-panes"><section class="map-section"{i_("map-section")}><h2>Map of the occurrences</h2>'
        '<p class="hint">Each point is one occurrence: its contextual vector, centered, on the two main axes of '
        'variation (PCA). Hover or focus a point to read it.</p>'
        f'<div class="scroll">{svg}</div><p class="hover"{i_("hover")} aria-live="polite">&nbsp;</p></section>'
        f'<section class="senses-section"{i_("senses-section")}><h2>Senses</h2>{"".join(cards)}</section></div>'
        f'<section{i_("options-section")}><h2>Options</h2>{options_table(data.get("config") or {}, data.get("vectors"))}</section>'
    )
    return View("senses", body, data, _SENSES_JS, _SENSES_CSS)


_SENSES_CSS = (
    ".senses-panes{display:flex;flex-wrap:wrap;gap:0 2rem;align-items:flex-start}"
    ".map-section{flex:0 0 auto;width:min(560px,100%)}.senses-section{flex:1 1 320px;min-width:0}"
    ".map{display:block;max-width:100%;height:auto}.map .frame{fill:none;stroke:var(--rule)}"
    ".map .pt{stroke:var(--bg);stroke-width:1;opacity:.85;cursor:pointer}"
    ".map .pt.on{stroke:var(--fg);stroke-width:2;opacity:1}.map .pt.dim{opacity:.15}"
    ".hover{min-height:3em;max-width:560px;overflow-wrap:anywhere;font-size:.9rem}"
    ".sense{margin-bottom:12px}.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;vertical-align:baseline}"
    ".examples{padding-left:1.3rem;font-size:.9rem}.examples li{margin:.25rem 0;overflow-wrap:anywhere}"
    ".where{color:var(--muted);font-size:.8rem}mark{background:color-mix(in srgb,var(--sel) 30%,transparent);color:inherit}"
)

# Hover or focus a point: its text (the word marked) under the map. Hover a sense card: its
# points stand out. Text reaches the page through textContent only.
_SENSES_JS = r"""
"use strict";
(function () {
  var data = JSON.parse(root.querySelector("script.attncli-data").textContent);
  var points = data.points || [], box = root.querySelector(".hover");
  var dots = root.querySelectorAll(".map .pt");
  function show(i) {
    var p = points[i];
    if (!p) return;
    box.textContent = "";
    var where = document.createElement("span");
    where.className = "where";
    where.textContent = (p.file ? p.file + ":" : "line ") + p.line + " · sense " + p.sense + ": ";
    var mark = document.createElement("mark");
    mark.textContent = p.text.slice(p.start, p.end);
    box.appendChild(where);
    box.appendChild(document.createTextNode(p.text.slice(0, p.start)));
    box.appendChild(mark);
    box.appendChild(document.createTextNode(p.text.slice(p.end)));
    dots.forEach(function (d) { d.classList.toggle("on", +d.dataset.i === i); });
  }
  dots.forEach(function (d) {
    d.addEventListener("mouseenter", function () { show(+d.dataset.i); });
    d.addEventListener("focus", function () { show(+d.dataset.i); });
  });
  root.querySelectorAll(".card.sense").forEach(function (card) {
    var s = card.dataset.sense;
    card.addEventListener("mouseenter", function () {
      dots.forEach(function (d) { d.classList.toggle("dim", d.dataset.sense !== s); });
    });
    card.addEventListener("mouseleave", function () {
      dots.forEach(function (d) { d.classList.remove("dim"); });
    });
  });
})();
"""
