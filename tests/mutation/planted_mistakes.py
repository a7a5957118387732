#!/usr/bin/env python
"""Plant each mistake of issue "Tests that catch the mistakes that matter" in a copy of the repository and
check that the unit tests catch it (``make planted``; not part of CI).

For each mistake: copy ``vna/``, ``tests/``, ``scripts/``, ``notebooks/``, ``results/PUBLISHED`` and
``pyproject.toml`` into a temporary folder, apply one textual change to one file (the change must apply
exactly once), run the named tests there with that copy's own ``vna`` first on the path, and report whether
they failed (caught) or passed (survived). Exit status 1 when any mistake survives or no longer applies.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# (name, file, old text, new text, tests that must catch it)
MISTAKES = [
    ("evaluate swaps the encoding and decoding tasks", "vna/evaluation.py",
     "auc = discriminative_auc(S, match, task, n_distractors, seed)",
     "auc = discriminative_auc(S, match, {'encoding': 'decoding', 'decoding': 'encoding'}[task], n_distractors, seed)",
     ["tests/test_glue.py::test_evaluate_reads_encoding_from_rows_and_decoding_from_columns"]),
    ("evaluate's top-k ignores n_distractors", "vna/evaluation.py",
     "top = top_k_accuracy(S, match, task, (1, 5), n_distractors, seed)",
     "top = top_k_accuracy(S, match, task, (1, 5), None, seed)",
     ["tests/test_glue.py::test_evaluate_top_k_uses_the_sampled_candidate_sets"]),
    ("pipeline.run ignores cfg.n_distractors", "vna/study/pipeline.py",
     "evaluate_scores(S, test.match, c.n_distractors, c.seed)",
     "evaluate_scores(S, test.match, None, c.seed)",
     ["tests/test_glue.py::test_pipeline_uses_the_configs_n_distractors"]),
    ("pipeline.run ignores cfg.zscore", "vna/study/config.py",
     '"seed", "zscore", "image_size"', '"seed", "image_size"',
     ["tests/test_glue.py::test_pipeline_uses_the_configs_zscore"]),
    ("fit validates on the training set", "vna/train.py",
     "_validate_epoch(model, val_data, batch_size)", "_validate_epoch(model, data, batch_size)",
     ["tests/test_glue.py::test_fit_validates_on_the_validation_pairs"]),
    ("fit ignores weight_decay", "vna/train.py",
     "lr=lr, weight_decay=weight_decay", "lr=lr, weight_decay=0.0",
     ["tests/test_glue.py::test_fit_applies_weight_decay"]),
    ("the temperature is never learned (logit_scale detached in the loss)", "vna/models.py",
     "self.spike_encoder(responses), self.logit_scale)", "self.spike_encoder(responses), self.logit_scale.detach())",
     ["tests/test_glue.py::test_vna_learns_its_temperature_only_when_asked"]),
    ("reproduce exits 0 when runs failed", "vna/cli.py",
     "return 0 if report.ok else 1", "return 0",
     ["tests/test_results.py::test_reproduce_exits_nonzero_when_a_run_fails"]),
    ("the table keeps the other group on a tie (by date or by the larger key)", "vna/study/tables.py",
     'g = g.sort_values(["n_seeds", "group"], ascending=[False, True])',
     'g = g.sort_values(["n_seeds", "group"], ascending=[False, False])',
     ["tests/test_results.py::test_tie_is_broken_by_key_not_by_date"]),
    ("notebook runs default to the published results/", "vna/chapters/notebook.py",
     "    return runs_dir()", "    from ..study.store import published_dir\n\n    return published_dir()",
     ["tests/test_results.py::test_side_run_leaves_the_published_table_unchanged"]),
    ("the loss drops the response->image direction", "vna/losses.py",
     "return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))",
     "return F.cross_entropy(logits, target)",
     ["tests/test_losses.py"]),
]


def copy_repo(dest: Path) -> None:
    for name in ("vna", "tests", "scripts", "notebooks"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "mutants"))
    (dest / "results").mkdir()
    shutil.copy2(REPO / "results" / "PUBLISHED", dest / "results" / "PUBLISHED")
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")


def main() -> int:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    shared = REPO.parent / "shared" / "data"
    if "VNA_DATA_DIR" not in env and shared.is_dir():
        env["VNA_DATA_DIR"] = str(shared)
    bad = 0
    rows = []
    every_test = sorted({t for *_, tests in MISTAKES for t in tests})
    with tempfile.TemporaryDirectory(prefix="vna-planted-") as tmp:  # the tests must pass without a mistake
        copy_repo(Path(tmp))
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *every_test], cwd=tmp,
                              env={**env, "PYTHONPATH": tmp, "VNA_RUNS_DIR": str(Path(tmp) / "_runs")},
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout[-3000:])
            print("the tests fail on the unchanged copy: a 'caught' would mean nothing")
            return 1
        print(f"baseline: the {len(every_test)} test selections pass on the unchanged copy", flush=True)
    for name, rel, old, new, tests in MISTAKES:
        with tempfile.TemporaryDirectory(prefix="vna-planted-") as tmp:
            root = Path(tmp)
            copy_repo(root)
            path = root / rel
            text = path.read_text()
            if text.count(old) != 1:
                rows.append((name, "NO LONGER APPLIES", rel))
                bad += 1
                continue
            path.write_text(text.replace(old, new))
            env["VNA_RUNS_DIR"] = str(root / "_runs")
            proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                                  cwd=root, env={**env, "PYTHONPATH": str(root)}, capture_output=True, text=True)
            caught = proc.returncode != 0
            bad += not caught
            rows.append((name, "caught" if caught else "SURVIVED", " ".join(tests)))
            print(f"{'caught  ' if caught else 'SURVIVED'} {name}  <- {' '.join(tests)}", flush=True)
    print("\n| planted mistake | result | caught by |\n|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | `{row[2]}` |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
