"""Readers: one module per input format, each returning a standard ``xr.Dataset``.

- :mod:`sstcast.sources.netcdf_sst`: CF NetCDF sea-surface temperature (OISST, ERSST,
  OSTIA, CMIP ``tos``, ...) -> ``sst(time, lat, lon)`` in degC plus ``mask(lat, lon)``.
- :mod:`sstcast.sources.taxibj`: TaxiBJ crowd flows, meteorology and holidays.

Both are imported lazily by :mod:`sstcast.ingest`; this module holds what they share: which
input files a list of paths, globs and URLs names (:func:`list_inputs`), local copies of
remote ones (:func:`fetch_inputs`), and the file-format check by magic bytes.

Inputs may be local paths and globs, ``file://`` URLs, or any URL fsspec opens (``https://``,
``s3://``, ``gs://``, ...). Remote files are downloaded whole into a temporary folder and
read there: the readers (netCDF4, scipy, h5py) then see ordinary local files (NetCDF-3 and
NetCDF-4 alike), and the SHA-256 recorded in the cube's provenance is that of the very bytes
that were read.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sstcast.errors import SstcastError
from sstcast.utils.timeaxis import infer_frequency  # re-exported: callers import it here

__all__ = [
    "Bbox",
    "InputFile",
    "download_folder",
    "expand_files",
    "fetch_inputs",
    "file_format",
    "infer_frequency",
    "is_remote",
    "list_inputs",
    "named_errors",
]

#: A latitude/longitude box in degrees: (south, north, west, east).
Bbox = tuple[float, float, float, float]

NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

#: The package that gives fsspec each protocol, for the "pip install" hint.
PROTOCOL_PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "http": "aiohttp",
    "https": "aiohttp",
}


@dataclass(frozen=True)
class InputFile:
    """One input file: ``name`` is how it was given (a local path or a URL): errors and the
    cube's provenance use it; ``local`` is the file that is read: the file itself, or the
    downloaded copy of a URL."""

    name: str
    local: Path

    @property
    def remote(self) -> bool:
        """Whether ``local`` is a downloaded copy of the URL ``name``."""
        return is_remote(self.name)


def is_remote(text: str | Path) -> bool:
    """True for URLs that are not local files (``https://``, ``s3://``, ...); ``file://``
    URLs and plain paths are local."""
    text = str(text)
    return "://" in text and not text.startswith("file://")


def _local_pattern(text: str) -> str:
    """A local path or ``file://`` URL as a path with ``~`` expanded."""
    if text.startswith("file://"):
        text = text[len("file://") :]
    return str(Path(text).expanduser())


def _expand_local(pattern: str) -> list[Path]:
    """The files a local path or glob names (a glob's matches sorted by name)."""
    expanded = _local_pattern(pattern)
    if glob.has_magic(expanded):
        matches = sorted(Path(m) for m in glob.glob(expanded))
        matches = [m for m in matches if m.is_file()]
        if not matches:
            raise SstcastError(f"{pattern}: no file matches this pattern")
        return matches
    path = Path(expanded)
    if not path.exists():
        raise SstcastError(f"{pattern}: file not found")
    if not path.is_file():
        raise SstcastError(f"{pattern}: not a file")
    return [path]


def remote_filesystem(url: str) -> tuple[Any, str]:
    """fsspec's filesystem for ``url`` and the path on it; a one-line error naming the
    package to install when the protocol's package is missing (s3fs, gcsfs, ...)."""
    import fsspec

    protocol = url.split("://", 1)[0].lower()
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as err:
        package = PROTOCOL_PACKAGES.get(protocol)
        hint = f"pip install {package}" if package else str(err)
        raise SstcastError(
            f"{url}: reading {protocol}:// URLs needs a package that is not installed ({hint})"
        ) from None
    except ValueError as err:  # "Protocol not known: foo"
        raise SstcastError(f"{url}: {err} (not a URL fsspec can open)") from None


def _root_cause(err: BaseException) -> BaseException:
    while err.__cause__ is not None:
        err = err.__cause__
    return err


def _unreachable(url: str, err: BaseException) -> SstcastError:
    """The one-line error for a URL that cannot be listed, opened or downloaded: not found
    (HTTP 404 or no such object), another HTTP status, no access, or no connection."""
    cause = _root_cause(err)
    status = getattr(cause, "status", None)
    if status == 404 or (isinstance(err, FileNotFoundError) and cause is err):
        return SstcastError(f"{url}: file not found (no such object, or HTTP 404)")
    reason = " ".join(str(getattr(cause, "message", "") or cause).split())[:200]
    reason = reason or cause.__class__.__name__
    if isinstance(status, int):
        return SstcastError(f"{url}: the server answered HTTP {status} ({reason})")
    if isinstance(err, PermissionError):
        return SstcastError(f"{url}: access denied ({reason}; credentials the usual fsspec way)")
    return SstcastError(f"{url}: cannot be reached ({reason})")


def _is_remote_glob(url: str) -> bool:
    """Whether a URL is a pattern. Over HTTP(S) ``?`` starts a query string, so only ``*``
    and ``[`` in the part before it count."""
    if url.split("://", 1)[0].lower() in ("http", "https"):
        path = url.split("?", 1)[0]
        return "*" in path or "[" in path
    return glob.has_magic(url)


def _as_given(url: str, path: str, match: str, fs: Any) -> str:
    """A glob match as a URL spelled like the pattern ``url`` (whose path on ``fs`` is
    ``path``): the pattern's folder as given, then the rest of the match."""
    cut = min((i for i, c in enumerate(path) if c in "*?["), default=len(path))
    folder = path[: path.rfind("/", 0, cut) + 1]
    url_cut = min((i for i, c in enumerate(url) if c in "*?["), default=len(url))
    url_folder = url[: url.rfind("/", 0, url_cut) + 1]
    if folder and match.startswith(folder) and url_folder.endswith(folder.lstrip("/")):
        return url_folder + match[len(folder) :]
    return fs.unstrip_protocol(match)


def _expand_remote(url: str) -> list[str]:
    """The URLs a remote URL or pattern names (a pattern's matches sorted by name)."""
    fs, path = remote_filesystem(url)
    protocol = url.split("://", 1)[0].lower()
    if _is_remote_glob(url):
        if protocol in ("http", "https"):
            raise SstcastError(
                f"{url}: wildcards cannot be expanded over {protocol} (HTTP has no file "
                "listing); give each file's URL"
            )
        try:
            found = fs.glob(path, detail=True)
            matches = sorted(m for m, info in found.items() if info.get("type") == "file")
        except Exception as err:  # the store's own errors: no access, no bucket, ...
            raise _unreachable(url, err) from None
        if not matches:
            raise SstcastError(f"{url}: no file matches this pattern")
        return [_as_given(url, path, m, fs) for m in matches]
    try:
        info = fs.info(path)
    except Exception as err:
        raise _unreachable(url, err) from None
    if info.get("type", "file") != "file":
        raise SstcastError(f"{url}: not a file")
    return [url]


def list_inputs(patterns: Iterable[str | Path] | str | Path) -> list[str]:
    """Paths, globs and URLs (or one of them) to the files they name, without reading them.

    Each pattern's matches are sorted by name; order across patterns is kept as given; a
    file named twice is kept once. Local files come back as paths (``file://`` stripped),
    remote ones as URLs. A file that does not exist (or a URL that answers 404), a glob that
    matches nothing, an unreachable server, a glob over HTTP or a protocol whose package is
    missing is an SstcastError naming the pattern.
    """
    if isinstance(patterns, str | Path):  # one pattern, not a sequence of characters
        patterns = [patterns]
    patterns = [str(p) for p in patterns]
    if not patterns:
        raise SstcastError("no input files given")
    names: list[str] = []
    seen: set[str] = set()
    for pattern in patterns:
        if is_remote(pattern):
            found = _expand_remote(pattern)
            keys = found
        else:
            local = _expand_local(pattern)
            found = [str(m) for m in local]
            keys = [str(m.resolve()) for m in local]
        for name, key in zip(found, keys, strict=True):
            if key not in seen:
                seen.add(key)
                names.append(name)
    return names


def expand_files(patterns: Iterable[str | Path] | str | Path) -> list[Path]:
    """Local paths and globs (or one of them) to a list of existing files, each pattern's
    matches sorted by name (see :func:`list_inputs`); a URL is an SstcastError here (use
    :func:`fetch_inputs` for inputs that may be remote)."""
    names = list_inputs(patterns)
    remote = [n for n in names if is_remote(n)]
    if remote:
        raise SstcastError(f"{remote[0]}: a URL where a local file is needed")
    return [Path(n) for n in names]


_process_folder: Path | None = None


def _default_folder() -> Path:
    """A temporary folder for downloads outside :func:`download_folder`, removed when the
    process exits (readers opened on remote files keep reading them lazily)."""
    global _process_folder
    if _process_folder is None:
        _process_folder = Path(tempfile.mkdtemp(prefix="sstcast-downloads-"))
        atexit.register(shutil.rmtree, _process_folder, ignore_errors=True)
    return _process_folder


@contextlib.contextmanager
def download_folder(near: Path | None = None) -> Iterator[Path]:
    """A temporary folder for the local copies of remote inputs, removed on exit: an ingest
    holds it while the cube is written (values are read lazily). In ``$TMPDIR``, or inside
    ``near`` (a folder on storage that dask workers on other machines also see)."""
    if near is not None:
        near.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sstcast-downloads-", dir=near) as folder:
        yield Path(folder)


def _download(url: str, folder: Path) -> Path:
    """Copy ``url`` into ``folder`` (one sub-folder per URL, the file's own name kept, so
    messages that show a file name show the URL's); an error names the URL."""
    fs, path = remote_filesystem(url)
    name = path.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "input"
    target = folder / hashlib.sha256(url.encode()).hexdigest()[:16] / name
    if target.exists():  # already fetched into this folder
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{name}.part")
    try:
        expected = fs.info(path).get("size")
        fs.get_file(path, str(partial))
    except Exception as err:
        partial.unlink(missing_ok=True)
        raise _unreachable(url, err) from None
    got = partial.stat().st_size
    if expected is not None and int(expected) != got:
        partial.unlink(missing_ok=True)
        raise SstcastError(
            f"{url}: download incomplete ({got} of {int(expected)} bytes); try again"
        )
    partial.rename(target)
    return target


def fetch_inputs(
    patterns: Iterable[str | Path] | Iterable[InputFile] | str | Path | InputFile,
    folder: Path | None = None,
) -> list[InputFile]:
    """The input files of paths, globs and URLs (see :func:`list_inputs`), each with a
    local file to read: remote files are downloaded into ``folder`` (default: a new
    temporary folder, removed when the process exits). A list of :class:`InputFile` (already
    fetched) is returned as it is."""
    if isinstance(patterns, str | Path | InputFile):
        patterns = [patterns]
    items = list(patterns)
    if items and all(isinstance(i, InputFile) for i in items):
        return items  # type: ignore[return-value]
    names = list_inputs(items)  # type: ignore[arg-type]
    if folder is None and any(is_remote(n) for n in names):
        folder = Path(tempfile.mkdtemp(dir=_default_folder()))
    return [
        InputFile(n, _download(n, folder) if is_remote(n) else Path(n))  # type: ignore[arg-type]
        for n in names
    ]


@contextlib.contextmanager
def named_errors(item: InputFile) -> Iterator[None]:
    """Errors raised inside about the downloaded copy of a URL name the URL instead."""
    try:
        yield
    except SstcastError as err:
        if not item.remote:
            raise
        raise type(err)(str(err).replace(str(item.local), item.name)) from None


def file_format(path: str | Path) -> str:
    """``"netcdf3"``, ``"hdf5"`` (NetCDF-4 files are HDF5) or ``"unknown"``, by magic bytes.

    HDF5 allows a user block before the signature, at 0, 512, 1024, 2048, ... bytes.
    """
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:4] in NETCDF3_MAGIC:
            return "netcdf3"
        offset = 0
        while head:
            if head == HDF5_MAGIC:
                return "hdf5"
            offset = 512 if offset == 0 else offset * 2
            f.seek(offset)
            head = f.read(8)
    return "unknown"
