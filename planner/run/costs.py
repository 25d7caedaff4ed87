"""The cost-matrix hand-off: drive times over the road network -> an optimiser instance.

The optimiser sees nothing of the road network but its cost matrix
(:mod:`planner.optimise.instance`): response times, s (turn-out plus the
drive time from each site to each demand point), ``inf`` where a site cannot
reach a point. :func:`optimise_instance` computes it from the snapped sites
and demand: dense (:func:`~planner.network.travel_times.point_times`, or
:func:`~planner.network.matrix.compute_matrix` on an executor) or, for
national runs with a cutoff, sparse (:class:`planner.optimise.SparseInstance`:
the pairs within the cutoff, in resumable blocks, with exact times from the
existing stations at any distance). Without mutual aid a site serves only the
demand of its own region.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner import constants
from planner.analysis.coverage import own_region
from planner.distributed import BlockExecutor
from planner.errors import ParameterError
from planner.network.matrix import compute_matrix, compute_nearest, store_folder
from planner.network.snapping import SnappedPoints
from planner.network.travel_times import TravelTimeGraph, point_times
from planner.optimise import Instance, SparseInstance, make_instance, make_sparse_instance

__all__ = ["optimise_instance", "site_and_demand_regions"]


def optimise_instance(
    ttg: TravelTimeGraph,
    sites: SnappedPoints,
    demand: SnappedPoints,
    *,
    turnout_s: float,
    cutoff_min: float | None,
    common: dict[str, Any],
    regions: tuple[np.ndarray, np.ndarray] | None = None,
    workers: int = 1,
    executor: BlockExecutor | None = None,
    store: Path | None = None,
    progress: bool = False,
) -> Instance | SparseInstance:
    """The optimiser's instance: response times (s) from every site to every demand point.

    Parameters
    ----------
    ttg
        The CSR travel-time graph.
    sites, demand
        The snapped sites (existing stations first, as required sites) and demand points.
    turnout_s
        Turn-out time, s, added to every drive time.
    cutoff_min
        ``None``: every time, dense (refused above
        :data:`planner.constants.DENSE_COST_MAX_BYTES`). Otherwise the new
        sites' response times only up to this, min, stored sparse.
    common
        The other arguments of :func:`planner.optimise.make_instance`
        (weights, site names, required sites, existing units, demand ids).
    regions
        Site and demand region codes (:func:`site_and_demand_regions`) when
        a site may serve only its own region's demand (no mutual aid).
    workers, executor, progress
        Worker processes for the dense times; blocks of sites on an executor
        instead (:mod:`planner.distributed`); progress bars.
    store
        With a cutoff: keep finished blocks in folders below this one named
        for their inputs (:func:`planner.network.matrix.store_folder`), so an
        interrupted run resumes and a rerun reuses them.

    Raises
    ------
    ParameterError
        When the dense matrix would need more than
        :data:`planner.constants.DENSE_COST_MAX_BYTES` (the message gives the
        size and asks for ``cutoff_min``), or the cutoff leaves no drive time.
    """
    if cutoff_min is not None:
        return _sparse_instance(
            ttg, sites, demand, turnout_s, cutoff_min, common,
            regions=regions, executor=executor, store=store, progress=progress,
        )  # fmt: skip
    dense_bytes = 8 * len(demand) * len(sites)
    if dense_bytes > constants.DENSE_COST_MAX_BYTES:
        raise ParameterError(
            f"optimise: the dense cost matrix of {len(demand):,} demand points × "
            f"{len(sites):,} sites would take {dense_bytes / 2**30:.1f} GiB; set cutoff_min "
            "(e.g. 60, with solver = 'heuristic') for a sparse national instance"
        )
    if executor is not None:
        drive = compute_matrix(
            ttg, sites, demand, cutoff_s=None, executor=executor, progress=progress
        ).to_dense()
    else:
        drive = point_times(ttg, sites, destinations=demand, workers=workers, progress=progress)
    if regions is not None:
        site_region, dm_region = regions
        drive = np.where(own_region(site_region[:, None], dm_region[None, :]), drive, np.inf)
    return make_instance(drive.T + turnout_s, **common)


def site_and_demand_regions(
    stations: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, demand: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Region code per site (existing stations by name) and per demand point, None if none."""
    missing = [
        what
        for what, frame in (("stations", stations), ("candidates", sites), ("demand", demand))
        if "region_code" not in frame.columns
    ]
    if missing:
        raise ParameterError(
            f"serve_across=False needs region_code on {', '.join(missing)} (assign_areas)"
        )
    by_name = dict(zip(stations["name"].astype(str), stations["region_code"], strict=True))
    site_region = np.array(
        [
            by_name.get(str(name)) if required else code
            for name, required, code in zip(
                sites["name"], sites["required"], sites["region_code"], strict=True
            )
        ],
        dtype=object,
    )
    demand_region = np.array(demand["region_code"].to_numpy(), dtype=object)
    # a site or point in no region (None) serves and is served by nobody
    for codes in (site_region, demand_region):
        codes[np.asarray(pd.isna(codes), dtype=bool)] = None
    return site_region, demand_region


def _sparse_instance(
    ttg: TravelTimeGraph,
    site_snap: SnappedPoints,
    dm_snap: SnappedPoints,
    turnout_s: float,
    cutoff_min: float,
    common: dict[str, Any],
    *,
    regions: tuple[np.ndarray, np.ndarray] | None = None,
    executor: BlockExecutor | None = None,
    store: Path | None = None,
    progress: bool = False,
) -> SparseInstance:
    """Sites' response times (s) up to the cutoff, sparse; exact times from the required sites.

    With ``regions`` (site and demand region codes), a site serves only
    demand of its own region (no mutual aid). With ``store``, finished blocks
    are kept in folders below it named for their inputs (resumable).
    """
    cutoff_s = cutoff_min * 60.0
    if cutoff_s <= turnout_s:
        raise ParameterError(
            f"cutoff_min = {cutoff_min:g} leaves no drive time after the turn-out "
            f"({turnout_s / 60:g} min)"
        )
    drive_cut = cutoff_s - turnout_s

    def folder(origins: SnappedPoints, targets: SnappedPoints, kind: str) -> Path | None:
        cut = drive_cut if kind == "matrix" else None
        return None if store is None else store_folder(
            store, ttg, origins, targets, cutoff_s=cut, kind=kind
        )  # fmt: skip

    matrix = compute_matrix(
        ttg, site_snap, dm_snap, cutoff_s=drive_cut, executor=executor, progress=progress,
        store=folder(site_snap, dm_snap, "matrix"),
    )  # fmt: skip
    t = matrix.times
    data, indices, indptr = t.data, t.indices, t.indptr
    if regions is not None:
        site_region, dm_region = regions
        owner = np.repeat(np.arange(t.shape[0]), np.diff(indptr))
        keep = own_region(site_region[owner], dm_region[indices])
        data, indices = data[keep], indices[keep]
        indptr = np.r_[0, np.cumsum(np.bincount(owner[keep], minlength=t.shape[0]))]
    # the sites × demand CSR arrays, read as a demand × sites CSC: no copy of the index
    response = data + turnout_s
    cost = sp.csc_array((response, indices, indptr), shape=(t.shape[1], t.shape[0]))
    required = np.flatnonzero(common["required"])
    base = np.full(len(dm_snap), np.inf)
    base_site = np.full(len(dm_snap), -1, dtype=np.int64)
    groups = [(required, np.arange(len(dm_snap)))]
    if regions is not None:
        site_region, dm_region = regions
        groups = [
            (required[site_region[required] == code], np.flatnonzero(dm_region == code))
            for code in pd.unique(site_region[required])
        ]
    for origins, targets in groups:
        if not len(origins) or not len(targets):
            continue
        from_sites, to_points = site_snap.take(origins), dm_snap.take(targets)
        nearest = compute_nearest(
            ttg, from_sites, to_points, cutoff_s=None, executor=executor, progress=progress,
            store=folder(from_sites, to_points, "nearest"),
        )  # fmt: skip
        reached = nearest.origin >= 0
        base[targets[reached]] = nearest.times[reached] + turnout_s
        base_site[targets[reached]] = origins[nearest.origin[reached]]
    # drive <= cutoff - turn-out may round to a response a hair above the cutoff
    cutoff_s = max(cutoff_s, float(response.max(initial=0.0)))
    return make_sparse_instance(cost, cutoff_s=cutoff_s, base_s=base, base_site=base_site, **common)
