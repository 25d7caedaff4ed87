"""Tests of planner.inputs.candidates: real OSM data (Andorra) checked independently, by hand."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import pandas as pd
import pytest
import shapely

from planner.errors import DataError, InputFileError, MissingFileError, ParameterError
from planner.inputs.candidates import (
    CANDIDATE_COLUMNS,
    OSM_CANDIDATE_TAGS,
    _subset_snapped,
    candidates_from_file,
    candidates_from_osm,
    candidates_from_stations,
    candidates_on_grid,
    check_candidates,
    combine_candidates,
)
from planner.inputs.sites import read_osm_pois, read_stations
from planner.network.road_network import RoadNetwork
from planner.network.snapping import edge_frame, snap_points
from planner.network.travel_times import build_travel_time_graph, node_times, point_times

#: The Andorra hospital nodes 1-2.4 km from any drivable road (found by hand
#: on the map: they sit in the mountains / on mis-placed nodes).
FAR_HOSPITALS = {666793601, 666793602, 666793607, 666793610}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def raw_osm_objects(path: Path, tags: dict[str, tuple[str, ...]]) -> set[tuple[str, int]]:
    """(type, id) of every node, way and relation with any of the tags, read with raw pyosmium."""
    pairs = {(k, v) for k, values in tags.items() for v in values}
    found = set()
    for obj in osmium.FileProcessor(str(path)):
        if any((tag.k, tag.v) in pairs for tag in obj.tags):
            kind = {"n": "node", "w": "way", "r": "relation"}[obj.type_str()]
            found.add((kind, obj.id))
    return found


#: Andorra lies outside Sweden: its layers are in its UTM zone (31N), Swedish ones in SWEREF 99 TM.
ANDORRA_CRS = "EPSG:32631"


def check_layer(layer: gpd.GeoDataFrame, crs: str = "EPSG:3006") -> None:
    """The shape every candidate layer has (``crs``: the metric CRS of its data)."""
    assert list(layer.columns[: len(CANDIDATE_COLUMNS)]) == list(CANDIDATE_COLUMNS)
    assert layer.geometry.name == "geometry"
    assert layer.crs == crs
    assert (layer.geom_type == "Point").all()
    assert layer["name"].str.casefold().is_unique
    assert layer["required"].dtype == bool
    assert list(layer.index) == list(range(len(layer)))


def station_frame(rows: list[tuple[str, float, float]], crs: str) -> gpd.GeoDataFrame:
    """Stations in ``crs`` from (name, x, y), in the readers' shape."""
    return gpd.GeoDataFrame(
        {"name": [r[0] for r in rows], "fleet": "ambulance", "units": 2},
        geometry=shapely.points([r[1] for r in rows], [r[2] for r in rows]),
        crs=crs,
    )


@pytest.fixture(scope="module")
def andorra_edges(andorra_net: RoadNetwork) -> gpd.GeoDataFrame:
    return edge_frame(andorra_net.graph)


# --------------------------------------------------------------------------
# OSM
# --------------------------------------------------------------------------
def test_osm_hospitals_andorra(andorra_pbf: Path) -> None:
    layer = candidates_from_osm(andorra_pbf, kinds=("hospital",))
    check_layer(layer, ANDORRA_CRS)
    ours = set(zip(layer["osm_type"], layer["osm_id"], strict=True))
    # independent 1: read_osm_pois one raw tag at a time
    by_tag: set[tuple[str, int]] = set()
    for key, values in OSM_CANDIDATE_TAGS["hospital"].items():
        for value in values:
            pois = read_osm_pois(andorra_pbf, tags={key: [value]})
            by_tag |= set(zip(pois["osm_type"], pois["osm_id"], strict=True))
    # independent 2: every object with the tags, straight from pyosmium
    raw = raw_osm_objects(andorra_pbf, {"amenity": ("hospital",), "healthcare": ("hospital",)})
    assert ours == by_tag == raw
    assert len(layer) == 7  # 6 nodes + 1 way, all amenity=hospital
    assert layer["osm_type"].value_counts().to_dict() == {"node": 6, "way": 1}
    assert set(layer["kind"]) == {"hospital"}
    assert not layer["required"].any()
    assert set(layer["source"]) == {"OSM"}
    # none is named in OSM, so each is called after its id
    assert set(layer["name"]) == {f"hospital {i}" for i in layer["osm_id"]}
    assert set(layer["source_id"]) == {f"{t} {i}" for t, i in ours}


def test_osm_fire_stations_and_health_centres_andorra(andorra_pbf: Path) -> None:
    for kind in ("fire_station", "health_centre"):
        layer = candidates_from_osm(andorra_pbf, kinds=(kind,))
        check_layer(layer)  # empty: SWEREF 99 TM, the default
        raw = raw_osm_objects(andorra_pbf, dict(OSM_CANDIDATE_TAGS[kind]))
        assert set(zip(layer["osm_type"], layer["osm_id"], strict=True)) == raw
        # the Andorra extract maps neither (checked with raw pyosmium above)
        assert len(layer) == 0
    everything = candidates_from_osm(andorra_pbf)
    check_layer(everything, ANDORRA_CRS)
    assert len(everything) == 7


SYNTHETIC_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="63.8260" lon="20.2400">
    <tag k="amenity" v="hospital"/><tag k="name" v="Sjukhuset"/>
  </node>
  <node id="2" lat="63.8300" lon="20.2600">
    <tag k="amenity" v="clinic"/><tag k="healthcare" v="clinic"/>
    <tag k="name" v="Vårdcentral Söder"/>
  </node>
  <node id="3" lat="63.8350" lon="20.2700">
    <tag k="healthcare" v="centre"/><tag k="name" v="Vårdcentral Söder"/>
  </node>
  <node id="4" lat="63.8400" lon="20.2800"><tag k="amenity" v="doctors"/></node>
  <node id="5" lat="63.8500" lon="20.3000">
    <tag k="healthcare" v="hospital"/><tag k="amenity" v="clinic"/>
  </node>
  <node id="6" lat="63.8500" lon="20.1000"><tag k="amenity" v="pharmacy"/></node>
  <node id="10" lat="63.8200" lon="20.2000"/>
  <node id="11" lat="63.8200" lon="20.2010"/>
  <node id="12" lat="63.8205" lon="20.2010"/>
  <node id="13" lat="63.8205" lon="20.2000"/>
  <way id="100">
    <nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="10"/>
    <tag k="amenity" v="fire_station"/><tag k="building" v="yes"/>
  </way>
</osm>
"""


def test_osm_synthetic_kinds_and_names(tmp_path: Path) -> None:
    path = tmp_path / "umea.osm"
    path.write_text(SYNTHETIC_OSM, encoding="utf-8")
    layer = candidates_from_osm(path)
    check_layer(layer)
    by_id = layer.set_index(["osm_type", "osm_id"])
    assert len(layer) == 6  # the pharmacy is not a candidate
    assert by_id.loc[("node", 1), "name"] == "Sjukhuset"
    assert by_id.loc[("node", 1), "kind"] == "hospital"
    # the same name twice: each gets its source and id
    assert by_id.loc[("node", 2), "name"] == "Vårdcentral Söder (OSM node 2)"
    assert by_id.loc[("node", 3), "name"] == "Vårdcentral Söder (OSM node 3)"
    assert by_id.loc[("node", 2), "kind"] == by_id.loc[("node", 3), "kind"] == "health_centre"
    assert by_id.loc[("node", 4), "name"] == "health centre 4"
    # hospital and clinic at once: one candidate, the first kind asked for
    assert by_id.loc[("node", 5), "kind"] == "hospital"
    assert by_id.loc[("node", 5), "tag"] == "healthcare=hospital"
    assert by_id.loc[("way", 100), "kind"] == "fire_station"
    assert by_id.loc[("way", 100), "name"] == "fire station 100"
    # the building's centroid, about 25 m east and 28 m north of node 10
    corner = gpd.GeoSeries(shapely.points([20.2000], [63.8200]), crs="EPSG:4326").to_crs(3006)
    offset = by_id.loc[("way", 100), "geometry"].coords[0]
    assert 20 < offset[0] - corner.x.iloc[0] < 30
    assert 25 < offset[1] - corner.y.iloc[0] < 31

    reversed_order = candidates_from_osm(path, kinds=["health_centre", "hospital"])
    assert reversed_order.set_index("osm_id").loc[5, "kind"] == "health_centre"
    west = shapely.box(20.0, 63.0, 20.25, 64.0)  # lon/lat
    inside = candidates_from_osm(path, boundary=west)
    assert sorted(inside["osm_id"]) == [1, 100]


def test_osm_bad_kinds(andorra_pbf: Path, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"kinds holds 'ambulance'"):
        candidates_from_osm(andorra_pbf, kinds=("hospital", "ambulance"))
    with pytest.raises(ParameterError, match=r"kinds is empty"):
        candidates_from_osm(andorra_pbf, kinds=())
    missing = tmp_path / "nowhere.osm.pbf"
    with pytest.raises(MissingFileError, match=r"nowhere\.osm\.pbf"):
        candidates_from_osm(missing)


# --------------------------------------------------------------------------
# Grid
# --------------------------------------------------------------------------
def test_grid_andorra(andorra_net: RoadNetwork) -> None:
    spacing = 2000.0
    layer = candidates_on_grid(andorra_net, spacing_m=spacing)
    check_layer(layer, andorra_net.crs)
    assert andorra_net.crs == ANDORRA_CRS
    g = andorra_net.graph
    nodes = np.array(list(g.nodes))
    xs = np.array([g.nodes[n]["x"] for n in nodes])
    ys = np.array([g.nodes[n]["y"] for n in nodes])
    comp = np.array([g.nodes[n]["component"] for n in nodes])
    main = comp == 0

    # every candidate is a road node of the largest part, at that node's position
    assert set(layer["node"]) <= set(nodes[main])
    pos = {n: (x, y) for n, x, y in zip(nodes, xs, ys, strict=True)}
    got = shapely.get_coordinates(layer.geometry.to_numpy())
    want = np.array([pos[n] for n in layer["node"]])
    np.testing.assert_array_equal(got, want)

    # one per occupied cell, no two in the same cell
    cells = np.column_stack([np.floor(xs[main] / spacing), np.floor(ys[main] / spacing)])
    occupied = {tuple(c) for c in cells.astype(int)}
    layer_cells = {tuple(c) for c in np.floor(got / spacing).astype(int)}
    assert len(layer_cells) == len(layer) == len(occupied) == len(np.unique(cells, axis=0))
    assert layer_cells == occupied
    assert set(layer["name"]) == {f"grid {cx}_{cy}" for cx, cy in occupied}
    assert set(layer["kind"]) == {"grid"} and not layer["required"].any()
    assert set(layer["source"]) == {"grid 2000 m"}

    # brute force: the chosen node is the one nearest its cell centre
    chosen = dict(zip(layer["source_id"], layer["node"], strict=True))
    for cx, cy in occupied:
        centre = ((cx + 0.5) * spacing, (cy + 0.5) * spacing)
        best, best_d = None, np.inf
        for n, x, y, c in zip(nodes, xs, ys, comp, strict=True):
            if c == 0 and int(np.floor(x / spacing)) == cx and int(np.floor(y / spacing)) == cy:
                d = float(np.hypot(x - centre[0], y - centre[1]))
                if d < best_d or (d == best_d and n < best):
                    best, best_d = n, d
        assert chosen[f"{cx}_{cy}"] == best


@pytest.mark.parametrize("net", ["andorra_net", "sodermalm_net", "umea_net"])
def test_grid_candidates_drive_from_their_node(net: str, request: pytest.FixtureRequest) -> None:
    """A road-node candidate is its node: exactly that node's drive times (and networkx's).

    Snapped to one arbitrary edge at the node, 57 of Andorra's 717 candidates
    at 100 m spacing (and 11 of 214 at 500 m) had wrong times (measured on the
    grid of EPSG:3006, before Andorra got its UTM zone).
    """
    network = request.getfixturevalue(net)
    layer = candidates_on_grid(network, spacing_m=100)
    kept, snapped, report = check_candidates(network, layer)
    assert len(kept) == len(layer) and report.empty
    np.testing.assert_array_equal(snapped.node, layer["node"])
    np.testing.assert_array_equal(snapped.access_s, 0.0)
    ttg = build_travel_time_graph(network.graph)
    times = point_times(ttg, snapped)
    np.testing.assert_array_equal(times, node_times(ttg, layer["node"].to_numpy()))
    for row, node in enumerate(layer["node"].to_numpy()[:25]):
        reference = nx.single_source_dijkstra_path_length(
            network.graph, int(node), weight="travel_time"
        )
        got = dict(zip(ttg.node_ids.tolist(), times[row].tolist(), strict=True))
        assert {n: t for n, t in got.items() if np.isfinite(t)}.keys() == reference.keys()
        assert [got[n] for n in reference] == pytest.approx(list(reference.values()), abs=1e-6)


def test_grid_options(andorra_net: RoadNetwork) -> None:
    g = andorra_net.graph
    default = candidates_on_grid(g, spacing_m=2000)
    every = candidates_on_grid(andorra_net, spacing_m=2000, all_components=True)
    assert len(every) >= len(default)
    comp = {n: d["component"] for n, d in g.nodes(data=True)}
    all_cells = {
        (int(np.floor(d["x"] / 2000)), int(np.floor(d["y"] / 2000))) for _, d in g.nodes(data=True)
    }
    assert len(every) == len(all_cells)
    main_cells = {
        (int(np.floor(d["x"] / 2000)), int(np.floor(d["y"] / 2000)))
        for n, d in g.nodes(data=True)
        if comp[n] == 0
    }
    assert len(default) == len(main_cells)

    fine = candidates_on_grid(andorra_net, spacing_m=500)
    assert len(fine) > len(default)
    # a boundary keeps only nodes inside it (here: the western half, lon/lat)
    west = shapely.box(1.40, 42.40, 1.55, 42.70)
    inside = candidates_on_grid(andorra_net, spacing_m=2000, boundary=west)
    assert 0 < len(inside) < len(default)
    lonlat = inside.to_crs("EPSG:4326")
    assert (lonlat.geometry.x <= 1.55).all()
    nowhere = shapely.box(10.0, 50.0, 10.1, 50.1)
    with pytest.raises(DataError, match=r"no road nodes inside the boundary"):
        candidates_on_grid(andorra_net, spacing_m=2000, boundary=nowhere)


@pytest.mark.parametrize("spacing", [0, -5, 1e7, float("nan"), float("inf"), 50])
def test_grid_bad_spacing(andorra_net: RoadNetwork, spacing: float) -> None:
    with pytest.raises(ParameterError, match=r"spacing_m = .*grid spacing must be a distance"):
        candidates_on_grid(andorra_net, spacing_m=spacing)


def test_grid_bad_network() -> None:
    with pytest.raises(ParameterError, match=r"network must be a RoadNetwork"):
        candidates_on_grid("roads.osm.pbf", spacing_m=1000)


# --------------------------------------------------------------------------
# Stations and files
# --------------------------------------------------------------------------
def test_candidates_from_stations(tmp_path: Path) -> None:
    path = tmp_path / "stations.csv"
    path.write_text(
        "namn;typ;antal;lon;lat\nUmeå;ambulans;3;20,2630;63,8258\nVännäs;PAM;1;19,7560;63,9080\n",
        encoding="utf-8",
    )
    stations = read_stations(path)
    layer = candidates_from_stations(stations)
    check_layer(layer)
    assert list(layer["name"]) == ["Umeå", "Vännäs"]
    assert list(layer["kind"]) == ["existing", "existing"]
    assert layer["required"].all()
    assert list(layer["fleet"]) == ["ambulance", "psychiatric"]
    assert list(layer["units"]) == [3, 1]
    assert list(layer["source_id"]) == ["2", "3"]  # the rows, as Excel numbers them
    assert layer.geometry.distance(stations.geometry).max() == 0
    empty = candidates_from_stations(stations.iloc[:0])
    check_layer(empty)
    assert len(empty) == 0


def test_candidates_from_file(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(
        "name,x,y,cost\nDepå,760000,7087000,5\n,761000,7088000,6\nDepå,762000,7089000,7\n",
        encoding="utf-8",
    )
    layer = candidates_from_file(path, crs="EPSG:3006")
    check_layer(layer)
    assert list(layer["name"]) == [
        "Depå (sites.csv row 2)",
        "candidate 3",
        "Depå (sites.csv row 4)",
    ]  # rows as Excel numbers them: the header is row 1
    assert set(layer["kind"]) == {"file"} and not layer["required"].any()
    assert list(layer["source_id"]) == ["row 2", "row 3", "row 4"]
    np.testing.assert_allclose(layer.geometry.x, [760000, 761000, 762000])
    assert "cost" not in layer.columns

    nameless = tmp_path / "nameless.geojson"
    gpd.GeoDataFrame(
        {"id": [7]}, geometry=shapely.points([20.26], [63.83]), crs="EPSG:4326"
    ).to_file(nameless)
    other = candidates_from_file(nameless)
    assert list(other["name"]) == ["candidate 1"]


def test_candidates_from_file_bad_input(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"missing\.csv does not exist"):
        candidates_from_file(tmp_path / "missing.csv")
    no_xy = tmp_path / "no_xy.csv"
    no_xy.write_text("name,address\nDepå,Storgatan 1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"no_xy\.csv: no coordinate columns"):
        candidates_from_file(no_xy)
    outside = tmp_path / "outside.csv"
    outside.write_text("name,lon,lat\nAndorra,1.52,42.51\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"outside\.csv"):
        candidates_from_file(outside)
    assert len(candidates_from_file(outside, check_sweden=False)) == 1


# --------------------------------------------------------------------------
# Combining
# --------------------------------------------------------------------------
def test_combine_keeps_required_duplicate(andorra_pbf: Path, andorra_net: RoadNetwork) -> None:
    hospitals = candidates_from_osm(andorra_pbf, kinds=("hospital",))
    at = hospitals.set_index("osm_id").geometry.loc[522787974]
    other = hospitals.set_index("osm_id").geometry.loc[2050364490]
    stations = candidates_from_stations(
        station_frame(
            [
                ("Escaldes", at.x, at.y),  # exactly on a hospital
                ("hospital 194554955", other.x + 100, other.y),  # a clashing name
            ],
            hospitals.crs,
        )
    )
    grid = candidates_on_grid(andorra_net, spacing_m=5000)
    combined = combine_candidates(hospitals, grid, stations, hospitals)
    check_layer(combined, ANDORRA_CRS)
    # the second copy of the hospitals and the hospital under the station are gone
    assert len(combined) == len(hospitals) - 1 + len(grid) + len(stations)
    here = combined[combined.geometry.distance(at) == 0]
    assert list(here["name"]) == ["Escaldes"]
    assert here["required"].all() and list(here["kind"]) == ["existing"]
    assert combined["required"].sum() == 2
    names = set(combined["name"])
    assert "hospital 194554955 (OSM way 194554955)" in names
    assert "hospital 194554955 (stations 2)" in names
    assert list(combined.columns[:5]) == list(CANDIDATE_COLUMNS)
    assert {"fleet", "units", "node", "osm_id"} <= set(combined.columns)

    # two required candidates at one place are both kept
    twice = combine_candidates(stations, stations)
    assert len(twice) == 4 and twice["name"].str.casefold().is_unique
    assert len(combine_candidates()) == 0
    with pytest.raises(ParameterError, match=r"layer 2 lacks the column\(s\) kind"):
        combine_candidates(hospitals, hospitals.drop(columns="kind"))
    with pytest.raises(ParameterError, match=r"layer 1 must be a candidate layer"):
        combine_candidates(pd.DataFrame({"name": ["a"]}))


def test_combine_reprojects(andorra_pbf: Path) -> None:
    hospitals = candidates_from_osm(andorra_pbf, kinds=("hospital",))
    lonlat = hospitals.to_crs("EPSG:4326")
    # the round trip through lon/lat moves some points by ~1e-10 m: still the same site
    moved = lonlat.to_crs(hospitals.crs).geometry.distance(hospitals.geometry)
    assert moved.max() < 1e-6
    combined = combine_candidates(lonlat, hospitals)  # lon/lat first: combined in metres
    check_layer(combined, ANDORRA_CRS)
    assert len(combined) == len(hospitals)
    assert list(combined["name"]) == list(hospitals["name"])
    # 2 mm apart is two sites
    nudged = hospitals.assign(geometry=hospitals.geometry.translate(xoff=0.002))
    assert len(combine_candidates(hospitals, nudged)) == 2 * len(hospitals)


# --------------------------------------------------------------------------
# Checking against the road network
# --------------------------------------------------------------------------
def test_check_candidates_andorra(
    andorra_pbf: Path, andorra_net: RoadNetwork, andorra_edges: gpd.GeoDataFrame
) -> None:
    hospitals = candidates_from_osm(andorra_pbf, kinds=("hospital",))
    # an existing station 3 km west of the westernmost road, and one on a road
    west, south, _, north = andorra_edges.total_bounds
    lost = (west - 3000.0, (south + north) / 2)
    on_road = shapely.get_coordinates(andorra_edges.geometry.iloc[0])[0]
    stations = candidates_from_stations(
        station_frame([("Lost", *lost), ("On road", on_road[0], on_road[1])], andorra_net.crs)
    )
    candidates = combine_candidates(stations, hospitals)
    kept, snapped, report = check_candidates(andorra_net, candidates, edges=andorra_edges)

    # independent distances: every point to the nearest edge geometry
    lines = andorra_edges.geometry.to_numpy()
    dist = [shapely.distance(point, lines).min() for point in candidates.geometry]
    distance = pd.Series(dist, index=candidates["name"])
    far_names = {f"hospital {i}" for i in FAR_HOSPITALS}
    assert all(1000 < distance[n] < 2400 for n in far_names)
    assert distance["Lost"] >= 3000 - 1e-6
    assert all(distance[n] <= 500 for n in set(candidates["name"]) - far_names - {"Lost"})

    assert set(report["name"]) == far_names | {"Lost"}
    assert list(report.columns) == ["name", "kind", "required", "snap_distance_m", "status"]
    assert set(report["status"]) == {"far_from_road"}
    np.testing.assert_allclose(
        report.set_index("name")["snap_distance_m"], distance[report["name"]], rtol=1e-9
    )
    assert report.set_index("name").loc["Lost", "required"]

    assert set(kept["name"]) == set(candidates["name"]) - far_names
    assert len(kept) == len(candidates) - 4
    assert kept.set_index("name").loc["Lost", "status"] == "far_from_road"
    assert kept["required"].sum() == 2
    assert set(kept["status"]) == {"ok", "far_from_road"}

    # the snapping is restricted row for row
    assert len(snapped) == len(kept)
    np.testing.assert_array_equal(snapped.labels, np.arange(len(kept)))
    np.testing.assert_array_equal(snapped.status, kept["status"].to_numpy())
    np.testing.assert_allclose(snapped.x, kept.geometry.x)
    np.testing.assert_allclose(snapped.snap_distance_m, kept["snap_distance_m"])
    lost_row = int(np.flatnonzero(kept["name"] == "Lost")[0])
    assert (snapped.depart_node[lost_row] == -1).all()
    assert np.isinf(snapped.depart_s[lost_row]).all()


def test_check_candidates_minor_component(
    andorra_net: RoadNetwork, andorra_edges: gpd.GeoDataFrame
) -> None:
    comp = {n: d["component"] for n, d in andorra_net.graph.nodes(data=True)}
    minor = andorra_edges[
        andorra_edges["u"].map(comp).gt(0) & andorra_edges["v"].map(comp).gt(0)
    ].iloc[0]
    middle = shapely.line_interpolate_point(minor.geometry, 0.5, normalized=True)
    layer = candidates_from_stations(
        station_frame([("Island", middle.x, middle.y)], andorra_net.crs)
    )
    kept, snapped, report = check_candidates(andorra_net, layer, edges=andorra_edges)
    assert list(kept["status"]) == ["minor_component"]
    assert len(report) == 0 and len(snapped) == 1


def test_subset_snapped(andorra_net: RoadNetwork, andorra_edges: gpd.GeoDataFrame) -> None:
    grid = candidates_on_grid(andorra_net, spacing_m=5000)
    snapped = snap_points(andorra_net.graph, grid, edges=andorra_edges)
    mask = np.arange(len(grid)) % 3 == 1
    sub = _subset_snapped(snapped, mask)
    for field in dataclasses.fields(snapped):
        np.testing.assert_array_equal(getattr(sub, field.name), getattr(snapped, field.name)[mask])
    with pytest.raises(ValueError, match=r"mask has shape"):
        _subset_snapped(snapped, mask[:-1])


def test_check_candidates_bad_input(andorra_net: RoadNetwork, andorra_pbf: Path) -> None:
    hospitals = candidates_from_osm(andorra_pbf, kinds=("hospital",))
    with pytest.raises(ParameterError, match=r"max_distance_m"):
        check_candidates(andorra_net, hospitals, max_distance_m=0)
    with pytest.raises(ParameterError, match=r"candidates lacks the column\(s\) required"):
        check_candidates(andorra_net, hospitals.drop(columns="required"))
    with pytest.raises(DataError, match=r"no candidates"):
        check_candidates(andorra_net, hospitals.iloc[:0])


def test_grid_all_components_sodermalm(sodermalm_net: RoadNetwork) -> None:
    g = sodermalm_net.graph
    comp = {n: d["component"] for n, d in g.nodes(data=True)}
    main = candidates_on_grid(sodermalm_net, spacing_m=500)
    every = candidates_on_grid(sodermalm_net, spacing_m=500, all_components=True)
    cells = {
        (int(np.floor(d["x"] / 500)), int(np.floor(d["y"] / 500))) for _, d in g.nodes(data=True)
    }
    assert len(every) == len(cells)
    assert all(comp[n] == 0 for n in main["node"])
    # Södermalm's extract has small separate parts in cells the main part misses
    assert len(every) > len(main)
    assert any(comp[n] > 0 for n in every["node"])


def test_collect_candidates_names_the_missing_arguments(andorra_net: RoadNetwork) -> None:
    from planner.inputs.candidates import collect_candidates

    with pytest.raises(ParameterError, match="--candidates file needs --candidates-file FILE"):
        collect_candidates(
            andorra_net,
            ["file"],
            argument="--candidates",
            file_argument="--candidates-file FILE",
        )
    with pytest.raises(ParameterError, match="candidates osm needs an OSM file"):
        collect_candidates(andorra_net, ["osm"])
    with pytest.raises(ParameterError, match=r"candidates 'parks': use osm, grid and/or file"):
        collect_candidates(andorra_net, ["parks"])
    grid = collect_candidates(andorra_net, ["grid"], spacing_m=5000)
    assert len(grid) > 0 and set(grid["kind"]) == {"grid"}
