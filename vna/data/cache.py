"""The download cache: find a dataset's file in ``$VNA_DATA_DIR`` or download it, verified.

Layout: ``<data_dir>/<dataset folder>/<upstream relative path>``, so that a folder prepared in advance
(``VNA_DATA_DIR=../shared/data`` in CI) is used without any network. Every file is checked against its
known hash each time it is used (memoised by path, size and modification time). Downloads go through
:mod:`vna.data.download`: the bytes collect in ``<file>.part`` (a dropped connection resumes with an HTTP
Range request), and the file is moved into place with :func:`os.replace` only after its hash matched, so a
failed, truncated or corrupted download never leaves a file under the final name.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

__all__ = ["data_dir", "data_dir_sources", "fetch", "is_cached", "file_hash", "CacheError", "MissingDataFile", "CorruptDataFile"]

ENV_VAR = "VNA_DATA_DIR"
DEFAULT_DIR = Path("~/.cache/vna")

# (path, size, mtime_ns, algorithm) -> hex digest; files are small, but loaders may be called often.
_HASH_MEMO: dict[tuple[str, int, int, str], str] = {}


class CacheError(Exception):
    """A dataset file could not be found, downloaded or verified (the message says which and how to fix it).

    ``reason`` holds the short cause (e.g. "HTTP 404 Not Found", "hash mismatch").
    """

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


class MissingDataFile(CacheError, FileNotFoundError):
    """Not cached and not downloadable (offline, HTTP error, read-only cache)."""


class CorruptDataFile(CacheError, ValueError):
    """A cached file or a download has the wrong hash (truncated, corrupted or changed upstream)."""


def _checkout_shared_data() -> Path | None:
    """``shared/data`` beside the repository, when vna runs from a checkout that has one."""
    repo = Path(__file__).resolve().parents[2]
    if not (repo / "vna" / "__init__.py").is_file():
        return None
    folder = repo.parent / "shared" / "data"
    return folder if folder.is_dir() else None


def data_dir_sources() -> list[tuple[str, Path | None, bool]]:
    """The data-folder rule, in order: ``(what, folder, used)`` for ``$VNA_DATA_DIR``, ``shared/data`` beside
    the repository, ``~/.cache/vna``; exactly one is ``used`` (what ``python -m vna datasets`` prints)."""
    value = os.environ.get(ENV_VAR, "").strip()
    env = Path(value).expanduser() if value else None
    shared = _checkout_shared_data()
    rows = [(f"${ENV_VAR}", env), ("shared/data beside the repository", shared), ("default", DEFAULT_DIR.expanduser())]
    chosen = next(i for i, (_, p) in enumerate(rows) if p is not None)
    return [(what, p, i == chosen) for i, (what, p) in enumerate(rows)]


def data_dir() -> Path:
    """The data folder, by one rule for the library, CLI, notebooks and papermill alike: ``$VNA_DATA_DIR``
    if set, else a ``shared/data`` folder beside the repository when vna runs from a checkout that has one,
    else ``~/.cache/vna`` (not created here). A file where the folder should be is a NotADirectoryError naming it."""
    what, path = next((w, p) for w, p, used in data_dir_sources() if used)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"the data folder {path} (from {what}) is a file, not a folder; point {ENV_VAR} at a "
                                 "folder (or unset it)")
    return path


def _split_hash(known_hash: str) -> tuple[str, str]:
    if not isinstance(known_hash, str) or ":" not in known_hash:
        raise ValueError(f"known_hash must look like 'sha256:<hex>' or 'sha1:<hex>'; got {known_hash!r}")
    algorithm, digest = known_hash.split(":", 1)
    algorithm = algorithm.lower()
    if algorithm not in ("sha256", "sha1", "md5"):
        raise ValueError(f"unsupported hash algorithm {algorithm!r} in {known_hash!r} (use sha256 or sha1)")
    return algorithm, digest.lower()


def file_hash(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file (memoised by path, size and mtime)."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, algorithm)
    if key not in _HASH_MEMO:
        h = hashlib.new(algorithm)
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASH_MEMO[key] = h.hexdigest()
    return _HASH_MEMO[key]


def is_cached(folder: str, relpaths) -> bool:
    """True when every ``relpath`` exists under ``data_dir()/folder`` (hashes are checked on use)."""
    root = data_dir() / folder
    return all((root / r).is_file() for r in relpaths)


def _how_to_provide(folder: str, relpath: str, url: str) -> str:
    """The fix, naming neither the URL nor the target again (the message around it names each once)."""
    return (f"To work offline, copy the file there from a machine that has it, or set {ENV_VAR} to a folder "
            f"holding {folder}/{relpath}.")


def fetch(folder: str, relpath: str, url: str, known_hash: str, *, progress: bool = True) -> Path:
    """Path of a verified local copy of one dataset file, downloading it if needed.

    Looks in ``data_dir()/folder/relpath`` first and checks its hash. A cached file with a wrong hash is
    replaced by a fresh download when one succeeds; otherwise an error names the file, both hashes and
    the fix. A download is written to a temporary name and moved into place only after its hash matched.

    Raises:
        MissingDataFile (a FileNotFoundError): not cached and cannot be downloaded (offline, HTTP error,
            read-only cache); the message names the file, the URL and how to provide it.
        CorruptDataFile (a ValueError): the hash of the cached copy or of the download does not match.
        Nothing partial is left in the cache either way; a corrupt cached file that cannot be replaced is
        left as it is (it may be the user's own prepared copy, or in a read-only folder) and named.
    """
    algorithm, digest = _split_hash(known_hash)
    target = data_dir() / folder / relpath
    stale = None
    if target.is_file():
        actual = file_hash(target, algorithm)
        if actual == digest:
            return target
        stale = actual
    try:
        _download(url, folder, relpath, algorithm, digest, progress=progress)
    except CacheError as exc:
        if stale is not None:
            raise CorruptDataFile(
                f"the cached file {target} is corrupt: its {algorithm} is {stale} but should be {digest}, and "
                f"a fresh download from {url} failed ({getattr(exc, 'reason', exc)}). Replace the file with "
                f"the upstream one (or delete it to download it again when online), or set "
                f"{ENV_VAR} to a folder holding a good copy as <folder>/{folder}/{relpath}."
            ) from exc
        raise
    return target


def _download(url: str, folder: str, relpath: str, algorithm: str, digest: str, *, progress: bool) -> None:
    """One verified download into the cache through :func:`vna.data.download.download` (resumable,
    retried, atomic: the bytes collect in ``<target>.part`` and take the final name only once verified)."""
    from .download import DownloadCorrupt, DownloadError, download, part_path  # local: requests only when downloading

    target = data_dir() / folder / relpath
    name = f"{folder}/{relpath}"
    where = _how_to_provide(folder, relpath, url)
    if progress:
        print(f"vna: downloading {name} into {data_dir()}", file=sys.stderr)
    try:
        download(url, target, known_hash=f"{algorithm}:{digest}", progress=progress, desc=name)
    except DownloadCorrupt as exc:
        raise CorruptDataFile(
            f"download of {name} from {url} failed its hash check ({exc.reason}): truncated or changed "
            f"upstream; nothing was written to the cache (the partial file {part_path(target).name} was "
            f"deleted). {where}", reason=exc.reason) from None
    except DownloadError as exc:
        raise MissingDataFile(
            f"dataset file {target} is not cached and its download from {url} failed ({exc.reason}). {where}",
            reason=exc.reason) from None  # the message names the cause; the requests/urllib3 chain only buries it
    except OSError as exc:
        raise MissingDataFile(
            f"{target} is not cached and could not be written ({exc}); download {url} by hand. {where}",
            reason=f"cache folder not writable: {exc}") from None
    st = target.stat()
    _HASH_MEMO[(str(target.resolve()), st.st_size, st.st_mtime_ns, algorithm)] = digest
