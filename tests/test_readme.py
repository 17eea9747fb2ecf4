"""docs/cli.md is the real --help output (scripts/cli_reference.py), and the README's links lead
to files that exist."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _reference_module():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_matches_help():
    module = _reference_module()
    text = module.REFERENCE.read_text(encoding="utf-8")
    assert "Usage: attncli embed [OPTIONS]" in text
    assert module.reference() == text, "docs/cli.md is out of date: run python scripts/cli_reference.py"


def test_cli_reference_lists_every_command():
    paths = _reference_module().command_paths()
    assert [] in paths and ["embed"] in paths and ["vectors", "info"] in paths and ["eval", "wic"] in paths


def test_readme_and_docs_links_resolve():
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
