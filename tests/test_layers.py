"""The architecture as a test: arrows point one way, no module imports in a circle, conventions export all.

Imports are read from the source with :mod:`ast` (module level and inside functions alike), so a lazy import
counts too. Layers, lowest first (``docs/architecture.md``): conventions → BTP clients → config, credentials,
catalog, operator Secret → providers → components → program; the offline tools, the policy rules, the CLI,
the sandbox and the test machinery sit beside them and may use the layers, never the other way round. The
Kubernetes facade (``btp_infra.kube``) is a layer of the BTP clients' height; the day-2 operations
(``btp_infra.operations``) sit beside the CLI, which imports them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from btp_infra import conventions

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "btp_infra"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The ``btp_infra`` modules that ``name`` imports (resolved to modules, not names in them)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("btp_infra"):
                found.add(target)
    return found


GRAPH: dict[str, set[str]] = {name: imports_of(name) for name in MODULES}


def under(prefix: str) -> Iterator[str]:
    return (m for m in MODULES if m == prefix or m.startswith(prefix + "."))


def reaches(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in GRAPH[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_conventions_import_nothing_of_btp_infra() -> None:
    assert GRAPH["btp_infra.conventions"] == set()


@pytest.mark.parametrize(
    ("layer", "allowed"),
    [
        # The BTP clients: their own package, the shared names and the input limits only.
        ("btp_infra.btp", ("btp_infra.btp", "btp_infra.conventions", "btp_infra.limits", "btp_infra")),
        # The Kubernetes facade of the day-2 operations: the layer of the BTP clients (issue 13).
        ("btp_infra.kube", ("btp_infra.kube", "btp_infra.conventions", "btp_infra")),
        # The policy rules must start inside the pack's analyzer without the renderer, providers or program.
        (
            "btp_infra.policy",
            (
                "btp_infra.policy",
                "btp_infra.conventions",
                "btp_infra.operator_secret",
                "btp_infra.catalog",
                "btp_infra.limits",
                "btp_infra",
            ),
        ),
    ],
)
def test_low_layers_import_only_what_is_below_them(layer: str, allowed: tuple[str, ...]) -> None:
    def ok(target: str) -> bool:
        return any(target == a or (a != "btp_infra" and target.startswith(a + ".")) for a in allowed)

    wrong = {m: sorted(t for t in GRAPH[m] if not ok(t)) for m in under(layer)}
    assert {m: t for m, t in wrong.items() if t} == {}


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("btp_infra.providers", "btp_infra.components"),
        ("btp_infra.providers", "btp_infra.program"),
        ("btp_infra.components", "btp_infra.program"),
        ("btp_infra.config", "btp_infra.providers"),
        ("btp_infra.config", "btp_infra.components"),
        ("btp_infra.btp", "btp_infra.config"),
        ("btp_infra.btp", "btp_infra.providers"),
        ("btp_infra.providers", "btp_infra.cli"),
        ("btp_infra.components", "btp_infra.cli"),
        ("btp_infra.program", "btp_infra.cli"),
        ("btp_infra.providers", "btp_infra.sandbox"),
        ("btp_infra.program", "btp_infra.sandbox"),
        ("btp_infra.program", "btp_infra.testing"),
        ("btp_infra.providers", "btp_infra.testing"),
        ("btp_infra.components", "btp_infra.testing"),
        # Day-2 operations (issue 13): kube is low, operations sit beside the CLI, which imports them.
        ("btp_infra.kube", "btp_infra.config"),
        ("btp_infra.kube", "btp_infra.testing"),
        ("btp_infra.providers", "btp_infra.kube"),
        ("btp_infra.components", "btp_infra.kube"),
        ("btp_infra.program", "btp_infra.kube"),
        ("btp_infra.operations", "btp_infra.cli"),
        ("btp_infra.operations", "btp_infra.testing"),
        ("btp_infra.operations", "btp_infra.sandbox"),
        ("btp_infra.providers", "btp_infra.operations"),
        ("btp_infra.components", "btp_infra.operations"),
        ("btp_infra.program", "btp_infra.operations"),
    ],
)
def test_arrows_point_one_way(lower: str, higher: str) -> None:
    offending = {m: sorted(t for t in reaches(m) if t in set(under(higher))) for m in under(lower)}
    assert {m: t for m, t in offending.items() if t} == {}


def test_no_module_imports_in_a_circle() -> None:
    """Strongly connected components of the import graph (Tarjan). A module importing its own parent
    package (which Python resolves through ``pkg/__init__``) is not counted as an edge."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def edges(node: str) -> set[str]:
        # `import btp_infra.x.y` names the package btp_infra.x too; a module importing its parent package's
        # __init__ is how Python resolves it, not a dependency of the design.
        return {t for t in GRAPH[node] if not node.startswith(t + ".")}

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges(node):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in GRAPH:
        if name not in index:
            visit(name)
    assert cycles == []


def test_conventions_declare_what_they_export() -> None:
    """Every constant and function defined there is in ``__all__`` (and nothing else is)."""

    def defined_here(name: str) -> bool:
        value = getattr(conventions, name)
        if callable(value):
            return getattr(value, "__module__", "") == conventions.__name__
        return name.isupper()

    public = {n for n in vars(conventions) if not n.startswith("_") and defined_here(n)}
    assert set(conventions.__all__) == public
