"""pyproject.toml's lower bounds are the versions `make test-oldest` runs (requirements-oldest.txt, issue 25)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_lower_bound_is_a_pin_of_the_oldest_job_and_back():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    bounds = {}
    for dep in deps:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", dep.replace(" ", ""))
        assert m, f"pyproject.toml dependency {dep!r} has no plain lower bound (name>=version)"
        bounds[m[1].lower()] = m[2]
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (REPO / "requirements-oldest.txt").read_text(), re.M))
    pins = {k.lower(): v for k, v in pins.items()}
    for name, low in bounds.items():
        assert name in pins, f"requirements-oldest.txt does not pin {name} (pyproject: >={low})"
        pinned = pins[name].split("+")[0]
        assert tuple(map(int, pinned.split("."))) [:len(low.split("."))] == tuple(map(int, low.split("."))), \
            f"{name}: pyproject says >={low} but the oldest job installs {pins[name]}"


def test_make_test_oldest_runs_the_unit_tests_in_their_own_venv():
    make = (REPO / "Makefile").read_text()
    rule = make.split("\ntest-oldest:", 1)[1].split("\n\n", 1)[0]
    assert "requirements-oldest.txt" in rule and '-m "not book"' in rule and "$(OLDEST)/bin/python -m pytest" in rule
    assert ".venv-oldest" in make and "/.venv-oldest/" in (REPO / ".gitignore").read_text()
