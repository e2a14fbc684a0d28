"""Package layout: two pipelines, ``hrtem`` and ``stem``, side by side over a shared ``core``.

Dependency rule, checked on the source with :mod:`ast` (imports inside functions included, and
``"atomcount.x.y"`` strings of lazy-import tables):

* ``atomcount.hrtem`` and ``atomcount.stem`` never import each other, directly or through
  another module of the package (e.g. a benchmark);
* ``atomcount.core`` imports no pipeline and none of the top-level consumers
  (``movie``, ``model3d``, ``bench``, ``commands``, ``cli``);
* the pipelines import none of ``movie``, ``model3d``, ``commands``, ``cli``, and ``hrtem``
  does not import ``bench`` (``stem.ppiscs.cli`` runs one benchmark).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import atomcount

PACKAGE = Path(atomcount.__file__).resolve().parent

#: what may sit at the top level of the package
TOP_LEVEL = {"__init__.py", "__main__.py", "cli.py", "core", "io", "hrtem", "stem", "model3d", "movie",
             "bench", "commands", "models", "data"}

#: the top-level consumers of the pipelines
_CONSUMERS = ("atomcount.movie", "atomcount.model3d", "atomcount.commands", "atomcount.cli")

#: package -> packages it must not import. ``atomcount.bench`` is not forbidden to ``stem``:
#: ``atomcount ppiscs validate`` (``stem.ppiscs.cli``) runs a benchmark; the transitive check
#: still keeps the pipelines apart through it.
FORBIDDEN = {
    "atomcount.core": ("atomcount.hrtem", "atomcount.stem", "atomcount.bench") + _CONSUMERS,
    "atomcount.hrtem": ("atomcount.stem", "atomcount.bench") + _CONSUMERS,
    "atomcount.stem": ("atomcount.hrtem",) + _CONSUMERS,
}

_MODULE_STRING = re.compile(r"^atomcount(\.[A-Za-z_]\w*)+(:[A-Za-z_]\w*)?$")


def module_name(path: Path) -> str:
    """Dotted name of a source file of the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, name: str, is_package: bool) -> set[str]:
    """Every ``atomcount`` module a source imports, anywhere in it.

    ``from a.b import c`` yields ``a.b`` and ``a.b.c`` (``c`` may be a module); relative
    imports are resolved against ``name``; string constants such as ``"atomcount.x.y:f"``
    (lazy-import tables) count as imports of ``atomcount.x.y``.
    """
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.match(node.value):
            found.add(node.value.split(":")[0])
    return {m for m in found if m == "atomcount" or m.startswith("atomcount.")}


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (names that are not modules are dropped)."""
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f): f for f in files}
    graph = {}
    for name, f in modules.items():
        targets = imported_modules(f.read_text(encoding="utf-8"), name, f.name == "__init__.py")
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def violations(graph: dict[str, set[str]], transitive: bool) -> list[str]:
    """``"importer -> imported"`` for each broken rule (with the chain when transitive)."""
    found = []
    for name in sorted(graph):
        for package, forbidden in FORBIDDEN.items():
            if not _within(name, package):
                continue
            # breadth-first over imports, remembering how each module was reached
            reached = {t: [name, t] for t in graph[name]}
            todo = list(reached) if transitive else []
            while todo:
                current = todo.pop()
                for t in graph.get(current, ()):
                    if t not in reached:
                        reached[t] = reached[current] + [t]
                        todo.append(t)
            for target, chain in sorted(reached.items()):
                if any(_within(target, f) for f in forbidden):
                    found.append(" -> ".join(chain))
    return found


def test_top_level_holds_only_the_planned_entries():
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    assert entries <= TOP_LEVEL, sorted(entries - TOP_LEVEL)
    assert {"core", "hrtem", "stem"} <= entries


def test_direct_imports_follow_the_dependency_rule():
    assert violations(import_graph(), transitive=False) == []


def test_no_pipeline_reaches_the_other_through_a_third_module():
    assert violations(import_graph(), transitive=True) == []


@pytest.mark.parametrize("source, name, expected", [
    ("def f():\n    from atomcount.hrtem.labels import SIGMA\n", "atomcount.stem.x", {"atomcount.hrtem.labels",
                                                                             "atomcount.hrtem.labels.SIGMA"}),
    ("import atomcount.stem.counting as c\n", "atomcount.core.x", {"atomcount.stem.counting"}),
    ("from .. import curve\n", "atomcount.stem.ppiscs.applications.fit",
     {"atomcount.stem.ppiscs", "atomcount.stem.ppiscs.curve"}),
    ("T = {'f': 'atomcount.hrtem.analysis.count:count_columns'}\n", "atomcount.x",
     {"atomcount.hrtem.analysis.count"}),
])
def test_import_parser_sees_nested_relative_and_lazy_imports(source, name, expected):
    assert imported_modules(source, name, is_package=False) == expected


def test_rule_catches_a_violation():
    graph = {"atomcount.core.a": {"atomcount.bench.b"}, "atomcount.bench.b": set(),
             "atomcount.io.c": {"atomcount.stem.e"}, "atomcount.hrtem.d": {"atomcount.io.c"},
             "atomcount.stem.e": set()}
    assert violations(graph, transitive=False) == ["atomcount.core.a -> atomcount.bench.b"]
    assert violations(graph, transitive=True) == [
        "atomcount.core.a -> atomcount.bench.b", "atomcount.hrtem.d -> atomcount.io.c -> atomcount.stem.e"]


def test_every_benchmark_module_runs_as_a_script():
    """``python -m atomcount.bench.<name>`` is each benchmark's documented command: each module ends in a main guard."""
    import atomcount.bench

    folder = Path(atomcount.bench.__file__).parent
    missing = [p.name for p in folder.glob("*.py")
               if p.stem not in ("__init__", "__main__") and 'if __name__ == "__main__":' not in p.read_text()]
    assert missing == []
