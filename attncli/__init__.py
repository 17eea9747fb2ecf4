"""attncli: contextual word vectors from static ones, by self-attention, with the work shown.

    >>> import attncli
    >>> attncli.embed("money bank grows").attention   # (3, 3) numpy array

The names below are imported on first use, so `import attncli` stays cheap for the CLI.
"""

__version__ = "0.1.0"
__all__ = ["embed", "embed_batch", "Config", "EmbedResult", "get_vectors", "AttncliError", "DataError", "UsageError"]

_LAZY = {
    "embed": "pipeline",
    "embed_batch": "batch",
    "Config": "pipeline",
    "EmbedResult": "pipeline",
    "get_vectors": "pipeline",
    "AttncliError": "errors",
    "DataError": "errors",
    "UsageError": "errors",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'attncli' has no attribute {name!r}")
