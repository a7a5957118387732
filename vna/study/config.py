"""`RunConfig`: every setting of one run, with its default, checked at the door.

The paper's text lost most of its settings (shared/paper/NOTES.md); each default below says what we chose.
A notebook's ``parameters`` cell maps onto these fields one to one. Every field is checked for type and
range when the config is made, and an error names the field and the value
(``RunConfig.epochs must be a positive integer; got 'ten'``), so that a papermill parameter of the wrong
type fails before any work.

:meth:`RunConfig.key` hashes everything that changes a run's numbers: all fields, with ``device`` reduced
to the device *kind* that runs it (``cpu``/``cuda``/``mps``; ``"auto"`` resolved on this machine) and
``threads`` (the CPU thread count changes the third digit of CPU results). Records are stored by it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any

from ..data.registry import DATASETS
from ..data.user import folder_hash
from ..methods import ALL_METHODS, METHODS
from ..train import MEMORY_FORMATS

__all__ = ["RunConfig", "SPLITS", "PREPARE_FIELDS", "FIT_FIELDS", "device_kind", "ConfigError"]

SPLITS = ("images", "trials", "none")

#: The fields each stage of a run takes, under the stage's own argument names: the preprocessing
#: (:func:`vna.data.preprocess.paired_parts`) and the training (:func:`vna.fit`).
PREPARE_FIELDS = ("split", "responses", "test_responses", "test_fraction", "seed", "zscore", "image_size", "grey",
                  "reliability_threshold", "val_fraction", "train_image_fraction", "train_trials", "neuron_fraction")
FIT_FIELDS = ("epochs", "batch_size", "lr", "weight_decay", "seed", "device", "patience", "precision",
              "memory_format")

#: Fields that only change how a trained model is *evaluated*: runs that differ only in these share one
#: training (:meth:`RunConfig.training_key`).
EVAL_FIELDS = ("test_responses", "n_distractors")

#: Fields added after the record schema was fixed: left out of the key while at their default, so that
#: adding a field never changes the key of a run that does not use it.
_KEY_OPTIONAL = {"train_image_fraction": 1.0, "train_trials": None, "neuron_fraction": 1.0, "precision": "fp32",
                 "shuffle_pairs": False, "memory_format": "contiguous"}

#: What a config written before a field existed ran with, where that is not the field's default today: a
#: record from before ``memory_format`` was trained in PyTorch's contiguous layout.
_BEFORE_THE_FIELD = {"memory_format": "contiguous"}

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class ConfigError(ValueError):
    """A RunConfig field has a bad type or value (the message names the field and the value)."""


def device_kind(device: str) -> str:
    """``"cpu"``, ``"cuda"`` or ``"mps"``: the kind of device ``device`` runs on (``"auto"`` resolved here)."""
    device = str(device)
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device.split(":")[0]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int(name: str, value: Any, lo: int, hi: int | None = None, what: str = "an integer") -> int:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok and isinstance(value, float) and math.isfinite(value) and value == int(value):
        ok = True  # 3.0 -> 3 (normalised, so that the key does not depend on the spelling)
    if not ok or int(value) < lo or (hi is not None and int(value) > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ConfigError(f"RunConfig.{name} must be {what} {rng}; got {_show(value)}")
    return int(value)


def _float(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False,
           hint: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"RunConfig.{name} must be a number; got {_show(value)} ({type(value).__name__})")
    v = float(value)
    below = v <= lo if lo_open else v < lo
    above = v >= hi if hi_open else v > hi
    if not math.isfinite(v) or below or above:
        rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ConfigError(f"RunConfig.{name} must be a finite number in {rng}; got {_show(value)}{hint}")
    return v


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"RunConfig.{name} must be True or False; got {_show(value)}")
    return value


def _choice(name: str, value: Any, choices: tuple) -> Any:
    if not isinstance(value, (str, type(None))) or value not in choices:
        raise ConfigError(f"RunConfig.{name} must be one of {', '.join(map(repr, choices))}; got {_show(value)}")
    return value


@dataclass
class RunConfig:
    """One run: dataset, protocol, preprocessing, model, training and evaluation settings.

    Protocol (the reproduction study): ``split`` -- ``"images"`` (held-out images), ``"trials"`` (held-out
    trials of images seen in training) or ``"none"`` (in-sample diagnostic: the test pairs *are* the training
    pairs); ``responses`` -- what the model trains on (``"trials"``: one pair per trial; ``"mean"``: one pair
    per image); ``test_responses`` -- what it is tested on (default: as ``responses``).

    Defaults: ``latent_dim=128``, ``batch_size=64``, ``lr=1e-3`` (Adam), ``temperature=0.07`` (CLIP's
    initial value, learnable), ``image_size=64`` (forced by five stride-2 convolutions ending at 2x2, paper
    section 3.1), ``n_distractors=None`` (every eligible distractor; the paper's K was lost), 15 % test.
    ``val_fraction > 0`` carves a validation part out of the training data (same kind as the split) and
    stops early on its mean AUC after ``patience`` epochs without improvement, keeping the best epoch's
    weights; ``epochs`` is then the maximum. ``threads``: CPU threads of PyTorch during the run.

    Data-size settings (the analyses): ``train_image_fraction`` keeps that fraction of the training images,
    ``train_trials`` at most that many training trials per image, ``neuron_fraction`` that fraction of the
    neurons (each a seeded subset; validation and test parts stay as they are, except that the neuron
    subset applies everywhere).

    ``precision``: ``"fp32"`` (default; records stay comparable) or ``"bf16"`` (autocast, opt-in: CUDA, or a
    CPU with native bf16). ``memory_format``: ``"channels_last"`` (default: the faster layout of the image-side
    convolutions) or ``"contiguous"`` (PyTorch's default layout, which the records made before the layout was
    a setting used); same maths, other rounding, so the key names it (the linear baselines have no layout).

    ``shuffle_pairs``: the shuffled-pairing control -- the training (and validation) responses are assigned to
    images by a seeded permutation, so nothing about *which* image evoked a response can be learned; the test
    pairs stay true. Every AUC of such a run must sit at 0.5, or something leaks.
    """

    dataset: str = "simulated"
    method: str = "vna"
    split: str = "images"  # "images" | "trials" | "none"
    responses: str = "trials"  # "trials" | "mean" (training pairs)
    test_responses: str | None = None  # None: as `responses`
    test_fraction: float = 0.15
    zscore: bool = True
    reliability_threshold: float | None = None
    image_size: int = 64
    grey: bool = True
    latent_dim: int = 128
    temperature: float = 0.07
    learn_temperature: bool = True
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    val_fraction: float = 0.0
    patience: int | None = None
    train_image_fraction: float = 1.0
    train_trials: int | None = None
    neuron_fraction: float = 1.0
    precision: str = "fp32"
    memory_format: str = "channels_last"
    shuffle_pairs: bool = False
    n_distractors: int | None = None
    seed: int = 0
    device: str = "auto"
    threads: int = 1
    dataset_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_dataset(self.dataset)
        self.method = _choice("method", self.method, ALL_METHODS)
        self.split = _choice("split", self.split, SPLITS)
        self.responses = _choice("responses", self.responses, ("trials", "mean"))
        self.test_responses = _choice("test_responses", self.test_responses, (None, "trials", "mean"))
        self.test_fraction = _float("test_fraction", self.test_fraction, 0, 1, lo_open=True, hi_open=True)
        self.zscore = _bool("zscore", self.zscore)
        if self.reliability_threshold is not None:
            self.reliability_threshold = _float("reliability_threshold", self.reliability_threshold, -1, 1)
        self.image_size = _int("image_size", self.image_size, 32, 1024)
        if self.image_size % 32:
            raise ConfigError(f"RunConfig.image_size must be a multiple of 32 (five stride-2 convolutions); "
                              f"got {self.image_size}")
        self.grey = _bool("grey", self.grey)
        self.latent_dim = _int("latent_dim", self.latent_dim, 1, 65536)
        self.temperature = _float("temperature", self.temperature, 0, 100, lo_open=True)
        self.learn_temperature = _bool("learn_temperature", self.learn_temperature)
        self.epochs = _int("epochs", self.epochs, 1, 100_000, what="a positive integer")
        self.batch_size = _int("batch_size", self.batch_size, 2, 1_000_000,
                               what="an integer (BatchNorm and the contrastive loss need 2 pairs)")
        self.lr = _float("lr", self.lr, 0, 1, lo_open=True,
                         hint=" (Adam moves every weight by about lr per step; above 1 training diverges)")
        self.weight_decay = _float("weight_decay", self.weight_decay, 0, 1)
        self.val_fraction = _float("val_fraction", self.val_fraction, 0, 1, hi_open=True)
        if self.patience is not None:
            self.patience = _int("patience", self.patience, 1, what="None or an integer")
            if self.val_fraction == 0:
                raise ConfigError("RunConfig.patience needs a validation part: set val_fraction > 0 "
                                  f"(got patience={self.patience}, val_fraction=0)")
        self.train_image_fraction = _float("train_image_fraction", self.train_image_fraction, 0, 1, lo_open=True)
        if self.train_trials is not None:
            self.train_trials = _int("train_trials", self.train_trials, 1, what="None or an integer")
        self.neuron_fraction = _float("neuron_fraction", self.neuron_fraction, 0, 1, lo_open=True)
        self.precision = _choice("precision", self.precision, ("fp32", "bf16"))
        self.memory_format = _choice("memory_format", self.memory_format, MEMORY_FORMATS)
        self.shuffle_pairs = _bool("shuffle_pairs", self.shuffle_pairs)
        if self.n_distractors is not None:
            self.n_distractors = _int("n_distractors", self.n_distractors, 1, what="None or an integer")
        self.seed = _int("seed", self.seed, 0, 2**32 - 1)
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise ConfigError(f"RunConfig.device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; "
                              f"got {_show(self.device)}")
        self.threads = _int("threads", self.threads, 1, 4096)
        if not isinstance(self.dataset_options, dict) or not all(isinstance(k, str) for k in self.dataset_options):
            raise ConfigError(f"RunConfig.dataset_options must be a dict with string keys; "
                              f"got {_show(self.dataset_options)}")
        try:
            json.dumps(self.dataset_options, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"RunConfig.dataset_options must hold plain JSON values; {exc}") from None

    # ------------------------------------------------------------------------------------ derived
    @property
    def in_channels(self) -> int:
        return 1 if self.grey else 3

    @property
    def eval_responses(self) -> str:
        """The response kind of the test pairs (``test_responses``, else ``responses``)."""
        return self.test_responses or self.responses

    def arguments(self, fields: tuple[str, ...]) -> dict[str, Any]:
        """``{field: value}`` of ``fields`` (:data:`PREPARE_FIELDS`, :data:`FIT_FIELDS`), ``test_responses``
        resolved (:attr:`eval_responses`)."""
        return {f: self.eval_responses if f == "test_responses" else getattr(self, f) for f in fields}

    @property
    def protocol(self) -> str:
        """``"<split>/<test responses>"``, e.g. ``"images/trials"`` (how tables group runs)."""
        return f"{self.split}/{self.eval_responses}"

    # ------------------------------------------------------------------------------------ (de)serialise
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"RunConfig got unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{**_BEFORE_THE_FIELD, **d})

    def replace(self, **changes: Any) -> "RunConfig":
        new = dataclasses.replace(self, **changes)
        if "dataset" not in changes:  # the same recording: the same content
            new._content = getattr(self, "_content", None)
        return new

    # ------------------------------------------------------------------------------------ keys
    def with_content(self, content: str | None) -> "RunConfig":
        """This config keyed by ``content``, the content hash of its recording folder as a run *read* it
        (``Recording.meta["content_hash"]``), not by what the folder holds when the key is computed; None:
        by the folder's content now. Only ``folder:`` datasets have a content hash."""
        new = dataclasses.replace(self)
        new._content = content if self.dataset.startswith("folder:") else None
        return new

    def folder_content(self) -> str | None:
        """The content hash the key uses for a ``folder:`` dataset (:meth:`with_content`, else the folder's now)."""
        if not self.dataset.startswith("folder:"):
            return None
        return getattr(self, "_content", None) or folder_hash(self.dataset[len("folder:"):])

    def _keyed(self) -> dict[str, Any]:
        d = self.to_dict()
        d["device"] = device_kind(self.device)  # cuda:0 and cuda:1 give the same numbers; cpu and cuda do not
        if d["test_responses"] is None:
            d["test_responses"] = self.responses  # None and the explicit default are the same run
        if self.method not in METHODS:  # closed-form baselines: no convolution, no layout to name
            d["memory_format"] = _KEY_OPTIONAL["memory_format"]
        for name, default in _KEY_OPTIONAL.items():
            if d[name] == default:
                del d[name]
        if self.dataset.startswith("folder:"):  # a recording folder is keyed by its content, not its path
            d["dataset"] = f"folder:{self.folder_content()}"
        return d

    def key(self) -> str:
        """A short stable hash of everything that changes the run's numbers (records are stored by it)."""
        return _hash(self._keyed())

    def training_key(self) -> str:
        """The key without the evaluation-only fields: runs sharing it share one trained model."""
        d = self._keyed()
        for name in EVAL_FIELDS:
            d.pop(name)
        return _hash(d)

    def group_key(self) -> str:
        """The key without ``seed``: the runs of one configuration over seeds."""
        d = self._keyed()
        d.pop("seed")
        return _hash(d)

    def signature(self) -> str:
        """What a grid definition names: the key without ``seed``, ``device`` and ``threads`` (the execution
        environment), so that one grid matches its records whatever ran them and whenever (a recording folder
        that is not there any more is named by its path)."""
        try:
            d = self._keyed()
        except FileNotFoundError:
            d = self.to_dict()
        for k in ("seed", "device", "threads"):
            d.pop(k)
        return _hash(d)


def _check_dataset(name: Any) -> None:
    if isinstance(name, str) and (name in DATASETS or (name.startswith("folder:") and len(name) > 7)):
        return
    raise ConfigError(f"RunConfig.dataset must be one of {', '.join(DATASETS)} or 'folder:<path>'; "
                      f"got {_show(name)}")


def _hash(d: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]
