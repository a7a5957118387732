"""A results store that verifies what it reads, and runs that clean up after themselves (issue 21).

Every case of the issue's audit is a test here (the store, the manifest, provenance, the runner) or a row of
tests/test_bad_inputs.py (inputs). Each fails on the code before issue 21.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vna.cli import main
from vna.study import record, store, tables, runner
from vna.study.config import RunConfig
from vna.study.report import build_report
from vna.study.store import StoreError

REPO = Path(__file__).resolve().parents[1]


def _record(cfg: RunConfig, enc: float = 0.8, dec: float = 0.9, n: int = 4, **rules) -> record.RunRecord:
    m = {"encoding_auc": enc, "decoding_auc": dec, "mean_auc": 0.5 * (enc + dec)}
    return record.RunRecord(cfg, {"paper": m, **rules}, 1.0, "cpu",
                            instances={"encoding_auc": np.full(n, enc), "decoding_auc": np.full(n, dec)})


def _store(tmp_path: Path, seeds=(0, 1), encs=(0.7, 0.8)) -> Path:
    root = tmp_path / "runs"
    for s, e in zip(seeds, encs):
        store.save_record(_record(RunConfig(dataset="simulated", seed=s), enc=e), root)
    return root


def _edit(path: Path, fn) -> None:
    rec = json.loads(path.read_text())
    fn(rec)
    path.write_text(json.dumps(rec))


def _findings(root: Path) -> list:
    found = []
    store.load_records(root, findings=found)
    return found


def _ci(root: Path) -> float:
    return float(tables.summarize(store.load_records(root, findings=[]))["encoding_auc_ci"].iloc[0])


# ------------------------------------------------------------------------------------- verify on read
def test_a_backup_copy_of_a_folder_is_not_counted(tmp_path):
    root = _store(tmp_path)
    ci = _ci(root)
    shutil.copytree(root / "simulated", root / "simulated.bak")  # cp -r runs/simulated runs/simulated.bak
    records = store.load_records(root, findings=(found := []))
    assert len(records) == 2 and sorted(records["seed"]) == [0, 1]  # not 4 "seeds"
    assert _ci(root) == ci  # the t-interval does not shrink
    assert len(found) == 2 and all("simulated.bak" in f.path and "a copy of a folder" in f.problem for f in found)


def test_a_copy_file_with_other_numbers_is_not_counted(tmp_path):
    root = _store(tmp_path)
    path = next((root / "simulated").glob("*.json"))
    copy = path.with_name(path.stem + " (copy).json")
    shutil.copy(path, copy)
    shutil.copy(store.instances_path(path), store.instances_path(copy))
    _edit(copy, lambda r: r["metrics"].update(encoding_auc=0.1, mean_auc=0.5))
    records = store.load_records(root, findings=(found := []))
    assert len(records) == 2 and 0.1 not in set(records["encoding_auc"])
    assert [f.path for f in found] == [str(copy)] and "should be" in found[0].problem


@pytest.mark.parametrize("edit, pattern", [
    (lambda r: r["metrics"].update(encoding_auc=1.7), r"encoding_auc = 1\.7 lies outside \[0, 1\]"),
    (lambda r: r["metrics"].update(decoding_auc=-3), r"decoding_auc = -3 lies outside \[0, 1\]"),
    (lambda r: r["metrics"].update(mean_auc=0.99), r"mean_auc = 0\.99 is not the mean of encoding_auc"),
    (lambda r: r["metrics"].update(encoding_auc="0.8"), r"encoding_auc is '0\.8', not a number"),
    (lambda r: r["config"].update(epochs=3), r"is not its config's key .*config edited by hand"),
    (lambda r: r["config"].update(epochs="ten"), r"its config is not valid: RunConfig\.epochs"),
], ids=["encoding-1.7", "decoding-minus-3", "mean-not-mean", "auc-text", "config-edited", "config-invalid"])
def test_a_hand_edited_record_is_named_and_left_out(tmp_path, edit, pattern, capsys):
    root = _store(tmp_path)
    bad = sorted((root / "simulated").glob("*.json"))[0]
    _edit(bad, edit)
    found = _findings(root)
    assert len(found) >= 1 and {f.path for f in found} == {str(bad)}
    assert any(__import__("re").search(pattern, f.problem) for f in found), found
    report = build_report(root, None, n_boot=10)  # the rest of the report is built
    assert len(report.records) == 1 and any(str(bad) in n for n in report.notes)
    with pytest.raises(StoreError, match=bad.name):
        build_report(root, None, n_boot=10, strict=True)
    capsys.readouterr()
    assert main(["report", "--results-dir", str(root), "--grid", "none", "--bootstrap", "10"]) == 0
    assert main(["report", "--results-dir", str(root), "--grid", "none", "--bootstrap", "10", "--strict"]) == 2
    err = capsys.readouterr().err
    assert f"error: {bad}" in err and "problem(s) in the results store" in err and "Traceback" not in err


@pytest.mark.parametrize("damage, pattern", [
    ("delete", r"per-instance AUCs .* are missing"),
    ("out-of-range", r"column encoding_auc: 4 value\(s\), not all in \[0, 1\]"),
    ("other-mean", r"column decoding_auc has mean 0\.5, but the record says decoding_auc = 0\.9"),
    ("garbage", r"are not readable"),
])
def test_a_damaged_instance_file_is_named(tmp_path, damage, pattern):
    root = _store(tmp_path)
    # the seed-0 record (encoding AUC 0.7, as the damaged files below keep it), whatever its key sorts as
    bad = next(p for p in sorted((root / "simulated").glob("*.json")) if json.loads(p.read_text())["config"]["seed"] == 0)
    csv = store.instances_path(bad)
    if damage == "delete":
        csv.unlink()
    elif damage == "out-of-range":
        csv.write_text("encoding_auc,decoding_auc\n1.249,0.9\n1.249,0.9\n0.1,0.9\n0.1,0.9\n")
    elif damage == "other-mean":
        csv.write_text("encoding_auc,decoding_auc\n" + "0.7,0.5\n" * 4)
    else:
        csv.write_bytes(b"\x00\xff\xfe")
    found = _findings(root)
    assert [f.path for f in found] == [str(bad)] and __import__("re").search(pattern, found[0].problem), found
    assert len(store.load_records(root, findings=[])) == 1


def test_files_outside_the_layout_are_ignored_with_a_note(tmp_path):
    root = _store(tmp_path)
    stray = root / "vna-notes.json"
    stray.write_text("{}")
    deep = root / "simulated" / "old" / "x.json"
    deep.parent.mkdir()
    deep.write_text("{}")
    found = _findings(root)
    assert sorted(f.path for f in found) == sorted([str(stray), str(deep)])
    assert all("outside the store's layout" in f.problem for f in found)
    assert len(store.load_records(root, findings=[])) == 2


def test_a_second_record_of_one_key_is_named_not_counted(tmp_path):
    """Recording folders are stored under folder-<hash>/: a copy of one (folder-<hash>.bak) has the layout's
    shape, so one record per key is what keeps it from being counted twice."""
    from vna.data import from_arrays, to_folder

    rng = np.random.default_rng(0)
    rec_dir = to_folder(from_arrays((rng.random((6, 8, 8)) * 255).astype(np.uint8), rng.random((6, 2, 3))),
                        tmp_path / "rec")
    root = tmp_path / "runs"
    path = store.save_record(_record(RunConfig(dataset=f"folder:{rec_dir}")), root)
    assert path.parent.name.startswith("folder-")
    shutil.copytree(path.parent, root / f"{path.parent.name}.bak")
    records = store.load_records(root, findings=(found := []))
    assert len(records) == 1 and len(found) == 1
    assert "a second record of key" in found[0].problem and str(path) in found[0].problem
    assert [c.__name__ for c in store.RECORD_CHECKS] == ["_check_aucs_in_range", "_check_mean_auc",
                                                             "_check_instances"]


def test_every_scoring_rule_present_is_checked(tmp_path):
    """The AUC checks loop over the paper rule and every rule of metrics_by_score (columns *_<rule>)."""
    root = tmp_path / "runs"
    cfg = RunConfig(dataset="simulated")
    rec = _record(cfg, cosine={"encoding_auc": 0.6, "decoding_auc": 0.7, "mean_auc": 0.65})
    rec.instances = {"encoding_auc": np.full(4, 0.8), "decoding_auc": np.full(4, 0.9),
                     "encoding_auc_cosine": np.full(4, 0.6), "decoding_auc_cosine": np.full(4, 0.7)}
    path = store.save_record(rec, root)
    assert _findings(root) == []
    _edit(path, lambda r: r["metrics_by_score"]["cosine"].update(mean_auc=0.9, decoding_auc=1.2))
    problems = {f.problem for f in _findings(root)}
    assert any("decoding_auc (rule 'cosine') = 1.2 lies outside" in p for p in problems), problems
    assert any("column decoding_auc_cosine has mean 0.7" in p for p in problems), problems
    csv = store.instances_path(path)
    csv.write_text(csv.read_text().replace("decoding_auc_cosine", "decoding_other"))
    assert any("has no column decoding_auc_cosine" in f.problem for f in _findings(root))


def test_instance_tolerance_follows_the_stored_precision(tmp_path):
    root = _store(tmp_path, seeds=(0,), encs=(0.8,))
    path = next((root / "simulated").glob("*.json"))
    csv = store.instances_path(path)
    assert "0.8," in csv.read_text()  # new files: full precision (repr)
    csv.write_text("encoding_auc,decoding_auc\n" + "0.80000,0.90000\n" * 3 + "0.80001,0.90000\n")  # 5 decimals
    assert _findings(root) == []  # mean off by 2.5e-6 < half a unit of the 5th decimal
    csv.write_text("encoding_auc,decoding_auc\n" + "0.8,0.9\n" * 3 + "0.8000001,0.9\n")
    found = _findings(root)  # 7 decimals stored: the tolerance is 5e-8, the mean is off by 2.5e-8 -> passes
    assert found == []
    csv.write_text("encoding_auc,decoding_auc\n" + "0.8,0.9\n" * 3 + "0.80001000000000001,0.9\n")
    found = _findings(root)  # full precision: 1e-9, and the mean is off by 2.5e-6
    assert len(found) == 1 and "tolerance 1e-09" in found[0].problem


def test_the_published_grid_passes_strict():
    """CI runs `python -m vna report --strict` on results/: every published record verifies, MANIFEST matches."""
    pub = store.published_dir()
    good, found = store.verify_store(pub)
    assert found == [] and len(good) == len(list(pub.glob("*/*.json")))
    assert store.check_manifest(pub) == []
    assert main(["report", "--strict", "--bootstrap", "10"]) == 0


# ------------------------------------------------------------------------------------------- manifest
def test_manifest_names_every_hand_edit(tmp_path, capsys):
    pub = tmp_path / "pub"
    pub.mkdir()
    (pub / store.PUBLISHED_MARKER).write_text("x")
    for s in (0, 1):
        store.save_record(_record(RunConfig(dataset="simulated", seed=s)), pub, publish=True)
    assert [f.problem for f in store.check_manifest(pub)][0].startswith("missing: the published grid has no")
    capsys.readouterr()
    assert main(["report", "--results-dir", str(pub), "--write-manifest"]) == 2  # needs --publish
    assert not (pub / "MANIFEST").exists()
    assert main(["report", "--results-dir", str(pub), "--write-manifest", "--publish"]) == 0
    lines = (pub / "MANIFEST").read_text().splitlines()
    assert len(lines) == 5 and all(len(ln.split("  ")[0]) == 64 for ln in lines)  # 2 x (json + csv) + PUBLISHED
    assert store.check_manifest(pub) == []
    rec, csv = sorted((pub / "simulated").glob("*.json"))[0], sorted((pub / "simulated").glob("*.csv"))[1]
    (pub / "README.md").write_text("added")
    csv.write_text(csv.read_text())  # same bytes: not a finding
    rec.write_text(rec.read_text().replace('"seconds": 1.0', '"seconds": 2.0'))
    (pub / store.PUBLISHED_MARKER).unlink()
    (pub / store.PUBLISHED_MARKER).write_text("x")
    other = sorted((pub / "simulated").glob("*.json"))[1]
    other.unlink()
    found = {f.path: f.problem for f in store.check_manifest(pub)}
    assert found == {str(pub / "README.md"): "not listed in MANIFEST (added by hand?)",
                     str(rec): "differs from its sha256 in MANIFEST (edited by hand?)",
                     str(other): "listed in MANIFEST but missing (deleted by hand?)"}
    capsys.readouterr()
    assert main(["report", "--results-dir", str(pub), "--grid", "none", "--bootstrap", "10", "--strict"]) == 2
    assert "differs from its sha256 in MANIFEST" in capsys.readouterr().err


def test_publish_writes_the_manifest(tmp_path, monkeypatch):
    pub = tmp_path / "pub"
    pub.mkdir()
    (pub / store.PUBLISHED_MARKER).write_text("x")
    from vna.study.grids import study_grid

    grid = study_grid(["simulated"], ["vna"], seeds=[0], quick=True)[:1]
    report = runner.run_grid(grid, pub, publish=True, progress=False, log=lambda s: None)
    assert report.ran == 1 and store.check_manifest(pub) == []


# ----------------------------------------------------------------------------------------- provenance
def test_new_records_store_the_code_commit_and_report_lists_it(tmp_path):
    record.code_provenance.cache_clear()  # (the value is read once per process: HEAD when the run started)
    root = _store(tmp_path)
    rec = json.loads(next((root / "simulated").glob("*.json")).read_text())
    head = rec["code"]["commit"]
    assert __import__("re").fullmatch(r"[0-9a-f]{40}", head) and isinstance(rec["code"]["dirty"], bool)
    assert subprocess.run(["git", "merge-base", "--is-ancestor", head, "HEAD"], cwd=REPO).returncode == 0
    old = sorted((root / "simulated").glob("*.json"))[0]
    _edit(old, lambda r: r.pop("code"))  # a record made before issue 21
    report = build_report(root, None, n_boot=10)
    note = next(n for n in report.notes if n.startswith("code behind these records"))
    assert "not recorded (1 record(s))" in note and head[:12] in note
    assert sum(report.commits.values()) == 2


# -------------------------------------------------------------------------------------- runs clean up
def test_a_rerun_removes_stale_temp_and_orphan_instance_files(tmp_path):
    from vna.study.grids import study_grid

    root = tmp_path / "runs"
    grid = study_grid(["simulated"], ["vna"], seeds=[0], quick=True)[:1]
    for c in grid:
        store.save_record(_record(c), root)
    folder = next(root.iterdir())
    tmp = folder / ".vna-abc.json.k2j3h4_x.tmp"  # what kill -9 at the rename leaves
    orphan = folder / "vna-0123456789ab.instances.csv"  # an instance file whose record was never written
    fresh = folder / ".vna-def.json.zzzzzzzz.tmp"  # a concurrent shard's write in progress: kept
    for p in (tmp, orphan, fresh):
        p.write_text("x")
    old = time.time() - 3600
    os.utime(tmp, (old, old))
    os.utime(orphan, (old, old))
    said = []
    report = runner.run_grid(grid, root, progress=False, log=said.append)
    assert report.already == 1 and report.ran == 0
    assert not tmp.exists() and not orphan.exists() and fresh.exists()
    assert sum("left by an interrupted write" in s for s in said) == 2


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _children(pid: int) -> list[int]:
    try:
        import psutil

        try:
            return [p.pid for p in psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
    except ImportError:  # /proc: every process whose parent is pid
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if int((d / "stat").read_text().split(")")[-1].split()[1]) == pid:
                        out.append(int(d.name))
                except (OSError, IndexError):
                    pass
        return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc (Linux)")
def test_kill_9_of_the_parent_leaves_no_worker(tmp_path):
    """The audit's case: kill -9 of a --jobs 2 parent left its workers (and the resource tracker) running."""
    env = dict(os.environ, VNA_RUNS_DIR=str(tmp_path / "runs"), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "vna", "reproduce", "--quick", "--datasets", "simulated", "--methods", "vna",
           "--seeds", "0", "1", "--jobs", "2", "--no-progress", "--results-dir", str(tmp_path / "r")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            kids = _children(proc.pid)
            if len(kids) >= 3:  # two workers and the resource tracker
                workers = kids
                time.sleep(2.0)  # let the workers start their tasks
                break
            time.sleep(0.2)
        if proc.poll() is not None:
            pytest.fail(f"the grid ended (status {proc.returncode}) before its workers could be seen")
        assert workers, "no pool workers appeared within 120 s"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 15
        while time.time() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        assert not [p for p in workers if _alive(p)], "workers outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in workers:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_pdeathsig_is_set_on_linux():
    if not sys.platform.startswith("linux"):
        assert runner._set_pdeathsig() is False
        return
    code = ("import ctypes, signal, sys; from vna.study.runner import _set_pdeathsig; assert _set_pdeathsig(); "
            "libc = ctypes.CDLL(None); v = ctypes.c_int(); libc.prctl(2, ctypes.byref(v), 0, 0, 0); "
            "sys.exit(0 if v.value == signal.SIGTERM else 1)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


# ---------------------------------------------------------------------------------------------- inputs
def test_datasets_say_present_not_verified_and_verify_finds_a_corrupt_file(shared_data, tmp_path, monkeypatch):
    from vna.data import real, registry

    cache = tmp_path / "cache"
    for rel in real.COWLEY_FILES:
        target = cache / real.COWLEY_FOLDER / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / real.COWLEY_FOLDER / rel, target)
    monkeypatch.setenv("VNA_DATA_DIR", str(cache))
    assert registry.available().set_index("name").loc["cowley2023-v4", "status"] == "present, not verified"
    assert registry.available(verify=True).set_index("name").loc["cowley2023-v4", "status"] == "cached, verified"
    victim = cache / real.COWLEY_FOLDER / sorted(real.COWLEY_FILES)[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert registry.available().set_index("name").loc["cowley2023-v4", "status"] == "present, not verified"
    status = registry.available(verify=True).set_index("name").loc["cowley2023-v4", "status"]
    assert status.startswith("corrupt or incomplete:") and victim.name in status


def test_a_broken_pipe_exits_quietly():
    """`python -m vna datasets | head -1` printed "error: [Errno 32] Broken pipe"."""
    # `true` exits without reading, long before vna (seconds of imports) writes: every write meets a closed pipe
    proc = subprocess.run(f"'{sys.executable}' -m vna datasets | true; echo \"${{PIPESTATUS[0]}}\"", shell=True,
                          executable="/bin/bash", cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "141" and proc.stderr == ""  # 128 + SIGPIPE, like a tool the pipe ended
