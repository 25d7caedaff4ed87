"""Points on the road network: snap to the nearest edge, not the nearest node.

A station or a demand point is placed at the closest position on the closest
drivable edge (a point along the road, found with a shapely STRtree in the
network's metric CRS, :attr:`planner.network.road_network.RoadNetwork.crs`). The
straight leg from the point to the road is driven at
:data:`planner.constants.ACCESS_SPEED_KPH`. From the snapped position the
vehicle can leave toward the edge's head (and toward its tail when the road
is two-way); it arrives the same way. Partial-edge times are the edge's
``travel_time`` (s) times the fraction of its length (uniform speed along an
edge).

A point whose snapped position is a road node, or lies within
:data:`planner.constants.SNAP_NODE_TOLERANCE_M` (1 cm) of one, is joined to
the node itself: it leaves by every road out of the junction and is reached
by every road into it, exactly as the node (rather than only along the one
edge the nearest-edge search returned, which at a one-way road would allow
a single direction).

Points farther than ``max_distance_m`` from any road are reported with status
``far_from_road`` and get no road access (their travel times are ``inf``);
they are never dropped. Points whose nearest road lies in a strongly
connected part other than the largest get status ``minor_component``, so an
island (or a snap across water) is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from planner import constants
from planner.errors import DataError, ParameterError

__all__ = ["SnappedPoints", "edge_frame", "snap_points"]

STATUS_OK = "ok"
STATUS_FAR = "far_from_road"
STATUS_MINOR = "minor_component"


@dataclass(frozen=True)
class SnappedPoints:
    """Points placed on a road network (the network's CRS, metres and seconds).

    Attributes
    ----------
    labels
        The input points' index labels.
    x, y
        Input coordinates, m (the network's CRS).
    snap_x, snap_y
        The snapped position on the edge, m.
    snap_distance_m
        Straight distance from the point to the road, m.
    access_s
        Time for that leg, s.
    edge_u, edge_v, edge_key
        The edge the point lies on (node ids and key).
    fraction
        Position along the edge from ``edge_u`` (0) to ``edge_v`` (1).
    node
        The road node the point is joined to, ``-1`` if none: its snapped
        position lies within :data:`planner.constants.SNAP_NODE_TOLERANCE_M`
        of that node (a junction or a road's end). Such a point departs and
        arrives through the node itself, by every road at it; its edge is
        then one of the node's edges, with ``fraction`` 0 or 1, and its
        snapped position is the node's.
    forward_s, backward_s
        Full travel time of the edge u -> v, and of its twin v -> u (``inf``
        on a one-way road), s.
    depart_node, depart_s
        Shape (n, 2): nodes the point can drive to along its edge, and the
        time to each including the access leg (s); ``-1`` / ``inf`` if none.
    arrive_node, arrive_s
        Shape (n, 2): nodes from which the point is reached along its edge,
        and the time from each including the access leg (s).
    edge_group, group_fraction, group_forward_s, group_backward_s
        The physical road (both directions share one group id), the position
        along the group's reference direction, and the full travel time of the
        road in that direction and against it (``inf`` if not allowed). Used
        for trips between two points on the same road.
    component
        Strongly connected part of the point's road (0 = largest).
    status
        ``ok``, ``far_from_road`` or ``minor_component``.
    """

    labels: np.ndarray
    x: np.ndarray
    y: np.ndarray
    snap_x: np.ndarray
    snap_y: np.ndarray
    snap_distance_m: np.ndarray
    access_s: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_key: np.ndarray
    fraction: np.ndarray
    node: np.ndarray
    forward_s: np.ndarray
    backward_s: np.ndarray
    depart_node: np.ndarray
    depart_s: np.ndarray
    arrive_node: np.ndarray
    arrive_s: np.ndarray
    edge_group: np.ndarray
    group_fraction: np.ndarray
    group_forward_s: np.ndarray
    group_backward_s: np.ndarray
    component: np.ndarray
    status: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray | list[int] | slice) -> SnappedPoints:
        """The points at positions ``index`` (in that order), or in a slice."""
        rows = index if isinstance(index, slice) else np.asarray(index, dtype=np.int64)
        return SnappedPoints(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def to_frame(self) -> pd.DataFrame:
        """One row per point: snapping report with distances (m) and times (s)."""
        return pd.DataFrame(
            {
                "snap_distance_m": self.snap_distance_m,
                "access_s": self.access_s,
                "edge_u": self.edge_u,
                "edge_v": self.edge_v,
                "edge_key": self.edge_key,
                "fraction": self.fraction,
                "node": self.node,
                "snap_x": self.snap_x,
                "snap_y": self.snap_y,
                "component": self.component,
                "status": self.status,
            },
            index=pd.Index(self.labels, name="point"),
        )


def edge_frame(graph: nx.MultiDiGraph, *, progress: bool = False) -> gpd.GeoDataFrame:
    """Edges with LineString geometry (the graph's CRS), ``travel_time`` (s) and ``length`` (m).

    Straight edges without a stored geometry get one from their end nodes.
    Columns ``u``, ``v``, ``key``, ``length``, ``travel_time`` and ``twin``:
    the row of the edge running the same road the other way, or -1 on a
    one-way road. Build it once and pass it to :func:`snap_points` when
    snapping several layers to the same network.
    """
    m = graph.number_of_edges()
    if m == 0:
        raise DataError("the road network has no edges")
    u = np.empty(m, dtype=np.int64)
    v = np.empty(m, dtype=np.int64)
    k = np.empty(m, dtype=np.int64)
    length = np.empty(m)
    travel = np.empty(m)
    geoms = np.empty(m, dtype=object)
    rows = tqdm(
        graph.edges(keys=True, data=True), total=m, desc="road edges", unit=" edges",
        disable=not progress, leave=False,
    )  # fmt: skip
    for i, (a, b, key, d) in enumerate(rows):
        u[i], v[i], k[i] = a, b, key
        length[i], travel[i] = d["length"], d["travel_time"]
        geoms[i] = d.get("geometry")
    straight = np.flatnonzero(pd.isna(geoms))
    if len(straight):
        xs = nx.get_node_attributes(graph, "x")
        ys = nx.get_node_attributes(graph, "y")
        coords = np.empty((len(straight), 2, 2))
        coords[:, 0, 0] = [xs[n] for n in u[straight]]
        coords[:, 0, 1] = [ys[n] for n in u[straight]]
        coords[:, 1, 0] = [xs[n] for n in v[straight]]
        coords[:, 1, 1] = [ys[n] for n in v[straight]]
        geoms[straight] = shapely.linestrings(coords)
    frame = gpd.GeoDataFrame(
        {"u": u, "v": v, "key": k, "length": length, "travel_time": travel},
        geometry=geoms,
        crs=graph.graph.get("crs", constants.ANALYSIS_CRS),
    )
    frame["twin"] = _reverse_edges(frame)
    return frame


def _reverse_edges(edges: gpd.GeoDataFrame) -> np.ndarray:
    """Row of the opposite-direction twin of each edge, or -1.

    The twin is another edge that runs v -> u along the same road: the same
    length (to 0.1 m) and the reversed geometry (to 1 cm).
    """
    pos = pd.DataFrame({"u": edges["u"].to_numpy(), "v": edges["v"].to_numpy()})
    pos["row"] = np.arange(len(pos))
    pos["length"] = edges["length"].to_numpy()
    twins = pos.merge(
        pos.rename(columns={"u": "v", "v": "u", "row": "twin", "length": "twin_length"}),
        on=["u", "v"],
    )
    twins = twins[
        (twins["row"] != twins["twin"]) & ((twins["length"] - twins["twin_length"]).abs() <= 0.1)
    ]
    # the twin follows the same road backwards (this also tells a loop's
    # opposite direction from a parallel loop)
    geoms = edges.geometry.to_numpy()
    same_road = shapely.equals_exact(
        geoms[twins["row"].to_numpy()],
        shapely.reverse(geoms[twins["twin"].to_numpy()]),
        tolerance=0.01,
    )
    twins = twins[same_road].sort_values(["row", "twin"]).drop_duplicates("row")
    out = np.full(len(pos), -1, dtype=np.int64)
    out[twins["row"].to_numpy()] = twins["twin"].to_numpy()
    return out


def _join_nodes(
    tree: shapely.STRtree,
    edges: gpd.GeoDataFrame,
    row: np.ndarray,
    frac: np.ndarray,
    sxy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Join points whose snapped position lies at a road node to that node.

    A snapped position within :data:`planner.constants.SNAP_NODE_TOLERANCE_M`
    of an end of any edge (its tail or head node) is joined to the nearest
    such node, on that edge: the point's own edge when the node is one of
    its ends, otherwise an edge of the node (a road passing over a junction
    without meeting it, so that the nearest-edge search returned the other
    road).

    Parameters
    ----------
    tree
        STRtree of the edges' geometries.
    edges
        :func:`edge_frame` of the network.
    row, frac, sxy
        Each point's nearest edge (row of ``edges``), position along it
        (0-1) and snapped coordinates ``(n, 2)`` (m, the network's CRS).

    Returns
    -------
    node, row, frac, sxy
        The node each point is joined to (``-1`` if none), and the edge,
        fraction and snapped coordinates updated for the joined points.
    """
    tol = constants.SNAP_NODE_TOLERANCE_M
    node = np.full(len(row), -1, dtype=np.int64)
    point, near = tree.query(shapely.points(sxy), predicate="dwithin", distance=tol)
    if not len(point):
        return node, row, frac, sxy
    # the first and last vertex (tail and head node) of each edge near a point
    lines = edges.geometry.to_numpy()[near]
    coords = shapely.get_coordinates(lines)
    count = shapely.get_num_coordinates(lines)
    first = np.cumsum(count) - count
    ends_xy = np.concatenate([coords[first], coords[first + count - 1]])
    pair = np.tile(np.arange(len(point)), 2)
    gap = np.hypot(*(sxy[point[pair]] - ends_xy).T)
    ends = pd.DataFrame(
        {
            "point": point[pair],
            "gap": gap,
            "other": near[pair] != row[point[pair]],  # prefer the point's own edge
            "edge": near[pair],
            "at_head": np.repeat([False, True], len(point)),
            "node": np.concatenate([edges["u"].to_numpy()[near], edges["v"].to_numpy()[near]]),
            "x": ends_xy[:, 0],
            "y": ends_xy[:, 1],
        }
    )
    ends = ends[ends["gap"] <= tol].sort_values(["point", "gap", "other", "at_head", "edge"])
    best = ends.drop_duplicates("point")
    at = best["point"].to_numpy()
    node[at] = best["node"].to_numpy()
    row, frac, sxy = row.copy(), frac.copy(), sxy.copy()
    row[at] = best["edge"].to_numpy()
    frac[at] = np.where(best["at_head"].to_numpy(), 1.0, 0.0)
    sxy[at] = best[["x", "y"]].to_numpy()
    return node, row, frac, sxy


def _checked_points(
    graph: nx.MultiDiGraph,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    max_distance_m: float,
    access_speed_kph: float,
) -> gpd.GeoSeries:
    """The points in the graph's CRS, after checking them and the snapping parameters."""
    if not np.isfinite(max_distance_m) or max_distance_m <= 0:
        raise ParameterError(f"max_distance_m = {max_distance_m!r}: must be a positive distance")
    if not np.isfinite(access_speed_kph) or not 0 < access_speed_kph <= constants.ABSURD_SPEED_KPH:
        raise ParameterError(f"access_speed_kph = {access_speed_kph!r}: not a usable speed")
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is None:
        raise ParameterError("points: the layer has no CRS")
    geoms = geoms.to_crs(graph.graph.get("crs", constants.ANALYSIS_CRS))
    if (geoms.geom_type != "Point").any() or geoms.is_empty.any():
        bad = geoms.index[(geoms.geom_type != "Point") | geoms.is_empty][0]
        raise DataError(f"points: row {bad!r} is not a point")
    return geoms


def _components(
    graph: nx.MultiDiGraph, u: np.ndarray, v: np.ndarray, node: np.ndarray
) -> np.ndarray:
    """Strongly connected part of each point's road (the node's for a point at a node)."""
    comp = nx.get_node_attributes(graph, "component")
    if not comp:
        return np.zeros(len(u), dtype=np.int64)
    component = np.minimum(
        np.array([comp[a] for a in u], dtype=np.int64),
        np.array([comp[b] for b in v], dtype=np.int64),
    )
    at = np.flatnonzero(node >= 0)
    component[at] = [comp[a] for a in node[at]]
    return component


def snap_points(
    graph: nx.MultiDiGraph,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_distance_m: float = constants.MAX_SNAP_DISTANCE_M,
    access_speed_kph: float = constants.ACCESS_SPEED_KPH,
    edges: gpd.GeoDataFrame | None = None,
) -> SnappedPoints:
    """Snap points to the nearest position on the nearest edge.

    Parameters
    ----------
    graph
        Projected road network (its ``graph["crs"]``, metres) with ``travel_time`` (s) on edges
        and ``component`` on nodes, as built by
        :func:`planner.network.road_network.build_network`.
    points
        Point geometries in any CRS (reprojected to the graph's CRS, where
        the access legs and ``max_distance_m`` are measured).
    max_distance_m
        Points farther than this from any road (m) get status
        ``far_from_road`` and no road access.
    access_speed_kph
        Speed on the leg between the point and the road, km/h.
    edges
        Pre-computed :func:`edge_frame` of ``graph`` (to snap many layers).

    Returns
    -------
    SnappedPoints
    """
    geoms = _checked_points(graph, points, max_distance_m, access_speed_kph)
    if edges is None:
        edges = edge_frame(graph)
    pts = geoms.to_numpy()
    n = len(pts)
    tree = shapely.STRtree(edges.geometry.to_numpy())
    (src, row), dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    order = np.argsort(src, kind="stable")
    row, dist = row[order], dist[order]
    lines = edges.geometry.to_numpy()[row]
    frac = shapely.line_locate_point(lines, pts, normalized=True)
    sxy = shapely.get_coordinates(shapely.line_interpolate_point(lines, frac, normalized=True))
    xy = shapely.get_coordinates(pts)
    node, row, frac, sxy = _join_nodes(tree, edges, row, frac, sxy)
    joined = node >= 0
    dist = np.where(joined, np.hypot(xy[:, 0] - sxy[:, 0], xy[:, 1] - sxy[:, 1]), dist)

    twin = edges["twin"].to_numpy()[row]
    u = edges["u"].to_numpy()[row]
    v = edges["v"].to_numpy()[row]
    tt = edges["travel_time"].to_numpy()
    tt_f = tt[row]
    tt_b = np.where(twin >= 0, tt[np.maximum(twin, 0)], np.inf)
    access = dist / (access_speed_kph / 3.6)
    far = dist > max_distance_m

    with np.errstate(invalid="ignore"):
        depart_node = np.column_stack([v, np.where(twin >= 0, u, -1)])
        depart_s = np.column_stack([(1 - frac) * tt_f, np.where(twin >= 0, frac * tt_b, np.inf)])
        arrive_node = np.column_stack([u, np.where(twin >= 0, v, -1)])
        arrive_s = np.column_stack([frac * tt_f, np.where(twin >= 0, (1 - frac) * tt_b, np.inf)])
    # a point at a node leaves by, and is reached through, every road at the node
    depart_node[joined] = arrive_node[joined] = np.column_stack([node, np.full(n, -1)])[joined]
    depart_s[joined] = arrive_s[joined] = np.column_stack([np.zeros(n), np.full(n, np.inf)])[joined]
    depart_s = depart_s + access[:, None]
    arrive_s = arrive_s + access[:, None]
    node[far] = -1
    depart_node[far] = -1
    arrive_node[far] = -1
    depart_s[far] = np.inf
    arrive_s[far] = np.inf

    # one group per physical road: the lower row of the edge and its twin
    forward_is_ref = (twin < 0) | (row <= twin)
    group = np.where(forward_is_ref, row, twin)
    group_fraction = np.where(forward_is_ref, frac, 1 - frac)
    group_forward = np.where(forward_is_ref, tt_f, tt_b)
    group_backward = np.where(forward_is_ref, tt_b, tt_f)

    component = _components(graph, u, v, node)
    status = np.where(far, STATUS_FAR, np.where(component > 0, STATUS_MINOR, STATUS_OK))
    return SnappedPoints(
        labels=geoms.index.to_numpy(),
        x=xy[:, 0],
        y=xy[:, 1],
        snap_x=sxy[:, 0],
        snap_y=sxy[:, 1],
        snap_distance_m=dist,
        access_s=access,
        edge_u=u,
        edge_v=v,
        edge_key=edges["key"].to_numpy()[row],
        fraction=frac,
        node=node,
        forward_s=tt_f,
        backward_s=tt_b,
        depart_node=depart_node,
        depart_s=depart_s,
        arrive_node=arrive_node,
        arrive_s=arrive_s,
        edge_group=group,
        group_fraction=group_fraction,
        group_forward_s=group_forward,
        group_backward_s=group_backward,
        component=component,
        status=status.astype(object),
    )
