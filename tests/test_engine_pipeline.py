"""Every stage searches with the engine it is given, and the engines agree, on every real network.

The stages (coverage, isochrones, the Dask blocks, ``planner matrix``, the
optimiser's candidate matrix, the simulation's precomputed times) are run on
each real network with the exact engines and the contraction hierarchy (CCH).

To compare them exactly, the networks get whole-second edge times and the
stations stand on road nodes: every engine then sums the same integers (the
CCH's millisecond rounding changes nothing), so the engines must agree bit
for bit, and the stations' times to every road node must equal networkx's
multi-source Dijkstra exactly. Where a point is an *origin* part-way along a
road (the simulation's trips from a call), the CCH rounds its head start to
whole milliseconds: those times agree within half a millisecond.

The hierarchy is cached with the network under its key (an ``.npz`` read
with ``allow_pickle=False``), and ``--engine`` / ``roads.engine`` choose the
engine, with a clear error where the ``cch`` wheel is missing.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from planner import constants
from planner.analysis.coverage import CoverageSettings
from planner.analysis.isochrones import IsochroneSettings
from planner.distributed import make_executor
from planner.errors import CacheWarning, InputFileError, ParameterError
from planner.network import engine
from planner.network.engine import EngineSettings, VirtualSources
from planner.network.index import HIERARCHY_FILE, NetworkIndex, index_network
from planner.network.matrix import compute_matrix
from planner.network.road_network import RoadNetwork
from planner.network.snapping import snap_points
from planner.run.cli import main
from planner.run.costs import optimise_instance
from planner.run.pipeline import run_coverage, run_isochrones
from planner.run.plan import plan_matrix
from planner.run.scenario import load_scenario
from planner.simulate import precompute_times

NETS = ["andorra_net", "sodermalm_net", "umea_net"]
HALF_MS = constants.CCH_RESOLUTION_S / 2

needs_cch = pytest.mark.skipif(not engine.cch_available(), reason="routingkit-cch not installed")


def _whole_seconds(net: RoadNetwork) -> RoadNetwork:
    """The network with every edge time rounded to whole seconds (a legitimate speed model)."""
    graph = net.graph.copy()
    for _, _, d in graph.edges(data=True):
        d["travel_time"] = float(np.rint(d["travel_time"]))
    return dataclasses.replace(net, graph=graph)


def _layers(net: RoadNetwork, seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Four stations on road nodes, and up to 60 demand points 25 m east of other nodes."""
    xy = np.array([(d["x"], d["y"]) for _, d in net.graph.nodes(data=True)])
    pick = np.random.default_rng(seed).choice(len(xy), size=min(64, len(xy)), replace=False)
    m = len(pick) - 4
    crs = net.graph.graph["crs"]
    stations = gpd.GeoDataFrame(
        {"name": [f"S{k}" for k in range(4)], "fleet": "ambulance", "units": 1},
        geometry=gpd.points_from_xy(xy[pick[:4], 0], xy[pick[:4], 1]),
        crs=crs,
    )
    demand = gpd.GeoDataFrame(
        {
            "demand_id": [f"d{k}" for k in range(m)],
            "weight": np.random.default_rng(seed).integers(1, 9, m).astype(float),
            "municipality_code": "x",
            "municipality": "x",
            "region_code": "x",
            "region": "x",
        },
        geometry=gpd.points_from_xy(xy[pick[4:], 0] + 25.0, xy[pick[4:], 1]),
        crs=crs,
    )
    return stations, demand


@pytest.fixture(scope="module")
def cases(request: pytest.FixtureRequest) -> dict[str, dict]:
    """Per real network: whole-second copy, stations, demand and an index per engine."""
    out = {}
    names = ["scipy", "dijkstra", "cch"] if engine.cch_available() else ["scipy", "dijkstra"]
    for k, name in enumerate(NETS):
        net = _whole_seconds(request.getfixturevalue(name))
        stations, demand = _layers(net, seed=k)
        index = {e: index_network(net, engine_settings=EngineSettings(e)) for e in names}
        out[name] = {"net": net, "stations": stations, "demand": demand, "index": index}
    return out


def _networkx_nearest(net: RoadNetwork, index: NetworkIndex, stations: gpd.GeoDataFrame) -> dict:
    """networkx's multi-source Dijkstra from the stations' nodes: drive time per node id."""
    snapped = snap_points(net.graph, stations, edges=index.edges)
    sources = set(snapped.depart_node[:, 0].tolist())
    assert -1 not in sources and (snapped.depart_s[:, 0] == 0).all()  # at their nodes
    return nx.multi_source_dijkstra_path_length(net.graph, sources, weight="travel_time")


# ---------------------------------------------------------------------------
# The stages, engine against engine and against networkx
# ---------------------------------------------------------------------------


@needs_cch
@pytest.mark.parametrize("name", NETS)
def test_coverage_is_identical_on_every_engine_and_equals_networkx(cases: dict, name: str) -> None:
    case = cases[name]
    net, stations, demand = case["net"], case["stations"], case["demand"]
    kw = {"coverage": CoverageSettings(thresholds_min=(2.0, 5.0)), "draw_isochrones": False}
    runs = {e: run_coverage(net, stations, demand, index=i, **kw) for e, i in case["index"].items()}
    assert runs["cch"].demand["response_s"].notna().all()
    expected = _networkx_nearest(net, case["index"]["scipy"], stations)
    drive = runs["cch"].road_nodes.set_index("node_id")["drive_s"]
    want = np.array([expected.get(int(v), np.inf) for v in drive.index])
    np.testing.assert_array_equal(drive.to_numpy(), want)  # bit for bit, whole seconds
    for e in ("scipy", "dijkstra"):
        pd.testing.assert_frame_equal(
            runs[e].demand.drop(columns="geometry"), runs["cch"].demand.drop(columns="geometry")
        )
        pd.testing.assert_frame_equal(
            runs[e].road_nodes.drop(columns="geometry"),
            runs["cch"].road_nodes.drop(columns="geometry"),
        )
        for table in runs[e].tables:
            pd.testing.assert_frame_equal(runs[e].tables[table], runs["cch"].tables[table])


@needs_cch
@pytest.mark.parametrize("name", ["sodermalm_net", "umea_net"])
def test_isochrones_are_identical_on_every_engine(cases: dict, name: str) -> None:
    """Isochrones come from the stations' times to the nodes they reach: the same on each engine."""
    case = cases[name]
    iso = IsochroneSettings(thresholds_min=(1.0, 2.0), cell_m=40.0, include_turnout=False)
    runs = {
        e: run_isochrones(case["net"], case["stations"], settings=iso, index=case["index"][e])
        for e in ("scipy", "cch")
    }
    assert len(runs["cch"][0]) > 0
    for a, b in zip(runs["scipy"][:3], runs["cch"][:3], strict=True):
        assert a.geometry.equals(b.geometry)
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))


@needs_cch
def test_dask_blocks_use_the_engine_of_the_index(cases: dict) -> None:
    """Coverage in blocks of stations (the executor path) equals the dense run, per engine."""
    case = cases["andorra_net"]
    net, stations, demand = case["net"], case["stations"], case["demand"]
    kw = {"coverage": CoverageSettings(thresholds_min=(5.0, 10.0)), "draw_isochrones": False}
    for e in ("cch", "scipy"):
        dense = run_coverage(net, stations, demand, index=case["index"][e], **kw)
        with make_executor() as executor:
            blocked = run_coverage(
                net, stations, demand, index=case["index"][e], executor=executor, block_size=1, **kw
            )
        pd.testing.assert_frame_equal(
            dense.demand.drop(columns="geometry"), blocked.demand.drop(columns="geometry")
        )
        pd.testing.assert_frame_equal(
            dense.road_nodes.drop(columns="geometry"), blocked.road_nodes.drop(columns="geometry")
        )


@needs_cch
@pytest.mark.parametrize("name", NETS)
def test_matrix_and_optimiser_candidates_are_identical_on_every_engine(
    cases: dict, name: str
) -> None:
    """`planner matrix` (compute_matrix) and the optimiser's dense and sparse cost matrices."""
    case = cases[name]
    out = {}
    for e, index in case["index"].items():
        origins = snap_points(case["net"].graph, case["stations"], edges=index.edges)
        targets = snap_points(case["net"].graph, case["demand"], edges=index.edges)
        pairs = compute_matrix(index.ttg, origins, targets, cutoff_s=600.0).to_dense()
        common = {
            "weight": case["demand"]["weight"].to_numpy(),
            "site_names": case["stations"]["name"].tolist(),
            "required": np.array([True, False, False, False]),  # an existing station
        }
        dense = optimise_instance(
            index.ttg, origins, targets, turnout_s=60.0, cutoff_min=None, common=common
        )
        sparse = optimise_instance(
            index.ttg, origins, targets, turnout_s=60.0, cutoff_min=10.0, common=common
        )
        out[e] = (pairs, dense.cost_s, sparse.cost_s.toarray(), sparse.base_s)
    assert np.isfinite(out["cch"][0]).any()
    for e in ("scipy", "dijkstra"):
        for mine, theirs in zip(out[e], out["cch"], strict=True):
            np.testing.assert_array_equal(mine, theirs)


@needs_cch
@pytest.mark.parametrize("name", NETS)
def test_simulation_times_agree_on_every_engine(cases: dict, name: str) -> None:
    """Station and hospital origins at nodes: exact; trips from a call: within half a ms."""
    case = cases[name]
    net, stations, demand = case["net"], case["stations"], case["demand"]
    hospitals, stations = stations.iloc[:1], stations.iloc[1:]
    times = {}
    for e in ("scipy", "cch"):
        index = case["index"][e]
        times[e] = precompute_times(
            net.graph, stations, hospitals, demand, travel_graph=index.ttg, edges=index.edges
        )
    a, b = times["scipy"], times["cch"]
    for field in ("station_to_point", "hospital_to_point", "hospital_to_station"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    for field in ("point_to_hospital", "point_to_station"):
        x, y = getattr(a, field), getattr(b, field)
        np.testing.assert_array_equal(np.isinf(x), np.isinf(y))
        assert np.abs(x[np.isfinite(x)] - y[np.isfinite(y)]).max() <= HALF_MS + 1e-9, field


# ---------------------------------------------------------------------------
# The hierarchy, cached with the network
# ---------------------------------------------------------------------------


@needs_cch
def test_hierarchy_is_cached_under_the_network_key_and_reused(
    umea_net: RoadNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = index_network(umea_net, engine_settings=EngineSettings("cch"), cache_dir=tmp_path)
    stored = tmp_path / "hierarchies" / umea_net.cache_key / HIERARCHY_FILE  # the network's key
    with np.load(stored, allow_pickle=False) as f:  # plain arrays, never pickle
        assert all(f[k].dtype != object for k in f.files)
        np.testing.assert_array_equal(f["order"], first.ttg.hierarchy.order)

    def no_new_order(*args: object, **kwargs: object) -> None:
        raise AssertionError("the order was computed again instead of read from the cache")

    monkeypatch.setattr(engine, "compute_order", no_new_order)
    again = index_network(umea_net, engine_settings=EngineSettings("cch"), cache_dir=tmp_path)
    assert again.ttg.hierarchy is not None
    np.testing.assert_array_equal(again.ttg.hierarchy.order, first.ttg.hierarchy.order)
    rows = np.arange(0, umea_net.graph.number_of_nodes(), 97)
    np.testing.assert_array_equal(
        engine.many_to_many(again.ttg, rows), engine.many_to_many(first.ttg, rows)
    )
    # "auto" reads the same entry; "scipy" (and no engine given) needs no hierarchy at all
    auto = index_network(umea_net, engine_settings=EngineSettings("auto"), cache_dir=tmp_path)
    np.testing.assert_array_equal(auto.ttg.hierarchy.order, first.ttg.hierarchy.order)
    assert index_network(umea_net, engine_settings=EngineSettings("scipy")).ttg.hierarchy is None
    assert index_network(umea_net, cache_dir=tmp_path).ttg.hierarchy is None


@needs_cch
def test_a_hierarchy_of_another_network_is_refused_and_rebuilt(
    umea_net: RoadNetwork, sodermalm_net: RoadNetwork, tmp_path: Path
) -> None:
    """An entry whose order belongs to another topology (here: another network's) is rebuilt."""
    cch = EngineSettings("cch")
    index_network(sodermalm_net, engine_settings=cch, cache_dir=tmp_path)
    index_network(umea_net, engine_settings=cch, cache_dir=tmp_path)
    folders = {p.parent for p in (tmp_path / "hierarchies").glob(f"*/{HIERARCHY_FILE}")}
    assert len(folders) == 2
    # plant Södermalm's entry under Umeå's key: the entry's checks pass, its topology does not
    umea_entry = tmp_path / "hierarchies" / umea_net.cache_key
    (other,) = folders - {umea_entry}
    (umea_entry / HIERARCHY_FILE).write_bytes((other / HIERARCHY_FILE).read_bytes())
    doc = json.loads((umea_entry / "entry.json").read_text())
    doc["files"] = json.loads((other / "entry.json").read_text())["files"]
    (umea_entry / "entry.json").write_text(json.dumps(doc))
    with pytest.warns(CacheWarning, match="another road network"):
        rebuilt = index_network(umea_net, engine_settings=cch, cache_dir=tmp_path)
    assert rebuilt.ttg.hierarchy.n_nodes == umea_net.graph.number_of_nodes()


# ---------------------------------------------------------------------------
# Choosing the engine: --engine, roads.engine, and a missing wheel
# ---------------------------------------------------------------------------


def test_cch_without_the_wheel_is_a_clear_error_everywhere(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    umea_net: RoadNetwork,
    andorra_scenario_dir: Path,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(engine, "_import_cch", lambda: None)
    with pytest.raises(ParameterError, match=r"pip install 'planner\[cch\]'"):
        index_network(umea_net, engine_settings=EngineSettings("cch"))
    # "auto" falls back on the exact engine, without a hierarchy
    auto = index_network(umea_net, engine_settings=EngineSettings("auto"))
    assert auto.ttg.hierarchy is None
    assert engine.choose_engine(10, 10, np.inf, hierarchy=None) == engine.exact_engine()
    toml = andorra_scenario_dir / "andorra.toml"
    code = main(
        ["matrix", str(toml), "--out", str(tmp_path / "m.parquet"), "--engine", "cch",
         "--no-cache", "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "routingkit-cch" in err and "pip install 'planner[cch]'" in err
    assert not (tmp_path / "m.parquet").exists()
    scenario = tmp_path / "cch.toml"
    text = toml.read_text(encoding="utf-8").replace("[roads]\n", '[roads]\nengine = "cch"\n', 1)
    scenario.write_text(text, encoding="utf-8")
    for name in ("andorra.geojson", "demand.csv", "stations.csv"):
        (tmp_path / name).write_bytes((andorra_scenario_dir / name).read_bytes())
    with pytest.raises(InputFileError, match=r"roads\.engine.*routingkit-cch"):
        load_scenario(scenario)


def test_unknown_engine_is_refused(
    capsys: pytest.CaptureFixture[str], andorra_scenario_dir: Path, tmp_path: Path
) -> None:
    toml = str(andorra_scenario_dir / "andorra.toml")
    code = main(
        ["matrix", toml, "--out", str(tmp_path / "m.parquet"), "--engine", "fastest",
         "--no-cache", "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--engine fastest: use one of auto, dijkstra, scipy, cch" in err


@needs_cch
def test_engine_option_and_scenario_key_reach_planner_matrix(
    capsys: pytest.CaptureFixture[str], andorra_scenario_dir: Path, tmp_path: Path
) -> None:
    """`planner matrix --engine E` equals the library run of the scenario with roads.engine = E."""
    toml = andorra_scenario_dir / "andorra.toml"
    loaded = load_scenario(toml)
    assert loaded.roads.engine == "auto"
    base = [
        "matrix",
        str(toml),
        "--cutoff-min",
        "20",
        "--no-progress",
        "--cache-dir",
        str(tmp_path),
    ]
    dense = {}
    for e in ("cch", "scipy"):
        assert main([*base, "--out", str(tmp_path / f"{e}.parquet"), "--engine", e]) == 0
        capsys.readouterr()
        scenario = dataclasses.replace(loaded, roads=dataclasses.replace(loaded.roads, engine=e))
        run = plan_matrix(scenario, cutoff_s=1200.0, cache_dir=tmp_path, echo=lambda _: None)
        dense[e] = run.matrix.to_dense()
        pairs = pd.read_parquet(tmp_path / f"{e}.parquet")
        assert len(pairs) == np.isfinite(dense[e]).sum() > 0
        drive = pairs.filter(like="drive_s").iloc[:, 0].to_numpy()
        np.testing.assert_array_equal(np.sort(drive), np.sort(dense[e][np.isfinite(dense[e])]))
    # the hierarchy was cached with the network; the engines differ by milliseconds only
    assert list(tmp_path.glob(f"hierarchies/*/{HIERARCHY_FILE}"))
    both = np.isfinite(dense["cch"]) & np.isfinite(dense["scipy"])
    diff = np.abs(dense["cch"][both] - dense["scipy"][both])
    assert 0 < diff.max() < 0.05


# ---------------------------------------------------------------------------
# The compiled Dijkstra where numba cannot be imported
# ---------------------------------------------------------------------------


def test_a_dijkstra_plan_runs_without_numba_with_the_same_numbers(
    andorra_net: RoadNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan made where numba runs, run where it cannot be imported (a Dask worker): scipy."""
    from planner.network import dijkstra
    from planner.network.travel_times import build_travel_time_graph

    ttg = build_travel_time_graph(andorra_net.graph)
    rng = np.random.default_rng(3)
    seeds = rng.choice(ttg.n_nodes, size=(25, 2))
    seeds[3, 1], seeds[5, 1] = -1, seeds[5, 0]  # no second node; the same node twice
    offsets = rng.uniform(0.0, 30.0, size=(25, 2))
    offsets[7, 0], offsets[2, 0] = np.inf, 0.0
    targets = rng.choice(ttg.n_nodes, size=300)  # repeats included
    expected = {
        (t is None, lim): engine.scipy_rows(
            engine.augmented_matrix(ttg.matrix, VirtualSources(seeds, offsets)),
            np.arange(25) + ttg.n_nodes,
            targets=t,
            cutoff_s=lim,
        )
        for t in (None, targets)
        for lim in (np.inf, 600.0)
    }
    monkeypatch.setattr(dijkstra, "kernel_available", lambda: False)
    for (every, lim), want in expected.items():
        got = dijkstra.search_rows(ttg.kernel, seeds, offsets, None if every else targets, lim)
        np.testing.assert_array_equal(got, want[:, : ttg.n_nodes] if every else want)


def test_numba_that_fails_to_import_falls_back_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """numba imports ``coverage``; a folder of that name beside the script breaks its import."""
    import builtins

    from planner.network import dijkstra

    real_import = builtins.__import__

    def shadowed(name: str, *args: object, **kwargs: object) -> object:
        if name == "numba":
            raise AttributeError("module 'coverage' has no attribute 'types'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", shadowed)
    with pytest.warns(RuntimeWarning, match="numba could not be imported.*scipy's Dijkstra"):
        assert dijkstra._numba.__wrapped__() is None
