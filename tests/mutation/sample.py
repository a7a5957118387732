#!/usr/bin/env python
"""Run mutmut on a seeded random sample of each core module's mutants (``make mutation``).

The core modules hold about 4,400 mutants; with the unit tests that reach them, checking all of them takes
hours on two cores. A seeded sample of at most ``--per-module`` mutants per module (all of a smaller module)
estimates each module's kill rate, and every survivor of the sample is listed and explained in the report
(``tests/mutation/report.py``). ``--per-module 0`` runs every mutant.

Usage: ``python tests/mutation/sample.py [--per-module 150] [--seed 0] [--max-children 2] [--only NAMES...]``
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MUTANTS = REPO / "mutants"
MUTMUT = [sys.executable, "-m", "mutmut"]


def all_mutants() -> dict[str, list[str]]:
    """Module -> its mutant names (mutmut writes them to ``mutants/**/*.meta`` when it generates them)."""
    out = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = meta.relative_to(MUTANTS).as_posix()[: -len(".meta")]
        out[module] = sorted(json.loads(meta.read_text())["exit_code_by_key"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-module", type=int, default=150, help="mutants sampled per module (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-children", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None, help="run exactly these mutant names (e.g. survivors)")
    args = ap.parse_args(argv)
    if not MUTANTS.is_dir() or not any(MUTANTS.rglob("*.py.meta")):
        # generate the mutants (mutmut does it as the first step of a run): a run of one name that exists nowhere
        subprocess.run([*MUTMUT, "run", "--max-children", "1", "vna.__no_such_mutant__"], cwd=REPO)
    mutants = all_mutants()
    if args.only:
        names = args.only
    else:
        rng = random.Random(args.seed)
        names = []
        for module, keys in mutants.items():
            names += keys if args.per_module <= 0 or len(keys) <= args.per_module else rng.sample(keys, args.per_module)
    if not args.only:  # a rerun of some names (e.g. the survivors) keeps the sample it belongs to
        sample_file = MUTANTS / "sample.json"
        sample_file.write_text(json.dumps({"seed": args.seed, "per_module": args.per_module, "names": sorted(names)}))
    print(f"running {len(names)} of {sum(map(len, mutants.values()))} mutants", flush=True)
    return subprocess.run([*MUTMUT, "run", "--max-children", str(args.max_children), *sorted(names)], cwd=REPO).returncode


if __name__ == "__main__":
    sys.exit(main())
