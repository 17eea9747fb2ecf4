"""Saved settings: a JSON object of Config fields, e.g. {"temperature": 0.5, "center": 0}.

Read from the user's config file ($XDG_CONFIG_HOME/attncli/config.json, else
~/.config/attncli/config.json) and from `--config FILE`; written by `eval wic --tune
--save-config FILE`. Keys starting with "_" are notes (where the settings came from) and are
ignored when reading.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from .errors import DataError


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "attncli" / "config.json"


def read_settings(path: str | os.PathLike, fields: set[str]) -> dict:
    """The settings in `path`, checked against the known `fields`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read config: {e}") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: a config file holds one JSON object")
    settings = {k: v for k, v in data.items() if not k.startswith("_")}
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise DataError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(fields))})")
    return settings


def settings_json(config, notes: dict | None = None) -> bytes:
    """The config as a settings file; `notes` go under "_tuned"."""
    data = dataclasses.asdict(config)
    if notes:
        data["_tuned"] = notes
    return (json.dumps(data, indent=2) + "\n").encode()
