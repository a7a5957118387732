#!/usr/bin/env python
"""Write tests/mutation/README.md from a finished ``mutmut run`` (the ``mutants/`` folder).

Per core module: mutants, killed (tests failed or timed out), survived, and the share of non-equivalent
mutants killed. Every survivor is listed with its one-line reason from ``tests/mutation/survivors.csv``
(``mutant,reason``; a reason starts with ``equivalent`` -- the mutant cannot change behaviour --,
``killed outside mutmut`` -- a test catches the change planted in the source but cannot see it through
mutmut's trampoline (defaults read by ``inspect.signature``) --, ``needs a GPU`` -- CUDA-only code, counted
as not killed -- or ``test added:`` naming the test written for it, which a rerun then kills). A survivor
without a reason is listed as UNEXPLAINED, and the exit status is 1 when any module is below 90 % of its
non-equivalent mutants killed (GPU-only ones included).

Usage: ``python tests/mutation/report.py [mutmut results file, ignored: the .meta files are read]``
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MUTANTS = REPO / "mutants"
OUT = Path(__file__).with_name("README.md")
REASONS = Path(__file__).with_name("survivors.csv")
STATUS = {0: "survived", 1: "killed", 3: "killed", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout",
          24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", None: "not checked"}


def load() -> tuple[dict[str, dict[str, str]], dict[str, int], dict]:
    """Statuses of the checked mutants per module (the sample's, when ``mutants/sample.json`` names one),
    each module's total number of mutants, and the sample's description."""
    sample_file = MUTANTS / "sample.json"
    sample = json.loads(sample_file.read_text()) if sample_file.is_file() else {}
    chosen = set(sample.get("names", []))
    by_module: dict[str, dict[str, str]] = defaultdict(dict)
    totals: dict[str, int] = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = meta.relative_to(MUTANTS).as_posix()[: -len(".meta")]
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        totals[module] = len(codes)
        for key, code in codes.items():
            if not chosen or key in chosen:
                by_module[module][key] = STATUS.get(code, "suspicious")
    return by_module, totals, sample


def reasons() -> dict[str, str]:
    if not REASONS.is_file():
        return {}
    with REASONS.open(newline="") as f:
        return {row["mutant"]: row["reason"] for row in csv.DictReader(f)}


def main() -> int:
    if not MUTANTS.is_dir():
        print("no mutants/ folder: run `make mutation` first", file=sys.stderr)
        return 2
    (data, totals, sample), why = load(), reasons()
    lines = ["# Mutation testing of the core modules", "",
             f"`make mutation` (mutmut, configured in `pyproject.toml` `[tool.mutmut]`), report written "
             f"{dt.date.today().isoformat()} by `tests/mutation/report.py`. A mutant is *killed* when the unit tests "
             "fail (or time out) on it. Statements that only word an error, a warning or a progress line are not "
             "mutated (their wording is checked by pattern in `tests/test_bad_inputs.py`). Survivors are explained "
             "in `tests/mutation/survivors.csv`: *equivalent* (no input can tell the mutant from the original) or "
             "*test added* (then killed by a rerun), *killed outside mutmut* (a test that mutmut's trampoline "
             "cannot reach fails when the change is planted in the source), or *needs a GPU* (CUDA-only code that "
             "the CPU-only suite cannot run; counted as not killed)."
             + (f" Checked: a seeded random sample (seed {sample.get('seed')}) of at most {sample.get('per_module')} "
                "mutants per module (`tests/mutation/sample.py`; `--per-module 0` checks all)." if sample else ""), "",
             "| module | mutants (checked of all) | killed | survived | no test reaches it | equivalent | "
             "needs a GPU | killed of non-equivalent | killed of non-equivalent, CPU code |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    failing = False
    detail = []
    for module, statuses in sorted(data.items()):
        c = Counter("killed" if s in ("killed", "timeout") else s for s in statuses.values())
        # a mutant no selected test reaches is not killed: it counts against the module like a survivor
        survivors = sorted(k for k, s in statuses.items() if s in ("survived", "no tests", "suspicious"))
        equivalent = [k for k in survivors if why.get(k, "").startswith("equivalent")]
        outside = [k for k in survivors if why.get(k, "").startswith("killed outside mutmut")]
        gpu = [k for k in survivors if why.get(k, "").startswith("needs a GPU")]
        killed = c["killed"] + len(outside)
        unchecked = c["not checked"] + c["skipped"]
        denominator = len(statuses) - len(equivalent) - unchecked
        share = killed / denominator if denominator else float("nan")
        cpu_share = killed / (denominator - len(gpu)) if denominator > len(gpu) else float("nan")
        failing |= not share >= 0.9
        lines.append(f"| `{module}` | {len(statuses)} of {totals[module]} | {killed} | {c['survived'] - len(outside)} | "
                     f"{c['no tests']} | {len(equivalent)} | {len(gpu)} | {share:.1%} | {cpu_share:.1%} |")
        if survivors:
            detail += ["", f"### `{module}`: {len(survivors)} survivor(s)", ""]
            detail += [f"- `{k}` ({statuses[k]}): {why.get(k, 'UNEXPLAINED')}" for k in survivors]
    OUT.write_text("\n".join(lines + detail) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {OUT.relative_to(REPO)}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
