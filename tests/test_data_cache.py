"""The download cache: pooch downloads from a local HTTP server, hash checks, and the promised errors.

Every test works on temporary copies of ``shared/data`` (the originals are never touched): a copy served
on 127.0.0.1 stands in for GitHub, another copy (or an empty folder) is the cache.
"""
from __future__ import annotations

import hashlib
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

import vna.data as data
from vna.data import cache, real
from vna.data.cache import CorruptDataFile, MissingDataFile, data_dir, fetch, file_hash


def _copy(src: Path, dst: Path, only: str | None = None) -> Path:
    """Copy files (writable, unlike the read-only originals) of ``src`` (or its subfolder ``only``)."""
    base = src / only if only else src
    for f in base.rglob("*"):
        if f.is_file():
            target = dst / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
    return dst


def _files(root: Path) -> set[str]:
    """Every file (hidden ones included) under root, as relative paths."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _point_at(monkeypatch, base_url: str) -> None:
    monkeypatch.setattr(real, "COWLEY_BASE_URL", f"{base_url}/cowley2023_v4")
    monkeypatch.setattr(real, "ALLEN_BASE_URL", f"{base_url}/allen_bo2p_ns118")
    monkeypatch.setattr(real, "ANTOLIK_BASE_URL", f"{base_url}/antolik2016_v1")


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pooch_download_fills_an_empty_cache(shared_data, tmp_path, http_server, monkeypatch):
    served = _copy(shared_data, tmp_path / "server")
    _point_at(monkeypatch, http_server(served))
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("VNA_DATA_DIR", str(cache_dir))
    assert real.status_cowley2023_v4() == "needs download"
    loaded = {
        "cowley2023-v4": data.load("cowley2023-v4", progress=False),
        "allen-2p-ns118": data.load("allen-2p-ns118", progress=False),
        "antolik2016-v1": data.load("antolik2016-v1", region=2, progress=False),
    }
    expected = {f"{real.COWLEY_FOLDER}/{r}" for r in real.COWLEY_FILES}
    expected |= {f"{real.ALLEN_FOLDER}/{r}" for r in real.ALLEN_FILES}
    expected |= {f"{real.ANTOLIK_FOLDER}/{r}" for r in real.ANTOLIK_FILES[2]}
    assert _files(cache_dir) == expected  # exactly the dataset files, no temporary leftovers
    for rel in expected:
        assert _sha256(cache_dir / rel) == _sha256(shared_data / rel)
    assert real.status_cowley2023_v4() == "cached" and real.status_antolik2016_v1() == "needs download"
    # the downloaded copy gives the same recordings as the prepared folder
    monkeypatch.setenv("VNA_DATA_DIR", str(shared_data))
    for name, rec in loaded.items():
        ref = data.load(name, **({"region": 2} if name.startswith("antolik") else {}))
        assert np.array_equal(rec.responses, ref.responses, equal_nan=True)
        assert np.array_equal(rec.images, ref.images)


def test_cached_file_with_wrong_hash_is_an_error_naming_it(shared_data, tmp_path, monkeypatch):
    cache_dir = _copy(shared_data, tmp_path / "cache", only="antolik2016_v1")
    bad = cache_dir / "antolik2016_v1/region1/raw_validation_set.npy"
    blob = bytearray(bad.read_bytes())
    blob[-1] ^= 0xFF
    bad.write_bytes(bytes(blob))
    before = _files(cache_dir)
    monkeypatch.setenv("VNA_DATA_DIR", str(cache_dir))
    _point_at(monkeypatch, _closed_port_url())  # offline: no fresh copy to be had
    with pytest.raises(CorruptDataFile, match=r"raw_validation_set\.npy is corrupt") as err:
        data.load("antolik2016-v1", progress=False)
    msg = str(err.value)
    assert str(bad) in msg and real.ANTOLIK_FILES[1]["region1/raw_validation_set.npy"].split(":")[1] in msg
    assert isinstance(err.value, ValueError)
    assert _files(cache_dir) == before  # nothing new left behind


def test_cached_corrupt_file_is_replaced_by_a_verified_download(shared_data, tmp_path, http_server, monkeypatch):
    cache_dir = _copy(shared_data, tmp_path / "cache", only="antolik2016_v1")
    bad = cache_dir / "antolik2016_v1/region2/raw_validation_set.npy"
    bad.write_bytes(bad.read_bytes()[:1000])
    monkeypatch.setenv("VNA_DATA_DIR", str(cache_dir))
    _point_at(monkeypatch, http_server(shared_data))
    rec = data.load("antolik2016-v1", region=2, progress=False)
    assert rec.responses.shape == (50, 8, 55)
    assert _sha256(bad) == _sha256(shared_data / "antolik2016_v1/region2/raw_validation_set.npy")


def test_download_with_wrong_hash_leaves_nothing(shared_data, tmp_path, http_server, monkeypatch):
    served = _copy(shared_data, tmp_path / "server", only="allen_bo2p_ns118")
    f = served / "allen_bo2p_ns118/Allen_train_output.npy"
    blob = bytearray(f.read_bytes())
    blob[200] ^= 0x01  # same size, one bit changed
    f.write_bytes(bytes(blob))
    _point_at(monkeypatch, http_server(served))
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("VNA_DATA_DIR", str(cache_dir))
    with pytest.raises(CorruptDataFile, match=r"allen_bo2p_ns118/Allen_train_output\.npy.*hash check") as err:
        data.load("allen-2p-ns118", progress=False)
    assert "nothing was written" in str(err.value)
    files = _files(cache_dir)
    assert "allen_bo2p_ns118/Allen_train_output.npy" not in files
    assert all(not Path(p).name.startswith(".") and "tmp" not in p for p in files)
    assert files <= {f"allen_bo2p_ns118/{r}" for r in real.ALLEN_FILES}  # only verified files


def test_truncated_zip_download_and_cached_truncated_zip(shared_data, tmp_path, http_server, monkeypatch):
    served = _copy(shared_data, tmp_path / "server", only="cowley2023_v4")
    z = served / "cowley2023_v4/images/images_210325.zip"
    z.write_bytes(z.read_bytes()[: z.stat().st_size // 2])
    _point_at(monkeypatch, http_server(served))
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("VNA_DATA_DIR", str(cache_dir))
    with pytest.raises(CorruptDataFile, match=r"images_210325\.zip"):
        data.load("cowley2023-v4", progress=False)
    assert _files(cache_dir) == {"cowley2023_v4/responses_raw/responses_210325.npy"}  # the verified one only
    # the truncated zip placed in the cache by hand, offline: the same promised error
    (cache_dir / "cowley2023_v4/images").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(z, cache_dir / "cowley2023_v4/images/images_210325.zip")
    _point_at(monkeypatch, _closed_port_url())
    with pytest.raises(CorruptDataFile, match=r"images_210325\.zip is corrupt"):
        data.load("cowley2023-v4", progress=False)
    # and the zip reader itself names the file when given a truncated archive
    with pytest.raises(ValueError, match=r"images_210325\.zip.*truncated or not a zip"):
        real._read_zip_images(z, 640)


def test_missing_file_upstream_gives_the_promised_error(shared_data, tmp_path, http_server, monkeypatch):
    served = _copy(shared_data, tmp_path / "server", only="allen_bo2p_ns118")
    (served / "allen_bo2p_ns118/Allen_test_output.npy").unlink()
    base = http_server(served)
    _point_at(monkeypatch, base)
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("VNA_DATA_DIR", str(cache_dir))
    with pytest.raises(MissingDataFile) as err:
        data.load("allen-2p-ns118", progress=False)
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert "Allen_test_output.npy" in msg and f"{base}/allen_bo2p_ns118/Allen_test_output.npy" in msg
    assert "HTTP 404" in msg and "VNA_DATA_DIR" in msg
    assert "allen_bo2p_ns118/Allen_test_output.npy" not in _files(cache_dir)
    assert all("tmp" not in p and not Path(p).name.startswith(".") for p in _files(cache_dir))


def test_offline_and_not_cached(tmp_path, monkeypatch):
    cache_dir = tmp_path / "empty-cache"
    monkeypatch.setenv("VNA_DATA_DIR", str(cache_dir))
    url = _closed_port_url()
    _point_at(monkeypatch, url)
    with pytest.raises(FileNotFoundError) as err:
        data.load("antolik2016-v1", progress=False)
    msg = str(err.value)
    target = cache_dir / "antolik2016_v1/region1/raw_validation_set.npy"
    assert str(target) in msg and f"{url}/antolik2016_v1/region1/raw_validation_set.npy" in msg
    assert "set VNA_DATA_DIR" in msg
    assert not cache_dir.exists()  # not even an empty cache folder is left


def test_data_dir_and_hash_helpers(tmp_path, monkeypatch):
    monkeypatch.delenv("VNA_DATA_DIR", raising=False)
    # one rule everywhere: $VNA_DATA_DIR, else shared/data beside the repository, else ~/.cache/vna
    shared = Path(cache.__file__).resolve().parents[2].parent / "shared" / "data"
    expected = shared if shared.is_dir() else Path("~/.cache/vna").expanduser()
    assert data_dir() == expected
    monkeypatch.setattr(cache, "_checkout_shared_data", lambda: None)
    assert data_dir() == Path("~/.cache/vna").expanduser()
    sources = cache.data_dir_sources()
    assert [w for w, _, used in sources if used] == ["default"] and sources[0][1] is None
    monkeypatch.setattr(cache, "_checkout_shared_data", lambda: tmp_path / "shared")
    assert data_dir() == tmp_path / "shared"
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    f = tmp_path / "x" / "a.bin"
    f.parent.mkdir()
    f.write_bytes(b"hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    assert file_hash(f) == digest
    assert fetch("x", "a.bin", "http://unused.invalid/a.bin", f"sha256:{digest}") == f
    f.write_bytes(b"hello!")  # size and mtime change: the memo does not hide it
    assert file_hash(f) == hashlib.sha256(b"hello!").hexdigest()
    sha1 = hashlib.sha1(b"hello!").hexdigest()
    assert fetch("x", "a.bin", "http://unused.invalid/a.bin", f"sha1:{sha1}") == f
    with pytest.raises(ValueError, match="known_hash must look like"):
        fetch("x", "a.bin", "http://unused.invalid/a.bin", digest)
    assert cache.is_cached("x", ["a.bin"]) and not cache.is_cached("x", ["a.bin", "b.bin"])
