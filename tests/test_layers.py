"""The three layers of ``vna`` (README, "Architecture"), enforced from the source with ``ast``.

* the paper (``vna/*.py``: models, losses, metrics, train, evaluation, linear, methods) imports nothing of
  ``vna.study`` or ``vna.chapters``;
* ``vna.data`` imports neither;
* ``vna.study`` does not import ``vna.chapters``;
* there is no import cycle among ``vna`` modules, counting imports inside functions too;
* an import of a ``vna`` module inside a function says why in a comment (``# local: ...``).

The package's doors -- ``vna/__init__.py`` (re-exports ``RunConfig``), ``vna/__main__.py`` and ``vna/cli.py``
(parses arguments and dispatches to the study) -- may import every layer.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "vna"
DOORS = {"vna", "vna.__main__", "vna.cli"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The ``vna`` modules an ``ImportFrom`` names (``from . import x`` names module ``x`` when it is one)."""
    if node.level:
        base = module.split(".") if _is_package(module) else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not (target == "vna" or target.startswith("vna.")):
        return []
    out = [target] if target in MODULES else []
    out += [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    return out or [target]


def _imports(module: str) -> list[tuple[str, int, bool]]:
    """``(imported vna module, line, inside a function)`` for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, local) for a in child.names
                             if a.name == "vna" or a.name.startswith("vna."))
            elif isinstance(child, ast.ImportFrom):
                found.extend((t, child.lineno, local) for t in _resolve(module, child))
            visit(child, inner)

    visit(tree, False)
    return found


GRAPH = {m: sorted({t for t, _, _ in _imports(m) if t != m}) for m in MODULES}


def _layer(name: str) -> str:
    if name in DOORS:
        return "door"
    for layer in ("vna.data", "vna.study", "vna.chapters"):
        if name == layer or name.startswith(layer + "."):
            return layer
    return "paper"


FORBIDDEN = {"paper": {"vna.study", "vna.chapters"}, "vna.data": {"vna.study", "vna.chapters"},
             "vna.study": {"vna.chapters"}, "vna.chapters": set(), "door": set()}


def test_the_layers_are_where_the_readme_says():
    assert {"vna.models", "vna.losses", "vna.metrics", "vna.train", "vna.evaluation", "vna.linear",
            "vna.methods"} <= {m for m in MODULES if _layer(m) == "paper"}
    assert {"vna.study.config", "vna.study.grids", "vna.study.analyses", "vna.study.pipeline", "vna.study.runner",
            "vna.study.record", "vna.study.store", "vna.study.tables", "vna.study.stats", "vna.study.report",
            "vna.study.registry"} <= set(MODULES)
    assert "vna.names" in {m for m in MODULES if _layer(m) == "paper"}  # every layer names things from it
    assert {"vna.chapters.notebook", "vna.chapters.plots", "vna.chapters.figures"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_layer_above_its_own(module):
    bad = [t for t in GRAPH[module] if _layer(t) in FORBIDDEN[_layer(module)]]
    assert not bad, f"{module} ({_layer(module)}) imports {bad}"


def test_no_import_cycle_among_vna_modules():
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in GRAPH.get(m, []):
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t in MODULES and not state.get(t):
                walk(t)
        stack.pop()
        state[m] = 2

    for m in MODULES:
        if not state.get(m):
            walk(m)


def test_every_local_import_of_a_vna_module_says_why():
    missing = []
    for module, path in MODULES.items():
        lines = path.read_text().splitlines()
        for target, line, local in _imports(module):
            if local:
                near = lines[line - 1] + " " + (lines[line - 2] if line >= 2 else "")
                if "# local:" not in near:
                    missing.append(f"{path.relative_to(ROOT.parent)}:{line} imports {target}")
    assert not missing, "local imports without a '# local: why' comment:\n" + "\n".join(missing)


def test_the_test_sees_a_planted_upward_import(tmp_path, monkeypatch):
    """The checks are not vacuous: a paper module importing the study is caught."""
    fake = {**MODULES, "vna.planted": tmp_path / "planted.py"}
    (tmp_path / "planted.py").write_text("from .study.store import load_records\n")
    monkeypatch.setitem(globals(), "MODULES", fake)
    targets = [t for t, _, _ in _imports("vna.planted")]
    assert "vna.study.store" in targets and _layer("vna.planted") == "paper"
    assert _layer("vna.study.store") in FORBIDDEN["paper"]
