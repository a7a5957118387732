"""Downloads users can trust: resumable, shown, retried, verified, atomic.

:func:`download` fetches one URL into a file:

* the bytes go to ``<target>.part`` beside the target; a dropped connection (or an interrupted earlier
  run) continues from the bytes already there with an HTTP ``Range`` request instead of starting again;
  a server that answers 206 appends; one that ignores ``Range`` (answers 200) restarts the file from byte 0
  *once*, and says so; when it ignores ``Range`` again, the download fails with a line saying why;
* a tqdm bar per file, with the total when the server (or the caller) knows it;
* failures that may pass (connection reset, timeout, HTTP 408/425/429/5xx, a body shorter than announced)
  are retried with exponential backoff, at most ``retries`` times in a row without *progress*: an attempt
  counts as progress only when the ``.part`` grows past the most bytes it ever held, so a server that sends
  the same first bytes again and again cannot keep a download alive; "connection refused" / unknown host
  (offline) and other HTTP errors fail at once with one line: ``HTTP 404 Not Found: <url>``;
* a body sent with a ``Content-Encoding`` other than identity (gzip, ...) is refused at once: sizes and
  byte ranges count the bytes on disk, not the decoded ones;
* the finished ``.part`` is checked and moved to the target with :func:`os.replace` only then, so a partial
  or wrong file never has the final name: its hash where the source publishes one; else its size (the
  caller's, or the server's ``Content-Length``) *and* its type (:func:`content_problem`: an image decodes,
  an NWB/HDF5 file has the HDF5 signature, a JSON file parses, nothing else is an HTML page), so that a
  captive portal's or an error page served with status 200 is never cached as data. A ``.part`` that fails
  its check is deleted (resuming it would only re-append the same bad bytes).

:func:`remote_size` asks for a file's size without downloading it (HTTP HEAD ``Content-Length``), for the
preflight of :mod:`vna.study.paper`. Nothing here imports the rest of vna.
"""
from __future__ import annotations

import errno
import hashlib
import os
import sys
import time
from pathlib import Path

__all__ = ["download", "remote_size", "content_problem", "DownloadError", "DownloadRefused", "DownloadCorrupt",
           "part_path", "human_bytes", "RETRIES", "BACKOFF_S"]

#: At most this many failed attempts in a row without a byte of progress (``$VNA_DOWNLOAD_RETRIES``).
RETRIES = 5
#: First backoff in seconds, doubled after each failure, capped at 60 s (``$VNA_DOWNLOAD_BACKOFF``).
BACKOFF_S = 1.0
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_CHUNK = 1 << 16  # bytes per read: a dropped connection loses at most the chunk in flight
#: Files the server says are smaller than this get no bar (118 template images would print 118 bars).
MIN_BAR_BYTES = 1_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif")
HDF5_SUFFIXES = (".nwb", ".h5", ".hdf5")
#: The HDF5 format signature: at byte 0, or at 512, 1024, 2048, ... after a user block (HDF5 spec, section 2.1).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<?xml")


class DownloadError(Exception):
    """A download failed; ``reason`` is the one-line cause (``HTTP 503 Service Unavailable``, ...)."""

    def __init__(self, message: str, reason: str = "", url: str = ""):
        super().__init__(message)
        self.reason = reason or message
        self.url = url


class DownloadRefused(DownloadError):
    """The server said no (an HTTP error status), or there is no connection at all (offline)."""


class DownloadCorrupt(DownloadError, ValueError):
    """The finished download has the wrong hash or size (its ``.part`` was deleted)."""


def part_path(target: str | os.PathLike) -> Path:
    """Where the bytes of ``target`` collect until they are verified: ``<target>.part``."""
    target = Path(target)
    return target.with_name(target.name + ".part")


def human_bytes(n: float | None) -> str:
    """``1.6 GB`` etc. (decimal units, as DANDI and most servers state sizes); ``?`` for unknown."""
    if n is None:
        return "?"
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _session():
    import requests

    s = requests.Session()
    s.headers["User-Agent"] = "vna (Visual-Neural Alignment reproduction)"
    s.headers["Accept-Encoding"] = "identity"  # byte ranges must count the bytes on disk
    return s


def _is_offline(exc: BaseException) -> bool:
    """Connection refused or host unknown: nothing will change by retrying in a second."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
            return True
        text = str(exc)
        if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo failed" in text \
                or "Temporary failure in name resolution" in text or "Connection refused" in text:
            return True
        exc = exc.__cause__ or exc.__context__ or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException)
                                                   else None)
    return False


def _host(url: str) -> str:
    return url.split("/")[2] if url.count("/") >= 2 else url


def remote_size(url: str, *, timeout: float = 20.0) -> int | None:
    """The size a server states for ``url`` (HEAD ``Content-Length``, following redirects), or None."""
    import requests

    try:
        with _session() as s:
            r = s.head(url, allow_redirects=True, timeout=timeout)
            if r.status_code >= 400:
                return None
            value = r.headers.get("Content-Length")
            return int(value) if value is not None and value.isdigit() else None
    except requests.RequestException:
        return None


def _content_range_start(value: str | None) -> int | None:
    """``bytes 100-199/200`` -> 100."""
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _total_from(response, offset: int) -> int | None:
    if response.status_code == 206:
        total = (response.headers.get("Content-Range") or "").rsplit("/", 1)[-1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) + offset if length is not None and length.isdigit() else None


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _starts(head: bytes) -> str:
    """What a file's first bytes look like, for a message: ``an HTML page (starts with b'<!DOCTYPE html>')``."""
    shown = repr(head[:32])
    if head.lstrip().lower().startswith(_HTML_STARTS):
        return f"an HTML page (starts with {shown}; an error or login page?)"
    return f"{len(head)}+ bytes starting with {shown}" if head else "empty"


def content_problem(path: str | os.PathLike, name: str | None = None) -> str | None:
    """Why the file at ``path`` is not the kind of file its name (``name``, default the path's) says, or None.

    By suffix: an image (``.png``, ``.tif``, ...) must decode with Pillow, an NWB/HDF5 file (``.nwb``, ``.h5``,
    ``.hdf5``) must carry :data:`HDF5_SIGNATURE` (at byte 0 or after a user block), a ``.json`` file must parse;
    a file of any other kind must at least not be an HTML page. Used where no hash is published."""
    import json

    path = Path(path)
    suffix = Path(name or path.name).suffix.lower()
    with open(path, "rb") as f:
        head = f.read(1024)
    if suffix in IMAGE_SUFFIXES:
        from PIL import Image

        try:
            with Image.open(path) as im:
                im.load()
        except Exception as exc:  # noqa: BLE001 - any decoder error: not an image
            return f"not a readable {suffix[1:].upper()} image ({type(exc).__name__}): {_starts(head)}"
        return None
    if suffix in HDF5_SUFFIXES:
        size, offset = path.stat().st_size, 0
        with open(path, "rb") as f:
            while offset + len(HDF5_SIGNATURE) <= size:
                f.seek(offset)
                if f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                    return None
                offset = 512 if offset == 0 else offset * 2
        return f"not an NWB/HDF5 file (no HDF5 signature): {_starts(head)}"
    if suffix == ".json":
        try:
            json.loads(path.read_bytes())
        except ValueError as exc:
            return f"not JSON ({str(exc)[:60]}): {_starts(head)}"
        return None
    if head.lstrip().lower().startswith(_HTML_STARTS):
        return f"not data: {_starts(head)}"
    return None


def _remove_empty_parents(folder: Path, created: list[Path]) -> None:
    for p in sorted(created, key=lambda q: len(q.parts), reverse=True):
        try:
            p.rmdir()
        except OSError:
            pass


def download(url: str, target: str | os.PathLike, *, known_hash: str | None = None, size: int | None = None,
             progress: bool = True, desc: str | None = None, retries: int | None = None,
             backoff: float | None = None, timeout: float = 60.0, log=None) -> Path:
    """Download ``url`` to ``target`` (module docstring); returns ``target``.

    Args:
        known_hash: ``"sha256:<hex>"`` (or ``sha1:``/``md5:``) where the source publishes one.
        size: the expected size in bytes, checked when no hash is known (and used for the bar's total).
        retries, backoff: default ``$VNA_DOWNLOAD_RETRIES`` / ``$VNA_DOWNLOAD_BACKOFF`` or
            :data:`RETRIES` / :data:`BACKOFF_S`.
        log: ``log(text)`` for the lines about retries and resumes (default: stderr when ``progress``).

    Raises:
        DownloadRefused: an HTTP error status (one line: status + URL), or no connection (offline).
        DownloadCorrupt: hash mismatch, or (without a hash) a size or type mismatch; the ``.part`` is deleted.
        DownloadError: still failing after ``retries`` attempts (the ``.part`` is kept for a later resume).
    """
    import requests
    from tqdm.auto import tqdm

    target = Path(target)
    part = part_path(target)
    retries = int(_env_number("VNA_DOWNLOAD_RETRIES", RETRIES) if retries is None else retries)
    backoff = float(_env_number("VNA_DOWNLOAD_BACKOFF", BACKOFF_S) if backoff is None else backoff)
    algorithm = digest = None
    if known_hash:
        algorithm, digest = known_hash.split(":", 1)
        algorithm, digest = algorithm.lower(), digest.lower()
    say = log or ((lambda text: print(f"vna: {text}", file=sys.stderr)) if progress else (lambda text: None))
    name = desc or target.name
    created: list[Path] = []
    failures, delay, total = 0, backoff, size
    kept = part.stat().st_size if part.is_file() else 0  # the most bytes the .part ever held: progress is beyond it
    restarted = False  # the file was started again from byte 0 once (a server that ignores Range)
    stated = None  # the size the server stated (Content-Length / Content-Range)
    bar = None

    def restart(why: str) -> None:
        nonlocal restarted
        if restarted:
            reason = f"the server {why} again, so the download cannot resume"
            raise DownloadError(
                f"{url}: {reason}; vna started the file again from byte 0 once and stops there (it got at most "
                f"{kept} bytes{f' of {total}' if total else ''}); try again later or download it by other means",
                reason=reason, url=url)
        restarted = True
        say(f"{name}: the server {why}; starting again from byte 0 (once)")

    try:
        with _session() as session:
            while True:
                offset = part.stat().st_size if part.is_file() else 0
                if total is not None and offset == total:
                    break  # complete already (an earlier run was stopped between download and check)
                if total is not None and offset > total:
                    part.unlink()
                    offset = 0
                headers = {"Range": f"bytes={offset}-"} if offset else {}
                got = 0  # bytes received in this attempt
                try:
                    with session.get(url, headers=headers, stream=True, timeout=timeout,
                                     allow_redirects=True) as r:
                        if r.status_code == 416 and offset:  # nothing left to send: the .part is whole (or stale)
                            whole = (r.headers.get("Content-Range") or "").rsplit("/", 1)[-1]
                            if whole.isdigit() and int(whole) == offset:
                                total = stated = offset
                                break
                            restart(f"refused the byte range from {offset} (HTTP 416)")
                            part.unlink()
                            continue
                        if r.status_code >= 400:
                            reason = f"HTTP {r.status_code} {r.reason or ''}".strip()
                            if r.status_code in _RETRY_STATUS:
                                raise _Transient(reason)
                            raise DownloadRefused(f"{reason}: {url}", reason=reason, url=url)
                        encoding = (r.headers.get("Content-Encoding") or "identity").strip().lower()
                        if encoding != "identity":
                            reason = (f"the server sent the file {encoding}-encoded (Content-Encoding: {encoding}) "
                                      "although vna asked for its bytes as they are (identity)")
                            raise DownloadRefused(f"{url}: {reason}; its size and byte ranges would not count the "
                                                  "bytes on disk", reason=reason, url=url)
                        resumed = r.status_code == 206 and _content_range_start(r.headers.get("Content-Range")) == offset
                        if offset and not resumed:
                            restart(f"ignored the byte range (HTTP {r.status_code} to 'Range: bytes={offset}-')")
                            offset = 0
                        elif offset:
                            say(f"{name}: resuming at byte {offset} ({human_bytes(offset)} already here)")
                        stated = _total_from(r, offset)
                        total = stated or total
                        if not part.parent.exists():
                            p = part.parent
                            while not p.exists():
                                created.append(p)
                                p = p.parent
                            part.parent.mkdir(parents=True, exist_ok=True)
                        if bar is None and progress and (total is None or total >= MIN_BAR_BYTES):
                            bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=name,
                                       leave=True, dynamic_ncols=True)
                        elif bar is not None:
                            bar.reset(total=total)
                            bar.update(offset)
                        with open(part, "ab" if offset else "wb") as f:
                            for block in r.iter_content(chunk_size=_CHUNK):
                                f.write(block)
                                got += len(block)
                                if bar is not None:
                                    bar.update(len(block))
                    now = part.stat().st_size
                    if total is not None and now < total:
                        raise _Transient(f"connection closed at byte {now} of {total}")
                    break
                except (_Transient, requests.ConnectionError, requests.Timeout,
                        requests.exceptions.ChunkedEncodingError) as exc:
                    now = part.stat().st_size if part.is_file() else 0
                    if not isinstance(exc, _Transient) and got == 0 and _is_offline(exc):
                        reason = f"{type(exc).__name__}: no connection to {_host(url)} (offline?)"
                        raise DownloadRefused(f"{reason}: {url}", reason=reason, url=url) from None
                    if now > kept:  # progress: bytes beyond any this download held before
                        kept, failures, delay = now, 0, backoff
                    else:
                        failures += 1
                    if failures > retries:
                        where = (f"the {now} bytes so far are kept in {part} and a later call resumes from there"
                                 if now else "no partial file was kept")
                        raise DownloadError(
                            f"{url}: gave up after {retries} retries without progress ({_one_line(exc)}); {where}",
                            reason=_one_line(exc), url=url) from None
                    wait = min(delay, 60.0) if failures else 0.0
                    say(f"{name}: {_one_line(exc)}; retrying{f' in {wait:.1f} s' if wait else ''}")
                    if wait:
                        time.sleep(wait)
                    delay = min(delay * 2, 60.0) if failures else delay
        if bar is not None:
            bar.close()
            bar = None
        actual_size = part.stat().st_size if part.is_file() else 0
        if not part.is_file():  # an empty body: make the (empty) file so that it can be checked
            part.parent.mkdir(parents=True, exist_ok=True)
            part.touch()
        if digest is not None:
            actual = _digest(part, algorithm)
            if actual != digest:
                part.unlink()
                raise DownloadCorrupt(
                    f"{url}: {algorithm} of the {actual_size} bytes received is {actual}, expected {digest}",
                    reason=f"the download has {algorithm} {actual}, not {digest}", url=url)
        else:  # no hash: its size (the caller's, else the server's) and its type must both check out
            want = size if size is not None else stated
            if want is not None and actual_size != want:
                part.unlink()
                raise DownloadCorrupt(f"{url}: {actual_size} bytes received, expected {want}",
                                      reason=f"size {actual_size}, not {want}", url=url)
            problem = content_problem(part, target.name)
            if problem:
                part.unlink()
                raise DownloadCorrupt(f"{url}: the {actual_size} bytes received are {problem}", reason=problem,
                                      url=url)
        os.replace(part, target)
        return target
    except BaseException:
        if bar is not None:
            bar.close()
        if not part.is_file() or part.stat().st_size == 0:
            part.unlink(missing_ok=True)
            _remove_empty_parents(part.parent, created)
        raise


class _Transient(Exception):
    """A failure worth another try (HTTP 5xx/429, a connection closed before the last byte)."""


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, _Transient):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}"
