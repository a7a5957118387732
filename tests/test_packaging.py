"""The conda environment names the same packages and versions as requirements.txt."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("-").strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s]+)", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_environment_yml_matches_requirements():
    req = pins((REPO / "requirements.txt").read_text().splitlines())
    env_text = (REPO / "environment.yml").read_text()
    pip_section = env_text.split("- pip:", 1)[1].splitlines()
    env = pins(pip_section)
    assert req, "requirements.txt pins nothing"
    assert env == req
    assert req["torch"] == "2.13.0"
    assert re.match(r"1\.", req["jupyter-book"])


def test_every_requirement_is_pinned_exactly():
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"requirements.txt line not pinned exactly: {line!r}"
