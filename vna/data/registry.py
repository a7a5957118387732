"""The named datasets: `load(name)` and `available()`.

Each entry names its loader as ``"module:function"`` so that importing :mod:`vna.data` stays cheap
(no pynwb/xarray import until a paper dataset is actually loaded). A loader takes keyword options and
returns a :class:`~vna.data.recording.Recording`. ``status`` names a function returning a short string
("embedded", "cached", "needs download", "needs files from the authors").
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass

import pandas as pd

from .recording import Recording
from .user import from_folder

__all__ = ["DatasetInfo", "DATASETS", "SESSIONS", "load", "available", "sessions"]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    species: str
    area: str
    size: str
    kind: str  # "simulated" | "stand-in" (real, small, offline-able) | "paper"
    citation: str
    license: str
    loader: str  # "module:function"
    status: str  # "module:function" -> str

    def _resolve(self, path: str):
        module, func = path.split(":")
        return getattr(importlib.import_module(module), func)

    def load(self, **options) -> Recording:
        return self._resolve(self.loader)(**options)

    def cache_status(self) -> str:
        return str(self._resolve(self.status)())


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo(
            "simulated", "simulated (V1-like model)", "V1 (model)", "options: default 300 images x 10 trials x 100 neurons",
            "simulated", "vna's own simulation; images from scikit-learn's sample photographs", "BSD-3-Clause (code)",
            "vna.data.simulated:load_simulated", "vna.data.simulated:status",
        ),
        DatasetInfo(
            "cowley2023-v4", "macaque", "V4", "640 images x 6-10 trials x 50 neurons",
            "stand-in", "Cowley, Stan, Pillow & Smith (2023) Compact deep neural network models of visual cortex, bioRxiv",
            "GPL-3.0", "vna.data.real:load_cowley2023_v4", "vna.data.real:status_cowley2023_v4",
        ),
        DatasetInfo(
            "allen-2p-ns118", "mouse", "VISp", "118 images x 1 (trial mean) x 212 neurons",
            "stand-in", "de Vries et al. (2020) Nat Neurosci; Allen Brain Observatory Visual Coding 2-photon",
            "Allen Institute terms of use", "vna.data.real:load_allen_2p_ns118", "vna.data.real:status_allen_2p_ns118",
        ),
        DatasetInfo(
            "antolik2016-v1", "mouse", "V1", "50 images x 8-10 trials x 103 (region 1) or 55 (region 2) neurons",
            "stand-in", "Antolik, Hofer, Bednar & Mrsic-Flogel (2016) PLoS Comput Biol 12(6):e1004927",
            "none stated upstream (cite the paper)", "vna.data.real:load_antolik2016_v1", "vna.data.real:status_antolik2016_v1",
        ),
        DatasetInfo(
            "allen-neuropixels", "mouse", "VISp, VISl, VISrl, VISal, VISpm, VISam", "118 images x 50 trials x units of the chosen sessions",
            "paper", "Siegle et al. (2021) Nature 592:86-92; DANDI:000021", "CC-BY-4.0",
            "vna.data.paper.allen_neuropixels:load_allen_neuropixels", "vna.data.paper.allen_neuropixels:status",
        ),
        DatasetInfo(
            "majajhong2015", "macaque", "V4, IT", "3200 images (public HVM) x ~50 repetitions x 256 sites",
            "paper", "Majaj, Hong, Solomon & DiCarlo (2015) J Neurosci 35(39):13402-13418", "no separate data licence stated (Brain-Score code: MIT); cite Majaj et al. 2015",
            "vna.data.paper.majajhong2015:load_majajhong2015", "vna.data.paper.majajhong2015:status",
        ),
        DatasetInfo(
            "chang2021-face", "macaque", "AM face patch", "user-supplied",
            "paper", "Chang, Egger, Vetter & Tsao (2021) Explaining face representation in the primate brain using different computational models, Curr Biol 31(13):2785-2795",
            "available on request from the authors", "vna.data.paper.chang2021:load_chang2021_face", "vna.data.paper.chang2021:status",
        ),
    ]
}


def _info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def _check_options(name: str, loader, options: dict, exclude: tuple = ()) -> None:
    """Refuse options the loader does not take (a typo like ``n_imgs``), naming the ones it knows."""
    params = inspect.signature(loader).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [k for k, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and k not in exclude]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"dataset {name!r} has no option(s) {unknown}; its options are {', '.join(known) or 'none'}")


def load(name: str, **options) -> Recording:
    """Load a named dataset as a :class:`Recording` (options are passed to its loader, and checked against its
    parameters first); ``"folder:PATH"`` reads a recording folder with :func:`vna.data.from_folder`."""
    if isinstance(name, str) and name.startswith("folder:"):
        _check_options(name, from_folder, options, exclude=("path",))
        return from_folder(name[len("folder:"):], **options)
    info = _info(name)
    _check_options(name, info._resolve(info.loader), options)
    return info.load(**options)


def _verified(d: DatasetInfo) -> str:
    """Load ``d`` with its default options, which checks the hash of every cached file it reads."""
    try:
        d.load()
    except Exception as exc:  # noqa: BLE001 - the listing names what failed, in one line
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"corrupt or incomplete: {text}"
    return "cached, verified"


def available(verify: bool = False) -> pd.DataFrame:
    """One row per named dataset: species, area, size, kind, status, citation. Status: "embedded",
    "present, not verified" (files are there; their hashes are checked on use), "needs download", ...; with
    ``verify`` every present dataset is loaded, so its hashes are checked: "cached, verified" or what failed."""
    rows = []
    for d in DATASETS.values():
        try:
            status = d.cache_status()
        except Exception as exc:  # noqa: BLE001 - a listing must not fail on one broken entry
            status = f"error: {exc}"
        if status == "cached":
            status = _verified(d) if verify else "present, not verified"
        rows.append(dict(name=d.name, species=d.species, area=d.area, size=d.size, kind=d.kind,
                         status=status, citation=d.citation, license=d.license))
    return pd.DataFrame(rows)


#: Datasets with several recordings (sessions, regions): name -> (the loader's option, "module:function" listing them
#: as :func:`vna.data.real.cowley_sessions` does).
SESSIONS = {
    "cowley2023-v4": ("session", "vna.data.real:cowley_sessions"),
    "antolik2016-v1": ("region", "vna.data.real:antolik_regions"),
}


def sessions() -> pd.DataFrame:
    """One row per session / region of every dataset in :data:`SESSIONS` (pinned or found in the data
    folder): dataset, session, animal, neurons, images, repeats_per_image, image_types, responses ("single
    trials" / "trial means"), pinned, status, option (the loader's keyword) and value (its value)."""
    frames = []
    for name, (option, lister) in SESSIONS.items():
        module, func = lister.split(":")
        table = getattr(importlib.import_module(module), func)()
        if len(table):
            values = table["session"].map(lambda s: int(s[6:]) if s.startswith("region") else str(s))
            frames.append(table.assign(option=option, value=values))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
