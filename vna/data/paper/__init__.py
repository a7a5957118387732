"""The paper's three datasets, read from their official sources.

One module per dataset, each with a ``load_*`` function returning a :class:`~vna.data.recording.Recording`
and a ``status()`` for :func:`vna.data.available`:

* :mod:`.allen_neuropixels` -- Mouse-movie: Allen Brain Observatory Visual Coding - Neuropixels
  (Siegle et al. 2021), session NWB files of DANDI:000021, natural scenes.
* :mod:`.majajhong2015` -- Macaque-synthetic: Majaj, Hong et al. 2015 V4/IT multi-units from
  Brain-Score's public storage.
* :mod:`.chang2021` -- Macaque-face: Chang, Egger, Vetter & Tsao 2021 AM face patch, from a folder the user
  obtained from the authors.

Preprocessing follows Huang et al. (AAAI 2023), as the paper states (Sec. 4.1). Nothing heavy
(pynwb, xarray) is imported until a loader runs.
"""

__all__: list[str] = []
