"""docs/cli.md is the real --help output (scripts/cli_reference.py), and the links of the README,
CONTRIBUTING.md and docs/ lead to files and headings that exist."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]*)\)")


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


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of the page's headings (outside code blocks): lowercased, punctuation
    other than '-' and '_' dropped, spaces made '-'."""
    anchors, fenced = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6} (.*)", line)):
            anchors.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return anchors


def test_slug_of_a_heading_with_code_and_dots():
    assert _anchors(ROOT / "docs" / "formats.md") >= {"attncli-embed-text---json", "attncli-compare----json"}


def test_links_lead_to_files_and_headings():
    for page in PAGES:
        for link in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in link:
                continue
            target, _, anchor = link.partition("#")
            path = (page.parent / target) if target else page
            assert path.exists(), f"{page.name} links to missing {target}"
            if anchor:
                assert anchor in _anchors(path), f"{page.name} links to missing heading {link}"
