"""`attncli embed` through typer's CliRunner (and a few real subprocesses): every option, every
bad input, the JSON schema, the tables."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.pipeline import Config, embed

from .helpers import SMALL_VECTORS, random_weights

TEXT = "money bank grows"
runner = CliRunner()
CONFIG_KEYS = {f.name for f in dataclasses.fields(Config)}
ATTNCLI = Path(sys.executable).parent / "attncli"  # the venv's console script


def run(*args, env=None):
    return runner.invoke(app, ["embed", *map(str, args)], env=env)


def run_json(*args, env=None):
    r = run(*args, "--json", env=env)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.endswith("\n") and r.stdout.count("\n") == 1  # one line, one object
    doc = json.loads(r.stdout)
    assert isinstance(doc, dict)
    return doc, r


def check_schema(doc, *, n, d=50, d_out=50, heads=1):
    """The documented schema of `embed --json`, exactly."""
    keys = {"tokens", "oov", "vectors", "config", "attention", "static", "contextual"}
    assert set(doc) == keys | ({"heads"} if heads > 1 else set())
    assert list(doc)[:4] == ["tokens", "oov", "vectors", "config"]
    assert isinstance(doc["tokens"], list) and len(doc["tokens"]) == n
    assert all(isinstance(t, str) for t in doc["tokens"])
    for o in doc["oov"]:
        assert set(o) == {"token", "position"}
        assert isinstance(o["token"], str) and isinstance(o["position"], int)
    assert set(doc["vectors"]) == {"name", "dim", "vocab_size"}
    assert doc["vectors"]["dim"] == d
    assert set(doc["config"]) - {"untrained"} == CONFIG_KEYS
    assert np.array(doc["attention"]).shape == (n, n)
    if heads > 1:
        assert np.array(doc["heads"]).shape == (heads, n, n)
    assert np.array(doc["static"]).shape == (n, d)
    assert np.array(doc["contextual"]).shape == (n, d_out)
    sums = np.array(doc["attention"]).sum(1)
    masked = doc["config"]["causal"] and doc["config"]["exclude_self"]  # token 0 sees nothing
    np.testing.assert_allclose(sums[1:] if masked else sums, 1.0, atol=1e-6)
    if masked:
        assert sums[0] == 0.0


def assert_same_as_api(doc, result):
    """JSON floats are full precision: cast to float32 they equal the API's arrays exactly."""
    assert doc["tokens"] == result.tokens
    assert doc["oov"] == result.oov
    assert doc["vectors"] == result.vectors
    want = dataclasses.asdict(result.config) | ({"untrained": True} if result.untrained else {})
    assert doc["config"] == want
    for key in ("attention", "static", "contextual"):
        np.testing.assert_array_equal(np.array(doc[key], dtype=np.float32), getattr(result, key))
    if "heads" in doc:
        np.testing.assert_array_equal(np.array(doc["heads"], dtype=np.float32), result.heads)


def assert_one_line_error(r, code):
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("attncli: error: ") and len(lines[0]) > len("attncli: error: ")
    assert "Traceback" not in r.stderr
    return lines[0]


# ---------------------------------------------------------------- every option, as JSON

OPTIONS = [
    ([], {}),
    (["--vectors", "default"], {}),
    (["--oov", "skip"], {}),
    (["--oov", "zero"], dict(oov="zero")),
    (["--oov", "error"], dict(oov="error")),
    (["--mode", "simple"], {}),
    (["--mode", "qkv"], dict(mode="qkv")),
    (["--mode", "qkv", "--weights", "identity"], dict(mode="qkv")),
    (["--mode", "qkv", "--weights", "random"], dict(mode="qkv", weights="random")),
    (["--mode", "qkv", "--weights", "random", "--seed", "42"], dict(mode="qkv", weights="random", seed=42)),
    (["--seed", "3"], dict(seed=3)),  # recorded; no effect without --weights random
    (["--heads", "2"], dict(heads=2)),
    (["--heads", "5", "--mode", "qkv", "--weights", "random"], dict(heads=5, mode="qkv", weights="random")),
    (["--similarity", "dot"], dict(similarity="dot")),
    (["--similarity", "cosine"], dict(similarity="cosine")),
    (["--scale"], dict(scale=True)),
    (["--no-scale"], dict(scale=False)),
    (["--temperature", "0.25"], dict(temperature=0.25)),
    (["--exclude-self"], dict(exclude_self=True)),
    (["--causal"], dict(causal=True)),
    (["--positions", "none"], {}),
    (["--positions", "sinusoidal"], dict(positions="sinusoidal")),
    (["--prior", "none"], dict(prior="none")),
    (["--include-self"], dict(exclude_self=False)),
    (["--center", "0"], dict(center=0)),
    (["--center", "500"], dict(center=500)),
    (["--textbook"], dict(similarity="dot", scale=True, temperature=1.0, exclude_self=False, prior="none", center=0, residual=0.0)),
    (["--textbook", "--temperature", "2"], dict(similarity="dot", scale=True, temperature=2.0, exclude_self=False, prior="none", center=0, residual=0.0)),
    (["--prior", "zipf"], dict(prior="zipf")),
    (["--prior", "zipf", "--prior-a", "0.01"], dict(prior="zipf", prior_a=0.01)),
    (["--residual", "0.3"], dict(residual=0.3)),
    (["--layers", "3"], dict(layers=3)),
    (["--dims", "3", "--show-static"], {}),  # table-only options leave the JSON alone
    (
        ["--mode", "qkv", "--weights", "random", "--seed", "5", "--heads", "2", "--similarity", "cosine",
         "--no-scale", "--temperature", "2", "--exclude-self", "--causal", "--positions", "sinusoidal",
         "--prior", "zipf", "--prior-a", "0.1", "--residual", "0.5", "--layers", "2", "--oov", "zero"],
        dict(mode="qkv", weights="random", seed=5, heads=2, similarity="cosine", scale=False, temperature=2.0,
             exclude_self=True, causal=True, positions="sinusoidal", prior="zipf", prior_a=0.1, residual=0.5,
             layers=2, oov="zero"),
    ),
]


@pytest.mark.parametrize("args, changes", OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_every_option_json(args, changes):
    doc, r = run_json(TEXT, *args)
    cfg = Config(**changes).resolved()
    check_schema(doc, n=3, heads=cfg.heads)
    api = embed(TEXT, cfg)
    assert_same_as_api(doc, api)
    assert doc["config"] == cfg.to_dict() | ({"untrained": True} if cfg.weights == "random" else {})
    if cfg.causal and cfg.exclude_self:
        assert r.stderr.startswith("attncli: warning: nothing left to attend to") and r.stderr.count("\n") == 1
    else:
        assert r.stderr == ""


def test_random_weights_labelled_untrained_in_json():
    doc, _ = run_json(TEXT, "--mode", "qkv", "--weights", "random", "--seed", "1")
    assert doc["config"]["untrained"] is True
    doc, _ = run_json(TEXT, "--mode", "qkv")
    assert "untrained" not in doc["config"]


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_options_change_the_numbers():
    """Each option reaches the math: its JSON differs from the default run's."""
    base, _ = run_json(TEXT, "--textbook")
    for args in (["--no-scale"], ["--similarity", "cosine"], ["--temperature", "3"], ["--exclude-self"],
                 ["--causal"], ["--positions", "sinusoidal"], ["--prior", "zipf"], ["--heads", "2"], ["--center", "1000"]):
        doc, _ = run_json(TEXT, "--textbook", *args)
        assert doc["attention"] != base["attention"], args
    for args in (["--residual", "0.5"], ["--layers", "2"], ["--mode", "qkv", "--weights", "random"]):
        doc, _ = run_json(TEXT, "--textbook", *args)
        assert doc["contextual"] != base["contextual"], args


def test_heads_key_only_with_several_heads():
    assert "heads" not in run_json(TEXT)[0]
    doc, _ = run_json(TEXT, "--heads", "2")
    h = np.array(doc["heads"])
    np.testing.assert_allclose(np.array(doc["attention"]), h.mean(0), atol=1e-7)


def test_weights_file_option(weights_file):
    path = weights_file(**random_weights())
    doc, _ = run_json(TEXT, "--mode", "qkv", "--weights", path, "--heads", "2")
    check_schema(doc, n=3, d_out=4, heads=2)
    assert doc["config"]["weights"] == str(path) and "untrained" not in doc["config"]
    assert_same_as_api(doc, embed(TEXT, mode="qkv", weights=str(path), heads=2))


@pytest.mark.parametrize("how", ["option", "env"])
def test_vectors_file_option_and_env(word2vec_file, how):
    args, env = (["--vectors", word2vec_file], None) if how == "option" else ([], {"ATTNCLI_VECTORS": str(word2vec_file)})
    doc, _ = run_json("Money bank's river", *args, env=env)
    check_schema(doc, n=4, d=4, d_out=4)
    assert doc["vectors"] == {"name": word2vec_file.name, "dim": 4, "vocab_size": 6}
    assert doc["config"]["vectors"] == str(word2vec_file)
    np.testing.assert_array_equal(np.array(doc["static"], dtype=np.float32), SMALL_VECTORS[[0, 1, 5, 3]])


def test_oov_reported_on_stderr_and_in_json():
    doc, r = run_json("money qqzzxx bank")
    assert doc["tokens"] == ["money", "bank"]
    assert doc["oov"] == [{"token": "qqzzxx", "position": 1}]
    assert r.stderr.count("\n") == 1 and "warning" in r.stderr
    assert "'qqzzxx'" in r.stderr and "skipped" in r.stderr and "position" not in r.stderr
    _, r = run_json("money qqzzxx bank qqzzxx", "--verbose")  # every occurrence, with its position
    assert "'qqzzxx' (position 1), 'qqzzxx' (position 3)" in r.stderr
    _, r = run_json("money qqzzxx bank qqzzxx")  # one word, its count
    assert r.stderr.count("\n") == 1 and "'qqzzxx' x2" in r.stderr
    doc, r = run_json("money qqzzxx bank", "--oov", "zero")
    assert doc["tokens"] == ["money", "qqzzxx", "bank"] and doc["oov"] == [{"token": "qqzzxx", "position": 1}]
    assert doc["static"][1] == [0.0] * 50
    assert "'qqzzxx'" in r.stderr and "zero" in r.stderr


def test_fully_masked_row_warns_and_gives_zeros():
    doc, r = run_json("bank", "--textbook", "--exclude-self")
    assert doc["attention"] == [[0.0]] and doc["contextual"] == [[0.0] * 50]
    assert "nothing left to attend to" in r.stderr and "'bank'" in r.stderr


def test_json_floats_are_full_precision():
    doc, _ = run_json(TEXT)
    values = [v for row in doc["contextual"] for v in row]
    # each is written as its float32's shortest round-trip decimal (orjson's float32 output)
    assert all(float(str(np.float32(v))) == v for v in values)
    # float32 needs up to 9 significant digits; rounding to 6 would show in the digit counts
    digits = [len(f"{abs(v)!r}".split("e")[0].replace(".", "").lstrip("0")) for v in values]
    assert max(digits) >= 8


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "args, code",
    [
        # bad data: exit 1
        ([""], 1),
        (["   "], 1),
        (["?!..."], 1),
        (["qqzzxx blorfq"], 1),
        (["qqzzxx blorfq", "--oov", "zero"], 1),
        (["money qqzzxx", "--oov", "error"], 1),
        ([TEXT, "--vectors", "/nonexistent/vectors.txt"], 1),
        ([TEXT, "--mode", "qkv", "--weights", "/nonexistent/w.npz"], 1),
        # bad usage: exit 2
        ([], 2),
        ([TEXT, "--bogus"], 2),
        ([TEXT, "--mode", "fancy"], 2),
        ([TEXT, "--similarity", "l2"], 2),
        ([TEXT, "--oov", "guess"], 2),
        ([TEXT, "--positions", "learned"], 2),
        ([TEXT, "--prior", "idf"], 2),
        ([TEXT, "--heads", "0"], 2),
        ([TEXT, "--heads", "3"], 2),  # 50 dims do not split into 3 heads
        ([TEXT, "--heads", "two"], 2),
        ([TEXT, "--mode", "qkv", "--weights", "random", "--heads", "7"], 2),
        ([TEXT, "--temperature", "0"], 2),
        ([TEXT, "--temperature", "-1"], 2),
        ([TEXT, "--prior-a", "0"], 2),
        ([TEXT, "--residual", "1.5"], 2),
        ([TEXT, "--residual", "-0.1"], 2),
        ([TEXT, "--layers", "0"], 2),
        ([TEXT, "--layers", "65"], 2),
        ([TEXT, "--dims", "0"], 2),
        ([TEXT, "--seed", "abc"], 2),
        ([TEXT, "--weights", "random", "--mode", "simple"], 2),  # weights need qkv mode (alone, --weights implies it)
        ([TEXT, "--json", "--mode"], 2),  # option without its value
    ],
    ids=lambda v: repr(v)[:60] if isinstance(v, list) else str(v),
)
@pytest.mark.parametrize("json_out", [False, True])
def test_bad_input_is_one_line_and_exit_code(args, code, json_out):
    r = runner.invoke(app, ["embed", *args] + (["--json"] if json_out and args else []))
    assert_one_line_error(r, code)


def _bad_weights(tmp_path, kind):
    path = tmp_path / f"{kind}.npz"
    a = random_weights()
    if kind == "not-a-zip":
        path.write_text("W_q = [[1, 2], [3, 4]]\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "npy":
        np.save(tmp_path / "npy.npy", a["W_q"])
        (tmp_path / "npy.npy").rename(path)
    elif kind == "pickle":
        a["W_o"] = np.array([{"W": 1}], dtype=object)
        np.savez(path, **a)
    elif kind == "shape":
        a["W_k"] = np.zeros((50, 7), np.float32)
        np.savez(path, **a)
    elif kind == "missing-key":
        del a["W_q"]
        np.savez(path, **a)
    elif kind == "nan":
        a["b_v"][0] = np.nan
        np.savez(path, **a)
    elif kind == "heads":  # fits, but 8 and 6 columns do not split into 4 heads
        np.savez(path, **a)
    return path


@pytest.mark.parametrize("kind", ["not-a-zip", "empty", "npy", "pickle", "shape", "missing-key", "nan", "heads"])
def test_bad_weights_file_is_one_line_exit_1(tmp_path, kind):
    path = _bad_weights(tmp_path, kind)
    heads = ["--heads", "4"] if kind == "heads" else []
    line = assert_one_line_error(run(TEXT, "--mode", "qkv", "--weights", path, *heads, "--json"), 1)
    assert str(path) in line
    if kind == "shape":
        assert "W_k" in line and "(50, 8)" in line and "(50, 7)" in line
    if kind == "missing-key":
        assert "W_q" in line
    if kind == "pickle":
        assert "pickle" in line


def test_weights_file_output_too_narrow_for_layers_is_usage_error(weights_file):
    path = weights_file(**random_weights())  # d_out 4 != d 50: cannot stack layers
    line = assert_one_line_error(run(TEXT, "--mode", "qkv", "--weights", path, "--layers", "2"), 2)
    assert "d_out" in line


@pytest.mark.parametrize("content", ["hello world foo\nbar 1 2\n", ""])
def test_bad_vector_file_is_one_line_exit_1(tmp_path, content):
    path = tmp_path / "v.txt"
    path.write_text(content)
    assert_one_line_error(run(TEXT, "--vectors", path), 1)
    assert_one_line_error(run(TEXT, "--vectors", tmp_path), 1)  # a directory


def test_bare_attncli_shows_help_without_an_error_line():
    r = runner.invoke(app, [])
    assert "Usage" in r.stdout and "embed" in r.stdout
    assert "error" not in r.stderr


def test_help_lists_every_option():
    r = runner.invoke(app, ["embed", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for name in CONFIG_KEYS | {"json", "dims", "show_static"}:
        assert f"--{name.replace('_', '-')}" in r.stdout, name
    assert "--no-scale" in r.stdout


# ---------------------------------------------------------------- tables


def table(*args, env=None):
    r = run(*args, env={"COLUMNS": "80", **(env or {})})
    assert r.exit_code == 0, r.stderr
    return r.stdout


def test_table_output_has_caption_and_both_tables():
    out = table(TEXT, "--textbook")
    lines = out.splitlines()
    assert lines[0].startswith("vectors glove-6b-50d-100k (50d, 100,000 words)")
    assert "simple, dot / sqrt(d_k)" in lines[0]
    assert "Attention" in out and "Contextual vectors (50 dims)" in out
    assert "Static vectors" not in out
    # the attention table shows every weight, rounded to 2 decimals, row by row
    api = embed(TEXT, Config.textbook())
    for tok, row in zip(api.tokens, api.attention):
        want = [f"{w:.2f}" for w in row]
        assert any(line.split()[:4] == [tok, *want] for line in lines), (tok, want)
    # the contextual table: first 8 dims, the title says so (no ellipsis column), the norm of all 50
    assert re.search(r"\bd7\b", out) and not re.search(r"\bd8\b", out) and "norm" in out
    assert "d0-d7 shown" in out and "…" not in out
    cells = next(line for line in lines if line.split()[:1] == ["bank"] and len(line.split()) == 10).split()
    assert cells[1:9] == [f"{v:+.2f}" for v in api.contextual[1, :8]]
    assert cells[9] == f"{np.linalg.norm(api.contextual[1]):.2f}"


def test_table_show_static_and_dims():
    out = table(TEXT, "--show-static", "--dims", "3", "--center", "0")  # uncentered: the raw static vectors
    assert "Static vectors x_i (50 dims)" in out and "Contextual vectors (50 dims)" in out
    assert re.search(r"\bd2\b", out) and not re.search(r"\bd3\b", out)
    # "bank" static: GloVe's 0.66488 -0.11391 0.67844 stored as float16 (0.665039...)
    assert any(line.split()[:4] == ["bank", "+0.67", "-0.11", "+0.68"] for line in out.splitlines())


def _rows(out: str, title: str, tokens: list[str], dims: int) -> np.ndarray:
    """The numbers of the table under `title`: one row per token, the first `dims` columns."""
    lines = out[out.index(title):].splitlines()
    rows = []
    for tok in tokens:
        cells = next(line for line in lines if line.split()[:1] == [tok]).split()
        rows.append([float(c) for c in cells[1:1 + dims]])
    return np.array(rows)


def test_show_static_gives_the_formula_inputs_so_the_rows_can_be_redone():
    """The contextual rows from embed's own tables: new_i = r x_i + (1 - r) sum_j a_ij x_j with x
    the centered static vectors the table shows (not the raw ones: those do not add up)."""
    out = table(TEXT, "--show-static", "--dims", "4")
    assert "Static vectors x_i, centered (50 dims)" in out and "new_i = 0.2 x_i + 0.8 sum_j a_ij x_j" in out
    doc, _ = run_json(TEXT)
    tokens, a = doc["tokens"], np.array(doc["attention"])
    x = _rows(out, "Static vectors", tokens, 4)
    new = _rows(out, "Contextual vectors", tokens, 4)
    redone = 0.2 * x + 0.8 * a @ x
    np.testing.assert_allclose(redone, new, atol=0.011)  # two decimals in the tables
    raw = np.array(doc["static"])[:, :4]
    assert np.abs(0.2 * raw + 0.8 * a @ raw - new).max() > 0.05  # the raw vectors would not add up


def test_table_small_vectors_no_ellipsis(glove_file):
    out = table(TEXT, "--vectors", glove_file, "--dims", "8")
    assert re.search(r"\bd3\b", out) and not re.search(r"\bd4\b", out) and "…" not in out
    assert "small.glove.txt (4d, 6 words)" in out


def test_table_heads_and_untrained_label():
    out = table(TEXT, "--mode", "qkv", "--weights", "random", "--seed", "3", "--heads", "2")
    assert "Head 1 of 2" in out and "Head 2 of 2" in out
    assert "untrained" in out.splitlines()[0] + out.splitlines()[1]  # caption
    assert "random and untrained" in out  # note under the contextual table
    assert "untrained" not in table(TEXT, "--mode", "qkv")


def test_table_caption_names_options():
    out = table(TEXT, "--similarity", "cosine", "--no-scale", "--causal", "--exclude-self", "--temperature", "2")
    caption = " ".join(out.split("Attention")[0].split())
    for word in ("cosine", "causal", "exclude-self", "T=2"):
        assert word in caption
    assert "sqrt" not in caption


@pytest.mark.parametrize(
    "args",
    [
        [TEXT],
        [TEXT, "--show-static"],
        ["The Bank's money grows.", "--show-static", "--dims", "8"],
        [TEXT, "--mode", "qkv", "--weights", "random", "--seed", "12345", "--heads", "5", "--causal",
         "--exclude-self", "--positions", "sinusoidal", "--prior", "zipf", "--residual", "0.5", "--layers", "2"],
    ],
)
def test_table_fits_80_columns(args):
    out = table(*args)
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    # readable: the attention table's header shows every token whole, nothing cut to "…"
    header = next(line for line in lines if "query \\ key" in line)
    assert header.split()[3:] == embed(args[0]).surfaces


# Colour escapes (SGR parameters 30-49, 90-107) as opposed to bold and dim (1, 2).
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _colour_codes(text):
    found = []
    for params in _SGR.findall(text):
        p = [int(x) for x in params.split(";") if x]
        found += [x for x in p if 30 <= x <= 49 or 90 <= x <= 107]
    return found


def test_colour_in_a_terminal_and_none_with_no_color():
    coloured = table(TEXT, "--textbook", env={"FORCE_COLOR": "1"})  # as on a terminal
    assert _colour_codes(coloured)  # heat cells are coloured
    plain = table(TEXT, "--textbook", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert _colour_codes(plain) == []
    assert "0.88" in plain  # the weights are still printed as numbers


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_no_escape_codes_when_piped_with_no_color():
    r = subprocess.run([ATTNCLI, "embed", TEXT], capture_output=True, text=True, env=os.environ | {"NO_COLOR": "1", "COLUMNS": "80"}, timeout=60)
    assert r.returncode == 0 and "\x1b" not in r.stdout and "Contextual vectors" in r.stdout
    assert max(map(len, r.stdout.splitlines())) <= 80


# ---------------------------------------------------------------- real processes


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_python_dash_m_attncli():
    r = subprocess.run([sys.executable, "-m", "attncli", "embed", TEXT, "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    check_schema(doc, n=3)
    assert_same_as_api(doc, embed(TEXT))
    r = subprocess.run([sys.executable, "-m", "attncli", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "attncli 0.1.0"


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("args, code", [(["embed", ""], 1), (["embed", TEXT, "--heads", "3"], 2)])
def test_errors_from_a_real_process(args, code):
    r = subprocess.run([ATTNCLI, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == code and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("attncli: error: ")


LONG = " ".join(["the money in the bank grows while the river bank floods"] * 15)  # ~300 KB of JSON


@pytest.mark.parametrize(
    "text, tail, want",
    [(TEXT, "--json | head -c 10", '{"tokens":'), (LONG, "--json | head -c 10", '{"tokens":'), (TEXT, "| head -n 1", "vectors glove")],
)
@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_closed_pipe_ends_quietly(text, tail, want):
    assert ATTNCLI.exists()
    r = subprocess.run(["sh", "-c", f'"$0" embed "$1" {tail}', str(ATTNCLI), text], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0  # head's status
    assert r.stdout.startswith(want)
    assert "Traceback" not in r.stderr and "Exception" not in r.stderr and "Error" not in r.stderr, r.stderr
    assert r.stderr == ""
