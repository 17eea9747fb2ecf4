"""Redraw docs/notebook-view.png, the picture of an inline view in docs/python.md and the README.

    .venv/bin/python scripts/notebook_screenshot.py [--dark] [--click N]

Executes a real notebook (nbclient and ipykernel, from the test extra) whose cell is
`attncli.embed(SENTENCE)`, exports it with nbconvert (JupyterLab's template), opens the export
in Debian's Chromium (every request but file: and data: aborted), clicks query token N and
keeps that cell, its code and the view under it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbclient
import nbconvert
import nbformat
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("sentence", nargs="?", default="she sat on the bank of the river")
    ap.add_argument("--click", type=int, default=4, help="query token to click (0-based)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "notebook-view.png")
    ap.add_argument("--dark", action="store_true", help="JupyterLab's dark theme")
    args = ap.parse_args()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import attncli\nattncli.embed({args.sentence!r})")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with tempfile.TemporaryDirectory() as tmp:
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp}}).execute()
        exporter = nbconvert.HTMLExporter(template_name="lab", theme="dark" if args.dark else "light")
        exporter.mathjax_url = exporter.require_js_url = "data:text/javascript,"  # no CDN
        page_file = Path(tmp) / "notebook.html"
        page_file.write_text(exporter.from_notebook_node(nb)[0], encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort())
            page.goto(page_file.as_uri())
            page.locator(f'.attncli .headview text.tok.q[data-i="{args.click}"]').click()
            page.mouse.move(0, 0)
            cell = page.locator(".jp-Cell").first.bounding_box()
            panes = page.locator(".attncli .panes").first.bounding_box()
            page.screenshot(path=str(args.out), full_page=True, clip={"x": cell["x"], "y": cell["y"], "width": cell["width"],
                                                      "height": panes["y"] + panes["height"] + 12 - cell["y"]})
            browser.close()
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
