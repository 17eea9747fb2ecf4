"""Redraw docs/html-view.png, the README's picture of `attncli embed --html`.

    .venv/bin/python scripts/html_screenshot.py [SENTENCE] [--click N]

Needs the test extra (playwright) and Debian's chromium (`make browser`). Opens the page from a
file:// URL, clicks query token N, and keeps the header, the head view and the matrix.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

import attncli
from attncli.html import embed_page

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def shoot(html: str, out: Path, *, click: str | None, keep: str, width: int, dark: bool = False) -> None:
    """Open `html` from a file:// URL (every other request aborted), click the `click` selector,
    and save the page from the top to the bottom of the `keep` selector as `out`."""
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "view.html"
        page_file.write_text(html, encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": width, "height": 700}, color_scheme="dark" if dark else "light")
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
            page.goto(page_file.as_uri())
            if click:
                page.click(click)
            page.mouse.move(0, 0)
            box = page.locator(keep).bounding_box()
            page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": width, "height": box["y"] + box["height"] + 16})
            browser.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("sentence", nargs="?", default="she sat on the bank of the river")
    ap.add_argument("--click", type=int, default=4, help="query token to click (0-based)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "html-view.png")
    ap.add_argument("--dark", action="store_true")
    args = ap.parse_args()
    shoot(embed_page(attncli.embed(args.sentence)), args.out, click=f'#headview text.tok.q[data-i="{args.click}"]',
          keep="div.panes", width=920, dark=args.dark)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
