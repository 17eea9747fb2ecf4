"""The stages every evaluation prints beside the chosen method (issue 21): what each adds.

static vectors (None: no attention at all), the uniform mean of the context, the prior-only
average (the similarity term off: temperature 1e6, so the weights are the frequency prior alone),
the parameter-free defaults, and the shipped trained W_q, W_k, W_v with the settings they carry.
"""

from __future__ import annotations

from .pipeline import Config, carried_settings


def baseline_configs(config: Config) -> list[tuple[str, Config | None]]:
    """(name, Config) of each stage, over `config`'s vectors; None for static vectors."""
    v = {"vectors": config.vectors}
    return [("static vectors", None),
            ("uniform mean of the context", Config(prior="none", temperature=1e6, **v)),
            ("prior-only average (similarity off)", Config(temperature=1e6, **v)),
            ("parameter-free defaults", Config(**v)),
            ("trained weights (--weights wic)", Config(mode="qkv", weights="wic", **{**carried_settings("wic"), **v}))]
