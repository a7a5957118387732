"""The catalogue of bad inputs (issue "Trust"): every case gives one clear line naming the problem, and
nothing is written.

Each case runs in an empty working folder with the runs folder inside it; afterwards the folder must hold
exactly the files the case set up. The message must match a pattern naming the bad field, value or file,
and fit on one line.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import vna
from vna import RunConfig
from vna.cli import main
from vna.study.config import ConfigError
from vna.data import PairedData, Recording
from vna.data.cache import MissingDataFile, fetch
from vna.losses import contrastive_loss
from vna.metrics import discriminative_auc, top_k_accuracy
from vna.study.record import RunRecord
from vna.study.store import PublishedResultsError, read_record, save_record
from vna.methods import load
from vna.chapters.notebook import records_folder
import vna.data.cache
import vna.data.download
import vna.study.pipeline
import vna.study.store
import vna.study.runner
from vna.train import CollapsedEmbeddingError, NonFiniteLossError, fit

from planted import planted


def _data(size=64, channels=1, n_images=10, n_trials=2):
    d = planted(n_images=n_images, n_trials=n_trials)
    images = torch.nn.functional.interpolate(d.images, size=(size, size)) if size != 64 else d.images
    return PairedData(images.repeat(1, channels, 1, 1), d.responses, d.match)


def _fit(model, data, **kw):
    args = dict(epochs=1, batch_size=8, device="cpu", progress=False)
    args.update(kw)
    return fit(model, data, **args)


def _nan_model():
    model = vna.DirectEncoder(24)
    with torch.no_grad():
        model.head.weight.fill_(float("nan"))
    return model


def _collapsing_model(latent_dim: int = 8):
    """A VNA whose response side maps everything to one point and cannot learn: it collapsed."""
    model = vna.VNA(24, latent_dim=latent_dim)
    last = model.spike_encoder.mlp[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(1.0)
    for p in model.spike_encoder.parameters():
        p.requires_grad_(False)
    return model


def _presplit_mismatch():
    from vna.study.pipeline import prepare, run

    cfg = RunConfig(dataset="simulated", split="trials", epochs=1, dataset_options={"n_images": 30, "n_trials": 3,
                                                                                     "n_neurons": 8})
    parts = prepare(cfg)
    return run(cfg.replace(split="images"), data=parts, progress=False)


def _text_file(tmp: Path) -> Path:
    p = tmp / "model.pt"
    p.write_text("hello, this is not a model\n")
    return p


HALF = {"encoding_auc": .5, "decoding_auc": .5, "mean_auc": .5}


def _truncated_record(tmp: Path) -> Path:
    cfg = RunConfig()
    path = save_record(RunRecord(cfg, {"paper": HALF}, 1, "cpu"), tmp / "store")
    path.write_text(path.read_text()[:30])
    return path


def _published(tmp: Path) -> Path:
    pub = tmp / "pub"
    pub.mkdir()
    (pub / "PUBLISHED").write_text("x")
    return pub


def _user_folder(tmp: Path, trap: str) -> Path:
    """A small recording folder with one trap in it."""
    from vna.data import from_arrays, to_folder

    rng = np.random.default_rng(0)
    rec = from_arrays((rng.random((6, 8, 8)) * 255).astype(np.uint8), rng.random((6, 2, 3)))
    folder = to_folder(rec, tmp / "rec")
    if trap == "truncated":
        data = (folder / "responses.npy").read_bytes()
        (folder / "responses.npy").write_bytes(data[: len(data) - 40])
    elif trap == "tiny-floats":
        np.save(folder / "images.npy", rng.random((6, 8, 8)) * 2.55e-4)
    return folder


def _constant_folder(tmp: Path, trap: str) -> Path:
    """A recording folder with one of issue 21's traps: complex responses or a file name that is not UTF-8."""
    from PIL import Image

    folder = _user_folder(tmp, "none")
    rng = np.random.default_rng(1)
    if trap == "complex":
        np.save(folder / "responses.npy", rng.random((6, 2, 3)) + 1j * rng.random((6, 2, 3)))
    elif trap == "non-utf8":
        (folder / "images.npy").unlink()
        images = os.fsencode(str(folder / "images"))
        os.mkdir(images)
        for k in range(6):
            name = os.path.join(images, b"img%d%s.png" % (k, b"\xff" if k == 0 else b""))
            Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(os.fsdecode(name))
    return folder


def _with_env(name: str, value: str, call):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        return call()
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


def _collapse(latent_dim: int = 8, lr: float = 1e-3, val: bool = False):
    model = _collapsing_model(latent_dim)
    data = _data(n_images=10)
    if not val:
        return _fit(model, data, lr=lr)
    small = PairedData(data.images[:2], data.responses[:2], torch.arange(2))  # val_fraction=0.99 leaves 2 pairs
    return _fit(model, small, lr=lr, val=data)


def _grid(tmp: Path, cfg: RunConfig, **kw):
    from vna.study.runner import run_grid

    return run_grid([cfg], tmp / "grid", progress=False, log=lambda s: None, **kw)


def _empty_dir(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _cli(*args):
    code = main(list(args))
    if code != 2:
        raise AssertionError(f"exit status {code}, expected 2")
    raise SystemExit(code)


# -- faults that used to get through (downloads that never gave up, error pages cached as data, a folder edited
#    mid-grid, a full disk, a multi-page TIFF, text seeds, a bad bootstrap count): their helpers
def _faulty(fault: str, call, body: bytes | None = None):
    """``call(url)`` against a local server that misbehaves as ``fault`` says (tests/test_download_faults.py)."""
    from test_download_faults import BODY, Faulty

    with Faulty(fault, BODY if body is None else body) as server:
        return call(server.url + "/file")


def _download_elsewhere(fault: str):
    """A download whose .part is kept for a later resume (a transient failure): into a folder of its own."""
    import shutil
    import tempfile

    from vna.data.download import download

    where = Path(tempfile.mkdtemp(prefix="vna-dl-"))
    try:
        return _faulty(fault, lambda url: download(url, where / "f.bin", progress=False, backoff=0, retries=3))
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _fetch_page_as(tmp: Path, relpath: str, fault: str = "html"):
    from test_download_faults import HTML

    from vna.data.paper._common import fetch_unverified

    return _with_env("VNA_DATA_DIR", str(tmp), lambda: _faulty(
        fault, lambda url: fetch_unverified("allen", relpath, url, progress=False), body=HTML))


def _download_in(tmp: Path, fault: str):
    from vna.data.download import download

    return _faulty(fault, lambda url: download(url, tmp / "f.bin", progress=False, backoff=0, retries=2))


def _two_page_tiff(tmp: Path) -> Path:
    from PIL import Image

    folder = tmp / "rec"
    (folder / "images").mkdir(parents=True)
    pages = [Image.fromarray(np.full((8, 8), 30 * k, np.uint8)) for k in range(2)]
    pages[0].save(folder / "images" / "a.tif", save_all=True, append_images=pages[1:])
    pages[1].save(folder / "images" / "b.tif")
    np.save(folder / "responses.npy", np.random.default_rng(0).random((2, 2, 3)))
    return folder


def _edited_while_read(folder: Path):
    from unittest import mock

    import vna.data.user as user

    real = user._load_npy

    def load(path):
        array = real(path)
        if path.name == "responses.npy":
            (folder / "meta.json").write_text('{"units": "spikes"}\n')
        return array

    with mock.patch.object(user, "_load_npy", load):
        return vna.data.from_folder(folder)


def _task_on_changed_folder(tmp: Path, folder: Path):
    import vna.study.runner

    cfg = RunConfig(dataset=f"folder:{folder}", epochs=1)
    return vna.study.runner._run_task([cfg.to_dict()], str(tmp / "runs"), None, False, "grid", content="0" * 12)


def _no_room(tmp: Path):
    from unittest import mock

    import vna.study.runner

    with mock.patch.object(vna.study.runner.shutil, "disk_usage", lambda path: type("U", (), {"free": 50_000})()):
        return _grid(tmp, RunConfig(device="cpu", epochs=1))


def _store_folder(tmp: Path) -> Path:
    (tmp / "store" / "simulated").mkdir(parents=True)  # there before: the case is about the files
    return tmp / "store"


def _disk_full_record(store: Path):
    import errno
    from unittest import mock

    rec = RunRecord(RunConfig(), {"paper": HALF}, 1, "cpu",
                    instances={"encoding_auc": np.full(3, .5), "decoding_auc": np.full(3, .5)})
    real = vna.study.store._atomic_write

    def full(path, data):
        if path.suffix == ".json":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    with mock.patch.object(vna.study.store, "_atomic_write", full):
        return save_record(rec, store)


def _positive(name, value):
    from vna.chapters.notebook import positive_int

    return positive_int(name, value)


def _chapter_seeds(seeds):
    from vna.chapters.notebook import method_chapter

    return method_chapter("vna", {}, seeds=seeds, dataset="simulated")


# (id, setup(tmp) -> callable, exception type, pattern the message must match)
CASES = [
    # -- RunConfig: type and range of every field, named, before any work (papermill parameters land here)
    ("config-epochs-text", lambda t: lambda: RunConfig(epochs="ten"), ConfigError,
     r"RunConfig\.epochs must be a positive integer .*; got 'ten'"),
    ("config-epochs-float", lambda t: lambda: RunConfig(epochs=2.7), ConfigError, r"RunConfig\.epochs .*got 2\.7"),
    ("config-epochs-zero", lambda t: lambda: RunConfig(epochs=0), ConfigError, r"RunConfig\.epochs .*got 0"),
    ("config-lr-text", lambda t: lambda: RunConfig(lr="1e-3"), ConfigError, r"RunConfig\.lr must be a number; got '1e-3'"),
    ("config-lr-nan", lambda t: lambda: RunConfig(lr=math.nan), ConfigError, r"RunConfig\.lr .*got nan"),
    ("config-lr-1e12", lambda t: lambda: RunConfig(lr=1e12), ConfigError, r"RunConfig\.lr .*\(0, 1\].*1000000000000"),
    ("config-lr-1e38", lambda t: lambda: RunConfig(lr=1e38), ConfigError, r"RunConfig\.lr .*1e\+38"),
    ("config-seed-text", lambda t: lambda: RunConfig(seed="a"), ConfigError, r"RunConfig\.seed .*got 'a'"),
    ("config-batch-1", lambda t: lambda: RunConfig(batch_size=1), ConfigError, r"RunConfig\.batch_size .*got 1"),
    ("config-dataset-typo", lambda t: lambda: RunConfig(dataset="cowley"), ConfigError,
     r"RunConfig\.dataset must be one of .*cowley2023-v4.*got 'cowley'"),
    ("config-split", lambda t: lambda: RunConfig(split="random"), ConfigError, r"RunConfig\.split .*got 'random'"),
    ("config-grey-text", lambda t: lambda: RunConfig(grey="yes"), ConfigError, r"RunConfig\.grey must be True or False"),
    ("config-device", lambda t: lambda: RunConfig(device="gpu"), ConfigError, r"RunConfig\.device .*got 'gpu'"),
    ("config-image-size", lambda t: lambda: RunConfig(image_size=50), ConfigError, r"RunConfig\.image_size .*50"),
    ("config-patience-without-val", lambda t: lambda: RunConfig(patience=3), ConfigError,
     r"RunConfig\.patience needs a validation part"),
    ("config-unknown-field", lambda t: lambda: RunConfig.from_dict({"epochz": 3}), ConfigError,
     r"unknown field\(s\) \['epochz'\]"),
    ("config-options-not-json", lambda t: lambda: RunConfig(dataset_options={"a": object()}), ConfigError,
     r"RunConfig\.dataset_options must hold plain JSON"),
    # -- models and training: data that do not fit the model, absurd settings, divergence
    ("fit-32px-images", lambda t: lambda: _fit(vna.VNA(24), _data(size=32)), ValueError,
     r"VNA expects images of 1 x 64 x 64 .* train has 1 x 32 x 32; .*image_size=64"),
    ("fit-rgb-images", lambda t: lambda: _fit(vna.DirectDecoder(24), _data(channels=3)), ValueError,
     r"DirectDecoder expects images of 1 x 64 x 64 .* train has 3 x 64 x 64; .*grey=True"),
    ("fit-neurons", lambda t: lambda: _fit(vna.VNA(5), _data()), ValueError, r"expects 5 neurons but train has 24"),
    ("fit-lr-1e12", lambda t: lambda: _fit(vna.VNA(24), _data(), lr=1e12), ValueError, r"lr must be a finite number in \(0, 1\]"),
    ("fit-epochs-0", lambda t: lambda: _fit(vna.VNA(24), _data(), epochs=0), ValueError, r"epochs must be an integer >= 1; got 0"),
    ("fit-patience-without-val", lambda t: lambda: _fit(vna.VNA(24), _data(), patience=2), ValueError,
     r"patience .*needs validation pairs"),
    ("fit-nan-loss", lambda t: lambda: _fit(_nan_model(), _data()), NonFiniteLossError, r"epoch 1, batch 0"),
    ("fit-collapsed", lambda t: lambda: _fit(_collapsing_model(), _data()), CollapsedEmbeddingError,
     r"every response maps to one embedding after epoch 1"),
    ("score-wrong-size", lambda t: lambda: vna.VNA(3).score(torch.rand(4, 1, 48, 48), torch.randn(4, 3)), ValueError,
     r"VNA expects images \[n, 1, 64, 64\]; got shape \(4, 1, 48, 48\)"),
    ("run-presplit-mismatch", lambda t: _presplit_mismatch, ValueError,
     r"prepared with split='trials' but the config says split='images'"),
    # -- the loss and the metrics
    ("loss-one-pair", lambda t: lambda: contrastive_loss(torch.randn(1, 4), torch.randn(1, 4), 0.0), ValueError,
     r"at least 2 pairs"),
    ("auc-zero-responses", lambda t: lambda: discriminative_auc(torch.zeros(5, 0), torch.zeros(0, dtype=torch.long),
                                                                "encoding"), ValueError, r"S is empty \(shape \(5, 0\)\)"),
    ("auc-one-image", lambda t: lambda: discriminative_auc(torch.zeros(1, 3), torch.zeros(3, dtype=torch.long),
                                                           "decoding"), ValueError, r"S has 1 image row"),
    ("auc-match-length", lambda t: lambda: discriminative_auc(torch.zeros(3, 4), torch.zeros(3, dtype=torch.long),
                                                              "decoding"), ValueError, r"match must have one entry per response"),
    ("auc-nan-scores", lambda t: lambda: discriminative_auc(torch.tensor([[0.0, math.nan], [1.0, 0.0]]),
                                                            torch.tensor([0, 1]), "decoding"), ValueError, r"1 NaN/inf"),
    ("topk-empty", lambda t: lambda: top_k_accuracy(torch.zeros(0, 0), torch.zeros(0, dtype=torch.long), "decoding"),
     ValueError, r"S is empty"),
    # -- data
    ("responses-1e300", lambda t: lambda: Recording(np.zeros((3, 8, 8)), np.full((3, 2, 4), 1e300)), ValueError,
     r"Recording\.responses reach 1e\+300"),
    ("responses-2d", lambda t: lambda: Recording(np.zeros((3, 8, 8)), np.zeros((3, 4))), ValueError,
     r"Recording\.responses .*add a trial axis"),
    ("paired-nan", lambda t: lambda: PairedData(torch.rand(2, 1, 64, 64), torch.tensor([[0.0, math.nan]] * 2),
                                                torch.tensor([0, 1])), ValueError, r"PairedData\.responses contains 2 NaN"),
    ("split-test-fraction", lambda t: lambda: vna.data.to_paired(Recording(np.zeros((4, 8, 8)), np.random.rand(4, 2, 3)),
                                                                 test_fraction=1.5), ValueError, r"test_fraction must be in \(0, 1\); got 1\.5"),
    ("download-offline", lambda t: lambda: fetch("nowhere", "x.npy", "http://127.0.0.1:9/vna-test/x.npy",
                                                 "sha256:" + "0" * 64, progress=False), MissingDataFile,
     r"nowhere/x\.npy is not cached and its download from http://127\.0\.0\.1:9/vna-test/x\.npy failed"),
    ("folder-truncated-npy", lambda t: (lambda f: lambda: vna.data.from_folder(f))(_user_folder(t, "truncated")),
     ValueError, r"cannot read .*rec/responses\.npy"),
    ("folder-tiny-float-images", lambda t: (lambda f: lambda: vna.data.from_folder(f))(_user_folder(t, "tiny-floats")),
     ValueError, r"rec/images\.npy: float images span only .* would train as blank frames; pass scale="),
    ("arrays-uint16-images", lambda t: lambda: vna.data.from_arrays(np.full((3, 8, 8), 300, np.uint16), np.zeros((3, 2, 4))),
     ValueError, r"images are uint16 .*scale="),
    # -- files
    ("load-text-file", lambda t: (lambda p: lambda: load(p))(_text_file(t)), ValueError,
     r"model\.pt is not a vna model file"),
    ("load-missing", lambda t: lambda: load(t / "missing.pt"), FileNotFoundError, r"no saved model at .*missing\.pt"),
    ("record-truncated", lambda t: (lambda p: lambda: read_record(p))(_truncated_record(t)), ValueError,
     r"store/simulated/vna-\w+\.json is not a readable results record"),
    ("record-into-published", lambda t: (lambda pub: lambda: save_record(
        RunRecord(RunConfig(), {"paper": HALF}, 1, "cpu"), pub))(_published(t)), PublishedResultsError, r"pub is the published result grid"),
    # -- issue 21: inputs that were accepted silently or failed late
    ("arrays-constant-uint8-images", lambda t: lambda: vna.data.from_arrays(np.zeros((3, 8, 8), np.uint8),
                                                                           np.random.rand(3, 2, 4)), ValueError,
     r"uint8 images span only 0 \.\. 0 .*would train as blank frames"),
    ("prepare-constant-uint8-images", lambda t: lambda: vna.data.prepare_images(np.full((3, 8, 8), 7, np.uint8)),
     ValueError, r"uint8 images span only 7 \.\. 7 .*would train as blank frames"),
    ("folder-complex-responses", lambda t: (lambda f: lambda: vna.data.from_folder(f))(_constant_folder(t, "complex")),
     ValueError, r"rec/responses\.npy: responses are complex \(complex128\)"),
    ("folder-non-utf8-file-name", lambda t: (lambda f: lambda: vna.data.from_folder(f))(_constant_folder(t, "non-utf8")),
     ValueError, r"rec/images: the file name b'img0\\xff\.png' is not valid UTF-8"),
    ("folder-non-utf8-key", lambda t: (lambda f: lambda: RunConfig(dataset=f"folder:{f}").key())(
        _constant_folder(t, "non-utf8")), ValueError, r"the file name b'img0\\xff\.png' is not valid UTF-8"),
    ("dataset-options-typo", lambda t: lambda: vna.data.load("simulated", n_imgs=30), ValueError,
     r"dataset 'simulated' has no option\(s\) \['n_imgs'\]; its options are .*n_images"),
    ("run-dataset-options-typo", lambda t: lambda: vna.study.pipeline.load_recording(
        RunConfig(dataset_options={"n_imgs": 30})), ValueError, r"has no option\(s\) \['n_imgs'\]; its options are"),
    ("data-dir-is-a-file", lambda t: (lambda f: lambda: _with_env("VNA_DATA_DIR", str(f), vna.data.cache.data_dir))(
        _text_file(t)), NotADirectoryError, r"the data folder .*model\.pt \(from \$VNA_DATA_DIR\) is a file"),
    ("collapse-latent-dim-1", lambda t: lambda: _collapse(latent_dim=1), CollapsedEmbeddingError,
     r"latent_dim=1; try latent_dim >= 8"),
    ("collapse-val-fraction", lambda t: lambda: _collapse(val=True), CollapsedEmbeddingError,
     r"only 2 training pairs are left beside 20 validation pairs; lower val_fraction"),
    ("collapse-default-lr", lambda t: lambda: _collapse(), CollapsedEmbeddingError, r"lr=0\.001 is not high"),
    ("collapse-high-lr", lambda t: lambda: _collapse(lr=0.1), CollapsedEmbeddingError, r"try a lower learning rate \(lr=0\.1"),
    ("results-dir-empty", lambda t: lambda: vna.study.store.check_results_dir(""), ValueError,
     r"the results folder is empty"),
    ("results-dir-read-only", lambda t: lambda: vna.study.store.check_results_dir("/sys/vna-results/x"),
     PermissionError, r"/sys/vna-results/x is not writable \(its nearest existing parent /sys\)"),
    ("grid-mps-on-linux", lambda t: lambda: _grid(t, RunConfig(device="mps")), ValueError,
     r"device 'mps' is not available here"),
    ("grid-cuda-without-gpu", lambda t: lambda: _grid(t, RunConfig(device="cuda")), ValueError,
     r"device 'cuda': this machine has no CUDA GPU"),
    ("grid-one-image-test-set", lambda t: lambda: _grid(t, RunConfig(dataset_options={"n_images": 4, "n_trials": 2,
                                                                                        "n_neurons": 8})),
     ValueError, r"simulated with split='images', test_fraction=0\.15: the test part holds 1 image\(s\) of 4"),
    ("grid-slurm-gpus", lambda t: lambda: _grid(t, RunConfig(device="cpu"), executor="slurm", slurm={"gpus": -3}),
     ValueError, r"slurm gpus \(--slurm-gpus\) must be an integer >= 0; got -3"),
    ("notebook-results-dir-is-file", lambda t: (lambda f: lambda: records_folder(str(f), None))(_text_file(t)),
     NotADirectoryError, r"results_dir='.*model\.pt': .*model\.pt is a file, not a folder of records"),
    ("notebook-results-dir-missing", lambda t: lambda: records_folder(str(t / "nope"), None), FileNotFoundError,
     r"results_dir='.*nope': there is no folder"),
    # -- the command line: exit status 2, one line and a hint, nothing trained
    ("cli-epochs-0", lambda t: lambda: _cli("reproduce", "--epochs", "0"), SystemExit, r"2"),
    ("cli-results-dir-is-file", lambda t: (lambda f: lambda: _cli("reproduce", "--quick", "--datasets", "simulated",
                                                                  "--results-dir", str(f / "sub")))(_text_file(t)),
     SystemExit, r"2"),
    ("cli-unknown-dataset", lambda t: lambda: _cli("reproduce", "--datasets", "nope", "--results-dir", str(t / "r")),
     SystemExit, r"2"),
    ("cli-bad-shard", lambda t: lambda: _cli("reproduce", "--shard", "5/4", "--results-dir", str(t / "r")), SystemExit, r"2"),
    ("cli-report-missing-folder", lambda t: lambda: _cli("report", "--results-dir", str(t / "none")), SystemExit, r"2"),
    ("cli-publish-quick", lambda t: lambda: _cli("reproduce", "--publish", "--quick", "--results-dir", str(t / "r")),
     SystemExit, r"2"),
    ("cli-results-dir-empty", lambda t: lambda: _cli("reproduce", "--quick", "--datasets", "simulated", "--results-dir", ""),
     SystemExit, r"2"),
    ("cli-report-results-dir-empty", lambda t: lambda: _cli("report", "--results-dir", ""), SystemExit, r"2"),
    ("cli-results-dir-read-only", lambda t: lambda: _cli("reproduce", "--quick", "--datasets", "simulated",
                                                         "--results-dir", "/sys/vna-results"), SystemExit, r"2"),
    ("cli-device-mps", lambda t: lambda: _cli("reproduce", "--quick", "--datasets", "simulated", "--device", "mps",
                                              "--results-dir", str(t / "r")), SystemExit, r"2"),
    ("cli-slurm-gpus-negative", lambda t: lambda: _cli("reproduce", "--slurm-gpus", "-3"), SystemExit, r"2"),
    ("cli-data-dir-env-is-file", lambda t: (lambda f: lambda: _with_env("VNA_DATA_DIR", str(f), lambda: _cli("datasets")))(
        _text_file(t)), SystemExit, r"2"),
    # -- faults that used to get through: downloads, error pages, folders edited mid-grid, a full disk, ...
    ("download-ignores-range-and-drops", lambda t: lambda: _download_elsewhere("drop"), vna.data.download.DownloadError,
     r"the server ignored the byte range \(HTTP 200 to 'Range: bytes=\d+-'\) again, so the download cannot resume; "
     r"vna started the file again from byte 0 once and stops there"),
    ("download-shorter-than-announced", lambda t: lambda: _download_elsewhere("longer"),
     vna.data.download.DownloadError, r"ignored the byte range .* again, so the download cannot resume"),
    ("download-gzip-body", lambda t: lambda: _download_in(t, "gzip"), vna.data.download.DownloadRefused,
     r"the server sent the file gzip-encoded \(Content-Encoding: gzip\) although vna asked for its bytes as they "
     r"are \(identity\)"),
    ("download-503-no-part", lambda t: lambda: _download_in(t, "503"), vna.data.download.DownloadError,
     r"gave up after 2 retries without progress \(HTTP 503 Service Unavailable\); no partial file was kept$"),
    ("download-html-page-as-tiff", lambda t: lambda: _fetch_page_as(t, "templates/natural_scene_3.tiff"),
     vna.data.cache.CorruptDataFile, r"allen/templates/natural_scene_3\.tiff .*failed its check \(not a readable "
                                     r"TIFF image \(UnidentifiedImageError\): an HTML page \(starts with "
                                     r"b'<!DOCTYPE html>"),
    ("download-html-page-as-nwb", lambda t: lambda: _fetch_page_as(t, "sub-1/sub-1_ses-2.nwb"),
     vna.data.cache.CorruptDataFile, r"failed its check \(not an NWB/HDF5 file \(no HDF5 signature\): an HTML page"),
    ("folder-two-page-tiff", lambda t: (lambda f: lambda: vna.data.from_folder(f))(_two_page_tiff(t)), ValueError,
     r"rec/images/a\.tif holds 2 pages \(frames\); vna reads one image per file and would silently use the first"),
    ("folder-edited-while-read", lambda t: (lambda f: lambda: _edited_while_read(f))(_user_folder(t, "none")),
     ValueError, r"rec changed while it was being read \(content \w{12} before, \w{12} after\); read it again"),
    ("grid-folder-changed-since-planned", lambda t: (lambda f: lambda: _task_on_changed_folder(t, f))(
        _user_folder(t, "none")), ValueError,
     r"rec changed while the grid ran \(content 000000000000 when it started, \w{12} now\); this training is "
     r"refused: rerun the grid"),
    ("grid-no-room-for-records", lambda t: lambda: _no_room(t), OSError,
     r"not enough disk for the records of 1 run\(s\) in .*grid: they need up to 100\.0 kB and .* has 50\.0 kB free"),
    ("record-disk-full", lambda t: (lambda s: lambda: _disk_full_record(s))(_store_folder(t)), OSError,
     r"No space left on device"),
    ("chapter-seeds-text", lambda t: lambda: _chapter_seeds("twelve"), ValueError,
     r"seeds must be a list of integers such as \[0, 1, 2\]; got the text 'twelve'"),
    ("chapter-seeds-twice", lambda t: lambda: _chapter_seeds([0, 0]), ValueError,
     r"seeds names seed 0 2 times \(\[0, 0\]\); a seed is one run: name it once"),
    ("chapter-bootstrap-zero", lambda t: lambda: _positive("bootstrap", 0), ValueError,
     r"bootstrap must be a positive integer; got 0"),
    ("chapter-bootstrap-negative", lambda t: lambda: _positive("bootstrap", -5), ValueError,
     r"bootstrap must be a positive integer; got -5"),
    ("chapter-bootstrap-text", lambda t: lambda: _positive("bootstrap", "lots"), ValueError,
     r"bootstrap must be a positive integer; got 'lots'"),
    ("cli-seeds-twice", lambda t: lambda: _cli("reproduce", "--datasets", "simulated", "--seeds", "0", "0", "--quick",
                                               "--results-dir", str(t / "r")), SystemExit, r"2"),
    ("cli-report-strict-empty", lambda t: (lambda d: lambda: _cli("report", "--strict", "--results-dir", str(d)))(
        _empty_dir(t)), SystemExit, r"2"),
]

CLI_MESSAGES = {
    "cli-epochs-0": r"argument --epochs: must be a positive integer; got 0",
    "cli-results-dir-is-file": r"model\.pt is a file",
    "cli-unknown-dataset": r"the study has no dataset\(s\) \['nope'\]",
    "cli-bad-shard": r"--shard I/N needs 1 <= I <= N; got '5/4'",
    "cli-report-missing-folder": r"no results folder at .*none",
    "cli-publish-quick": r"--publish writes the published grid; --quick",
    "cli-results-dir-empty": r"--results-dir is empty \(''; an unset shell variable\?\)",
    "cli-report-results-dir-empty": r"--results-dir is empty",
    "cli-results-dir-read-only": r"/sys/vna-results is not writable \(its nearest existing parent /sys\)",
    "cli-device-mps": r"device 'mps' is not available here",
    "cli-slurm-gpus-negative": r"argument --slurm-gpus: must be a non-negative integer; got -3",
    "cli-data-dir-env-is-file": r"the data folder .*model\.pt \(from \$VNA_DATA_DIR\) is a file, not a folder",
    "cli-seeds-twice": r"--seeds names seed 0 2 times \(\[0, 0\]\); a seed is one run: name it once",
    "cli-report-strict-empty": r"--strict: .*empty holds no record, so nothing was verified; run python -m vna",
}


def _snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_line_and_writes_nothing(case, tmp_path, monkeypatch, capsys):
    name, setup, exc_type, pattern = case
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VNA_RUNS_DIR", str(tmp_path / "runs"))
    import vna.study.runner

    monkeypatch.setattr(vna.study.runner, "run_task", lambda *a, **k: pytest.fail("no training may start"))
    call = setup(tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(exc_type) as info:
        call()
    after = _snapshot(tmp_path)
    assert after == before, f"{name} wrote {sorted(after - before)}"
    if exc_type is SystemExit:
        assert info.value.code == 2
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), err
        assert "Traceback" not in err
        import re

        assert re.search(CLI_MESSAGES[name], lines[0]), lines[0]
        return
    message = str(info.value)
    import re

    assert re.search(pattern, message), message
    assert "\n" not in message.strip(), f"{name}: message is not one line: {message!r}"


def test_catalogue_is_large_enough():
    assert len(CASES) >= 30


def test_download_message_names_the_url_once(tmp_path, monkeypatch):
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    url = "http://127.0.0.1:9/vna-test/x.npy"
    with pytest.raises(MissingDataFile) as info:
        fetch("nowhere", "x.npy", url, "sha256:" + "0" * 64, progress=True)
    assert str(info.value).count(url) == 1
    assert not any(tmp_path.iterdir())  # no empty cache folder, no partial download


# -- inputs that are accepted, with one line that says what vna made of them (a warning or a log line)
def _counts_transposed():
    rng = np.random.default_rng(0)
    return vna.data.from_arrays(rng.integers(0, 256, (6, 8, 8), dtype=np.uint8),
                                rng.poisson(3.0, (6, 20, 4)).astype(np.float64))  # 4 neurons x 20 trials, axes swapped


def _duplicate_images():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)
    images[4] = images[1]
    return vna.data.from_arrays(images, rng.random((6, 2, 3)), image_ids=list("abcdef"))


def _two_trial_grid(tmp: Path) -> str:
    from vna.data import from_arrays, to_folder
    from vna.study.grids import folder_grid

    rng = np.random.default_rng(0)
    folder = to_folder(from_arrays(rng.integers(0, 256, (12, 8, 8), dtype=np.uint8), rng.random((12, 2, 3))),
                       tmp / "two")
    lines: list[str] = []
    folder_grid(str(folder), seeds=[0], log=lines.append)
    return lines[1]


def _notes_and_runs_inside(tmp: Path) -> str:
    from vna.data.user import folder_hash

    folder = _user_folder(tmp, "none")
    before = folder_hash(folder)
    (folder / "notes.txt").write_text("a good day\n")
    (folder / "runs" / f"folder-{before}").mkdir(parents=True)
    (folder / "runs" / f"folder-{before}" / "vna-0.json").write_text("{}")
    return f"content {before} -> {folder_hash(folder)}"


def _manifest_with_leftover(tmp: Path) -> str:
    pub = _published(tmp)
    (pub / ".MANIFEST.k2j3h4_x.tmp").write_text("half a manifest")
    vna.study.store.write_manifest(pub)
    return "listed: " + ", ".join(line.split("  ", 1)[1] for line in (pub / "MANIFEST").read_text().splitlines())


def _empty_report_note() -> str:
    from vna.study.report import scores_note

    return scores_note([])


# (id, setup(tmp) -> callable returning a line or None, pattern one warning or the returned line must match)
SAID = [
    ("arrays-counts-saved-as-images-neurons-trials", lambda t: _counts_transposed,
     r"responses: responses read as 6 images x 20 trials x 4 neurons; more trials than neurons, and the values look "
     r"like counts: if the array is \[images, neurons, trials\], save responses\.transpose\(0, 2, 1\) instead"),
    ("arrays-duplicate-images", lambda t: _duplicate_images,
     r"images: images 1 \(id 'b'\) and 4 \(id 'e'\) are identical; a duplicate can sit on both sides of a "
     r"held-out-images split"),
    ("folder-two-trials-per-image-grid", lambda t: lambda: _two_trial_grid(t),
     r"^protocols run: held-out images \(single trials, trial means\); in-sample \(diagnostic\) \(single trials, "
     r"trial means\); skipped: held-out trials \(single trials, trial means\): needs 2 training trials per image "
     r"beside the held-out one\(s\), to carve a validation part out of them \(val_fraction=0\.1\); 12 of 12 image\(s\) "
     r"have only 2 recorded trials"),
    ("folder-notes-and-runs-folder-inside", lambda t: lambda: _notes_and_runs_inside(t), r"^content (\w{12}) -> \1$"),
    ("manifest-leftover-temporary-file", lambda t: lambda: _manifest_with_leftover(t), r"^listed: PUBLISHED$"),
    ("report-no-records-note", lambda t: _empty_report_note, r"^no records$"),
]


@pytest.mark.parametrize("case", SAID, ids=[c[0] for c in SAID])
def test_accepted_input_is_said_in_one_line(case, tmp_path, monkeypatch):
    import re
    import warnings

    name, setup, pattern = case
    monkeypatch.chdir(tmp_path)
    call = setup(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = call()
    lines = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    lines += [text] if isinstance(text, str) else []
    assert any(re.search(pattern, line) for line in lines), lines
    assert all("\n" not in line.strip() for line in lines), lines
