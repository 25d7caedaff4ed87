"""Tests for planner.inputs.sites: reading and validating ambulance stations."""

from __future__ import annotations

import bz2
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from planner.errors import InputFileError, MissingFileError, ParameterError
from planner.inputs.sites import (
    FLEET_TYPES,
    read_osm_pois,
    read_osm_stations,
    read_stations,
    validate_stations,
)

# Three Stockholm stations: name, fleet, units, longitude, latitude.
STATIONS = (
    ("Södermalm", "ambulance", 2, 18.0710, 59.3150),
    ("Kista", "psychiatric", 1, 17.9490, 59.4030),
    ("Solna", "ambulance", 3, 18.0000, 59.3600),
)
COLUMNS = ["name", "fleet", "units", "source_row", "geometry"]
TO_SWEREF = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)


def expected_sweref() -> np.ndarray:
    """STATIONS' points in EPSG:3006, computed directly with pyproj."""
    lon = [s[3] for s in STATIONS]
    lat = [s[4] for s in STATIONS]
    x, y = TO_SWEREF.transform(lon, lat)
    return np.column_stack([x, y])


def coords(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return shapely.get_coordinates(np.asarray(gdf.geometry.array))


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def lonlat_csv(tmp_path: Path) -> Path:
    lines = ["name,fleet,units,lon,lat"]
    lines += [f"{n},{f},{u},{lon},{lat}" for n, f, u, lon, lat in STATIONS]
    return write(tmp_path / "stations.csv", "\n".join(lines) + "\n")


#: The rows of STATIONS in a CSV file, as Excel numbers them (the header is row 1).
CSV_ROWS = [2, 3, 4]


def check_stations(gdf: gpd.GeoDataFrame, rows: list[int] | None = None) -> None:
    """The standard shape and the STATIONS values, to 1e-6 m.

    ``rows``: the expected ``source_row`` (default the features 1, 2, 3).
    """
    assert list(gdf.columns[:4]) == COLUMNS[:4]
    assert gdf.geometry.name == "geometry"
    assert gdf.crs == "EPSG:3006"
    assert list(gdf["name"]) == [s[0] for s in STATIONS]
    assert list(gdf["fleet"]) == [s[1] for s in STATIONS]
    assert list(gdf["units"]) == [s[2] for s in STATIONS]
    assert gdf["units"].dtype == "int64"
    assert list(gdf["source_row"]) == (rows or [1, 2, 3])
    assert (gdf.geom_type == "Point").all()
    np.testing.assert_allclose(coords(gdf), expected_sweref(), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------
def test_lonlat_csv(tmp_path: Path) -> None:
    gdf = read_stations(lonlat_csv(tmp_path))
    check_stations(gdf, CSV_ROWS)
    assert list(gdf.columns) == COLUMNS


def test_semicolon_csv_with_decimal_commas_and_swedish_names(tmp_path: Path) -> None:
    swedish = {"ambulance": "Ambulans", "psychiatric": "PAM"}
    lines = ["Namn;Typ;Antal;Lat;Lon"]
    lines += [
        f"{n};{swedish[f]};{u};{str(lat).replace('.', ',')};{str(lon).replace('.', ',')}"
        for n, f, u, lon, lat in STATIONS
    ]
    # Excel's "CSV (semikolonavgränsad)" is Windows-1252, not UTF-8.
    path = write(tmp_path / "stations.csv", "\r\n".join(lines) + "\r\n", encoding="cp1252")
    check_stations(read_stations(path), CSV_ROWS)


def test_xy_csv_in_sweref(tmp_path: Path) -> None:
    xy = expected_sweref()
    lines = ["station,fleet,ambulances,x,y"]
    lines += [
        f"{s[0]},{s[1]},{s[2]},{float(x)!r},{float(y)!r}"
        for s, (x, y) in zip(STATIONS, xy, strict=True)
    ]
    path = write(tmp_path / "stations.csv", "\n".join(lines) + "\n")
    check_stations(read_stations(path, crs="EPSG:3006"), CSV_ROWS)


def test_tab_separated_txt_with_fleet_aliases(tmp_path: Path) -> None:
    lines = ["name\tfleet\tunits\tlatitude\tlongitude"]
    aliases = {"ambulance": "ambulance", "psychiatric": "Psykiatrisk"}
    lines += [f"{n}\t{aliases[f]}\t{u}\t{lat}\t{lon}" for n, f, u, lon, lat in STATIONS]
    check_stations(read_stations(write(tmp_path / "stations.txt", "\n".join(lines))), CSV_ROWS)


@pytest.mark.parametrize(
    ("x_name", "y_name", "crs"),
    [
        ("Longitude", "Latitude", None),
        ("lng", "lat", None),
        ("LONG", "LAT", None),
        ("Easting", "Northing", "EPSG:3006"),
        ("E", "N", "EPSG:3006"),
        ("X", "Y", "EPSG:3006"),
    ],
)
def test_coordinate_columns_are_detected(
    tmp_path: Path, x_name: str, y_name: str, crs: str | None
) -> None:
    xy = expected_sweref()
    lines = [f"name,fleet,units,{x_name},{y_name}"]
    for s, (x, y) in zip(STATIONS, xy, strict=True):
        cx, cy = (s[3], s[4]) if crs is None else (x, y)
        lines.append(f"{s[0]},{s[1]},{s[2]},{float(cx)!r},{float(cy)!r}")
    check_stations(read_stations(write(tmp_path / "s.csv", "\n".join(lines)), crs=crs), CSV_ROWS)


def test_named_coordinate_columns_and_extra_columns(tmp_path: Path) -> None:
    xy = expected_sweref()
    lines = ["name,fleet,units,Öst,Nord,kommun,id"]
    lines += [
        f"{s[0]},{s[1]},{s[2]},{float(x)!r},{float(y)!r},Stockholm,{i}"
        for i, (s, (x, y)) in enumerate(zip(STATIONS, xy, strict=True))
    ]
    path = write(tmp_path / "stations.csv", "\n".join(lines))
    gdf = read_stations(path, crs="EPSG:3006", x="öst", y="NORD")
    check_stations(gdf, CSV_ROWS)
    # other columns are kept as read (text); coordinate columns are dropped
    assert list(gdf.columns) == [*COLUMNS[:4], "kommun", "id", "geometry"]
    assert list(gdf["id"]) == ["0", "1", "2"]


def test_defaults_blank_cells_and_empty_rows(tmp_path: Path) -> None:
    text = "name;fleet;units;lon;lat;\nA;;;18,07;59,31;\n\n;;;;;\nB;psykiatri;4;18,08;59,32;\n"
    gdf = read_stations(write(tmp_path / "s.csv", text), default_units=2)
    assert list(gdf["name"]) == ["A", "B"]
    assert list(gdf["fleet"]) == ["ambulance", "psychiatric"]
    assert list(gdf["units"]) == [2, 4]
    # empty lines are skipped but counted, and rows are numbered as Excel shows
    # them: the header is row 1, A row 2, the two empty lines rows 3 and 4, B row 5
    assert list(gdf["source_row"]) == [2, 5]
    assert list(gdf.columns) == COLUMNS

    no_columns = write(tmp_path / "t.csv", "name,lon,lat\nA,18.07,59.31\n")
    gdf = read_stations(no_columns, default_fleet="PAM", default_units=3)
    assert list(gdf["fleet"]) == ["psychiatric"]
    assert list(gdf["units"]) == [3]


def test_outside_sweden_allowed_when_check_is_off(tmp_path: Path) -> None:
    # Andorra la Vella
    path = write(tmp_path / "andorra.csv", "name,lon,lat\nAndorra la Vella,1.5218,42.5063\n")
    gdf = read_stations(path, check_sweden=False)
    # outside Sweden: in the UTM zone of the data (31N), not stretched by SWEREF 99 TM
    assert gdf.crs == "EPSG:32631"
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32631", always_xy=True)
    expected = to_utm.transform(1.5218, 42.5063)
    np.testing.assert_allclose(coords(gdf)[0], expected, rtol=0, atol=1e-6)
    with pytest.raises(
        InputFileError,
        match=r"andorra.csv row 2 \(Andorra la Vella\): \(1.5218, 42.5063\) lies outside "
        r"Sweden; check the coordinates and the CRS \(EPSG:4326\)",
    ):
        read_stations(path)


# --------------------------------------------------------------------------
# Bad tables, by message
# --------------------------------------------------------------------------
def bad_csv(tmp_path: Path, rows: list[str], header: str = "name,fleet,units,lon,lat") -> Path:
    return write(tmp_path / "stations.csv", "\n".join([header, *rows]) + "\n")


GOOD_ROW = "Solna,ambulance,1,18.00,59.36"


# the bad row is the file's fourth line: Excel's row 4 (the header is row 1)
@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("Södermalm,ambulance,1,,59.31", r"row 4 \(Södermalm\): longitude is missing"),
        ("Kista,ambulance,1,17.95,abc", r"row 4 \(Kista\): latitude 'abc' is not a number"),
        ("Kista,ambulance,1,17.95,inf", r"row 4 \(Kista\): latitude 'inf' is not a finite"),
        (
            "Visby,ambulance,1,57.64,18.29",
            r"row 4 \(Visby\): \(57.64, 18.29\) lies outside Sweden; latitude and longitude "
            r"look swapped",
        ),
        (
            "Paris,ambulance,1,2.35,48.85",
            r"row 4 \(Paris\): \(2.35, 48.85\) lies outside Sweden; check the coordinates "
            r"and the CRS \(EPSG:4326\)",
        ),
        (
            "X,psych,1,18.0,59.3",
            r"row 4 \(X\): unknown fleet type 'psych'; use one of: ambulance, psychiatric "
            r"\(did you mean 'psychiatric'\?\)",
        ),
        ("X,ambulans,0,18.0,59.3", r"row 4 \(X\): units must be a whole number >= 1, got '0'"),
        ("X,ambulans,1.5,18.0,59.3", r"row 4 \(X\): units must be a whole number >= 1, got '1.5'"),
        ("X,ambulans,två,18.0,59.3", r"row 4 \(X\): units must be a whole number >= 1"),
        ("X,ambulans,1e20,18.0,59.3", r"row 4 \(X\): units must be a whole number >= 1"),
        (",ambulance,1,18.0,59.3", r"row 4: name is missing"),
    ],
)
def test_bad_rows(tmp_path: Path, row: str, message: str) -> None:
    path = bad_csv(tmp_path, [GOOD_ROW, "Kungsholmen,ambulance,1,18.03,59.33", row])
    with pytest.raises(InputFileError, match="stations.csv " + message):
        read_stations(path)


def test_duplicate_names_give_both_rows(tmp_path: Path) -> None:
    rows = [
        "Kista,ambulance,1,17.95,59.40",
        GOOD_ROW,
        "A,ambulance,1,18.05,59.30",
        "B,ambulance,1,18.06,59.30",
        "solna ,ambulance,1,18.01,59.37",
    ]
    with pytest.raises(
        InputFileError, match=r"stations.csv: duplicate station name 'Solna' in rows 3 and 6"
    ):
        read_stations(bad_csv(tmp_path, rows))


def test_all_problems_are_listed_in_row_order(tmp_path: Path) -> None:
    rows = [
        "A,ambulance,0,18.0,59.3",
        "B,ambulance,1,,59.3",
        GOOD_ROW,
        "C,bil,1,18.0,59.3",
    ]
    with pytest.raises(InputFileError) as info:
        read_stations(bad_csv(tmp_path, rows))
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("row 2 (A): units must be a whole number >= 1, got '0'")
    assert lines[1].endswith("row 3 (B): longitude is missing")
    assert lines[2].startswith(f"{tmp_path / 'stations.csv'} row 5 (C): unknown fleet type")


def test_many_problems_are_cut_short(tmp_path: Path) -> None:
    rows = [f"S{i},ambulance,1,,59.3" for i in range(25)]
    with pytest.raises(InputFileError, match=r"\.\.\. and 15 more problems") as info:
        read_stations(bad_csv(tmp_path, rows))
    assert len(str(info.value).splitlines()) == 11


def test_many_duplicates_are_cut_short(tmp_path: Path) -> None:
    rows = [f"S{i % 12},ambulance,1,18.0,59.3" for i in range(24)]
    with pytest.raises(InputFileError) as info:
        read_stations(bad_csv(tmp_path, rows))
    lines = str(info.value).splitlines()
    assert lines[0].endswith("stations.csv: duplicate station name 'S0' in rows 2 and 14")
    assert lines[9].endswith("stations.csv: duplicate station name 'S9' in rows 11 and 23")
    assert lines[10].endswith("stations.csv: ... and 2 more problems")


def test_swapped_sweref_coordinates(tmp_path: Path) -> None:
    x, y = expected_sweref()[0]
    path = bad_csv(
        tmp_path, [f"A,ambulance,1,{float(y)!r},{float(x)!r}"], header="name,fleet,units,x,y"
    )
    with pytest.raises(
        InputFileError,
        match=r"row 2 \(A\): \(6579\d+\.?\d*, 674\d+\.?\d*\) lies outside Sweden; the x "
        r"\(easting\) and y \(northing\) coordinates look swapped",
    ):
        read_stations(path, crs="EPSG:3006")


def test_xy_columns_need_a_crs(tmp_path: Path) -> None:
    path = bad_csv(tmp_path, ["A,ambulance,1,674000,6580000"], header="name,fleet,units,x,y")
    with pytest.raises(
        InputFileError,
        match=re.escape(
            "stations.csv: columns x/y need a CRS; pass crs='EPSG:3006' (SWEREF 99 TM) or similar"
        ),
    ):
        read_stations(path)


def test_unknown_crs(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"crs='EPSG:99999' is not a CRS pyproj knows"):
        read_stations(lonlat_csv(tmp_path), crs="EPSG:99999")
    with pytest.raises(ParameterError, match=r"crs='SWEREF 99 TN' is not a CRS"):
        read_stations(lonlat_csv(tmp_path), crs="SWEREF 99 TN")


def test_latitude_out_of_range_without_sweden_check(tmp_path: Path) -> None:
    path = bad_csv(tmp_path, ["A,ambulance,1,18.0,95.0"])
    with pytest.raises(InputFileError, match=r"row 2 \(A\): \(18, 95\) is not a longitude/lat"):
        read_stations(path, check_sweden=False)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "stations.csv"
    with pytest.raises(MissingFileError, match=re.escape(str(path))):
        read_stations(path)


def test_unknown_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "stations.xlsx", "not really excel")
    with pytest.raises(
        InputFileError,
        match=r"stations.xlsx: unknown file type '\.xlsx'; supported: \.csv, \.txt, "
        r"\.geojson, \.json, \.gpkg, \.parquet",
    ):
        read_stations(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"stations.csv is empty"),
        ("name,lon,lat\n", r"stations.csv holds no stations"),
        ("name,kommun\nA,Solna\n", r"stations.csv: no coordinate columns; expected one of"),
        ("name,lon,lat,x,y\nA,18,59,1,2\n", r"several coordinate column pairs \(lon/lat, x/y\)"),
        ("kommun,lon,lat\nSolna,18,59.3\n", r"stations.csv: no station name column"),
        ("name,Namn,lon,lat\nA,B,18,59.3\n", r"columns 'name', 'Namn' could each be the station"),
    ],
)
def test_bad_tables(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        read_stations(write(tmp_path / "stations.csv", text))


def test_bad_arguments(tmp_path: Path) -> None:
    path = lonlat_csv(tmp_path)
    with pytest.raises(ParameterError, match=r"default_fleet='bil' is not a fleet type"):
        read_stations(path, default_fleet="bil")
    with pytest.raises(ParameterError, match=r"default_units=0 must be a whole number >= 1"):
        read_stations(path, default_units=0)
    with pytest.raises(ParameterError, match=r"pass both x= and y="):
        read_stations(path, x="lon")
    with pytest.raises(InputFileError, match=r"no column 'öst'"):
        read_stations(path, x="öst", y="lat")
    with pytest.raises(ParameterError, match=r"layer='a' only applies to GeoPackage"):
        read_stations(path, layer="a")


# --------------------------------------------------------------------------
# Vector files
# --------------------------------------------------------------------------
def stations_gdf() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": [s[0] for s in STATIONS],
            "fleet": [s[1] for s in STATIONS],
            "units": [s[2] for s in STATIONS],
            "kommun": ["Stockholm", "Stockholm", "Solna"],
        },
        geometry=gpd.points_from_xy([s[3] for s in STATIONS], [s[4] for s in STATIONS]),
        crs="EPSG:4326",
    )


def test_geojson_round_trip(tmp_path: Path) -> None:
    first = read_stations(lonlat_csv(tmp_path))
    lonlat = tmp_path / "stations.geojson"
    first.to_crs("EPSG:4326").to_file(lonlat, engine="pyogrio")
    check_stations(read_stations(lonlat))
    sweref = tmp_path / "sweref.json"
    first.to_file(sweref, driver="GeoJSON", engine="pyogrio")
    again = read_stations(sweref)
    check_stations(again)
    assert again.crs == "EPSG:3006"


def test_gpkg_round_trip_keeps_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "stations.gpkg"
    stations_gdf().to_crs("EPSG:3006").to_file(path, layer="stations", engine="pyogrio")
    gdf = read_stations(path)
    check_stations(gdf)
    assert list(gdf.columns) == [*COLUMNS[:4], "kommun", "geometry"]
    assert list(gdf["kommun"]) == ["Stockholm", "Stockholm", "Solna"]
    # reading the result back gives the same frame (source_row is replaced)
    out = tmp_path / "again.gpkg"
    gdf.to_file(out, engine="pyogrio")
    pd.testing.assert_frame_equal(pd.DataFrame(read_stations(out)), pd.DataFrame(gdf))


def test_gpkg_layers(tmp_path: Path) -> None:
    path = tmp_path / "stations.gpkg"
    stations_gdf().to_file(path, layer="ambulans", engine="pyogrio")
    stations_gdf().iloc[:1].to_file(path, layer="pam", engine="pyogrio")
    with pytest.raises(
        InputFileError, match=r"stations.gpkg has several layers: ambulans, pam; pass layer="
    ):
        read_stations(path)
    check_stations(read_stations(path, layer="ambulans"))
    assert len(read_stations(path, layer="pam")) == 1
    with pytest.raises(ParameterError, match=r"layer='psyk' is not in .*ambulans, pam"):
        read_stations(path, layer="psyk")


def test_geoparquet_round_trip_and_missing_crs(tmp_path: Path) -> None:
    path = tmp_path / "stations.parquet"
    stations_gdf().to_parquet(path)
    check_stations(read_stations(path))

    sweref = stations_gdf().to_crs("EPSG:3006")
    no_crs = tmp_path / "nocrs.parquet"
    sweref.set_crs(None, allow_override=True).to_parquet(no_crs)
    with pytest.raises(InputFileError, match=r"nocrs.parquet declares no CRS; pass crs="):
        read_stations(no_crs)
    check_stations(read_stations(no_crs, crs="EPSG:3006"))
    with pytest.raises(ParameterError, match=r"crs='EPSG:3006' disagrees with the CRS"):
        read_stations(path, crs="EPSG:3006")


def test_gpkg_without_crs(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.gpkg"
    no_crs = stations_gdf().to_crs("EPSG:3006").set_crs(None, allow_override=True)
    # pyogrio warns that the file will have no CRS: that is what this test wants
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        no_crs.to_file(path, engine="pyogrio")
    with pytest.raises(InputFileError, match=r"nocrs.gpkg declares no CRS"):
        read_stations(path)
    check_stations(read_stations(path, crs="EPSG:3006"))


def test_vector_geometry_types(tmp_path: Path) -> None:
    gdf = stations_gdf()
    square = shapely.box(18.070, 59.314, 18.072, 59.316)
    gdf.loc[0, "geometry"] = square
    gdf.loc[1, "geometry"] = shapely.MultiPoint([(STATIONS[1][3], STATIONS[1][4])])
    path = tmp_path / "stations.geojson"
    gdf.to_file(path, engine="pyogrio")
    read = read_stations(path)
    # a polygon gives its representative point, which lies inside it
    inside = gpd.GeoSeries([square], crs="EPSG:4326").to_crs("EPSG:3006").iloc[0]
    assert inside.contains(read.geometry.iloc[0])
    np.testing.assert_allclose(coords(read)[1:], expected_sweref()[1:], rtol=0, atol=1e-6)

    gdf.loc[1, "geometry"] = shapely.MultiPoint([(18.0, 59.3), (18.1, 59.3)])
    gdf.loc[2, "geometry"] = shapely.LineString([(18.0, 59.3), (18.1, 59.3)])
    gdf.to_file(path, engine="pyogrio")
    with pytest.raises(InputFileError) as info:
        read_stations(path)
    assert str(info.value).splitlines() == [
        f"{path} row 2 (Kista): geometry is a MultiPoint of 2 points; a station needs one point",
        f"{path} row 3 (Solna): geometry is a LineString; a station needs a Point (or a "
        "Polygon, whose representative point is used)",
    ]


def test_geojson_swapped_and_bad_rows(tmp_path: Path) -> None:
    gdf = stations_gdf().rename(columns={"name": "Namn", "fleet": "typ"})
    gdf.loc[1, "geometry"] = shapely.Point(59.4030, 17.9490)
    gdf.loc[2, "typ"] = "ambulanse"
    gdf.loc[0, "geometry"] = None
    path = tmp_path / "stations.geojson"
    gdf.to_file(path, engine="pyogrio")
    with pytest.raises(InputFileError) as info:
        read_stations(path)
    assert str(info.value).splitlines() == [
        f"{path} row 1 (Södermalm): geometry is missing or empty",
        f"{path} row 2 (Kista): (59.403, 17.949) lies outside Sweden; latitude and longitude "
        "look swapped",
        f"{path} row 3 (Solna): unknown fleet type 'ambulanse'; use one of: ambulance, "
        "psychiatric (did you mean 'ambulance'?)",
    ]


def test_unreadable_vector_files(tmp_path: Path) -> None:
    path = write(tmp_path / "stations.geojson", '{"type": "FeatureCollection", "feat')
    with pytest.raises(InputFileError, match=r"stations.geojson cannot be read as geojson"):
        read_stations(path)
    path = tmp_path / "stations.gpkg"
    path.write_bytes(np.random.default_rng(1).bytes(3000))
    with pytest.raises(InputFileError, match=r"stations.gpkg cannot be read as a GeoPackage"):
        read_stations(path)
    path = tmp_path / "stations.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(InputFileError, match=r"stations.parquet cannot be read as parquet"):
        read_stations(path)


# --------------------------------------------------------------------------
# validate_stations
# --------------------------------------------------------------------------
def test_validate_stations_on_built_frame() -> None:
    gdf = stations_gdf().rename(columns={"name": "Station", "units": "Antal"})
    gdf.index = [10, 20, 30]
    out = validate_stations(gdf, source="my stations")
    check_stations(out)
    assert list(out.index) == [0, 1, 2]
    assert list(gdf.columns) == ["Station", "fleet", "Antal", "kommun", "geometry"]  # unchanged
    pd.testing.assert_frame_equal(validate_stations(out), out)  # idempotent

    bare = gdf.drop(columns=["fleet", "Antal"])
    out = validate_stations(bare, default_fleet="psykiatri", default_units=2)
    assert set(out["fleet"]) == {"psychiatric"}
    assert set(out["units"]) == {2}
    assert set(out["fleet"]) <= set(FLEET_TYPES)


def test_validate_stations_errors() -> None:
    gdf = stations_gdf()
    gdf.loc[2, "name"] = "Kista"
    gdf.loc[0, "units"] = -1
    with pytest.raises(InputFileError) as info:
        validate_stations(gdf, source="my stations")
    assert str(info.value).splitlines() == [
        "my stations row 1 (Södermalm): units must be a whole number >= 1, got -1",
        "my stations: duplicate station name 'Kista' in rows 2 and 3",
    ]
    with pytest.raises(InputFileError, match=r"my stations: the stations have no CRS"):
        validate_stations(stations_gdf().set_crs(None, allow_override=True), source="my stations")
    with pytest.raises(ParameterError, match=r"needs a GeoDataFrame, not DataFrame"):
        validate_stations(pd.DataFrame({"name": ["A"]}))
    with pytest.raises(ParameterError, match=r"no active geometry column"):
        validate_stations(gpd.GeoDataFrame({"name": ["A"]}))


# --------------------------------------------------------------------------
# OSM
# --------------------------------------------------------------------------
OSM_FILES = ("andorra.osm.pbf", "stockholm-sodermalm.osm.pbf", "umea-ostra.osm")


def xml_objects(path: Path, key: str, value: str) -> set[tuple[str, int]]:
    """(type, id) of nodes, ways and relations with key=value, read with ElementTree."""
    found = set()
    for _, element in ET.iterparse(path):
        if element.tag in ("node", "way", "relation") and any(
            tag.get("k") == key and tag.get("v") == value for tag in element.iter("tag")
        ):
            found.add((element.tag, int(element.get("id", "0"))))
    return found


def pyrosm_objects(path: Path, key: str, value: str) -> gpd.GeoDataFrame | None:
    """Objects with key=value read by pyrosm (an independent PBF parser)."""
    pyrosm = pytest.importorskip("pyrosm")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pyrosm.OSM(str(path)).get_pois(custom_filter={key: [value]})
    # pyrosm (0.6.x / 0.25) warns "Could not find any POIs for given area." and
    # returns None when nothing matches; any other warning is a failure.
    messages = [str(w.message) for w in caught]
    assert all("Could not find any POIs" in m for m in messages), messages
    assert (result is None) == bool(messages)
    return result


def independent_objects(path: Path, key: str, value: str) -> set[tuple[str, int]]:
    if path.name.endswith(".pbf"):
        result = pyrosm_objects(path, key, value)
        if result is None:
            return set()
        return set(zip(result["osm_type"], result["id"].astype(int), strict=True))
    return xml_objects(path, key, value)


def osm_objects(gdf: gpd.GeoDataFrame, id_column: str) -> set[tuple[str, int]]:
    return set(zip(gdf["osm_type"], gdf[id_column].astype(int), strict=True))


@pytest.mark.parametrize("name", OSM_FILES)
def test_osm_stations_real_data(shared_data: Path, name: str) -> None:
    path = shared_data / "osm" / name
    stations = read_osm_stations(path)
    assert list(stations.columns) == [*COLUMNS[:4], "osm_type", "geometry"]
    assert stations.crs == "EPSG:3006"
    expected = independent_objects(path, "emergency", "ambulance_station")
    assert osm_objects(stations, "source_row") == expected
    # None of the three extracts maps an ambulance station (checked independently
    # above); the synthetic files below exercise the non-empty case.
    assert len(stations) == 0


# Hospitals (amenity=hospital) per file, counted as OSM objects of every type.
# Andorra's README says "6 hospitals": the file has 6 hospital nodes and one
# hospital way (194554955, not near any of the nodes), so 7 objects.
HOSPITALS = {
    "andorra.osm.pbf": {"node": 6, "way": 1},
    "stockholm-sodermalm.osm.pbf": {},
    "umea-ostra.osm": {"way": 1},
}


@pytest.mark.parametrize("name", OSM_FILES)
def test_osm_hospitals_real_data(shared_data: Path, name: str) -> None:
    path = shared_data / "osm" / name
    pois = read_osm_pois(path, tags={"amenity": ["hospital"]})
    assert list(pois.columns) == ["osm_id", "osm_type", "name", "tag", "geometry"]
    assert pois.crs == ("EPSG:32631" if name == "andorra.osm.pbf" else "EPSG:3006")
    assert osm_objects(pois, "osm_id") == independent_objects(path, "amenity", "hospital")
    assert pois["osm_type"].value_counts().to_dict() == HOSPITALS[name]
    assert set(pois["tag"]) <= {"amenity=hospital"}


def test_osm_hospital_points_match_pyrosm(shared_data: Path) -> None:
    path = shared_data / "osm" / "andorra.osm.pbf"
    pois = read_osm_pois(path, tags={"amenity": "hospital"})
    other = pyrosm_objects(path, "amenity", "hospital")
    assert other is not None
    other = other.assign(id=other["id"].astype(int)).set_index(["osm_type", "id"])
    theirs = other.geometry.to_crs(pois.crs).centroid
    ours = pois.set_index(["osm_type", "osm_id"]).geometry
    distance = ours.distance(theirs.loc[ours.index].set_axis(ours.index))
    assert distance.max() < 1e-3  # metres


def test_osm_hospital_umea(shared_data: Path) -> None:
    pois = read_osm_pois(shared_data / "osm" / "umea-ostra.osm", tags={"amenity": ["hospital"]})
    assert pois.iloc[0]["name"] == "Norrlands universitetssjukhus"
    assert pois.iloc[0]["osm_id"] == 202665362


def test_osm_boundary(shared_data: Path) -> None:
    path = shared_data / "osm" / "andorra.osm.pbf"
    west = shapely.box(1.40, 42.40, 1.55, 42.60)  # lon/lat, the western half
    pois = read_osm_pois(path, tags={"amenity": ["hospital"]}, boundary=west)
    assert sorted(pois["osm_id"]) == [194554955, 522787974, 2050364490]
    as_frame = gpd.GeoDataFrame(geometry=[west], crs="EPSG:4326").to_crs("EPSG:3006")
    same = read_osm_pois(path, tags={"amenity": ["hospital"]}, boundary=as_frame)
    assert sorted(same["osm_id"]) == sorted(pois["osm_id"])
    sweref_box = shapely.box(600000, 6500000, 700000, 6600000)
    with pytest.raises(ParameterError, match=r"boundary must be in EPSG:4326"):
        read_osm_pois(path, tags={"amenity": ["hospital"]}, boundary=sweref_box)


def test_osm_bz2_reads_like_xml(shared_data: Path, tmp_path: Path) -> None:
    plain = shared_data / "osm" / "umea-ostra.osm"
    packed = tmp_path / "umea-ostra.osm.bz2"
    packed.write_bytes(bz2.compress(plain.read_bytes()))
    tags = {"amenity": ["hospital"], "highway": ["bus_stop"]}
    pd.testing.assert_frame_equal(read_osm_pois(packed, tags=tags), read_osm_pois(plain, tags=tags))


SYNTHETIC_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="59.3150" lon="18.0710">
    <tag k="emergency" v="ambulance_station"/><tag k="name" v="Södermalm"/>
  </node>
  <node id="2" lat="59.4030" lon="17.9490"><tag k="emergency" v="ambulance_station"/></node>
  <node id="3" lat="59.3600" lon="18.0000">
    <tag k="emergency" v="ambulance_station"/><tag k="name" v="Ambulansstation"/>
  </node>
  <node id="4" lat="59.3700" lon="18.0100"><tag k="amenity" v="hospital"/></node>
  <node id="10" lat="59.3300" lon="18.0300"/>
  <node id="11" lat="59.3300" lon="18.0320"/>
  <node id="12" lat="59.3310" lon="18.0320"/>
  <node id="13" lat="59.3310" lon="18.0300"/>
  <node id="20" lat="59.3400" lon="18.1000"/>
  <node id="21" lat="59.3400" lon="18.1020"/>
  <node id="22" lat="59.3410" lon="18.1020"/>
  <node id="23" lat="59.3410" lon="18.1000"/>
  <way id="100">
    <nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="10"/>
    <tag k="emergency" v="ambulance_station"/><tag k="name" v="Ambulansstation"/>
  </way>
  <way id="101"><nd ref="20"/><nd ref="21"/><nd ref="22"/><nd ref="23"/><nd ref="20"/></way>
  <relation id="1000">
    <member type="way" ref="101" role="outer"/>
    <tag k="type" v="multipolygon"/><tag k="emergency" v="ambulance_station"/>
    <tag k="name" v="Lidingövägen"/>
  </relation>
</osm>
"""


def square_centre(lon0: float, lat0: float, lon1: float, lat1: float) -> tuple[float, float]:
    x, y = TO_SWEREF.transform((lon0 + lon1) / 2, (lat0 + lat1) / 2)
    return float(x), float(y)


def test_osm_stations_synthetic(tmp_path: Path) -> None:
    path = write(tmp_path / "stations.osm", SYNTHETIC_OSM)
    stations = read_osm_stations(path)
    assert osm_objects(stations, "source_row") == xml_objects(
        path, "emergency", "ambulance_station"
    )
    assert list(stations["name"]) == [
        "Södermalm",
        "ambulance station 2",
        "Ambulansstation (node 3)",
        "Ambulansstation (way 100)",
        "Lidingövägen",
    ]
    assert list(stations["osm_type"]) == ["node", "node", "node", "way", "relation"]
    assert list(stations["source_row"]) == [1, 2, 3, 100, 1000]
    assert set(stations["fleet"]) == {"ambulance"}
    assert set(stations["units"]) == {1}
    expected = [
        *expected_sweref(),
        square_centre(18.030, 59.330, 18.032, 59.331),
        square_centre(18.100, 59.340, 18.102, 59.341),
    ]
    # nodes exactly; areas as their centroid, close to the transformed lon/lat centre
    np.testing.assert_allclose(coords(stations)[:3], expected[:3], rtol=0, atol=1e-6)
    np.testing.assert_allclose(coords(stations)[3:], expected[3:], rtol=0, atol=0.05)

    south = shapely.box(17.9, 59.30, 18.2, 59.335)
    inside = read_osm_stations(path, boundary=south)
    assert list(inside["source_row"]) == [1, 100]


def test_osm_pois_tags(tmp_path: Path) -> None:
    path = write(tmp_path / "pois.osm", SYNTHETIC_OSM)
    pois = read_osm_pois(path, tags={"amenity": ["hospital"], "emergency": ["ambulance_station"]})
    assert len(pois) == 6
    assert pois.set_index("osm_id").loc[4, "tag"] == "amenity=hospital"
    assert pois.set_index("osm_id").loc[1000, "tag"] == "emergency=ambulance_station"
    assert pois.set_index("osm_id").loc[2, "name"] is None
    none = read_osm_pois(path, tags={"amenity": ["clinic"]})
    assert len(none) == 0
    assert list(none.columns) == ["osm_id", "osm_type", "name", "tag", "geometry"]
    assert none.crs == "EPSG:3006"
    with pytest.raises(ParameterError, match=r"tags must be a non-empty mapping"):
        read_osm_pois(path, tags={})
    with pytest.raises(ParameterError, match=r"tags\['amenity'\] holds 3"):
        read_osm_pois(path, tags={"amenity": [3]})  # type: ignore[list-item]


def test_osm_pbf_synthetic_against_pyrosm(tmp_path: Path) -> None:
    import osmium
    from osmium.osm.mutable import Node, Way

    path = tmp_path / "stations.osm.pbf"
    with osmium.SimpleWriter(str(path)) as writer:
        for i, (name, _, _, lon, lat) in enumerate(STATIONS, start=1):
            tags = {"emergency": "ambulance_station", "name": name}
            writer.add_node(Node(id=i, location=(lon, lat), tags=tags))
        corners = [(18.030, 59.330), (18.032, 59.330), (18.032, 59.331), (18.030, 59.331)]
        for i, corner in enumerate(corners, start=10):
            writer.add_node(Node(id=i, location=corner))
        writer.add_way(
            Way(id=100, nodes=[10, 11, 12, 13, 10], tags={"emergency": "ambulance_station"})
        )
    stations = read_osm_stations(path)
    assert osm_objects(stations, "source_row") == independent_objects(
        path, "emergency", "ambulance_station"
    )
    assert list(stations["name"]) == [*(s[0] for s in STATIONS), "ambulance station 100"]
    np.testing.assert_allclose(coords(stations)[:3], expected_sweref(), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("corrupt.osm.pbf", np.random.default_rng(0).bytes(5000)),
        ("truncated.osm", SYNTHETIC_OSM.encode()[:400]),
        ("empty.osm.pbf", b""),
    ],
)
def test_osm_corrupt_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=rf"{re.escape(str(path))} is not a readable OSM"):
        read_osm_stations(path)


def test_osm_missing_file_and_suffix(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"nowhere.osm.pbf does not exist"):
        read_osm_stations(tmp_path / "nowhere.osm.pbf")
    path = write(tmp_path / "stations.csv", "name,lon,lat\n")
    with pytest.raises(InputFileError, match=r"stations.csv: not an OSM file name; supported"):
        read_osm_stations(path)


# --------------------------------------------------------------------------
# Ambulance stations from Overpass (OSMnx faked: tests never touch the network)
# --------------------------------------------------------------------------
def _fake_features(rows: list[tuple[str, int, str | None, object]]) -> gpd.GeoDataFrame:
    """A frame shaped like ``osmnx.features_from_polygon``'s: (element, id) index."""
    index = pd.MultiIndex.from_tuples([(e, i) for e, i, _, _ in rows], names=["element", "id"])
    return gpd.GeoDataFrame(
        {"name": [n for *_, n, _ in rows], "emergency": "ambulance_station"},
        geometry=[g for *_, g in rows],
        crs="EPSG:4326",
        index=index,
    )


def test_download_osm_stations_faked(monkeypatch: pytest.MonkeyPatch) -> None:
    import osmnx as ox

    from planner.inputs.sites import download_osm_stations

    square = shapely.box(18.29, 57.63, 18.30, 57.64)
    sent: dict[str, object] = {}

    def fake(polygon: object, tags: dict[str, object]) -> gpd.GeoDataFrame:
        sent["tags"] = tags
        return _fake_features(
            [
                ("node", 11, "Visby ambulansstation", shapely.Point(18.2948, 57.6348)),
                ("way", 12, None, square),
            ]
        )

    monkeypatch.setattr(ox, "features_from_polygon", fake)
    stations = download_osm_stations(shapely.box(18.0, 57.0, 19.5, 58.0))
    assert sent["tags"] == {"emergency": ["ambulance_station"]}
    assert list(stations["name"]) == ["Visby ambulansstation", "ambulance station 12"]
    assert list(stations["source_row"]) == [11, 12]
    expected = gpd.GeoSeries([square], crs="EPSG:4326").to_crs("EPSG:3006").centroid.iloc[0]
    assert stations.geometry.iloc[1].distance(expected) < 1e-6
    assert stations.crs.to_epsg() == 3006


def test_download_osm_stations_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    import osmnx as ox

    from planner.errors import DownloadError
    from planner.inputs.sites import download_osm_stations

    def down(polygon: object, tags: object) -> None:
        raise ConnectionError("Max retries exceeded")

    monkeypatch.setattr(ox, "features_from_polygon", down)
    with pytest.raises(DownloadError, match="ambulance stations failed: Max retries"):
        download_osm_stations(shapely.box(18.0, 57.0, 19.5, 58.0))
