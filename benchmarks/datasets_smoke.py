"""End-to-end smoke run on every offline dataset (issue 'Data', acceptance): per dataset and split, the
load time and the encoding/decoding AUC of each method after a short training run. Prints one table;
``--out FILE.csv`` also writes it (atomically).

Usage: ``python benchmarks/datasets_smoke.py [--epochs 5] [--seed 0] [--out smoke.csv]``
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from vna import RunConfig  # noqa: E402
from vna.data import load, to_paired  # noqa: E402
from vna.study.pipeline import run  # noqa: E402

CASES = [  # (dataset, options, splits): trial-mean data support only split="images"
    ("simulated", {}, ("images", "trials")),
    ("cowley2023-v4", {}, ("images", "trials")),
    ("allen-2p-ns118", {}, ("images",)),
    ("antolik2016-v1", {"region": 1}, ("images", "trials")),
]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    rows = []
    for name, options, splits in CASES:
        t0 = time.perf_counter()
        rec = load(name, **options)
        load_s = time.perf_counter() - t0
        for split in splits:
            data = to_paired(rec, split=split, seed=a.seed, verbose=False)
            for method in ("vna", "direct_encoder", "direct_decoder"):
                cfg = RunConfig(dataset=name, dataset_options=options, split=split, method=method,
                                epochs=a.epochs, seed=a.seed)
                out = run(cfg, data=data, progress=False)
                rows.append(dict(dataset=name, split=split, method=method, load_s=round(load_s, 2),
                                 n_train=data[0].n_responses, n_test=data[1].n_responses,
                                 encoding_auc=round(out.metrics["encoding_auc"], 4),
                                 decoding_auc=round(out.metrics["decoding_auc"], 4), run_s=round(out.seconds, 1)))
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if a.out:
        tmp = a.out + ".tmp"
        table.to_csv(tmp, index=False)
        os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
