"""What the stages derive from a road network once and share: its edge table and CSR graph.

Snapping points (:func:`planner.network.snapping.snap_points`) needs the
edge table and every search needs the CSR travel-time graph
(:func:`planner.network.travel_times.build_travel_time_graph`). A run that
calls several stages on one network (coverage before and after, the
optimiser) builds both once with :func:`index_network` and passes the
:class:`NetworkIndex` on.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd

from planner.network.road_network import RoadNetwork
from planner.network.snapping import edge_frame
from planner.network.travel_times import TravelTimeGraph, build_travel_time_graph

__all__ = ["NetworkIndex", "index_network"]


@dataclass(frozen=True)
class NetworkIndex:
    """What the stages derive from a road network once and share.

    Attributes
    ----------
    edges
        The edge table (:func:`planner.network.snapping.edge_frame`, the
        network's CRS) that points are snapped to.
    ttg
        The CSR travel-time graph
        (:func:`planner.network.travel_times.build_travel_time_graph`).
    """

    edges: gpd.GeoDataFrame
    ttg: TravelTimeGraph


def index_network(network: RoadNetwork, *, progress: bool = False) -> NetworkIndex:
    """Build the edge table and travel-time graph once, for several stages of one run."""
    return NetworkIndex(
        edges=edge_frame(network.graph, progress=progress),
        ttg=build_travel_time_graph(network.graph),
    )
