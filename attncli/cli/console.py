"""The one place the command line talks to the terminal.

Two consoles (stdout for results, stderr for everything else), the error and warning lines,
progress bars, JSON on stdout, files the user asked for, and the handler through which the
library's notes and progress (attncli.report) reach stderr. rich is imported on first use.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import NoReturn

from ..errors import DataError


def one_line(msg) -> str:
    """A message folded onto one line (an error may quote a file's multi-line text)."""
    return " ".join(str(msg).split())


def fail(msg: str, code: int) -> NoReturn:
    """`attncli: error: ...` on stderr, then exit with `code`."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_pipe()
    print(f"attncli: error: {one_line(msg)}", file=sys.stderr)
    sys.exit(code)


def quiet_pipe() -> NoReturn:
    """The reader went away (`| head`): stop quietly, without Python's flush error at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(1)


def warn(msg: str) -> None:
    print(f"attncli: warning: {msg}", file=sys.stderr, flush=True)


def note(msg: str) -> None:
    print(f"attncli: {msg}", file=sys.stderr, flush=True)


def stdout_console():
    """A console for results, built per call so that it follows the environment of the
    moment (NO_COLOR, COLUMNS, a terminal or not)."""
    from rich.console import Console

    return Console()


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def print_renderables(parts: list, svg: Path | None = None, *, show: bool = True, title: str = "attncli") -> None:
    """Print rich renderables on stdout (when `show`) and, when `svg` is given, record the same
    renderables into an SVG image written atomically to `svg`. The SVG is written first, so a
    failure to write it prints nothing."""
    if svg is not None:
        from ..render import svg_image

        write_file(svg, svg_image(parts, title=title).encode("utf-8"))
    if show:
        out = stdout_console()
        for part in parts:
            out.print(part)


def print_json(obj) -> None:
    from ..export import dumps

    sys.stdout.buffer.write(dumps(obj) + b"\n")
    sys.stdout.flush()


def write_file(path: Path, data: bytes) -> None:
    """An output file the user asked for, written atomically; a failure is one line, exit 1."""
    from ..export import write_atomic

    try:
        write_atomic(path, data)
    except OSError as e:
        raise DataError(f"cannot write {path}: {e.strerror or e}") from None


def progress_bar(*columns, transient: bool = True):
    """A rich Progress on stderr with `columns` (rich column objects or format strings);
    disabled (draws nothing) when stderr is not a terminal."""
    from rich.progress import Progress

    console = stderr_console()
    return Progress(*columns, console=console, transient=transient, disable=not console.is_terminal)


@contextlib.contextmanager
def progress(label: str, total: int | None):
    """A bar with a label, done/total and the time left; yields advance(n=1)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    with progress_bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


class StderrReport:
    """The handler for attncli.report: notes as `attncli: ...` lines, progress as a bar, on
    stderr (a bar only when it is a terminal)."""

    def note(self, msg: str) -> None:
        note(msg)

    @contextlib.contextmanager
    def progress(self, label: str, total: int | None):
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with progress_bar(*columns) as bar:
            task = bar.add_task(label, total=total)
            yield lambda done: bar.update(task, completed=done)


class BarReport(StderrReport):
    """The handler while a command shows its own bar (rich draws one live display at a time):
    the library's progress becomes a row of that bar, and nothing at all without one (-q)."""

    def __init__(self, bar):
        self.bar = bar

    @contextlib.contextmanager
    def progress(self, label: str, total: int | None):
        if self.bar is None:
            yield lambda done: None
            return
        task = self.bar.add_task(label, total=total, unit="tokens")
        try:
            yield lambda done: self.bar.update(task, completed=done)
        finally:
            self.bar.remove_task(task)


@contextlib.contextmanager
def reporting_into(bar):
    """Route the library's progress into `bar` (or nowhere when None) for the block's duration."""
    from .. import report

    previous = report.installed()
    report.install(BarReport(bar))
    try:
        yield
    finally:
        report.install(previous)


def install_reporter() -> None:
    from .. import report

    report.install(StderrReport())


def report_result(result, prefix: str = "") -> None:
    """An embedded sentence's OOV words and fully masked tokens: on stderr, never in the way
    of stdout."""
    subword = [o for o in result.oov if o.get("handled") == "subword"]
    missing = [o for o in result.oov if o.get("handled") != "subword"]
    if subword:
        words = ", ".join(f"{o['token']!r} (position {o['position']})" for o in subword)
        warn(f"{prefix}not in the vocabulary of {result.vectors['name']}, given fastText subword vectors: {words}")
    if missing:
        how = {"skip": "skipped", "zero": "given zero vectors"}[result.config.oov]
        words = ", ".join(f"{o['token']!r} (position {o['position']})" for o in missing)
        warn(f"{prefix}not in the vocabulary of {result.vectors['name']}, {how}: {words}")
    if result.config.exclude_self or result.config.causal:
        empty = [t for t, row in zip(result.tokens, result.attention) if not row.any()]
        if empty:
            warn(f"{prefix}nothing left to attend to (masked), attended part is zero: {', '.join(map(repr, empty))}")
