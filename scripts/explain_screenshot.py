"""Redraw docs/explain-view.png, the picture of `attncli explain --html` in docs/explain.md.

    .venv/bin/python scripts/explain_screenshot.py [SENTENCE] [--word WORD] [--click N]

Needs the test extra (playwright) and Debian's chromium (`make browser`). Opens the page from a
file:// URL with every other request aborted, optionally clicks token N to make it the query,
and keeps the header and the neuron view.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from html_screenshot import FLAGS, ROOT  # noqa: E402  (the same Chromium flags as the embed picture)

from attncli.explain import explain  # noqa: E402
from attncli.html import explain_page  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("sentence", nargs="?", default="she sat on the bank of the river")
    ap.add_argument("--word", default="bank")
    ap.add_argument("--click", type=int, default=None, help="token to make the query (0-based)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "explain-view.png")
    ap.add_argument("--dark", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "explain.html"
        page_file.write_text(explain_page(explain(args.sentence, args.word)), encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1000, "height": 700},
                                    color_scheme="dark" if args.dark else "light")
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
            page.goto(page_file.as_uri())
            if args.click is not None:
                page.click(f'#chips .chip[data-i="{args.click}"]')
            page.mouse.move(0, 0)
            box = page.locator("#neuron-section").bounding_box()
            page.screenshot(path=str(args.out), clip={"x": 0, "y": 0, "width": 1000, "height": box["y"] + box["height"] + 8})
            browser.close()
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
