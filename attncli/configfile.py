"""Saved settings: a JSON object of Config fields, e.g. {"temperature": 0.5, "center": 0}.

Read from the user's config file ($XDG_CONFIG_HOME/attncli/config.json, else
~/.config/attncli/config.json) and from `--config FILE`; written by `eval wic --save-config`
and `train wic --save-config`. Keys starting with "_" are notes (where the settings came from)
and are ignored when reading. Every value is checked as the command line checks it
(pipeline.check_option).

A settings file is data that people share: it never switches on `trust` (unpickling runs code).
Only --trust on the command line or ATTNCLI_TRUST in the environment does; a file's "trust"
is ignored (with a warning when it says true) and never written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import report
from .errors import DataError, UsageError, os_error

NEVER_FROM_FILES = ("trust",)


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "attncli" / "config.json"


def user_settings() -> dict:
    """The settings of the user's config file, {} when there is none. A path that cannot even
    be looked at (XDG_CONFIG_HOME too long, a symlink loop, no permission) is one error naming
    where the path came from."""
    import stat

    path = user_config_path()
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as e:
        origin = "XDG_CONFIG_HOME" if os.environ.get("XDG_CONFIG_HOME") else "HOME"
        raise os_error(e, path, f"read the user config file (from {origin})") from None
    return read_settings(path) if stat.S_ISREG(st.st_mode) else {}


MAX_SETTINGS_BYTES = 1 << 20  # a settings file is a few hundred bytes


def read_settings(path: str | os.PathLike) -> dict:
    """The settings in `path`, each checked. A file that cannot be read or is not one JSON
    object: DataError (exit 1); an unknown setting or a value out of range, as the same option
    on the command line: UsageError (exit 2), naming the file and the setting."""
    from .pipeline import Config, check_option

    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SETTINGS_BYTES + 1)  # --config /dev/zero must not fill the memory
        if len(raw) > MAX_SETTINGS_BYTES:
            raise DataError(f"{path}: longer than {MAX_SETTINGS_BYTES:,} bytes: not a settings file")
        data = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a config file") from None
    except OSError as e:
        raise os_error(e, path, "read the settings file") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: cannot read config: not UTF-8 ({e.reason} at byte {e.start})") from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise DataError(f"{path}: not valid JSON: {getattr(e, 'msg', e)}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: a config file holds one JSON object")
    fields = Config.__dataclass_fields__
    settings = {}
    for key, value in data.items():
        if key.startswith("_"):
            continue
        if key not in fields:
            raise UsageError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(set(fields) - set(NEVER_FROM_FILES)))})")
        if key in NEVER_FROM_FILES:
            if value is not False:
                report.note(f"warning: {path}: ignoring {key!r}: only --{key} or ATTNCLI_{key.upper()} can allow it")
            continue
        try:
            check_option(key, value)
        except UsageError as e:
            raise UsageError(f"{path}: setting {key!r}: ", *e.parts) from None
        settings[key] = value
    return settings


ENVIRONMENT = {"vectors": "ATTNCLI_VECTORS", "trust": "ATTNCLI_TRUST"}  # what the CLI takes from the environment


def start_settings(environ=None) -> dict:
    """What the command line starts from before its options: the user's settings file (when
    there is one: user_settings), then ATTNCLI_VECTORS and ATTNCLI_TRUST (a true value: 1,
    true, yes, on), which rank above it as they do on the command line."""
    environ = os.environ if environ is None else environ
    settings = user_settings()
    if environ.get(ENVIRONMENT["vectors"]):
        settings["vectors"] = environ[ENVIRONMENT["vectors"]]
    if ENVIRONMENT["trust"] in environ:
        value = environ[ENVIRONMENT["trust"]].strip().lower()
        if value not in _TRUE + _FALSE:
            raise UsageError(f"{ENVIRONMENT['trust']}={value!r} is not a boolean (1/0, true/false, yes/no, on/off)")
        settings["trust"] = value in _TRUE
    return settings


_TRUE, _FALSE = ("1", "true", "yes", "on", "t", "y"), ("0", "false", "no", "off", "f", "n", "")  # as click reads booleans


def user_config(**changes):
    """The Config the command line starts from before its options: the user's settings file,
    then ATTNCLI_VECTORS and ATTNCLI_TRUST (start_settings), then `changes`. Library calls never
    read these by themselves (docs/python.md#settings-files-and-environment-variables): this
    is the one way to ask for them. `attncli.user_config()`."""
    from .pipeline import Config

    return Config(**{**start_settings(), **changes})


def settings_json(config, notes: dict | None = None) -> bytes:
    """The config as a settings file (never `trust`); `notes` go under "_tuned"."""
    data = {k: v for k, v in config.to_dict().items() if k not in NEVER_FROM_FILES}
    if notes:
        data["_tuned"] = notes
    return (json.dumps(data, indent=2) + "\n").encode()
