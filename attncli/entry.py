"""Modules that are also their main function: `attncli.senses(...)`, `attncli.explain(...)`,
`attncli.pseudowords(...)`.

Each of these names is both a submodule (attncli/senses.py) and the function it defines
(senses.senses). Once the submodule is imported, Python binds the package's attribute to the
module, whatever the package set before; so the module itself is made callable, and calling it
calls its function. `inspect.signature` (and so a notebook's `?`) shows the function's
signature, through `__wrapped__`.
"""

from __future__ import annotations

import sys
import types


class EntryModule(types.ModuleType):
    """A module that, called, calls its function of the same name."""

    def __call__(self, *args, **kwargs):
        return self.__wrapped__(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Call at the end of module `module_name`: it becomes callable as its function of the same name."""
    module = sys.modules[module_name]
    module.__wrapped__ = getattr(module, module_name.rpartition(".")[2])
    module.__class__ = EntryModule
