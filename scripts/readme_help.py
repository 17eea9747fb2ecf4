"""Keep the README's command reference equal to the real --help output.

    python scripts/readme_help.py           # rewrite the blocks in README.md
    python scripts/readme_help.py --check   # exit 1 if README.md is out of date (run by the tests)

A block is everything between `<!-- help: attncli SUB COMMAND -->` and `<!-- /help -->`.
Help is rendered at 80 columns without colour, as a reader's terminal would show it.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- help: attncli (?P<args>[^>]*?) -->\n)(.*?)(<!-- /help -->)", re.S)


def render_help(args: list[str]) -> str:
    os.environ.update({"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"})
    from typer.testing import CliRunner

    from attncli.cli import app

    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"})
    if result.exit_code != 0:
        raise SystemExit(f"attncli {' '.join(args)} --help failed: {result.output}")
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines).rstrip() + "\n"


def updated(text: str) -> str:
    def fill(m: re.Match) -> str:
        return f"{m.group(1)}```text\n{render_help(m.group('args').split())}```\n{m.group(4)}"

    return BLOCK.sub(fill, text)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    new = updated(text)
    if "--check" in sys.argv:
        if new != text:
            sys.exit("README.md's command reference differs from --help: run python scripts/readme_help.py")
        return
    README.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
