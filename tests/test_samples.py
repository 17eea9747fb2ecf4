"""The README's samples are real: each `$ attncli ...` line in a fenced block is run, at 80
columns without colour, and the lines under it must be its output, byte for byte. A line `...`
stands for lines left out; without one at the start (end), the sample starts (ends) where the
output does. Commands naming 'corpus/*.txt' run beside the shared corpus (../shared)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PAGES = [ROOT / "README.md", ROOT / "docs" / "attention.md"]  # pages whose samples any machine can run
ELIDED = "..."


def samples(page: Path) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of each `$ attncli` line of the page's fenced blocks."""
    out, block, fenced = [], None, False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
            block = None
            continue
        if not fenced:
            continue
        if line.startswith("$ attncli "):
            block = (line[2:], [])
            out.append(block)
        elif line.startswith("$ "):
            block = None
        elif block is not None:
            block[1].append(line)
    return out


ALL = [(page.name, command, expected) for page in PAGES for command, expected in samples(page)]


def test_the_readme_has_samples():
    names = [c for p, c, _ in ALL if p == "README.md"]
    assert len(names) >= 5 and any(c.startswith('attncli embed "money bank grows"') for c in names)


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the segments of `expected` between `...` lines are runs of `actual`, in order,
    anchored at the start and end unless a `...` says otherwise."""
    segments, current = [], []
    for line in expected:
        if line == ELIDED:
            segments.append(current)
            current = []
        else:
            current.append(line)
    segments.append(current)
    at = 0
    for i, seg in enumerate(segments):
        if not seg:
            continue
        first, last = i == 0, i == len(segments) - 1
        if first:
            if actual[:len(seg)] != seg:
                return False
            at = len(seg)
            if last and at != len(actual):
                return False
            continue
        found = next((k for k in range(at, len(actual) - len(seg) + 1) if actual[k:k + len(seg)] == seg), None)
        if found is None or (last and found + len(seg) != len(actual)):
            return False
        at = found + len(seg)
    return True


def test_matches_anchors_and_elisions():
    out = ["a", "b", "c", "d"]
    assert matches(["a", "b", "c", "d"], out) and matches(["a", "...", "d"], out) and matches(["...", "b", "c", "..."], out)
    assert not matches(["a", "b", "c"], out) and not matches(["b", "c", "..."], out) and not matches(["...", "c"], out)
    assert not matches(["a", "...", "c", "b"], out) and not matches(["a", "b", "c", "d", "e"], out)


@pytest.mark.slow  # runs the commands: over 0.15 s
@pytest.mark.parametrize("page, command, expected", ALL, ids=[f"{p}: {c[:50]}" for p, c, _ in ALL])
def test_sample_is_the_real_output(page, command, expected, tmp_path):
    if "corpus/" in command and not (SHARED / "corpus").is_dir():
        pytest.skip(f"needs the shared corpus at {SHARED}")
    if "| jq" in command and shutil.which("jq") is None:
        pytest.skip("needs jq")
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("FORCE_COLOR", None)
    cwd = SHARED if "corpus/" in command else tmp_path
    r = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    actual = r.stdout.rstrip("\n").split("\n")
    assert matches(expected, actual), "\n".join(["the output of", command, "is", *actual])
    assert not any(re.search(r" +$", line) for line in actual), "trailing spaces"
