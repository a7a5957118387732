#!/usr/bin/env python
"""Execute the book's notebooks with papermill: notebooks/NN_name.py -> book/notebooks/NN_name.ipynb.

Each jupytext percent-format notebook is converted to .ipynb and executed with the ``python3`` kernel in
``notebooks/`` (so that ``vna`` is importable from the checkout), with the given parameters injected after
its ``parameters`` cell. The executed notebook replaces the book's copy only when every cell ran (written
to a temporary file, then renamed); a failing cell stops the script with a non-zero exit status naming
the notebook and the cell, and the failed notebook is kept under ``_build/failed/`` for inspection.

Examples::

    python scripts/run_notebooks.py                      # every notebook, default settings (make book)
    python scripts/run_notebooks.py --quick              # smoke test (CI)
    python scripts/run_notebooks.py --only 04_vna -p dataset simulated -p epochs 3 -p seeds "[0, 1]"
    python scripts/run_notebooks.py --quick --jobs 2     # two notebooks at a time (make test)

With ``--jobs N`` up to N notebooks run at once, each in its own process and kernel (one CPU thread each by
default, so the numbers do not change); the slowest ones start first (the last run's timings in ``_build``, else
:data:`SLOW_FIRST`), and the first failure stops the others.

The data folder follows vna's one rule (``vna.data.data_dir``: ``$VNA_DATA_DIR``, else ``shared/data`` beside the
repository, else ``~/.cache/vna``) and is passed on to the kernels. The method
notebooks (02-04) save their run records to the untracked runs folder (``vna.study.store.runs_dir()``:
``$VNA_RUNS_DIR``, else ``_build/runs``) unless ``-p results_dir`` says otherwise, so building the book never
adds files to ``results/``.

What the book shows is set here, not in each notebook: the cell papermill injects (the parameters given
here) and each notebook's set-up cell before its ``parameters`` cell (the one that makes ``vna`` importable)
are tagged ``remove-cell``; paths of this machine that a cell printed anyway are rewritten relative to the
repository (``$VNA_DATA_DIR``, ``~``, ``$TMPDIR`` for the others), and papermill's record of the input and
output paths is kept relative, so that no page (and no ``.ipynb`` beside it) carries an absolute path.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "book" / "notebooks"
#: With --jobs and no timings of an earlier run (a fresh clone), these start first: the slowest chapters of the
#: quick run on a 2-core CPU (1 Dec 2026: 06_analyses ~90 s, 05_results ~30 s of ~200 s in all).
SLOW_FIRST = ("06_analyses", "07_own_recordings", "05_results")


def parameter_names(nb) -> list[str]:
    """Names assigned in the notebook's ``parameters``-tagged cell (error when there is none)."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise SystemExit(f"expected exactly one cell tagged 'parameters', found {len(cells)}")
    names = []
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _failed_cell(nb) -> str:
    """Describe the first cell with an error output (numbered as in the source notebook, from 0)."""
    added = {"papermill-error-cell-tag", "injected-parameters"}
    own = [c for c in nb.cells if not added & set(c.get("metadata", {}).get("tags", []))]
    for k, cell in enumerate(own):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                src = cell.source.strip().splitlines()
                first = next((line for line in src if line and not line.startswith("#")), src[0] if src else "")
                return (f"cell {k} (execution count {cell.get('execution_count')}), starting {first[:80]!r}: "
                        f"{out.get('ename')}: {out.get('evalue')}")
    return "unknown cell"


#: Tags that hide a cell in the book (Jupyter Book 1 / MyST-NB).
REMOVE = "remove-cell"


def tag_for_book(nb) -> None:
    """Tag the cells a reader need not see: code cells before the ``parameters`` cell that import ``vna``
    (the set-up that makes it importable) and the cell papermill injected (``remove-cell``)."""
    for cell in nb.cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "parameters" in tags:
            break
        if cell.cell_type == "code" and re.search(r"^\s*(import vna|from vna)", cell.source, re.M):
            if REMOVE not in tags:
                tags.append(REMOVE)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and REMOVE not in tags:
            tags.append(REMOVE)


def _machine_paths() -> list[tuple[str, str]]:
    """(absolute path prefix, what a reader sees instead), longest first."""
    subs = {}
    data = os.environ.get("VNA_DATA_DIR")
    if data:
        for p in {data, str(Path(data).resolve())}:
            subs[p.rstrip("/")] = "$VNA_DATA_DIR"
    for p in {str(REPO), str(REPO.resolve())}:
        subs[p] = "."
    subs[str(Path(tempfile.gettempdir()).resolve())] = "$TMPDIR"
    subs[tempfile.gettempdir().rstrip("/")] = "$TMPDIR"
    home = str(Path.home())
    if home not in ("/", ""):
        subs[home] = "~"
    return sorted(subs.items(), key=lambda kv: -len(kv[0]))


def relative_paths(text: str, subs: list[tuple[str, str]] | None = None) -> tuple[str, int]:
    """``text`` with every absolute path of this machine (repository, data folder, home, temporary folder)
    written relative to it; returns the new text and the number of replacements."""
    count = 0
    for prefix, label in (subs or _machine_paths()):
        if label == ".":  # inside the repository: the path relative to it
            text, n = re.subn(re.escape(prefix) + "/", "", text)
            count += n
        text, n = re.subn(re.escape(prefix) + r"(?![\w.-])", lambda m: label, text)
        count += n
    return text, count


def scrub_outputs(nb) -> int:
    """Rewrite absolute paths of this machine in every output (text, HTML, Markdown, tracebacks); returns
    how many were rewritten."""
    subs = _machine_paths()
    total = 0

    def fix(value):
        nonlocal total
        if isinstance(value, str):
            new, n = relative_paths(value, subs)
            total += n
            return new
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for key in ("text", "traceback", "evalue"):
                if key in out:
                    out[key] = fix(out[key])
            data = out.get("data", {})
            for mime in list(data):
                if mime.startswith("text/"):
                    data[mime] = fix(data[mime])
    return total


def _public(path: Path) -> str:
    """``path`` relative to the repository, else with this machine's folders named ($TMPDIR, ~, ...)."""
    shown = _show(path)
    return relative_paths(shown)[0] if Path(shown).is_absolute() else shown


def finish_for_book(path: Path, src: Path, final: Path) -> int:
    """Tag, scrub and relativise the executed notebook at ``path`` (to be renamed to ``final``) in place
    (see the module docstring); returns the number of absolute paths rewritten in its outputs."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    tag_for_book(nb)
    rewritten = scrub_outputs(nb)
    pm = nb.metadata.get("papermill")
    if pm is not None:
        pm["input_path"] = _public(src)
        pm["output_path"] = _public(final)
        pm["environment_variables"] = {}
    nbformat.write(nb, path)
    return rewritten


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def run_one(src: Path, params: dict, out_dir: Path, timeout: int, kernel: str, failed_dir: Path) -> float:
    import jupytext
    import nbformat
    import papermill as pm

    nb = jupytext.read(src)
    names = parameter_names(nb)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise SystemExit(f"{_show(src)}: unknown parameter(s) {unknown}; its parameters are {names}")
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3 (ipykernel)", "language": "python"}
    tag_for_book(nb)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{src.stem}.ipynb"
    with tempfile.TemporaryDirectory(prefix="vna-nb-") as tmp:
        inp = Path(tmp) / f"{src.stem}.in.ipynb"
        nbformat.write(nb, inp)
        fd, partial = tempfile.mkstemp(prefix=f".{src.stem}.", suffix=".ipynb", dir=out_dir)
        os.close(fd)
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(inp), partial, parameters=params, kernel_name=kernel, cwd=str(src.parent),
                                progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                                execution_timeout=timeout)
        except pm.PapermillExecutionError as exc:
            failed_dir.mkdir(parents=True, exist_ok=True)
            kept = failed_dir / final.name
            os.replace(partial, kept)
            where = _failed_cell(nbformat.read(kept, as_version=4))
            raise SystemExit(
                f"FAILED: {_show(src)}: {where}\n(exec_count {exc.exec_count}; "
                f"the executed notebook is kept at {_show(kept)})"
            ) from None
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        seconds = time.perf_counter() - t0
        rewritten = finish_for_book(Path(partial), src, final)
        if rewritten:
            print(f"  note: {rewritten} absolute path(s) in the outputs of {_show(src)} were rewritten relative to "
                  "the repository; print paths with vna.chapters.notebook.show_path instead", flush=True)
        os.chmod(partial, 0o644)  # mkstemp creates 0600
        os.replace(partial, final)
    return seconds


def slowest_first(sources: list[Path], log: Path) -> list[Path]:
    """``sources`` with the slowest first (longest-processing-time order, for --jobs): by the timings the last
    run wrote to ``log``, else :data:`SLOW_FIRST` ahead of the others, in their own order otherwise."""
    try:
        last = {k: float(v) for k, v in json.loads(log.read_text()).items() if k != "total"}
    except (OSError, ValueError, AttributeError, TypeError):
        last = {}
    if not all(s.stem in last for s in sources):
        last = {name: float(len(SLOW_FIRST) - k) for k, name in enumerate(SLOW_FIRST)}
    return sorted(sources, key=lambda s: -last.get(s.stem, 0.0))


def run_parallel(sources: list[Path], argv: list[str], jobs: int, out_dir: Path) -> dict:
    """Run each of ``sources`` as ``run_notebooks.py --only NAME`` (this script, the same other arguments) in its
    own process group, ``jobs`` at a time. The first failure stops the others (SIGTERM to each group, kernels
    included: each unwinds and removes its partial notebook; SIGKILL after 20 s, and their partial files are
    removed here) and exits naming the failed notebook and its cell (the child's own message)."""
    import subprocess

    queue, running, timings = list(sources), {}, {}
    base = [sys.executable, str(Path(__file__).resolve()), *argv, "--jobs", "1", "--no-timings-log"]

    def start(src: Path) -> None:
        running[src.stem] = (subprocess.Popen([*base, "--only", src.stem], start_new_session=True), time.perf_counter())

    def stop_all() -> None:
        for proc, _ in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.time() + 20
        for stem, (proc, _) in running.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            for partial in out_dir.glob(f".{stem}.*.ipynb"):
                partial.unlink(missing_ok=True)
        running.clear()

    try:
        while queue or running:
            while queue and len(running) < jobs:
                start(queue.pop(0))
            for stem, (proc, t0) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[stem]
                if proc.returncode != 0:
                    stop_all()
                    raise SystemExit(f"{stem} failed (exit status {proc.returncode}; its message is above); "
                                     "the other notebooks were stopped")
                timings[stem] = round(time.perf_counter() - t0, 1)
            time.sleep(0.2)
    except BaseException:
        stop_all()
        raise
    return dict(sorted(timings.items()))

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke-test settings (quick=True in every notebook)")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="a notebook parameter (a Python literal or a string); repeatable")
    ap.add_argument("--only", nargs="+", default=None, help="notebook names (e.g. 04_vna); default: all")
    ap.add_argument("--source", default=str(NOTEBOOKS), help="folder of NN_name.py notebooks (default notebooks/)")
    ap.add_argument("--out", default=str(OUT), help=f"output folder (default {OUT.relative_to(REPO)})")
    ap.add_argument("--failed-dir", default=str(REPO / "_build" / "failed"),
                    help="where a notebook that failed is kept (default _build/failed)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    ap.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="notebooks run at once, each in its own process (default 1: one after another)")
    ap.add_argument("--no-timings-log", action="store_true", help=argparse.SUPPRESS)  # --jobs' children
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads for PyTorch in the kernels (OMP_NUM_THREADS; default 1: the same numbers "
                         "everywhere, and no slowdown when other processes share the CPU)")
    args = ap.parse_args(argv)
    # a SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so no half-written notebook is left behind
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    sys.path.insert(0, str(REPO))
    from vna.data.cache import data_dir  # the one data-folder rule (README), passed on to the kernels

    os.environ["VNA_DATA_DIR"] = str(data_dir().resolve())
    if args.threads < 1:
        ap.error(f"--threads must be >= 1; got {args.threads}")
    if args.jobs < 1:
        ap.error(f"--jobs must be >= 1; got {args.jobs}")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    print(f"VNA_DATA_DIR={os.environ['VNA_DATA_DIR']}; {args.threads} CPU thread(s)", flush=True)

    source_dir = Path(args.source).resolve()
    sources = sorted(source_dir.glob("[0-9][0-9]_*.py"))
    if not sources:
        ap.error(f"no NN_name.py notebooks in {source_dir}")
    if args.only:
        wanted = {Path(n).stem for n in args.only}
        missing = wanted - {s.stem for s in sources}
        if missing:
            ap.error(f"no notebook(s) {sorted(missing)} in {source_dir}")
        sources = [s for s in sources if s.stem in wanted]
    from vna.chapters.notebook import literal_value  # a value: a Python literal (3, 1e-3, None, [0, 1], True) or text

    base = {name: literal_value(value) for name, value in args.parameter}
    if args.quick:
        base["quick"] = True
    out_dir = Path(args.out).resolve()
    failed_dir = Path(args.failed_dir).resolve()
    log = REPO / "_build" / ("notebook-timings-quick.json" if args.quick else "notebook-timings.json")
    timings = {}
    total = time.perf_counter()
    if args.jobs == 1 or len(sources) == 1:
        for src in sources:
            params = dict(base)
            print(f"executing {_show(src)} {json.dumps(params)}", flush=True)
            timings[src.stem] = round(run_one(src, params, out_dir, args.timeout, args.kernel, failed_dir), 1)
            print(f"  ok in {timings[src.stem]:.0f} s -> {_show(out_dir / (src.stem + '.ipynb'))}", flush=True)
    else:
        child = ["--source", str(source_dir), "--out", str(out_dir), "--failed-dir", str(failed_dir),
                 "--timeout", str(args.timeout), "--kernel", args.kernel, "--threads", str(args.threads),
                 *(["--quick"] if args.quick else []), *(x for pair in args.parameter for x in ("-p", *pair))]
        timings = run_parallel(slowest_first(sources, log), child, args.jobs, out_dir)
    timings["total"] = round(time.perf_counter() - total, 1)
    print(f"all {len(sources)} notebook(s) executed in {timings['total']:.0f} s", flush=True)
    if source_dir == NOTEBOOKS.resolve() and not args.no_timings_log:  # the book's own notebooks: their timings
        log.parent.mkdir(parents=True, exist_ok=True)
        try:  # keep the other notebooks' last timings when only some ran (--only)
            earlier = {k: v for k, v in json.loads(log.read_text()).items() if k != "total"}
        except (OSError, ValueError, AttributeError):
            earlier = {}
        merged = {**earlier, **{k: v for k, v in timings.items() if k != "total"}}
        merged["total"] = round(sum(merged.values()), 1)
        log.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
