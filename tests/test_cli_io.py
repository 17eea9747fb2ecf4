"""What a new user meets first: '-' for stdin, the `wrote FILE (size)` lines and -q, progress
lines when stderr is not a terminal, shell completion, and help that fits 80 columns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.cli.console import ProgressLines, size_text

from .test_cli_embed import assert_one_line_error

DATA = Path(__file__).parent / "data"
TINY = [str(DATA / "wic_tiny.data.txt"), str(DATA / "wic_tiny.gold.txt")]
FIT = ["--fit-data", TINY[0], "--fit-gold", TINY[1]]
ATTNCLI = Path(sys.executable).parent / "attncli"


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def run(*args, input=None, env=None):
    return CliRunner().invoke(app, [*map(str, args)], input=input, env=env)


def ok(*args, input=None, env=None):
    r = run(*args, input=input, env=env)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r


# ---------------------------------------------------------------- '-' is stdin


def test_embed_dash_reads_the_sentence_from_stdin():
    piped = json.loads(ok("embed", "-", "--json", input="money bank grows\n").stdout)
    given = json.loads(ok("embed", "money bank grows", "--json").stdout)
    assert piped == given and piped["tokens"] == ["money", "bank", "grows"]
    # several lines are one sentence, as the words of an argument are
    assert json.loads(ok("embed", "-", "--json", input="money\nbank grows").stdout)["tokens"] == piped["tokens"]


@pytest.mark.parametrize("stdin", ["", "  \n\n"])
def test_embed_dash_with_empty_stdin_is_one_line_exit_1(stdin):
    for command in (["embed", "-"], ["explain", "-", "--word", "bank"]):
        line = assert_one_line_error(run(*command, input=stdin), 1)
        assert "stdin holds no sentence" in line


def test_explain_dash_reads_the_sentence_from_stdin():
    piped = json.loads(ok("explain", "-", "--word", "bank", "--json", input="money bank grows\n").stdout)
    assert piped == json.loads(ok("explain", "money bank grows", "--word", "bank", "--json").stdout)


def test_compare_dash_reads_sentences_from_stdin_in_its_place():
    args = ["--word", "bank", "--json"]
    given = json.loads(ok("compare", "money bank grows", "bank river flows", "the bank of the river", *args).stdout)
    piped = json.loads(ok("compare", "money bank grows", "-", *args, input="bank river flows\n\nthe bank of the river\n").stdout)
    assert piped == given
    first = json.loads(ok("compare", "-", "the bank of the river", *args, input="money bank grows\nbank river flows\n").stdout)
    assert first["sentences"] == given["sentences"]


def test_compare_reads_stdin_once():
    line = assert_one_line_error(run("compare", "-", "-i", "-", "--word", "bank", input="money bank grows\n"), 2)
    assert "stdin" in line
    assert_one_line_error(run("compare", "-", "-", "--word", "bank", input="money bank grows\n"), 2)


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_eval_wic_reads_any_one_of_its_files_from_stdin(which):
    files = [TINY[0], TINY[1], TINY[0], TINY[1]]
    want = json.loads(ok("eval", "wic", *TINY, *FIT, "--json").stdout)
    stdin = Path(files[which]).read_text()
    files[which] = "-"
    got = json.loads(ok("eval", "wic", files[0], files[1], "--fit-data", files[2], "--fit-gold", files[3], "--json",
                        input=stdin).stdout)
    assert got == want


def test_eval_wic_reads_stdin_once():
    line = assert_one_line_error(run("eval", "wic", "-", "-", *FIT, input=Path(TINY[0]).read_text()), 2)
    assert "stdin" in line and "data" in line and "gold" in line


def test_eval_wic_dash_with_empty_stdin_is_one_line_exit_1():
    assert_one_line_error(run("eval", "wic", "-", TINY[1], *FIT, input=""), 1)


# ---------------------------------------------------------------- wrote FILE (size); -q


def test_size_text():
    assert [size_text(n) for n in (0, 1, 1023, 1024, 1536, 38 * 1024 + 300, 5 * 2**20)] == [
        "0 bytes", "1 byte", "1023 bytes", "1.0 KiB", "1.5 KiB", "38 KiB", "5.0 MiB"]


@pytest.mark.parametrize("command", [["embed", "money bank grows"], ["explain", "money bank grows", "--word", "bank"],
                                     ["compare", "money bank grows", "bank river flows", "--word", "bank"]])
def test_html_and_svg_say_what_they_wrote_and_q_silences_it(tmp_path, command):
    html, svg = tmp_path / "view.html", tmp_path / "view.svg"
    r = ok(*command, "--html", html, "--svg", svg, "--json")
    lines = r.stderr.splitlines()
    assert lines == [f"attncli: wrote {html} ({size_text(html.stat().st_size)})",
                     f"attncli: wrote {svg} ({size_text(svg.stat().st_size)})"]
    json.loads(r.stdout)  # stdout is still the JSON alone
    r = ok(*command, "--html", html, "--svg", svg, "--json", "-q")
    assert r.stderr == ""


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_eval_save_config_and_batch_output_say_what_they_wrote(tmp_path):
    saved = tmp_path / "wic.json"
    r = ok("eval", "wic", *TINY, *FIT, "--save-config", saved, "--json")
    assert f"attncli: wrote {saved} ({size_text(saved.stat().st_size)})" in r.stderr.splitlines()
    assert "wrote" not in ok("eval", "wic", *TINY, *FIT, "--save-config", saved, "--json", "-q").stderr
    out = tmp_path / "out.jsonl"
    r = ok("batch", "-i", "-", "-o", out, input="money bank grows\n\n")
    assert r.stderr.splitlines() == ["attncli: read standard input, 2 lines (1 blank, skipped): 1 embedded",
                                     f"attncli: wrote {out} ({size_text(out.stat().st_size)})"]
    assert ok("batch", "-i", "-", "-o", out, "-q", input="money bank grows\n").stderr == ""


# ---------------------------------------------------------------- progress when stderr is not a terminal


def test_progress_lines_one_per_tenth(capsys):
    clock = iter(range(100)).__next__
    p = ProgressLines("learning W_v", 40, every=1000, clock=clock)
    for _ in range(40):
        p.advance()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10
    assert lines[0] == "attncli: learning W_v: 10% (4 of 40), 4 s"
    assert lines[-1].startswith("attncli: learning W_v: 100% (40 of 40)")


def test_progress_lines_for_slow_steps_every_few_seconds(capsys):
    # 100 fast steps, then 4 slow ones (folds) of 7 s each: a line per slow step
    times = iter([0] + [0.01 * k for k in range(1, 101)] + [8, 15, 22, 29]).__next__
    p = ProgressLines("learning W_v", 104, every=5, clock=times)
    for _ in range(104):
        p.advance()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 9 + 4  # 10% .. 90% from the fast steps, then each slow step
    assert lines[-4:] == ["attncli: learning W_v: 97% (101 of 104), 8 s", "attncli: learning W_v: 98% (102 of 104), 15 s",
                          "attncli: learning W_v: 99% (103 of 104), 22 s", "attncli: learning W_v: 100% (104 of 104), 29 s"]


def test_progress_lines_without_a_total_every_few_seconds(capsys):
    times = iter([0, 1, 5, 11, 12, 25]).__next__
    p = ProgressLines("reading", None, every=10, clock=times)
    for _ in range(5):
        p.advance(100)
    assert capsys.readouterr().err.splitlines() == ["attncli: reading: 300 done, 11 s", "attncli: reading: 500 done, 25 s"]


def test_eval_prints_progress_lines_when_stderr_is_not_a_terminal():
    r = ok("eval", "wic", *TINY, *FIT, "--json")
    progress = [line for line in r.stderr.splitlines() if "scoring WiC pairs" in line]
    # the chosen settings and the five baselines each score both splits (8 + 8 pairs)
    assert len(progress) == 10 and progress[-1].startswith("attncli: scoring WiC pairs: 100% (96 of 96)")
    r = ok("eval", "wic", *TINY, *FIT, "--json", "--no-baselines")
    assert [line for line in r.stderr.splitlines() if "scoring WiC pairs" in line][-1].startswith(
        "attncli: scoring WiC pairs: 100% (16 of 16)")
    assert "scoring" not in ok("eval", "wic", *TINY, *FIT, "--json", "-q").stderr


# ---------------------------------------------------------------- completion and help


def test_show_completion_prints_a_bash_script():
    # typer detects the shell from the parent processes: run it from bash, whatever runs pytest
    # (a second command keeps bash from exec'ing attncli in its place)
    r = subprocess.run(["bash", "-c", f"'{ATTNCLI}' --show-completion; exit $?"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "_attncli_completion" in r.stdout and "complete " in r.stdout


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_completion_completes_commands_options_and_choices():
    def complete(words: str, cword: int) -> list[str]:
        env = {**os.environ, "_ATTNCLI_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        r = subprocess.run([str(ATTNCLI)], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    assert complete("attncli em", 1) == ["embed"]
    assert complete("attncli embed --tempe", 2) == ["--temperature"]
    assert complete("attncli embed --mode ", 3) == ["simple", "qkv"]


def test_root_help_lists_the_completion_options():
    out = ok("--help", env={"COLUMNS": "100"}).stdout
    assert "--install-completion" in out and "--show-completion" in out


@pytest.mark.parametrize("command", [["embed"], ["explain"], ["compare"], ["batch"], ["eval", "wic"], ["train", "wic"],
                                     ["vectors", "info"]])
def test_help_at_80_columns_never_cuts_a_panel_title(command):
    out = ok(*command, "--help", env={"COLUMNS": "80"}).stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    titles = [line for line in out.splitlines() if line.startswith("╭─ ")]
    assert titles and all(line.endswith("─╮") for line in titles)  # the whole title, then the rule
