"""attncli: contextual word vectors from static ones, by self-attention, with the work shown.

    >>> import attncli
    >>> r = attncli.embed("money bank grows")
    >>> r.tokens, r.attention.shape, r.contextual.shape
    (['money', 'bank', 'grows'], (3, 3), (3, 50))
    >>> [x.tokens for x in attncli.embed(["money bank grows", "bank river flows"])]
    [['money', 'bank', 'grows'], ['bank', 'river', 'flows']]

Every command has its function here: embed, compare, explain, senses, pseudowords,
embed_batch; their results show as short reprs, and as the `--html` views inline in a
notebook. Library calls read no settings file and no environment variable
(`user_config()` asks for them). The page for notebook users: docs/python.md.

The names below are imported on first use, so `import attncli` stays cheap for the CLI.
"""

__version__ = "0.1.0"

# name -> the module (of this package) that defines it
_LAZY = {
    "embed": "api",
    "compare": "pipeline",
    "explain": "explain",
    "senses": "senses",
    "pseudowords": "pseudowords",
    "embed_batch": "batch",
    "get_vectors": "pipeline",
    "user_config": "configfile",
    "neighbors": "pipeline",
    "Config": "pipeline",
    "SenseOptions": "grouping",
    "EmbedResult": "pipeline",
    "CompareResult": "pipeline",
    "Explanation": "explain",
    "SensesResult": "senses",
    "PseudowordResult": "pseudowords",
    "BatchError": "batch",
    "POOLS": "pooling",
    "AttncliError": "errors",
    "DataError": "errors",
    "UsageError": "errors",
}
__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        if name == _LAZY[name]:  # explain, senses, pseudowords: the module, callable as its function (entry.py)
            return module
        value = getattr(module, name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'attncli' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY})
