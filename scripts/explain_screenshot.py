"""Redraw docs/explain-view.png, the picture of `attncli explain --html` in docs/explain.md.

    .venv/bin/python scripts/explain_screenshot.py [SENTENCE] [--word WORD] [--click N]

Needs the test extra (playwright) and Debian's chromium (`make browser`). Opens the page from a
file:// URL with every other request aborted, optionally clicks token N to make it the query,
and keeps the header and the neuron view.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from html_screenshot import ROOT, shoot  # noqa: E402  (the same browser set-up as the embed picture)

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
    click = f'#chips .chip[data-i="{args.click}"]' if args.click is not None else None
    shoot(explain_page(explain(args.sentence, args.word)), args.out, click=click, keep="#neuron-section", width=1000, dark=args.dark)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
