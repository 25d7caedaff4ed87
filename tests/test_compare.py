"""Comparing two real run folders (Andorra): changes equal an independent recomputation."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import ANDORRA_AMENITIES, amenity_demand

from planner.analysis.coverage import CoverageSettings
from planner.errors import (
    InputFileError,
    MissingFileError,
    OutputExistsError,
    ParameterError,
)
from planner.inputs.candidates import candidates_on_grid
from planner.inputs.sites import read_osm_pois, validate_stations
from planner.network.road_network import RoadNetwork
from planner.outputs.compare import Comparison, compare_runs, read_run_tables, write_comparison
from planner.run.pipeline import (
    OptimiseSettings,
    run_coverage,
    run_optimise,
    write_coverage,
    write_optimise,
)

THRESHOLDS = (5.0, 10.0, 20.0)
HOSPITALS = (2050364490, 194554955)  # near a road (see test_optimise_pipeline)


def andorra_demand(pbf: Path, *, third: bool = False) -> gpd.GeoDataFrame:
    """OSM amenities of Andorra as demand, in two stand-in "municipalities" (west/east).

    With ``third``, the points furthest north form a third one, "AD-N".
    """
    pois = read_osm_pois(pbf, tags={"amenity": list(ANDORRA_AMENITIES)}).to_crs("EPSG:3006")
    x, y = pois.geometry.x.to_numpy(), pois.geometry.y.to_numpy()
    code = np.where(x < np.median(x), "AD-W", "AD-E")
    if third:
        code = np.where(y > np.quantile(y, 0.8), "AD-N", code)
    names = {"AD-W": "West", "AD-E": "East", "AD-N": "North"}
    return amenity_demand(pois, municipality_code=code, municipality=[names[c] for c in code])


def boundaries_for(demand: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Two box "municipalities" split where the demand is split, and a region box."""
    x = demand.geometry.x.to_numpy()
    code = demand["municipality_code"].to_numpy()
    minx, miny, maxx, maxy = demand.total_bounds
    split = (x[code == "AD-W"].max() + x[code == "AD-E"].min()) / 2
    pad = 1000.0
    return gpd.GeoDataFrame(
        {
            "name": ["West", "East", "Andorra"],
            "code": ["AD-W", "AD-E", "AD"],
            "level": ["municipality", "municipality", "region"],
        },
        geometry=[
            shapely.box(minx - pad, miny - pad, split, maxy + pad),
            shapely.box(split, miny - pad, maxx + pad, maxy + pad),
            shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad),
        ],
        crs="EPSG:3006",
    )


@pytest.fixture(scope="module")
def runs(
    andorra_net: RoadNetwork, andorra_pbf: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    """Run folders: A (one hospital, with a manifest), B (two hospitals, no manifest),
    B_geo (as B, with boundaries and an optimise/ folder) and C (thresholds 10 and 30,
    a third municipality)."""
    root = tmp_path_factory.mktemp("runs")
    hospitals = read_osm_pois(andorra_pbf, tags={"amenity": ["hospital"]})
    hospitals = hospitals[hospitals["osm_id"].isin(HOSPITALS)].sort_values("osm_id")
    stations = validate_stations(
        hospitals.assign(name=[f"H{i}" for i in hospitals["osm_id"]], fleet="ambulance"),
        check_sweden=False,
    )
    demand = andorra_demand(andorra_pbf)
    settings = CoverageSettings(thresholds_min=THRESHOLDS)
    one = stations[stations["name"] == f"H{HOSPITALS[0]}"].reset_index(drop=True)
    result_a = run_coverage(andorra_net, one, demand, coverage=settings, draw_isochrones=False)
    result_b = run_coverage(andorra_net, stations, demand, coverage=settings,
                            draw_isochrones=False)  # fmt: skip
    write_coverage(result_a, root / "A")
    (root / "A" / "manifest.json").write_text(
        json.dumps(
            {"name": "2023 stations", "planner_version": "0.1.0", "created": "2023-05-01T10:00:00"}
        ),
        encoding="utf-8",
    )
    write_coverage(result_b, root / "B")
    write_coverage(result_b, root / "B_geo")
    boundaries_for(demand).to_file(
        root / "B_geo" / "coverage.gpkg", layer="boundaries", driver="GPKG", engine="pyogrio"
    )
    optimised = run_optimise(
        andorra_net, stations, demand, candidates_on_grid(andorra_net, spacing_m=2000),
        settings=OptimiseSettings(objective="mclp", add=2, threshold_min=8),
        coverage=settings,
    )  # fmt: skip
    write_optimise(optimised, root / "B_geo" / "optimise")
    write_optimise(optimised, root / "B" / "optimise")
    result_c = run_coverage(
        andorra_net, stations, andorra_demand(andorra_pbf, third=True),
        coverage=CoverageSettings(thresholds_min=(10.0, 30.0)), draw_isochrones=False,
    )  # fmt: skip
    write_coverage(result_c, root / "C")
    return {
        "root": root,
        "A": result_a,
        "B": result_b,
        "C": result_c,
        "optimised": optimised,
        "demand": demand,
    }


def read_municipality(path: Path) -> pd.DataFrame:
    """A municipality table read independently of planner.outputs.compare."""
    return pd.read_csv(path, dtype={"municipality_code": str}).set_index("municipality_code")


METRICS = (
    "demand",
    "share_unreachable",
    "share_within_5_min",
    "share_within_10_min",
    "share_within_20_min",
    "median_min",
    "p90_min",
    "gini",
)


def test_changes_equal_the_tables(runs: dict) -> None:
    root = runs["root"]
    comparison = compare_runs(root / "A", root / "B")
    assert isinstance(comparison, Comparison)
    assert comparison.run_a == "2023 stations"  # from the manifest
    assert comparison.run_b == "B"  # no manifest: the folder name
    assert (comparison.state_a, comparison.state_b) == ("before", "before")
    assert comparison.thresholds_min == THRESHOLDS
    assert comparison.dropped_thresholds_min == ()
    a = read_municipality(root / "A" / "coverage_municipality.csv")
    b = read_municipality(root / "B" / "coverage_municipality.csv")
    table = comparison.municipality.set_index("municipality_code")
    assert sorted(table.index) == ["AD-E", "AD-W"]
    assert (table["present_in"] == "both").all()
    assert table.loc["AD-W", "municipality"] == "West"
    for code in table.index:
        for metric in METRICS:
            va, vb = a.loc[code, metric], b.loc[code, metric]
            assert table.loc[code, f"{metric}_a"] == pytest.approx(va, nan_ok=True)
            assert table.loc[code, f"{metric}_b"] == pytest.approx(vb, nan_ok=True)
            assert table.loc[code, f"{metric}_change"] == pytest.approx(vb - va, nan_ok=True)
    # a second station improves coverage somewhere, and the in-memory tables agree
    assert (table["share_within_10_min_change"] >= -1e-12).all()
    assert table["share_within_10_min_change"].max() > 0
    memory = runs["B"].tables["municipality"].set_index("municipality_code")
    assert table.loc["AD-E", "p90_min_b"] == pytest.approx(memory.loc["AD-E", "p90_min"])
    total_a = pd.read_csv(root / "A" / "coverage_total.csv").iloc[0]
    total_b = pd.read_csv(root / "B" / "coverage_total.csv").iloc[0]
    total = comparison.total.iloc[0]
    for metric in METRICS:
        assert total[f"{metric}_change"] == pytest.approx(total_b[metric] - total_a[metric])


def weighted_quantile_by_hand(t: np.ndarray, w: np.ndarray, q: float) -> float:
    """Smallest reached time by which at least q of the reached weight is served."""
    reached = np.isfinite(t) & (w > 0)
    t, w = t[reached], w[reached]
    order = np.argsort(t)
    cumulative = np.cumsum(w[order])
    return float(t[order][np.searchsorted(cumulative, q * cumulative[-1] - 1e-9)])


def test_medians_from_the_demand_layers(runs: dict) -> None:
    root = runs["root"]
    table = compare_runs(root / "A", root / "B").municipality.set_index("municipality_code")
    for side in ("A", "B"):
        points = gpd.read_file(root / side / "coverage.gpkg", layer="demand")
        for code, group in points.groupby("municipality_code"):
            t = group["response_min"].to_numpy(dtype=float)
            w = group["weight"].to_numpy(dtype=float)
            suffix = side.lower()
            median = weighted_quantile_by_hand(t, w, 0.5)
            p90 = weighted_quantile_by_hand(t, w, 0.9)
            assert table.loc[code, f"median_min_{suffix}"] == pytest.approx(median)
            assert table.loc[code, f"p90_min_{suffix}"] == pytest.approx(p90)


def test_point_layer_without_boundaries(runs: dict) -> None:
    root = runs["root"]
    comparison = compare_runs(root / "A", root / "B")
    layer = comparison.layer
    assert any("demand points" in note for note in comparison.notes)
    assert layer.crs.to_epsg() == 32631  # the runs' own CRS: Andorra's UTM zone
    assert len(layer) == len(runs["demand"])
    assert set(layer.geom_type) == {"Point"}
    a = runs["A"].demand.set_index("demand_id")["response_min"]
    b = runs["B"].demand.set_index("demand_id")["response_min"]
    layer = layer.set_index("demand_id")
    np.testing.assert_array_equal(layer["response_min_a"], a.reindex(layer.index))
    np.testing.assert_array_equal(layer["response_min_b"], b.reindex(layer.index))
    both = np.isfinite(layer["response_min_a"]) & np.isfinite(layer["response_min_b"])
    np.testing.assert_allclose(
        layer.loc[both, "change_min"], (b - a).reindex(layer.index)[both], atol=1e-9
    )
    assert layer.loc[~both, "change_min"].isna().all()
    assert (layer.loc[both, "change_min"] <= 1e-9).all()  # adding a station never slows
    assert set(layer["status"]) <= {"reached in both", "newly reached", "unreachable in both"}
    geometry = runs["B"].demand.set_index("demand_id").geometry.reindex(layer.index)
    assert layer.geometry.geom_equals(geometry).all()


def test_polygon_layer_and_state_after(runs: dict) -> None:
    root = runs["root"]
    comparison = compare_runs(root / "B", root / "B_geo", state_b="after")
    assert comparison.state_b == "after"
    layer = comparison.layer
    assert layer.crs.to_epsg() == 3006
    assert sorted(layer["municipality_code"]) == ["AD-E", "AD-W"]  # the region is ignored
    assert set(layer.geom_type) == {"Polygon"}
    merged = layer.merge(comparison.municipality, on="municipality_code", suffixes=("", "_t"))
    np.testing.assert_allclose(
        merged["share_within_10_min_change"], merged["share_within_10_min_change_t"]
    )
    # B before vs B with the proposed sites: the optimiser's own before/after tables
    optimised = runs["optimised"]
    before = optimised.tables_before["municipality"].set_index("municipality_code")
    after = optimised.tables_after["municipality"].set_index("municipality_code")
    table = comparison.municipality.set_index("municipality_code")
    for code in table.index:
        for metric in METRICS:
            assert table.loc[code, f"{metric}_change"] == pytest.approx(
                after.loc[code, metric] - before.loc[code, metric], nan_ok=True
            )
    assert (table["p90_min_change"] <= 1e-9).all()
    # state "after" and no boundaries in either run: no per-point times, so no layer
    no_layer = compare_runs(root / "A", root / "B", state_b="after")
    assert no_layer.layer.empty
    assert any("no map layer" in note for note in no_layer.notes)


def test_run_compared_with_itself_changes_nothing(runs: dict) -> None:
    root = runs["root"]
    for state in ("before", "after"):
        comparison = compare_runs(root / "B_geo", root / "B_geo", state_a=state, state_b=state)
        for frame in (comparison.municipality, comparison.total):
            for column in [c for c in frame.columns if c.endswith("_change")]:
                metric = column.removesuffix("_change")
                a, b = frame[f"{metric}_a"], frame[f"{metric}_b"]
                np.testing.assert_array_equal(a, b)
                finite = np.isfinite(a)
                assert (frame.loc[finite, column] == 0).all(), column
                assert frame.loc[~finite, column].isna().all()
    points = compare_runs(root / "A", root / "A").layer
    reached = np.isfinite(points["response_min_a"])
    assert (points.loc[reached, "change_min"] == 0).all()
    assert set(points["status"]) <= {"reached in both", "unreachable in both"}


def test_thresholds_and_municipalities_in_one_run_only(runs: dict) -> None:
    root = runs["root"]
    comparison = compare_runs(root / "A", root / "C")
    assert comparison.thresholds_min == (10.0,)
    assert comparison.dropped_thresholds_min == (5.0, 20.0, 30.0)
    note = next(n for n in comparison.notes if n.startswith("thresholds not compared"))
    assert "5, 20 min only in A" in note
    assert "30 min only in B" in note
    table = comparison.municipality.set_index("municipality_code")
    assert "share_within_10_min_change" in table.columns
    assert "share_within_20_min_a" not in table.columns
    assert "share_within_30_min_b" not in table.columns
    assert table.loc["AD-N", "present_in"] == "B only"
    assert table.loc["AD-N", "municipality"] == "North"
    assert np.isnan(table.loc["AD-N", "median_min_a"])
    assert np.isnan(table.loc["AD-N", "median_min_change"])
    assert table.loc["AD-N", "median_min_b"] > 0
    assert (table.drop(index="AD-N")["present_in"] == "both").all()
    # a run is only a run with its tables; a threshold in common is needed
    only_30 = root / "only30"
    only_30.mkdir()
    for name in ("coverage_municipality.csv", "coverage_total.csv"):
        frame = pd.read_csv(root / "C" / name, dtype={"municipality_code": str})
        frame.drop(columns="share_within_10_min").to_csv(only_30 / name, index=False)
    with pytest.raises(ParameterError, match="no threshold in common"):
        compare_runs(root / "A", only_30)


def test_errors_name_the_folder_and_file(runs: dict, tmp_path: Path) -> None:
    root = runs["root"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingFileError) as error:
        compare_runs(empty, root / "B")
    assert str(error.value) == (
        f"{empty}: not a planner run folder: coverage_municipality.csv is missing"
    )
    with pytest.raises(MissingFileError, match="folder does not exist"):
        compare_runs(root / "A", tmp_path / "nowhere")
    with pytest.raises(ParameterError, match=r"state_a = 'later': use one of before, after"):
        compare_runs(root / "A", root / "B", state_a="later")
    with pytest.raises(MissingFileError) as error:
        compare_runs(root / "B", root / "A", state_b="after")
    assert str(error.value).startswith(f"{root / 'A'}: state 'after' needs the optimise/ folder")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("coverage_municipality.csv", "coverage_total.csv"):
        (broken / name).write_text((root / "A" / name).read_text())
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"manifest\.json: cannot read the manifest"):
        compare_runs(root / "A", broken)
    (broken / "manifest.json").unlink()
    hand_made = compare_runs(root / "A", broken)  # no manifest, no GeoPackage: tables only
    assert hand_made.run_b == "broken"
    assert hand_made.layer.empty
    assert any("no coverage.gpkg" in note for note in hand_made.notes)
    (broken / "coverage_municipality.csv").write_text("municipality_code,demand\nX,1\n")
    with pytest.raises(InputFileError) as error:
        read_run_tables(broken)
    assert str(error.value) == (
        f"{broken / 'coverage_municipality.csv'}: column 'share_unreachable' is missing; "
        "is it a planner coverage table?"
    )


def test_write_comparison(runs: dict, tmp_path: Path) -> None:
    root = runs["root"]
    comparison = compare_runs(root / "A", root / "B_geo")
    out = tmp_path / "cmp"
    paths = write_comparison(comparison, out)
    assert {p.name for p in paths.values()} == {
        "comparison.csv", "comparison.xlsx", "comparison.gpkg",
    }  # fmt: skip
    csv = pd.read_csv(paths["csv"], dtype={"municipality_code": str})
    pd.testing.assert_frame_equal(
        csv, comparison.municipality.astype({"municipality": str, "region_code": str}),
        check_dtype=False,
    )  # fmt: skip
    meta = json.loads(Path(str(paths["csv"]) + ".meta.json").read_text(encoding="utf-8"))
    assert meta["name_a"] == "2023 stations"
    assert meta["state_b"] == "before"
    assert "OpenStreetMap" in meta["attribution"]
    sheets = pd.read_excel(paths["xlsx"], sheet_name=None)
    assert list(sheets) == ["municipality", "total", "metadata"]
    assert len(sheets["total"]) == 1
    layer = gpd.read_file(paths["gpkg"], layer="municipality_change")
    assert layer.crs.to_epsg() == 3006
    assert len(layer) == 2
    before = paths["csv"].read_bytes()
    with pytest.raises(OutputExistsError, match=r"comparison\.csv exists"):
        write_comparison(compare_runs(root / "B", root / "A"), out)
    assert paths["csv"].read_bytes() == before
    again = write_comparison(compare_runs(root / "B", root / "A"), out, overwrite=True)
    assert pd.read_csv(again["csv"])["share_within_10_min_change"].max() <= 1e-12
    # no boundaries: the demand points
    points = write_comparison(compare_runs(root / "A", root / "B"), tmp_path / "pts")
    assert len(gpd.read_file(points["gpkg"], layer="demand_change")) == len(runs["demand"])
