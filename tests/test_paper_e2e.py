"""Table 1 on the paper's data, end to end without a network (issue 24).

A local server on 127.0.0.1 shaped like DANDI's API and Brain-Score's storage (``vna.data.paper.fixtures``)
serves the format-true fixture NWB, netCDF, csv and zip files. The paper grid plans, downloads (the server
drops the connection mid-file once: the download must resume with a Range request, not restart),
verifies, trains and writes records; the chapter renders them. A checksum mismatch names the file and
leaves nothing behind: the ``.part`` is deleted and nothing has the final name.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vna.cli import main
from vna.data import cache
from vna.data.cache import CorruptDataFile, MissingDataFile
from vna.data.download import DownloadRefused, download, part_path
from vna.data.paper.fixtures import FIXTURE_ASSET_ID, FixtureServer, write_chang_folder, write_quick_store
from vna.study import paper
from vna.study.store import load_records
from vna.study.runner import run_grid

REPO = Path(__file__).resolve().parents[1]
NWB_ROUTE = f"/api/assets/{FIXTURE_ASSET_ID}/download/"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    return root, write_quick_store(root)


def _range_start(header: str | None) -> int | None:
    return int(header[len("bytes="):].rstrip("-")) if header and header.startswith("bytes=") else None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dropped_connection_resumes_with_a_range_request(store, tmp_path):
    root, info = store
    with FixtureServer(root, drop_after={NWB_ROUTE: 100_000}) as server:
        target = download(server.url + NWB_ROUTE, tmp_path / "s.nwb", known_hash=f"sha256:{info['nwb_sha256']}",
                          progress=False, backoff=0)
        gets = [r for r in server.requests if r[0] == "GET" and r[1] == NWB_ROUTE]
    # the second request continued from the bytes kept (whole 64 KiB reads; the one in flight is lost), not from 0
    assert len(gets) == 2 and gets[0][2] is None and _range_start(gets[1][2]) == 65536
    assert _sha256(target) == info["nwb_sha256"] and not part_path(target).exists()


def test_a_part_file_left_by_an_earlier_run_is_continued(store, tmp_path):
    root, info = store
    whole = (root / "dandi" / "session.nwb").read_bytes()
    target = tmp_path / "s.nwb"
    part_path(target).write_bytes(whole[:12345])
    with FixtureServer(root) as server:
        download(server.url + NWB_ROUTE, target, size=len(whole), progress=False)
        assert [r[2] for r in server.requests] == ["bytes=12345-"]
    assert target.read_bytes() == whole and not part_path(target).exists()


def test_checksum_mismatch_names_the_file_and_leaves_nothing(store, tmp_path, monkeypatch):
    root, _ = store
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path / "cache"))
    with FixtureServer(root) as server:
        with pytest.raises(CorruptDataFile, match=r"majajhong2015/stimulus_hvm-public\.csv.*hash check") as err:
            cache.fetch("majajhong2015", "stimulus_hvm-public.csv", server.url + "/brainio-brainscore/stimulus_hvm-public.csv",
                        "sha1:" + "0" * 40, progress=False)
    assert "was deleted" in str(err.value)
    target = tmp_path / "cache" / "majajhong2015" / "stimulus_hvm-public.csv"
    assert not target.exists() and not part_path(target).exists()  # the .part is deleted, not kept


def test_server_saying_no_is_one_line_with_status_and_url(store, tmp_path, monkeypatch):
    root, _ = store
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path / "cache"))
    with FixtureServer(root) as server:
        url = server.url + "/brainio-brainscore/nope.nc"
        with pytest.raises(DownloadRefused) as err:
            download(url, tmp_path / "x", progress=False)
        assert str(err.value) == f"HTTP 404 Not Found: {url}"
        with pytest.raises(MissingDataFile, match="HTTP 404"):
            cache.fetch("majajhong2015", "nope.nc", url, "sha1:" + "0" * 40, progress=False)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "x").exists()


def test_disk_check_names_both_numbers(monkeypatch):
    with paper.quick_sources():
        p = paper.plan(quick=True)
        assert p.to_download > 0 and not p.files["cached"].any()
        monkeypatch.setattr(paper.shutil, "disk_usage", lambda path: type("U", (), {"free": 1000})())
        with pytest.raises(paper.DiskSpaceError, match=r"not enough disk.*MB to download into .* 1\.0 kB free"):
            paper.check_disk(p)


def test_chang_runs_when_its_folder_is_present(tmp_path, monkeypatch):
    monkeypatch.setenv("VNA_CHANG2021_DIR", str(tmp_path / "chang"))
    assert {c.dataset for c in paper.paper_grid(seeds=[0])} == {"allen-neuropixels", "majajhong2015"}
    write_chang_folder(tmp_path / "chang")
    chang = [c for c in paper.paper_grid(seeds=[0]) if c.dataset == "chang2021-face"]
    assert sorted({c.protocol for c in chang}) == ["images/mean", "images/trials", "none/mean", "none/trials",
                                                     "trials/mean", "trials/trials"]
    assert len(chang) == 6 * 3 and all(c.epochs == 50 for c in chang)  # all three methods, the study's training


def test_dry_run_prints_the_preflight_and_runs_nothing(tmp_path, capsys):
    assert main(["reproduce", "--grid", "paper", "--quick", "--dry-run", "--results-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "sub-699733573/sub-699733573_ses-715093703.nwb" in out and "[DANDI asset metadata]" in out
    assert "assy_dicarlo_MajajHong2015_public.nc" in out and "expected peak memory" in out
    assert "needs the authors' files" in out and "dry run: nothing ran" in out
    assert not list((tmp_path / "r").rglob("*.json"))


def test_paper_grid_quick_end_to_end(tmp_path):
    """Plan, download (resuming the NWB file after a drop), verify, train, write records, render Table 1."""
    results = tmp_path / "records"
    with paper.quick_sources(drop_after={NWB_ROUTE: 200_000}) as q:
        configs = paper.paper_grid(quick=True, seeds=[0], methods=["vna"])
        p = paper.plan(quick=True)
        paper.check_disk(p)
        report = run_grid(configs, results, progress=False, log=lambda text: None)
        gets = [r[2] for r in q["server"].requests if r[0] == "GET" and r[1] == NWB_ROUTE]
        cached = q["cache"] / "allen_neuropixels" / "sub-699733573/sub-699733573_ses-715093703.nwb"
        assert _sha256(cached) == q["store"]["nwb_sha256"]
    assert len(gets) == 2 and gets[0] is None and 0 < _range_start(gets[1]) <= 200_000  # resumed, not restarted
    assert report.ok and report.ran == len(configs) == 12
    records = load_records(results)
    assert set(records["dataset"]) == {"allen-neuropixels", "majajhong2015"}
    assert records[["encoding_auc", "decoding_auc"]].notna().all().all()
    table = paper.table1(results, quick=True, seeds=[0], methods=["vna"])
    assert set(table.loc[table["dataset"] == "allen-neuropixels", "paper (stand-in for)"]) == {"Mouse-movie"}
    assert table.loc[table["dataset"] == "chang2021-face", "protocol"].tolist() == ["needs the authors' files"]

    # the chapter renders these records (no training: it reads them)
    import papermill as pm
    import jupytext
    import nbformat

    nb = jupytext.read(REPO / "notebooks" / "09_paper_data.py")
    nbformat.write(nb, tmp_path / "ch.ipynb")
    pm.execute_notebook(str(tmp_path / "ch.ipynb"), str(tmp_path / "out.ipynb"), cwd=str(REPO), progress_bar=False,
                        parameters={"results_dir": str(results), "seeds": [0], "methods": ["vna"], "quick": True,
                                    "run_quick": False})
    text = (tmp_path / "out.ipynb").read_text()
    assert "Mouse-movie" in text and "needs the authors" in text and "0.99" in text  # Table 1's values beside ours
