"""Data: recordings, preprocessing, splits and the named datasets."""
from .cache import data_dir, data_dir_sources
from .paired import PairedData
from .preprocess import (
    make_split,
    PairedParts,
    noise_ceiling,
    paired_parts,
    prepare_images,
    select_neurons,
    split_half_reliability,
    to_paired,
    zscore,
    zscore_stats,
)
from .recording import Recording
from .registry import DATASETS, available, load
from .user import from_arrays, from_folder, to_folder

__all__ = [
    "PairedData", "Recording", "DATASETS", "available", "load",
    "to_paired", "paired_parts", "PairedParts", "prepare_images", "make_split", "split_half_reliability", "noise_ceiling", "select_neurons",
    "zscore", "zscore_stats", "from_arrays", "from_folder", "to_folder", "data_dir", "data_dir_sources",
]
