"""The package layout a newcomer reads: no import circle spans two packages, every package says
what it models, and the README's Layout table names what is in the tree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "iokit_host"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every iokit_host module ``name`` imports, TYPE_CHECKING and function-local imports too."""
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}".rstrip(".")
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    resolved = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target.startswith("iokit_host") and target != name:
            resolved.add(target)
    return resolved


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan's, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start, edges in graph.items():
        if start in index:
            continue
        work = [(start, iter(sorted(edges)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def _package_of(name: str, modules: dict[str, Path]) -> str:
    parts = name.split(".")
    if len(parts) == 2 and modules[name].name != "__init__.py":
        return "iokit_host"
    return ".".join(parts[:2])


def test_no_import_circle_spans_two_packages() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    spanning = [sorted(c) for c in _cycles(graph)
                if len({_package_of(m, modules) for m in c}) > 1]
    assert spanning == []


def test_the_kernels_parts_do_not_import_the_concrete_kernel() -> None:
    modules = _modules()
    importers = {name for name, path in modules.items()
                 if "iokit_host.kernel.workloop" in _imports(name, path, modules)}
    assert all(not name.startswith("iokit_host.kernel.") for name in importers)


def test_every_package_opens_with_a_docstring_naming_its_concept() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring, f"{init.relative_to(ROOT)} has no docstring"


def test_the_readme_layout_table_matches_the_tree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = {p.rstrip("/") for p in re.findall(r"`(iokit_host/[\w/.*]+|[\w-]+/)`", table)}
    packages = {str(p.parent.relative_to(ROOT)) for p in PACKAGE.glob("*/__init__.py")}
    assert packages <= named, f"packages missing from the Layout table: {packages - named}"
    for path in named - {"iokit_host/*.py"}:
        assert (ROOT / path).exists(), f"the Layout table names {path}, which is not in the tree"
