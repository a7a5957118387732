"""Fresh Python environments for the install tests, made from the packages this venv has (no network).

* :func:`needs` -- the distributions a set of requirements pulls in, read from the installed metadata;
* :func:`linked_site` -- a folder of symlinks to exactly those distributions' files: a fresh venv that reads it
  (a ``.pth`` file, :func:`fresh_venv`) has those packages and no others, as if pip had installed them;
* :func:`wheel_of` -- an installed distribution packed back into a wheel (for ``--find-links``);
  :func:`fake_wheel` -- a wheel of a named, versioned stand-in package (an "older torch");
* :func:`pip_env` -- the environment for a pip that sees only a folder of wheels (no index, no pip.conf).
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Iterable

from packaging.requirements import Requirement

#: vna's name on the package index (pyproject.toml's project.name).
DISTRIBUTION = "visual-neural-alignment"


def norm(name: str) -> str:
    """A distribution name as the package index compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def needs(requirements: Iterable[str], seen: set[str] | None = None, extras: Iterable[str] = ()) -> set[str]:
    """The normalised names of the distributions ``requirements`` pull in (themselves included), following the
    installed metadata; a requirement's own extras, and ``extras`` of the first level, count."""
    seen = set() if seen is None else seen
    for req in map(Requirement, requirements):
        name = norm(req.name)
        wanted = set(req.extras) | set(extras)
        if name in seen and not wanted:
            continue
        seen.add(name)
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            raise LookupError(f"{name} is needed but not installed here (make venv)") from None
        follow = [str(r) for r in map(Requirement, reqs)
                  if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in ("", *wanted))]
        needs(follow, seen)
    return seen


def run(cmd, **kw) -> subprocess.CompletedProcess:
    """Run ``cmd``, capturing its text; an assertion error with its output when it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert done.returncode == 0, (f"{cmd if isinstance(cmd, str) else ' '.join(map(str, cmd))[:300]} failed "
                                  f"({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    return done


def linked_site(dists: Iterable[str], folder: Path) -> Path:
    """``folder`` holding a symlink to every top-level file and folder of the installed ``dists``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(dists):
        dist = metadata.distribution(name)
        site = Path(dist.locate_file(""))
        tops = {Path(f).parts[0] for f in dist.files or [] if Path(f).parts and Path(f).parts[0] != ".."}
        if not tops:
            raise LookupError(f"{name}: its installed files are not listed (no RECORD)")
        for top in tops:
            link = folder / top
            if not link.exists() and (site / top).exists():
                link.symlink_to(site / top)
    return folder


def fresh_venv(root: Path, *sites: Path) -> Path:
    """A new venv at ``root`` (no pip of its own) that reads the folders ``sites`` after its own site-packages;
    returns its python."""
    run([sys.executable, "-m", "venv", "--without-pip", str(root)])
    py = root / "bin" / "python"
    own = Path(run([str(py), "-c", "import site; print(site.getsitepackages()[0])"]).stdout.strip())
    (own / "zz_fresh_env.pth").write_text("".join(f"{s}\n" for s in sites))
    return py


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}\n"


def wheel_of(name: str, folder: Path) -> Path:
    """The installed distribution ``name`` packed back into a wheel in ``folder`` (its files and dist-info)."""
    dist = metadata.distribution(name)
    tag = next(line.split(":", 1)[1].strip() for line in dist.read_text("WHEEL").splitlines() if line.startswith("Tag:"))
    stem = f"{re.sub(r'[-.]+', '_', dist.metadata['Name'])}-{dist.version}"
    wheel = folder / f"{stem}-{tag}.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        record_name, lines = None, []
        for f in dist.files or []:
            path = dist.locate_file(f)
            if Path(f).parts[0] == ".." or "__pycache__" in Path(f).parts or not Path(path).is_file():
                continue
            if len(Path(f).parts) == 2 and Path(f).parts[0].endswith(".dist-info") and Path(f).name == "RECORD":
                record_name = str(f)  # its own (vendored packages carry theirs deeper down)
                continue
            data = Path(path).read_bytes()
            z.writestr(str(f), data)
            lines.append(_record_line(str(f), data))
        z.writestr(record_name, "".join(lines) + f"{record_name},,\n")
    return wheel


def fake_wheel(name: str, version: str, folder: Path) -> Path:
    """A wheel of a stand-in package ``name`` (its module says ``__version__ = version`` and nothing else)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'"""A stand-in for {name} {version} (tests/fresh_env.py)."""\n__version__ = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: fresh_env\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        lines = []
        for path, text in files.items():
            z.writestr(path, text)
            lines.append(_record_line(path, text.encode()))
        z.writestr(f"{info}/RECORD", "".join(lines) + f"{info}/RECORD,,\n")
    return wheel


def pip_env(wheels: Path, **more: str) -> dict[str, str]:
    """This process's environment for a pip that installs only from the folder ``wheels``: no index, no pip.conf
    (its extra indexes and constraints), no cache; plus ``more``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels), PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", **more)
    return env
