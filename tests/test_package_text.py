"""The package's text points where it says: every cross-reference in a docstring or comment of vna/
(``:mod:``, ``:func:``, ``:class:``, ``:meth:``, ``:data:``, ``:attr:``, ``:exc:``) names something importable,
and no text in vna/ cites a design file or an issue number (they mean nothing to a reader; history belongs in
git log and CHANGELOG.md)."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vna"
ROLE = re.compile(r":(mod|func|class|meth|data|attr|exc|obj):`~?([^`]+)`")
#: what a reader of the package's text should never meet: a design file, an issue's number or title
HISTORY = re.compile(r"DESIGN\.md|\bissues? \d+|\bissues? \"|\(issues?\b", re.IGNORECASE)


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _attr(obj, names) -> bool:
    for name in names:
        if not hasattr(obj, name):
            return False
        obj = getattr(obj, name)
    return True


def resolves(target: str, module: str, is_package: bool) -> bool:
    """Whether ``target`` names an object: absolute (``vna.x.y``), relative to the module (``.sibling``), in
    the module's namespace (``fit``, ``RunConfig.key``) or a member of one of its classes (``close``)."""
    if any(c.isspace() for c in target):
        return False
    if target.startswith("."):
        target = (module if is_package else module.rsplit(".", 1)[0]) + target
    names = target.rstrip("()").split(".")
    for k in range(len(names), 0, -1):
        try:
            base = importlib.import_module(".".join(names[:k]))
        except ImportError:
            continue
        if _attr(base, names[k:]):
            return True
        break
    here = importlib.import_module(module)
    if _attr(here, names):
        return True
    classes = [c for c in vars(here).values() if isinstance(c, type) and c.__module__ == module]
    return len(names) == 1 and any(hasattr(c, names[0]) for c in classes)


def test_every_cross_reference_in_the_package_resolves():
    bad = []
    for module, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        for m in ROLE.finditer(text):
            if not resolves(m.group(2), module, path.name == "__init__.py"):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0)}")
    assert not bad, "cross-references to nothing:\n" + "\n".join(bad)


def test_the_package_cites_no_design_file_and_no_issue():
    found = []
    for path in _modules().values():
        for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if HISTORY.search(line):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{k}: {line.strip()[:100]}")
    assert not found, "history in the package's text (cite the paper's sections instead):\n" + "\n".join(found)


@pytest.mark.parametrize("target, module, ok", [
    ("vna.study.store.load_records", "vna.chapters.notebook", True),
    ("vna.store.load_records", "vna.chapters.notebook", False),  # a module that moved
    ("~vna.data.preprocess.\n    split_half_reliability", "vna.data.simulated", False),  # split over two lines
    ("fit", "vna.train", True),
    ("close", "vna.cuda_graph", True),  # a method of the module's class
    (".allen_neuropixels", "vna.data.paper", True),
    ("vna.train.no_such_function", "vna.train", False),
])
def test_the_reference_check_tells_a_good_pointer_from_a_stale_one(target, module, ok):
    assert resolves(target, module, module == "vna.data.paper") is ok


@pytest.mark.parametrize("line, bad", [
    ('"""The results store (DESIGN.md)."""', True), ("# issue 22, item 4", True),
    ('(issue "Data")', True), ("records made before issues 21 and 22", True),
    ("paper section 3.2 (eq. 1)", False), ("the issue of ties", False),
])
def test_the_history_check_catches_issue_numbers_and_design_files(line, bad):
    assert bool(HISTORY.search(line)) is bad
