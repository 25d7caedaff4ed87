"""Coverage in blocks of stations (``run_coverage(executor=...)``) equals the dense run.

With an executor, :func:`planner.run.pipeline.run_coverage` never holds the
stations × nodes drive times: each block of stations sends back its times to
the demand, its fastest station per node and its stations' isochrones, and
the fleet bands and catchments are drawn from the nearest station per node
(:func:`planner.analysis.isochrones.fleet_isochrones_from_nearest`,
:func:`~planner.analysis.isochrones.catchment_isochrones_from_nearest`). Everything
must equal the dense in-process run exactly: tables, demand, road nodes and
the polygons of all three isochrone layers, on one machine and on a real
2-worker Dask cluster.

Andorra is split into two pretend regions at the median easting ("W", "E").
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import amenity_demand, points_near_nodes

from planner.analysis import isochrones as iso_mod
from planner.analysis import station_times
from planner.analysis.coverage import CoverageSettings
from planner.analysis.isochrones import (
    EdgeSamples,
    IsochroneSettings,
    catchment_isochrones,
    catchment_isochrones_from_nearest,
    fleet_isochrones,
    fleet_isochrones_from_nearest,
    origin_edge_samples,
    sample_edges,
)
from planner.distributed import DaskExecutor, InProcessExecutor
from planner.errors import ParameterError
from planner.inputs.sites import read_osm_pois
from planner.network.index import NetworkIndex, index_network
from planner.network.matrix import TravelTimeMatrix
from planner.network.road_network import RoadNetwork
from planner.network.snapping import snap_points
from planner.network.travel_times import point_times
from planner.run import pipeline
from planner.run.pipeline import CoverageResult, run_coverage

COVERAGE = CoverageSettings(thresholds_min=(5.0, 10.0))
ISOCHRONES = IsochroneSettings(cell_m=100.0)
#: 9 stations in blocks of 2: five blocks, the last one short.
BLOCK = 2


@pytest.fixture(scope="module")
def index(andorra_net: RoadNetwork) -> NetworkIndex:
    return index_network(andorra_net)


@pytest.fixture(scope="module")
def layers(andorra_net: RoadNetwork, andorra_pbf: Path) -> tuple[gpd.GeoDataFrame, ...]:
    """Stations (with a twin in another block and one far from any road) and OSM demand."""
    graph = andorra_net.graph
    xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)])
    split = float(np.median(xy[:, 0]))
    points = points_near_nodes(graph, 7, seed=21)
    # S7 stands where S1 stands (equal times: the lower station wins, across blocks);
    # S8 is 40 km from any road (reaches nothing)
    points += [points[1], shapely.Point(xy[0, 0] + 40_000.0, xy[0, 1])]
    x = shapely.get_coordinates(np.asarray(points))[:, 0]
    stations = gpd.GeoDataFrame(
        {
            "name": [f"S{k}" for k in range(len(points))],
            "fleet": "ambulance",
            "units": 1,
            "region_code": np.where(x < split, "W", "E"),
        },
        geometry=points,
        crs=graph.graph["crs"],
    )
    pois = read_osm_pois(andorra_pbf, tags={"amenity": ["restaurant", "cafe", "pharmacy"]})
    demand = amenity_demand(pois, seed=4).to_crs(graph.graph["crs"])
    west = np.where(demand.geometry.x < split, "W", "E")
    demand = demand.assign(municipality_code=west, municipality=west, region_code=west)
    assert set(stations["region_code"]) == set(demand["region_code"]) == {"W", "E"}
    return stations, demand


def _assert_same(a: CoverageResult, b: CoverageResult) -> None:
    """Every table, layer and polygon equal, bit for bit."""
    assert list(a.tables) == list(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)
    for frame in ("stations", "demand", "road_nodes"):
        pd.testing.assert_frame_equal(getattr(a, frame), getattr(b, frame), check_exact=True)
    for layer in ("fleet_bands", "station_bands", "catchments"):
        x, y = getattr(a, layer), getattr(b, layer)
        if x is None:
            assert y is None
            continue
        assert y is not None and x.crs == y.crs
        pd.testing.assert_frame_equal(
            pd.DataFrame(x.drop(columns="geometry")),
            pd.DataFrame(y.drop(columns="geometry")),
            check_exact=True,
        )
        assert shapely.equals_exact(x.geometry.to_numpy(), y.geometry.to_numpy(), 0).all()
        assert list(x.geometry.to_wkb()) == list(y.geometry.to_wkb())
    assert a.metadata == b.metadata


class _ReversedExecutor(InProcessExecutor):
    """Runs the blocks in this process but yields them last first (as a cluster may)."""

    def map_blocks(
        self, fn: Callable[[Any, Any], Any], shared: Any, tasks: Sequence[tuple[int, Any]]
    ) -> Generator[tuple[int, Any], None, None]:
        yield from reversed(list(super().map_blocks(fn, shared, tasks)))


@pytest.fixture(scope="module")
def dense(
    andorra_net: RoadNetwork, index: NetworkIndex, layers: tuple[gpd.GeoDataFrame, ...]
) -> dict[bool, CoverageResult]:
    """The dense in-process runs, with and without mutual aid."""
    stations, demand = layers
    kw: dict[str, Any] = {"coverage": COVERAGE, "isochrones": ISOCHRONES, "index": index}
    return {
        across: run_coverage(andorra_net, stations, demand, serve_across=across, **kw)
        for across in (True, False)
    }


@pytest.mark.parametrize("serve_across", [True, False])
@pytest.mark.parametrize("executor", [InProcessExecutor, _ReversedExecutor])
def test_blocks_equal_dense_in_process(
    andorra_net: RoadNetwork,
    index: NetworkIndex,
    layers: tuple[gpd.GeoDataFrame, ...],
    dense: dict[bool, CoverageResult],
    serve_across: bool,
    executor: type[InProcessExecutor],
) -> None:
    stations, demand = layers
    expected = dense[serve_across]
    # the run is meaningful: two regions, mutual aid, twins, an unreachable station
    assert "mutual_aid" in expected.tables
    assert expected.fleet_bands is not None and not expected.fleet_bands.geometry.is_empty.all()
    nearest = set(expected.road_nodes["nearest_station"].dropna())
    assert len(nearest) >= 4 and "S7" not in nearest and "S8" not in nearest
    assert (expected.stations["snap_status"] == "far_from_road").sum() == 1
    blocked = run_coverage(
        andorra_net, stations, demand, coverage=COVERAGE, isochrones=ISOCHRONES,
        serve_across=serve_across, index=index, executor=executor(), block_size=BLOCK,
    )  # fmt: skip
    _assert_same(expected, blocked)


def test_default_block_size_and_tables_only(
    andorra_net: RoadNetwork,
    index: NetworkIndex,
    layers: tuple[gpd.GeoDataFrame, ...],
    dense: dict[bool, CoverageResult],
) -> None:
    stations, demand = layers
    kw: dict[str, Any] = {"coverage": COVERAGE, "isochrones": ISOCHRONES, "index": index}
    _assert_same(
        dense[True], run_coverage(andorra_net, stations, demand, executor=InProcessExecutor(), **kw)
    )
    plain = run_coverage(andorra_net, stations, demand, draw_isochrones=False, **kw)
    blocked = run_coverage(
        andorra_net, stations, demand, draw_isochrones=False, executor=InProcessExecutor(),
        block_size=4, **kw,
    )  # fmt: skip
    assert blocked.fleet_bands is None
    _assert_same(plain, blocked)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ParameterError, match="block_size"):
            run_coverage(
                andorra_net, stations, demand, executor=InProcessExecutor(), block_size=bad, **kw
            )


def test_blocks_equal_dense_on_dask_cluster(
    cluster: DaskExecutor,
    andorra_net: RoadNetwork,
    index: NetworkIndex,
    layers: tuple[gpd.GeoDataFrame, ...],
    dense: dict[bool, CoverageResult],
) -> None:
    stations, demand = layers
    blocked = run_coverage(
        andorra_net, stations, demand, coverage=COVERAGE, isochrones=ISOCHRONES,
        index=index, executor=cluster, block_size=BLOCK,
    )  # fmt: skip
    _assert_same(dense[True], blocked)


# ---------------------------------------------------------------------------
# The block path holds no stations × nodes array
# ---------------------------------------------------------------------------


def test_block_path_never_holds_stations_by_nodes(
    andorra_net: RoadNetwork, index: NetworkIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Peak traced memory stays far below one stations × nodes array; the dense run's does not.

    600 stations × Andorra's ~1,200 nodes are 5.7 MB in float64; a block
    of 8 stations is 75 kB. The dense run is measured the same way, so the measurement
    is known to see such an array.
    """
    graph = andorra_net.graph
    m = 600
    stations = gpd.GeoDataFrame(
        {"name": [f"S{k}" for k in range(m)], "fleet": "ambulance"},
        geometry=points_near_nodes(graph, m, seed=5),
        crs=graph.graph["crs"],
    )
    demand = gpd.GeoDataFrame(
        geometry=points_near_nodes(graph, 50, seed=6), crs=graph.graph["crs"]
    ).assign(weight=1.0, municipality_code="x", municipality="x", region_code="x", region="x")
    dense_bytes = m * index.ttg.n_nodes * 8
    kw: dict[str, Any] = {"coverage": COVERAGE, "draw_isochrones": False, "index": index}

    def peak(**extra: Any) -> tuple[CoverageResult, int]:
        run_coverage(andorra_net, stations, demand, **kw, **extra)  # warm caches
        tracemalloc.start()
        try:
            result = run_coverage(andorra_net, stations, demand, **kw, **extra)
            return result, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    plain, dense_peak = peak()
    assert dense_peak >= dense_bytes

    # nothing on the block path may build the dense array
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the block path computed stations × nodes times")

    monkeypatch.setattr(TravelTimeMatrix, "to_dense", refuse)
    monkeypatch.setattr(station_times, "point_times", refuse)
    blocked, block_peak = peak(executor=InProcessExecutor(), block_size=8)
    assert block_peak < dense_bytes / 3, (block_peak, dense_bytes)
    _assert_same(plain, blocked)


def test_block_path_draws_isochrones_from_blocks_only(
    andorra_net: RoadNetwork,
    index: NetworkIndex,
    layers: tuple[gpd.GeoDataFrame, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Station bands get one block's rows at a time; fleet bands and catchments none."""
    stations, demand = layers
    rows: list[int] = []
    station_isochrones = station_times.station_isochrones

    def spy(samples: EdgeSamples, node_times: np.ndarray, **kwargs: Any) -> gpd.GeoDataFrame:
        rows.append(node_times.shape[0])
        return station_isochrones(samples, node_times, **kwargs)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the block path used stations × nodes times")

    monkeypatch.setattr(station_times, "station_isochrones", spy)
    for name in ("point_times", "fleet_isochrones", "catchment_isochrones", "_isochrone_layers"):
        monkeypatch.setattr(station_times, name, refuse)
    monkeypatch.setattr(TravelTimeMatrix, "to_dense", refuse)
    monkeypatch.setattr(iso_mod, "_nearest_rows", refuse)
    result = run_coverage(
        andorra_net, stations, demand, coverage=COVERAGE, isochrones=ISOCHRONES,
        index=index, executor=InProcessExecutor(), block_size=BLOCK,
    )  # fmt: skip
    assert rows == [2, 2, 2, 2, 1]
    assert result.catchments is not None and len(result.catchments) == 2 * len(stations)


# ---------------------------------------------------------------------------
# Fleet bands and catchments from the nearest station per node
# ---------------------------------------------------------------------------


def _reference_best(
    samples: EdgeSamples, node_times: np.ndarray, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fastest origin per sample, one origin at a time (the former ``_best`` loop)."""
    best_t = np.full(len(samples), np.inf)
    best_o = np.full(len(samples), -1, dtype=np.int64)
    for i in range(node_times.shape[0]):
        index, t = samples.reached(node_times[i], limit)
        better = t < best_t[index]
        best_t[index[better]] = t[better]
        best_o[index[better]] = i
    keep = np.isfinite(best_t)
    return samples.x[keep], samples.y[keep], best_t[keep], best_o[keep]


def _argmin(node_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    arg = np.argmin(node_times, axis=0)
    best = node_times[arg, np.arange(node_times.shape[1])]
    return best, np.where(np.isfinite(best), arg, -1)


def _tied_times(rng: np.random.Generator, n_origins: int, n_nodes: int) -> np.ndarray:
    """Drive times on a 30 s grid (many equal times), a third unreachable."""
    times = rng.integers(0, 40, (n_origins, n_nodes)).astype(float) * 30.0
    times[rng.random(times.shape) < 0.3] = np.inf
    times[:, rng.random(n_nodes) < 0.05] = np.inf  # reached by no origin
    return times


def _toy_samples() -> EdgeSamples:
    """A 6 × 6 grid of nodes 100 m apart, roads with whole-second times (ties on roads).

    Samples at fractions 0, 1/4, 1/2, 3/4 and 1; every third road is one-way.
    """
    k = 6
    nodes = np.arange(k * k).reshape(k, k)
    pairs = [(a, b) for a, b in zip(nodes[:, :-1].ravel(), nodes[:, 1:].ravel(), strict=True)]
    pairs += [(a, b) for a, b in zip(nodes[:-1].ravel(), nodes[1:].ravel(), strict=True)]
    tail = np.array([p[0] for p in pairs])
    head = np.array([p[1] for p in pairs])
    forward = np.tile([60.0, 120.0, 30.0], len(pairs))[: len(pairs)]
    backward = np.where(np.arange(len(pairs)) % 3 == 2, np.inf, forward)
    frac = np.tile([0.0, 0.25, 0.5, 0.75, 1.0], len(pairs))
    road = np.repeat(np.arange(len(pairs)), 5)
    nx_, ny_ = (nodes % k) * 100.0, (nodes // k) * 100.0
    x = nx_.ravel()[tail[road]] + frac * (nx_.ravel()[head[road]] - nx_.ravel()[tail[road]])
    y = ny_.ravel()[tail[road]] + frac * (ny_.ravel()[head[road]] - ny_.ravel()[tail[road]])
    return EdgeSamples(
        x=x + 6_500_000.0,
        y=y + 400_000.0,
        road=road,
        frac=frac,
        tail=tail,
        head=head,
        forward_s=forward,
        backward_s=backward,
        start=np.arange(len(pairs)) * 5,
        count=np.full(len(pairs), 5),
    )


@pytest.fixture(scope="module")
def andorra_samples(andorra_net: RoadNetwork, index: NetworkIndex) -> EdgeSamples:
    return sample_edges(andorra_net.graph, index.ttg, spacing_m=ISOCHRONES.grid[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_from_nearest_equals_origin_by_origin(
    andorra_samples: EdgeSamples, index: NetworkIndex, seed: int
) -> None:
    """Sample times and their station equal the one-origin-at-a-time loop, ties included."""
    rng = np.random.default_rng(seed)
    for samples, n_nodes in ((andorra_samples, index.ttg.n_nodes), (_toy_samples(), 36)):
        times = _tied_times(rng, 7, n_nodes)
        for limit in (600.0, 1200.0, np.inf):
            expected = _reference_best(samples, times, limit)
            node_time, node_origin = _argmin(times)
            got = iso_mod._best_from_nearest(samples, node_time, node_origin, None, limit)
            assert len(got[0]) == len(expected[0]) > 0
            for a, b in zip(got, expected, strict=True):
                np.testing.assert_array_equal(a, b)


def test_toy_grid_has_ties_between_road_ends() -> None:
    """The toy grid really tests the tie rule: both ends give a sample the same time."""
    samples = _toy_samples()
    times = _tied_times(np.random.default_rng(0), 7, 36)
    node_time, node_origin = _argmin(times)
    road, f = samples.road, samples.frac
    a = node_time[samples.tail[road]] + f * samples.forward_s[road]
    with np.errstate(invalid="ignore"):
        b = node_time[samples.head[road]] + (1 - f) * samples.backward_s[road]
    tie = (a == b) & np.isfinite(a)
    differ = node_origin[samples.tail[road]] != node_origin[samples.head[road]]
    assert (tie & differ).sum() >= 5


@pytest.mark.parametrize("seed", [3, 4])
def test_nearest_isochrones_equal_dense(
    andorra_net: RoadNetwork, andorra_samples: EdgeSamples, index: NetworkIndex, seed: int
) -> None:
    """Fleet bands and catchments from (time, station) per node equal the dense functions."""
    rng = np.random.default_rng(seed)
    names = [f"S{k}" for k in range(5)]
    times = _tied_times(rng, len(names), index.ttg.n_nodes)
    snapped = snap_points(
        andorra_net.graph,
        gpd.GeoSeries(points_near_nodes(andorra_net.graph, len(names), seed), crs=andorra_net.crs),
        edges=index.edges,
    )
    own = origin_edge_samples(snapped, andorra_net.graph, spacing_m=ISOCHRONES.grid[0])
    settings = IsochroneSettings(thresholds_min=(8.0, 15.0), cell_m=100.0)
    node_time, node_origin = _argmin(times)
    kw: dict[str, Any] = {"turnout_s": 90.0, "settings": settings, "origin_samples": own}
    fleet = fleet_isochrones(andorra_samples, times, **kw)
    catchments = catchment_isochrones(andorra_samples, times, names=names, **kw)
    assert not fleet.geometry.is_empty.all() and catchments["station"].nunique() == len(names)
    pd.testing.assert_frame_equal(
        fleet_isochrones_from_nearest(andorra_samples, node_time, **kw), fleet, check_exact=True
    )
    got = catchment_isochrones_from_nearest(
        andorra_samples, node_time, node_origin, names=names, **kw
    )
    pd.testing.assert_frame_equal(got, catchments, check_exact=True)
    assert list(got.geometry.to_wkb()) == list(catchments.geometry.to_wkb())
    # the dense functions equal the origin-by-origin loop too
    x, y, t, best = _reference_best(andorra_samples, times, float(settings.budgets_s(90.0).max()))
    x, y, t, best = iso_mod._with_origin_samples(x, y, t, best, own)
    budgets = settings.budgets_s(90.0)
    reference = iso_mod._catchment_frame(
        x, y, t, best, names, budgets, settings, andorra_samples.crs
    )
    pd.testing.assert_frame_equal(reference, catchments, check_exact=True)


def test_nearest_isochrones_check_their_inputs(andorra_samples: EdgeSamples) -> None:
    n = int(max(andorra_samples.tail.max(), andorra_samples.head.max())) + 1
    time = np.full(n, 100.0)
    origin = np.zeros(n, dtype=np.int64)
    kw: dict[str, Any] = {"turnout_s": 60.0}
    with pytest.raises(ParameterError, match="node_time"):
        fleet_isochrones_from_nearest(andorra_samples, time[:-1], **kw)
    with pytest.raises(ParameterError, match="node_time"):
        fleet_isochrones_from_nearest(andorra_samples, np.ones((2, n)), **kw)
    for bad in (origin[:-1], origin.astype(float), origin + 2, origin - 2, np.full(n, -1)):
        with pytest.raises(ParameterError, match="node_origin"):
            catchment_isochrones_from_nearest(andorra_samples, time, bad, names=["a", "b"], **kw)
    with pytest.raises(ParameterError, match="origin_samples"):
        catchment_isochrones_from_nearest(
            andorra_samples, time, origin, names=["a", "b"], origin_samples=[], **kw
        )


def test_blocked_road_nodes_are_the_minimum_of_point_times(
    andorra_net: RoadNetwork, index: NetworkIndex, layers: tuple[gpd.GeoDataFrame, ...]
) -> None:
    """The blocks' per-node minimum is the dense array's (road_nodes of a blocked run)."""
    stations, demand = layers
    st = snap_points(andorra_net.graph, stations, edges=index.edges)
    times = point_times(index.ttg, st)
    best, _ = _argmin(times)
    blocked = run_coverage(
        andorra_net, stations, demand, coverage=COVERAGE, draw_isochrones=False, index=index,
        executor=InProcessExecutor(), block_size=3,
    )  # fmt: skip
    np.testing.assert_array_equal(blocked.road_nodes["drive_s"].to_numpy(), best)


def _assert_same_layers(a: Sequence[gpd.GeoDataFrame], b: Sequence[gpd.GeoDataFrame]) -> None:
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(
            pd.DataFrame(x.drop(columns="geometry")),
            pd.DataFrame(y.drop(columns="geometry")),
            check_exact=True,
        )
        assert list(x.geometry.to_wkb()) == list(y.geometry.to_wkb())


def test_isochrones_in_blocks_equal_dense(
    andorra_net: RoadNetwork, index: NetworkIndex, layers: tuple[gpd.GeoDataFrame, ...]
) -> None:
    """run_isochrones on an executor (searches stopped at the largest band) == dense."""
    stations, _ = layers
    dense = pipeline.run_isochrones(andorra_net, stations, settings=ISOCHRONES, index=index)
    blocked = pipeline.run_isochrones(
        andorra_net, stations, settings=ISOCHRONES, index=index,
        executor=_ReversedExecutor(), block_size=BLOCK,
    )  # fmt: skip
    assert len(dense[0]) == len(ISOCHRONES.thresholds_min)
    assert not dense[1].geometry.is_empty.all()
    _assert_same_layers(dense[:3], blocked[:3])
    pd.testing.assert_frame_equal(dense[3], blocked[3])


def test_isochrones_command_on_a_scheduler(
    cluster: DaskExecutor, tmp_path: Path, sodermalm_pbf: Path
) -> None:
    """`planner isochrones --scheduler ADDRESS` writes the same layers as in process."""
    import pyogrio

    from planner.run.cli import main

    stations = tmp_path / "stations.csv"
    stations.write_text(
        "name;lat;lon\nMariatorget;59,3172;18,0605\nSkanstull;59,3079;18,0764\n",
        encoding="utf-8",
    )
    base = [
        "isochrones", "--pbf", str(sodermalm_pbf), "--stations", str(stations),
        "--thresholds", "2,4", "--no-cache", "--no-progress",
    ]  # fmt: skip
    here, there = tmp_path / "here.gpkg", tmp_path / "there.gpkg"
    assert main([*base, "--out", str(here)]) == 0
    address = cluster.client.scheduler.address
    assert main([*base, "--out", str(there), "--scheduler", address]) == 0
    for layer in ("isochrones", "station_isochrones", "catchments"):
        a = pyogrio.read_dataframe(here, layer=layer)
        b = pyogrio.read_dataframe(there, layer=layer)
        assert len(a) == len(b) > 0
        _assert_same_layers([a], [b])


def test_large_runs_use_blocks_without_an_executor(
    andorra_net: RoadNetwork,
    index: NetworkIndex,
    layers: tuple[gpd.GeoDataFrame, ...],
    dense: dict[bool, CoverageResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above the memory budget, coverage runs in blocks in process: same result, no dense array."""
    from planner import constants

    stations, demand = layers
    monkeypatch.setattr(constants, "DENSE_COST_MAX_BYTES", 8 * len(stations) * 1000)
    used: list[int] = []
    original = station_times._coverage_blocks

    def spy(*args: Any, **kwargs: Any) -> Any:
        used.append(1)
        return original(*args, **kwargs)

    def no_dense(*_: Any, **__: Any) -> None:
        raise AssertionError("the dense stations x nodes path ran")

    monkeypatch.setattr(station_times, "_coverage_blocks", spy)
    monkeypatch.setattr(station_times, "point_times", no_dense)
    result = run_coverage(
        andorra_net, stations, demand, coverage=COVERAGE, isochrones=ISOCHRONES, index=index
    )
    assert used == [1]
    _assert_same(dense[True], result)
