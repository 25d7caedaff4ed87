"""Tests of planner.network.road_network on the real OSM files and on small hand-made files.

Expected values come from an independent reading of the same data: the OSM
XML is parsed here with ElementTree (the PBF files are first converted to XML
with pyosmium), the drivable-road filter and the one-way rules are written out
again in plain Python, and OSMnx itself builds the Andorra graph for a second
opinion. Overpass is never contacted: a small fake answers queries from the
Umeå file (or a hand-made file) by evaluating the Overpass QL filter it is
sent.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import pandas as pd
import pytest
import requests
import shapely
from conftest import write_osm_xml
from pyproj import Transformer

from planner.errors import (
    DownloadError,
    InputFileError,
    MissingFileError,
    NoRoadsError,
    ParameterError,
)
from planner.network.road_network import (
    NetworkSettings,
    RoadNetwork,
    build_network,
    download_osm_roads,
    read_osm_roads,
)
from planner.network.speeds import SpeedModel

# ---------------------------------------------------------------------------
# The OSMnx "drive" filter and the one-way rules, written out independently
# ---------------------------------------------------------------------------

#: Tag -> regex; a way is dropped when the tag is present and the regex is
#: found in its value (Overpass ``["tag"!~"rx"]``). ``highway`` must exist.
_EXCLUDE = {
    "area": "yes",
    "access": "private",
    "highway": (
        "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
        "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
        "rest_area|service|services|steps|track"
    ),
    "motor_vehicle": "no",
    "motorcar": "no",
    "service": "alley|driveway|emergency_access|parking|parking_aisle|private",
}

EARTH_RADIUS_M = 6_371_009.0  # the radius OSMnx uses for great-circle lengths


def passes_drive_filter(tags: dict[str, str]) -> bool:
    if "highway" not in tags:
        return False
    return not any(key in tags and re.search(rx, tags[key]) for key, rx in _EXCLUDE.items())


def way_directions(tags: dict[str, str]) -> tuple[bool, bool]:
    """(forward, backward) along the drawn direction."""
    oneway = tags.get("oneway")
    if oneway in ("yes", "true", "1"):
        return True, False
    if oneway in ("-1", "reverse"):
        return False, True
    if tags.get("junction") == "roundabout" and oneway != "no":
        return True, False
    return True, True


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


@dataclass(frozen=True)
class OsmData:
    """Nodes (id -> (lon, lat)) and ways ((id, refs, tags)) of an OSM XML file."""

    nodes: dict[int, tuple[float, float]]
    ways: list[tuple[int, list[int], dict[str, str]]]


@functools.cache
def parse_osm_xml(path: Path) -> OsmData:
    root = ET.parse(path).getroot()
    nodes = {
        int(n.get("id")): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")
    }
    ways = []
    for w in root.iter("way"):
        refs = [int(nd.get("ref")) for nd in w.iter("nd")]
        tags = {t.get("k"): t.get("v") for t in w.iter("tag")}
        ways.append((int(w.get("id")), refs, tags))
    return OsmData(nodes, ways)


@dataclass(frozen=True)
class ExpectedGraph:
    nodes: dict[int, tuple[float, float]]
    edges: Counter[tuple[int, int]]
    length_m: float


@functools.cache
def expected_drive_graph(path: Path) -> ExpectedGraph:
    """The unsimplified drivable graph of an OSM XML file, computed by hand."""
    data = parse_osm_xml(path)
    nodes: dict[int, tuple[float, float]] = {}
    edges: Counter[tuple[int, int]] = Counter()
    length = 0.0
    for _, refs, tags in data.ways:
        if not passes_drive_filter(tags):
            continue
        fwd, bwd = way_directions(tags)
        for a, b in itertools.pairwise(refs):
            if a == b or a not in data.nodes or b not in data.nodes:
                continue
            nodes[a], nodes[b] = data.nodes[a], data.nodes[b]
            seg = haversine_m(*data.nodes[a], *data.nodes[b])
            if fwd:
                edges[(a, b)] += 1
                length += seg
            if bwd:
                edges[(b, a)] += 1
                length += seg
    return ExpectedGraph(nodes, edges, length)


def total(graph: nx.MultiDiGraph, attr: str) -> float:
    return float(sum(d[attr] for _, _, d in graph.edges(data=True)))


def edge_counter(graph: nx.MultiDiGraph) -> Counter[tuple[int, int]]:
    return Counter((int(u), int(v)) for u, v in graph.edges())


#: Andorra (about 1.5° E, 42.5° N) lies outside Sweden: its networks are in UTM zone 31N.
ANDORRA_CRS = "EPSG:32631"
TO_UTM31 = Transformer.from_crs("EPSG:4326", ANDORRA_CRS, always_xy=True)


def node_lonlat(graph: nx.MultiDiGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node ids and lon/lat, from the projected x/y (the graph's CRS) transformed back."""
    ids = np.array(list(graph.nodes), dtype=np.int64)
    x = np.array([graph.nodes[n]["x"] for n in ids])
    y = np.array([graph.nodes[n]["y"] for n in ids])
    to_4326 = Transformer.from_crs(graph.graph["crs"], "EPSG:4326", always_xy=True)
    lon, lat = to_4326.transform(x, y)
    return ids, lon, lat


# ---------------------------------------------------------------------------
# Real files as XML
# ---------------------------------------------------------------------------


def pbf_to_xml(pbf: Path, xml: Path) -> Path:
    writer = osmium.SimpleWriter(str(xml))
    try:
        for obj in osmium.FileProcessor(str(pbf)):
            writer.add(obj)
    finally:
        writer.close()
    return xml


@pytest.fixture(scope="module")
def osm_files(
    tmp_path_factory: pytest.TempPathFactory,
    andorra_pbf: Path,
    sodermalm_pbf: Path,
    umea_osm: Path,
) -> dict[str, tuple[Path, Path]]:
    """name -> (original file, the same data as OSM XML)."""
    folder = tmp_path_factory.mktemp("osm_xml")
    return {
        "andorra": (andorra_pbf, pbf_to_xml(andorra_pbf, folder / "andorra.osm")),
        "sodermalm": (sodermalm_pbf, pbf_to_xml(sodermalm_pbf, folder / "sodermalm.osm")),
        "umea": (umea_osm, umea_osm),
    }


#: Unsimplified drivable nodes / directed edges, measured with the independent
#: parser above (Andorra's also agree with OSMnx, see below).
KNOWN_COUNTS = {"andorra": (15_942, 30_530), "sodermalm": (173, 280), "umea": (297, 396)}


# ---------------------------------------------------------------------------
# 1. Counts against an independent parse and against OSMnx
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["andorra", "sodermalm", "umea"])
def test_unsimplified_graph_matches_independent_parse(
    name: str, osm_files: dict[str, tuple[Path, Path]]
) -> None:
    source, xml = osm_files[name]
    graph, _ = read_osm_roads(source, include_ferries=False)
    expected = expected_drive_graph(xml)

    assert (graph.number_of_nodes(), graph.number_of_edges()) == KNOWN_COUNTS[name]
    assert graph.number_of_nodes() == len(expected.nodes)
    assert graph.number_of_edges() == sum(expected.edges.values())
    assert set(graph.nodes) == set(expected.nodes)
    assert edge_counter(graph) == expected.edges
    assert total(graph, "length") == pytest.approx(expected.length_m, rel=1e-9)
    # node positions are the OSM lon/lat (degrees, 7 decimals in OSM)
    for node, (lon, lat) in expected.nodes.items():
        assert graph.nodes[node]["x"] == pytest.approx(lon, abs=1e-9)
        assert graph.nodes[node]["y"] == pytest.approx(lat, abs=1e-9)
    assert graph.graph["crs"] == "EPSG:4326"


@pytest.fixture(scope="module")
def osmnx_andorra(
    osm_files: dict[str, tuple[Path, Path]],
) -> nx.MultiDiGraph:
    """Andorra read by OSMnx itself, then cut down to the drive filter."""
    _, xml = osm_files["andorra"]
    with pytest.MonkeyPatch.context() as mp:  # restores ox.settings afterwards
        mp.setattr(
            ox.settings,
            "useful_tags_way",
            sorted(set(ox.settings.useful_tags_way) | set(_EXCLUDE) | {"junction", "oneway"}),
        )
        graph = ox.graph_from_xml(xml, simplify=False, retain_all=True)
    drop = [
        (u, v, k)
        for u, v, k, d in graph.edges(keys=True, data=True)
        if not passes_drive_filter({t: x for t, x in d.items() if isinstance(x, str)})
    ]
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([n for n in list(graph) if graph.degree(n) == 0])
    return graph


def test_andorra_agrees_with_osmnx(osmnx_andorra: nx.MultiDiGraph, andorra_pbf: Path) -> None:
    assert "motorcar" not in ox.settings.useful_tags_way  # the monkeypatch was undone
    ours, _ = read_osm_roads(andorra_pbf, include_ferries=False)
    assert osmnx_andorra.number_of_nodes() == ours.number_of_nodes() == 15_942
    assert osmnx_andorra.number_of_edges() == ours.number_of_edges() == 30_530
    assert edge_counter(osmnx_andorra) == edge_counter(ours)
    assert total(ours, "length") == pytest.approx(total(osmnx_andorra, "length"), rel=1e-6)


def test_andorra_simplified_agrees_with_osmnx(
    osmnx_andorra: nx.MultiDiGraph, andorra_net: RoadNetwork
) -> None:
    simplified = ox.simplify_graph(osmnx_andorra)
    assert (simplified.number_of_nodes(), simplified.number_of_edges()) == (1_179, 2_388)
    ours = andorra_net.graph
    assert (ours.number_of_nodes(), ours.number_of_edges()) == (1_179, 2_388)
    assert set(ours.nodes) == set(simplified.nodes)
    assert edge_counter(ours) == edge_counter(simplified)
    assert total(ours, "length") == pytest.approx(total(simplified, "length"), rel=1e-6)


# ---------------------------------------------------------------------------
# 2. Speeds and travel times on edges
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["andorra_net", "sodermalm_net", "umea_net"])
def test_edges_have_lengths_speeds_and_times(fixture: str, request: pytest.FixtureRequest) -> None:
    net: RoadNetwork = request.getfixturevalue(fixture)
    g = net.graph
    assert g.graph["crs"] == net.crs == (ANDORRA_CRS if fixture == "andorra_net" else "EPSG:3006")
    lengths = np.array([d["length"] for _, _, d in g.edges(data=True)])
    times = np.array([d["travel_time"] for _, _, d in g.edges(data=True)])
    speeds = np.array([d["speed_kph"] for _, _, d in g.edges(data=True)])
    assert np.isfinite(lengths).all()
    assert (lengths > 0).all()  # these files hold no zero-length edge
    assert np.isfinite(times).all()
    assert (times > 0).all()
    # no ferries here: every speed is an emergency road speed within the clamp
    assert ((speeds >= 5.0 - 1e-9) & (speeds <= 140.0 + 1e-9)).all()
    np.testing.assert_allclose(times, lengths / (speeds / 3.6), rtol=1e-9)


def _hand_speed_kph(data: dict[str, Any]) -> float:
    """Default emergency speed: posted limit (or class speed) x 1.15, clamped 5..140."""
    maxspeed = data.get("maxspeed")
    if isinstance(maxspeed, str) and maxspeed.isdigit():
        base = float(maxspeed)
    else:
        assert maxspeed is None, f"unexpected maxspeed {maxspeed!r} in the test data"
        classes = {
            "primary": 80,
            "secondary": 70,
            "tertiary": 60,
            "unclassified": 50,
            "residential": 40,
            "living_street": 7,  # "gångfart"
        }
        base = classes[data["highway"]]
    return min(max(base * 1.15, 5.0), 140.0)


@pytest.fixture(scope="module")
def sodermalm_unsimplified(sodermalm_pbf: Path) -> RoadNetwork:
    return build_network(sodermalm_pbf, settings=NetworkSettings(simplify=False))


def test_unsimplified_travel_time_is_length_over_speed(
    sodermalm_unsimplified: RoadNetwork,
) -> None:
    g = sodermalm_unsimplified.graph
    assert g.number_of_edges() == KNOWN_COUNTS["sodermalm"][1]
    for _, _, d in g.edges(data=True):
        assert d["speed_kph"] == pytest.approx(_hand_speed_kph(d), rel=1e-12)
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6), rel=1e-9)


def test_simplified_times_are_sums_of_unsimplified(
    sodermalm_unsimplified: RoadNetwork, sodermalm_net: RoadNetwork
) -> None:
    full, simple = sodermalm_unsimplified.graph, sodermalm_net.graph
    assert simple.number_of_edges() < full.number_of_edges()
    assert total(simple, "travel_time") == pytest.approx(total(full, "travel_time"), rel=1e-6)
    assert total(simple, "length") == pytest.approx(total(full, "length"), rel=1e-6)
    for _, _, d in simple.edges(data=True):
        assert d["speed_kph"] == pytest.approx(d["length"] / d["travel_time"] * 3.6, rel=1e-9)
    # simplification keeps every shortest drive time between the nodes it keeps
    for source in simple.nodes:
        a = nx.single_source_dijkstra_path_length(simple, source, weight="travel_time")
        b = nx.single_source_dijkstra_path_length(full, source, weight="travel_time")
        assert set(a) == set(b) & set(simple.nodes)
        for node, t in a.items():
            assert t == pytest.approx(b[node], rel=1e-9, abs=1e-9)


# ---------------------------------------------------------------------------
# 3. Strongly connected parts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["andorra_net", "sodermalm_net", "umea_net"])
def test_components_match_networkx(fixture: str, request: pytest.FixtureRequest) -> None:
    net: RoadNetwork = request.getfixturevalue(fixture)
    g = net.graph
    table = net.components
    parts = sorted(nx.strongly_connected_components(g), key=len, reverse=True)
    sizes = [len(p) for p in parts]

    assert int(table["nodes"].sum()) == g.number_of_nodes()
    assert table["nodes"].tolist() == sizes
    assert table["component"].tolist() == list(range(len(parts)))
    labels = nx.get_node_attributes(g, "component")
    assert set(labels) == set(g.nodes)
    for part in parts:
        (label,) = {labels[n] for n in part}
        assert table["nodes"].iloc[label] == len(part)
    largest = {n for n, c in labels.items() if c == 0}
    assert largest in [set(p) for p in parts if len(p) == sizes[0]]
    # edges and km inside each part
    inside = Counter()
    km = Counter()
    for u, v, d in g.edges(data=True):
        if labels[u] == labels[v]:
            inside[labels[u]] += 1
            km[labels[u]] += d["length"] / 1000.0
    assert table["edges"].tolist() == [inside[i] for i in range(len(parts))]
    np.testing.assert_allclose(table["length_km"], [km[i] for i in range(len(parts))])
    assert net.nodes_outside_largest == g.number_of_nodes() - sizes[0]
    summary = net.summary()
    assert summary["nodes"] == g.number_of_nodes()
    assert summary["edges"] == g.number_of_edges()
    assert summary["largest_component_nodes"] == sizes[0]
    assert summary["components"] == len(parts)


def test_andorra_is_mostly_one_part(andorra_net: RoadNetwork) -> None:
    table = andorra_net.components
    assert table["nodes"].iloc[0] == 1_157
    assert andorra_net.nodes_outside_largest == 1_179 - 1_157


@pytest.mark.parametrize("name", ["andorra", "sodermalm"])
def test_largest_component_only(
    name: str, request: pytest.FixtureRequest, andorra_pbf: Path, sodermalm_pbf: Path
) -> None:
    full: RoadNetwork = request.getfixturevalue(f"{name}_net")
    path = andorra_pbf if name == "andorra" else sodermalm_pbf
    net = build_network(path, settings=NetworkSettings(largest_component_only=True))
    largest = {n for n, c in full.graph.nodes(data="component") if c == 0}
    assert len(net.components) == 1
    assert net.components["nodes"].iloc[0] == len(largest) == net.graph.number_of_nodes()
    assert set(net.graph.nodes) == largest
    assert nx.is_strongly_connected(net.graph)
    assert net.nodes_outside_largest == 0
    assert net.cache_key != full.cache_key


# ---------------------------------------------------------------------------
# 4. Clipping to a boundary
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def andorra_raw(andorra_pbf: Path) -> nx.MultiDiGraph:
    return read_osm_roads(andorra_pbf)[0]


@pytest.fixture(scope="module")
def west_andorra(andorra_raw: nx.MultiDiGraph) -> shapely.Polygon:
    """The west half of Andorra (EPSG:4326): its bounding box, padded, cut at mid longitude.

    Densified (vertices every 0.001 degree) so that its straight sides stay
    straight in lon/lat after a vertex-wise transform to UTM zone 31N.
    """
    lon = [d["x"] for _, d in andorra_raw.nodes(data=True)]
    lat = [d["y"] for _, d in andorra_raw.nodes(data=True)]
    pad = 0.01
    box = shapely.box(min(lon) - pad, min(lat) - pad, (min(lon) + max(lon)) / 2, max(lat) + pad)
    return shapely.segmentize(box, 0.001)


def _to_utm31(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(TO_UTM31.transform(*xy.T)))


@pytest.fixture(scope="module")
def west_nets(
    andorra_pbf: Path, west_andorra: shapely.Polygon
) -> dict[tuple[float, bool], RoadNetwork]:
    return {
        (buffer, simplify): build_network(
            andorra_pbf,
            boundary=west_andorra,
            boundary_name="west Andorra",
            settings=NetworkSettings(buffer_km=buffer, simplify=simplify),
        )
        for buffer, simplify in [(0.0, True), (0.0, False), (2.0, False)]
    }


def test_clip_without_buffer_keeps_nodes_inside(
    west_nets: dict[tuple[float, bool], RoadNetwork],
    west_andorra: shapely.Polygon,
    andorra_raw: nx.MultiDiGraph,
) -> None:
    net = west_nets[(0.0, True)]
    assert net.boundary_name == "west Andorra"
    _, lon, lat = node_lonlat(net.graph)
    assert shapely.contains_xy(west_andorra, lon, lat).all()
    assert 0 < net.graph.number_of_nodes() < 1_179

    # unsimplified: exactly the file's nodes inside, and the edges between them
    # (no node lies within 1 cm of the boundary line, where the CRSs could round
    # either way)
    full = west_nets[(0.0, False)].graph
    ids = np.array(list(andorra_raw.nodes), dtype=np.int64)
    lon = np.array([andorra_raw.nodes[n]["x"] for n in ids])
    lat = np.array([andorra_raw.nodes[n]["y"] for n in ids])
    on_line = (
        shapely.distance(
            shapely.points(*TO_UTM31.transform(lon, lat)), _to_utm31(west_andorra).exterior
        )
        < 0.01
    )
    inside = set(ids[shapely.contains_xy(west_andorra, lon, lat)].tolist())
    assert not on_line.any()
    assert set(full.nodes) == inside
    expected = Counter((u, v) for u, v in andorra_raw.edges() if u in inside and v in inside)
    assert edge_counter(full) == expected


def test_clip_with_buffer(
    west_nets: dict[tuple[float, bool], RoadNetwork],
    west_andorra: shapely.Polygon,
    andorra_raw: nx.MultiDiGraph,
) -> None:
    small, big = west_nets[(0.0, False)].graph, west_nets[(2.0, False)].graph
    assert big.number_of_nodes() > small.number_of_nodes()
    assert set(small.nodes) < set(big.nodes)
    assert big.graph["crs"] == ANDORRA_CRS  # the buffer is drawn in Andorra's UTM zone
    area = _to_utm31(west_andorra)
    x = np.array([d["x"] for _, d in big.nodes(data=True)])
    y = np.array([d["y"] for _, d in big.nodes(data=True)])
    assert (shapely.distance(shapely.points(x, y), area) <= 2000.0 + 1e-6).all()
    # every node of the file well within 2 km (the buffer's corners are polygons,
    # up to ~10 m short of a true circle) is kept
    ids = np.array(list(andorra_raw.nodes), dtype=np.int64)
    lon = np.array([andorra_raw.nodes[n]["x"] for n in ids])
    lat = np.array([andorra_raw.nodes[n]["y"] for n in ids])
    dist = shapely.distance(shapely.points(*TO_UTM31.transform(lon, lat)), area)
    assert set(ids[dist <= 1990.0].tolist()) <= set(big.nodes)
    assert not set(ids[dist > 2000.0].tolist()) & set(big.nodes)


def test_nodes_carry_documented_lon_lat(andorra_net: RoadNetwork) -> None:
    """RoadNetwork's docstring promises ``lon``/``lat`` (degrees) on every node."""
    g = andorra_net.graph
    ids, lon, lat = node_lonlat(g)
    missing = [n for n in ids[:5] if "lon" not in g.nodes[n] or "lat" not in g.nodes[n]]
    assert not missing, f"nodes without lon/lat attributes, e.g. {missing}: {g.nodes[ids[0]]}"
    np.testing.assert_allclose([g.nodes[n]["lon"] for n in ids], lon, atol=1e-9)
    np.testing.assert_allclose([g.nodes[n]["lat"] for n in ids], lat, atol=1e-9)


def test_boundary_outside_the_data_is_reported(andorra_pbf: Path) -> None:
    gotland = shapely.box(18.0, 56.9, 19.4, 58.0)
    with pytest.raises(NoRoadsError, match=r"boundary"):
        build_network(andorra_pbf, boundary=gotland, boundary_name="Gotlands län")


# ---------------------------------------------------------------------------
# 5. Ferries and one-way rules on a hand-made file
# ---------------------------------------------------------------------------

HAND_NODES = {
    1: (18.000, 59.000),
    2: (18.010, 59.000),
    3: (18.020, 59.002),
    4: (18.030, 59.000),
    5: (18.040, 59.000),
    6: (18.050, 59.000),
    7: (18.051, 59.001),
    8: (18.052, 59.000),
    9: (18.053, 58.999),
    10: (17.990, 59.000),
}
HAND_WAYS: list[tuple[int, list[int], dict[str, str]]] = [
    (101, [1, 2], {"highway": "residential", "name": "West road"}),
    (
        102,
        [2, 3, 4],
        {"route": "ferry", "motor_vehicle": "yes", "duration": "00:30", "name": "Car ferry"},
    ),
    (103, [4, 5], {"highway": "residential", "name": "East road"}),
    (104, [1, 10], {"route": "ferry", "name": "Passenger ferry"}),
    (105, [5, 6], {"highway": "tertiary", "oneway": "-1"}),
    (106, [6, 7, 8, 6], {"highway": "primary", "junction": "roundabout"}),
    (107, [8, 9], {"highway": "residential", "junction": "roundabout", "oneway": "no"}),
    (108, [9, 1], {"highway": "footway"}),
]
#: Directed edges expected by hand (ferries included).
HAND_EDGES = {
    (1, 2), (2, 1),  # two-way road
    (2, 3), (3, 2), (3, 4), (4, 3),  # car ferry, both ways
    (4, 5), (5, 4),  # two-way road
    (6, 5),  # oneway=-1 drawn 5 -> 6
    (6, 7), (7, 8), (8, 6),  # roundabout: drawn direction only
    (8, 9), (9, 8),  # junction=roundabout but oneway=no: both ways
}  # fmt: skip


@pytest.fixture
def hand_osm(tmp_path: Path) -> Path:
    return write_osm_xml(tmp_path / "ferry.osm", HAND_NODES, HAND_WAYS)


def _seg(a: int, b: int) -> float:
    return haversine_m(*HAND_NODES[a], *HAND_NODES[b])


def test_hand_file_ferries_and_oneway_rules(hand_osm: Path) -> None:
    net = build_network(hand_osm, settings=NetworkSettings(simplify=False))
    g = net.graph
    assert set(g.nodes) == set(range(1, 10))  # no node 10: passenger ferry dropped
    assert edge_counter(g) == Counter(HAND_EDGES)
    assert net.osm_timestamp == "2024-05-01T12:00:00Z"

    # the car ferry: 30 min shared out by length, each direction
    ferry_len = _seg(2, 3) + _seg(3, 4)
    for u, v in [(2, 3), (3, 4), (3, 2), (4, 3)]:
        (d,) = g.get_edge_data(u, v).values()
        assert d["route"] == "ferry"
        assert d["length"] == pytest.approx(_seg(u, v), rel=1e-9)
        assert d["travel_time"] == pytest.approx(1800.0 * _seg(u, v) / ferry_len, rel=1e-9)
        assert d["speed_kph"] == pytest.approx(ferry_len / 1800.0 * 3.6, rel=1e-9)
    forward = g[2][3][0]["travel_time"] + g[3][4][0]["travel_time"]
    backward = g[4][3][0]["travel_time"] + g[3][2][0]["travel_time"]
    assert forward == pytest.approx(1800.0, rel=1e-12)
    assert backward == pytest.approx(1800.0, rel=1e-12)

    # roads: class speed x 1.15 (residential 40, tertiary 60, primary 80 km/h)
    road_kph = {(1, 2): 46.0, (4, 5): 46.0, (6, 5): 69.0, (6, 7): 92.0, (8, 9): 46.0}
    for (u, v), kph in road_kph.items():
        (d,) = g.get_edge_data(u, v).values()
        assert d["speed_kph"] == pytest.approx(kph)
        assert d["travel_time"] == pytest.approx(_seg(u, v) / (kph / 3.6), rel=1e-9)

    # parts: {1..5} (two-way throughout) and {6..9} (roundabout ring + 8-9)
    assert net.components["nodes"].tolist() == [5, 4]
    comp = nx.get_node_attributes(g, "component")
    assert {comp[n] for n in (1, 2, 3, 4, 5)} == {0}
    assert {comp[n] for n in (6, 7, 8, 9)} == {1}

    # simplified: the same drive time across the ferry, by hand
    simple = build_network(hand_osm).graph
    t15 = nx.shortest_path_length(simple, 1, 5, weight="travel_time")
    assert t15 == pytest.approx(_seg(1, 2) / (46 / 3.6) + 1800.0 + _seg(4, 5) / (46 / 3.6))
    t61 = nx.shortest_path_length(simple, 6, 1, weight="travel_time")
    expected = _seg(6, 5) / (69 / 3.6) + _seg(5, 4) / (46 / 3.6) + 1800 + _seg(2, 1) / (46 / 3.6)
    assert t61 == pytest.approx(expected)
    assert not nx.has_path(simple, 1, 6)


def test_hand_file_without_ferries(hand_osm: Path) -> None:
    net = build_network(hand_osm, settings=NetworkSettings(simplify=False, include_ferries=False))
    g = net.graph
    assert set(g.nodes) == {1, 2, 4, 5, 6, 7, 8, 9}
    assert edge_counter(g) == Counter(e for e in HAND_EDGES if 3 not in e)
    assert not any(d.get("route") == "ferry" for _, _, d in g.edges(data=True))
    assert net.components["nodes"].tolist() == [4, 2, 2]
    comp = nx.get_node_attributes(g, "component")
    assert comp[1] == comp[2] != comp[4] == comp[5]
    assert not nx.has_path(g, 1, 5)
    raw, _ = read_osm_roads(hand_osm, include_ferries=False)
    assert edge_counter(raw) == edge_counter(g)


#: A two-way primary 1-2 with a limit per direction, a oneway=-1 secondary
#: 2-3 (drawn 2 -> 3, driven 3 -> 2), a one-way tertiary 3-4 with a list
#: "70,50", and a two-way residential 4-5 whose forward tag is unusable.
DIRECTION_NODES = {1: (18.000, 59.000), 2: (18.004, 59.000), 3: (18.008, 59.001),
                   4: (18.012, 59.001), 5: (18.016, 59.000)}  # fmt: skip
DIRECTION_WAYS: list[tuple[int, list[int], dict[str, str]]] = [
    (201, [1, 2], {"highway": "primary", "maxspeed": "70", "maxspeed:forward": "50",
                   "maxspeed:backward": "30"}),
    (202, [2, 3], {"highway": "secondary", "oneway": "-1", "maxspeed:forward": "90",
                   "maxspeed:backward": "40"}),
    (203, [3, 4], {"highway": "tertiary", "oneway": "yes", "maxspeed": "70,50",
                   "maxspeed:backward": "20"}),
    (204, [4, 5], {"highway": "residential", "maxspeed": "60", "maxspeed:forward": "none"}),
]  # fmt: skip


def test_direction_specific_speed_limits(tmp_path: Path) -> None:
    """Each directed edge drives at its own direction's limit × 1.15, by hand.

    1 -> 2 along the way: maxspeed:forward 50; 2 -> 1 against it:
    maxspeed:backward 30. The oneway=-1 way is driven against its drawing,
    so maxspeed:backward 40 holds (its forward 90 has no edge). The one-way
    "70,50" is the list 70 and 50: 50. On 4-5 the forward tag "none" is
    unusable, so both directions take maxspeed 60.
    """
    path = write_osm_xml(tmp_path / "directions.osm", DIRECTION_NODES, DIRECTION_WAYS)
    net = build_network(path, settings=NetworkSettings(simplify=False))
    g = net.graph
    limits = {(1, 2): 50, (2, 1): 30, (3, 2): 40, (3, 4): 50, (4, 5): 60, (5, 4): 60}
    assert edge_counter(g) == Counter(list(limits))
    for (u, v), limit in limits.items():
        (d,) = g.get_edge_data(u, v).values()
        length = haversine_m(*DIRECTION_NODES[u], *DIRECTION_NODES[v])
        assert d["length"] == pytest.approx(length, rel=1e-9)
        assert d["speed_kph"] == pytest.approx(limit * 1.15, rel=1e-12)
        assert d["travel_time"] == pytest.approx(length / (limit * 1.15 / 3.6), rel=1e-9)
    # the simplified network keeps the directions' times (3 -> 2 -> 1, and 1 -> 2)
    simple = build_network(path).graph
    t31 = nx.shortest_path_length(simple, 3, 1, weight="travel_time")
    seg = {e: haversine_m(*DIRECTION_NODES[e[0]], *DIRECTION_NODES[e[1]]) for e in limits}
    assert t31 == pytest.approx(seg[(3, 2)] / (46 / 3.6) + seg[(2, 1)] / (34.5 / 3.6))
    t12 = nx.shortest_path_length(simple, 1, 2, weight="travel_time")
    assert t12 == pytest.approx(seg[(1, 2)] / (57.5 / 3.6))


# ---------------------------------------------------------------------------
# 6. Cache
# ---------------------------------------------------------------------------


def assert_same_network(a: RoadNetwork, b: RoadNetwork) -> None:
    assert a.cache_key == b.cache_key
    assert dict(a.graph.nodes(data=True)) == dict(b.graph.nodes(data=True))
    ea = {(u, v, k): d for u, v, k, d in a.graph.edges(keys=True, data=True)}
    eb = {(u, v, k): d for u, v, k, d in b.graph.edges(keys=True, data=True)}
    assert ea.keys() == eb.keys()
    for key, d in ea.items():
        assert d.keys() == eb[key].keys()
        for attr, value in d.items():
            other = eb[key][attr]
            if isinstance(value, shapely.Geometry):
                assert shapely.equals_exact(value, other, tolerance=0.0)
            else:
                assert value == other, (key, attr)
    assert a.graph.graph == b.graph.graph
    pd.testing.assert_frame_equal(a.components, b.components)
    assert a.summary() == b.summary()


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_cache_round_trip(umea_osm: Path, umea_net: RoadNetwork, tmp_path: Path) -> None:
    first = build_network(umea_osm, cache_dir=tmp_path)
    second = build_network(umea_osm, cache_dir=tmp_path)
    assert not first.from_cache
    assert second.from_cache
    assert_same_network(first, second)
    assert_same_network(first, umea_net)  # the cache changes nothing
    entry = tmp_path / "networks" / first.cache_key
    names = ("components", "edges", "entry", "graph", "network", "nodes")
    suffixes = (".parquet", ".parquet", ".json", ".json", ".json", ".parquet")
    assert files_under(tmp_path) == [entry / (n + s) for n, s in zip(names, suffixes, strict=True)]


def test_cache_key_depends_on_settings(umea_osm: Path, umea_net: RoadNetwork) -> None:
    keys = {
        umea_net.cache_key,
        build_network(umea_osm, settings=NetworkSettings(buffer_km=3)).cache_key,
        build_network(
            umea_osm, settings=NetworkSettings(speed_model=SpeedModel(blue_light_factor=1.0))
        ).cache_key,
        build_network(umea_osm, settings=NetworkSettings(include_ferries=False)).cache_key,
        build_network(umea_osm, boundary=shapely.box(20.2, 63.7, 20.4, 63.9)).cache_key,
    }
    assert len(keys) == 5
    assert build_network(umea_osm).cache_key == umea_net.cache_key  # stable


def test_cache_key_depends_on_file_bytes(umea_osm: Path, tmp_path: Path) -> None:
    copy = tmp_path / "umea.osm"
    shutil.copyfile(umea_osm, copy)
    original = build_network(copy, cache_dir=tmp_path / "cache")
    text = copy.read_text(encoding="utf-8")
    assert text.rstrip().endswith("</osm>")
    copy.write_text(text.rstrip()[: -len("</osm>")] + "<!-- edited -->\n</osm>\n", encoding="utf-8")
    edited = build_network(copy, cache_dir=tmp_path / "cache")
    assert not edited.from_cache
    assert edited.cache_key != original.cache_key
    # same roads (only a comment changed), both stored
    assert edge_counter(edited.graph) == edge_counter(original.graph)
    assert len(list((tmp_path / "cache" / "networks").iterdir())) == 2


def test_failed_build_writes_nothing(umea_osm: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.osm"
    text = umea_osm.read_text(encoding="utf-8")
    bad.write_text(text[: len(text) // 2], encoding="utf-8")
    cache = tmp_path / "cache"
    with pytest.raises(InputFileError, match=re.escape(str(bad))):
        build_network(bad, cache_dir=cache)
    assert not cache.exists() or files_under(cache) == []
    # nor when the file has no roads at all
    footways = write_osm_xml(
        tmp_path / "paths.osm",
        {1: (20.0, 63.8), 2: (20.001, 63.8)},
        [(1, [1, 2], {"highway": "footway"})],
    )
    with pytest.raises(NoRoadsError):
        build_network(footways, cache_dir=cache)
    assert not cache.exists() or files_under(cache) == []


# ---------------------------------------------------------------------------
# 7. Overpass download, faked
# ---------------------------------------------------------------------------

_CONDITION = re.compile(r'\["([^"]+)"(?:(=|!=|~|!~)"([^"]*)")?\]')
_QUERY = re.compile(r"\(way(?P<filter>.*)\(poly:'(?P<poly>[^']*)'\);>;\);out;", re.S)


def _condition_holds(tags: dict[str, str], key: str, op: str, value: str) -> bool:
    tag = tags.get(key)
    if op == "":
        return tag is not None
    if op == "=":
        return tag == value
    if op == "!=":
        return tag != value
    if op == "~":
        return tag is not None and re.search(value, tag) is not None
    return tag is None or re.search(value, tag) is None  # "!~"


class FakeOverpass:
    """Answers OSMnx's network queries from an OSM XML file, like Overpass would.

    It evaluates the query's way filter (``["k"]``, ``["k"="v"]``,
    ``["k"~"rx"]``, ``["k"!~"rx"]``) and polygon (ways with a node inside),
    and returns the matching ways with all their nodes (``>``).
    """

    def __init__(self, xml: Path, *, remark: str | None = None) -> None:
        self.data = parse_osm_xml(xml)
        self.queries: list[str] = []
        self.remark = remark

    def answer(self, query: str) -> dict[str, Any]:
        self.queries.append(query)
        match = _QUERY.search(query)
        assert match, f"unexpected query {query!r}"
        conditions = _CONDITION.findall(match["filter"])
        coords = [float(c) for c in match["poly"].split()]
        poly = shapely.Polygon(list(zip(coords[1::2], coords[0::2], strict=True)))
        elements: list[dict[str, Any]] = []
        used: set[int] = set()
        ways = self.data.ways
        if self.remark is not None:
            ways = ways[: len(ways) // 2]  # a timed-out query returns part of the data
        for wid, refs, tags in ways:
            if not all(_condition_holds(tags, *c) for c in conditions):
                continue
            located = [r for r in refs if r in self.data.nodes]
            if not any(shapely.contains_xy(poly, *self.data.nodes[r]) for r in located):
                continue
            elements.append({"type": "way", "id": wid, "nodes": refs, "tags": tags})
            used.update(located)
        for nid in sorted(used):
            lon, lat = self.data.nodes[nid]
            elements.append({"type": "node", "id": nid, "lat": lat, "lon": lon})
        out: dict[str, Any] = {"version": 0.6, "generator": "fake", "elements": elements}
        if self.remark is not None:
            out["remark"] = self.remark
        return out

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        return self.answer(data["data"])


def _forbidden(*args: object, **kwargs: object) -> None:
    raise AssertionError("the test tried to reach the network")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Make any real HTTP request or DNS look-up from OSMnx fail the test."""
    monkeypatch.setattr(ox._overpass, "_get_overpass_pause", _forbidden)
    monkeypatch.setattr(ox._http, "_config_dns", _forbidden)
    monkeypatch.setattr(requests, "post", _forbidden)
    monkeypatch.setattr(requests, "get", _forbidden)
    return monkeypatch


def _bbox_polygon(xml: Path, pad: float = 0.002) -> shapely.Polygon:
    data = parse_osm_xml(xml)
    lon = [p[0] for p in data.nodes.values()]
    lat = [p[1] for p in data.nodes.values()]
    return shapely.box(min(lon) - pad, min(lat) - pad, max(lon) + pad, max(lat) + pad)


def _osmnx_settings() -> dict[str, Any]:
    names = ("useful_tags_way", "use_cache", "cache_folder", "log_console")
    return {n: getattr(ox.settings, n) for n in names}


def test_download_matches_file(offline: pytest.MonkeyPatch, umea_osm: Path) -> None:
    fake = FakeOverpass(umea_osm)
    offline.setattr(ox._overpass, "_overpass_request", fake)
    before = _osmnx_settings()
    graph = download_osm_roads(_bbox_polygon(umea_osm))
    assert _osmnx_settings() == before

    from_file, _ = read_osm_roads(umea_osm)
    assert set(graph.nodes) == set(from_file.nodes)
    assert edge_counter(graph) == edge_counter(from_file) == expected_drive_graph(umea_osm).edges
    assert total(graph, "length") == pytest.approx(total(from_file, "length"), rel=1e-9)
    way_len = {(u, v, d["osmid"]): d["way_length"] for u, v, d in from_file.edges(data=True)}
    for u, v, d in graph.edges(data=True):
        assert d["way_length"] == pytest.approx(way_len[(u, v, d["osmid"])], rel=1e-9)

    # one road query and two car-ferry queries, each with the OSMnx drive filter
    assert len(fake.queries) == 3
    road = fake.queries[0]
    assert ox._overpass._get_network_filter("drive") in road
    assert '["access"!~"private"]' in road
    ferry = " ".join(fake.queries[1:])
    for piece in ('["route"="ferry"]', '["motor_vehicle"~', '["motorcar"~', "yes"):
        assert piece in ferry

    fake.queries.clear()
    download_osm_roads(_bbox_polygon(umea_osm), include_ferries=False)
    assert len(fake.queries) == 1
    assert "ferry" not in fake.queries[0]


def test_build_from_overpass_matches_file(
    offline: pytest.MonkeyPatch, umea_osm: Path, tmp_path: Path
) -> None:
    fake = FakeOverpass(umea_osm)
    offline.setattr(ox._overpass, "_overpass_request", fake)
    boundary = _bbox_polygon(umea_osm)
    downloaded = build_network(
        "overpass", boundary=boundary, boundary_name="Umeå", cache_dir=tmp_path
    )
    from_file = build_network(umea_osm, boundary=boundary)
    assert downloaded.source == "overpass"
    assert downloaded.source_kind == "overpass"
    assert downloaded.boundary_name == "Umeå"
    g, h = downloaded.graph, from_file.graph
    assert (g.number_of_nodes(), g.number_of_edges()) == (h.number_of_nodes(), h.number_of_edges())
    assert (g.number_of_nodes(), g.number_of_edges()) == (37, 53)
    assert set(g.nodes) == set(h.nodes)
    assert edge_counter(g) == edge_counter(h)
    assert total(g, "travel_time") == pytest.approx(total(h, "travel_time"), rel=1e-9)
    assert downloaded.components["nodes"].tolist() == from_file.components["nodes"].tolist()
    n_queries = len(fake.queries)
    again = build_network("overpass", boundary=boundary, cache_dir=tmp_path)
    assert again.from_cache
    assert len(fake.queries) == n_queries  # served from the network cache


def test_overpass_and_file_follow_the_same_oneway_rules(
    offline: pytest.MonkeyPatch, hand_osm: Path
) -> None:
    """The module promises that a file and a download give the same network."""
    offline.setattr(ox._overpass, "_overpass_request", FakeOverpass(hand_osm))
    downloaded = download_osm_roads(_bbox_polygon(hand_osm))
    from_file, _ = read_osm_roads(hand_osm)
    assert edge_counter(from_file) == Counter(HAND_EDGES)
    assert edge_counter(downloaded) == edge_counter(from_file)


def test_download_connection_error(
    offline: pytest.MonkeyPatch, umea_osm: Path, tmp_path: Path
) -> None:
    def refuse(data: dict[str, Any]) -> dict[str, Any]:
        raise requests.exceptions.ConnectionError("Max retries exceeded (fake)")

    offline.setattr(ox._overpass, "_overpass_request", refuse)
    before = _osmnx_settings()
    with pytest.raises(DownloadError, match=r"Overpass download failed: .*Max retries"):
        build_network("overpass", boundary=_bbox_polygon(umea_osm), cache_dir=tmp_path)
    assert files_under(tmp_path) == []
    assert _osmnx_settings() == before


def test_download_error_remark_is_an_error(
    offline: pytest.MonkeyPatch, umea_osm: Path, tmp_path: Path
) -> None:
    """Overpass reports a timed-out query with HTTP 200, partial data and a remark."""
    remark = 'runtime error: Query timed out in "query" at line 1 after 180 seconds.'
    offline.setattr(ox._overpass, "_overpass_request", FakeOverpass(umea_osm, remark=remark))
    with pytest.raises(DownloadError, match=r"timed out"):
        build_network("overpass", boundary=_bbox_polygon(umea_osm), cache_dir=tmp_path)
    assert files_under(tmp_path) == []


def _fake_post(fake: FakeOverpass, posts: list[str], status: int = 200) -> Callable[..., Any]:
    def post(url: str, data: dict[str, Any], **kwargs: Any) -> requests.Response:
        posts.append(data["data"])
        response = requests.Response()
        response.status_code = status
        response.url = url
        response.encoding = "utf-8"
        if status == 200:
            response.reason = "OK"
            response._content = json.dumps(fake.answer(data["data"])).encode()
        else:
            response.reason = "Internal Server Error"
            response._content = b"<html><body>overloaded</body></html>"
        return response

    return post


def test_download_cache_of_osmnx(
    offline: pytest.MonkeyPatch, umea_osm: Path, tmp_path: Path
) -> None:
    """Successful HTTP answers are kept under cache_dir/overpass; failures never are."""
    fake = FakeOverpass(umea_osm)
    posts: list[str] = []
    offline.setattr(ox._overpass, "_get_overpass_pause", lambda *a, **k: 0)
    offline.setattr(ox._http, "_config_dns", lambda url: None)
    offline.setattr(requests, "post", _fake_post(fake, posts))
    before = _osmnx_settings()
    boundary = _bbox_polygon(umea_osm)

    first = build_network("overpass", boundary=boundary, cache_dir=tmp_path)
    assert len(posts) == 3
    answers = files_under(tmp_path / "overpass")
    assert len(answers) == 3
    assert all(p.suffix == ".json" for p in answers)
    # other network settings: a new network, but the download comes from the cache
    second = build_network(
        "overpass",
        boundary=boundary,
        settings=NetworkSettings(largest_component_only=True),
        cache_dir=tmp_path,
    )
    assert len(posts) == 3
    assert not second.from_cache
    assert second.graph.number_of_nodes() == first.components["nodes"].iloc[0]
    assert _osmnx_settings() == before

    # a server error: DownloadError, and no answer nor network stored
    offline.setattr(requests, "post", _fake_post(fake, posts, status=500))
    stored = files_under(tmp_path)
    with pytest.raises(DownloadError, match=r"Overpass download failed"):
        build_network("overpass", boundary=boundary.buffer(0.01), cache_dir=tmp_path)
    assert len(posts) == 4
    assert files_under(tmp_path) == stored
    assert _osmnx_settings() == before


@pytest.mark.network
def test_real_overpass_download(tmp_path: Path) -> None:
    """A real download of a few streets in Umeå (run with ``-m network``)."""
    area = shapely.box(20.290, 63.8169, 20.2982, 63.8198)
    net = build_network(
        "overpass", boundary=area, settings=NetworkSettings(buffer_km=0), cache_dir=tmp_path
    )
    assert net.graph.number_of_edges() > 0
    _, lon, lat = node_lonlat(net.graph)
    assert shapely.contains_xy(shapely.segmentize(area, 0.0005), lon, lat).all()
    again = build_network(
        "overpass", boundary=area, settings=NetworkSettings(buffer_km=0), cache_dir=tmp_path
    )
    assert again.from_cache


# ---------------------------------------------------------------------------
# 8. Bad input
# ---------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.osm.pbf"
    with pytest.raises(MissingFileError, match=re.escape(str(path))):
        build_network(path)
    with pytest.raises(MissingFileError, match=r"no such file"):
        read_osm_roads(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.osm"
    path.write_bytes(b"")
    with pytest.raises(InputFileError, match=re.escape(str(path)) + r": the file is empty"):
        build_network(path)


def test_random_bytes_pbf(tmp_path: Path) -> None:
    path = tmp_path / "noise.osm.pbf"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(InputFileError, match=re.escape(str(path)) + r": cannot be read as OSM"):
        build_network(path)


def test_truncated_xml(tmp_path: Path, umea_osm: Path) -> None:
    path = tmp_path / "cut.osm"
    data = umea_osm.read_bytes()
    path.write_bytes(data[: len(data) - 5000])
    with pytest.raises(InputFileError, match=re.escape(str(path)) + r": cannot be read as OSM"):
        read_osm_roads(path)


def test_not_an_osm_file(tmp_path: Path) -> None:
    path = tmp_path / "roads.txt"
    path.write_text("not osm\n")
    with pytest.raises(InputFileError, match=r"roads\.txt: not an OSM file; use \.osm\.pbf, \.osm"):
        build_network(path)


def test_only_footways(tmp_path: Path) -> None:
    path = write_osm_xml(
        tmp_path / "paths.osm",
        {1: (20.0, 63.8), 2: (20.001, 63.8), 3: (20.002, 63.8)},
        [(1, [1, 2], {"highway": "footway"}), (2, [2, 3], {"highway": "service"})],
    )
    with pytest.raises(NoRoadsError, match=re.escape(str(path)) + r": holds no drivable roads"):
        build_network(path)


@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf, 500.0])
def test_bad_buffer(value: float) -> None:
    with pytest.raises(ParameterError, match=r"buffer_km = .* km: use a buffer between 0 and 200"):
        NetworkSettings(buffer_km=value)


def test_overpass_needs_a_boundary() -> None:
    with pytest.raises(ParameterError, match=r"boundary: a download from Overpass needs"):
        build_network("overpass")
