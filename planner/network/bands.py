"""Drive times of one time band on a built network, without rebuilding it.

A band of a speed profile (:mod:`planner.network.profiles`) scales the
emergency speed of each road edge by its class's factor. This module turns a
band into new edge times (:func:`band_weights`, vectorised over the edges)
and puts them into the network's travel-time graph and edge table
(:func:`band_index`), keeping the graph's shape: same nodes, same CSR
structure, new values. Switching the whole network to another band costs one
pass over the edge arrays (milliseconds on a region), not a rebuild.

The one place where new weights enter the search engine is
:func:`planner.network.travel_times.reweight_travel_time_graph`; an engine
that customises its own index for new weights (a customizable contraction
hierarchy) slots in there.

Edge time in band ``b`` for an edge of speed ``v`` (km/h, the network's
``speed_kph``) and time ``t`` (s, its ``travel_time``)::

    t_b = t                                   if f == 1, a ferry, or t == 0
    t_b = t * v / clip(v * f, min, max)       otherwise

with ``f`` the band's factor of the edge's class (the lowest of its classes
on a merged edge) and ``min``/``max`` the speed model's clamp. A band whose
factors are all 1 therefore gives the network's own times bit for bit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.network.index import NetworkIndex, index_network
from planner.network.profiles import SpeedProfile, TimeBand
from planner.network.road_network import RoadNetwork
from planner.network.travel_times import edge_slots, reweight_travel_time_graph

__all__ = ["BandNetwork", "EdgeClasses", "band_index", "band_weights", "edge_classes"]


@dataclass(frozen=True)
class EdgeClasses:
    """What a band's edge times depend on, per edge in ``graph.edges(keys=True)`` order.

    Attributes
    ----------
    codes
        Index into ``classes`` per edge.
    classes
        The distinct sets of OSM ``highway`` classes (lower case), one tuple each.
    ferry
        Whether the edge is a ferry (its time never changes with the band).
    speed_kph
        Emergency speed, km/h (NaN on zero-length edges).
    travel_time
        Drive time, s.
    min_speed_kph, max_speed_kph
        The speed model's clamp, km/h.
    """

    codes: np.ndarray
    classes: tuple[tuple[str, ...], ...]
    ferry: np.ndarray
    speed_kph: np.ndarray
    travel_time: np.ndarray
    min_speed_kph: float
    max_speed_kph: float


def _class_key(value: object) -> tuple[str, ...]:
    values = value if isinstance(value, list | tuple | np.ndarray) else (value,)
    return tuple(sorted({str(v).strip().lower() for v in values if isinstance(v, str)}))


def _is_ferry(value: object) -> bool:
    values = value if isinstance(value, list | tuple | np.ndarray) else (value,)
    return any(isinstance(v, str) and v.strip().lower() == "ferry" for v in values)


def edge_classes(network: RoadNetwork) -> EdgeClasses:
    """Read each edge's classes, ferry flag, speed and time from the network once.

    Parameters
    ----------
    network
        A built road network (edges with ``highway``, ``speed_kph`` (km/h) and
        ``travel_time`` (s)).

    Returns
    -------
    EdgeClasses
    """
    graph = network.graph
    m = graph.number_of_edges()
    highway = np.empty(m, dtype=object)
    route = np.empty(m, dtype=object)
    speed = np.empty(m)
    time = np.empty(m)
    for i, (_, _, d) in enumerate(graph.edges(data=True)):
        highway[i] = _class_key(d.get("highway"))
        route[i] = d.get("route")
        speed[i] = d.get("speed_kph", np.nan)
        time[i] = d["travel_time"]
    codes, uniques = pd.factorize(pd.Series(highway, dtype=object), use_na_sentinel=False)
    routes, route_values = pd.factorize(
        pd.Series([r if isinstance(r, str) else repr(r) for r in route], dtype=object)
    )
    ferry_value = np.array([_is_ferry(r) for r in route_values] + [False])
    model = network.settings.speed_model
    return EdgeClasses(
        codes=np.asarray(codes, dtype=np.int64),
        classes=tuple(tuple(u) for u in uniques),
        ferry=ferry_value[routes],
        speed_kph=speed,
        travel_time=time,
        min_speed_kph=model.min_speed_kph,
        max_speed_kph=model.max_speed_kph,
    )


def _edge_factors(edges: EdgeClasses, band: TimeBand) -> np.ndarray:
    table = np.array(
        [min((band.factor(c) for c in cls), default=band.other) for cls in edges.classes],
        dtype=float,
    )
    return np.asarray(table[edges.codes], dtype=float)


def band_weights(edges: EdgeClasses | RoadNetwork, profile: SpeedProfile, band: str) -> np.ndarray:
    """Drive time of every edge in one time band, s (formula in the module docstring).

    Parameters
    ----------
    edges
        :func:`edge_classes` of the network (or the network itself, read each call).
    profile
        The speed profile.
    band
        The band's name.

    Returns
    -------
    numpy.ndarray
        Seconds per edge, in ``graph.edges(keys=True)`` order; finite and >= 0.

    Raises
    ------
    ParameterError
        If the profile has no such band.
    """
    if isinstance(edges, RoadNetwork):
        edges = edge_classes(edges)
    factor = _edge_factors(edges, profile.band(band))
    t, v = edges.travel_time, edges.speed_kph
    keep = (factor == 1.0) | edges.ferry | (t == 0) | ~np.isfinite(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = t * v / np.clip(v * factor, edges.min_speed_kph, edges.max_speed_kph)
    return np.where(keep, t, scaled)


@dataclass(frozen=True)
class BandNetwork:
    """A network ready to switch between time bands (build once with :meth:`prepare`).

    Attributes
    ----------
    network
        The road network.
    index
        Its edge table and travel-time graph at the network's own speeds.
    edges
        :func:`edge_classes` of the network.
    slots
        :func:`planner.network.travel_times.edge_slots`: each edge's place in the CSR graph.
    profile
        The speed profile.
    """

    network: RoadNetwork
    index: NetworkIndex
    edges: EdgeClasses
    slots: np.ndarray
    profile: SpeedProfile

    @classmethod
    def prepare(
        cls, network: RoadNetwork, profile: SpeedProfile, *, index: NetworkIndex | None = None
    ) -> BandNetwork:
        """Read what every band needs from the network once."""
        index = index or index_network(network)
        return cls(
            network=network,
            index=index,
            edges=edge_classes(network),
            slots=edge_slots(network.graph, index.ttg),
            profile=profile,
        )

    def index_for(self, band: str) -> NetworkIndex:
        """The network's index with the band's times (see :func:`band_index`)."""
        return band_index(self, band)


def band_index(bands: BandNetwork, band: str) -> NetworkIndex:
    """The edge table and travel-time graph of one band, sharing the network's structure.

    Parameters
    ----------
    bands
        The prepared network (:meth:`BandNetwork.prepare`).
    band
        The band's name.

    Returns
    -------
    NetworkIndex
        ``edges`` with the band's ``travel_time`` (s) and ``ttg`` with the
        band's CSR times; use it wherever the stages take an ``index``.
    """
    weights = band_weights(bands.edges, bands.profile, band)
    ttg = reweight_travel_time_graph(bands.index.ttg, bands.slots, weights)
    edges = bands.index.edges.copy(deep=False)
    edges["travel_time"] = weights
    return dataclasses.replace(bands.index, edges=edges, ttg=ttg)
