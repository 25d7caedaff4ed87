"""What the point-file readers share (planner.inputs.readers), by hand: text, numbers, messages."""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from planner.errors import InputFileError, MissingFileError, ParameterError, file_label
from planner.inputs.readers import (
    MAX_LISTED_PROBLEMS,
    RowProblems,
    and_list,
    as_text,
    boundary_lonlat,
    format_number,
    parse_numbers,
    read_csv_table,
    require_file,
    source_rows,
)

#: As Swedish Excel saves it: semicolons, decimal commas, an empty row, a trailing delimiter.
SWEDISH = "namn;lat;lon;\nVisby ambulansstation;57,6348;18,2948;\n;;;\nSödertälje;59,195;17,625;\n"


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("cp1252", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE)],
)
def test_read_csv_table_as_excel_writes_it(tmp_path: Path, encoding: str, bom: bytes) -> None:
    """Semicolons, decimal commas, an empty row and a trailing delimiter, in three encodings."""
    path = tmp_path / "st.csv"
    path.write_bytes(
        bom + SWEDISH.replace(";", "\t" if encoding == "utf-16-le" else ";").encode(encoding)
    )
    table = read_csv_table(path, "st.csv")
    assert list(table.columns) == ["namn", "lat", "lon", "source_row"]
    assert table["namn"].tolist() == ["Visby ambulansstation", "Södertälje"]
    # rows as Excel numbers them: the header is row 1, Visby row 2, the empty row 3
    lines = SWEDISH.splitlines()
    assert table["source_row"].tolist() == [
        lines.index(line) + 1 for line in lines if line.startswith(("Visby", "Södertälje"))
    ]
    assert table["source_row"].tolist() == [2, 4]
    assert parse_numbers(table["lat"]).tolist() == [57.6348, 59.195]


def test_read_csv_table_refuses_what_is_not_a_table(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"^empty.csv is empty$"):
        read_csv_table(empty, "empty.csv")
    nul = tmp_path / "nul.csv"
    nul.write_bytes("name,lat\n".encode("utf-16-le"))
    with pytest.raises(InputFileError, match=r"nul.csv holds NUL bytes: .*without a byte-order"):
        read_csv_table(nul, "nul.csv")


def test_numbers_and_text() -> None:
    cells = pd.Series(["1 234,5", "\u22122,5", "", None, "x", "7"])
    got = parse_numbers(cells).to_numpy()
    assert got[:2].tolist() == [1234.5, -2.5] and got[5] == 7.0
    assert np.isnan(got[2:5]).all()
    assert as_text(pd.Series([" a ", None, 3])).tolist() == ["a", "", "3"]
    assert format_number(18.294800) == "18.2948" and format_number(5.0) == "5"
    assert and_list(["a"]) == "a" and and_list(["a", "b", "c"]) == "a, b and c"


def test_row_problems_list_the_first_and_count_the_rest() -> None:
    n = MAX_LISTED_PROBLEMS + 3
    problems = RowProblems("st.csv", np.arange(1, n + 1), np.array(["A"] + [""] * (n - 1)))
    assert not problems
    problems.raise_if_any()  # nothing found: nothing raised
    problems.add(np.ones(n, dtype=bool), lambda i: f"bad value {i}")
    with pytest.raises(InputFileError) as caught:
        problems.raise_if_any()
    lines = str(caught.value).splitlines()
    assert lines[0] == "st.csv row 1 (A): bad value 0"
    assert lines[1] == "st.csv row 2: bad value 1"
    assert lines[-1] == "st.csv: ... and 3 more problems"
    assert len(lines) == MAX_LISTED_PROBLEMS + 1


def test_boundary_files_and_rows(tmp_path: Path) -> None:
    square = shapely.box(18.0, 57.0, 19.0, 58.0)
    assert boundary_lonlat(square) is square and boundary_lonlat(None) is None
    with pytest.raises(ParameterError, match=r"its bounds \(600000, 6600000, 601000, 6601000\)"):
        boundary_lonlat(shapely.box(600_000, 6_600_000, 601_000, 6_601_000))
    with pytest.raises(MissingFileError, match=r"nowhere\.csv does not exist"):
        require_file(tmp_path / "nowhere.csv")
    with pytest.raises(MissingFileError, match=r"nowhere\.csv \(--stations\) does not exist"):
        require_file(tmp_path / "nowhere.csv", file_label(tmp_path / "nowhere.csv", "--stations"))
    with pytest.raises(InputFileError, match=r"is not a file$"):
        require_file(tmp_path)
    assert source_rows(pd.DataFrame({"a": [1, 2]}), "x").tolist() == [1, 2]
    with pytest.raises(InputFileError, match="x: column 'source_row' must hold whole numbers"):
        source_rows(pd.DataFrame({"source_row": [1.5]}), "x")
