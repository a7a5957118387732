"""The published notebooks' first cell, run as Colab runs it.

A published chapter (book/_ext/publish.py: the install cell first) is executed with papermill in quick mode,
in a kernel where Colab's module is importable from the start (a stand-in ``google.colab``, imported by a
``sitecustomize``), whose Python has the dependencies but not ``vna``. git's ``url.<base>.insteadOf`` (a
temporary ``GIT_CONFIG_GLOBAL``) maps the repository's GitHub URL to a local clone of this checkout's HEAD,
and ``$VNA_COLAB_DIR`` puts Colab's ``/content`` on a scratch folder. The install cell must clone (and fetch
the published commit), install the copy (``pip install --no-deps -e``, then the dependencies that are missing;
``PIP_NO_INDEX``: here they are all there) and ``chdir``; the chapter must then run to its end on the data
folder. One method chapter (04_vna) and the results chapter (05_results).

Colab comes with its own (CUDA) torch, often older than pyproject.toml's lower bound. The install cell must leave
it in place: :func:`test_install_cell_keeps_the_torch_that_is_there` runs the cell in a fresh Python that has an
older torch (a stand-in distribution ``torch 2.0.0`` installed by pip: no real torch older than the pinned 2.13.0
can be installed offline here) and lacks one dependency, with pip resolving from a folder of wheels that holds
the missing one; torch must still be 2.0.0, its files untouched, and the missing dependency installed. The same
pip, asked to install vna with its dependencies as the cell did before, would not keep that torch.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from fresh_env import DISTRIBUTION, fake_wheel, fresh_venv, linked_site, needs, pip_env, wheel_of

REPO = Path(__file__).resolve().parents[1]
GITHUB = "vna-rehearsal/vna"  # any owner/name: insteadOf maps it to the local clone
CHAPTERS = ("04_vna", "05_results")

pytestmark = pytest.mark.slow  # a venv, a clone, a pip install and two notebooks: about a minute


def _run(cmd, **kw):
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{cmd[:4]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """A clone of this checkout's HEAD that git's URL map serves as the GitHub repository: its path, its commit
    and the git config that maps the URL."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    root = tmp_path_factory.mktemp("upstream")
    clone = root / "vna"
    _run(["git", "clone", "--quiet", "--no-local", str(REPO), str(clone)])
    ref = _run(["git", "-C", str(clone), "rev-parse", "HEAD"]).strip()
    gitconfig = root / "gitconfig"
    gitconfig.write_text(f'[url "file://{clone}"]\n\tinsteadOf = https://github.com/{GITHUB}\n'
                         "[uploadpack]\n\tallowAnySHA1InWant = true\n"  # the cell fetches the published commit
                         "[advice]\n\tdetachedHead = false\n")
    return dict(path=clone, ref=ref, gitconfig=gitconfig)


@pytest.fixture(scope="module")
def colab(tmp_path_factory, shared_data, upstream):
    """A scratch Colab: its Python (dependencies, no vna), its kernel, its /content and git's URL map."""
    root = tmp_path_factory.mktemp("colab")
    ref, gitconfig = upstream["ref"], upstream["gitconfig"]
    venv = root / "python"
    _run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    own_site = Path(_run([str(py), "-c", "import site; print(site.getsitepackages()[0])"]).strip())
    standin = root / "standin"
    (standin / "google" / "colab").mkdir(parents=True)  # `google` a namespace package: others may share it
    (standin / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Google Colab\'s module."""\n')
    # the dependencies: this checkout's venv's packages (its .pth files, the editable vna among them, are
    # not read from a path added this way), after the stand-in and the kernel's own site-packages
    (own_site / "zz_colab_rehearsal.pth").write_text(f"{standin}\n{site.getsitepackages()[0]}\n")
    (own_site / "sitecustomize.py").write_text("import google.colab  # noqa: F401 - Colab's kernel has it loaded\n")
    kernels = root / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab (rehearsal)", "language": "python"}))
    content = root / "content"
    content.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VNA_", "PYTHON", "JUPYTER", "GIT_", "PIP_"))}
    env.update(GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1", JUPYTER_PATH=str(root / "jupyter"),
               VNA_COLAB_DIR=str(content), VNA_DATA_DIR=str(shared_data), PIP_NO_INDEX="1",
               PIP_FIND_LINKS=str(wheel_of("setuptools", root / "wheels").parent),  # pip's isolated build of vna
               PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg")
    return dict(root=root, py=py, env=env, content=content, ref=ref)


def _publish_module():
    """book/_ext/publish.py, which writes the install cell."""
    sys.path.insert(0, str(REPO / "book" / "_ext"))
    try:
        import publish
    finally:
        sys.path.remove(str(REPO / "book" / "_ext"))
    return publish


def _published(chapter: str, out: Path, ref: str) -> Path:
    """The chapter as `make publish` writes it (publish.colab_notebook on the chapter's notebook)."""
    import jupytext
    import nbformat

    publish = _publish_module()
    src = out / f"{chapter}.src.ipynb"
    nbformat.write(jupytext.read(REPO / "notebooks" / f"{chapter}.py"), src)
    dest = out / f"{chapter}.ipynb"
    nbformat.write(publish.colab_notebook(src, GITHUB, ref), dest)
    return dest


def test_vna_is_not_installed_before_the_first_cell(colab):
    done = subprocess.run([str(colab["py"]), "-c", "import google.colab, sys; import vna"], env=colab["env"],
                          cwd=colab["content"], capture_output=True, text=True)
    assert done.returncode != 0 and "No module named 'vna'" in done.stderr, done.stderr


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_published_chapter_runs_on_colab_from_its_first_cell(colab, chapter, tmp_path):
    import nbformat

    nb_in = _published(chapter, tmp_path, colab["ref"])
    first = nbformat.read(nb_in, as_version=4).cells[0]
    assert "vna-colab-install" in first.metadata["tags"] and f"https://github.com/{GITHUB}" in first.source
    nb_out = tmp_path / f"{chapter}.out.ipynb"
    papermill = Path(sys.executable).with_name("papermill")
    done = subprocess.run([str(papermill), str(nb_in), str(nb_out), "-k", "colab", "-p", "quick", "True",
                           "--cwd", str(colab["content"]), "--no-progress-bar"],
                          env=colab["env"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{chapter} failed on the rehearsal Colab:\n{done.stderr[-6000:]}"
    home = colab["content"] / "vna"
    # the cell cloned the repository through the GitHub URL, at the published commit, and installed it
    head = _run(["git", "-C", str(home), "rev-parse", "HEAD"], env=colab["env"]).strip()
    assert head == colab["ref"]
    remote = _run(["git", "-C", str(home), "config", "remote.origin.url"], env={}).strip()
    assert remote == f"https://github.com/{GITHUB}"
    where = _run([str(colab["py"]), "-c", "import vna, os; print(os.path.dirname(vna.__file__))"],
                 env=colab["env"], cwd=colab["root"]).strip()
    assert Path(where) == home / "vna"  # pip install -e of the copy: vna importable in a fresh process
    out = nbformat.read(nb_out, as_version=4)
    assert not [o for c in out.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    text = "\n".join(o.get("text", "") if isinstance(o.get("text"), str) else json.dumps(o.get("data", {}))
                     for c in out.cells for o in c.get("outputs", []))
    if chapter == "04_vna":  # the data folder was found: the real recording, not the simulated fallback
        assert "the real macaque V4 recording, found in the data folder" in text
        assert "SIMULATED" not in text.split("**Compute:**")[0]
    else:
        assert "results/" in text  # the results chapter read the copy's published grid


def test_install_cell_keeps_the_torch_that_is_there(upstream, tmp_path):
    from importlib import metadata

    import vna

    publish = _publish_module()
    assert publish.DISTRIBUTION == DISTRIBUTION
    wheels = tmp_path / "wheels"
    fake_wheel("torch", "2.0.0", wheels)  # Colab's torch, older than pyproject.toml's lower bound
    wheel_of("tabulate", wheels)  # a dependency this Colab lacks
    wheel_of("setuptools", wheels)  # pip's isolated build of vna from the clone
    core = [r for r in metadata.requires(DISTRIBUTION) if "extra ==" not in r]
    have = needs([r for r in core if not r.startswith(("torch", "tabulate"))] + ["pip"])
    assert {"torch", "tabulate"}.isdisjoint(have)
    standin = tmp_path / "standin"
    (standin / "google" / "colab").mkdir(parents=True)
    (standin / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Google Colab\'s module."""\n')
    py = fresh_venv(tmp_path / "python", linked_site(have, tmp_path / "colab-site"), standin)
    content = tmp_path / "content"
    content.mkdir()
    env = pip_env(wheels, GIT_CONFIG_GLOBAL=str(upstream["gitconfig"]), GIT_CONFIG_NOSYSTEM="1",
                  VNA_COLAB_DIR=str(content))
    _run([str(py), "-m", "pip", "install", "--quiet", "torch==2.0.0"], env=env)
    own = Path(_run([str(py), "-c", "import site; print(site.getsitepackages()[0])"]).strip())
    record = own / "torch-2.0.0.dist-info" / "RECORD"
    before = record.stat()

    # what the cell did before: vna with its dependencies would not keep that torch (pip wants torch>=2.13)
    old = subprocess.run([str(py), "-m", "pip", "install", "--dry-run", "-e", str(upstream["path"])],
                         env=env, capture_output=True, text=True)
    said = old.stdout + old.stderr
    assert re.search(r"torch>=2\.\d+", said) and (old.returncode != 0 or re.search(r"Would install .*torch-", said)), said

    cell = publish.install_cell(GITHUB, upstream["ref"]).source
    done = subprocess.run([str(py), "-c", "import google.colab\n" + cell], env=env, cwd=content, capture_output=True,
                          text=True, timeout=300)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-4000:]
    assert "this runtime's torch 2.0.0 is kept" in said
    probe = ("import importlib.metadata as m, json\n"
             f"print(json.dumps({{d: [m.version(d), str(m.distribution(d).locate_file(''))] for d in "
             f"('torch', 'tabulate', {DISTRIBUTION!r})}}))")
    found = json.loads(_run([str(py), "-c", probe], env=env, cwd=tmp_path))
    assert found["torch"] == ["2.0.0", str(own)]
    after = record.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not reinstalled either
    assert found["tabulate"] == [metadata.version("tabulate"), str(own)]  # the missing one, installed
    assert found[DISTRIBUTION][0] == vna.__version__
    assert (content / "vna" / ".git").is_dir()
