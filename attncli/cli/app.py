"""The typer application and its command groups; every command module registers on these.

Errors end here: attncli's own exceptions, click's usage errors, a closed pipe, a full or
closed stdout, Ctrl-C and SIGTERM each become one line on stderr and an exit code (1 bad data,
2 bad usage, 130 interrupted, 143 terminated).
"""

from __future__ import annotations

import signal
import sys
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from ..errors import AttncliError, Terminated
from .console import StdoutError, fail, flush_stdout, install_reporter, one_line, quiet_pipe

# `attncli embed -i FILE ...` was the batch command's spelling before it had its own: still works.
_BATCH_ALIASES = {"embed": "batch"}


def _asks_for_batch(args: list[str]) -> bool:
    for a in args:
        if a == "--":
            return False
        if a in ("-i", "--input") or a.startswith("--input=") or (a.startswith("-i") and not a.startswith("--")):
            return True
    return False


class _Group(TyperGroup):
    """Every error ends as one line on stderr: ours, typer's usage errors, a closed pipe."""

    def resolve_command(self, ctx, args):
        name, cmd, rest = super().resolve_command(ctx, args)
        if name in _BATCH_ALIASES and _asks_for_batch(rest):
            target = _BATCH_ALIASES[name]
            return target, self.get_command(ctx, target), rest
        return name, cmd, rest

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        signal.signal(signal.SIGTERM, _terminate)
        if sys.stdout is None:  # started with >&-
            fail("standard output is closed; redirect it (e.g. >/dev/null) instead", 1)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            if rv == 130:  # typer turns Ctrl-C (KeyboardInterrupt) into a silent exit code 130
                fail("interrupted", 130)
            flush_stdout()
        except StdoutError as e:
            fail(str(e), 1)
        except AttncliError as e:
            fail(str(e), e.exit_code)
        except BrokenPipeError:
            quiet_pipe()
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


def _terminate(signum, frame):
    raise Terminated()


app = typer.Typer(
    cls=_Group,
    help="Turn static word vectors into contextual ones with self-attention, and show the work.",
    add_completion=True,  # --install-completion, --show-completion (typer's own; imports nothing until used)
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
eval_app = typer.Typer(help="Measure contextual vectors on benchmarks.", no_args_is_help=True)
train_app = typer.Typer(help="Fit projections on a benchmark's training split.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")


def _version(value: bool):
    if value:
        from .. import __version__

        print(f"attncli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
):
    """Turn static word vectors into contextual ones with self-attention, and show the work."""
    install_reporter()  # the library's notes and progress (converting a vector file) go to stderr
