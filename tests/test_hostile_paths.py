"""Hostile paths (docs/errors.md, "Paths"): a name too long (ENAMETOOLONG), a regular file used as
a directory (ENOTDIR), a symlink loop (ELOOP), control characters, in every place a command
or an environment variable takes a path. Each ends with exit 1 and one line naming the path
(errors.os_error words it), never a traceback; nothing is created where it should not be.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.errors import DataError, os_error, shown_path

from .test_hostile import assert_error, proc

WIC = Path(__file__).parent / "data"
TINY = [WIC / "wic_tiny.data.txt", WIC / "wic_tiny.gold.txt"]


def cli(*args, env=None, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env, input=input)


def make_places(d: Path) -> Path:
    """A directory holding a regular file and a symlink loop."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "file.txt").write_text("money bank grows\nthe river bank\n")
    os.symlink("loop-b", d / "loop-a")
    os.symlink("loop-a", d / "loop-b")
    return d


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    return make_places(tmp_path_factory.mktemp("paths"))


def hostile(places: Path) -> dict[str, tuple[str, str]]:
    """name -> (path, the words of the reason)."""
    return {
        "too long": (str(places / ("x" * 300)), "file name too long"),
        "file as directory": (str(places / "file.txt" / "inside"), "not a directory"),
        "symlink loop": (str(places / "loop-a"), "symbolic links"),
        "too long inside": (str(places / ("y" * 300) / "z.txt"), "file name too long"),
    }


# Every option or argument that names a file to read or write, as a command line with PATH in it.
SLOTS = {
    "compare -i": ["compare", "-i", "PATH", "-w", "bank"],
    "eval wic data": ["eval", "wic", "PATH", TINY[1], "--fit-data", *TINY[:1], "--fit-gold", TINY[1]],
    "eval wic --fit-gold": ["eval", "wic", *TINY, "--fit-data", TINY[0], "--fit-gold", "PATH"],
    "train wic data": ["train", "wic", "PATH", TINY[1], "-o", "OUT/w.npz"],
    "train wic -o": ["train", "wic", *TINY, "-o", "PATH"],
    "train wic --save-config": ["train", "wic", *TINY, "-o", "OUT/w.npz", "--save-config", "PATH"],
    "--weights": ["embed", "money bank", "--mode", "qkv", "--weights", "PATH"],
    "weights info": ["weights", "info", "PATH"],
    "--config": ["embed", "money bank", "--config", "PATH"],
    "--vectors": ["embed", "money bank", "--vectors", "PATH"],
    "vectors info": ["vectors", "info", "PATH"],
    "--html": ["embed", "money bank", "--html", "PATH"],
    "--svg": ["compare", "money bank", "river bank", "-w", "bank", "--svg", "PATH"],
    "explain --html": ["explain", "money bank", "-w", "bank", "--html", "PATH"],
    "eval wic --save-config": ["eval", "wic", *TINY, "--fit-data", TINY[0], "--fit-gold", TINY[1], "--save-config", "PATH"],
    "batch -i": ["batch", "-i", "PATH"],
    "senses -i": ["senses", "bank", "-i", "PATH"],
    "eval pseudowords": ["eval", "pseudowords", "PATH"],
}


def _args(slot: str, path: str, out: Path) -> list[str]:
    return [path if a == "PATH" else str(out / "w.npz") if a == "OUT/w.npz" else str(a) for a in SLOTS[slot]]


@pytest.mark.parametrize("slot", sorted(SLOTS))
@pytest.mark.parametrize("kind", ["too long", "file as directory", "symlink loop"])
def test_every_path_slot_is_one_line_naming_the_path(places, tmp_path, slot, kind):
    path, _reason = hostile(places)[kind]
    r = cli(*_args(slot, path, tmp_path))
    line = assert_error(r, 1)
    assert shown_path(path)[:40] in line, line  # the path, clipped when very long
    assert not (tmp_path / "w.npz").exists() and r.stdout == ""


@pytest.mark.parametrize("slot", ["--weights", "weights info", "--config", "--vectors", "vectors info", "train wic -o",
                                  "--html", "compare -i", "eval wic data"])
@pytest.mark.parametrize("kind", ["too long", "file as directory", "symlink loop", "too long inside"])
def test_the_reason_is_said_in_plain_words(places, tmp_path, slot, kind):
    path, reason = hostile(places)[kind]
    assert reason in assert_error(cli(*_args(slot, path, tmp_path)), 1)


def test_a_path_of_control_characters_is_shown_escaped(places, tmp_path):
    path = str(places / "\x1b[31mred\u202e" / "w.npz")
    for slot in ("--weights", "--html", "train wic -o", "--config"):
        line = assert_error(cli(*_args(slot, path, tmp_path)), 1)
        assert "\x1b" not in line and "\u202e" not in line and "\\x1b[31mred\\u202e" in line


@pytest.mark.parametrize("variable", ["XDG_CONFIG_HOME", "ATTNCLI_CACHE_DIR"])
@pytest.mark.parametrize("kind", ["too long", "too long inside"])
def test_environment_paths_that_cannot_be_looked_at_name_the_variable(places, tmp_path, variable, kind, word2vec_file):
    path, reason = hostile(places)[kind]
    vectors = tmp_path / "v.txt"  # a file of its own: not one this process has loaded already
    vectors.write_bytes(word2vec_file.read_bytes())
    for command in (["embed", "money bank", "--vectors", vectors, "--json"], ["vectors", "list"], ["vectors", "clear-cache"]):
        r = cli(*command, env={variable: path})
        if variable == "XDG_CONFIG_HOME" and command[0] == "vectors":
            assert r.exit_code == 0, r.output  # vectors list and clear-cache read no settings
        elif variable == "ATTNCLI_CACHE_DIR" and command[0] == "embed":  # the cache is optional: used uncached, said once
            assert r.exit_code == 0 and f"(from {variable}): {reason}; using the vectors without caching" in r.stderr
        else:
            assert shown_path(path)[:40] in assert_error(r, 1, variable, reason)


@pytest.mark.parametrize("variable", ["XDG_CONFIG_HOME", "ATTNCLI_CACHE_DIR"])
@pytest.mark.parametrize("kind", ["file as directory", "symlink loop"])
def test_environment_paths_that_lead_nowhere_are_an_empty_config_or_an_uncached_run(places, tmp_path, variable, kind, word2vec_file):
    path, _ = hostile(places)[kind]
    vectors = tmp_path / "v.txt"
    vectors.write_bytes(word2vec_file.read_bytes())
    r = cli("embed", "money bank", "--vectors", vectors, "--json", env={variable: path})
    if variable == "XDG_CONFIG_HOME" and kind == "symlink loop":  # settings there may change the results: never skipped silently
        assert_error(r, 1, "user config file (from XDG_CONFIG_HOME)", "symbolic links")
        return
    assert r.exit_code == 0, r.output  # no config file under a regular file; a cache that cannot be written is not used
    if variable == "ATTNCLI_CACHE_DIR":
        assert "cannot write the cache" in r.stderr and "without caching" in r.stderr
        assert cli("vectors", "list", "--json", env={variable: path}).stdout.strip() == "[]"


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_a_home_that_does_not_exist_is_never_created(tmp_path, word2vec_file):
    home = tmp_path / "nonexistent"
    env = {k: v for k, v in os.environ.items() if k not in ("ATTNCLI_CACHE_DIR", "XDG_CACHE_HOME")} | {"HOME": str(home)}
    r = proc("embed", "money bank", "--vectors", word2vec_file, "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert b"home directory does not exist" in r.stderr and b"without caching" in r.stderr
    assert not home.exists()


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("args", [["compare", "-i", "{p}", "-w", "bank"], ["weights", "info", "{p}"],
                                  ["train", "wic", "{p}", "{p}", "-o", "w.npz"], ["embed", "money", "--mode", "qkv", "--weights", "{p}"]])
def test_a_real_process_ends_with_one_line(places, tmp_path, args):
    path = str(places / ("x" * 300))
    r = proc(*[a.replace("{p}", path) for a in args], cwd=tmp_path)
    assert_error(r, 1, "file name too long")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the one function, and the policy behind every command


@pytest.mark.parametrize("code, words", [
    (errno.ENOENT, "no such file or directory"), (errno.EISDIR, "is a directory"), (errno.EACCES, "permission denied"),
    (errno.ENOTDIR, "a part of the path is not a directory"), (errno.ELOOP, "too many levels of symbolic links (a link loop?)"),
    (errno.ENAMETOOLONG, "file name too long"), (errno.ENOSPC, "No space left on device"),
    (errno.EROFS, "Read-only file system"), (errno.EIO, "Input/output error"),
])
def test_os_error_words_each_errno_and_names_the_path(code, words):
    e = OSError(code, os.strerror(code), "/some/file")
    assert str(os_error(e)) == f"/some/file: {words}"
    assert str(os_error(e, "other.npz", "write")) == f"cannot write other.npz: {words}"
    assert isinstance(os_error(e), DataError) and os_error(e).exit_code == 1


def test_os_error_clips_a_huge_path_and_works_without_one():
    line = str(os_error(OSError(errno.ENAMETOOLONG, "File name too long", "a" * 5000)))
    assert len(line) < 250 and "5,000 characters" in line and line.endswith("file name too long")
    assert str(os_error(OSError(errno.EIO, "Input/output error"))) == "Input/output error"


@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC, errno.EROFS, errno.ENAMETOOLONG])
def test_an_oserror_no_check_foresaw_is_one_line_at_the_root(monkeypatch, code):
    import attncli.weightsinfo

    def broken(weights):
        raise OSError(code, os.strerror(code), "/disk/w.npz")

    monkeypatch.setattr(attncli.weightsinfo, "weights_info", broken)
    assert_error(cli("weights", "info", "w.npz"), 1, "/disk/w.npz", os_error(OSError(code, os.strerror(code))).args[0])


OUTPUT_SLOTS = {"train wic -o", "train wic --save-config", "--html", "--svg", "explain --html", "eval wic --save-config"}


def test_property_any_hostile_path_in_any_slot_ends_in_one_line(tmp_path):
    """Paths built from hostile parts (a file used as a directory, a loop, a name of 256+
    bytes, control characters, a missing directory, a very long path), in any slot: exit 1
    and one line (escaped), never a traceback. Only an output slot may succeed, when the path
    is a new file in a directory that exists (a name of control characters is a name)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    places = make_places(tmp_path / "up" / "places")  # ".." stays inside tmp_path
    parts = st.sampled_from(["file.txt", "loop-a", "x" * 256, "missing", "\x1b[2J", "a\u202eb", "..", "ü" * 130])
    paths = st.lists(parts, min_size=1, max_size=4).map(lambda ps: str(places.joinpath(*ps)))
    paths = st.one_of(paths, st.integers(2, 5).map(lambda k: str(places) + ("/" + "d" * 250) * k))  # past PATH_MAX

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(path=paths, slot=st.sampled_from(sorted(SLOTS)))
    def run(path, slot):
        if os.path.exists(path):
            return  # places/file.txt itself, or places/..: a real file or directory, not a hostile path
        r = cli(*_args(slot, path, tmp_path))
        assert r.exit_code in (0, 1), (slot, path, r.output)
        assert "Traceback" not in r.stderr and "\x1b" not in r.stderr and "\u202e" not in r.stderr
        if r.exit_code == 1:
            assert len([x for x in r.stderr.splitlines() if x.startswith("attncli: error:")]) == 1, r.stderr
        else:
            assert slot in OUTPUT_SLOTS and os.path.isfile(path), (slot, path)

    run()
