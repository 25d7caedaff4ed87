"""Mutual aid across region borders: the table and own-region-only service, on real Andorra roads.

Andorra is split into two pretend regions at the median easting ("W", "E");
stations and demand are seeded positions of its road nodes.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from planner.analysis.coverage import CoverageSettings, mutual_aid_table, weighted_quantile
from planner.errors import ParameterError
from planner.network.road_network import RoadNetwork
from planner.run.pipeline import run_coverage

SETTINGS = CoverageSettings(thresholds_min=(5.0, 10.0))


def _brute(times: np.ndarray, st: list, dm: list, w: np.ndarray, code: str) -> dict:
    """One region's row, point by point."""
    own, best, nearest_other, only = [], [], [], []
    for i, region in enumerate(dm):
        col = times[:, i]
        mine = [col[j] for j in range(len(st)) if st[j] == region]
        own.append(min(mine) if mine else np.inf)
        best.append(col.min())
        k = int(np.argmin(col))
        nearest_other.append(np.isfinite(col[k]) and st[k] != region)
        only.append(np.isfinite(col.min()) and not np.isfinite(own[-1]))
    sel = [i for i, r in enumerate(dm) if r == code]
    total = w[sel].sum()
    row = {"demand": total}
    for t in SETTINGS.thresholds_min:
        row[f"own{t:g}"] = sum(w[i] for i in sel if own[i] <= t * 60) / total
        row[f"all{t:g}"] = sum(w[i] for i in sel if best[i] <= t * 60) / total
    row["neighbour"] = sum(w[i] for i in sel if nearest_other[i]) / total
    row["only"] = sum(w[i] for i in sel if only[i]) / total
    finite = [i for i in sel if np.isfinite(own[i])]
    row["median_own"] = weighted_quantile(np.array(own)[finite], w[finite], 0.5) / 60
    return row


def test_mutual_aid_table_equals_brute_force() -> None:
    rng = np.random.default_rng(3)
    times = rng.uniform(60, 1500, (6, 80))
    times[rng.random(times.shape) < 0.3] = np.inf
    st = ["A", "A", "B", "B", "C", None]
    dm = [["A", "B", "C"][k] for k in rng.integers(0, 3, 80)]
    w = rng.integers(1, 20, 80).astype(float)
    table = mutual_aid_table(times, st, dm, w, settings=SETTINGS).set_index("region_code")
    assert list(table.index) == ["A", "B", "C"]
    for code in "ABC":
        expected = _brute(times, st, dm, w, code)
        row = table.loc[code]
        assert row["demand"] == expected["demand"]
        for t in SETTINGS.thresholds_min:
            assert row[f"share_within_{t:g}_min_own"] == pytest.approx(expected[f"own{t:g}"])
            assert row[f"share_within_{t:g}_min_all"] == pytest.approx(expected[f"all{t:g}"])
            assert row[f"share_within_{t:g}_min_change"] >= -1e-12  # aid never hurts
        assert row["share_nearest_is_neighbour"] == pytest.approx(expected["neighbour"])
        assert row["share_reached_only_by_neighbours"] == pytest.approx(expected["only"])
        assert row["median_min_own"] == pytest.approx(expected["median_own"])


def test_mutual_aid_table_checks_shapes() -> None:
    with pytest.raises(ParameterError, match=r"shape \(2, 3\), expected \(2, 4\)"):
        mutual_aid_table(np.zeros((2, 3)), ["A", "B"], ["A"] * 4, np.ones(4))


def _layers(net: RoadNetwork) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, float]:
    xy = np.array([(d["x"], d["y"]) for _, d in net.graph.nodes(data=True)])
    split = float(np.median(xy[:, 0]))
    rng = np.random.default_rng(11)
    pick = rng.choice(len(xy), size=206, replace=False)
    st_xy, dm_xy = xy[pick[:6]], xy[pick[6:]]

    def region(x: np.ndarray) -> list[str]:
        return ["W" if v < split else "E" for v in x]

    stations = gpd.GeoDataFrame(
        {
            "name": [f"S{k}" for k in range(6)],
            "fleet": "ambulance",
            "units": 1,
            "region_code": region(st_xy[:, 0]),
        },
        geometry=gpd.points_from_xy(st_xy[:, 0], st_xy[:, 1]),
        crs=net.graph.graph["crs"],
    )
    dm_region = region(dm_xy[:, 0])
    demand = gpd.GeoDataFrame(
        {
            "demand_id": [f"d{k}" for k in range(200)],
            "weight": rng.integers(1, 50, 200).astype(float),
            "source": "test",
            "municipality_code": dm_region,
            "municipality": dm_region,
            "region_code": dm_region,
            "region": dm_region,
        },
        geometry=gpd.points_from_xy(dm_xy[:, 0], dm_xy[:, 1]),
        crs=net.graph.graph["crs"],
    )
    return stations, demand, split


def test_own_region_service_on_andorra(andorra_net: RoadNetwork) -> None:
    """Without mutual aid every point's station is in its own region; with it, never slower."""
    stations, demand, _ = _layers(andorra_net)
    assert set(stations["region_code"]) == {"W", "E"}
    kw = {"coverage": SETTINGS, "draw_isochrones": False}
    aid = run_coverage(andorra_net, stations, demand, **kw)
    own = run_coverage(andorra_net, stations, demand, serve_across=False, **kw)
    region_of = dict(zip(stations["name"], stations["region_code"], strict=True))
    served = own.demand["nearest_station"].notna()
    assert served.any()
    assert all(
        region_of[s] == r
        for s, r in zip(
            own.demand["nearest_station"][served], own.demand["region_code"][served], strict=True
        )
    )
    a, o = aid.demand["response_s"].to_numpy(), own.demand["response_s"].to_numpy()
    assert np.all((a <= o + 1e-9) | ~np.isfinite(o))
    # the mutual-aid table agrees with the two runs
    table = aid.tables["mutual_aid"].set_index("region_code")
    for code in ("W", "E"):
        sel = (aid.demand["region_code"] == code).to_numpy()
        w = aid.demand["weight"].to_numpy()[sel]
        for t in SETTINGS.thresholds_min:
            share_all = w[a[sel] <= t * 60].sum() / w.sum()
            share_own = w[o[sel] <= t * 60].sum() / w.sum()
            assert table.loc[code, f"share_within_{t:g}_min_all"] == pytest.approx(share_all)
            assert table.loc[code, f"share_within_{t:g}_min_own"] == pytest.approx(share_own)
    assert "mutual_aid" in own.tables and own.metadata["mutual_aid"] is False


def test_own_region_service_needs_region_codes(andorra_net: RoadNetwork) -> None:
    stations, demand, _ = _layers(andorra_net)
    with pytest.raises(ParameterError, match="serve_across=False needs region_code"):
        run_coverage(
            andorra_net,
            stations.drop(columns="region_code"),
            demand,
            serve_across=False,
            draw_isochrones=False,
        )


def _candidates(net: RoadNetwork, split: float) -> gpd.GeoDataFrame:
    from planner.inputs.candidates import candidates_on_grid

    grid = candidates_on_grid(net, spacing_m=3000)
    return grid.assign(region_code=np.where(grid.geometry.x < split, "W", "E"))


@pytest.mark.parametrize("cutoff_min", [None, 600.0], ids=["dense", "sparse"])
def test_optimiser_without_mutual_aid_serves_own_region_only(
    andorra_net: RoadNetwork, cutoff_min: float | None
) -> None:
    from planner.run.pipeline import OptimiseSettings, run_optimise

    stations, demand, split = _layers(andorra_net)
    candidates = _candidates(andorra_net, split)
    settings = OptimiseSettings(
        objective="pmedian", add=3, solver="heuristic", gain_curve=False, cutoff_min=cutoff_min
    )
    kw = {"settings": settings, "coverage": SETTINGS}
    own = run_optimise(andorra_net, stations, demand, candidates, serve_across=False, **kw)
    aid = run_optimise(andorra_net, stations, demand, candidates, **kw)
    # before: the coverage run without mutual aid
    coverage = run_coverage(
        andorra_net, stations, demand, serve_across=False, coverage=SETTINGS,
        draw_isochrones=False,
    )  # fmt: skip
    for name in ("total", "region", "municipality"):
        pd.testing.assert_frame_equal(own.tables_before[name], coverage.tables[name])
    assert own.metadata["mutual_aid"] is False and aid.metadata["mutual_aid"] is True
    # after: every served point's site is in its own region
    region_of = {
        **dict(zip(stations["name"], stations["region_code"], strict=True)),
        **dict(zip(candidates["name"], candidates["region_code"], strict=True)),
    }
    assert len(own.sites) == 3
    assert (own.sites["site"].map(region_of).isin(["W", "E"])).all()
    assignment = own.solution.assignment
    assert (assignment >= 0).any()
    instance_names = [*stations["name"], *candidates["name"]]  # sites: stations, then candidates
    for i, j in enumerate(assignment):
        if j >= 0:
            assert region_of[instance_names[j]] == demand["region_code"].iloc[i]
    # serving across borders is never worse
    assert aid.solution.objective_after <= own.solution.objective_after + 1e-6


def test_optimiser_without_mutual_aid_needs_region_codes(andorra_net: RoadNetwork) -> None:
    from planner.run.pipeline import OptimiseSettings, run_optimise

    stations, demand, split = _layers(andorra_net)
    candidates = _candidates(andorra_net, split).drop(columns="region_code")
    with pytest.raises(ParameterError, match="needs region_code on candidates"):
        run_optimise(
            andorra_net, stations, demand, candidates, serve_across=False,
            settings=OptimiseSettings(add=1, gain_curve=False),
        )  # fmt: skip
