"""Start-up: `attncli embed ... --json` imports and builds only what it uses (the root group
builds each command on demand, app.COMMANDS), and building on demand gives the same command
tree as typer's conversion of the whole app. No timings here: bench/startup.py measures."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys

import typer.main
from typer.testing import CliRunner

import attncli.cli
from attncli.cli import app
from attncli.cli.app import COMMANDS, commands

# Never needed to embed one sentence: the other commands, their library modules, the renderers.
NOT_ON_THE_EMBED_PATH = [
    *(f"attncli.cli.{m}" for m in ("batch", "compare", "explain", "senses", "wic", "weights", "vectors")),
    "attncli.batch", "attncli.senses", "attncli.wic", "attncli.explain", "attncli.learn", "attncli.learn_qkv",
    "attncli.render", "attncli.html", "attncli.writers", "attncli.dask_engine", "attncli.weightsinfo",
    "rich", "gensim", "scipy", "tempfile",
]


# Runs the CLI as the console script does, then prints sys.modules on stderr as the process exits.
RUN_AND_LIST = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("MODULES " + " ".join(sys.modules)))
sys.argv[0] = "attncli"
from attncli.cli import main
main()
"""


def imported_by(*args: str) -> set[str]:
    """The modules a fresh `attncli ARGS` has imported when it exits."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("ATTNCLI_VECTORS", None)
    r = subprocess.run([sys.executable, "-c", RUN_AND_LIST, *args], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    json.loads(r.stdout)  # the command did its work
    return set(r.stderr.rpartition("MODULES ")[2].split())


def test_embed_json_imports_no_other_command():
    modules = imported_by("embed", "money bank grows", "--json")
    assert {"attncli.cli.embed", "attncli.pipeline", "numpy", "typer"} <= modules  # the list is real
    assert sorted(m for m in modules if m.split(".")[0] in {"rich", "gensim", "scipy"} or m in NOT_ON_THE_EMBED_PATH) == []


def test_every_registered_command_is_in_the_table_and_built_as_typer_builds_it():
    """COMMANDS lists exactly what the modules register, in order; each command built on demand
    has the name, help, parameters and sub-commands typer gives it when converting the whole app."""
    for module in pkgutil.iter_modules(attncli.cli.__path__):  # every module, listed or not
        importlib.import_module(f"attncli.cli.{module.name}")
    eager = typer.main.get_group(commands)  # every registered command, converted at once
    lazy = typer.main.get_command(app)
    ctx = lazy.make_context("attncli", ["embed"], resilient_parsing=True)
    assert list(COMMANDS) == lazy.list_commands(ctx) and sorted(COMMANDS) == sorted(eager.commands)

    def shape(cmd) -> dict:
        out = {"name": cmd.name, "help": cmd.help, "short": cmd.get_short_help_str(),
               "params": [(p.name, p.opts, p.secondary_opts, p.default, p.required) for p in cmd.params]}
        if hasattr(cmd, "commands"):
            out["commands"] = {name: shape(sub) for name, sub in cmd.commands.items()}
        return out

    for name in COMMANDS:
        assert shape(lazy.get_command(ctx, name)) == shape(eager.commands[name]), name
    assert lazy.get_command(ctx, "nope") is None


def test_a_mistyped_command_is_still_suggested():
    r = CliRunner().invoke(app, ["embd", "x"])
    assert r.exit_code == 2 and "No such command 'embd'. Did you mean 'embed'?" in r.stderr


# The console script's run with a spy on pipeline.embed: is the collector on inside the command,
# and how many objects did start-up freeze?
RUN_WITH_A_SPY = """
import gc, sys
import attncli.pipeline as pipeline
real = pipeline.embed
def embed(*args, **kwargs):
    sys.stderr.write(f"SPY enabled={gc.isenabled()} frozen={gc.get_freeze_count()}\\n")
    return real(*args, **kwargs)
pipeline.embed = embed
sys.argv[0] = "attncli"
from attncli.cli import main
main()
"""


def test_the_console_script_collects_garbage_while_the_command_runs():
    """cli.main turns the collector off while the command loads; resolving the command freezes
    what start-up made and turns it back on, before the command runs."""
    r = subprocess.run([sys.executable, "-c", RUN_WITH_A_SPY, "embed", "money bank grows", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    enabled, frozen = re.search(r"SPY enabled=(\w+) frozen=(\d+)", r.stderr).groups()
    assert enabled == "True" and int(frozen) > 10_000  # numpy, typer and attncli's objects


def test_an_app_run_in_process_leaves_the_collector_alone(monkeypatch):
    """app() run inside a longer-lived process (tests, a notebook) never turns the collector off
    nor freezes anything: start-up tuning is the console script's alone."""
    import gc

    import attncli.pipeline as pipeline

    seen = []
    real_embed = pipeline.embed

    def embed(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_embed(*args, **kwargs)

    monkeypatch.setattr(pipeline, "embed", embed)
    frozen = gc.get_freeze_count()
    for args, code in [(["embed", "money bank", "--json"], 0), (["embed", "--bogus"], 2), (["--help"], 0),
                       (["embed", "--help"], 0), (["nope"], 2), (["embed", "xqzvw", "--oov", "error"], 1)]:
        r = CliRunner().invoke(app, args)
        assert r.exit_code == code, (args, r.stderr)
        assert gc.isenabled() and gc.get_freeze_count() == frozen, args
    assert seen == [True, True]
