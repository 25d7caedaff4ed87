"""Tests for planner.inputs.demand: demand layers from grids, layers, OSM and calls."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from planner.errors import DataError, InputFileError, MissingFileError, ParameterError
from planner.inputs.demand import (
    DEMAND_AREA_SNAP_M,
    RESIDENTIAL_BUILDING_VALUES,
    assign_demand_areas,
    demand_from_buildings,
    demand_summary,
    grid_squares,
    read_calls,
    read_osm_population,
    read_scb_grid,
    read_weighted_layer,
    validate_demand,
)
from planner.network.regions import assign_areas

TO_SWEREF = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
HEAD = ["demand_id", "weight", "source"]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def coords(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return shapely.get_coordinates(np.asarray(gdf.geometry.array))


def check_layer(gdf: gpd.GeoDataFrame) -> None:
    """The demand layer contract."""
    assert list(gdf.columns[:3]) == HEAD
    assert gdf.crs == "EPSG:3006"
    assert (gdf.geom_type == "Point").all()
    assert gdf["weight"].dtype == "float64"
    assert np.isfinite(gdf["weight"]).all() and (gdf["weight"] >= 0).all()
    assert gdf["demand_id"].is_unique
    assert list(gdf.index) == list(range(len(gdf)))


def shoelace(xy: np.ndarray) -> float:
    """Area of a closed ring (first point repeated last), by the shoelace formula.

    Coordinates are taken relative to the first point: with SWEREF's 7-digit
    northings the products would otherwise lose about 1e-3 m² to rounding.
    """
    local = xy - xy[0]
    x, y = local[:, 0], local[:, 1]
    return abs(float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))) / 2


@pytest.fixture(scope="module")
def taetorter_path(shared_data: Path) -> Path:
    path = shared_data / "population" / "taetorter.osm.xml"
    if not path.is_file():
        pytest.skip(f"real test data not found: {path} is missing")
    return path


@pytest.fixture(scope="module")
def taetorter_xml(taetorter_path: Path) -> pd.DataFrame:
    """Independent parse of the tätorter file with ElementTree."""
    records = []
    for node in ET.parse(taetorter_path).getroot().iter("node"):
        tags = {t.attrib["k"]: t.attrib["v"] for t in node.iter("tag")}
        records.append(
            {
                "id": int(node.attrib["id"]),
                "lon": float(node.attrib["lon"]),
                "lat": float(node.attrib["lat"]),
                "population": int(tags["population"]),
                "name": tags.get("name"),
                "code": tags.get("ref:se:scb:tätort:kod"),
            }
        )
    return pd.DataFrame(records).sort_values("id", ignore_index=True)


@pytest.fixture(scope="module")
def taetorter(taetorter_path: Path) -> gpd.GeoDataFrame:
    return read_osm_population(taetorter_path)


@pytest.fixture(scope="module")
def taetorter_areas(taetorter: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return assign_demand_areas(taetorter)


# --------------------------------------------------------------------------
# validate_demand
# --------------------------------------------------------------------------
def hand_layer(**columns: object) -> gpd.GeoDataFrame:
    data = {"demand_id": ["a", "b", "c"], "weight": [1.0, 2.5, 0.0], **columns}
    return gpd.GeoDataFrame(
        data,
        geometry=gpd.points_from_xy([18.07, 18.00, 17.95], [59.31, 59.36, 59.40]),
        crs="EPSG:4326",
    )


def test_validate_reprojects_orders_and_is_idempotent() -> None:
    layer = hand_layer(extra=[1, 2, 3], name=["A", "B", "C"])
    out = validate_demand(layer, source="hand")
    check_layer(out)
    assert list(out.columns) == [*HEAD, "name", "extra", "geometry"]
    assert list(out["source"]) == ["hand"] * 3
    x, y = TO_SWEREF.transform([18.07, 18.00, 17.95], [59.31, 59.36, 59.40])
    np.testing.assert_allclose(coords(out), np.column_stack([x, y]), rtol=0, atol=1e-6)
    again = validate_demand(out, source="other")
    pd.testing.assert_frame_equal(pd.DataFrame(again), pd.DataFrame(out))


def test_validate_parses_text_weights_with_decimal_commas() -> None:
    out = validate_demand(hand_layer(weight=["1,5", " 2 ", "0"]))
    assert list(out["weight"]) == [1.5, 2.0, 0.0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight": [1.0, -2.0, 0.0]}, r"^hand row 2: weight -2\.0 is negative; weights must be"),
        ({"weight": [1.0, 2.0, float("nan")]}, r"^hand row 3: weight nan is not a finite number"),
        ({"weight": [1.0, float("inf"), 0.0]}, r"^hand row 2: weight inf is not a finite number"),
        ({"weight": ["1", "lots", "2"]}, r"^hand row 2: weight 'lots' is not a number"),
        ({"weight": ["1", "", "2"]}, r"^hand row 2: weight is missing"),
        ({"demand_id": ["a", "", "c"]}, r"^hand row 2: demand_id is missing"),
        (
            {"demand_id": ["a", "b", "a"]},
            r"^hand: duplicate demand_id 'a' in rows 1 and 3$",
        ),
        (
            {"source_row": [7, 8, 9], "weight": [-1.0, 0.0, 0.0]},
            r"^hand row 7: weight -1\.0 is negative",
        ),
    ],
)
def test_validate_bad_rows(change: dict[str, list[object]], message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        validate_demand(hand_layer(**change), source="hand")


def test_validate_bad_geometries_name_rows() -> None:
    layer = hand_layer(name=["A", "B", "C"])
    layer.geometry.array[0] = None
    layer.geometry.array[1] = shapely.Point()
    layer.geometry.array[2] = shapely.box(18.0, 59.0, 18.1, 59.1)
    with pytest.raises(InputFileError) as info:
        validate_demand(layer, source="hand")
    assert str(info.value).splitlines() == [
        "hand row 1 (A): geometry is missing or empty",
        "hand row 2 (B): geometry is missing or empty",
        "hand row 3 (C): geometry is a Polygon; a demand point needs a Point",
    ]


def test_validate_refuses_wrong_input() -> None:
    with pytest.raises(ParameterError, match="needs a GeoDataFrame, not DataFrame"):
        validate_demand(pd.DataFrame({"demand_id": ["a"], "weight": [1.0]}))
    with pytest.raises(ParameterError, match="has no CRS"):
        validate_demand(hand_layer().set_crs(None, allow_override=True))
    with pytest.raises(InputFileError, match=r"^x: no weight column; a demand layer needs"):
        validate_demand(hand_layer().drop(columns="weight"), source="x")


# --------------------------------------------------------------------------
# SCB grid: tables
# --------------------------------------------------------------------------
def test_scb_rutid_csv_1km(tmp_path: Path) -> None:
    path = write(
        tmp_path / "befolkning_1km.csv",
        "Rutid;Beftotalt;Kommun\n"
        "6740006580000;1 234;0180\n"
        "6750006580000;..;0180\n"
        "6740006581000;56;0180\n"
        "6750006581000;;0180\n"
        "6760006580000;-;0180\n",
    )
    grid = read_scb_grid(path)
    check_layer(grid)
    assert list(grid.columns) == [
        *HEAD,
        "square_id",
        "square_size_m",
        "Kommun",
        "source_row",
        "geometry",
    ]
    # centre = lower-left corner + 500 m
    np.testing.assert_array_equal(
        coords(grid),
        [
            [674500, 6580500],
            [675500, 6580500],
            [674500, 6581500],
            [675500, 6581500],
            [676500, 6580500],
        ],
    )
    assert list(grid["weight"]) == [1234, 0, 56, 0, 0]
    assert grid["weight"].sum() == 1290
    assert grid.attrs["suppressed"] == 3
    assert list(grid["square_size_m"]) == [1000] * 5
    assert grid["square_id"].iloc[0] == "6740006580000"
    assert grid["demand_id"].iloc[0] == "CRS3006RES1000mN6580000E674000"
    assert set(grid["source"]) == {"scb_grid:befolkning_1km.csv"}


def test_scb_inspire_and_km_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path / "grid.csv",
        "id,pop\n"
        "CRS3006RES1000mN6580000E674000,10\n"
        "CRS3006RES250mN6580250E674000,4\n"
        "crs3006res250mn6580250e674250,3\n"
        "1kmN6581E674,7\n",
    )
    grid = read_scb_grid(path)
    check_layer(grid)
    np.testing.assert_array_equal(
        coords(grid),
        [[674500, 6580500], [674125, 6580375], [674375, 6580375], [674500, 6581500]],
    )
    assert list(grid["square_size_m"]) == [1000, 250, 250, 1000]
    assert grid["weight"].sum() == 24
    assert grid.attrs["suppressed"] == 0


def test_scb_rutid_250m_inferred_from_spacing(tmp_path: Path) -> None:
    path = write(tmp_path / "g.csv", "Ruta,Totalt\n6742506580000,5\n6740006580750,6\n")
    grid = read_scb_grid(path)
    np.testing.assert_array_equal(coords(grid), [[674375, 6580125], [674125, 6580875]])
    assert list(grid["square_size_m"]) == [250, 250]
    assert list(grid["demand_id"]) == [
        "CRS3006RES250mN6580000E674250",
        "CRS3006RES250mN6580750E674000",
    ]


def test_scb_size_from_argument_and_column(tmp_path: Path) -> None:
    on_km = write(tmp_path / "a.csv", "Rutid,Pop\n6740006580000,5\n6750006580000,6\n")
    assert list(read_scb_grid(on_km)["square_size_m"]) == [1000, 1000]  # inferred
    grid = read_scb_grid(on_km, size_m=250)
    np.testing.assert_array_equal(coords(grid), [[674125, 6580125], [675125, 6580125]])
    sized = write(
        tmp_path / "b.csv", "Rutid,Pop,Storlek\n6740006580000,5,250 m\n6750006580000,6,1km\n"
    )
    grid = read_scb_grid(sized)
    assert list(grid["square_size_m"]) == [250, 1000]
    np.testing.assert_array_equal(coords(grid), [[674125, 6580125], [675500, 6580500]])
    assert "Storlek" not in grid.columns


def test_scb_population_column_argument(tmp_path: Path) -> None:
    path = write(tmp_path / "g.csv", "Rutid,Man,Kvinnor\n6740006580000,5,7\n")
    assert read_scb_grid(path, population_column="kvinnor")["weight"].tolist() == [7.0]
    with pytest.raises(InputFileError, match=r"no column 'Barn' \(population_column=\)"):
        read_scb_grid(path, population_column="Barn")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            ["6740006580000,5", "XYZ,3"],
            r"g\.csv row 3: square id 'XYZ' is not a grid id this reader knows; expected "
            r"SCB's 13-digit Rutid",
        ),
        (
            ["CRS3035RES1000mN2684000E4334000,5"],
            r"g\.csv row 2: square id 'CRS3035RES1000mN2684000E4334000' is a grid in an "
            r"unexpected CRS \(EPSG:3035\); SCB grids are in EPSG:3006",
        ),
        (
            ["CRS3006RES500mN6580000E674000,5"],
            r"g\.csv row 2: square id .* has a 500 m resolution",
        ),
        (
            ["6740006580000,5", "6740106580000,5"],
            r"g\.csv row 3: lower-left corner \(E 674010, N 6580000\) is not on the 250 m grid",
        ),
        (
            ["4330002684000,5"],
            r"g\.csv row 2: square centre \(E 433500, N 2684500\) lies outside Sweden",
        ),
        (["6740006580000,-5"], r"g\.csv row 2: weight -5\.0 is negative"),
        (["6740006580000,many"], r"g\.csv row 2: population 'many' \(column 'pop'\) is not"),
        (["6740006580000,5", ",3"], r"g\.csv row 3: square id \(column 'rutid'\) is missing"),
        (
            ["6740006580000,5", "6750006580000,1", "6740006580000,2"],
            r"g\.csv: duplicate demand_id 'CRS3006RES1000mN6580000E674000' in rows 2 and 4",
        ),
    ],
)
def test_scb_bad_rows(tmp_path: Path, rows: list[str], message: str) -> None:
    path = write(tmp_path / "g.csv", "\n".join(["rutid,pop", *rows]) + "\n")
    with pytest.raises(InputFileError, match=message):
        read_scb_grid(path)


def test_scb_size_conflict_and_bad_size(tmp_path: Path) -> None:
    path = write(
        tmp_path / "g.csv",
        "id,pop,size\nCRS3006RES250mN6580000E674000,1,1000\n1kmN6581E674,1,300\n",
    )
    with pytest.raises(InputFileError) as info:
        read_scb_grid(path)
    assert str(info.value).splitlines() == [
        f"{path} row 2: column 'size' says 1000 m but the square is 250 m",
        f"{path} row 3: square size '300' (column 'size') is not 250 m or 1000 m",
    ]


def test_scb_file_without_weight_column(tmp_path: Path) -> None:
    path = write(tmp_path / "g.csv", "Rutid;Kommun\n6740006580000;0180\n")
    with pytest.raises(
        InputFileError,
        match=(
            r"g\.csv: a demand file with no weight column: no population column \(expected "
            r"one of: pop, population, .*\); the columns are: Rutid, Kommun$"
        ),
    ):
        read_scb_grid(path)


def test_scb_file_without_id_column(tmp_path: Path) -> None:
    path = write(tmp_path / "g.csv", "ruta_x;pop\n6740006580000;5\n")
    with pytest.raises(InputFileError, match=r"no square id column .* columns are: ruta_x, pop"):
        read_scb_grid(path)


def test_scb_argument_and_file_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "g.csv", "rutid,pop\n6740006580000,5\n")
    with pytest.raises(ParameterError, match=r"size_m=500 must be 250 or 1000"):
        read_scb_grid(path, size_m=500)
    with pytest.raises(ParameterError, match=r"layer='x' only applies to GeoPackage files"):
        read_scb_grid(path, layer="x")
    with pytest.raises(MissingFileError, match=r"nothing\.csv does not exist"):
        read_scb_grid(tmp_path / "nothing.csv")
    with pytest.raises(InputFileError, match=r"unknown file type '\.xlsx' for an SCB grid"):
        read_scb_grid(write(tmp_path / "g.xlsx", "x"))


# --------------------------------------------------------------------------
# SCB grid: GeoPackage
# --------------------------------------------------------------------------
# Lower-left corners (m, EPSG:3006) and populations of four 1 km squares in Visby.
GPKG_SQUARES = ((700000, 6392000, 812), (701000, 6392000, 95), (700000, 6393000, 0), (1000, 0, 4))


def write_grid_gpkg(path: Path, *, crs: str = "EPSG:3006", squares=GPKG_SQUARES) -> Path:
    polygons = [shapely.box(e, n, e + 1000, n + 1000) for e, n, _ in squares]
    frame = gpd.GeoDataFrame(
        {
            "Rutid": [f"{e:06d}{n:07d}" for e, n, _ in squares],
            "Pop": [p for _, _, p in squares],
            "Kommunkod": "0980",
        },
        geometry=polygons,
        crs="EPSG:3006",
    )
    if crs != "EPSG:3006":
        frame = frame.to_crs(crs)
    frame.to_file(path, driver="GPKG", layer="befolkning_1km", engine="pyogrio")
    return path


def test_scb_gpkg_1km(tmp_path: Path) -> None:
    squares = GPKG_SQUARES[:3]
    path = write_grid_gpkg(tmp_path / "totalbefolkning_1km.gpkg", squares=squares)
    grid = read_scb_grid(path)
    check_layer(grid)
    np.testing.assert_array_equal(coords(grid), [[e + 500, n + 500] for e, n, _ in squares])
    assert grid["weight"].sum() == 812 + 95 + 0
    assert list(grid["square_id"]) == ["7000006392000", "7010006392000", "7000006393000"]
    assert list(grid["square_size_m"]) == [1000] * 3
    assert list(grid["Kommunkod"]) == ["0980"] * 3
    squares_back = grid_squares(grid)
    assert squares_back.crs == "EPSG:3006"
    expected = [shapely.box(e, n, e + 1000, n + 1000) for e, n, _ in squares]
    assert all(a.equals(b) for a, b in zip(squares_back.geometry, expected, strict=True))
    assert list(squares_back["demand_id"]) == list(grid["demand_id"])
    areas = assign_demand_areas(grid)
    assert set(areas["municipality"]) == {"Gotland"}


def test_scb_gpkg_in_another_crs(tmp_path: Path) -> None:
    path = write_grid_gpkg(tmp_path / "grid.gpkg", crs="EPSG:4326", squares=GPKG_SQUARES[:2])
    with pytest.raises(
        InputFileError,
        match=(
            rf"^{re.escape(str(path))} is a grid in an unexpected CRS: EPSG:4326; SCB grids "
            r"are in EPSG:3006 \(SWEREF 99 TM\)"
        ),
    ):
        read_scb_grid(path)


def test_scb_gpkg_bad_squares(tmp_path: Path) -> None:
    path = tmp_path / "grid.gpkg"
    frame = gpd.GeoDataFrame(
        {"pop": [1, 2, 3]},
        geometry=[
            shapely.box(700000, 6392000, 701000, 6393000),
            shapely.box(700000, 6393000, 701000, 6393500),
            shapely.Point(700500, 6394500),
        ],
        crs="EPSG:3006",
    )
    frame.to_file(path, driver="GPKG", engine="pyogrio")
    with pytest.raises(InputFileError) as info:
        read_scb_grid(path)
    assert str(info.value).splitlines() == [
        f"{path} row 2: geometry is not a 250 m or 1 km grid square (bounds 1000 x 500 m, "
        "area 500000 m²)",
        f"{path} row 3: geometry is a Point; an SCB grid square is a Polygon",
    ]


def test_grid_squares_needs_a_grid_layer() -> None:
    with pytest.raises(ParameterError, match="square_size_m column"):
        grid_squares(validate_demand(hand_layer()))


# --------------------------------------------------------------------------
# Weighted layers
# --------------------------------------------------------------------------
def test_weighted_csv_with_decimal_commas_and_antal(tmp_path: Path) -> None:
    # Swedish Excel: ";" delimiter, decimal commas, cp1252; "Antal" is the weight
    # and "Typ" is an ordinary column (not a station fleet type).
    path = write(
        tmp_path / "boenden.csv",
        "Namn;Typ;Antal;lon;lat\r\n"
        "Äldreboende Ängen;SÄBO;42,5;18,0710;59,3150\r\n"
        "Gruppbostad;LSS;6;17,9490;59,4030\r\n",
        encoding="cp1252",
    )
    layer = read_weighted_layer(path)
    check_layer(layer)
    assert list(layer.columns) == [*HEAD, "name", "Typ", "source_row", "geometry"]
    assert list(layer["weight"]) == [42.5, 6.0]
    assert list(layer["name"]) == ["Äldreboende Ängen", "Gruppbostad"]
    assert list(layer["Typ"]) == ["SÄBO", "LSS"]
    assert list(layer["demand_id"]) == ["2", "3"]  # the rows, as Excel numbers them
    assert set(layer["source"]) == {"weighted:boenden.csv"}
    x, y = TO_SWEREF.transform([18.0710, 17.9490], [59.3150, 59.4030])
    np.testing.assert_allclose(coords(layer), np.column_stack([x, y]), rtol=0, atol=1e-6)


def test_weighted_geojson_polygons_become_inner_points(tmp_path: Path) -> None:
    # two DeSO-like areas: an L-shaped polygon whose centroid lies outside it
    ell = shapely.Polygon(
        [(18.00, 59.30), (18.10, 59.30), (18.10, 59.31), (18.01, 59.31), (18.01, 59.40),
         (18.00, 59.40)]
    )  # fmt: skip
    square = shapely.box(17.90, 59.30, 17.95, 59.35)
    frame = gpd.GeoDataFrame(
        {"deso": ["0180C1010", "0180C1020"], "Population": [1650, 2100], "demand_id": ["x", "y"]},
        geometry=[ell, square],
        crs="EPSG:4326",
    )
    path = tmp_path / "deso.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    layer = read_weighted_layer(path)
    check_layer(layer)
    assert list(layer["weight"]) == [1650.0, 2100.0]
    assert list(layer["demand_id"]) == ["x", "y"]
    assert list(layer["deso"]) == ["0180C1010", "0180C1020"]
    polygons = frame.to_crs("EPSG:3006").geometry
    assert not polygons.iloc[0].contains(polygons.iloc[0].centroid)
    assert all(shapely.contains(polygons.to_numpy(), layer.geometry.to_numpy()))


def test_weighted_explicit_weight_column(tmp_path: Path) -> None:
    path = write(tmp_path / "w.csv", "name,pop,boende,x,y\nA,5,7,674000,6580000\n")
    assert read_weighted_layer(path, crs="EPSG:3006")["weight"].tolist() == [5.0]
    assert read_weighted_layer(path, crs="EPSG:3006", weight="Boende")["weight"].tolist() == [7.0]
    with pytest.raises(InputFileError, match=r"no column 'vikt' \(weight=\); the columns are"):
        read_weighted_layer(path, crs="EPSG:3006", weight="vikt")


def test_weighted_layer_errors_name_file_and_row(tmp_path: Path) -> None:
    no_weight = write(tmp_path / "nw.csv", "name,kategori,lon,lat\nA,x,18.07,59.31\n")
    with pytest.raises(
        InputFileError,
        match=r"nw\.csv: a demand file with no weight column .*; the columns are: name, kategori$",
    ):
        read_weighted_layer(no_weight)
    negative = write(
        tmp_path / "neg.csv", "name,weight,lon,lat\nA,5,18.07,59.31\nB,-3,18.00,59.36\n"
    )
    with pytest.raises(InputFileError, match=r"neg\.csv row 3 \(B\): weight '-3' is negative"):
        read_weighted_layer(negative)
    no_coordinate = write(tmp_path / "nc.csv", "name,weight,lon,lat\nA,5,18.07,59.31\nB,3,,59.36\n")
    with pytest.raises(InputFileError, match=r"nc\.csv row 3 \(B\): longitude is missing"):
        read_weighted_layer(no_coordinate)


# --------------------------------------------------------------------------
# OSM population points: the real SCB tätorter
# --------------------------------------------------------------------------
def test_taetorter_match_an_independent_parse(
    taetorter: gpd.GeoDataFrame, taetorter_xml: pd.DataFrame
) -> None:
    check_layer(taetorter)
    assert len(taetorter) == len(taetorter_xml) == 1956
    assert taetorter["weight"].sum() == taetorter_xml["population"].sum() == 7_363_324
    assert taetorter.attrs == {"skipped": 0, "excluded_places": 0}
    assert list(taetorter["osm_id"]) == list(taetorter_xml["id"])
    assert list(taetorter["weight"]) == list(taetorter_xml["population"].astype(float))
    assert list(taetorter["name"]) == list(taetorter_xml["name"])
    assert list(taetorter["scb_code"]) == list(taetorter_xml["code"])
    assert taetorter["demand_id"].iloc[0] == f"node/{taetorter_xml['id'].iloc[0]}"
    x, y = TO_SWEREF.transform(taetorter_xml["lon"].to_numpy(), taetorter_xml["lat"].to_numpy())
    # OSM stores 7 decimals of a degree (about 1 cm)
    np.testing.assert_allclose(coords(taetorter), np.column_stack([x, y]), rtol=0, atol=0.05)


def test_taetorter_areas(taetorter: gpd.GeoDataFrame, taetorter_areas: gpd.GeoDataFrame) -> None:
    assert taetorter_areas["municipality_code"].notna().all()
    assert taetorter_areas["region_code"].notna().all()
    # the fallback count is the number of points in no municipality without it
    plain = assign_areas(taetorter)
    outside = int(plain["municipality_code"].isna().sum())
    assert outside == 131
    assert taetorter_areas.attrs["area_fallback"] == outside
    assert taetorter_areas.attrs["area_unassigned"] == 0
    inside = plain["municipality_code"].notna()
    pd.testing.assert_series_equal(
        taetorter_areas.loc[inside, "municipality_code"], plain.loc[inside, "municipality_code"]
    )
    # without the fallback, the same 131 stay unassigned
    off = assign_demand_areas(taetorter, nearest_within_m=None)
    assert off.attrs["area_fallback"] == 0
    assert off.attrs["area_unassigned"] == 131


def test_taetorter_on_gotland(
    taetorter_areas: gpd.GeoDataFrame, taetorter_xml: pd.DataFrame
) -> None:
    gotland = taetorter_areas.loc[taetorter_areas["region_code"] == "09"]
    assert len(gotland) == 17
    assert gotland["weight"].sum() == 33_473
    assert set(gotland["municipality"]) == {"Gotland"}
    assert set(gotland["region"]) == {"Gotlands län"}
    # independently: every node in a box around Gotland and Fårö (no mainland in it)
    box = taetorter_xml["lon"].between(17.9, 19.5) & taetorter_xml["lat"].between(56.8, 58.5)
    assert set(taetorter_xml.loc[box, "id"]) == set(gotland["osm_id"])


def test_summary_of_taetorter(taetorter_areas: gpd.GeoDataFrame) -> None:
    summary = demand_summary(taetorter_areas)
    assert list(summary.columns) == ["source", "region_code", "region", "points", "weight"]
    assert len(summary) == 21
    assert summary["points"].sum() == 1956
    assert summary["weight"].sum() == 7_363_324
    row = summary.set_index("region_code").loc["09"]
    assert (row["region"], row["points"], row["weight"]) == ("Gotlands län", 17, 33_473)
    counts = taetorter_areas.groupby("region_code").size()
    assert dict(zip(summary["region_code"], summary["points"], strict=True)) == counts.to_dict()


def test_summary_of_two_sources_and_unassigned(taetorter: gpd.GeoDataFrame) -> None:
    far = validate_demand(
        gpd.GeoDataFrame(
            {"demand_id": ["sea", "visby"], "weight": [2.0, 3.0], "source": "extra"},
            geometry=gpd.points_from_xy([20.5, 18.29], [56.0, 57.64]),
            crs="EPSG:4326",
        )
    )
    # index labels 0, 1, 2, 0, 1: the fallback must work by position
    both = assign_demand_areas(pd.concat([taetorter.iloc[:3], far]))
    assert list(both.index) == [0, 1, 2, 0, 1]
    assert both.attrs["area_unassigned"] == 1
    assert list(both["municipality"].iloc[3:]) == [None, "Gotland"]
    expected = assign_areas(taetorter.iloc[:3], nearest_within_m=DEMAND_AREA_SNAP_M)
    assert list(both["municipality_code"].iloc[:3]) == list(expected["municipality_code"])
    summary = demand_summary(both)
    extra = summary.loc[summary["source"] == "extra"]
    assert list(extra["region_code"].fillna("none")) == ["09", "none"]
    assert list(extra["weight"]) == [3.0, 2.0]
    assert summary["points"].sum() == 5
    with pytest.raises(ParameterError, match="call assign_demand_areas first"):
        demand_summary(far)


def test_assign_demand_areas_arguments(taetorter: gpd.GeoDataFrame) -> None:
    with pytest.raises(ParameterError, match=r"nearest_within_m=-1 must be a distance"):
        assign_demand_areas(taetorter, nearest_within_m=-1)
    with pytest.raises(ParameterError, match=r"nearest_within_m='5' must be a distance"):
        assign_demand_areas(taetorter, nearest_within_m="5")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="needs a GeoDataFrame"):
        assign_demand_areas(pd.DataFrame(taetorter))
    assert DEMAND_AREA_SNAP_M == 10_000.0


OSM_POPULATION_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version='0.6' generator='test'>
  <node id='1' lat='59.31' lon='18.07'><tag k='population' v='1 234'/><tag k='name' v='A'/>
    <tag k='place' v='town'/></node>
  <node id='2' lat='59.40' lon='17.95'><tag k='population' v='ca 500'/>
    <tag k='place' v='village'/></node>
  <node id='6' lat='59.32' lon='18.06'><tag k='population' v='100'/>
    <tag k='place' v='suburb'/></node>
  <node id='7' lat='62.0' lon='15.0'><tag k='population' v='10 000 000'/>
    <tag k='place' v='country'/></node>
  <node id='8' lat='59.33' lon='18.05'><tag k='population' v='7'/></node>
  <node id='3' lat='63.83' lon='20.26'><tag k='population' v='2,500'/>
    <tag k='ref:se:scb:tätort:kod' v='T9999'/><tag k='place' v='village'/></node>
  <node id='4' lat='59.35' lon='18.00'><tag k='name' v='no population'/></node>
  <node id='5' lat='59.36' lon='18.01'/>
  <way id='10'><nd ref='1'/><nd ref='4'/><nd ref='5'/><nd ref='1'/>
    <tag k='population' v='99999'/><tag k='boundary' v='administrative'/></way>
</osm>
"""


def test_osm_population_parsing_and_boundary(tmp_path: Path) -> None:
    path = write(tmp_path / "places.osm", OSM_POPULATION_XML)
    layer = read_osm_population(path)
    check_layer(layer)
    assert list(layer["demand_id"]) == ["node/1", "node/3", "node/6", "node/8"]
    assert list(layer["weight"]) == [1234.0, 2500.0, 100.0, 7.0]
    assert list(layer["name"]) == ["A", None, None, None]
    assert list(layer["place"]) == ["town", "village", "suburb", None]
    assert list(layer["scb_code"]) == [None, "T9999", None, None]
    assert layer.attrs == {"skipped": 1, "excluded_places": 1}
    every = read_osm_population(path, exclude_places=None)
    assert list(every["demand_id"]) == ["node/1", "node/3", "node/6", "node/7", "node/8"]
    assert list(every["weight"]) == [1234.0, 2500.0, 100.0, 10_000_000.0, 7.0]
    assert every.attrs == {"skipped": 1, "excluded_places": 0}
    no_suburbs = read_osm_population(path, exclude_places={"country", "suburb"})
    assert list(no_suburbs["demand_id"]) == ["node/1", "node/3", "node/8"]
    assert no_suburbs.attrs["excluded_places"] == 2
    with pytest.raises(ParameterError, match=r"exclude_places=\[1\] must be OSM place values"):
        read_osm_population(path, exclude_places=[1])  # type: ignore[list-item]
    stockholm = shapely.box(17.5, 59.0, 18.5, 59.8)
    inside = read_osm_population(path, boundary=stockholm)
    assert list(inside["demand_id"]) == ["node/1", "node/6", "node/8"]
    with pytest.raises(InputFileError, match="not an OSM file name"):
        read_osm_population(write(tmp_path / "places.csv", "a"))


# --------------------------------------------------------------------------
# OSM residential buildings
# --------------------------------------------------------------------------
def test_buildings_sodermalm_against_pyrosm(shared_data: Path) -> None:
    pyrosm = pytest.importorskip("pyrosm")
    path = shared_data / "osm" / "stockholm-sodermalm.osm.pbf"
    reference = pyrosm.OSM(str(path)).get_buildings()
    reference = reference.loc[reference["building"].isin(RESIDENTIAL_BUILDING_VALUES)]
    reference = reference.set_crs("EPSG:4326", allow_override=True).to_crs("EPSG:3006")
    reference = reference.sort_values("id")

    counted = demand_from_buildings(path)
    check_layer(counted)
    assert len(counted) == len(reference) == 17
    assert counted.attrs["skipped"] == 0
    assert list(counted["osm_id"]) == list(reference["id"])
    assert list(counted["weight"]) == [1.0] * 17
    np.testing.assert_allclose(counted["footprint_m2"], reference.area, rtol=1e-9)
    np.testing.assert_allclose(
        coords(counted), coords(reference.set_geometry(reference.centroid)), atol=1e-6
    )
    levels = pd.to_numeric(reference["building:levels"]).to_numpy()
    assert int(np.isfinite(levels).sum()) == 9
    floor = reference.area.to_numpy() * np.where(np.isfinite(levels), levels, 1.0)
    by_area = demand_from_buildings(path, weight_by="area")
    np.testing.assert_allclose(by_area["weight"], floor, rtol=1e-9)
    np.testing.assert_allclose(by_area["floor_area_m2"], floor, rtol=1e-9)

    scaled = demand_from_buildings(path, weight_by="area", total=4321.0)
    assert math.fsum(scaled["weight"]) == 4321.0
    np.testing.assert_allclose(scaled["weight"], floor / floor.sum() * 4321.0, rtol=1e-12)
    areas = assign_demand_areas(scaled)
    assert set(areas["municipality"]) == {"Stockholm"}


def test_buildings_umea_against_element_tree(shared_data: Path) -> None:
    path = shared_data / "osm" / "umea-ostra.osm"
    root = ET.parse(path).getroot()
    nodes = {
        n.attrib["id"]: (float(n.attrib["lon"]), float(n.attrib["lat"])) for n in root.iter("node")
    }
    expected = {}
    for way in root.iter("way"):
        tags = {t.attrib["k"]: t.attrib["v"] for t in way.iter("tag")}
        if tags.get("building") in RESIDENTIAL_BUILDING_VALUES:
            lonlat = np.array([nodes[nd.attrib["ref"]] for nd in way.iter("nd")])
            xy = np.column_stack(TO_SWEREF.transform(lonlat[:, 0], lonlat[:, 1]))
            expected[int(way.attrib["id"])] = shoelace(xy)
    assert len(expected) == 2
    layer = demand_from_buildings(path, weight_by="area", total=250)
    assert dict(zip(layer["osm_id"], layer["footprint_m2"], strict=True)) == pytest.approx(
        expected, rel=1e-9
    )
    assert math.fsum(layer["weight"]) == 250
    assert set(assign_demand_areas(layer)["municipality"]) == {"Umeå"}


def square_nodes(first_id: int, x0: float, y0: float, side: float) -> tuple[str, list[int]]:
    """OSM nodes of a square with lower-left corner (x0, y0) in EPSG:3006, as XML."""
    to_lonlat = pyproj.Transformer.from_crs("EPSG:3006", "EPSG:4326", always_xy=True)
    xs = [x0, x0 + side, x0 + side, x0]
    ys = [y0, y0, y0 + side, y0 + side]
    lon, lat = to_lonlat.transform(xs, ys)
    ids = list(range(first_id, first_id + 4))
    xml = "".join(
        f"<node id='{i}' lat='{la:.7f}' lon='{lo:.7f}'/>"
        for i, lo, la in zip(ids, lon, lat, strict=True)
    )
    return xml, ids


def way(way_id: int, refs: list[int], tags: dict[str, str]) -> str:
    nds = "".join(f"<nd ref='{r}'/>" for r in refs)
    tag_xml = "".join(f"<tag k='{k}' v='{v}'/>" for k, v in tags.items())
    return f"<way id='{way_id}'>{nds}{tag_xml}</way>"


@pytest.fixture
def buildings_osm(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A house, a 3-storey block, a building=yes, a cabin, an unclosed way and a
    multipolygon apartment block with a courtyard; returns rings in EPSG:3006."""
    parts = []
    rings = {}
    specs = [
        ("house", 100, 760000, 7087000, 12),
        ("block", 200, 760100, 7087000, 30),
        ("yes", 300, 760200, 7087000, 20),
        ("cabin", 400, 760300, 7087000, 8),
        ("open", 500, 760400, 7087000, 10),
        ("outer", 600, 760500, 7087000, 40),
        ("inner", 700, 760510, 7087010, 20),
    ]
    ids = {}
    for key, first, x0, y0, side in specs:
        xml, node_ids = square_nodes(first, x0, y0, side)
        parts.append(xml)
        ids[key] = node_ids
    # read back the node positions as OSM stores them (7 decimals) for the expected areas
    nodes_xml = "".join(parts)
    ways = [
        way(1, [*ids["house"], ids["house"][0]], {"building": "house", "name": "Villa"}),
        way(
            2, [*ids["block"], ids["block"][0]], {"building": "apartments", "building:levels": "3"}
        ),
        way(3, [*ids["yes"], ids["yes"][0]], {"building": "yes"}),
        way(4, [*ids["cabin"], ids["cabin"][0]], {"building": "cabin"}),
        way(5, ids["open"], {"building": "house"}),
        way(6, [*ids["outer"], ids["outer"][0]], {}),
        way(7, [*ids["inner"], ids["inner"][0]], {}),
    ]
    relation = (
        "<relation id='9'><member type='way' ref='6' role='outer'/>"
        "<member type='way' ref='7' role='inner'/><tag k='type' v='multipolygon'/>"
        "<tag k='building' v='apartments'/><tag k='building:levels' v='2,5'/></relation>"
    )
    text = f"<?xml version='1.0'?><osm version='0.6'>{nodes_xml}{''.join(ways)}{relation}</osm>"
    path = write(tmp_path / "buildings.osm", text)
    root = ET.fromstring(text)
    lonlat = {
        int(n.attrib["id"]): (float(n.attrib["lon"]), float(n.attrib["lat"]))
        for n in root.iter("node")
    }
    for key in ("house", "block", "outer", "inner"):
        ll = np.array([lonlat[i] for i in [*ids[key], ids[key][0]]])
        rings[key] = np.column_stack(TO_SWEREF.transform(ll[:, 0], ll[:, 1]))
    return path, rings


def test_buildings_small_file_by_hand(buildings_osm: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, rings = buildings_osm
    house, block = shoelace(rings["house"]), shoelace(rings["block"])
    courtyard = shoelace(rings["outer"]) - shoelace(rings["inner"])
    assert house == pytest.approx(144, abs=0.05)  # 12 m x 12 m, to OSM's 1 cm precision
    assert courtyard == pytest.approx(1600 - 400, abs=0.5)

    layer = demand_from_buildings(path, weight_by="area")
    check_layer(layer)
    assert list(layer["demand_id"]) == ["way/1", "way/2", "relation/9"]
    assert list(layer["building"]) == ["house", "apartments", "apartments"]
    assert list(layer["name"]) == ["Villa", None, None]
    assert layer.attrs["skipped"] == 1  # the unclosed way 5
    np.testing.assert_allclose(layer["footprint_m2"], [house, block, courtyard], rtol=1e-9)
    np.testing.assert_allclose(layer["levels"], [np.nan, 3.0, 2.5])
    np.testing.assert_allclose(layer["weight"], [house, 3 * block, 2.5 * courtyard], rtol=1e-9)
    centre = rings["house"][:-1].mean(axis=0)
    np.testing.assert_allclose(coords(layer)[0], centre, atol=0.01)

    counted = demand_from_buildings(path, total=10)
    np.testing.assert_allclose(counted["weight"], [10 / 3] * 3, rtol=1e-15)
    assert math.fsum(counted["weight"]) == 10
    zero = demand_from_buildings(path, total=0)
    assert list(zero["weight"]) == [0.0, 0.0, 0.0]


def test_buildings_arguments(
    buildings_osm: tuple[Path, dict[str, np.ndarray]], taetorter_path: Path
) -> None:
    path, _ = buildings_osm
    with pytest.raises(ParameterError, match=r"weight_by='floors' must be 'count' or 'area'"):
        demand_from_buildings(path, weight_by="floors")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"total=-5 must be a finite number >= 0"):
        demand_from_buildings(path, total=-5)
    with pytest.raises(ParameterError, match=r"total=nan must be a finite number"):
        demand_from_buildings(path, total=float("nan"))
    with pytest.raises(DataError, match=r"taetorter\.osm\.xml: no residential buildings"):
        demand_from_buildings(taetorter_path, total=100)
    empty = demand_from_buildings(taetorter_path)
    assert len(empty) == 0 and list(empty.columns[:3]) == HEAD


# --------------------------------------------------------------------------
# Historical calls
# --------------------------------------------------------------------------
CALLS_CSV = (
    "Prio;Tid;Typ;x;y\n"
    "1;2023-05-01 14:32:10;Trafikolycka;674000;6580000\n"
    "2;2023-05-01T15:00;Fall;674100,5;6580100\n"
    " 1A ;2023-05-02;Bröstsmärta;674200;6580200\n"
    ";2023-05-03 08:00;Okänd;674300;6580300\n"
)


def test_calls_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "larm.csv", CALLS_CSV)
    calls = read_calls(path, crs="EPSG:3006")
    check_layer(calls)
    assert list(calls.columns) == [
        *HEAD, "priority", "time", "Typ", "source_row", "geometry"
    ]  # fmt: skip
    assert list(calls["weight"]) == [1.0] * 4
    assert list(calls["priority"]) == ["1", "2", "1A", None]
    assert list(calls["Typ"]) == ["Trafikolycka", "Fall", "Bröstsmärta", "Okänd"]
    assert pd.api.types.is_datetime64_dtype(calls["time"])
    assert list(calls["time"]) == list(
        pd.to_datetime(
            ["2023-05-01 14:32:10", "2023-05-01 15:00", "2023-05-02", "2023-05-03 08:00"],
            format="ISO8601",
        )
    )
    np.testing.assert_array_equal(
        coords(calls),
        [[674000, 6580000], [674100.5, 6580100], [674200, 6580200], [674300, 6580300]],
    )
    assert set(calls["source"]) == {"calls:larm.csv"}
    kept = read_calls(path, crs="EPSG:3006", priorities=[1, "1A"])
    assert list(kept["source_row"]) == [2, 4]  # as Excel numbers the rows
    assert list(kept.index) == [0, 1]
    assert len(read_calls(path, crs="EPSG:3006", priorities=2)) == 1


def test_calls_with_utc_offsets_are_converted(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.csv",
        "lon,lat,timestamp\n18.07,59.31,2023-01-15T12:00:00Z\n18.07,59.31,2023-07-15T12:00+00:00\n",
    )
    calls = read_calls(path)
    assert str(calls["time"].dt.tz) == "Europe/Stockholm"
    assert [t.strftime("%H:%M %z") for t in calls["time"]] == ["13:00 +0100", "14:00 +0200"]
    assert calls["priority"].isna().all()


def test_calls_geojson_with_named_columns(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"angelagenhet": ["P1", "P2"], "larmtid": ["2023-03-01 10:00", "2023-03-01 11:00"]},
        geometry=gpd.points_from_xy([20.26, 20.27], [63.83, 63.82]),
        crs="EPSG:4326",
    )
    path = tmp_path / "calls.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    calls = read_calls(path, priority="Angelagenhet", time="larmtid", priorities=["P1"])
    assert list(calls["priority"]) == ["P1"]
    assert calls["time"].iloc[0] == pd.Timestamp("2023-03-01 10:00")
    assert "angelagenhet" not in calls.columns and "larmtid" not in calls.columns


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1;2023-13-01 10:00;674000;6580000", r"row 3: time '2023-13-01 10:00' \(column 'tid'\) "),
        ("1;01/05/2023;674000;6580000", r"row 3: time '01/05/2023' \(column 'tid'\) is not a"),
        ("1;;674000;6580000", r"row 3: time \(column 'tid'\) is missing"),
        (
            "1;2023-05-01T10:00+02:00;674000;6580000",
            r"row 2: time '2023-05-01 10:00' has no UTC offset, but row 3 has one",
        ),
        ("1;2023-05-01 11:00;674000;", r"row 3: northing \(column 'y'\) is missing"),
    ],
)
def test_calls_bad_rows(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path / "c.csv", f"prio;tid;x;y\n1;2023-05-01 10:00;674000;6580000\n{row}\n")
    with pytest.raises(InputFileError, match=rf"^{re.escape(str(path))} {message}"):
        read_calls(path, crs="EPSG:3006")


def test_calls_argument_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "x,y\n674000,6580000\n")
    calls = read_calls(path, crs="EPSG:3006")
    assert calls["priority"].isna().all() and calls["time"].isna().all()
    with pytest.raises(ParameterError, match=r"priorities= needs a priority column"):
        read_calls(path, crs="EPSG:3006", priorities=[1])
    with pytest.raises(ParameterError, match=r"priorities= is empty"):
        read_calls(path, crs="EPSG:3006", priorities=[])
    with pytest.raises(InputFileError, match=r"no column 'prio' \(priority=\); the columns are"):
        read_calls(path, crs="EPSG:3006", priority="prio")
