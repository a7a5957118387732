"""What a release is made of: one version, the licence and citation that agree with it, and the records of a
results folder as one file that ``python -m vna report`` reads back, locally or from a URL, verified.

The whole path as a reader meets it -- ``pip install`` into a fresh venv away from the clone, then the report from
the release file at a URL -- is run from the README's own commands by tests/test_documented_commands.py.
"""
from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import vna
from vna.cli import build_parser, main
from vna.data.registry import DATASETS
from vna.study.registry import GRIDS
from vna.study.release import export_records, read_records_file, rebuild_store, records_source
from vna.study.report import build_report, to_markdown
from vna.study.store import StoreError, load_records

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
CFF = (REPO / "CITATION.cff").read_text()


def _cff(key: str) -> str:
    """A top-level field of CITATION.cff (its first line)."""
    m = re.search(rf"^{re.escape(key)}: *(.*)$", CFF, re.M)
    assert m, f"CITATION.cff has no {key}"
    return m.group(1).strip().strip('"')


# ------------------------------------------------------------------------------------------- one version, cited
def test_the_version_is_set_in_one_place_and_everything_follows_it():
    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "vna.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", vna.__version__)
    assert _cff("version") == vna.__version__
    done = subprocess.run([sys.executable, "-m", "vna", "--version"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip() == f"vna {vna.__version__}"
    readme = (REPO / "README.md").read_text()
    tags = set(re.findall(r"\bv(\d+\.\d+\.\d+)\b", readme))
    assert tags == {vna.__version__}, f"the README's release commands name {tags}, vna is {vna.__version__}"


def test_the_licence_file_citation_and_pyproject_agree():
    assert PYPROJECT["project"]["license"] == "MIT" and PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
    assert (_cff("cff-version"), _cff("license"), _cff("type")) == ("1.2.0", "MIT", "software")
    assert _cff("title") and _cff("message") and re.search(r"^authors:\n  - name: \S", CFF, re.M)
    assert f'url: "{PYPROJECT["project"]["urls"]["Paper"]}"' in CFF and "family-names: Gao" in CFF  # the paper


def test_the_distribution_name_is_not_the_import_name_taken_on_the_index():
    assert PYPROJECT["project"]["name"] == "visual-neural-alignment"  # "vna" on PyPI is another project
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["vna*"]


# ------------------------------------------------------------------------------------------------ the command
def test_command_line_help_names_the_grids_datasets_and_options(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["reproduce", "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for name, (_, about) in GRIDS.items():
        assert name in text and " ".join(about.split()) in text
    assert all(name in text for name in DATASETS)
    assert "partition the jobs go to" in text
    report = next(a for a in build_parser()._subparsers._group_actions[0].choices["report"]._actions
                  if "--results-dir" in a.option_strings)
    assert "records file" in report.help and "URL" in report.help


# -------------------------------------------------------------------------------------- the records as one file
@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A results folder of 12 real records (copies from results/, not a published grid)."""
    root = tmp_path_factory.mktemp("store") / "records"
    for rec in sorted((REPO / "results" / "cowley2023-v4").glob("vna-*.json"))[:12]:
        (root / "cowley2023-v4").mkdir(parents=True, exist_ok=True)
        for f in (rec, rec.with_suffix(".instances.csv")):
            shutil.copy2(f, root / "cowley2023-v4" / f.name)
    return root


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="path").sort_values("key").reset_index(drop=True)


def test_a_folder_exported_and_rebuilt_gives_the_same_records_and_report(store, tmp_path):
    done = export_records(store, tmp_path / "records.csv.gz")
    data = done.path.read_bytes()
    assert done.records == 12 and done.sha256 == hashlib.sha256(data).hexdigest()
    assert export_records(store, tmp_path / "again.csv.gz").path.read_bytes() == data  # the same bytes
    table = pd.read_csv(done.path)  # a plain table: one row per record, the readable columns first
    assert len(table) == 12 and list(table.columns[:3]) == ["file", "dataset", "method"]
    assert table["file"].str.fullmatch(r"cowley2023-v4/vna-[0-9a-f]+\.json").all()
    rebuilt = rebuild_store(read_records_file(done.path, done.sha256), tmp_path / "rebuilt")
    for f in store.rglob("*"):
        if f.is_file():
            assert (rebuilt / f.relative_to(store)).read_bytes() == f.read_bytes()
    pd.testing.assert_frame_equal(_table(load_records(rebuilt)), _table(load_records(store)))
    with records_source(str(done.path)) as folder:
        assert to_markdown(build_report(folder, None, n_boot=50)) == to_markdown(build_report(store, None, n_boot=50))
    assert not folder.exists()  # the rebuilt folder is gone after the report


def test_the_report_command_reads_a_records_file_as_its_folder(store, tmp_path, capsys):
    assert main(["report", "--results-dir", str(store), "--export-records", str(tmp_path / "r.csv")]) == 0
    assert "wrote" in capsys.readouterr().err
    args = ["--grid", "none", "--bootstrap", "50"]
    assert main(["report", "--results-dir", str(store), *args]) == 0
    from_folder = capsys.readouterr().out.replace(f"{store.name}/", "results/")
    assert main(["report", "--results-dir", str(tmp_path / "r.csv"), *args]) == 0
    assert capsys.readouterr().out == from_folder


def _rewrite(path: Path, change) -> Path:
    """A copy of the records file ``path`` with ``change(table)`` applied."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(table)
    out = path.with_name("changed.csv")
    table.to_csv(out, index=False)
    return out


@pytest.mark.parametrize("change, message", [
    (lambda t: t.__setitem__("record", t["record"].str.replace('"seed": ', '"seed":  ', n=1)),
     r"row 2 .* its record has sha256 .* \(edited\?\)"),
    (lambda t: t.__setitem__("file", t["file"].where(t.index != 0, "../../etc/x.json")), r"row 2 .*not a record's place"),
    (lambda t: t.__setitem__("file", t["file"].where(t.index != 1, t["file"][0])), r"row 3 .*a second row"),
    (lambda t: t.pop("instances"), r"not a vna records file .*no column instances"),
])
def test_a_changed_records_file_is_refused_naming_the_row(store, tmp_path, change, message):
    done = export_records(store, tmp_path / "records.csv")
    with pytest.raises(ValueError, match=message):
        read_records_file(_rewrite(done.path, change))


def test_a_records_file_must_be_the_one_its_sha256_names(store, tmp_path):
    done = export_records(store, tmp_path / "records.csv.gz")
    with pytest.raises(ValueError, match=r"its sha256 is [0-9a-f]{64}, not 0{64}"):
        read_records_file(done.path, "0" * 64)
    with pytest.raises(ValueError, match="not a sha256"):
        read_records_file(done.path, "abc")
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(done.path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="cut.csv.gz is not a readable records file"):
        read_records_file(cut)
    with pytest.raises(ValueError, match="a .csv or .csv.gz file"):
        export_records(store, tmp_path / "records.parquet")


def test_only_a_store_that_verifies_is_exported(store, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(store, bad)
    victim = sorted(bad.rglob("*.instances.csv"))[0]
    victim.write_text(victim.read_text().replace("0.", "1.", 1))
    with pytest.raises(StoreError, match=victim.name):
        export_records(bad, tmp_path / "out.csv.gz")
    assert not (tmp_path / "out.csv.gz").exists()


def test_a_records_file_at_a_url_is_fetched_and_checked(store, tmp_path, http_server):
    served = tmp_path / "site"
    done = export_records(store, served / "records.csv.gz")
    url = f"{http_server(served)}/records.csv.gz"
    with records_source(url, sha256=done.sha256, progress=False) as folder:
        assert len(load_records(folder)) == 12
    with records_source(f"{url}#sha256={done.sha256}", progress=False) as folder:
        assert len(load_records(folder)) == 12
    with pytest.raises(ValueError, match="needs its sha256"):
        with records_source(url, progress=False):
            pass
    with pytest.raises(ValueError, match="not the one its sha256 names"):
        with records_source(url, sha256="1" * 64, progress=False):
            pass
    with pytest.raises(ConnectionError, match="could not fetch the records file .*HTTP 404"):
        with records_source(url.replace("records", "nothing"), sha256=done.sha256, progress=False):
            pass


def test_the_gzip_file_carries_no_date(store, tmp_path):
    done = export_records(store, tmp_path / "records.csv.gz")
    header = done.path.read_bytes()[:10]
    assert header[4:8] == b"\0\0\0\0"  # gzip's MTIME field
    assert gzip.decompress(done.path.read_bytes()).startswith(b"file,dataset,method,")
