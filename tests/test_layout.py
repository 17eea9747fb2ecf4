"""The house rules of the package, checked on its source: typer only in attncli/cli, rich only
there and in render.py, nothing below cli imports cli, and no import cycle anywhere (imports
inside functions count: a cycle hidden in a function is still a cycle)."""

import ast
from pathlib import Path

import attncli

ROOT = Path(attncli.__file__).parent


def modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(("attncli",) + parts)] = path
    return out


def imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports (absolute names), wherever in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)  # `from . import x` names module x
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {m for m in imports(name, path) if m in mods and m != name} for name, path in mods.items()}


def test_typer_and_rich_stay_in_their_rooms():
    for name, path in modules().items():
        used = {m.split(".")[0] for m in imports(name, path)}
        in_cli = name.startswith("attncli.cli")
        assert in_cli or "typer" not in used, f"{name} imports typer"
        assert in_cli or name == "attncli.render" or "rich" not in used, f"{name} imports rich"


def test_the_library_never_imports_the_cli():
    for name, deps in graph().items():
        if not name.startswith("attncli.cli") and name != "attncli.__main__":  # `python -m attncli` runs the CLI
            assert not any(d.startswith("attncli.cli") for d in deps), f"{name} imports {deps}"


def test_no_import_cycle():
    g = graph()
    # the package's __init__ files import their children; children importing the package
    # itself (attncli.cli.x -> attncli.cli) is Python's normal parent import, not a cycle
    edges = {n: {d for d in deps if not n.startswith(d + ".")} for n, deps in g.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n):
        state[n] = 1
        path.append(n)
        for d in sorted(edges[n]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d)
        path.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)


def test_the_checks_see_real_imports():
    g = graph()
    assert "attncli.pipeline" in g["attncli.batch"] and "attncli.attention" in g["attncli.pipeline"]
    assert "attncli.cli.app" in g["attncli.cli.embed"]
