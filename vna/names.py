"""What the book, the report and the figures call things: methods, protocols, tasks, and their colours.

One place, so that a method reads the same in the README's table, the report and every figure. Methods have the
paper's names (section 4.2, Table 1) and short ones for narrow columns and legends.
"""
from __future__ import annotations

__all__ = ["METHOD_NAMES", "METHOD_SHORT", "METHOD_COLORS", "TASK_COLORS", "TASK_MARKERS", "RULE_COLORS",
           "SPLIT_LABELS", "RESPONSE_LABELS", "SPLIT_ORDER", "protocol_label"]

#: The paper's three methods (their order is every table's), then the analyses' baselines (vna.linear).
METHOD_NAMES = {
    "vna": "Visual-Neural Alignment",
    "direct_encoder": "Direct Encoding",
    "direct_decoder": "Direct Decoding",
    "ridge_encoder": "Ridge encoding (linear)",
    "ridge_decoder": "Ridge decoding (linear)",
    "cca": "CCA alignment (linear)",
    "trial_template": "Trial template (reference)",
}
METHOD_SHORT = {"vna": "VNA", "direct_encoder": "DE", "direct_decoder": "DD", "ridge_encoder": "ridge enc. (linear)",
                "ridge_decoder": "ridge dec. (linear)", "cca": "CCA (linear)", "trial_template": "trial template"}
METHOD_COLORS = {"vna": "tab:green", "direct_encoder": "tab:blue", "direct_decoder": "tab:red",
                 "ridge_encoder": "tab:cyan", "ridge_decoder": "tab:pink", "cca": "tab:olive", "trial_template": "0.3"}
TASK_COLORS = {"encoding": "tab:blue", "decoding": "tab:orange"}
TASK_MARKERS = {"encoding": "o", "decoding": "s", "average": "D"}
#: One colour per scoring rule (:data:`vna.scoring.SCORES`).
RULE_COLORS = {"paper": "0.15", "cosine": "tab:purple", "centred": "tab:orange"}

#: The protocols of the reproduction study: what a split holds out, and what the test responses are.
SPLIT_LABELS = {"images": "held-out images", "trials": "held-out trials", "none": "in-sample (diagnostic)"}
RESPONSE_LABELS = {"trials": "single trials", "mean": "trial means"}
#: The order of the splits in every table.
SPLIT_ORDER = {"images": 0, "trials": 1, "none": 2}


def protocol_label(split: str, test_responses: str) -> str:
    """``"held-out images, single trials"`` etc.: a protocol as the book names it."""
    return f"{SPLIT_LABELS.get(split, split)}, {RESPONSE_LABELS['trials' if test_responses == 'trials' else 'mean']}"
