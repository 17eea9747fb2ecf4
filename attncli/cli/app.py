"""The typer application, the registry its command modules register on, and its groups.

Commands are built on demand: the command modules register on `commands`, a Typer that is
never run, and the root group (`_Group`) imports a command's module(s) and builds that one
command only when it is asked for (COMMANDS says where each lives). `attncli embed ...` thus
never imports nor builds the other commands; `attncli --help` and shell completion of command
names build every command they list.

Errors end here: attncli's own exceptions, click's usage errors, a closed pipe, a full or
closed stdout, any other OSError (errors.os_error words it), running out of memory, Ctrl-C and
SIGTERM each become one line on stderr and an exit code (1 bad data, 2 bad usage, 130
interrupted, 143 terminated).
"""

from __future__ import annotations

import gc
import importlib
import signal
import sys
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from ..errors import AttncliError, Terminated, option_style, os_error
from .console import StdoutError, fail, flush_stdout, install_reporter, one_line, quiet_pipe, set_quiet, stdout_errors

# `attncli embed -i FILE ...` is another spelling of `attncli batch -i FILE ...`: routed there.
_BATCH_ALIASES = {"embed": "batch"}


def _asks_for_batch(args: list[str]) -> bool:
    for a in args:
        if a == "--":
            return False
        if a in ("-i", "--input") or a.startswith("--input=") or (a.startswith("-i") and not a.startswith("--")):
            return True
    return False


# Every command (group) of the root, in the order of `attncli --help`, and the modules of
# attncli.cli that register it on `commands`.
COMMANDS: dict[str, tuple[str, ...]] = {
    "embed": ("embed",),
    "batch": ("batch",),
    "compare": ("compare",),
    "explain": ("explain",),
    "senses": ("senses",),
    "eval": ("senses", "wic"),  # `attncli eval --help` lists pseudowords, then wic
    "train": ("wic",),
    "index": ("index",),
    "weights": ("weights",),
    "vectors": ("vectors",),
}


class _LazyCommands(Mapping):
    """The root's commands by name: the names known up front, each command built (its modules
    imported, then typer's conversion of that one command) on first access, then kept."""

    def __init__(self, group: "_Group"):
        self.group = group
        self.built: dict = {}

    def __getitem__(self, name: str):
        if name not in COMMANDS:
            raise KeyError(name)
        if name not in self.built:
            self.built[name] = _build(name, self.group)
        return self.built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


def _build(name: str, group: "_Group"):
    """The click command (or group) `name`, converted by typer from what its modules registered
    on `commands`, with the root app's settings: what typer would build for the whole app."""
    for module in COMMANDS[name]:
        importlib.import_module(f"{__package__}.{module}")
    for info in commands.registered_commands:
        if (info.name or typer.main.get_command_name(info.callback.__name__)) == name:
            return typer.main.get_command_from_info(
                info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=group.rich_markup_mode)
    for info in commands.registered_groups:
        if info.name == name:
            # A group's sub-commands in the order of its modules in COMMANDS, whichever module
            # was imported first (`attncli train wic` imports wic before eval needs senses).
            modules = [f"{__package__}.{m}" for m in COMMANDS[name]]
            info.typer_instance.registered_commands.sort(key=lambda c: modules.index(c.callback.__module__))
            return typer.main.get_group_from_info(
                info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=group.rich_markup_mode,
                suggest_commands=group.suggest_commands)
    raise LookupError(f"attncli.cli.{', '.join(COMMANDS[name])} registered no command {name!r}")


class _Group(TyperGroup):
    """The root group: its commands are built on demand (_LazyCommands). Every error ends as one
    line on stderr: ours, typer's usage errors, a closed pipe."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.commands = _LazyCommands(self)

    def list_commands(self, ctx) -> list[str]:
        return list(self.commands)  # the names only: TyperGroup's would build every command

    def resolve_command(self, ctx, args):
        name, cmd, rest = super().resolve_command(ctx, args)
        if name in _BATCH_ALIASES and _asks_for_batch(rest):
            target = _BATCH_ALIASES[name]
            name, cmd = target, self.get_command(ctx, target)
        if not gc.isenabled():  # the console script's start-up ends here (see cli.main)
            gc.freeze()  # what exists now lives as long as the process: kept out of the collections
            gc.enable()
        return name, cmd, rest

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        signal.signal(signal.SIGTERM, _terminate)
        if getattr(signal.getsignal(signal.SIGINT), "__name__", "") == "_quit_early":  # the console script, loaded
            signal.signal(signal.SIGINT, _interrupt)  # Ctrl-C is KeyboardInterrupt again
            sys.unraisablehook = _swallowed
        if sys.stdout is None:  # started with >&-
            fail("standard output is closed; redirect it (e.g. >/dev/null) instead", 1)
        _readable_streams()
        with option_style("cli"):  # errors name --flags here, Python names in the library's own callers
            self._handled(args, prog_name, complete_var, **extra)

    def _handled(self, args, prog_name, complete_var, **extra):
        """The command, every error turned into one line and its exit code."""
        try:
            with stdout_errors() if _asks_for_help(sys.argv[1:] if args is None else args) else nullcontext():
                rv = self._run(args, prog_name, complete_var, **extra)
            if rv == 130:  # typer turns Ctrl-C (KeyboardInterrupt) into a silent exit code 130
                fail("interrupted", 130)
            flush_stdout()
        except StdoutError as e:
            fail(str(e), 1)
        except AttncliError as e:
            fail(str(e), e.exit_code)
        except BrokenPipeError:
            quiet_pipe()
        except OSError as e:  # a path no check foresaw (a name too long, a link loop, EIO): one line naming it
            fail(str(os_error(e)), 1)
        except MemoryError:
            fail("out of memory; docs/limits.md lists what each command holds in memory", 1)
        except Terminated:
            fail("terminated", 143)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as e:  # click's usage errors (vendored by typer) carry these two
            if hasattr(e, "format_message") and hasattr(e, "exit_code"):
                if not e.format_message():  # bare `attncli`: the help is already shown
                    sys.exit(e.exit_code)
                fail(one_line(e.format_message()), e.exit_code)
            raise
        sys.exit(rv if isinstance(rv, int) else 0)

    def _run(self, args, prog_name, complete_var, **extra):
        """One command, its run state (-q, the inputs it read) forgotten when it ends: a
        process may run several (tests, `attncli` called from Python)."""
        from .. import inputs

        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        finally:
            set_quiet(False)
            inputs.forget()


def _asks_for_help(args) -> bool:
    """`--help` or `-h` before any `--`: the run only prints, so a failed write is stdout's."""
    for a in args:
        if a == "--":
            return False
        if a in ("-h", "--help"):
            return True
    return False


def _readable_streams() -> None:
    """Text that the terminal's encoding cannot hold (PYTHONIOENCODING=ascii, a C locale) is
    written escaped (\\u221a) instead of ending the run with a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a stream that cannot change (CliRunner's, a closed one)
                pass


def _terminate(signum, frame):
    if _in_hook(frame):
        return _deliver_later(signum)
    raise Terminated()


def _interrupt(signum, frame):
    """signal.default_int_handler, but never where the exception would be dropped (_swallowed)."""
    if _in_hook(frame):
        return _deliver_later(signum)
    raise KeyboardInterrupt


def _swallowed(unraisable) -> None:
    """sys.unraisablehook of the console script. A signal handled while Python runs a weakref
    callback or a __del__ (an import's module lock, a file being closed) raises where Python can
    only print the exception with its traceback and go on: the signal would be lost. It is
    delivered again instead, where the program is a moment later, so it ends the run as any
    signal does: one line, the clean-up, 130 or 143."""
    if isinstance(unraisable.exc_value, Terminated):
        _deliver_later(signal.SIGTERM)
    elif isinstance(unraisable.exc_value, KeyboardInterrupt):
        _deliver_later(signal.SIGINT)
    else:
        sys.__unraisablehook__(unraisable)


def _in_hook(frame) -> bool:
    """Whether the signal is being handled inside _swallowed (or what it calls): raising there
    would be dropped too."""
    while frame is not None:
        if frame.f_code is _swallowed.__code__:
            return True
        frame = frame.f_back
    return False


def _deliver_later(signum: int) -> None:
    """The signal again in a millisecond, from a timer thread (never at once: the handler would
    run again inside the hook that asks for it)."""
    import _thread
    import threading

    timer = threading.Timer(0.001, _thread.interrupt_main, (signum,))
    timer.daemon = True
    timer.start()


app = typer.Typer(
    cls=_Group,
    help="Turn static word vectors into contextual ones with self-attention, and show the work.",
    add_completion=True,  # --install-completion, --show-completion (typer's own; imports nothing until used)
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Where the command modules register (`@commands.command()`, `commands.add_typer(...)`); never
# run itself: the root's _Group takes each command from here when it is asked for.
commands = typer.Typer()
eval_app = typer.Typer(help="Measure contextual vectors on benchmarks.", no_args_is_help=True)
train_app = typer.Typer(help="Fit projections on a benchmark's training split.", no_args_is_help=True)
commands.add_typer(eval_app, name="eval")
commands.add_typer(train_app, name="train")


def _version(value: bool):
    if value:
        from .. import __version__
        from .console import print_text

        print_text(f"attncli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
):
    """Turn static word vectors into contextual ones with self-attention, and show the work."""
    set_quiet(False)  # a command's -q sets it again (one process may run several commands: tests)
    install_reporter()  # the library's notes and progress (converting a vector file) go to stderr
