"""What the readers of point files share: tables, layers, row-numbered problems, messages.

:mod:`planner.inputs.sites` (stations and point layers) and
:mod:`planner.inputs.demand` (demand layers) read the same kinds of file and
report problems the same way:

* :func:`read_csv_table`: a delimited text file as strings, whatever the
  encoding (a byte-order mark, UTF-8 or Windows-1252) and delimiter
  (``;``, tab or ``,``, as Swedish Excel writes them), with its rows
  numbered as Excel shows them (:data:`FIRST_DATA_ROW`);
* :func:`gpkg_layer`: the GeoPackage layer to read;
* :class:`RowProblems`: bad rows found by vectorised checks, raised together
  as one :class:`~planner.errors.InputFileError` whose lines name the file
  (with the option it came from, :func:`planner.errors.file_label`), the row
  and the station or point;
* :func:`parse_numbers`, :func:`as_text`: cells as numbers (decimal commas
  accepted) or stripped text;
* :func:`boundary_lonlat`, :func:`require_file`,
  :func:`require_geodataframe`, :func:`source_rows` and the small
  formatters of messages.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
from shapely.geometry.base import BaseGeometry

from planner.constants import WGS84
from planner.errors import InputFileError, MissingFileError, ParameterError

__all__ = [
    "CSV_BOMS",
    "CSV_DELIMITERS",
    "CSV_ENCODINGS",
    "FIRST_DATA_ROW",
    "MAX_LISTED_PROBLEMS",
    "RowProblems",
    "and_list",
    "as_text",
    "boundary_lonlat",
    "crs_label",
    "format_number",
    "gpkg_layer",
    "parse_numbers",
    "read_csv_table",
    "require_file",
    "require_geodataframe",
    "show_value",
    "source_rows",
]

#: Delimiters tried for CSV files. Swedish Excel writes ``;`` (the comma is
#: the decimal separator in the Swedish locale).
CSV_DELIMITERS: Final = (";", "\t", ",")

#: Text encodings tried for CSV files, in order. Excel's "CSV (semikolonavgränsad)"
#: is written in the Windows ANSI code page, Windows-1252 on Swedish Windows.
CSV_ENCODINGS: Final = ("utf-8-sig", "cp1252")

#: Byte-order marks and the encodings they name, longest first (the UTF-32 LE
#: mark begins with the UTF-16 LE one). Excel's "Unicode text" is UTF-16 LE
#: with a mark, tab-separated.
CSV_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

#: The row number of a table's first data row in messages and ``source_row``:
#: rows are numbered as Excel shows them, the header being row 1. Features of
#: a vector file (GeoJSON, GeoPackage, GeoParquet) have no header row and are
#: numbered from 1, as QGIS's attribute table shows them.
FIRST_DATA_ROW: Final = 2

#: At most this many problems are listed in one error message.
MAX_LISTED_PROBLEMS: Final = 10


class RowProblems:
    """Bad rows found by vectorised checks, raised as one InputFileError.

    Parameters
    ----------
    source
        How messages name the file (:func:`planner.errors.file_label`).
    rows
        The source row of each position: a table's rows as Excel shows them
        (the first data row is 2), feature numbers from 1, or OSM ids.
    names
        The name shown beside each position's row (``""`` for none).
    """

    def __init__(self, source: str, rows: np.ndarray, names: np.ndarray) -> None:
        self.source = source
        self.rows = rows
        self.names = names
        self._rows: list[tuple[np.ndarray, Callable[[int], str]]] = []
        self._whole: list[tuple[int, str]] = []
        self._unlisted = 0

    def add(self, mask: np.ndarray, describe: Callable[[int], str]) -> None:
        """Record rows where ``mask`` is true; ``describe(position)`` words one."""
        positions = np.flatnonzero(mask)
        if positions.size:
            self._rows.append((positions, describe))

    def add_message(self, position: int, message: str) -> None:
        """Record a complete message, sorted as if it were at ``position``."""
        self._whole.append((position, message))

    def add_unlisted(self, count: int) -> None:
        """Count problems that are found but not worded (beyond the listed ones)."""
        self._unlisted += count

    def __bool__(self) -> bool:
        return bool(self._rows or self._whole or self._unlisted)

    def raise_if_any(self) -> None:
        """Raise one :class:`InputFileError` listing the first problems, if any were found."""
        if not self:
            return
        total = sum(p.size for p, _ in self._rows) + len(self._whole) + self._unlisted
        # Each check's positions are sorted, so the first few overall are among
        # the first few of each check: only those are worded.
        entries: list[tuple[int, int, str]] = []
        for order, (positions, describe) in enumerate(self._rows):
            for position in positions[:MAX_LISTED_PROBLEMS].tolist():
                entries.append((position, order, self._line(position, describe(position))))
        entries.extend((pos, -1, msg) for pos, msg in self._whole)
        entries.sort(key=lambda e: (e[0], e[1]))
        lines = [msg for _, _, msg in entries[:MAX_LISTED_PROBLEMS]]
        if total > MAX_LISTED_PROBLEMS:
            lines.append(f"{self.source}: ... and {total - MAX_LISTED_PROBLEMS} more problems")
        raise InputFileError("\n".join(lines))

    def _line(self, position: int, message: str) -> str:
        name = self.names[position]
        label = f" ({name})" if name else ""
        return f"{self.source} row {self.rows[position]}{label}: {message}"


def _decode_csv(raw: bytes, source: str) -> str:
    """The text of a table: the encoding its byte-order mark names, else UTF-8 or Windows-1252."""
    for bom, encoding in CSV_BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputFileError(
                    f"{source} starts with a {encoding.upper()} byte-order mark but is not "
                    f"{encoding.upper()} text (byte {exc.start + len(bom)}); save it again as "
                    "UTF-8 CSV"
                ) from None
    if b"\x00" in raw[:4096]:
        raise InputFileError(
            f"{source} holds NUL bytes: it looks like UTF-16 or UTF-32 text without a "
            'byte-order mark, or is not text; save it as UTF-8 CSV (Excel: "CSV UTF-8")'
        )
    for encoding in CSV_ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputFileError(
        f"{source} is not text in any of these encodings: {', '.join(CSV_ENCODINGS)}"
    )


def read_csv_table(path: Path, source: str) -> pd.DataFrame:
    """Read a delimited text file as strings, numbering its rows as Excel does.

    The encoding is the one a byte-order mark names, else UTF-8 or
    Windows-1252; the delimiter is ``;``, tab or ``,`` (:data:`CSV_DELIMITERS`),
    read from the header. Empty rows and an empty unnamed last column (as Excel
    leaves them) are dropped.

    Returns
    -------
    pandas.DataFrame
        Every cell as a string (column names stripped), plus ``source_row``:
        the row as Excel shows it, the header being row 1, so the first data
        row is :data:`FIRST_DATA_ROW` (2). Empty rows are dropped but keep
        their numbers, so each row keeps the number Excel gives it.

    Raises
    ------
    InputFileError
        The file is empty, not text in a known encoding, or not a table;
        the message names ``source``.
    """
    text = _decode_csv(path.read_bytes(), source)
    if not text.strip():
        raise InputFileError(f"{source} is empty")
    delimiter = _sniff_delimiter(text)
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputFileError(
            f"{source} cannot be read as a table with delimiter {delimiter!r}: {exc}"
        ) from exc
    table.columns = [str(c).strip() for c in table.columns]
    table = table.fillna("")
    blank = table.apply(lambda column: column.str.strip() == "")
    rows = np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(table), dtype="int64")
    table = table.assign(source_row=rows)
    # Excel leaves empty rows (";;;") and a trailing delimiter (an empty,
    # unnamed column): drop both.
    unnamed_empty = [
        c for c in blank.columns if str(c).startswith("Unnamed: ") and bool(blank[c].all())
    ]
    table = table.loc[~blank.all(axis=1)].drop(columns=unnamed_empty)
    return table.reset_index(drop=True)


def _sniff_delimiter(text: str) -> str:
    """Pick the delimiter from the header line.

    :class:`csv.Sniffer` is not used: decimal commas in ``;`` files fool it.
    The header holds no numbers, so the delimiters it contains are the
    candidates; if several, the one splitting the first lines into equal
    field counts wins.
    """
    lines = [line for line in text.splitlines() if line.strip()][:50]
    header = lines[0]
    found = [d for d in CSV_DELIMITERS if d in header]
    if len(found) <= 1:
        return found[0] if found else ","

    def score(delimiter: str) -> tuple[bool, int]:
        widths = {len(fields) for fields in csv.reader(lines, delimiter=delimiter)}
        return len(widths) == 1, header.count(delimiter)

    return max(found, key=score)


def gpkg_layer(path: Path, source: str, layer: str | None) -> str:
    """The GeoPackage layer to read: ``layer``, or the only one with geometry."""
    try:
        layers = pyogrio.list_layers(path)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputFileError(f"{source} cannot be read as a GeoPackage: {exc}") from exc
    names = [str(name) for name, _ in layers]
    if layer is not None:
        if layer not in names:
            raise ParameterError(
                f"layer={layer!r} is not in {source}; its layers are: {', '.join(names)}"
            )
        return layer
    spatial = [str(name) for name, geometry_type in layers if geometry_type is not None]
    if len(spatial) == 1:
        return spatial[0]
    if not spatial:
        raise InputFileError(f"{source} has no layer with geometries")
    raise InputFileError(
        f"{source} has several layers: {', '.join(spatial)}; pass layer= to choose one"
    )


def boundary_lonlat(
    boundary: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None,
) -> BaseGeometry | None:
    """The boundary as one shapely area in EPSG:4326, checked."""
    if boundary is None:
        return None
    if isinstance(boundary, gpd.GeoSeries | gpd.GeoDataFrame):
        if boundary.crs is None:
            raise ParameterError("boundary has no CRS; set it (e.g. boundary.set_crs(...))")
        geometry = boundary.to_crs(WGS84).union_all()
    elif isinstance(boundary, BaseGeometry):
        geometry = boundary
    else:
        raise ParameterError(
            f"boundary must be a shapely geometry in EPSG:4326 or a GeoSeries/GeoDataFrame, "
            f"not {type(boundary).__name__}"
        )
    if geometry.is_empty or geometry.area <= 0:
        raise ParameterError(f"boundary must be a non-empty area, not {geometry.geom_type}")
    west, south, east, north = geometry.bounds
    if min(west, south) < -180 or max(east, north) > 180 or abs(south) > 90 or abs(north) > 90:
        raise ParameterError(
            f"boundary must be in EPSG:4326 (longitude/latitude degrees); its bounds "
            f"({', '.join(format_number(v) for v in (west, south, east, north))}) look projected"
        )
    return geometry


def require_file(path: Path, source: str | None = None) -> None:
    """Refuse a path that does not exist (:class:`MissingFileError`) or is not a file.

    ``source`` is how messages name it (default its path).
    """
    source = source or os.fspath(path)
    if not path.exists():
        raise MissingFileError(f"{source} does not exist")
    if not path.is_file():
        raise InputFileError(f"{source} is not a file")


def crs_label(crs: pyproj.CRS) -> str:
    """``EPSG:3006``-style name of a CRS for messages (its own name without an authority)."""
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else str(crs.name)


def source_rows(frame: pd.DataFrame, source: str) -> np.ndarray:
    """The ``source_row`` column as int64 (1 .. n without one); an error names ``source``.

    Frames built in code without ``source_row`` are numbered by position from 1.
    """
    if "source_row" not in frame.columns:
        return np.arange(1, len(frame) + 1, dtype="int64")
    numbers = pd.to_numeric(frame["source_row"], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(numbers).all() and (np.mod(numbers, 1) == 0).all()):
        raise InputFileError(f"{source}: column 'source_row' must hold whole numbers")
    return numbers.astype("int64")


def require_geodataframe(gdf: Any, function: str, source: str) -> None:
    """Refuse anything but a GeoDataFrame with an active geometry column."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ParameterError(
            f"{function} needs a GeoDataFrame, not {type(gdf).__name__}; build one with "
            "geopandas.GeoDataFrame(..., geometry=..., crs=...)"
        )
    try:
        gdf.geometry  # noqa: B018 - raises if there is no active geometry column
    except AttributeError as exc:
        raise ParameterError(
            f"{function}: {source} has no active geometry column; use set_geometry()"
        ) from exc


def as_text(values: pd.Series) -> pd.Series:
    """Values as stripped strings; missing values become ``""``."""
    missing = values.isna()
    text = values.astype(object).where(~missing, "").astype(str).str.strip()
    return text


def parse_numbers(values: pd.Series) -> pd.Series:
    """Parse numbers, accepting decimal commas, spaces and a Unicode minus; NaN if not."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    text = (
        as_text(values)
        .str.replace(r"[\s\u00a0\u202f]", "", regex=True)
        .str.replace("\u2212", "-", regex=False)
        .str.replace(",", ".", regex=False)
    )
    return pd.to_numeric(text.where(text != "", None), errors="coerce").astype(float)


def show_value(value: Any) -> str:
    """repr() of a cell, without numpy's type wrapper."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def format_number(value: float) -> str:
    """A number (a coordinate, m or degrees) for messages: up to 6 decimals, no trailing zeros."""
    if not np.isfinite(value):
        return str(value)
    return f"{value:.6f}".rstrip("0").rstrip(".")


def and_list(items: list[str]) -> str:
    """``"a, b and c"`` for messages."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
