"""The README's command reference is the real --help output (scripts/readme_help.py)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_reference_matches_help():
    spec = importlib.util.spec_from_file_location("readme_help", ROOT / "scripts" / "readme_help.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.README.read_text(encoding="utf-8")
    assert "<!-- help: attncli embed -->" in text
    assert module.updated(text) == text, "README.md is out of date: run python scripts/readme_help.py"
