"""Coverage runs end to end: tables equal a brute-force recomputation from the engine."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import amenity_demand

from planner.analysis.coverage import CoverageSettings
from planner.errors import ParameterError
from planner.inputs.demand import assign_demand_areas, demand_from_buildings
from planner.inputs.sites import read_osm_pois, validate_stations
from planner.network.road_network import RoadNetwork
from planner.network.snapping import snap_points
from planner.network.travel_times import build_travel_time_graph, point_times
from planner.run.cli import main
from planner.run.pipeline import run_coverage, write_coverage


def brute_force_rows(
    net: RoadNetwork, stations: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, group: str
) -> dict[object, dict[str, float]]:
    """Per group: demand, shares and times computed point by point from point_times."""
    ttg = build_travel_time_graph(net.graph)
    times = point_times(
        ttg, snap_points(net.graph, stations), destinations=snap_points(net.graph, demand)
    )
    response = times.min(axis=0) + net.settings.speed_model.turnout_s
    rows: dict[object, dict[str, float]] = {}
    for key in demand[group].fillna("(none)").unique():
        members = np.flatnonzero(demand[group].fillna("(none)").to_numpy() == key)
        w = demand["weight"].to_numpy()[members]
        t = response[members]
        reached = np.isfinite(t) & (w > 0)
        # weighted median by expanding integer weights
        expanded = np.sort(np.repeat(t[reached], w[reached].astype(int))) / 60
        rows[key] = {
            "demand": w.sum(),
            "demand_unreachable": w[~np.isfinite(t)].sum(),
            "share_within_10_min": w[t <= 600].sum() / w.sum(),
            "median_min": expanded[int(np.ceil(0.5 * len(expanded))) - 1],
            "max_min": t[reached].max() / 60,
        }
    return rows


@pytest.fixture(scope="module")
def andorra_case(andorra_net: RoadNetwork, andorra_pbf: Path) -> dict[str, object]:
    """Andorra's hospitals near a road as stations; its OSM shops, cafés ... as demand."""
    hospitals = read_osm_pois(andorra_pbf, tags={"amenity": ["hospital"]})
    hospitals = hospitals[hospitals["osm_id"].isin([522787974, 2050364490, 194554955])]
    stations = validate_stations(
        hospitals.assign(
            name=[f"H{i}" for i in hospitals["osm_id"]],
            fleet=["ambulance", "psychiatric", "ambulance"],
        ),
        check_sweden=False,
    )
    pois = read_osm_pois(
        andorra_pbf,
        tags={"amenity": ["restaurant", "cafe", "bank", "pharmacy", "school", "bar", "fuel"]},
    )
    demand = amenity_demand(
        pois,
        seed=5,
        high=40,
        # a stand-in grouping: west or east of the capital
        municipality_code=np.where(pois.geometry.x < -608000, "W", "E"),
        municipality="n/a",
    )
    return {"net": andorra_net, "stations": stations, "demand": demand}


def test_andorra_tables_equal_brute_force(andorra_case: dict) -> None:
    net, stations, demand = andorra_case["net"], andorra_case["stations"], andorra_case["demand"]
    assert len(demand) >= 80
    result = run_coverage(net, stations, demand, draw_isochrones=False)
    expected = brute_force_rows(net, stations, demand, "municipality_code")
    table = result.tables["municipality"].set_index("municipality_code")
    for key, row in expected.items():
        for column, value in row.items():
            assert table.loc[key, column] == pytest.approx(value), (key, column)
    total = result.tables["total"].iloc[0]
    assert total["demand"] == pytest.approx(demand["weight"].sum())
    # the station table splits the same demand by nearest station
    assert result.tables["station"]["demand"].sum() == pytest.approx(total["demand"])


def test_band_demand_is_counted_by_response_time(andorra_case: dict) -> None:
    """``demand_within`` of every band equals a count from the demand's own times.

    Independent times: every station to every demand point (point_times),
    plus the turn-out. Fleet bands count the nearest station's response,
    station bands the station's own, catchments the nearest station's own
    points; fleet bands and catchments also equal the tables' shares ×
    demand. ``demand_in_polygon`` is the points inside each polygon.
    """
    net, stations, demand = andorra_case["net"], andorra_case["stations"], andorra_case["demand"]
    settings = CoverageSettings(thresholds_min=(5, 10, 15))
    result = run_coverage(net, stations, demand, coverage=settings)
    ttg = build_travel_time_graph(net.graph)
    drive = point_times(
        ttg, snap_points(net.graph, stations), destinations=snap_points(net.graph, demand)
    )
    times = drive + net.settings.speed_model.turnout_s
    best, nearest = times.min(axis=0), times.argmin(axis=0)
    w = demand["weight"].to_numpy(float)
    names = stations["name"].tolist()
    total = result.tables["total"].iloc[0]
    for band in result.fleet_bands.itertuples():
        assert band.demand_within == w[best <= band.band_min * 60].sum()
        share = total[settings.column(band.band_min)]
        assert share * total["demand"] == pytest.approx(band.demand_within, rel=1e-12)
    for band in result.station_bands.itertuples():
        row = names.index(band.station)
        assert band.demand_within == w[times[row] <= band.band_min * 60].sum()
    by_station = result.tables["station"].set_index("station")
    for band in result.catchments.itertuples():
        own = (nearest == names.index(band.station)) & np.isfinite(best)
        assert band.demand_within == w[own & (best <= band.band_min * 60)].sum()
        table = by_station.loc[band.station]
        assert table[settings.column(band.band_min)] * table["demand"] == pytest.approx(
            band.demand_within, rel=1e-12
        )
    for layer in (result.fleet_bands, result.station_bands, result.catchments):
        points = demand.to_crs(layer.crs).geometry.to_numpy()
        inside = [w[shapely.contains(geom, points)].sum() for geom in layer.geometry]
        np.testing.assert_allclose(layer["demand_in_polygon"], inside)
    assert (result.station_bands["demand_within"] > 0).any()


def test_fleet_filter_and_missing_fleet(andorra_case: dict) -> None:
    net, stations, demand = andorra_case["net"], andorra_case["stations"], andorra_case["demand"]
    psy = run_coverage(net, stations, demand, fleet="psychiatric", draw_isochrones=False)
    assert set(psy.demand["nearest_station"].dropna()) == {"H2050364490"}
    only_ambulances = stations[stations["fleet"] == "ambulance"]
    with pytest.raises(ParameterError, match="fleet 'psychiatric' has no stations"):
        run_coverage(net, only_ambulances, demand, fleet="psychiatric")


def test_sodermalm_buildings_coverage_and_outputs(
    sodermalm_net: RoadNetwork, sodermalm_pbf: Path, tmp_path: Path
) -> None:
    demand = assign_demand_areas(demand_from_buildings(sodermalm_pbf, total=1700))
    assert set(demand["municipality_code"]) == {"0180"}
    stations = validate_stations(
        gpd.GeoDataFrame(
            {"name": ["Mariatorget"]},
            geometry=[shapely.Point(18.0605, 59.3172)],
            crs="EPSG:4326",
        )
    )
    settings = CoverageSettings(thresholds_min=(5, 10, 15))
    result = run_coverage(sodermalm_net, stations, demand, coverage=settings)
    expected = brute_force_rows(sodermalm_net, stations, demand, "municipality_code")["0180"]
    row = result.tables["municipality"].set_index("municipality_code").loc["0180"]
    assert row["demand"] == pytest.approx(1700)
    assert row["demand_unreachable"] == pytest.approx(expected["demand_unreachable"])
    assert row["max_min"] == pytest.approx(expected["max_min"])
    paths = write_coverage(result, tmp_path / "out")
    layers = set(gpd.list_layers(paths["gpkg"])["name"])
    assert {"stations", "demand", "isochrones", "station_isochrones", "catchments"} <= layers
    web = gpd.read_file(paths["geojson"])
    assert web.crs.to_epsg() == 4326
    assert list(web["band_min"]) == [5, 10, 15]
    assert len(gpd.read_parquet(paths["demand_parquet"])) == len(demand)
    sheets = pd.read_excel(paths["xlsx"], sheet_name=None)
    # readable sheet names (issue 14)
    assert {"Total", "Regions", "Municipalities", "Stations", "metadata"} <= set(sheets)
    meta = json.loads(Path(str(paths["coverage_total"]) + ".meta.json").read_text())
    assert meta["osm_data_date"] == "2020-07-20T10:35:03Z"
    assert meta["thresholds_min"] == [5, 10, 15]
    assert "OpenStreetMap" in meta["attribution"]
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_coverage(result, tmp_path / "out")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.fixture
def stations_csv(tmp_path: Path) -> Path:
    path = tmp_path / "stations.csv"
    path.write_text("name;fleet;lat;lon\nMariatorget;ambulans;59,3172;18,0605\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("name,lon,lat\nA,18.06,59.315\n", [], "no weight column"),
        ("name,lon,lat,pop\nA,18.06,59.315,-3\n", [], "demand.csv (--demand) row 2 (A)"),
        ("name,lon,lat,pop\nA,,59.315,3\n", [], "longitude is missing"),
        ("name,lon,lat,pop\nA,18.06,59.315,3\n", ["--thresholds", "20,10"], "increasing"),
        ("name,lon,lat,pop\nA,18.06,59.315,3\n", ["--fleet", "psychiatric"], "no stations"),
    ],
)
def test_coverage_cli_bad_input(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    sodermalm_pbf: Path,
    stations_csv: Path,
    content: str,
    extra: list[str],
    message: str,
) -> None:
    demand = tmp_path / "demand.csv"
    demand.write_text(content, encoding="utf-8")
    code, err = run(
        capsys, "coverage", "--pbf", str(sodermalm_pbf), "--stations", str(stations_csv),
        "--demand", str(demand), "--out-dir", str(tmp_path / "out"), "--no-cache", *extra,
    )  # fmt: skip
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err


def test_coverage_cli_grid_in_wrong_crs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sodermalm_pbf: Path, stations_csv: Path
) -> None:
    square = shapely.box(18.05, 59.31, 18.07, 59.32)
    grid = tmp_path / "grid.gpkg"
    gpd.GeoDataFrame({"pop": [10]}, geometry=[square], crs="EPSG:4326").to_file(grid)
    code, err = run(
        capsys, "coverage", "--pbf", str(sodermalm_pbf), "--stations", str(stations_csv),
        "--demand", str(grid), "--demand-type", "grid", "--out-dir", str(tmp_path / "o"),
        "--no-cache",
    )  # fmt: skip
    assert code == 2
    assert "EPSG:3006" in err


def test_coverage_and_isochrones_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sodermalm_pbf: Path, stations_csv: Path
) -> None:
    out = tmp_path / "cov"
    code, err = run(
        capsys, "coverage", "--pbf", str(sodermalm_pbf), "--stations", str(stations_csv),
        "--demand", str(sodermalm_pbf), "--demand-type", "buildings", "--total", "1700",
        "--region", "Stockholm", "--out-dir", str(out), "--no-cache", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    # a Swedish region: Swedish by default (issue 14), the CSV in Swedish Excel's dialect
    assert "efterfrågan 1\u00a0700 personer: " in err
    raw = (out / "coverage_region.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.splitlines()[0]
    table = pd.read_csv(
        out / "coverage_region.csv", sep=";", decimal=",", encoding="utf-8-sig",
        dtype={"region_code": str},
    )  # fmt: skip
    assert table["region_code"].tolist() == ["01"]
    assert table["demand"].iloc[0] == pytest.approx(1700)
    meta = json.loads((out / "coverage_region.csv.meta.json").read_text())
    assert str(sodermalm_pbf) in meta["input_sha256"]
    iso = tmp_path / "iso.gpkg"
    code, err = run(
        capsys, "isochrones", "--pbf", str(sodermalm_pbf), "--stations", str(stations_csv),
        "--out", str(iso), "--geojson", str(tmp_path / "iso.geojson"), "--thresholds", "3,6",
        "--no-cache", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    bands = gpd.read_file(iso, layer="isochrones")
    assert bands["band_min"].tolist() == [3, 6]
    assert bands.crs.to_epsg() == 3006
    assert (np.diff(bands["area_km2"]) >= 0).all()
