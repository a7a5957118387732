"""The norm diagnostic of the results chapter: does a method's encoding AUC follow the norm of the response?

A score that ranks candidate responses by their norm ‖y‖ (the paper's −Euclidean rule for direct encoding
does, section 4.2.1) gives each test instance an AUC that falls with the norm of its true response.
:func:`norm_diagnostic` joins each instance's AUC (from the records' per-instance files) with that norm;
:func:`spearman_by_rule` summarises it as Spearman's ρ per method and scoring rule.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..scoring import SCORES
from .pipeline import prepare
from .stats import where
from .store import instances_path, read_record

__all__ = ["norm_diagnostic", "spearman_by_rule"]


def norm_diagnostic(records: pd.DataFrame, *, dataset: str = "cowley2023-v4", split: str = "images",
                    test_responses: str = "trials", seed: int = 0, data_dir=None) -> pd.DataFrame:
    """Per test instance of one cell and seed: the norm ‖y‖ of its true (test) response, re-prepared with
    :func:`vna.study.pipeline.prepare` from the record's own config (deterministic, no training), joined with
    each method's per-instance encoding AUC under every rule its file holds.

    Columns: method, instance, image, norm, score, encoding_auc. ``records``:
    :func:`vna.study.store.load_records` rows of one configuration per method (one grid's), ValueError
    otherwise."""
    sel = where(records, dataset=dataset, split=split, test_responses=test_responses, seed=seed)
    if sel.empty:
        raise ValueError(f"no records of {dataset} {split}/{test_responses} seed {seed}")
    test = prepare(read_record(sel["path"].iloc[0]).config, data_dir=data_dir).test
    norm = test.responses.norm(dim=1).numpy().astype(float)
    image = test.match.numpy()
    rows = []
    for method, g in sel.groupby("method", sort=False):
        if g["group"].nunique() > 1:
            raise ValueError(f"{method} has {g['group'].nunique()} configurations in this cell "
                             f"({', '.join(sorted(g['group']))}); pass one grid's records")
        frame = pd.read_csv(instances_path(g["path"].iloc[0]))
        if len(frame) != len(norm):
            raise ValueError(f"{instances_path(g['path'].iloc[0])} has {len(frame)} instances; the re-prepared test "
                             f"set has {len(norm)} responses")
        for col in [c for c in frame.columns if c.startswith("encoding_auc")]:
            rule = col[len("encoding_auc_"):] or "paper"
            rows.append(pd.DataFrame({"method": method, "instance": np.arange(len(norm)), "image": image,
                                      "norm": norm, "score": rule, "encoding_auc": frame[col].to_numpy(float)}))
    return pd.concat(rows, ignore_index=True)


def spearman_by_rule(diag: pd.DataFrame) -> pd.DataFrame:
    """Spearman's ρ between ‖y‖ and the per-instance encoding AUC (:func:`norm_diagnostic` rows), per method
    (rows, as ``diag`` names them) and rule (columns, in the order of :data:`vna.scoring.SCORES`)."""
    from scipy import stats  # noqa: PLC0415 - only here

    rho = {(m, r): float(stats.spearmanr(g["norm"], g["encoding_auc"]).statistic)
           for (m, r), g in diag.groupby(["method", "score"], sort=False)}
    out = pd.Series(rho).unstack()
    out = out[[r for r in SCORES if r in out.columns]]
    out.index.name, out.columns.name = "method", None
    return out
