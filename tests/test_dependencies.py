"""pyproject.toml declares what vna imports, and nothing it does not (read from the source with ``ast``).

* an import at a module's top level is a core dependency: every module of vna imports without an extra;
* an import inside a function (or under ``if TYPE_CHECKING:``) is a core dependency, or one of the extra
  :data:`EXTRA_OF` names for its place (``paper`` for ``vna/data/paper/``, the paper's own datasets);
* every core and ``paper``/``cluster`` dependency is imported by vna, or used through another package for a
  reason this file names and the source still shows (:data:`INDIRECT`);
* every ``book``/``test`` dependency is used by the notebooks, scripts, book, tests or Makefile;
* requirements.txt pins every declared package, and pins nothing that no declared package needs.
"""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from fresh_env import needs, norm as _norm
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

#: Packages vna needs without importing them: name -> (why, a pattern the source of vna/ must still show).
INDIRECT = {
    "tabulate": ("pandas' DataFrame.to_markdown writes the report's Markdown tables with it", r"\.to_markdown\("),
    "h5netcdf": ("xarray's engine for Brain-Score's netCDF assembly (majajhong2015)", r"h5netcdf"),
}
#: Where an import inside a function may come from an extra: file or folder of vna -> that extra. Anywhere else it
#: is a core dependency (imported late only to keep ``import vna`` quick).
EXTRA_OF = {"vna/data/paper/": "paper", "vna/study/runner.py": "cluster", "vna/chapters/": "book"}


CORE = {_norm(Requirement(r).name) for r in PROJECT["dependencies"]}
EXTRAS = {extra: {_norm(Requirement(r).name) for r in reqs} for extra, reqs in PROJECT["optional-dependencies"].items()}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(top-level module, lazy)`` of every absolute, non-stdlib, non-vna import in ``path``; lazy: inside a
    function or an ``if TYPE_CHECKING:`` block."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test))
            if isinstance(child, ast.Import):
                found.extend((a.name.split(".")[0], inner) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module.split(".")[0], inner))
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return [(m, lazy) for m, lazy in found if m not in sys.stdlib_module_names and m not in ("vna", "__future__")]


def _distribution(module: str) -> str:
    """The distribution that provides the import ``module`` (its own name when it is not installed here)."""
    dists = _PROVIDERS.get(module)
    return _norm(dists[0]) if dists else _norm(module)


_PROVIDERS = metadata.packages_distributions()
IMPORTS = [(p.relative_to(REPO).as_posix(), _distribution(m), lazy)
           for p in sorted((REPO / "vna").rglob("*.py")) for m, lazy in _imports(p)]


def test_the_import_scan_sees_the_known_imports():
    assert ("vna/models.py", "torch", False) in IMPORTS
    assert ("vna/data/download.py", "requests", True) in IMPORTS
    assert any(f.startswith("vna/data/paper/") and d == "pynwb" and lazy for f, d, lazy in IMPORTS)


def test_every_top_level_import_is_a_core_dependency():
    wrong = sorted({(f, d) for f, d, lazy in IMPORTS if not lazy and d not in CORE})
    assert not wrong, f"imported at module level but not in project.dependencies: {wrong}"


def test_every_import_inside_a_function_is_declared():
    wrong = []
    for f, d, lazy in IMPORTS:
        extra = next((e for place, e in EXTRA_OF.items() if f.startswith(place)), None)
        if lazy and d not in CORE | EXTRAS.get(extra, set()):
            wrong.append((f, d, f"core or the {extra!r} extra" if extra else "core"))
    assert not wrong, f"imports that pyproject.toml does not declare: {sorted(set(wrong))}"


def test_every_core_paper_and_cluster_dependency_is_used():
    source = "\n".join(p.read_text() for p in (REPO / "vna").rglob("*.py"))
    for name, (why, pattern) in INDIRECT.items():
        assert re.search(pattern, source), f"{name} is declared because {why}, but vna/ no longer shows {pattern!r}"
    imported = {d for _, d, _ in IMPORTS}
    paper = {d for f, d, _ in IMPORTS if f.startswith("vna/data/paper/")}
    for group, declared, used in (("core", CORE, imported), ("paper", EXTRAS["paper"], paper),
                                  ("cluster", EXTRAS["cluster"], imported)):  # book and test: the next test
        unused = sorted(declared - used - set(INDIRECT))
        assert not unused, f"declared in {group} but imported nowhere in vna/: {unused}"


def test_every_book_and_test_dependency_is_used():
    places = [REPO / "Makefile", REPO / "_config.yml", *(REPO / "scripts").glob("*.py"),
              *(REPO / "book" / "_ext").glob("*.py"), *(REPO / "tests").glob("*.py"), *(REPO / "notebooks").glob("*.py"),
              *(REPO / "vna").rglob("*.py")]
    text = "\n".join(p.read_text() for p in places if p != Path(__file__))
    for extra in ("book", "test"):
        for name in sorted(EXTRAS[extra]):
            module = {"pytest-xdist": "xdist", "ipython": "IPython"}.get(name, name.replace("-", "_"))
            assert re.search(rf"\b({re.escape(name)}|{re.escape(module)})\b", text), \
                f"{name} (the {extra} extra) is used by no script, notebook, test, the book or the Makefile"


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_norm(name)] = version
    return pins


def test_requirements_pin_every_declared_package():
    declared = CORE.union(*EXTRAS.values())
    missing = sorted(declared - set(_pins()))
    assert not missing, f"declared in pyproject.toml but not pinned in requirements.txt: {missing}"


def test_requirements_pin_nothing_that_no_declared_package_needs():
    declared = [*PROJECT["dependencies"], *(r for reqs in PROJECT["optional-dependencies"].values() for r in reqs)]
    extra = sorted(set(_pins()) - needs(declared))
    assert not extra, f"requirements.txt pins packages that nothing in pyproject.toml needs: {extra}"
