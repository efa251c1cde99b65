"""The CF history line and the version stamp (cubes, readers, forecasts); the software
versions and the cube provenance a run records."""

from __future__ import annotations

import re

from sstcast import cube
from sstcast.utils.provenance import history_line, sstcast_version

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_history_line_names_time_version_and_action() -> None:
    line = history_line("ingest_sst of 2 file(s)")
    assert re.fullmatch(
        rf"{STAMP} sstcast {re.escape(sstcast_version())}: ingest_sst of 2 file\(s\)", line
    )


def test_history_line_with_a_tag_instead_of_the_version() -> None:
    line = history_line("3 flow file(s) merged", tag="open_taxibj")
    assert re.fullmatch(rf"{STAMP} sstcast open_taxibj: 3 flow file\(s\) merged", line)


def test_cube_keeps_the_old_names() -> None:
    assert cube.history_line is history_line
    assert cube.sstcast_version is sstcast_version


def test_software_versions_name_the_libraries_python_and_the_gpu() -> None:
    import platform

    import numpy
    import torch
    import xarray

    from sstcast.utils.provenance import software_versions

    v = software_versions()
    for name in ("numpy", "xarray", "zarr", "dask", "timm", "torch", "lightning"):
        assert isinstance(v[name], str) and v[name], name
    assert v["numpy"] == numpy.__version__ and v["xarray"] == xarray.__version__
    assert v["torch"] == torch.__version__ and v["python"] == platform.python_version()
    assert v["cuda"] == (torch.version.cuda or "none")
    assert v["gpu"] == (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")


def test_cube_provenance_names_the_source_files_and_their_checksums(tmp_path) -> None:
    from sstcast.ingest import ingest_sst
    from sstcast.utils.io import sha256_file
    from sstcast.utils.provenance import cube_provenance
    from tests.builders import DAYS, LAT, LON, write_cf

    src = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS)
    out = tmp_path / "c.zarr"
    ingest_sst([src], out, progress=False)
    prov = cube_provenance(out)
    assert prov["sstcast_kind"] == "sst" and prov["sstcast_version"] == sstcast_version()
    assert prov["source_files"] == [
        {"path": str(src.resolve()), "sha256": sha256_file(src), "size": src.stat().st_size}
    ]
    assert isinstance(prov["bbox"], list) and len(prov["bbox"]) == 4
    assert "ingest_sst of 1 file(s)" in prov["history"]
