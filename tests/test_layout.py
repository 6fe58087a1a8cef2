"""The package's shape: no import cycle between its modules, imports at the top of each module (an import inside
a function only with a comment saying why), and the layers each importing only the ones below it."""

from __future__ import annotations

import ast
from pathlib import Path

import shopfloor

SRC = Path(shopfloor.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py") if "migrations" not in p.parts}


def _imported(node: ast.AST, module: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules one import statement names (``from shopfloor.store import lots`` names the module
    ``shopfloor.store.lots`` when there is one, else the package)."""
    names: set[str] = set()
    if isinstance(node, ast.Import):
        names = {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
        names = {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return {n for n in names if n in modules}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = set().union(*(_imported(n, name, modules) for n in ast.walk(tree))) - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_through_others():
    assert cycles(import_graph()) == []


def test_imports_are_at_the_top_or_say_why():
    hidden = []
    for name, path in sorted(_modules().items()):
        lines = path.read_text(encoding="utf-8").splitlines()
        for func in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    said = "#" in lines[node.lineno - 1] or lines[node.lineno - 2].strip().startswith("#")
                    if not said:
                        hidden.append(f"{name}:{node.lineno}")
    assert hidden == []


# Which layer may import which (by the package each module is in; the modules at the top level by name).
ALLOWED = {
    "model": {"model", "errors"},
    "analytics": {"analytics", "model", "errors"},
    "store": {"store", "model", "analytics", "errors"},
    "reports": {"reports", "model", "errors"},
    "actions": {"actions", "store", "model", "analytics", "reports", "ingest", "simulator", "errors", "live",
                "i18n", "settings"},
    "api": {"api", "actions", "store", "model", "analytics", "reports", "ingest", "errors", "live", "i18n",
            "settings"},
    "web": {"web", "api", "actions", "store", "model", "analytics", "reports", "errors", "live", "i18n",
            "settings"},
}  # fmt: skip


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "shopfloor"


def test_each_layer_imports_only_the_layers_below_it():
    crossing = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if _layer(module) in ALLOWED
        for target in targets
        if _layer(target) not in ALLOWED[_layer(module)] and target != "shopfloor"
    )
    assert crossing == []
