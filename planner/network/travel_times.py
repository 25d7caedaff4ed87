"""Travel times over the road network, in seconds.

The network is turned once into a compressed sparse row (CSR) matrix of edge
travel times (the fastest of any parallel edges). Every search goes through
:mod:`planner.network.engine`, with the engine the graph is set to
(:attr:`TravelTimeGraph.engine_settings`, ``"auto"`` by default): an exact
Dijkstra on that matrix (the compiled one of :mod:`planner.network.dijkstra`,
or :func:`scipy.sparse.csgraph.dijkstra`), whose results equal networkx's
Dijkstra on the same graph, or, when the network carries a contraction
hierarchy (:attr:`TravelTimeGraph.hierarchy`) and it is faster for the query,
the hierarchy (millisecond resolution). :func:`reweight` gives the same
network with other edge times (another speed profile or time band), the
hierarchy re-customised in about a second on a region.

Two kinds of origin and destination are supported:

* graph nodes, given by their OSM node id;
* snapped points (:class:`planner.network.snapping.SnappedPoints`), which join the
  network part-way along an edge. Point origins become virtual nodes linked
  to the ends of their edge; point destinations take the best of their edge's
  ends plus the partial edge; two points on the same road are also joined
  directly along it. A point at a road node (within
  :data:`planner.constants.SNAP_NODE_TOLERANCE_M`) is joined to the node
  itself, so it leaves and arrives by every road there.

All times are drive times in seconds, ``inf`` where unreachable (or beyond
the cutoff), never NaN. The turn-out time is not included: coverage adds it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from planner import constants
from planner.errors import ParameterError
from planner.network import engine
from planner.network.dijkstra import KernelGraph, prepare_kernel_graph, reweight_kernel_graph

if TYPE_CHECKING:  # worker processes need not import geopandas through snapping
    from planner.network.snapping import SnappedPoints

__all__ = [
    "TravelTimeGraph",
    "arrival_columns",
    "arrival_rows",
    "arrival_times",
    "build_travel_time_graph",
    "edge_slots",
    "join_same_road",
    "nearest_frame",
    "nearest_point_source",
    "nearest_rows",
    "nearest_source",
    "nearest_table",
    "node_times",
    "origin_sources",
    "point_times",
    "reverse_point_times",
    "reversed_graph",
    "reweight",
    "reweight_travel_time_graph",
    "same_road_pairs",
    "times_to_points",
    "validate_cutoff",
]


@dataclass(frozen=True)
class TravelTimeGraph:
    """A road network as a CSR matrix of travel times (s), built once.

    Attributes
    ----------
    matrix
        ``n × n`` CSR matrix; entry (i, j) is the fastest edge i -> j, s.
    node_ids
        OSM node id of each row.
    x, y
        Node coordinates, m (the network's CRS).
    hierarchy
        The network's contraction hierarchy (:func:`planner.network.engine.build_hierarchy`),
        if it has one: the ``"auto"`` engine then uses it where it is faster.
    engine_settings
        The engine every search on this graph uses unless told otherwise
        (:class:`planner.network.engine.EngineSettings`, ``"auto"`` by default).
    """

    matrix: sp.csr_array
    node_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    hierarchy: engine.Hierarchy | None = field(default=None, repr=False, compare=False)
    engine_settings: engine.EngineSettings = field(
        default_factory=engine.EngineSettings, compare=False
    )

    @cached_property
    def kernel(self) -> KernelGraph:
        """The graph renumbered for the compiled Dijkstra (made once, on first use)."""
        return prepare_kernel_graph(self.matrix, self.x, self.y)

    @cached_property
    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """Row order that sorts the node ids, and the sorted ids (computed once)."""
        order = np.argsort(self.node_ids)
        return order, self.node_ids[order]

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    def positions(
        self, node_ids: Iterable[int], *, argument: str = "sources", allow_missing: bool = False
    ) -> np.ndarray:
        """Row numbers of OSM node ids.

        Parameters
        ----------
        node_ids
            OSM node ids.
        argument
            Name used in the error message.
        allow_missing
            Let ``-1`` (no node, as in :class:`SnappedPoints` anchors) through
            as ``-1``.

        Raises
        ------
        ParameterError
            If an id is not a node of the network (names the argument).
        """
        ids = np.asarray(node_ids if isinstance(node_ids, np.ndarray) else list(node_ids))
        ids = ids.astype(np.int64, copy=False)
        order, sorted_ids = self._sorted
        pos = np.clip(np.searchsorted(sorted_ids, ids), 0, max(len(sorted_ids) - 1, 0))
        missing = ids == -1 if allow_missing else np.zeros(len(ids), dtype=bool)
        found = missing | ((sorted_ids[pos] == ids) if len(sorted_ids) else False)
        if not np.all(found):
            bad = ids[~found][:5].tolist()
            raise ParameterError(f"{argument}: node id(s) {bad} are not in the road network")
        return np.where(missing, -1, order[pos])


def build_travel_time_graph(
    graph: nx.MultiDiGraph, *, weight: str = "travel_time"
) -> TravelTimeGraph:
    """Build the CSR travel-time matrix of a road network.

    Parameters
    ----------
    graph
        MultiDiGraph with a non-negative ``weight`` (s) on every edge.
    weight
        Edge attribute holding the travel time, s.

    Returns
    -------
    TravelTimeGraph
    """
    node_ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    index = pd.Index(node_ids)
    m = graph.number_of_edges()
    u = np.empty(m, dtype=np.int64)
    v = np.empty(m, dtype=np.int64)
    w = np.empty(m, dtype=np.float64)
    for i, (a, b, d) in enumerate(graph.edges(data=weight)):
        u[i], v[i], w[i] = a, b, d
    if m and (not np.isfinite(w).all() or (w < 0).any()):
        raise ParameterError(f"{weight}: every edge needs a finite, non-negative time (s)")
    ui = index.get_indexer(u)
    vi = index.get_indexer(v)
    # fastest of parallel edges; self-loops never shorten a path
    keep = ui != vi
    frame = pd.DataFrame({"u": ui[keep], "v": vi[keep], "w": w[keep]})
    best = frame.groupby(["u", "v"], sort=True)["w"].min()
    rows = best.index.get_level_values(0).to_numpy()
    cols = best.index.get_level_values(1).to_numpy()
    n = len(node_ids)
    matrix = sp.csr_array((best.to_numpy(), (rows, cols)), shape=(n, n))
    x = np.array([graph.nodes[k].get("x", np.nan) for k in node_ids], dtype=float)
    y = np.array([graph.nodes[k].get("y", np.nan) for k in node_ids], dtype=float)
    return TravelTimeGraph(matrix=matrix, node_ids=node_ids, x=x, y=y)


def edge_slots(graph: nx.MultiDiGraph, ttg: TravelTimeGraph) -> np.ndarray:
    """Where each edge's time sits in the CSR graph, for :func:`reweight_travel_time_graph`.

    Parameters
    ----------
    graph
        The MultiDiGraph ``ttg`` was built from.
    ttg
        Its travel-time graph (:func:`build_travel_time_graph`).

    Returns
    -------
    numpy.ndarray
        Per edge in ``graph.edges(keys=True)`` order, its index into
        ``ttg.matrix.data`` (parallel edges share one), or -1 for a self-loop.
    """
    m = graph.number_of_edges()
    uv = np.fromiter(
        (x for a, b in graph.edges() for x in (a, b)), dtype=np.int64, count=2 * m
    ).reshape(m, 2)
    ui, vi = ttg.positions(uv[:, 0]), ttg.positions(uv[:, 1])
    matrix = ttg.matrix
    n = np.int64(ttg.n_nodes)
    rows = np.repeat(np.arange(ttg.n_nodes, dtype=np.int64), np.diff(matrix.indptr))
    keys = rows * n + matrix.indices.astype(np.int64)
    order = np.argsort(keys, kind="stable")
    wanted = ui * n + vi
    pos = np.clip(np.searchsorted(keys[order], wanted), 0, max(len(keys) - 1, 0))
    slot = np.where(ui == vi, -1, order[pos] if len(keys) else -1)
    if len(keys) and not np.array_equal(keys[slot[slot >= 0]], wanted[slot >= 0]):
        raise ParameterError("ttg: was not built from this graph (an edge has no entry)")
    return np.asarray(slot, dtype=np.int64)


def reweight_travel_time_graph(
    ttg: TravelTimeGraph, slots: np.ndarray, weights_s: np.ndarray
) -> TravelTimeGraph:
    """The same graph with new edge times: the one seam where new weights enter the engine.

    Parameters
    ----------
    ttg
        The network's travel-time graph.
    slots
        :func:`edge_slots` of the graph.
    weights_s
        New time of every edge, s, in ``graph.edges(keys=True)`` order
        (finite, >= 0).

    Returns
    -------
    TravelTimeGraph
        Same nodes and CSR structure, the fastest of parallel edges as its
        entry; equal to :func:`build_travel_time_graph` of the graph with
        these times. The engine is kept: a contraction hierarchy is
        re-customised with the new times (:func:`reweight`), so a band's
        times come from the same engine as the base times.

    Raises
    ------
    ParameterError
        If the weights do not match the edges or are not finite and >= 0.
    """
    w = np.asarray(weights_s, dtype=float)
    if w.shape != slots.shape:
        raise ParameterError(f"weights_s: {w.shape[0]} values for {slots.shape[0]} edges")
    if len(w) and (not np.isfinite(w).all() or (w < 0).any()):
        raise ParameterError("weights_s: every edge needs a finite, non-negative time (s)")
    data = np.full(ttg.matrix.nnz, np.inf)
    real = slots >= 0
    np.minimum.at(data, slots[real], w[real])
    return reweight(ttg, data)


def validate_cutoff(cutoff_s: float | None, *, argument: str = "cutoff") -> float:
    """Return the cutoff in seconds (``inf`` for none), refusing bad values.

    Raises
    ------
    ParameterError
        For a negative, NaN or absurd (> 24 h) cutoff.
    """
    if cutoff_s is None:
        return math.inf
    try:
        value = float(cutoff_s)
    except (TypeError, ValueError):
        raise ParameterError(f"{argument} = {cutoff_s!r}: not a number of seconds") from None
    if math.isnan(value) or value <= 0:
        raise ParameterError(f"{argument} = {cutoff_s!r} s: must be a positive time")
    if value > constants.ABSURD_CUTOFF_S:
        raise ParameterError(
            f"{argument} = {value:g} s ({value / 60:g} min) is absurd: "
            f"use at most {constants.ABSURD_CUTOFF_S / 3600:g} hours"
        )
    return value


# ---------------------------------------------------------------------------
# Searches, in blocks, through the engine (planner.network.engine)
# ---------------------------------------------------------------------------


def _check_workers(workers: int) -> int:
    if not isinstance(workers, int) or workers < 1:
        raise ParameterError(f"workers = {workers!r}: must be a whole number >= 1")
    return workers


def node_times(
    ttg: TravelTimeGraph,
    sources: Sequence[int] | np.ndarray,
    *,
    targets: Sequence[int] | np.ndarray | None = None,
    cutoff_s: float | None = None,
    workers: int = 1,
    progress: bool = False,
    settings: engine.EngineSettings | None = None,
) -> np.ndarray:
    """Drive times from source nodes to all (or chosen) nodes.

    Parameters
    ----------
    ttg
        The CSR travel-time graph.
    sources
        OSM node ids to start from.
    targets
        OSM node ids to keep as columns; ``None`` keeps every node in
        ``ttg.node_ids`` order.
    cutoff_s
        Stop searching beyond this drive time, s; farther nodes get ``inf``.
    workers
        Cores for many sources (1 runs in this process).
    progress
        Show a progress bar.
    settings
        The engine (default: the graph's ``engine_settings``; ``"auto"`` is
        the faster of Dijkstra and the network's hierarchy, if it has one;
        see :func:`planner.network.engine.choose_engine`).

    Returns
    -------
    numpy.ndarray
        ``(len(sources), n_targets)`` drive times, s; ``inf`` if unreachable.
    """
    limit = validate_cutoff(cutoff_s)
    _check_workers(workers)
    src = ttg.positions(sources, argument="sources")
    cols = None if targets is None else ttg.positions(targets, argument="targets")
    return engine.many_to_many(
        ttg,
        src,
        cols,
        cutoff_s=limit,
        settings=settings,
        workers=workers,
        progress=progress,
    )


def nearest_source(
    ttg: TravelTimeGraph,
    sources: Sequence[int] | np.ndarray,
    *,
    cutoff_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Drive time from the nearest source to every node, in one search.

    Parameters
    ----------
    ttg
        The CSR travel-time graph.
    sources
        OSM node ids of the sources (stations).
    cutoff_s
        Search limit, s.

    Returns
    -------
    times, nearest
        ``times[i]`` is the drive time (s) from the nearest source to node
        ``ttg.node_ids[i]`` (``inf`` if none within the cutoff);
        ``nearest[i]`` is the position in ``sources`` of that source, ``-1``
        if none.
    """
    limit = validate_cutoff(cutoff_s)
    src = ttg.positions(sources, argument="sources")
    if len(src) == 0:
        raise ParameterError("sources: no source nodes given")
    times, _, origin = dijkstra(
        ttg.matrix,
        directed=True,
        indices=src,
        limit=limit,
        min_only=True,
        return_predecessors=True,
    )
    # dijkstra reports the source's row number; map it back to its position
    first_pos = pd.Series(np.arange(len(src))[::-1], index=src[::-1])
    first_pos = first_pos[~first_pos.index.duplicated(keep="last")]
    nearest = np.full(ttg.n_nodes, -1, dtype=np.int64)
    reached = origin >= 0
    nearest[reached] = first_pos.reindex(origin[reached]).to_numpy()
    return times, nearest


# ---------------------------------------------------------------------------
# Snapped points
# ---------------------------------------------------------------------------


def origin_sources(ttg: TravelTimeGraph, origins: SnappedPoints) -> engine.VirtualSources:
    """Where each origin point joins the graph: the engine's sources of :func:`point_times`.

    Parameters
    ----------
    ttg
        The CSR travel-time graph.
    origins
        Snapped origin points.

    Returns
    -------
    planner.network.engine.VirtualSources
        Per origin, the rows of its two departure nodes (``-1`` for none: a
        one-way road, or a point far from any road) and the drive time to
        each, s (the access leg plus the part of the edge). Searching from
        them (:func:`planner.network.engine.augmented_matrix`, or
        :func:`planner.network.engine.plan_query`) gives the origins' drive
        times to every node, as :func:`point_times` does.
    """
    nodes = ttg.positions(origins.depart_node.ravel(), argument="origins", allow_missing=True)
    return engine.VirtualSources(
        nodes.reshape(-1, 2), np.asarray(origins.depart_s, dtype=np.float64)
    )


def _arrive(ttg: TravelTimeGraph, node_dist: np.ndarray, destinations: SnappedPoints) -> np.ndarray:
    """Times to destination points from per-node times (rows = origins)."""
    return arrival_times(node_dist, arrival_rows(ttg, destinations), destinations.arrive_s)


def arrival_rows(ttg: TravelTimeGraph, destinations: SnappedPoints) -> np.ndarray:
    """The graph rows each destination point is reached from: ``(n, 2)``, ``-1`` for none.

    The rows of ``destinations.arrive_node`` (the ends of the point's edge
    that lead to it, or the node itself for a point at a node); pass them with
    ``destinations.arrive_s`` to :func:`arrival_times`.
    """
    return ttg.positions(
        destinations.arrive_node.ravel(), argument="destinations", allow_missing=True
    ).reshape(-1, 2)


def arrival_times(node_times: np.ndarray, rows: np.ndarray, arrive_s: np.ndarray) -> np.ndarray:
    """Drive times to points from drive times to the nodes they are reached from.

    Parameters
    ----------
    node_times
        ``(n_origins, n_columns)`` drive times to graph nodes, s (all nodes,
        or the columns ``rows`` refer to).
    rows
        ``(n_points, 2)`` column of each point's arrival nodes in
        ``node_times`` (:func:`arrival_rows`), ``-1`` for none.
    arrive_s
        ``(n_points, 2)`` drive time from each arrival node to the point, s.

    Returns
    -------
    numpy.ndarray
        ``(n_origins, n_points)``: the faster of the two arrivals, s
        (``inf`` if neither is reached). Pairs on the same road are not
        joined here (:func:`join_same_road`).
    """
    out = np.full((node_times.shape[0], len(rows)), np.inf)
    for side in range(2):
        pos = rows[:, side]
        ok = pos >= 0
        if ok.any():
            cand = node_times[:, pos[ok]] + arrive_s[ok, side][None, :]
            out[:, ok] = np.minimum(out[:, ok], cand)
    return out


def same_road_pairs(
    origins: SnappedPoints, destinations: SnappedPoints
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin and destination points on the same road, and the direct trip along it.

    Points joined to a node are left out: every trip along their road passes
    through that node, so the search through the graph already finds it.

    Returns
    -------
    rows, columns, times
        Origin row, destination column and drive time along the road
        (access legs at both ends included), s; ``inf`` against a one-way road.
    """
    o = pd.DataFrame({"g": origins.edge_group, "i": np.arange(len(origins))})
    d = pd.DataFrame({"g": destinations.edge_group, "j": np.arange(len(destinations))})
    o = o[(origins.status != "far_from_road") & (origins.node < 0)]
    d = d[(destinations.status != "far_from_road") & (destinations.node < 0)]
    pairs = o.merge(d, on="g")
    if pairs.empty:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    i = pairs["i"].to_numpy()
    j = pairs["j"].to_numpy()
    fo = origins.group_fraction[i]
    fd = destinations.group_fraction[j]
    with np.errstate(invalid="ignore"):
        along = np.where(
            fd >= fo,
            (fd - fo) * origins.group_forward_s[i],
            (fo - fd) * origins.group_backward_s[i],
        )
    along = np.where(np.isnan(along), np.inf, along)
    t = along + origins.access_s[i] + destinations.access_s[j]
    return i, j, t


def point_times(
    ttg: TravelTimeGraph,
    origins: SnappedPoints,
    *,
    destinations: SnappedPoints | None = None,
    cutoff_s: float | None = None,
    workers: int = 1,
    progress: bool = False,
    settings: engine.EngineSettings | None = None,
) -> np.ndarray:
    """Drive times from snapped points to every node or to snapped points.

    Parameters
    ----------
    ttg
        The CSR travel-time graph.
    origins
        Snapped origin points (for example stations).
    destinations
        Snapped destination points (for example demand); ``None`` returns
        times to every node in ``ttg.node_ids`` order.
    cutoff_s
        Drive-time limit, s; beyond it times are ``inf``.
    workers
        Cores for many origins (threads, or worker processes for scipy's
        Dijkstra; :class:`planner.network.engine.EnginePool`).
    progress
        Show a progress bar.
    settings
        The engine (default: the graph's ``engine_settings``).

    Returns
    -------
    numpy.ndarray
        ``(len(origins), n_nodes or len(destinations))`` drive times, s,
        including the access legs at both ends.
    """
    limit = validate_cutoff(cutoff_s)
    _check_workers(workers)
    cols = arrive_pos = None
    if destinations is not None:
        cols, arrive_pos = arrival_columns(ttg, destinations)
    n_cols = ttg.n_nodes if destinations is None else len(destinations)
    out = np.empty((len(origins), n_cols), dtype=np.float64)
    for blk, dist in engine.iter_blocks(
        ttg,
        origin_sources(ttg, origins),
        cols,
        cutoff_s=limit,
        settings=settings,
        workers=workers,
        progress=progress,
    ):
        if destinations is None:
            out[blk] = dist
        else:
            assert arrive_pos is not None
            out[blk] = arrival_times(dist, arrive_pos, destinations.arrive_s)
    if destinations is not None:
        join_same_road(out, origins, destinations, cutoff_s=limit)
    return out


def arrival_columns(
    ttg: TravelTimeGraph, destinations: SnappedPoints
) -> tuple[np.ndarray, np.ndarray]:
    """The nodes to search to for destination points, and each point's columns among them.

    Returns
    -------
    cols, arrive_pos
        ``cols``: the distinct graph rows the points are reached from (the
        target nodes of a search); ``arrive_pos``: ``(n, 2)`` position in
        ``cols`` of each point's arrival nodes (``-1`` for none), to pass with
        ``destinations.arrive_s`` to :func:`arrival_times`.
    """
    arrive_all = arrival_rows(ttg, destinations)
    has = arrive_all >= 0
    cols, inverse = np.unique(arrive_all[has], return_inverse=True)
    arrive_pos = np.full(arrive_all.shape, -1, dtype=np.int64)
    arrive_pos[has] = inverse.ravel()
    return cols.astype(np.int64), arrive_pos


def join_same_road(
    times: np.ndarray,
    origins: SnappedPoints,
    destinations: SnappedPoints,
    *,
    cutoff_s: float = math.inf,
) -> None:
    """Shorten pairs on the same road to the direct trip along it, then apply the cutoff.

    In place, on ``(len(origins), len(destinations))`` drive times, s (from
    :func:`arrival_times`): each pair of :func:`same_road_pairs` takes the
    faster of its time and the trip along the road, and times beyond
    ``cutoff_s`` become ``inf``.
    """
    i, j, t = same_road_pairs(origins, destinations)
    if len(i):
        np.minimum.at(times, (i, j), t)
    times[times > cutoff_s] = np.inf


def times_to_points(
    ttg: TravelTimeGraph,
    node_times: np.ndarray,
    origins: SnappedPoints,
    destinations: SnappedPoints,
    *,
    cutoff_s: float | None = None,
) -> np.ndarray:
    """Drive times to snapped points from times already computed to every node.

    Parameters
    ----------
    ttg
        The CSR travel-time graph.
    node_times
        ``(len(origins), n_nodes)`` drive times from :func:`point_times`
        without destinations, s.
    origins, destinations
        The snapped origins of ``node_times`` and the points to reach.
    cutoff_s
        Drive-time limit, s.

    Returns
    -------
    numpy.ndarray
        ``(len(origins), len(destinations))`` drive times, s, equal to
        ``point_times(ttg, origins, destinations=destinations)``.
    """
    limit = validate_cutoff(cutoff_s)
    if node_times.shape != (len(origins), ttg.n_nodes):
        raise ParameterError("node_times: one row per origin and one column per node is needed")
    out = _arrive(ttg, node_times, destinations)
    join_same_road(out, origins, destinations, cutoff_s=limit)
    return out


def reverse_point_times(
    ttg: TravelTimeGraph,
    origins: SnappedPoints,
    destinations: SnappedPoints,
) -> np.ndarray:
    """Drive times from every destination point *to* every origin point, s.

    One Dijkstra per origin on the reversed graph instead of one per
    destination on the graph: with few origins (stations, hospitals) and many
    destinations (demand), it is many times cheaper. One-way streets are
    respected. Equal to ``point_times(ttg, destinations, destinations=origins)``
    (the tests check it on real networks).

    Returns
    -------
    numpy.ndarray
        ``(len(destinations), len(origins))`` drive times, s (``inf`` if none).
    """
    times = point_times(
        reversed_graph(ttg), _reversed(origins), destinations=_reversed(destinations)
    )
    return np.ascontiguousarray(times.T)


def reversed_graph(ttg: TravelTimeGraph) -> TravelTimeGraph:
    """The network with every road driven the other way: times *to* a node from everywhere.

    Its contraction hierarchy, when the network has one, shares the order
    (it depends only on which nodes are joined, not on the direction) and
    is customised with the reversed arcs, so the same engine answers.
    """
    matrix = ttg.matrix.T.tocsr()
    matrix.sort_indices()
    hierarchy = None
    if ttg.hierarchy is not None:
        hierarchy = engine.rearc_hierarchy(ttg.hierarchy, matrix)
    return TravelTimeGraph(
        matrix=matrix,
        node_ids=ttg.node_ids,
        x=ttg.x,
        y=ttg.y,
        hierarchy=hierarchy,
        engine_settings=ttg.engine_settings,
    )


def reweight(ttg: TravelTimeGraph, travel_time_s: np.ndarray | sp.csr_array) -> TravelTimeGraph:
    """The same network with other edge times: another speed profile or time band.

    The contraction order is kept and the hierarchy, if the network has
    one, is re-customised with the new times (about a second on a region,
    against minutes for a new order); the graph for the compiled Dijkstra
    keeps its node numbering.

    Parameters
    ----------
    ttg
        The travel-time graph.
    travel_time_s
        The new time of every arc, s: a ``(nnz,)`` array in the order of
        ``ttg.matrix.data`` (the CSR storage order), or a CSR matrix with
        the same arcs (for example :func:`build_travel_time_graph` of the
        same graph with another ``weight``).

    Returns
    -------
    TravelTimeGraph
        The same nodes and arcs, engine settings and hierarchy order; new
        times. ``ttg`` is unchanged.

    Raises
    ------
    ParameterError
        If the times do not match the arcs, or one is negative or not finite.
    """
    m = ttg.matrix
    if sp.issparse(travel_time_s):
        new = sp.csr_array(travel_time_s)
        if new.shape != m.shape or not (
            np.array_equal(new.indptr, m.indptr) and np.array_equal(new.indices, m.indices)
        ):
            raise ParameterError("travel_time_s: a matrix with other arcs than the network's")
        data = np.asarray(new.data, dtype=np.float64)
    else:
        data = np.asarray(travel_time_s, dtype=np.float64)
        if data.shape != m.data.shape:
            raise ParameterError(
                f"travel_time_s: need one time per arc ({m.nnz:,}), got shape {data.shape}"
            )
    if len(data) and (not np.isfinite(data).all() or (data < 0).any()):
        raise ParameterError("travel_time_s: every arc needs a finite, non-negative time (s)")
    matrix = sp.csr_array((data, m.indices, m.indptr), shape=m.shape)
    out = dataclasses.replace(
        ttg,
        matrix=matrix,
        hierarchy=None if ttg.hierarchy is None else ttg.hierarchy.customize(data),
    )
    kernel = ttg.__dict__.get("kernel")
    if kernel is not None:  # the same numbering: only the times move
        out.__dict__["kernel"] = reweight_kernel_graph(kernel, matrix)
    return out


def _reversed(points: SnappedPoints) -> SnappedPoints:
    """The points as seen on the reversed graph: departures and arrivals swap."""
    return dataclasses.replace(
        points,
        depart_node=points.arrive_node,
        depart_s=points.arrive_s,
        arrive_node=points.depart_node,
        arrive_s=points.depart_s,
        group_forward_s=points.group_backward_s,
        group_backward_s=points.group_forward_s,
    )


def nearest_point_source(
    ttg: TravelTimeGraph,
    origins: SnappedPoints,
    *,
    destinations: SnappedPoints | None = None,
    cutoff_s: float | None = None,
    workers: int = 1,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Time from the nearest origin point, and which one, for every target.

    Returns
    -------
    times, nearest
        Drive time, s (``inf`` if none within the cutoff), and the position
        in ``origins`` of the nearest one (``-1`` if none), per node (in
        ``ttg.node_ids`` order) or per destination point.
    """
    times = point_times(
        ttg,
        origins,
        destinations=destinations,
        cutoff_s=cutoff_s,
        workers=workers,
        progress=progress,
    )
    if times.shape[0] == 0:
        raise ParameterError("origins: no origin points given")
    return nearest_rows(times)


def nearest_rows(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The nearest origin of every target: its time and its row.

    Parameters
    ----------
    times
        ``(n_origins, n_targets)`` drive times, s (no origin at all is allowed).

    Returns
    -------
    times, rows
        ``(n_targets,)`` the smallest time, s (``inf`` if none is finite),
        and its row: the first of equal times, as :func:`numpy.argmin`;
        ``-1`` where the time is ``inf``.
    """
    if times.shape[0] == 0:
        return np.full(times.shape[1], np.inf), np.full(times.shape[1], -1, dtype=np.int64)
    nearest = np.argmin(times, axis=0)
    best = times[nearest, np.arange(times.shape[1])]
    return best, np.where(np.isfinite(best), nearest, -1)


def nearest_frame(
    drive_s: np.ndarray,
    origin: np.ndarray,
    origin_names: Sequence[str] | np.ndarray,
    *,
    turnout_s: float,
) -> pd.DataFrame:
    """:func:`nearest_table` from each target's nearest drive time and origin row.

    Parameters
    ----------
    drive_s
        ``(n_targets,)`` drive time from the nearest origin, s (``inf`` if none).
    origin
        ``(n_targets,)`` row of that origin in ``origin_names``, ``-1`` if none.
    origin_names
        Name of each origin (may be empty: every target unreachable).
    turnout_s
        Turn-out time, s.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`nearest_table` (without ``per_origin``).
    """
    names = np.asarray(list(origin_names), dtype=object)
    origin = np.asarray(origin)
    station = np.full(len(origin), None, dtype=object)
    reached = origin >= 0
    station[reached] = names[origin[reached]]
    return pd.DataFrame(
        {
            "nearest_station": station,
            "drive_s": drive_s,
            "response_s": drive_s + turnout_s,
            "drive_min": drive_s / 60.0,
            "response_min": (drive_s + turnout_s) / 60.0,
        }
    )


def nearest_table(
    times: np.ndarray,
    origin_names: Sequence[str],
    *,
    turnout_s: float,
    per_origin: bool = False,
) -> pd.DataFrame:
    """Nearest origin, drive and response time per target, in seconds and minutes.

    Parameters
    ----------
    times
        ``(n_origins, n_targets)`` drive times, s (from :func:`point_times`
        or :func:`node_times`).
    origin_names
        Name of each origin (station).
    turnout_s
        Turn-out time added to the drive time to give the response time, s.
    per_origin
        Also add one column ``drive_s[<name>]`` per origin.

    Returns
    -------
    pandas.DataFrame
        One row per target: ``nearest_station`` (``None`` if unreachable),
        ``drive_s``, ``response_s``, ``drive_min``, ``response_min``
        (``inf`` where unreachable).
    """
    names = np.asarray(list(origin_names), dtype=object)
    if times.ndim != 2 or times.shape[0] != len(names):
        raise ParameterError("origin_names: one name per row of times is needed")
    if len(names) == 0:
        raise ParameterError("origin_names: no origins")
    drive, best = nearest_rows(times)
    table = nearest_frame(drive, best, names, turnout_s=turnout_s)
    if per_origin:
        extra = pd.DataFrame(times.T, columns=[f"drive_s[{n}]" for n in names])
        table = pd.concat([table, extra], axis=1)
    return table
