"""Helpers for the book's chapters, for what is not the science: the data note, where records go, saving them.

The notebooks call these (the command line does not); they live in the library so that the chapters say the
same thing the same way. A method chapter's setup is one call::

    chapter = method_chapter("vna", globals())   # the parameters cell's values -> RunConfigs and notes

which reads the chapter's ``parameters`` (:data:`PARAMETERS`), builds one :class:`~vna.study.config.RunConfig`
per seed and shows the data note, the compute note and the fields that differ from the defaults. The chapter
then trains and evaluates its model in view (``vna.fit``, ``model.score``, ``vna.evaluate``), and
``chapter.save(model, history, parts)`` writes the run's record to the runs folder. Every path a chapter prints
goes through :func:`show_path`: relative to the repository or ``$VNA_DATA_DIR``, never an absolute path of the
machine that ran it.
"""
from __future__ import annotations

import ast
import numbers
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import torch

from ..data.cache import MissingDataFile, data_dir
from ..data.preprocess import PairedParts
from ..data.registry import DATASETS, load
from ..evaluation import evaluate_rules
from ..methods import ALL_METHODS, build_model
from ..study.config import RunConfig
from ..study.grids import QUICK, STUDY_TRAINING, check_seeds, quick_config
from ..names import METHOD_NAMES
from ..study.pipeline import check_presplit, run
from ..study.record import RunRecord, resolved_device
from ..study.store import check_results_dir, runs_dir, save_record
from ..train import resolve_device
from .plots import dataset_label

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from IPython.display import Markdown

__all__ = [
    "DEFAULT_REAL_DATASET", "PARAMETERS", "resolve_dataset", "records_folder", "load_or_simulated", "simulated_fallback", "default_results_dir", "show_path",
    "on_colab", "positive_int", "compute_note",
    "available_datasets", "config_changes", "Chapter", "method_chapter", "data_chapter", "literal_value",
]

#: The dataset the method chapters use when it is available offline (``dataset="auto"``).
DEFAULT_REAL_DATASET = "cowley2023-v4"

#: Every chapter's ``parameters`` cell, in order, with its default (they map onto RunConfig fields, except
#: ``seeds`` -- one ``RunConfig.seed`` per run -- and ``data_dir``, ``results_dir`` and ``quick``).
PARAMETERS: dict[str, Any] = {
    "dataset": "auto", "split": "images", "responses": "trials", "seeds": [0], "epochs": 15, "batch_size": 64,
    "lr": 1e-3, "latent_dim": 128, "n_distractors": None, "device": "auto", "data_dir": None,
    "results_dir": None, "quick": False,
}


def on_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules


def compute_note(device: str = "auto") -> str:
    """Where a notebook trains: the resolved device and, on the CPU, the number of threads."""
    name = resolved_device(device)
    on_gpu = name.startswith("cuda") and torch.cuda.is_available()
    return name if on_gpu else f"{name}, {torch.get_num_threads()} thread(s)"


def show_path(path: str | Path) -> str:
    """``path`` as a reader should see it: relative to the data folder, the repository or ``~``, never an
    absolute path of the machine that built the book."""
    p = Path(path).expanduser().resolve()
    repo = Path(__file__).resolve().parents[2]
    for base, label in ((data_dir().expanduser().resolve(), "$VNA_DATA_DIR"), (repo, ""),
                        (Path.home().resolve(), "~")):
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        rel_text = rel.as_posix()
        if label == "":
            return rel_text or "."
        return f"{label}/{rel_text}" if rel_text != "." else label
    return p.name


def resolve_dataset(dataset: str = "auto") -> tuple[str, str]:
    """``(name, explanation)``: ``"auto"`` is the real ``cowley2023-v4`` when its files are in the data
    folder (or, on Colab, when its pinned files download now), else the simulated set, and the note says
    which and why; any other name is kept."""
    if dataset != "auto":
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; known: auto, {', '.join(DATASETS)}")
        kind = DATASETS[dataset].kind
        note = "SIMULATED data" if kind == "simulated" else f"a {kind} recording"
        return dataset, f"dataset {dataset!r} ({note}), as set in the parameters"
    try:
        status = DATASETS[DEFAULT_REAL_DATASET].cache_status()
    except Exception as exc:  # noqa: BLE001 - fall back to the embedded set, and say why
        status = f"error: {exc}"
    where = show_path(data_dir())
    if status == "cached":
        return DEFAULT_REAL_DATASET, (f"dataset 'auto' -> {DEFAULT_REAL_DATASET!r}: the real macaque V4 recording, "
                                      f"found in the data folder ({where})")
    if on_colab():  # the pinned files are downloaded now; when they cannot be, the simulated cortex
        try:
            load(DEFAULT_REAL_DATASET)
        except MissingDataFile as exc:
            return "simulated", (f"dataset 'auto' -> 'simulated': {DEFAULT_REAL_DATASET} is neither in the data "
                                 f"folder ({where}) nor downloadable ({exc.reason}), so this run uses SIMULATED data")
        return DEFAULT_REAL_DATASET, (f"dataset 'auto' -> {DEFAULT_REAL_DATASET!r}: the real macaque V4 recording, "
                                      f"downloaded into {where} (pinned files, SHA-256 checked)")
    return "simulated", (f"dataset 'auto' -> 'simulated': {DEFAULT_REAL_DATASET} is not in the data folder "
                         f"({where}; {status}), so this run uses SIMULATED data")


def load_or_simulated(name: str, simulated: Mapping[str, Any] | None = None, **options):
    """``(recording, note)``: the named recording (``note`` None) when it is in the data folder or its pinned
    files download now; else the simulated cortex (``vna.data.load("simulated", **simulated)``) and a note
    saying so and why. Only a missing file falls back: a corrupt one is still an error."""
    try:
        return load(name, **options), None
    except MissingDataFile as exc:
        shown = f"{name} {dict(options)}" if options else name
        return load("simulated", **(simulated or {})), (
            f"{shown} is neither in the data folder ({show_path(data_dir())}) nor downloadable ({exc.reason}), "
            "so the SIMULATED cortex stands in for it")


def simulated_fallback(name: str, **options) -> str | None:
    """``None`` when the named recording is usable here (cached, or its pinned files download now), else
    the note :func:`load_or_simulated` gives (it is neither: the simulated cortex stands in)."""
    try:
        if DATASETS[name].cache_status() in ("cached", "embedded") and not options:
            return None
    except Exception:  # noqa: BLE001 - a broken status: try the load, which names the problem
        pass
    return load_or_simulated(name, **options)[1]


def default_results_dir() -> Path:
    """Where a chapter saves its runs: the untracked runs folder (:func:`vna.study.store.runs_dir`), never the
    published grid."""
    return runs_dir()


def records_folder(results_dir: Any, default: Path | None) -> Path:
    """The folder of records a chapter reads: ``results_dir`` (a papermill parameter) when given, else ``default``;
    an error naming the path when it is empty, a file or missing."""
    if results_dir is not None and not str(results_dir).strip():
        raise ValueError(f"results_dir={results_dir!r} is empty; name a folder of records, or pass None")
    if results_dir is None:
        if default is None or not Path(default).is_dir():
            raise FileNotFoundError("no results folder: pass results_dir= (a folder of records made by python -m "
                                    "vna reproduce), or run this chapter from a checkout of the repository")
        return Path(default)
    path = Path(results_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"results_dir={str(results_dir)!r}: {path} is a file, not a folder of records")
    if not path.is_dir():
        raise FileNotFoundError(f"results_dir={str(results_dir)!r}: there is no folder {path}")
    return path


def available_datasets(kinds: Sequence[str] = ("simulated", "stand-in", "paper")) -> list[str]:
    """Names of the datasets usable on this machine without a download (status "embedded" or "cached")."""
    names = []
    for name, info in DATASETS.items():
        if info.kind not in kinds:
            continue
        try:
            status = info.cache_status()
        except Exception:  # noqa: BLE001 - a broken status means "not usable now"
            continue
        if status in ("embedded", "cached"):
            names.append(name)
    return names


def positive_int(name: str, value: Any) -> int:
    """A chapter's whole-number parameter (``bootstrap=2000``) as an int >= 1, or a ValueError naming it and the
    value (papermill passes what it is given: ``0``, ``-5`` or ``"lots"`` would otherwise fail deep inside)."""
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    whole = whole or (isinstance(value, float) and value.is_integer())
    if not whole or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def config_changes(cfg) -> dict[str, Any]:
    """The fields of ``cfg`` that differ from :class:`~vna.study.config.RunConfig`'s defaults, in field order."""
    import dataclasses

    default = RunConfig()
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
            if getattr(cfg, f.name) != getattr(default, f.name)}


def literal_value(value: Any) -> Any:
    """A parameter papermill passed as text (``-p seeds "[0, 1]"`` gives the string ``"[0, 1]"``) as the Python
    literal it spells (``[0, 1]``; ``"12"`` gives ``12``, never ``[1, 2]``); text that is no literal, and any
    other value, unchanged."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


def _parameters(params: Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    given = {**{k: v for k, v in (params or {}).items() if k in PARAMETERS}, **overrides}
    unknown = sorted(set(overrides) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"unknown chapter parameter(s) {unknown}; known: {', '.join(PARAMETERS)}")
    values = {**PARAMETERS, **given}
    # a list-typed parameter: papermill's -p passes its text ("[0, 1]"); "12" is the one seed 12, never [1, 2]
    values["seeds"] = check_seeds(literal_value(values["seeds"]))
    if not isinstance(values["quick"], bool):
        raise ValueError(f"quick must be True or False; got {values['quick']!r}")
    return values


@dataclass
class Chapter:
    """A chapter's settings, resolved: its RunConfigs (one per seed), where the data and runs come from,
    and the notes it shows. Displayed in a notebook, it renders as those notes."""

    method: str | None
    configs: list
    label: str
    data_note: str
    compute_note: str
    mode_note: str
    results_dir: Path
    quick: bool
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def cfg(self):
        """The first seed's RunConfig (the one a chapter examines in detail)."""
        return self.configs[0]

    @property
    def dataset(self) -> str:
        return self.cfg.dataset

    @property
    def seeds(self) -> list[int]:
        return [c.seed for c in self.configs]

    def changes(self) -> dict[str, Any]:
        """The fields of the first RunConfig that differ from the defaults (seed and method included)."""
        return config_changes(self.cfg)

    def notes_markdown(self) -> str:
        lines = [f"**Data:** {self.data_note}."]
        if self.method is not None:
            lines.append(f"**Compute:** {self.compute_note}.")
            lines.append(f"**Mode:** {self.mode_note}")
            changed = ", ".join(f"`{k}={v!r}`" for k, v in self.changes().items()) or "none"
            lines.append(f"**RunConfig** (fields that differ from the defaults): {changed}.")
        elif self.quick:
            lines.append(f"**Mode:** {self.mode_note}")
        return "  \n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.notes_markdown()

    def __repr__(self) -> str:
        return f"Chapter(method={self.method!r}, dataset={self.dataset!r}, seeds={self.seeds}, quick={self.quick})"

    # ------------------------------------------------------------------------------------------ records
    def save(self, model, history, parts) -> Path | None:
        """Save the record of the first seed's run, trained in the chapter's view: ``model`` after
        ``history = vna.fit(model, parts.train, ...)`` on ``parts = prepare(chapter.cfg)``. The record is what
        :func:`vna.study.pipeline.run` would write for ``chapter.cfg`` (the model evaluated under every scoring
        rule of :mod:`vna.scoring`; the same key), in the runs folder; nothing in quick mode. A model, data or
        training whose settings are not the config's is refused (ValueError naming the setting): the record
        would misname them. Returns the record's path (``None`` in quick mode)."""
        if self.method is None:
            raise ValueError("this chapter has no method to train (data_chapter)")
        cfg = self.cfg
        _check_trained(cfg, model, history, parts)
        evs = evaluate_rules(model, parts.test, cfg.n_distractors, cfg.seed, device=cfg.device)
        seconds = float(sum(h.get("seconds", 0.0) for h in history))  # the training epochs' time
        return self._save(RunRecord.from_run(cfg, evs, parts, history, seconds=seconds, source="notebook",
                                             device=str(resolve_device(cfg.device)), model=model))

    def more_seeds(self, progress: bool = False) -> list[dict[str, float]]:
        """Every seed after the first (``seeds``): the first seed's steps -- ``prepare``, build, ``vna.fit``,
        ``vna.evaluate`` -- through :func:`vna.study.pipeline.run`, each record saved (not in quick mode).
        Returns each seed's metrics (an empty list for one seed)."""
        if self.method is None:
            raise ValueError("this chapter has no method to train (data_chapter)")
        metrics = []
        for c in self.configs[1:]:
            record = run(c, progress=progress)
            record.source = "notebook"
            self._save(record)
            metrics.append(record.metrics["paper"])
        return metrics

    def _save(self, record: RunRecord) -> Path | None:
        line = f"seed {record.config.seed}: {record.seconds:.0f} s on {record.device}"
        if self.quick:
            print(f"{line} (quick: not saved)")
            return None
        path = save_record(record, self.results_dir, overwrite=True)
        print(f"{line}; record -> {show_path(path)}")
        return path

    def metrics_table(self, first: Mapping[str, float], more: Sequence[Mapping[str, float]] = ()) -> pd.DataFrame:
        """One row per seed: the first seed's metrics (``vna.evaluate``) and those of :meth:`more_seeds`
        (rounded to 4 digits)."""
        import pandas as pd

        rows = [{"seed": c.seed, **m} for c, m in zip(self.configs, [first, *more])]
        return pd.DataFrame(rows).set_index("seed").round(4)

    def summary(self, metrics: Mapping[str, float]) -> Markdown:
        """The chapter's closing paragraph for the first seed's ``metrics`` (Markdown)."""
        from IPython.display import Markdown

        m, cfg = metrics, self.cfg
        name = METHOD_NAMES.get(self.method, self.method)
        name = name if self.method == "vna" else name.lower()
        return Markdown(
            f"On {self.label}, {name} trained for {cfg.epochs} epoch(s) "
            f"(seed {cfg.seed}) reaches an encoding AUC of **{m['encoding_auc']:.4f}** and a decoding AUC of "
            f"**{m['decoding_auc']:.4f}** (average {m['mean_auc']:.4f}); its true match is ranked first for "
            f"{100 * m['encoding_top1']:.1f} % of the encoding and {100 * m['decoding_top1']:.1f} % of the decoding "
            "instances. " + ("These are quick smoke-test numbers, not results. " if self.quick else "")
            + "The [results chapter](05_results.ipynb) compares all three methods over several seeds with the "
            "result grid's settings."
        )


def _check_trained(cfg: RunConfig, model, history, parts) -> None:
    """Refuse a model, data or training in view whose settings are not ``cfg``'s (what its record will say)."""
    if not isinstance(parts, PairedParts):
        raise ValueError(f"parts must be the PairedParts of prepare(chapter.cfg); got {type(parts).__name__}")
    check_presplit(cfg, parts)
    with torch.random.fork_rng():  # building the reference model must not move the global seed
        expected = build_model(cfg, parts.train.n_neurons).init_kwargs
    got = getattr(model, "init_kwargs", None)
    if got != expected:
        raise ValueError(f"the model was built with {got}, but chapter.cfg builds {expected}; build it with the "
                         "config's settings, or its record would misname it")
    plan = getattr(history, "plan", None)
    trained = {"epochs": len(history), "precision": getattr(plan, "precision", None),
               "memory_format": "channels_last" if getattr(plan, "channels_last", False) else "contiguous",
               "device": getattr(plan, "device_type", None), "threads": torch.get_num_threads()}
    wanted = {"epochs": cfg.epochs, "precision": cfg.precision, "memory_format": cfg.memory_format,
              "device": resolve_device(cfg.device).type,
              "threads": cfg.threads if trained["device"] == "cpu" else trained["threads"]}
    differ = {k: (trained[k], wanted[k]) for k in wanted if trained[k] != wanted[k]}
    if differ:
        named = ", ".join(f"{k}: {a!r} (chapter.cfg: {b!r})" for k, (a, b) in differ.items())
        raise ValueError(f"the model was trained with other settings than chapter.cfg ({named}); train it with "
                         "vna.fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, "
                         "seed=cfg.seed, device=cfg.device), or its record would misname the run")


def _chapter(method: str | None, params: Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> Chapter:
    p = _parameters(params, overrides)
    if p["data_dir"]:
        os.environ["VNA_DATA_DIR"] = str(Path(p["data_dir"]).expanduser().resolve())
    name, why = resolve_dataset(p["dataset"])
    configs = []
    for seed in p["seeds"]:
        if method is None:  # the data chapter: no training settings
            cfg = RunConfig(dataset=name, split=p["split"], responses=p["responses"], seed=seed)
        else:
            cfg = RunConfig(dataset=name, method=method, split=p["split"], responses=p["responses"], seed=seed,
                            epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"], latent_dim=p["latent_dim"],
                            n_distractors=p["n_distractors"], device=p["device"])
        configs.append(quick_config(cfg) if p["quick"] else cfg)
    if p["quick"]:
        mode = (f"QUICK smoke test: at most {QUICK['epochs']} epochs, small data; the numbers below are not results."
                if method is not None else
                "QUICK: trial-mean pairs of a real recording (a smaller set when simulated), and no overview of the "
                "other datasets.")
    else:
        mode = (f"{configs[0].epochs} epochs, no early stopping (the published grid trains for at most "
                f"{STUDY_TRAINING['epochs']} epochs and stops early on a validation part); seeds {p['seeds']}.")
    results = Path(p["results_dir"]).expanduser() if p["results_dir"] else default_results_dir()
    if method is not None:
        if not p["quick"]:
            check_results_dir(results)  # before any training: the published grid, a read-only folder
        torch.set_num_threads(configs[0].threads)  # what the records' key says (RunConfig.threads)
    return Chapter(method=method, configs=configs, label=dataset_label(name), data_note=why,
                   compute_note=compute_note(p["device"]) if method is not None else "",
                   mode_note=mode, results_dir=results, quick=p["quick"], parameters=p)


def _show(chapter: Chapter) -> Chapter:
    """Display the chapter's notes when running in a notebook kernel (and return the chapter)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is there wherever notebooks run
        return chapter
    if get_ipython() is not None:
        display(chapter)
    return chapter


def method_chapter(method: str, params: Mapping[str, Any] | None = None, /, *, show: bool = True,
                   **overrides: Any) -> Chapter:
    """The setup of a method chapter in one call: ``params`` is a mapping holding the chapter's parameters
    (a notebook passes ``globals()``; only the names of :data:`PARAMETERS` are read, the others default),
    ``overrides`` set single ones. Sets ``$VNA_DATA_DIR`` when ``data_dir`` is given, resolves ``"auto"``
    (:func:`resolve_dataset`), builds one RunConfig per seed (shrunk by :func:`vna.study.grids.quick_config` when
    ``quick``) and says where the data, the compute and the records come from: in a notebook it displays
    those notes (``show=False``: it does not)."""
    if method not in ALL_METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(ALL_METHODS)}")
    chapter = _chapter(method, params, overrides)
    return _show(chapter) if show else chapter


def data_chapter(params: Mapping[str, Any] | None = None, /, *, show: bool = True, **overrides: Any) -> Chapter:
    """The data chapter's setup: like :func:`method_chapter` without a method (no training settings)."""
    chapter = _chapter(None, params, overrides)
    return _show(chapter) if show else chapter
