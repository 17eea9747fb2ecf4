"""Signals while the command line is still loading (docs/errors.md, "Disk full, kills and
signals"): Ctrl-C in the first ~40 ms (typer, numpy and the command's modules being imported)
ends with one line and exit 130, never a KeyboardInterrupt traceback from inside an import.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import attncli

from .test_hostile import ATTNCLI, _foreground

PACKAGE = str(Path(attncli.__file__).parent)

# As the console script, with a hook that notes the SIGINT handler when typer starts to load.
WATCH = """
import sys
import _signal

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "typer" and "seen" not in globals():
            globals()["seen"] = getattr(_signal.getsignal(_signal.SIGINT), "__name__", "default")
            print(seen, file=sys.stderr)
        return None

sys.meta_path.insert(0, Watch())
sys.argv[0] = sys.argv[0].rpartition("/")[0] + "/attncli"
from attncli.cli import main
main()
"""

# As the console script, with a signal handled inside a weakref callback (where Python can only
# print an exception and go on) while the command's module is imported.
SWALLOW = """
import os, sys, weakref

class Trap:
    def find_spec(self, name, path=None, target=None):
        if name == "attncli.cli.embed":
            sys.meta_path.remove(self)
            class Doomed:
                pass
            doomed = Doomed()
            def callback(_):
                os.kill(os.getpid(), int(os.environ["SIG"]))
                for _ in range(10000):  # the handler runs here, inside the callback
                    pass
            self.ref = weakref.ref(doomed, callback)
            del doomed
        return None

sys.meta_path.insert(0, Trap())
sys.argv[0] = sys.argv[0].rpartition("/")[0] + "/attncli"
from attncli.cli import main
main()
"""


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_inside_a_weakref_callback_still_ends_the_run_with_one_line(sig, code, word):
    """CI once printed 'Exception ignored in: <function _get_module_lock.<locals>.cb>' and a
    traceback through attncli's handler, and the run went on as if no SIGTERM had come."""
    r = subprocess.run([sys.executable, "-c", SWALLOW, "embed", "money bank grows", "--json"], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "SIG": str(int(sig))})
    assert (r.returncode, r.stderr, r.stdout) == (code, f"attncli: error: {word}\n", "")


def test_the_quiet_handler_is_in_place_before_the_first_slow_import():
    r = subprocess.run([sys.executable, "-c", WATCH, "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == "_quit_early"


def test_importing_the_cli_as_a_library_leaves_ctrl_c_alone():
    r = subprocess.run([sys.executable, "-c", "import signal, attncli.cli; print(signal.getsignal(signal.SIGINT).__name__)"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "default_int_handler", r.stderr


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, b"interrupted"), (signal.SIGTERM, 143, b"terminated")])
def test_a_signal_at_any_moment_of_start_up_is_one_line(sig, code, word):
    """Signals from 0 to 80 ms after the start. Before Python itself has started (a few ms) the
    process dies of the signal; during Python's own start-up (site, .pth files) a traceback can
    still come, but never from attncli's code or what it imports; after that, one line."""
    for delay in [0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08] * 2:
        p = subprocess.Popen([ATTNCLI, "embed", "money bank grows", "--json"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, preexec_fn=_foreground)
        time.sleep(delay)
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        assert PACKAGE.encode() not in err, (delay, err.decode()[-1500:])
        if b"Traceback" not in err and p.returncode not in (-sig, 0):
            assert p.returncode == code and err == b"attncli: error: " + word + b"\n", (delay, p.returncode, err)
