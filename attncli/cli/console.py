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
    """A message folded onto one line (an error may quote a file's multi-line text), its
    control characters escaped (a word from a file may hold an ESC)."""
    from ..tokens import visible

    return visible(" ".join(str(msg).split()))


class StdoutError(DataError):
    """Standard output cannot be written (a full disk, /dev/full): not the input's fault."""


@contextlib.contextmanager
def stdout_errors():
    """Around writes to stdout: a failure other than a closed pipe (which the app ends
    quietly) becomes a StdoutError. What could not be written is dropped, so that Python's own
    flush at exit does not fail again."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        _drop_stdout()
        raise StdoutError(f"cannot write to standard output: {e.strerror or e}") from None


def flush_stdout() -> None:
    with stdout_errors():
        if sys.stdout is not None:
            sys.stdout.flush()


def _drop_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def fail(msg: str, code: int) -> NoReturn:
    """`attncli: error: ...` on stderr, then exit with `code`."""
    if sys.stdout is not None:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            quiet_pipe()
        except OSError as e:  # what was printed could not be written either: say so first
            _drop_stdout()
            if code not in (130, 143):
                msg = f"cannot write to standard output: {e.strerror or e}"
                code = 1
    print(f"attncli: error: {one_line(msg)}", file=sys.stderr)
    sys.exit(code)


def quiet_pipe() -> NoReturn:
    """The reader went away (`| head`): stop quietly, without Python's flush error at exit."""
    _drop_stdout()
    sys.exit(1)


# -q/--quiet (options.QuietOpt sets it while parsing): no notes, "wrote" lines or progress, from
# the commands or the library (its handler is removed); warnings and errors still show.
QUIET = False


def set_quiet(on: bool) -> None:
    global QUIET
    QUIET = bool(on)
    if QUIET:
        from .. import report

        report.install(None)


def warn(msg: str) -> None:
    print(f"attncli: warning: {one_line(msg)}", file=sys.stderr, flush=True)


def note(msg: str) -> None:
    """`attncli: ...` on stderr (nothing under -q): what a run did, read or wrote."""
    if not QUIET:
        print(f"attncli: {one_line(msg)}", file=sys.stderr, flush=True)


def stdout_console():
    """A console for results, built per call so that it follows the environment of the
    moment (NO_COLOR, COLUMNS, a terminal or not)."""
    from rich.console import Console

    return Console()


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def print_renderables(parts: list, svg: Path | None = None, *, numbers, show: bool = True, title: str = "attncli",
                      announce: bool = False) -> None:
    """Print rich renderables on stdout (when `show`) and, when `svg` is given, record the same
    renderables into an SVG image written atomically to `svg`. `numbers`: what the tables show
    (the result, or the command's JSON record): each of its numbers must be finite
    (export.check_finite), or nothing is written or shown. The SVG is written first, so a
    failure to write it prints nothing."""
    from ..export import check_finite

    check_finite(numbers)
    if svg is not None:
        from ..render import svg_image

        write_file(svg, svg_image(parts, title=title).encode("utf-8"), announce=announce)
    if show:
        out = stdout_console()
        with stdout_errors():
            if out.is_terminal:
                for part in parts:
                    out.print(part)
            else:  # a file or a pipe: the same text without the padding rich leaves at line ends
                with out.capture() as captured:
                    for part in parts:
                        out.print(part)
                sys.stdout.write("\n".join(line.rstrip(" ") for line in captured.get().split("\n")))
            sys.stdout.flush()


def print_text(text: str) -> None:
    """A line of plain text on stdout (escaped: it may quote a path)."""
    from ..tokens import visible

    with stdout_errors():
        sys.stdout.write(visible(text) + "\n")
        sys.stdout.flush()


def print_json(obj) -> None:
    from ..export import dumps

    with stdout_errors():
        sys.stdout.buffer.write(dumps(obj) + b"\n")
        sys.stdout.flush()


def sentence_arg(text: str) -> str:
    """A sentence argument; '-' means: read it from stdin (all of it, as one sentence)."""
    if text != "-":
        return text
    from ..inputs import read_text

    text = read_text("-").strip()
    if not text:
        raise DataError("stdin holds no sentence")
    return text


def size_text(n: int) -> str:
    """A file size for people: 512 bytes, 38 KiB, 2.5 MiB."""
    if n < 1024:
        return f"{n} byte{'s' if n != 1 else ''}"
    if n < 2**20:
        return f"{n / 1024:.0f} KiB" if n >= 10 * 1024 else f"{n / 1024:.1f} KiB"
    return f"{n / 2**20:.1f} MiB"


def wrote(path, size: int) -> None:
    """`attncli: wrote view.html (38 KiB)` on stderr: what a command wrote besides stdout."""
    note(f"wrote {path} ({size_text(size)})")


def write_file(path: Path, data: bytes, *, announce: bool = False) -> None:
    """An output file the user asked for, written atomically; a failure is one line, exit 1.
    With `announce`, says on stderr what was written."""
    from ..errors import os_error
    from ..export import write_atomic
    from ..inputs import check_output

    check_output(path)
    try:
        write_atomic(path, data)
    except OSError as e:
        raise os_error(e, path, "write") from None
    if announce:
        wrote(path, len(data))


def check_writable(path: Path) -> None:
    """Fail now (one line, exit 1) when `path` cannot be written later: before a long run."""
    import stat

    from ..errors import os_error
    from ..inputs import check_output

    check_output(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        st = os.stat(path)  # through symlinks: a dangling one is a new file
    except FileNotFoundError:
        st = None
    except OSError as e:  # a name too long, a link loop, a file in the path
        raise os_error(e, path, "write") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise DataError(f"cannot write {path}: it is a directory")
    try:
        parent_is_dir = stat.S_ISDIR(os.stat(parent).st_mode)
    except FileNotFoundError:
        parent_is_dir = False
    except OSError as e:
        raise os_error(e, path, "write") from None
    if not parent_is_dir:
        raise DataError(f"cannot write {path}: no such directory {parent}")
    if not os.access(parent, os.W_OK) or (st is not None and not os.access(path, os.W_OK)):
        raise DataError(f"cannot write {path}: permission denied")


def progress_bar(*columns, transient: bool = True):
    """A rich Progress on stderr with `columns` (rich column objects or format strings);
    disabled (draws nothing) when stderr is not a terminal."""
    from rich.progress import Progress

    console = stderr_console()
    return Progress(*columns, console=console, transient=transient, disable=QUIET or not console.is_terminal)


class ProgressLines:
    """Progress for a stderr that is not a terminal (a log, CI, `2> file`): a line at each tenth
    of `total` done, `attncli: LABEL: 30% (1,234 of 4,113), 12 s`, and, when the steps are slow
    (a cross-validation fold, an epoch), also whenever `every` seconds have passed since the last
    line; without a total, a line at most every `every` seconds. A run of many minutes is never
    silent, and a log stays short."""

    def __init__(self, label: str, total: int | None, every: float = 5.0, clock=None):
        import time

        self.label, self.total, self.every = label, total, every
        self.clock = clock or time.monotonic
        self.start = self.last = self.clock()
        self.done, self.tenths = 0, 0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        tenths = min(10, self.done * 10 // self.total) if self.total else 0
        if tenths <= self.tenths and now - self.last < self.every:
            return
        self.tenths, self.last = max(tenths, self.tenths), now
        if self.total:
            pct = 100 * self.done // self.total
            note(f"{self.label}: {pct}% ({self.done:,} of {self.total:,}), {now - self.start:.0f} s")
        else:
            note(f"{self.label}: {self.done:,} done, {now - self.start:.0f} s")


@contextlib.contextmanager
def progress(label: str, total: int | None, *, quiet: bool = False):
    """Yields advance(n=1). On a terminal, a bar with a label, done/total and the time left;
    otherwise ProgressLines (a line per tenth done); with `quiet`, nothing."""
    if quiet or QUIET:
        yield lambda n=1: None
        return
    if not stderr_console().is_terminal:
        yield ProgressLines(label, total).advance
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    with progress_bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


class StderrReport:
    """The handler for attncli.report: notes as `attncli: ...` lines, progress as a bar, on
    stderr. A step's status (update(done, status)) shows beside the bar on a terminal, and is
    one `attncli: label: status` line otherwise."""

    def note(self, msg: str) -> None:
        note(msg)

    @contextlib.contextmanager
    def progress(self, label: str, total: int | None):
        if QUIET or not stderr_console().is_terminal:  # no bar to draw: rich.progress not even imported
            yield lambda done, status=None: status and note(f"{label}: {status}")
            return
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("{task.fields[status]}"))
        with progress_bar(*columns) as bar:
            task = bar.add_task(label, total=total, status="")
            yield lambda done, status=None: bar.update(task, completed=done, **({"status": status} if status else {}))


class BarReport(StderrReport):
    """The handler while a command shows its own bar (rich draws one live display at a time):
    the library's progress becomes a row of that bar, and nothing at all without one (-q)."""

    def __init__(self, bar):
        self.bar = bar

    @contextlib.contextmanager
    def progress(self, label: str, total: int | None):
        if self.bar is None:
            yield lambda done, status=None: None
            return
        task = self.bar.add_task(label, total=total, unit="tokens")
        try:
            yield lambda done, status=None: self.bar.update(task, completed=done)
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


WARN_WORDS = 5  # unknown words named on stderr, then a count (--verbose: every one, with its position)
WARN_LINES = 10  # failed lines listed on stderr, then a count (--verbose: all)


class LineWarnings:
    """Warnings about lines (failed, not embedded, unreadable): the first WARN_LINES, then one
    count of the rest as `what` (all of them with --verbose)."""

    def __init__(self, verbose: bool, what: str):
        self.verbose, self.what, self.count = verbose, what, 0

    def add(self, msg: str) -> None:
        self.count += 1
        if self.verbose or self.count <= WARN_LINES:
            warn(msg)

    def finish(self) -> None:
        if self.count > WARN_LINES and not self.verbose:
            warn(f"... and {self.count - WARN_LINES:,} more {self.what} (--verbose lists them all)")


def report_results(results: list, verbose: bool = False, prefix: str = "sentence") -> None:
    """Embedded sentences' OOV words and fully masked tokens, on stderr, never in the way of
    stdout: each unknown word once with its count, the first WARN_WORDS of them, or with
    `verbose` every occurrence with its sentence and position."""
    if not results:
        return
    several = len(results) > 1
    name = results[0].vectors["name"]
    how = {"zero": "given zero vectors"}.get(results[0].config.oov, "skipped")
    for subword in (True, False):
        found = [(i, o) for i, r in enumerate(results) for o in r.oov if (o.get("handled") == "subword") == subword]
        if not found:
            continue
        what = "given fastText subword vectors" if subword else how
        if verbose:
            words = ", ".join(f"{o['token']!r} ({f'{prefix} {i + 1}, ' if several else ''}position {o['position']})" for i, o in found)
        else:
            counts: dict[str, int] = {}
            for _, o in found:
                counts[o["token"]] = counts.get(o["token"], 0) + 1
            shown = [f"{w!r}" + (f" x{c:,}" if c > 1 else "") for w, c in list(counts.items())[:WARN_WORDS]]
            more = len(counts) - WARN_WORDS
            words = ", ".join(shown) + (f" and {more:,} more word{'s' if more != 1 else ''} (--verbose lists them)" if more > 0 else "")
        warn(f"not in the vocabulary of {name}, {what}: {words}")
    empty = []
    for i, r in enumerate(results):
        if r.config.exclude_self or r.config.causal:
            empty += [(i, t) for t, row in zip(r.tokens, r.attention) if not row.any()]
    if empty:
        shown = empty if verbose else empty[:WARN_WORDS]
        listed = ", ".join(f"{t!r}" + (f" ({prefix} {i + 1})" if several else "") for i, t in shown)
        more = len(empty) - len(shown)
        warn(f"nothing left to attend to (masked), attended part is zero: {listed}"
             + (f" and {more:,} more (--verbose lists them)" if more else ""))
