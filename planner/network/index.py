"""What the stages derive from a road network once and share: its edge table and CSR graph.

Snapping points (:func:`planner.network.snapping.snap_points`) needs the
edge table and every search needs the CSR travel-time graph
(:func:`planner.network.travel_times.build_travel_time_graph`). A run that
calls several stages on one network (coverage before and after, the
optimiser) builds both once with :func:`index_network` and passes the
:class:`NetworkIndex` on: every stage then searches with the engine the
index was made for (:class:`planner.network.engine.EngineSettings`).

The network's contraction hierarchy, which the ``"cch"`` engine needs and
``"auto"`` uses where it is faster, is built once per network and cached
with it (:func:`network_hierarchy`): under the network's cache key, as an
``.npz`` of plain arrays (never pickle), in the cache folder's
``hierarchies/`` beside ``networks/``. Only its contraction order and the
network's profile are stored; the edge times come from the network when it
is loaded, so a new speed model re-customises the same order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd

from planner.cache import cached
from planner.network import engine
from planner.network.road_network import RoadNetwork
from planner.network.snapping import edge_frame
from planner.network.travel_times import TravelTimeGraph, build_travel_time_graph

__all__ = ["HIERARCHY_FILE", "NetworkIndex", "index_network", "network_hierarchy"]

#: The file of a hierarchy cache entry (:func:`planner.network.engine.save_hierarchy`).
HIERARCHY_FILE = "hierarchy.npz"


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
        (:func:`planner.network.travel_times.build_travel_time_graph`), with
        the engine settings every search on it uses and, where the engine
        can use one, the network's contraction hierarchy.
    """

    edges: gpd.GeoDataFrame
    ttg: TravelTimeGraph


def _needs_hierarchy(settings: engine.EngineSettings) -> bool:
    """Whether the engine uses a hierarchy: ``"cch"`` always, ``"auto"`` where the wheel is."""
    if settings.engine == "cch":
        engine.require_cch()  # a clear error before any work
        return True
    return settings.engine == "auto" and engine.cch_available()


def network_hierarchy(
    network: RoadNetwork, ttg: TravelTimeGraph, *, cache_dir: Path | None = None
) -> engine.Hierarchy:
    """The network's contraction hierarchy: read from the cache, or built and stored there.

    Parameters
    ----------
    network
        The road network (its :attr:`~planner.network.road_network.RoadNetwork.cache_key`
        names the entry).
    ttg
        Its travel-time graph (:func:`build_travel_time_graph` of ``network.graph``).
    cache_dir
        The cache folder; ``None`` builds the hierarchy without storing it.

    Returns
    -------
    planner.network.engine.Hierarchy
        Customised with ``ttg``'s edge times. A stored order of another
        format or made for another topology is refused with a
        :class:`~planner.errors.CacheWarning` and built again.

    Raises
    ------
    ParameterError
        Without the ``routingkit-cch`` wheel.
    """
    engine.require_cch()
    hierarchy, _ = cached(
        None if cache_dir is None else Path(cache_dir),
        "hierarchies",
        network.cache_key,  # the network's own key: one hierarchy per network entry
        lambda: engine.build_hierarchy(ttg),
        save=lambda h, folder: engine.save_hierarchy(folder / HIERARCHY_FILE, h),
        load=lambda folder: engine.load_hierarchy(folder / HIERARCHY_FILE, ttg),
    )
    return hierarchy


def index_network(
    network: RoadNetwork,
    *,
    engine_settings: engine.EngineSettings | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> NetworkIndex:
    """Build the edge table and travel-time graph once, for several stages of one run.

    Parameters
    ----------
    network
        The road network.
    engine_settings
        The engine of every search on the index. With ``"cch"``, or
        ``"auto"`` where the ``routingkit-cch`` wheel is installed, the graph
        carries the network's hierarchy (:func:`network_hierarchy`, cached
        under the network's key in ``cache_dir``). ``None`` (the default of
        this function) is ``"auto"`` without a hierarchy: the exact engine,
        as :func:`build_travel_time_graph` alone; the command line and
        scenarios pass ``"auto"`` (their default) explicitly.
    cache_dir
        The cache folder of the network (``None``: the hierarchy is built
        and not stored).
    progress
        Show progress bars.

    Raises
    ------
    ParameterError
        For ``engine = "cch"`` without the ``routingkit-cch`` wheel.
    """
    settings = engine_settings or engine.EngineSettings()
    use_hierarchy = engine_settings is not None and _needs_hierarchy(settings)
    ttg = dataclasses.replace(build_travel_time_graph(network.graph), engine_settings=settings)
    if use_hierarchy:
        hierarchy = network_hierarchy(network, ttg, cache_dir=cache_dir)
        ttg = dataclasses.replace(ttg, hierarchy=hierarchy)
    return NetworkIndex(edges=edge_frame(network.graph, progress=progress), ttg=ttg)
