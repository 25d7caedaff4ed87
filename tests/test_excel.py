"""Excel-ready tables (issue 14): the Swedish CSV dialect, a formatted XLSX, no inf anywhere.

Written from a real coverage run in Andorra (two hospitals as stations, OSM
amenities as demand, a 60 m snap distance so that some amenities are
unreachable), read back with pandas, openpyxl, pyogrio and pyarrow.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import ANDORRA_AMENITIES, amenity_demand

from planner.errors import ParameterError
from planner.i18n import translator
from planner.inputs.sites import read_osm_pois, validate_stations
from planner.network.road_network import RoadNetwork
from planner.outputs.export import (
    TableStyle,
    read_csv_table,
    table_style,
    write_layers,
    write_table,
    write_workbook,
)
from planner.outputs.spreadsheet import sheet_names
from planner.run.pipeline import CoverageResult, run_coverage, write_coverage

HOSPITALS = (2050364490, 194554955)


@pytest.fixture(scope="module")
def coverage(andorra_net: RoadNetwork, andorra_pbf: Path) -> CoverageResult:
    hospitals = read_osm_pois(andorra_pbf, tags={"amenity": ["hospital"]})
    near = hospitals[hospitals["osm_id"].isin(HOSPITALS)]
    stations = validate_stations(
        near.assign(name=[f"H{i}" for i in near["osm_id"]], fleet="ambulance", units=1),
        check_sweden=False,
    )
    pois = read_osm_pois(andorra_pbf, tags={"amenity": list(ANDORRA_AMENITIES)})
    demand = amenity_demand(pois).assign(municipality="Umeå", region="Västerbottens län")
    return run_coverage(andorra_net, stations, demand, max_snap_m=60.0)


@pytest.fixture(scope="module")
def written(coverage: CoverageResult, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("excel")
    sv = write_coverage(coverage, root / "sv", style=table_style("sv"))
    en = write_coverage(coverage, root / "en", style=table_style("en"))
    return {"sv": sv, "en": en}


def test_unreachable_points_have_their_reason(coverage: CoverageResult) -> None:
    demand = coverage.demand
    unreached = ~np.isfinite(demand["response_s"].to_numpy(float))
    assert unreached.sum() > 0
    reasons = demand["unreachable_reason"]
    assert reasons[~unreached].isna().all()
    # the reason is the road access where the point has none, else no route
    expected = demand["snap_status"].where(demand["snap_status"] != "ok", "no_route")
    assert (reasons[unreached] == expected[unreached]).all()
    assert "far_from_road" in set(reasons[unreached])


def test_swedish_csv_reads_back_to_the_english_numbers(written: dict) -> None:
    for name in ("total", "municipality", "station", "worst_places"):
        sv_path, en_path = written["sv"][f"coverage_{name}"], written["en"][f"coverage_{name}"]
        raw = sv_path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads "Umeå"
        assert b"inf" not in raw.lower() and b"inf" not in en_path.read_bytes().lower()
        header = raw[3:].split(b"\r\n" if b"\r\n" in raw else b"\n", 1)[0].decode()
        assert ";" in header and "," not in header
        sv = pd.read_csv(sv_path, sep=";", decimal=",", encoding="utf-8-sig")
        en = pd.read_csv(en_path)
        assert list(sv.columns) == list(en.columns)  # machine names never translate
        pd.testing.assert_frame_equal(sv, en, check_exact=True)
        pd.testing.assert_frame_equal(read_csv_table(sv_path), en, check_exact=True)
    places = pd.read_csv(written["sv"]["coverage_worst_places"], sep=";", decimal=",",
                         encoding="utf-8-sig")  # fmt: skip
    assert "Umeå" in set(places["municipality"])
    unreached = places["unreachable_reason"].notna()
    assert unreached.any() and places.loc[unreached, "response_min"].isna().all()
    share = pd.read_csv(written["en"]["coverage_total"])["share_within_10_min"].iloc[0]
    text = written["sv"]["coverage_total"].read_text(encoding="utf-8-sig")
    assert repr(float(share)).replace(".", ",") in text  # a decimal comma, full precision


def test_xlsx_headers_formats_filters_and_empty_unreachable(written: dict) -> None:
    book = openpyxl.load_workbook(written["sv"]["xlsx"])
    assert book.sheetnames == [
        "Totalt", "Län", "Kommuner", "Stationer", "Sämst betjänade kommuner",
        "Sämst betjänade platser", "metadata",
    ]  # fmt: skip
    sheet = book["Kommuner"]
    headers = {c.value: c.column_letter for c in sheet[1]}
    assert {"Kommun", "Efterfrågan", "Andel inom 10 min", "Medianresponstid, min"} <= set(headers)
    assert sheet.freeze_panes == "A2"
    rows = len(pd.read_csv(written["en"]["coverage_municipality"]))
    last = sheet.cell(1, sheet.max_column).column_letter
    assert sheet.max_row == rows + 1 and sheet.auto_filter.ref == f"A1:{last}{rows + 1}"
    assert sheet[f"{headers['Andel inom 10 min']}2"].number_format == "0.0%"
    assert sheet[f"{headers['Medianresponstid, min']}2"].number_format == "0.0"
    assert sheet[f"{headers['Efterfrågan']}2"].number_format == "#,##0"
    assert sheet.column_dimensions[headers["Andel inom 10 min"]].width >= len("Andel inom 10 min")
    en = openpyxl.load_workbook(written["en"]["xlsx"])
    assert en.sheetnames[:3] == ["Total", "Regions", "Municipalities"]
    assert "Share within 10 min" in {c.value for c in en["Municipalities"][1]}
    # unreachable: an empty cell (never inf), with the reason in words beside it
    places = book["Sämst betjänade platser"]
    head = {c.value: i for i, c in enumerate(places[1])}
    rows = list(places.iter_rows(min_row=2, values_only=True))
    unreached = [r for r in rows if r[head["Orsak till ej nåbar"]] is not None]
    assert unreached and all(r[head["Responstid, min"]] is None for r in unreached)
    assert {r[head["Orsak till ej nåbar"]] for r in unreached} <= {
        "långt från väg", "väg avskuren från vägnätet", "ingen väg från någon station",
    }  # fmt: skip
    values = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert not any(isinstance(v, float) and not np.isfinite(v) for v in values)


def test_geopackage_and_parquet_hold_null_for_unreachable(written: dict) -> None:
    demand = pq.read_table(written["sv"]["demand_parquet"])
    times = demand.column("response_min").to_numpy(zero_copy_only=False)
    assert demand.column("response_min").null_count > 0
    assert np.isfinite(times[~np.isnan(times)]).all()
    with sqlite3.connect(written["sv"]["gpkg"]) as db:
        kinds = dict(db.execute("select typeof(response_min), count(*) from demand group by 1"))
        inf = db.execute("select count(*) from demand where response_min > 1e308").fetchone()[0]
    assert kinds.get("null", 0) == demand.column("response_min").null_count and inf == 0
    reasons = demand.column("unreachable_reason").to_pylist()
    assert sum(r is not None for r in reasons) == kinds["null"]


def test_excel_dialect_keeps_formulas_out(tmp_path: Path) -> None:
    table = pd.DataFrame({"name": ["=1+1", "@SUM(A1)", "Umeå; Ö"], "x": [-1.5, 2.25, np.inf]})
    path = write_table(table, tmp_path / "t.csv", metadata={}, style=table_style("sv"))
    back = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig")
    assert back["name"].tolist() == ["'=1+1", "'@SUM(A1)", "Umeå; Ö"]
    assert back["x"].iloc[:2].tolist() == [-1.5, 2.25] and np.isnan(back["x"].iloc[2])


def test_sheet_names_are_what_excel_accepts(tmp_path: Path) -> None:
    tr = translator("sv")
    keys = ["a/b:c*?[d]\\e", "x" * 40, "X" * 40, "metadata", "before_worst_municipalities"]
    names = sheet_names(keys, tr)
    assert names[0] == "a-b-c---d--e"
    assert names[1] == "x" * 31 and names[2] == "X" * 27 + " (2)"  # unique regardless of case
    assert names[3] == "metadata (2)"  # planner's own sheet keeps its name
    assert names[4] == "Före – sämst betjänade kommuner"
    assert all(len(n) <= 31 for n in names)
    path = write_workbook(
        {k: pd.DataFrame({"v": [1]}) for k in keys}, tmp_path / "w.xlsx", metadata={},
        style=TableStyle(language="sv"),
    )  # fmt: skip
    assert openpyxl.load_workbook(path).sheetnames == [*names, "metadata"]


def test_style_is_checked() -> None:
    assert table_style("sv") == TableStyle("sv", "excel-sv")
    assert table_style("en") == TableStyle("en", "standard")
    assert table_style("en", "excel-sv").csv_dialect == "excel-sv"
    with pytest.raises(ParameterError, match=r"csv = 'excel' is not a CSV dialect"):
        table_style("sv", "excel")


def test_layers_writer_replaces_infinity(tmp_path: Path, coverage: CoverageResult) -> None:
    path = write_layers({"nodes": coverage.road_nodes}, tmp_path / "n.gpkg", metadata={})
    with sqlite3.connect(path) as db:
        kinds = dict(db.execute("select typeof(response_min), count(*) from nodes group by 1"))
    unreached = int((~np.isfinite(coverage.road_nodes["response_min"])).sum())
    assert unreached > 0 and kinds["null"] == unreached
