"""The what-if panel's data (issue 18): packing, surface cells, size bounds and the note.

The packed arrays are unpacked here with an independent reader (base64,
zlib, byte planes, differences) and compared with the input; the sizes are
checked on the Andorra example and on a SYNTHETIC region-sized case (20,000
demand points × 1,000 candidates with a 60-minute cutoff, times from
straight-line distance at a road-like speed, so that neighbouring times are as
close as on roads).
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import points_near_nodes

from planner import constants
from planner.i18n import translator
from planner.network.index import index_network
from planner.network.road_network import RoadNetwork
from planner.outputs.maps import MapLayers, response_surface, surface_cells, write_map
from planner.outputs.whatif import WhatIfData, representative_nodes, whatif_data, whatif_panel
from planner.run.plan import plan_scenario, write_plan
from planner.run.scenario import load_scenario


def _unpack(text: str, dtype: str) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(text))
    size = np.dtype(dtype).itemsize
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(size, -1)
    return planes.T.copy().view(dtype).ravel()


def _unpack_csr(packed: dict[str, str], shape: tuple[int, int]) -> sp.csr_array:
    counts = _unpack(packed["counts"], "<u4").astype(np.int64)
    d_index = _unpack(packed["index"], "<u4").astype(np.int64)
    zigzag = _unpack(packed["time"], "<u4").astype(np.int64)
    d_time = (zigzag >> 1) ^ -(zigzag & 1)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    index, time = np.empty_like(d_index), np.empty_like(d_time)
    for r in range(len(counts)):
        lo, hi = indptr[r], indptr[r + 1]
        index[lo:hi] = np.cumsum(d_index[lo:hi])
        time[lo:hi] = np.cumsum(d_time[lo:hi])
    return sp.csr_array((time, index, indptr), shape=shape)


def _synthetic(n_demand: int, n_sites: int, *, seed: int = 0) -> WhatIfData:
    """SYNTHETIC: a 160 km square region, times = turn-out + distance at 70 km/h, up to 60 min."""
    rng = np.random.default_rng(seed)
    side = 160_000.0
    demand = rng.uniform(0, side, (n_demand, 2))
    sites = rng.uniform(0, side, (n_sites, 2))
    rows, cols, data = [], [], []
    for j, (x, y) in enumerate(sites):
        t = 180.0 + np.hypot(demand[:, 0] - x, demand[:, 1] - y) / (70 / 3.6)
        keep = np.flatnonzero(t <= 3600.0)
        rows.append(np.full(len(keep), j))
        cols.append(keep)
        data.append(np.ceil(t[keep]))
    times = sp.csr_array(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_sites, n_demand),
    )
    lon = 15.0 + sites[:, 0] / 60_000.0
    lat = 60.0 + sites[:, 1] / 111_000.0
    table = pd.DataFrame(
        {
            "name": [f"SYNTHETIC candidate {j}" for j in range(n_sites)],
            "kind": ["station"] * 20 + ["candidate"] * (n_sites - 20),
            "fleet": "ambulance",
            "units": 1,
            "lon": lon,
            "lat": lat,
            "on": [True] * 20 + [False] * (n_sites - 20),
        }
    )
    row = np.floor(demand[:, 1] / 2000.0)
    order = np.lexsort((np.where(row % 2 == 0, demand[:, 0], -demand[:, 0]), row))
    return WhatIfData(
        sites=table,
        weight=rng.integers(1, 200, n_demand).astype(float),
        times=times,
        thresholds_min=(10.0, 20.0, 30.0),
        cutoff_min=60.0,
        groups=rng.integers(-1, 5, n_demand),
        group_names=tuple(f"SYNTHETIC municipality {k}" for k in range(5)),
        demand_order=order,
    )


def test_packed_arrays_unpack_to_the_data() -> None:
    data = _synthetic(2_000, 60, seed=3)
    panel = whatif_panel(data, translator("en"), class_colours=["#000"] * 4, with_cells=False)
    assert panel.config is not None and panel.note is None
    arrays = panel.config["arrays"]
    order = data.demand_order
    assert order is not None
    assert np.array_equal(_unpack(arrays["weight"], "<f8"), data.weight[order])
    assert data.groups is not None
    assert np.array_equal(_unpack(arrays["groups"], "<u4").astype(int) - 1, data.groups[order])
    unpacked = _unpack_csr(arrays["demand"], data.times.shape)
    expected = sp.csr_array(data.times[:, order])
    assert (unpacked != expected).nnz == 0
    assert unpacked.nnz == data.times.nnz
    assert panel.config["thresholds_s"] == [600.0, 1200.0, 1800.0]
    assert panel.config["survival"] == list(constants.SURVIVAL_COEFFICIENTS)
    assert panel.config["words"]["cutoff"] == "Response times above 60 min count as not reached."


def test_region_sized_synthetic_map_stays_under_25_mb(tmp_path: Path) -> None:
    """SYNTHETIC 20,000 demand points × 1,000 candidates, 60-min cutoff: the panel fits."""
    data = _synthetic(20_000, 1_000)
    assert data.times.nnz > 7_000_000  # a third of the pairs are within the hour
    page = write_map(MapLayers(title="SYNTHETIC region", whatif=data), tmp_path / "big.html")
    size = page.stat().st_size
    text = page.read_text(encoding="utf-8")
    assert "plannerWhatIf(map, layers, {" in text  # the panel is in, not left out
    assert size < 25_000_000, size


def test_panel_above_the_bound_is_left_out_with_a_note(tmp_path: Path) -> None:
    data = _synthetic(3_000, 100, seed=1)
    small = whatif_panel(
        data, translator("sv"), class_colours=["#000"] * 4, with_cells=False, max_bytes=10_000
    )
    assert small.config is None and small.size_bytes > 10_000
    assert small.note is not None
    assert re.fullmatch(
        r"Tänk om-panelen är utelämnad: dess data skulle göra kartan [0-9,]+ MB större "
        r"\(högst 0,0 MB\)\. Kör om med färre kandidatplatser eller en kortare sökgräns\.",
        small.note,
    ), small.note
    # in the map: the note instead of the panel, and the page still opens (same map otherwise)
    too_many = constants.WHATIF_MAX_PAIRS // data.times.nnz + 1
    big = WhatIfData(
        sites=pd.concat([data.sites] * too_many, ignore_index=True),
        weight=data.weight,
        times=sp.csr_array(sp.vstack([data.times] * too_many)),
        thresholds_min=data.thresholds_min,
    )
    page = write_map(MapLayers(title="SYNTHETIC", whatif=big), tmp_path / "note.html")
    text = page.read_text(encoding="utf-8")
    assert "plannerWhatIf(map" not in text
    assert "The what-if panel is left out" in text
    assert page.stat().st_size < 2_000_000


def test_surface_cells_and_representative_nodes() -> None:
    # six road nodes in two hexagons of 1 km; times chosen so the medians are clear
    xy = [(0, 0), (50, 50), (-60, 20), (3000, 0), (3050, 40), (2990, -30)]
    times = [4.0, 8.0, 6.0, np.inf, np.inf, 12.0]
    nodes = gpd.GeoDataFrame(
        {"response_min": times},
        geometry=gpd.points_from_xy(*zip(*xy, strict=True)),
        crs="EPSG:3006",
    )
    cells = surface_cells(nodes, cell_m=1000.0)
    surface = response_surface(nodes, cell_m=1000.0)
    assert cells.tolist() == [0, 0, 0, 1, 1, 1]
    assert surface["n_nodes"].tolist() == [3, 3]
    # cell 0: median 6 -> node 2; cell 1: median inf (two of three unreachable) -> node 3
    assert representative_nodes(cells, np.asarray(times)).tolist() == [2, 3]


def test_andorra_map_grows_by_less_than_2_mb(andorra_scenario_dir: Path, tmp_path: Path) -> None:
    # the panel needs no simulation: leave out the example's [simulate] section
    scenario = replace(load_scenario(andorra_scenario_dir / "andorra.toml"), simulate=None)
    result = plan_scenario(scenario, echo=lambda _: None)
    for key, run in (("with", result), ("without", replace(result, whatif=None))):
        write_plan(
            run, out_dir=tmp_path / key, map_path=tmp_path / f"{key}.html",
            echo=lambda _: None,  # type: ignore[arg-type]
        )  # fmt: skip
    page = (tmp_path / "with.html").read_text(encoding="utf-8")
    grown = len(page.encode()) - (tmp_path / "without.html").stat().st_size
    assert 0 < grown < 2_000_000, grown
    config = re.search(r"plannerWhatIf\(map, layers, (\{.*?\})\);\n", page)
    assert config is not None
    parsed = json.loads(config.group(1))
    assert parsed["n_demand"] == len(result.before.demand)
    assert parsed["n_cells"] > 0  # the surface and catchments are in
    assert "plannerWhatIf" not in (tmp_path / "without.html").read_text(encoding="utf-8")


def test_too_many_pairs_are_estimated_not_computed(
    andorra_net: RoadNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sample of sites estimates the pairs; above the bound no times are held, a note shows."""
    graph = andorra_net.graph
    crs = andorra_net.crs
    sites = gpd.GeoDataFrame(
        {"name": [f"site {k}" for k in range(60)], "kind": "candidate", "fleet": "ambulance"},
        geometry=points_near_nodes(graph, 60, seed=1),
        crs=crs,
    )
    demand = gpd.GeoDataFrame(
        {"weight": np.arange(1.0, 301.0)}, geometry=points_near_nodes(graph, 300, seed=2), crs=crs
    )
    index = index_network(andorra_net)
    args = {"turnout_s": 180.0, "thresholds_min": (10.0, 20.0), "cutoff_min": 15.0}
    full = whatif_data(index, graph, sites, demand, **args)  # type: ignore[arg-type]
    assert full.estimated_pairs is None and 0 < full.times.nnz < 60 * 300
    assert full.times.data.max() <= 15 * 60 and (full.times.data == np.ceil(full.times.data)).all()
    monkeypatch.setattr(constants, "WHATIF_MAX_PAIRS", full.times.nnz // 2)
    cut = whatif_data(index, graph, sites, demand, **args)  # type: ignore[arg-type]
    assert cut.times.nnz == 0 and cut.estimated_pairs is not None
    assert 0.5 * full.times.nnz < cut.estimated_pairs < 1.5 * full.times.nnz
    panel = whatif_panel(cut, translator("en"), class_colours=["#000"] * 3, with_cells=False)
    assert panel.config is None and panel.note is not None
    assert panel.note.startswith("The what-if panel is left out: its data would add ")
