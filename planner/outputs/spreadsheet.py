"""XLSX sheets made for people: readable names and headers, number formats, filters.

Used by :func:`planner.outputs.export.write_table` and
:func:`~planner.outputs.export.write_workbook` on the sheets pandas has
written. Number formats are Excel's own codes, which Excel shows in the
reader's locale (``0.0%`` is "87,9 %" in Swedish Excel):

=======================================  ==============
column                                   format
=======================================  ==============
shares (``share_*``)                     ``0.0%``
minutes (``*_min``, minutes saved)       ``0.0``
seconds (``*_s``)                        ``0``
metres (``*_m``), demand, weights        ``#,##0``
areas (``*_km2``)                        ``#,##0.00``
Gini, survivors per year                 ``0.000``
lon, lat                                 ``0.000000``
=======================================  ==============
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from planner.i18n import Translator
from planner.outputs.labels import column_label, sheet_label, value_label

__all__ = ["EXCEL_SHEET_NAME_MAX", "format_sheet", "number_format", "sheet_names"]

#: Excel's limit on a sheet name, characters (and it forbids ``[]:*?/\``).
EXCEL_SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

#: Widest column, characters.
_MAX_WIDTH = 48
_CODE_COLUMNS = ("snap_status", "unreachable_reason")


def number_format(column: str) -> str | None:
    """The Excel number format of a column, by its (machine) name; None for text."""
    name = re.sub(r"_(a|b|change)$", "", column)
    if name.startswith("share_") or name.endswith("_share"):
        return "0.0%"
    if name in ("gini", "expected_survivors_per_year"):
        return "0.000"
    if name in ("lon", "lat"):
        return "0.000000"
    if name.endswith("_min") or name == "mean_minutes_saved":
        return "0.0"
    if name.endswith("_s"):
        return "0"
    if name.endswith("_km2"):
        return "#,##0.00"
    if (
        name.endswith("_m")
        or name.startswith("demand")
        or name in ("weight", "person_minutes_saved")
    ):
        return "#,##0"
    return None


def sheet_names(keys: Sequence[str], tr: Translator) -> list[str]:
    """Readable, unique sheet names for ``keys`` that Excel accepts.

    At most :data:`EXCEL_SHEET_NAME_MAX` characters, no ``[]:*?/\\``, not
    ``metadata`` (that sheet is planner's), unique regardless of case.
    """
    names: list[str] = []
    taken = {"metadata"}
    for key in keys:
        base = _SHEET_FORBIDDEN.sub("-", sheet_label(str(key), tr)).strip("'") or "-"
        name = base[:EXCEL_SHEET_NAME_MAX]
        n = 2
        while name.lower() in taken:
            suffix = f" ({n})"
            name = base[: EXCEL_SHEET_NAME_MAX - len(suffix)] + suffix
            n += 1
        taken.add(name.lower())
        names.append(name)
    return names


def _width(header: str, values: pd.Series, fmt: str | None) -> float:
    sample = values.head(500)
    if fmt is not None:
        numbers = pd.to_numeric(sample, errors="coerce").abs()
        longest = int(numbers.max()) if numbers.notna().any() else 0
        decimals = len(fmt.split(".")[1].rstrip("%")) if "." in fmt else 0
        digits = len(f"{longest:,}") + decimals + (1 if decimals else 0) + 2
    else:
        lengths = [len(str(v)) for v in sample.astype(object) if not pd.isna(v)]
        digits = max(lengths, default=0)
    return float(min(max(len(header), digits, 6) + 2, _MAX_WIDTH))


def format_sheet(
    sheet: Any, columns: Sequence[str], frame: pd.DataFrame, tr: Translator, *, index: bool
) -> None:
    """Readable headers, number formats, widths, a frozen header row and filters.

    Parameters
    ----------
    sheet
        The openpyxl worksheet pandas wrote ``frame`` to (header in row 1).
    columns
        Machine names of the written columns, index first when ``index``.
    frame
        The written table (for column widths and code columns).
    tr
        The language of the headers.
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    n_rows = len(frame) + 1
    values = [
        *(
            [pd.Series(frame.index.get_level_values(i)) for i in range(frame.index.nlevels)]
            if index
            else []
        ),
        *(frame.iloc[:, i] for i in range(frame.shape[1])),
    ]
    for position, (column, data) in enumerate(zip(columns, values, strict=True), start=1):
        letter = get_column_letter(position)
        header = sheet.cell(row=1, column=position)
        label = column_label(column, tr)
        if label != column:  # a known column: our words, never data
            header.value = label
        fmt = number_format(column)
        if fmt is not None and pd.api.types.is_numeric_dtype(data.dtype):
            for row in range(2, n_rows + 1):
                sheet.cell(row=row, column=position).number_format = fmt
        if column in _CODE_COLUMNS:
            for row in range(2, n_rows + 1):
                cell = sheet.cell(row=row, column=position)
                if isinstance(cell.value, str):
                    cell.value = ILLEGAL_CHARACTERS_RE.sub(
                        "", str(value_label(column, cell.value, tr))
                    )
        sheet.column_dimensions[letter].width = _width(str(header.value), data, fmt)
    sheet.freeze_panes = "A2"
    if columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n_rows}"
