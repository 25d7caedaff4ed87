"""Marginal value, the optimisation pipeline and ``planner optimise`` on real data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ANDORRA_AMENITIES, amenity_demand

from planner.errors import ParameterError
from planner.inputs.sites import read_osm_pois, validate_stations
from planner.network.road_network import RoadNetwork
from planner.optimise import (
    MCLP,
    ContributionSettings,
    MaxSurvival,
    PMedian,
    gain_curve,
    make_instance,
    site_contributions,
    solve_exact,
)
from planner.run.cli import main
from planner.run.pipeline import OptimiseSettings, run_coverage, run_optimise, write_optimise


def test_site_contributions_by_hand() -> None:
    # two demand points (weights 10 and 5), an existing site A and candidates B, C
    cost = np.array(
        [
            [900.0, 300.0, np.inf],  # point 0: A 15 min, B 5 min
            [np.inf, np.inf, 600.0],  # point 1: only C reaches it, 10 min
        ]
    )
    instance = make_instance(cost, [10.0, 5.0], site_names=["A", "B", "C"], required=["A"])
    solution = solve_exact(instance, PMedian(), p=2)
    survival = MaxSurvival()
    table = site_contributions(
        instance,
        solution,
        PMedian(),
        settings=ContributionSettings(threshold_s=720.0, survival=survival, arrests_per_weight=1),
    ).set_index("site")
    assert set(table.index) == {"B", "C"}
    b, c = table.loc["B"], table.loc["C"]
    assert b["demand_newly_within_12_min"] == 10  # point 0: 15 -> 5 min
    assert b["person_minutes_saved"] == pytest.approx(10 * 10)
    assert b["mean_minutes_saved"] == pytest.approx(10)
    assert c["demand_newly_reached"] == 5
    assert c["demand_newly_within_12_min"] == 5
    assert c["person_minutes_saved"] == 0  # newly reached, not "saved"
    expected_b = 10 * (survival.survival(np.array(5.0)) - survival.survival(np.array(15.0)))
    assert b["expected_survivors_per_year"] == pytest.approx(float(expected_b))
    expected_c = 5 * survival.survival(np.array(10.0))
    assert c["expected_survivors_per_year"] == pytest.approx(float(expected_c))


def test_gain_curve_is_monotone() -> None:
    rng = np.random.default_rng(2)
    cost = rng.uniform(60, 3600, (60, 12))
    cost[rng.random(cost.shape) < 0.2] = np.inf
    instance = make_instance(cost, rng.integers(1, 20, 60).astype(float))
    model = MCLP(threshold_s=900)
    curve = gain_curve(instance, model, k_max=4, solve=lambda i, m, k: solve_exact(i, m, p=k))
    assert list(curve["k"]) == [1, 2, 3, 4]
    assert (np.diff(curve["objective"]) >= -1e-9).all()
    np.testing.assert_allclose(curve["gain_of_kth"].cumsum(), curve["gain"])


@pytest.fixture(scope="module")
def andorra_inputs(andorra_net: RoadNetwork, andorra_pbf: Path) -> dict[str, object]:
    hospitals = read_osm_pois(andorra_pbf, tags={"amenity": ["hospital"]})
    near = hospitals[hospitals["osm_id"].isin([2050364490, 194554955])]
    stations = validate_stations(
        near.assign(name=[f"H{i}" for i in near["osm_id"]], fleet="ambulance"),
        check_sweden=False,
    )
    demand = amenity_demand(read_osm_pois(andorra_pbf, tags={"amenity": list(ANDORRA_AMENITIES)}))
    from planner.inputs.candidates import candidates_on_grid

    return {
        "net": andorra_net,
        "stations": stations,
        "demand": demand,
        "candidates": candidates_on_grid(andorra_net, spacing_m=2000),
    }


def test_run_optimise_on_andorra(andorra_inputs: dict, tmp_path: Path) -> None:
    net, stations, demand = (
        andorra_inputs["net"],
        andorra_inputs["stations"],
        andorra_inputs["demand"],
    )
    settings = OptimiseSettings(objective="mclp", add=2, threshold_min=8)
    result = run_optimise(net, stations, demand, andorra_inputs["candidates"], settings=settings)
    solution = result.solution
    assert len(solution.chosen) == 2
    assert solution.objective_after >= solution.objective_before
    # the "before" tables are the coverage of the existing stations
    coverage = run_coverage(net, stations, demand, draw_isochrones=False)
    before = result.tables_before["total"].iloc[0]
    assert before["share_within_10_min"] == pytest.approx(
        coverage.tables["total"].iloc[0]["share_within_10_min"]
    )
    after = result.tables_after["total"].iloc[0]
    assert after["mean_min"] <= before["mean_min"] + 1e-9
    # MCLP's objective is the demand within 8 min, which the contributions add up to
    newly = result.sites["demand_newly_within_8_min"].sum()
    assert solution.objective_after - solution.objective_before == pytest.approx(newly)
    assert list(result.gain_curve["k"]) == [1, 2]
    paths = write_optimise(result, tmp_path / "out")
    sites = pd.read_csv(paths["sites_csv"])
    assert list(sites["site"]) == list(solution.chosen)
    meta = json.loads(Path(str(paths["sites_csv"]) + ".meta.json").read_text())
    assert meta["objective"] == "mclp"
    assert meta["solver_gap"] == 0.0 and meta["solver_optimal"] is True
    assert meta["solver_status"] == solution.status == "optimal"
    curve = pd.read_csv(paths["gain_curve"])
    assert list(curve["status"]) == ["optimal", "optimal"]


def test_psychiatric_fleet_baseline(andorra_inputs: dict) -> None:
    net, stations, demand = (
        andorra_inputs["net"],
        andorra_inputs["stations"],
        andorra_inputs["demand"],
    )
    # no psychiatric station yet: with baseline "fleet" nothing serves before
    settings = OptimiseSettings(objective="pmedian", add=1, fleet="psychiatric", gain_curve=False)
    result = run_optimise(net, stations, demand, andorra_inputs["candidates"], settings=settings)
    before = result.tables_before["total"].iloc[0]
    assert before["share_unreachable"] == 1.0
    # baseline "all": the ambulance stations serve too, so less is gained
    both = run_optimise(
        net, stations, demand, andorra_inputs["candidates"],
        settings=OptimiseSettings(
            objective="pmedian", add=1, fleet="psychiatric", baseline="all", gain_curve=False
        ),
    )  # fmt: skip
    assert both.tables_before["total"].iloc[0]["share_unreachable"] < 1.0


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_optimise_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sodermalm_pbf: Path
) -> None:
    stations = tmp_path / "stations.csv"
    stations.write_text("name;lat;lon\nMariatorget;59,3172;18,0605\n", encoding="utf-8")
    base = [
        "optimise", "--pbf", str(sodermalm_pbf), "--stations", str(stations),
        "--demand", str(sodermalm_pbf), "--demand-type", "buildings", "--total", "1700",
        "--candidates", "grid", "--grid-spacing-m", "300", "--no-cache", "--no-progress",
        "--lang", "en",  # Swedish data: Swedish unless asked (issue 14)
    ]  # fmt: skip
    out = tmp_path / "out"
    code, err = run(capsys, *base, "--objective", "pmedian", "--add", "1", "--out-dir", str(out))
    assert code == 0, err
    summary = re.search(
        r"^pmedian: total response time ([\d,]+) -> ([\d,]+) person-minutes \(([-+][\d,]+)\) "
        r"\(optimal; solved in [\d.]+ s\)$",
        err,
        re.MULTILINE,
    )
    assert summary, err
    before, after, change = (float(g.replace(",", "")) for g in summary.groups())
    assert (out / "sites.gpkg").exists()
    sites = pd.read_csv(out / "sites.csv")
    assert len(sites) == 1
    # the change in person-minutes is what the proposed site saves (each figure rounded)
    assert abs(change + sites["person_minutes_saved"].sum()) <= 1
    assert abs((after - before) - change) <= 1
    assert f"  1. {sites['site'].iloc[0]}: " in err  # the proposed site, on a line of its own
    code, err = run(capsys, *base, "--objective", "best", "--out-dir", str(tmp_path / "o2"))
    assert code == 2
    assert "objective 'best'" in err
    code, err = run(capsys, *base, "--hours", "14-02", "--out-dir", str(tmp_path / "o3"))
    assert code == 2
    assert "--hours needs calls" in err
    national = ["--objective", "pmedian", "--add", "1", "--solver", "heuristic"]
    code, err = run(
        capsys, *base, *national, "--cutoff-min", "6", "--out-dir", str(tmp_path / "o4")
    )
    assert code == 0, err
    sparse = pd.read_csv(tmp_path / "o4" / "sites.csv")
    meta = json.loads((tmp_path / "o4" / "sites.csv.meta.json").read_text())
    assert meta["cutoff_min"] == 6.0 and meta["solver"] == "heuristic"
    assert meta["solver_gap"] is None and meta["solver_optimal"] is False
    assert meta["solver_status"].startswith("feasible, no bound (heuristic: greedy + ")
    assert "(feasible, no bound (heuristic: greedy + " in err
    code, err = run(capsys, *base, *national, "--out-dir", str(tmp_path / "o5"))
    assert code == 0, err
    assert list(pd.read_csv(tmp_path / "o5" / "sites.csv")["site"]) == list(sparse["site"])
    code, err = run(capsys, *base, "--cutoff-min", "6", "--out-dir", str(tmp_path / "o6"))
    assert code == 2
    assert "cutoff_min = 6 needs solver = 'heuristic'" in err


def test_optimise_cli_operating_hours(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sodermalm_pbf: Path
) -> None:
    stations = tmp_path / "stations.csv"
    stations.write_text(
        "name;fleet;lat;lon\nMariatorget;ambulance;59,3172;18,0605\n", encoding="utf-8"
    )
    calls = tmp_path / "calls.csv"
    calls.write_text(
        "lat,lon,priority,time\n"
        "59.3150,18.0650,1,2024-03-01T13:10:00\n"  # outside 14-02
        "59.3160,18.0640,1,2024-03-01T15:20:00\n"  # inside
        "59.3170,18.0630,2,2024-03-02T01:30:00\n"  # inside, after midnight
        "59.3180,18.0620,1,2024-03-02T03:00:00\n",  # outside
        encoding="utf-8",
    )
    out = tmp_path / "pam"
    code, err = run(
        capsys, "optimise", "--pbf", str(sodermalm_pbf), "--stations", str(stations),
        "--demand", str(calls), "--demand-type", "calls", "--hours", "14-02",
        "--fleet", "psychiatric", "--baseline", "all", "--objective", "pmedian", "--add", "1",
        "--candidates", "grid", "--grid-spacing-m", "300", "--out-dir", str(out),
        "--no-cache", "--no-progress", "--csv", "standard",
    )  # fmt: skip
    assert code == 0, err
    meta = json.loads((out / "sites.csv.meta.json").read_text())
    assert meta["demand_points"] == 2
    assert meta["fleet"] == "psychiatric"
    assert meta["hours"] == "14-02"
    before = pd.read_csv(out / "coverage_before_total.csv")
    assert before["demand"].iloc[0] == 2


# ---------------------------------------------------------------------------
# National runs: a cutoff makes a sparse instance
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("objective", ["pmedian", "mclp", "survival"])
def test_cutoff_above_every_time_changes_nothing(andorra_inputs: dict, objective: str) -> None:
    """With a cutoff no pair exceeds, the sparse run equals the dense heuristic run."""
    net, stations, demand = (
        andorra_inputs["net"],
        andorra_inputs["stations"],
        andorra_inputs["demand"],
    )
    common = {"objective": objective, "add": 2, "solver": "heuristic", "threshold_min": 8}
    dense = run_optimise(
        net, stations, demand, andorra_inputs["candidates"],
        settings=OptimiseSettings(**common),
    )  # fmt: skip
    sparse = run_optimise(
        net, stations, demand, andorra_inputs["candidates"],
        settings=OptimiseSettings(**common, cutoff_min=600.0),
    )  # fmt: skip
    assert sparse.solution.chosen == dense.solution.chosen
    assert sparse.solution.objective_after == pytest.approx(dense.solution.objective_after)
    assert sparse.solution.objective_before == pytest.approx(dense.solution.objective_before)
    for when in ("tables_before", "tables_after"):
        for name, table in getattr(dense, when).items():
            pd.testing.assert_frame_equal(getattr(sparse, when)[name], table, rtol=1e-12)
    assert sparse.metadata["cutoff_min"] == 600.0
    pd.testing.assert_frame_equal(sparse.gain_curve.drop(columns="solve_time_s"),
                                  dense.gain_curve.drop(columns="solve_time_s"))  # fmt: skip


def test_sparse_instance_holds_the_times_within_the_cutoff(andorra_inputs: dict) -> None:
    """Stored pairs equal point_times + turn-out where <= the cutoff; base times are exact."""
    from planner.inputs.candidates import (
        candidates_from_stations,
        check_candidates,
        combine_candidates,
    )
    from planner.network.index import index_network
    from planner.network.snapping import snap_points
    from planner.network.travel_times import point_times
    from planner.run.costs import _sparse_instance

    net, stations, demand = (
        andorra_inputs["net"],
        andorra_inputs["stations"],
        andorra_inputs["demand"],
    )
    index = index_network(net)
    layer = combine_candidates(candidates_from_stations(stations), andorra_inputs["candidates"])
    sites, site_snap, _ = check_candidates(net, layer, edges=index.edges)
    dm_snap = snap_points(net.graph, demand, edges=index.edges)
    turnout = net.settings.speed_model.turnout_s
    required = sites["required"].to_numpy(dtype=bool)
    common = {
        "weight": demand["weight"].to_numpy(),
        "site_names": sites["name"].tolist(),
        "required": required,
        "existing_units": required.astype(int),
        "demand_ids": None,
    }
    inst = _sparse_instance(index.ttg, site_snap, dm_snap, turnout, 5.0, common)
    full = point_times(index.ttg, site_snap, destinations=dm_snap).T + turnout
    within = full <= 300.0
    assert 0 < within.sum() < within.size / 2
    stored = np.full(full.shape, np.inf)
    coo = inst.cost_s.tocoo()
    stored[coo.row, coo.col] = coo.data
    np.testing.assert_array_equal(stored[within], full[within])
    assert np.isinf(stored[~within]).all()
    base = full[:, required].min(axis=1)
    np.testing.assert_array_equal(inst.base_s, base)
    assert (base > 300.0).any()  # some points are farther than the cutoff from every station
    reached = np.isfinite(base)
    np.testing.assert_array_equal(
        inst.base_site[reached], np.flatnonzero(required)[full[:, required].argmin(axis=1)][reached]
    )


def test_dense_matrix_too_large_asks_for_a_cutoff(
    andorra_inputs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from planner import constants

    monkeypatch.setattr(constants, "DENSE_COST_MAX_BYTES", 1000)
    with pytest.raises(ParameterError, match=r"would take 0\.0 GiB; set cutoff_min"):
        run_optimise(
            andorra_inputs["net"], andorra_inputs["stations"], andorra_inputs["demand"],
            andorra_inputs["candidates"], settings=OptimiseSettings(add=1),
        )  # fmt: skip


def test_cutoff_settings_are_checked() -> None:
    with pytest.raises(ParameterError, match="cutoff_min = 60 needs solver = 'heuristic'"):
        OptimiseSettings(cutoff_min=60.0)
    with pytest.raises(ParameterError, match="cutoff_min = 10 is below threshold_min = 20"):
        OptimiseSettings(solver="heuristic", threshold_min=20, cutoff_min=10.0)
    with pytest.raises(ParameterError, match=r"cutoff_min = -1\.0: give a positive time, min"):
        OptimiseSettings(solver="heuristic", cutoff_min=-1.0)
    assert OptimiseSettings(objective="pmedian", solver="heuristic", cutoff_min=10.0)


def test_sparse_run_keeps_its_blocks_and_reuses_them(
    andorra_inputs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With matrix_store, a rerun loads every block (no search runs) and gives the same sites."""
    from planner.network import matrix as matrix_mod

    args = (
        andorra_inputs["net"], andorra_inputs["stations"], andorra_inputs["demand"],
        andorra_inputs["candidates"],
    )  # fmt: skip
    settings = OptimiseSettings(
        objective="pmedian", add=2, solver="heuristic", cutoff_min=12.0, gain_curve=False
    )
    store = tmp_path / "blocks"
    first = run_optimise(*args, settings=settings, matrix_store=store)
    folders = sorted(p.name.split("-")[0] for p in store.iterdir())
    assert folders == ["matrix", "nearest"]
    assert all(any(p.glob("block-*.npz")) for p in store.iterdir())

    def no_search(*_: object) -> None:
        raise AssertionError("a block was computed again")

    monkeypatch.setattr(matrix_mod, "_block_times", no_search)
    again = run_optimise(*args, settings=settings, matrix_store=store)
    assert again.solution.chosen == first.solution.chosen
    assert again.solution.objective_after == first.solution.objective_after
    # other inputs (another cutoff) get a folder of their own
    monkeypatch.undo()
    other = OptimiseSettings(
        objective="pmedian", add=2, solver="heuristic", cutoff_min=20.0, gain_curve=False
    )
    run_optimise(*args, settings=other, matrix_store=store)
    assert len([p for p in store.iterdir() if p.name.startswith("matrix-")]) == 2
