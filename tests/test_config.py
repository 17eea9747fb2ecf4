"""Config keeps what was chosen apart from the mode's defaults; settings files are checked with
the command line's rules and can never allow unpickling."""

import json
import pickle

import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.errors import UsageError
from attncli.pipeline import LIMITS, MODE_DEFAULTS, Config

TEXT = "money bank grows"


def run(*args, **kw):
    return CliRunner().invoke(app, list(args), **kw)


def test_explicit_choices_survive_a_mode_change():
    cfg = Config(similarity="cosine").replace(mode="qkv")
    assert cfg.resolved().similarity == "cosine"  # chosen: kept
    assert cfg.resolved().scale is True  # not chosen: the new mode's default
    assert Config().replace(mode="qkv").resolved().to_dict() == Config(mode="qkv").resolved().to_dict()


def test_resolved_fills_exactly_the_mode_defaults():
    for mode, defaults in MODE_DEFAULTS.items():
        r = Config(mode=mode).resolved()
        assert {k: getattr(r, k) for k in defaults} == defaults
        assert r.resolved() is r
    assert Config().similarity is None and not Config().is_resolved


def test_settings_take_every_attention_option_from_the_resolved_config():
    s = Config(temperature=0.5, layers=3, causal=True).settings
    assert (s.similarity, s.scale, s.temperature, s.exclude_self, s.causal, s.residual, s.layers) == (
        "cosine", False, 0.5, True, True, 0.2, 3)


@pytest.mark.parametrize("changes", [
    dict(heads=2.5), dict(heads=True), dict(seed="abc"), dict(causal="false"), dict(layers=1_000_000),
    dict(layers=0), dict(temperature=float("inf")), dict(temperature=float("nan")), dict(prior_a=0.0),
    dict(residual=1.5), dict(seed=-1), dict(seed=2**64), dict(center=-1), dict(limit=0), dict(mode="fancy"),
    dict(similarity="euclid"), dict(scale="yes"),
])
def test_bad_values_are_refused_by_config(changes):
    """Python callers read the argument's name; the CLI (option_style("cli")) its flag."""
    from attncli.errors import option_style

    name = next(iter(changes))
    with pytest.raises(UsageError) as e:
        Config(**changes)
    assert str(e.value).startswith(name + " must ") and "--" not in str(e.value)
    with option_style("cli"):
        assert str(e.value).startswith("--" + name.replace("_", "-") + " must ")


@pytest.mark.parametrize("setting", [
    {"heads": 2.5}, {"heads": True}, {"seed": "abc"}, {"causal": "false"}, {"layers": 1_000_000},
    {"temperature": 1e-300}, {"prior_a": -1}, {"residual": 2}, {"fancy": 1}, {"center": 2**64},
])
def test_bad_settings_files_are_one_line_naming_the_file(tmp_path, setting):
    """A setting out of range or unknown is a usage error (exit 2), as on the command line."""
    f = tmp_path / "s.json"
    f.write_text(json.dumps(setting))
    r = run("embed", TEXT, "--json", "--config", str(f))
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"attncli: error: {f}: ") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr


def test_causal_false_as_a_string_never_turns_causal_on(tmp_path):
    f = tmp_path / "s.json"
    f.write_text('{"causal": false}')
    assert json.loads(run("embed", TEXT, "--json", "--config", str(f)).stdout)["config"]["causal"] is False


def test_command_line_ranges_come_from_the_same_limits():
    r = run("embed", TEXT, "--layers", str(LIMITS["layers"][1] + 1))
    assert r.exit_code == 2 and "--layers" in r.stderr
    r = run("embed", TEXT, "--seed", "-1", "--mode", "qkv", "--weights", "random")
    assert r.exit_code == 2 and "--seed" in r.stderr and "--heads" not in r.stderr


class _Marker:
    """Unpickling this creates the file `path`: what a hostile pickle would do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("where", ["--config", "user file"])
@pytest.mark.parametrize("value", [True, "yes", "no", 1])
def test_a_settings_file_never_allows_unpickling(tmp_path, monkeypatch, where, value):
    marker = tmp_path / "pwned"
    kv = tmp_path / "evil.kv"
    kv.write_bytes(pickle.dumps(_Marker(marker)))
    settings = {"trust": value, "vectors": str(kv), "vectors_format": "kv"}
    args = ["embed", TEXT, "--json"]
    if where == "--config":
        f = tmp_path / "s.json"
        f.write_text(json.dumps(settings))
        args += ["--config", str(f)]
    else:
        xdg = tmp_path / "xdg"
        (xdg / "attncli").mkdir(parents=True)
        (xdg / "attncli" / "config.json").write_text(json.dumps(settings))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    r = run(*args)
    assert r.exit_code == 1 and "--trust" in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists()
    if value is not False:
        assert "ignoring 'trust'" in r.stderr


def test_save_config_never_writes_trust(tmp_path):
    from attncli.configfile import settings_json

    data = json.loads(settings_json(Config(trust=True)))
    assert "trust" not in data and data["similarity"] == "cosine"


@pytest.mark.parametrize("command", [["vectors", "info", "--json"], ["vectors", "neighbors", "bank", "--json"],
                                     ["embed", TEXT, "--json"], ["batch", "-i", "-"]])
def test_integers_past_64_bits_are_refused_by_every_command(command):
    r = run(*command, "--limit", str(2**64), input="money bank grows\n")
    assert r.exit_code == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.startswith("attncli: error: --limit must be between 1 and") and r.stderr.count("\n") == 1
