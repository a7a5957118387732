"""Every command the README and the book show, run as written.

The commands are read from the documents themselves: every ```bash block of README.md, book/*.md and the
notebooks' Markdown (notebooks/*.py), one command per line (a trailing backslash continues it; comment lines,
``#SBATCH`` ones included, are left to bash). Each block belongs to exactly one test below
(:data:`CLAIMS`, checked by :func:`test_every_documented_block_has_one_test`). A command runs exactly as written
wherever it can run here in reasonable time; otherwise the test says what it runs instead:

* ``make X``: ``make -n X`` (make checks the targets and prints their recipes; ``make test`` is CI itself);
* ``python -m vna reproduce`` without ``--quick`` (hours of training, a GPU, Slurm): the same command with
  ``--dry-run`` (the grid is built, its settings checked, the runs counted; nothing trains), a folder under
  ``/shared`` moved into a temporary one; with ``--quick``, ``report`` and ``datasets``: run to the end;
* the local install: the commands ``make venv`` runs (CI makes its venv with them), compared line by line;
* the notebooks script: ``--quick`` and the full run are ``make test``'s and ``make book``'s own recipes
  (compared); the ``-p`` example is checked against the chapter's parameters cell and the chapter's own
  validation (:func:`vna.chapters.notebook.method_chapter`);
* papermill: the notebook is made by jupytext as written, the 20-epoch example prepared (``--prepare-only``) and
  its parameters validated by the chapter, the quick example run to the end;
* the release: in a temporary clone whose ``origin`` is a temporary bare repository; ``gh release create`` is not
  run (it needs GitHub): its tag and file must be the ones the commands before it made;
* the reader's install from the release: a fresh venv (the packages vna declares, linked from this venv, and no
  others), the GitHub URL mapped by git's ``insteadOf`` to that bare repository; the report from the release
  file served on 127.0.0.1 (the URL's host replaced, ``SHA256`` replaced by the file's hash) must print the
  tables the clone prints.

Inline ``python -m vna ...`` code in the prose is parsed by the command line's own parser
(:func:`test_inline_commands_parse`).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from fresh_env import DISTRIBUTION, fresh_venv, linked_site, needs, pip_env, wheel_of

import vna

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "book").glob("*.md")), *sorted((REPO / "notebooks").glob("*.py"))]
BIN = Path(sys.executable).parent  # this venv's bin: `python`, `jupytext`, `papermill` of the documents

pytestmark = pytest.mark.slow  # the quick runs, the export and a fresh venv: about two minutes in all


@dataclass(frozen=True)
class Block:
    doc: str  # the document, relative to the repository
    line: int  # the line of its opening fence
    commands: tuple[str, ...]  # as written (continuation lines joined by their backslash-newline)

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def _markdown(path: Path) -> str:
    """The text of a document; for a notebook, its Markdown cells' text (jupytext's ``# `` prefix removed)."""
    text = path.read_text()
    if path.suffix != ".py":
        return text
    return "\n".join(l[2:] if l.startswith("# ") else l[1:] if l.startswith("#") else l for l in text.splitlines())


def documented_blocks() -> list[Block]:
    blocks = []
    for path in DOCS:
        text = _markdown(path)
        for m in re.finditer(r"^```(?:bash|sh|shell|console)\n(.*?)^```", text, re.M | re.S):
            commands, current = [], ""
            for raw in m.group(1).splitlines():
                current = f"{current}\n{raw}" if current else raw
                if raw.rstrip().endswith("\\"):
                    continue
                if current.strip() and not current.lstrip().startswith("#"):
                    commands.append(current)
                current = ""
            blocks.append(Block(path.relative_to(REPO).as_posix(), text[:m.start()].count("\n") + 1, tuple(commands)))
    return blocks


def argv(command: str, env: dict | None = None) -> tuple[dict, list[str]]:
    """``(assignments, words)`` of a command as bash splits it (comments dropped, ``$VAR`` from ``env``)."""
    words = shlex.split(command.replace("\\\n", " "), comments=True)
    assign = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        k, _, v = words.pop(0).partition("=")
        assign[k] = v
    env = env or {}
    return assign, [re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), m.group(0)), w) for w in words]


def _is_vna(words: list[str]) -> bool:
    return len(words) > 2 and Path(words[0]).name == "python" and words[1:3] == ["-m", "vna"]


#: Which test runs a block: test name -> a test of the block's commands (word lists).
CLAIMS = {
    "test_make_commands": lambda cmds: all(c[0] == "make" for c in cmds),
    "test_vna_commands": lambda cmds: all(_is_vna(c) for c in cmds),
    "test_local_install_is_what_make_venv_runs": lambda cmds: cmds[0][:3] == ["python", "-m", "venv"],
    "test_notebook_build_commands_are_the_makefile_recipes": lambda cmds: any(
        c[-1] == "--keep-going" for c in cmds),
    "test_notebook_parameters_example": lambda cmds: len(cmds) == 1 and cmds[0][1:2] == ["scripts/run_notebooks.py"],
    "test_papermill_example": lambda cmds: any(Path(c[0]).name == "papermill" for c in cmds),
    "test_release_then_a_reader_installs_it_and_prints_the_published_tables": lambda cmds: any(
        "--export-records" in c or c[:2] == ["pip", "install"] for c in cmds),
}


def _claimed(name: str) -> list[Block]:
    found = [b for b in documented_blocks() if CLAIMS[name]([argv(c)[1] for c in b.commands])]
    assert found, f"{name}: no documented block is its to run"
    return found


def test_every_documented_block_has_one_test():
    blocks = documented_blocks()
    assert len(blocks) >= 10 and any(b.doc == "README.md" for b in blocks)
    for b in blocks:
        words = [argv(c)[1] for c in b.commands]
        owners = [name for name, claims in CLAIMS.items() if claims(words)]
        assert len(owners) == 1, f"{b}: the block {b.commands} is run by {owners or 'no test'}; give it one"
    assert set(CLAIMS) <= set(globals()), "every claim names a test of this file"


def _run(cmd, *, cwd, env, timeout=600) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    shown = cmd if isinstance(cmd, str) else shlex.join(map(str, cmd))
    assert done.returncode == 0, f"{shown} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done


def _env(**more) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_", "MAKE", "MFLAGS"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", OMP_NUM_THREADS="1", MPLBACKEND="Agg", **more)
    return env


@pytest.fixture
def work(tmp_path) -> Path:
    """A scratch folder to run commands in, with the repository's venv as ``.venv`` and its notebooks."""
    (tmp_path / ".venv").symlink_to(BIN.parent)
    (tmp_path / "notebooks").symlink_to(REPO / "notebooks")
    (tmp_path / "_build").mkdir()
    return tmp_path


# ------------------------------------------------------------------------------------------------------ make
def test_make_commands():
    """``make -n``: the targets exist and their recipes expand (``make test`` is what CI runs)."""
    for block in _claimed("test_make_commands"):
        for command in block.commands:
            assign, words = argv(command)
            done = _run(["make", "-n", *words[1:]], cwd=REPO, env=_env(**assign))
            assert done.stdout.strip(), f"{block}: `{command}` does nothing"
            if "VNA_REPOSITORY" in assign and words[1:] == ["book"]:
                assert "run_notebooks.py" in done.stdout and "jupyter-book build" in done.stdout


# ---------------------------------------------------------------------------------------------- python -m vna
def test_vna_commands(work, monkeypatch, capsys):
    """Run to the end (``--quick``, ``report``, ``datasets``) or with ``--dry-run`` (a full grid; run in this
    process by the command line's ``main``, which ``python -m vna`` calls)."""
    from vna.cli import main
    from vna.data import load, to_folder
    from vna.study.grids import QUICK_SIMULATED_OPTIONS

    env = _env(VNA_RUNS_DIR=str(work / "_build" / "runs"), SLURM_ARRAY_TASK_ID="1")
    monkeypatch.chdir(work)
    monkeypatch.setenv("VNA_RUNS_DIR", env["VNA_RUNS_DIR"])
    for block in _claimed("test_vna_commands"):
        for command in block.commands:
            _, words = argv(command, env)
            words = [str(work) + w if w.startswith("/shared/") else w for w in words]  # not the machine's /shared
            sub = words[3]
            if "my_recording" in words and not (work / "my_recording").is_dir():  # the chapter's example folder
                to_folder(load("simulated", **QUICK_SIMULATED_OPTIONS), work / "my_recording")  # small: quick
            if sub == "reproduce" and "--quick" not in words:
                capsys.readouterr()
                assert main(words[3:] + ["--dry-run"]) == 0, f"{block}: `{command}` --dry-run failed"
                said = capsys.readouterr().out
                assert re.search(r"\d+ runs in \d+ trainings \(dry run: nothing ran\)", said), f"{block}: {said[-500:]}"
                continue
            said = _run(words, cwd=work, env=env, timeout=900).stdout
            if sub == "reproduce":
                assert re.search(r"done in \d+ s: \d+ run\(s\) now, 0 already .*, 0 failed", said), f"{block}: {said[-800:]}"
            elif sub == "report":
                assert "| dataset" in said and "| method" in said, f"{block}: {said[:800]}"
            else:
                assert "Data folder" in said


# --------------------------------------------------------------------------------------------- the local install
def _words(line: str) -> list[str]:
    """A command of ``make -n`` or of the book, in one form: ``.venv/bin/pip`` as ``.venv/bin/python -m pip``,
    ``python3`` as ``python``, without pip's ``--quiet``/``--no-build-isolation`` and make's ``test -x ... ||``."""
    line = line.split("||")[-1].split("#")[0]
    words = shlex.split(line)
    if words[:1] == [".venv/bin/pip"]:
        words = [".venv/bin/python", "-m", "pip", *words[1:]]
    if words[:1] == ["python3"]:
        words[0] = "python"
    return [w for w in words if w not in ("--quiet", "--no-build-isolation")]


def test_local_install_is_what_make_venv_runs():
    """The book's three install commands are the ones ``make venv`` runs (CI's own venv is made by it)."""
    recipe = _run(["make", "-n", "-B", "venv"], cwd=REPO, env=_env(PYTHON="python3")).stdout.splitlines()
    made = [_words(line) for line in recipe if line.strip()]
    for block in _claimed("test_local_install_is_what_make_venv_runs"):
        for command in block.commands:
            assert _words(command) in made, f"{block}: `{command}` is not a step of `make venv` ({made})"


# ----------------------------------------------------------------------------------------------- the notebooks
def test_notebook_build_commands_are_the_makefile_recipes():
    """``make book`` runs the notebooks then the book; ``make test`` the quick notebooks then the book."""
    recipes = {t: _run(["make", "-n", t], cwd=REPO, env=_env()).stdout.strip().splitlines()[-1]
               for t in ("notebooks", "notebooks-quick", "html")}
    made = {tuple(w for w in shlex.split(line) if not re.fullmatch(r"--jobs|\d+", w)) for line in recipes.values()}
    for block in _claimed("test_notebook_build_commands_are_the_makefile_recipes"):
        for command in block.commands:
            _, words = argv(command)
            if words[0] == "make":
                _run(["make", "-n", *words[1:]], cwd=REPO, env=_env())
            else:
                assert tuple(words) in made, f"{block}: `{command}` is not what make runs ({sorted(made)})"


def _script():
    spec = importlib.util.spec_from_file_location("run_notebooks", REPO / "scripts" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chapter_method(notebook: Path) -> str | None:
    m = re.search(r'method_chapter\("(\w+)"', notebook.read_text())
    return m.group(1) if m else None


def test_notebook_parameters_example():
    """The ``-p`` example: every name is a parameter of the chapter, and the chapter accepts the values."""
    import jupytext

    from vna.chapters.notebook import literal_value, method_chapter

    script = _script()
    for block in _claimed("test_notebook_parameters_example"):
        _, words = argv(block.commands[0])
        only = words[words.index("--only") + 1]
        params = {words[i + 1]: literal_value(words[i + 2]) for i, w in enumerate(words) if w == "-p"}
        source = REPO / "notebooks" / f"{only}.py"
        assert set(params) <= set(script.parameter_names(jupytext.read(source)))
        chapter = method_chapter(_chapter_method(source), params, show=False)
        for name, value in params.items():
            got = chapter.seeds if name == "seeds" else getattr(chapter.cfg, name)
            assert got == value, f"{block}: -p {name} gave {got!r}, not {value!r}"


def test_papermill_example(work):
    """jupytext as written; the 20-epoch run prepared and validated by the chapter; the quick run to its end."""
    import nbformat

    from vna.chapters.notebook import method_chapter

    env = _env(VNA_RUNS_DIR=str(work / "_build" / "runs"))
    for block in _claimed("test_papermill_example"):
        for command in block.commands:
            _, words = argv(command)
            if Path(words[0]).name != "papermill":
                _run(["bash", "-c", command], cwd=work, env=env)
                continue
            quick = "quick" in words
            _run(words if quick else words + ["--prepare-only"], cwd=work, env=env, timeout=900)
            nb = nbformat.read(work / words[2], as_version=4)
            namespace: dict = {}
            for cell in nb.cells:  # the parameters cell, then the one papermill injected after it
                if {"parameters", "injected-parameters"} & set(cell.metadata.get("tags", [])):
                    exec(cell.source, namespace)  # noqa: S102 - the chapter's own parameters
            chapter = method_chapter(_chapter_method(REPO / "notebooks" / Path(words[1]).with_suffix(".py").name),
                                     namespace, show=False)
            given = {words[i + 1]: words[i + 2] for i, w in enumerate(words) if w == "-p"}
            assert chapter.seeds == [int(s) for s in re.findall(r"\d+", given["seeds"])]
            assert chapter.dataset == given["dataset"] and chapter.quick == quick
            if quick:  # it ran: no cell failed and the chapter trained every seed
                out = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
                assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
                assert all(f"seed {s}:" in out for s in chapter.seeds), out[-2000:]
            else:
                assert chapter.cfg.epochs == int(given["epochs"])


# ----------------------------------------------------------------------------------------- releases and readers
def _release(block: Block, root: Path) -> dict:
    """The README's release commands, run in a clone whose ``origin`` is a temporary bare repository: the export
    file, its sha256, the bare repository that received the tag, and the ``gh`` command (not run)."""
    root.mkdir(parents=True)
    bare, clone = root / "OWNER" / "vna.git", root / "clone"
    env = _env(GIT_AUTHOR_NAME="vna test", GIT_AUTHOR_EMAIL="test@example.org", GIT_COMMITTER_NAME="vna test",
               GIT_COMMITTER_EMAIL="test@example.org")
    _run(["git", "clone", "--quiet", "--bare", "--no-local", str(REPO), str(bare)], cwd=root, env=env)
    _run(["git", "clone", "--quiet", str(bare), str(clone)], cwd=root, env=env)
    out = {"bare": bare, "clone": clone}
    for command in block.commands:
        _, words = argv(command)
        if words[0] == "gh":  # needs GitHub and a token: what it would upload is checked instead
            out["gh"] = words
            continue
        said = _run(["bash", "-c", command], cwd=clone, env=env).stdout
        if "--version" in words:
            assert said.strip() == f"vna {vna.__version__}"
        if "--export-records" in words:
            out["file"] = clone / words[words.index("--export-records") + 1]
        if words[0] == "sha256sum":
            out["sha256"] = said.split()[0]
    return out


def test_release_then_a_reader_installs_it_and_prints_the_published_tables(tmp_path, http_server):
    """The maintainer's release commands, then the reader's: install from the tag, report from the release file."""
    from vna.study.release import read_records_file

    if shutil.which("git") is None:
        pytest.skip("needs git")
    release, reader = sorted(_claimed("test_release_then_a_reader_installs_it_and_prints_the_published_tables"),
                             key=lambda b: "--export-records" not in " ".join(b.commands))
    released = _release(release, tmp_path / "release")
    file, gh = released["file"], released["gh"]
    assert released["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    tag = f"v{vna.__version__}"
    tags = _run(["git", "-C", str(released["bare"]), "tag", "--list"], cwd=REPO, env=_env()).stdout.split()
    assert tag in tags  # pushed to origin
    assert gh[:4] == ["gh", "release", "create", tag] and (released["clone"] / gh[4]) == file
    table = read_records_file(file, released["sha256"])
    assert len(table) == len(list((REPO / "results").rglob("*.json")))  # every record of results/
    clone_report = _run([sys.executable, "-m", "vna", "report"], cwd=REPO, env=_env()).stdout  # what a reader must see

    core = [r for r in metadata.requires(DISTRIBUTION) if "extra ==" not in r]
    site = linked_site(needs([*core, "pip"]), tmp_path / "site")
    py = fresh_venv(tmp_path / "venv", site)
    (py.parent / "pip").write_text(f"#!{py}\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n")
    (py.parent / "pip").chmod(0o755)
    wheels = tmp_path / "wheels"
    wheel_of("setuptools", wheels)  # for pip's isolated build of vna
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f'[url "file://{released["bare"]}"]\n\tinsteadOf = https://github.com/OWNER/vna\n')
    served = tmp_path / "served"
    base = http_server(served)
    elsewhere = tmp_path / "elsewhere"  # away from the clone
    elsewhere.mkdir()
    env = pip_env(wheels, GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1", OMP_NUM_THREADS="1",
                  PATH=f"{py.parent}{os.pathsep}{os.environ['PATH']}", VNA_DATA_DIR=str(tmp_path / "data"),
                  VNA_RUNS_DIR=str(tmp_path / "runs"))
    for command in reader.commands:
        _, words = argv(command)
        if words[:2] == ["pip", "install"]:
            _run(["bash", "-c", command], cwd=elsewhere, env=env)
            continue
        url = words[words.index("--results-dir") + 1]
        assert url.startswith("https://github.com/OWNER/vna/releases/download/") and words[-1] == "SHA256"
        place = served / url.removeprefix("https://github.com/")
        place.parent.mkdir(parents=True)
        shutil.copy2(released["file"], place)
        words = [w.replace("https://github.com", base) for w in words[:-1]] + [released["sha256"]]
        shown = _run(words, cwd=elsewhere, env=env, timeout=900).stdout
        assert shown == clone_report
    probe = ("import vna, vna.study.store as r; from importlib import metadata as m; "
             f"print(vna.__file__, r.published_dir(), any(f.name == 'LICENSE' for f in m.distribution({DISTRIBUTION!r}).files))")
    where = _run([str(py), "-c", probe], cwd=elsewhere, env=env).stdout.split()
    assert Path(where[0]).is_relative_to(tmp_path / "venv") and where[1] == "None"  # installed, not the clone
    assert where[2] == "True"  # the licence travels with the package


# ------------------------------------------------------------------------------------------------ inline prose
def test_inline_commands_parse():
    """``python -m vna ...`` written in the prose parses with the command line's parser; placeholders (NAME,
    PATH, <folder>, ...) and an option named without its value are mentions, not commands."""
    from vna.cli import build_parser

    checked = 0
    for path in DOCS:
        text = re.sub(r"```.*?```", "", _markdown(path), flags=re.S)
        for m in re.finditer(r"`!?(python -m vna\b[^`]*)`", text):
            words = shlex.split(" ".join(m.group(1).split()))[3:]
            if not words or any(re.fullmatch(r"[A-Z]+|.*[<{].*|\.\.\.|--help", w) for w in words):
                continue
            try:
                build_parser().parse_args(words)
            except SystemExit as stop:
                if stop.code == 0:  # --version
                    checked += 1
                    continue
                try:  # an option named without its value (`report --readme`) is a mention of the option
                    build_parser().parse_args([*words, "README.md"])
                except SystemExit:
                    pytest.fail(f"{path.name}: `{m.group(1)}` does not parse")
            checked += 1
    assert checked >= 20
