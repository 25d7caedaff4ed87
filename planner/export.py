"""Writers for tables and layers: atomic, refusing to overwrite, with metadata.

Every writer writes to a temporary file in the target folder and renames it
into place, so a failed or interrupted run never leaves a half-written file.
An existing file is kept unless ``overwrite=True``.

Every export carries its metadata (inputs and their hashes, parameters, the
OSM data date, the package version and the OpenStreetMap attribution):

* CSV: a sidecar ``<file>.meta.json`` (Excel and QGIS read the CSV as is);
* Parquet: the file's key-value metadata (``planner`` key), and the sidecar;
* GeoPackage: a ``metadata`` attribute table inside the file, and the sidecar;
* XLSX: a ``metadata`` sheet.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planner import __version__
from planner.constants import WGS84
from planner.errors import OutputExistsError, ParameterError
from planner.staging import staged_path

__all__ = [
    "OSM_ATTRIBUTION",
    "check_writable",
    "export_metadata",
    "write_atomic",
    "write_geo",
    "write_layers",
    "write_sidecar",
    "write_table",
    "write_text",
    "write_workbook",
]

#: Attribution required by the ODbL for anything derived from OSM data.
OSM_ATTRIBUTION = "Road data © OpenStreetMap contributors, ODbL 1.0 (openstreetmap.org/copyright)"

_TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")
_LAYER_SUFFIXES = (".gpkg",)


def export_metadata(**items: Any) -> dict[str, Any]:
    """Metadata common to every export, plus the given items."""
    return {
        "planner_version": __version__,
        "attribution": OSM_ATTRIBUTION,
        "units": "times in seconds (_s) or minutes (_min), distances in metres (_m)",
        **items,
    }


def check_writable(path: str | Path, *, overwrite: bool, argument: str = "out") -> Path:
    """Return the path to write ``path`` to if it may be written, else raise.

    Inside a run in progress (:func:`planner.staging.stage_outputs`) that is
    its place in the run's staging folder, otherwise ``path`` itself.

    Raises
    ------
    OutputExistsError
        If the file exists and ``overwrite`` is false.
    ParameterError
        If the folder does not exist.
    """
    path = Path(path)
    target = staged_path(path)
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{argument}: {path} exists; pass --overwrite to replace it")
    if not target.parent.exists():
        raise ParameterError(f"{argument}: folder {path.parent} does not exist")
    return target


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    A failed or interrupted write leaves ``path`` as it was.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # some writers refuse an existing file
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(text: str, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a UTF-8 text file atomically; refuse to replace it unless ``overwrite``."""
    path = check_writable(path, overwrite=overwrite)

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    write_atomic(path, write)
    return path


def write_sidecar(path: Path, metadata: Mapping[str, Any]) -> None:
    """Write ``<path>.meta.json``: the metadata of ``path`` (inputs, settings, attribution)."""
    side = path.with_name(path.name + ".meta.json")
    text = json.dumps(dict(metadata), indent=2, ensure_ascii=False, default=str)

    def write(tmp: Path) -> None:
        tmp.write_text(text + "\n", encoding="utf-8")

    write_atomic(side, write)


def write_table(
    table: pd.DataFrame,
    path: str | Path,
    *,
    metadata: Mapping[str, Any],
    overwrite: bool = False,
    index: bool = False,
) -> Path:
    """Write a table as CSV, Parquet or XLSX, atomically, with its metadata.

    Parameters
    ----------
    table
        The table; column names carry their unit (``_s``, ``_min``, ``_m``).
    path
        Target file; its suffix picks the format.
    metadata
        Inputs, parameters and versions (see :func:`export_metadata`).
    overwrite
        Replace an existing file.
    index
        Write the index as a column.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = check_writable(path, overwrite=overwrite)
    suffix = path.suffix.lower()
    if suffix not in _TABLE_SUFFIXES:
        raise ParameterError(
            f"out: {path.name}: unsupported table format; use one of {', '.join(_TABLE_SUFFIXES)}"
        )
    meta_text = json.dumps(dict(metadata), ensure_ascii=False, default=str)
    if suffix == ".csv":
        write_atomic(path, lambda tmp: table.to_csv(tmp, index=index, encoding="utf-8"))
        write_sidecar(path, metadata)
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        def parquet(tmp: Path) -> None:
            arrow = pa.Table.from_pandas(table, preserve_index=index)
            merged = {**(arrow.schema.metadata or {}), b"planner": meta_text.encode("utf-8")}
            pq.write_table(arrow.replace_schema_metadata(merged), tmp)

        write_atomic(path, parquet)
        write_sidecar(path, metadata)
    else:
        write_atomic(path, lambda tmp: _xlsx(tmp, {"data": table}, metadata, index=index))
    return path


def _xlsx(
    path: Path, sheets: Mapping[str, pd.DataFrame], metadata: Mapping[str, Any], *, index: bool
) -> None:
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, sheet in sheets.items():
            # Excel has no infinity: unreachable times are written as empty cells
            sheet.replace([float("inf"), float("-inf")], None).to_excel(
                writer, sheet_name=name[:31], index=index
            )
        meta = pd.DataFrame({"key": list(metadata), "value": [_cell(v) for v in metadata.values()]})
        meta.to_excel(writer, sheet_name="metadata", index=False)


def write_workbook(
    sheets: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    metadata: Mapping[str, Any],
    overwrite: bool = False,
) -> Path:
    """Write several tables as the sheets of one XLSX workbook, plus a ``metadata`` sheet.

    Unreachable (infinite) times are written as empty cells.
    """
    path = check_writable(path, overwrite=overwrite)
    if path.suffix.lower() != ".xlsx":
        raise ParameterError(f"out: {path.name}: a workbook is written as .xlsx")
    write_atomic(path, lambda tmp: _xlsx(tmp, sheets, metadata, index=False))
    return path


def write_geo(
    frame: gpd.GeoDataFrame,
    path: str | Path,
    *,
    metadata: Mapping[str, Any],
    overwrite: bool = False,
) -> Path:
    """Write one layer as GeoJSON (EPSG:4326, for the web) or GeoParquet (its own CRS).

    The metadata goes to the sidecar ``<file>.meta.json``.
    """
    path = check_writable(path, overwrite=overwrite)
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        write_atomic(
            path,
            lambda tmp: frame.to_crs(WGS84).to_file(
                tmp, driver="GeoJSON", engine="pyogrio", layer=path.stem
            ),
        )
    elif suffix == ".parquet":
        write_atomic(path, lambda tmp: frame.to_parquet(tmp))
    else:
        raise ParameterError(f"out: {path.name}: use .geojson or .parquet")
    write_sidecar(path, metadata)
    return path


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def write_layers(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    metadata: Mapping[str, Any],
    overwrite: bool = False,
) -> Path:
    """Write GeoDataFrames as layers of one GeoPackage, atomically, with metadata.

    Parameters
    ----------
    layers
        Layer name -> GeoDataFrame (any CRS; written as it is, the network's
        metric CRS for analysis layers).
    path
        Target ``.gpkg`` file.
    metadata
        Inputs, parameters and versions; also written as a ``metadata`` table.
    overwrite
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = check_writable(path, overwrite=overwrite)
    if path.suffix.lower() not in _LAYER_SUFFIXES:
        raise ParameterError(f"out: {path.name}: layers are written as a GeoPackage (.gpkg)")
    if not layers:
        raise ParameterError("layers: nothing to write")

    def gpkg(tmp: Path) -> None:
        for name, frame in layers.items():
            frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
        meta = pd.DataFrame({"key": list(metadata), "value": [_cell(v) for v in metadata.values()]})
        import pyogrio

        pyogrio.write_dataframe(meta, tmp, layer="metadata", driver="GPKG")

    write_atomic(path, gpkg)
    write_sidecar(path, metadata)
    return path
