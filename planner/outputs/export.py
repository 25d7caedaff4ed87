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

Text from data never becomes a spreadsheet formula: in CSV and XLSX every text
cell, column name and index label that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return gets a single quote in front (the OWASP rule for
CSV injection; :func:`neutralise_formula`). Numbers stay numbers (``-2.5`` in
a numeric column is not text), and XLSX cells from data are strings, never
formulas. Parquet, GeoPackage and GeoJSON keep the text as it is: they are not
opened as spreadsheets.
"""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planner import __version__
from planner.constants import MAX_FILE_NAME_BYTES, SPREADSHEET_FORMULA_PREFIXES, WGS84
from planner.errors import OutputExistsError, ParameterError
from planner.staging import staged_path

__all__ = [
    "OSM_ATTRIBUTION",
    "check_writable",
    "child_path",
    "export_metadata",
    "neutralise_formula",
    "plain_file_name",
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


def neutralise_formula(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula, with a single quote in front.

    Any ``str`` that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return (:data:`planner.constants.SPREADSHEET_FORMULA_PREFIXES`)
    gets a leading ``'`` (OWASP, "CSV Injection"); other values, numbers
    included, are returned as they are.
    """
    if isinstance(value, str) and value.startswith(SPREADSHEET_FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_text(value: Any) -> Any:
    """:func:`neutralise_formula`, and carriage returns inside text as line feeds.

    The CSV writer quotes a field with a line feed but not one with a bare
    carriage return, which Excel would take as the end of the row (and read
    what follows as a new row, formula included).
    """
    value = neutralise_formula(value)
    if isinstance(value, str) and "\r" in value:
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def _xlsx_text(value: Any) -> Any:
    """:func:`neutralise_formula`; characters XML cannot hold (openpyxl refuses them) as U+FFFD."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = neutralise_formula(value)
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value


def _safe_labels(labels: pd.Index, cell: Callable[[Any], Any]) -> pd.Index:
    names = [cell(n) for n in labels.names]
    if isinstance(labels, pd.MultiIndex):
        return pd.MultiIndex.from_tuples([tuple(cell(v) for v in t) for t in labels], names=names)
    return pd.Index([cell(v) for v in labels], name=names[0], dtype=object)


def _spreadsheet_safe(
    table: pd.DataFrame, *, index: bool, cell: Callable[[Any], Any]
) -> pd.DataFrame:
    """A copy of ``table`` whose text cells, column names and (written) index labels
    are passed through ``cell``; numeric columns are untouched."""
    out = table.copy(deep=False)
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            out.isetitem(i, column.astype(object).map(cell))
    out.columns = _safe_labels(out.columns, cell)
    if index:
        out.index = _safe_labels(out.index, cell)
    return out


def plain_file_name(name: str, *, argument: str) -> str:
    """Return ``name`` if it is a plain file name that stays in the folder it is put in.

    A plain file name is one path component: not empty, no ``/`` or ``\\``,
    no ``:`` (a drive on Windows), no ``..``, not only dots, no control
    characters (NUL, line breaks, tabs ...), no spaces at either end, and at
    most :data:`planner.constants.MAX_FILE_NAME_BYTES` bytes of UTF-8.

    Raises
    ------
    ParameterError
        Naming ``argument`` and what is wrong.
    """
    problem = None
    if not isinstance(name, str) or not name.strip():
        problem = "is empty"
    elif any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        problem = "holds a control character"
    elif "/" in name or "\\" in name:
        problem = "holds a folder separator (/ or \\)"
    elif ":" in name:
        problem = "holds ':'"
    elif ".." in name or not name.strip("."):
        problem = "holds '..' or is only dots"
    elif name != name.strip():
        problem = "starts or ends with a space"
    elif len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES:
        problem = f"is longer than {MAX_FILE_NAME_BYTES} bytes"
    if problem:
        raise ParameterError(
            f'{argument} = {name!r} {problem}; it must be a plain file name, e.g. "gotland"'
        )
    return name


def child_path(folder: str | Path, name: str, *, argument: str) -> Path:
    """``folder / name`` for a name from data, guaranteed to lie directly inside ``folder``.

    Raises
    ------
    ParameterError
        If ``name`` is not a :func:`plain_file_name`.
    """
    folder = Path(folder)
    path = folder / plain_file_name(name, argument=argument)
    if os.path.normpath(path.parent) != os.path.normpath(folder) or path.is_absolute() != (
        folder.is_absolute()
    ):
        raise ParameterError(f"{argument} = {name!r} would leave the folder {folder}")
    return path


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
        safe = _spreadsheet_safe(table, index=index, cell=_csv_text)
        write_atomic(path, lambda tmp: safe.to_csv(tmp, index=index, encoding="utf-8"))
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
            finite = sheet.replace([float("inf"), float("-inf")], None)
            _spreadsheet_safe(finite, index=index, cell=_xlsx_text).to_excel(
                writer, sheet_name=name[:31], index=index
            )
        meta = pd.DataFrame({"key": list(metadata), "value": [_cell(v) for v in metadata.values()]})
        _spreadsheet_safe(meta, index=False, cell=_xlsx_text).to_excel(
            writer, sheet_name="metadata", index=False
        )


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
