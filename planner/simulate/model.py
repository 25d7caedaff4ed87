"""The simulated system: stations and their units, shifts, hospitals, points and drive times.

:func:`precompute_times` runs the travel-time engine once for everything a
run needs (:class:`SimulationTimes`); :func:`build_model` checks the stations,
shifts, hospitals and points against them and returns a
:class:`SimulationModel`, the read-only input of every replication.
:func:`hospitals_from_osm` and :func:`read_hospitals` give the hospitals with
an emergency department.

A unit may serve a point only if it can also get home from there (directly,
and through the point's hospital when calls there may be transported): a
point cut off on a one-way island is never reached by a unit that would be
stranded. Points no unit can serve are reported (a
:class:`~planner.errors.PlannerWarning`, also kept in ``model.warnings``) and
their calls are logged as ``unreachable``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from planner import constants
from planner.errors import DataError, InputFileError, ParameterError, PlannerWarning
from planner.inputs.sites import read_osm_pois, read_points
from planner.network.bands import BandNetwork
from planner.network.profiles import SpeedProfile, bands_at
from planner.network.snapping import SnappedPoints, edge_frame, snap_points
from planner.network.travel_times import (
    TravelTimeGraph,
    build_travel_time_graph,
    point_times,
    reverse_point_times,
)
from planner.simulate.settings import SimulationSettings

__all__ = [
    "EMERGENCY_HOSPITAL_TAGS",
    "SimulationModel",
    "SimulationTimes",
    "build_model",
    "call_bands",
    "hospitals_from_osm",
    "precompute_band_times",
    "precompute_times",
    "read_hospitals",
    "shift_table",
]

#: OSM tags of a hospital with an emergency department: the hospital tag
#: (OSM wiki Tag:amenity=hospital; ``healthcare=hospital`` is its twin in the
#: healthcare schema) together with ``emergency=yes`` (OSM wiki
#: Key:emergency, "emergency=yes on a hospital: it has an emergency room").
EMERGENCY_HOSPITAL_TAGS: Mapping[str, tuple[str, ...]] = {
    "amenity": ("hospital",),
    "healthcare": ("hospital",),
}
_EMERGENCY_TAG = {"emergency": ("yes",)}

#: Fleet codes used inside the engine.
AMBULANCE, PSYCHIATRIC = 0, 1
_FLEETS = {"ambulance": AMBULANCE, "psychiatric": PSYCHIATRIC}


# --------------------------------------------------------------------------
# Hospitals
# --------------------------------------------------------------------------
def hospitals_from_osm(
    path: str | os.PathLike[str],
    *,
    boundary: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    emergency_only: bool = True,
) -> gpd.GeoDataFrame:
    """Hospitals with an emergency department from an OSM file.

    An object counts if it has a hospital tag (:data:`EMERGENCY_HOSPITAL_TAGS`)
    and ``emergency=yes``. Read with :func:`planner.inputs.sites.read_osm_pois`
    (areas become their centroid). Many hospitals in OSM lack the
    ``emergency`` tag (none of Andorra's 7 has it): check the result, and
    pass ``emergency_only=False`` to take every hospital, or give a file.

    Parameters
    ----------
    path
        The OSM file the roads come from (``.osm.pbf``, ``.osm`` ...).
    boundary
        Keep only hospitals inside this area (EPSG:4326 geometry, or a
        GeoSeries/GeoDataFrame with a CRS).
    emergency_only
        Keep only hospitals tagged ``emergency=yes``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``name`` (the ``name`` tag, or ``hospital <osm id>``), ``osm_id``,
        ``osm_type`` and Point geometry in the metric CRS of the data
        (EPSG:3006 in Sweden, :mod:`planner.network.crs`). Possibly empty.
    """
    hospitals = read_osm_pois(path, tags=EMERGENCY_HOSPITAL_TAGS, boundary=boundary)
    keep = [True] * len(hospitals)
    if emergency_only:
        emergency = read_osm_pois(path, tags=_EMERGENCY_TAG, boundary=boundary)
        keys = set(zip(emergency["osm_type"], emergency["osm_id"], strict=True))
        keep = [k in keys for k in zip(hospitals["osm_type"], hospitals["osm_id"], strict=True)]
    out = hospitals.loc[keep].drop_duplicates(["osm_type", "osm_id"]).reset_index(drop=True)
    default = "hospital " + out["osm_id"].astype(str)
    names = out["name"].astype(object).where(out["name"].notna(), default)
    return gpd.GeoDataFrame(
        {
            "name": names.to_numpy(dtype=object),
            "osm_id": out["osm_id"],
            "osm_type": out["osm_type"],
        },
        geometry=out.geometry.to_numpy(),
        crs=out.crs,
    )


def read_hospitals(
    path: str | os.PathLike[str],
    *,
    crs: str | None = None,
    check_sweden: bool = True,
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Hospitals with an emergency department from a file (CSV, GeoJSON, GPKG, GeoParquet).

    Parameters
    ----------
    path
        One hospital per row with a ``name`` column and coordinates, in the
        formats of :func:`planner.inputs.sites.read_points`.
    crs, check_sweden, source
        As in :func:`planner.inputs.sites.read_points` (``source`` names the
        file in messages).

    Returns
    -------
    geopandas.GeoDataFrame
        ``name``, ``source_row`` and Point geometry in the metric CRS of the
        data (EPSG:3006 in Sweden).

    Raises
    ------
    InputFileError
        No name column, a name missing or repeated (naming the rows).
    """
    source = source or os.fspath(path)
    points = read_points(path, crs=crs, check_sweden=check_sweden, source=source)
    if "name" not in points.columns:
        raise InputFileError(f"{source}: no name column (name, namn or station)")
    names = points["name"].astype(object).where(points["name"].notna(), "").astype(str).str.strip()
    rows = points["source_row"].to_numpy()
    problems = [f"{source} row {r}: name is missing" for r in rows[(names == "").to_numpy()]]
    repeated = names[(names != "") & names.str.casefold().duplicated(keep=False)]
    for name in dict.fromkeys(repeated):
        listed = ", ".join(str(r) for r in rows[(names == name).to_numpy()])
        problems.append(f"{source}: hospital {name!r} appears in rows {listed}")
    if problems:
        raise InputFileError("\n".join(problems[:10]))
    return points.assign(name=names.to_numpy(dtype=object))


# --------------------------------------------------------------------------
# Travel times
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SimulationTimes:
    """Drive times at emergency speeds between the places of a simulation, s.

    ``inf`` where no road leads. Rows are origins, columns destinations.

    Attributes
    ----------
    station_to_point
        ``(stations, points)``.
    hospital_to_point
        ``(hospitals, points)``: a unit free at a hospital sent to a call.
    point_to_hospital
        ``(points, hospitals)``: transport (one-way streets respected).
    point_to_station
        ``(points, stations)``: the drive home from a scene.
    hospital_to_station
        ``(hospitals, stations)``: the drive home from a hospital.
    """

    station_to_point: np.ndarray
    hospital_to_point: np.ndarray
    point_to_hospital: np.ndarray
    point_to_station: np.ndarray
    hospital_to_station: np.ndarray

    def __post_init__(self) -> None:
        s, d = self.station_to_point.shape
        h = self.hospital_to_point.shape[0]
        shapes = {
            "hospital_to_point": (h, d),
            "point_to_hospital": (d, h),
            "point_to_station": (d, s),
            "hospital_to_station": (h, s),
        }
        for name, shape in shapes.items():
            value = np.asarray(getattr(self, name), dtype=float)
            if value.shape != shape:
                raise ParameterError(f"{name}: shape {value.shape}, expected {shape}")
            object.__setattr__(self, name, value)
        for f in dataclasses.fields(self):
            value = np.asarray(getattr(self, f.name), dtype=float)
            if np.isnan(value).any() or (value < 0).any():
                raise ParameterError(f"{f.name}: drive times must be >= 0 s or inf, never NaN")
            value.setflags(write=False)
            object.__setattr__(self, f.name, value)

    def select_stations(self, rows: Sequence[int] | np.ndarray) -> SimulationTimes:
        """The same times for some stations only (rows of ``station_to_point``, in that order).

        For example the existing stations out of times computed once for the
        existing and the proposed stations together.
        """
        index = np.asarray(rows)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        n = self.station_to_point.shape[0]
        if index.ndim != 1 or (len(index) and (index.min() < -n or index.max() >= n)):
            raise ParameterError(f"select_stations: rows must lie in 0-{n - 1}")
        return dataclasses.replace(
            self,
            station_to_point=self.station_to_point[index],
            point_to_station=self.point_to_station[:, index],
            hospital_to_station=self.hospital_to_station[:, index],
        )


def precompute_times(
    graph: nx.MultiDiGraph,
    stations: gpd.GeoDataFrame | gpd.GeoSeries,
    hospitals: gpd.GeoDataFrame | gpd.GeoSeries,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    travel_graph: TravelTimeGraph | None = None,
    edges: gpd.GeoDataFrame | None = None,
    workers: int = 1,
) -> SimulationTimes:
    """Every drive time a simulation needs, with the existing engine, once.

    Stations and hospitals are snapped to the roads
    (:func:`planner.network.snapping.snap_points`), then
    :func:`planner.network.travel_times.point_times` runs from stations and
    hospitals to the points and from hospitals to stations, and
    :func:`planner.network.travel_times.reverse_point_times` from the points
    to stations and hospitals.

    Parameters
    ----------
    graph
        The road network (in its metric CRS, ``travel_time`` s on edges).
    stations, hospitals, points
        Point layers in any CRS (demand points, or the positions of replayed
        calls).
    travel_graph, edges
        The graph's :func:`~planner.network.travel_times.build_travel_time_graph` and
        :func:`~planner.network.snapping.edge_frame`, if already built.
    workers
        Worker processes for the searches from stations and hospitals.

    Returns
    -------
    SimulationTimes
    """
    ttg = travel_graph if travel_graph is not None else build_travel_time_graph(graph)
    edges = edges if edges is not None else edge_frame(graph)
    snapped = [snap_points(graph, layer, edges=edges) for layer in (stations, hospitals, points)]
    sites = _concat(snapped[0], snapped[1])
    n_st = len(snapped[0])
    forward = point_times(ttg, sites, destinations=snapped[2], workers=workers)
    backward = reverse_point_times(ttg, sites, snapped[2])
    if len(snapped[1]):
        hs = point_times(ttg, snapped[1], destinations=snapped[0], workers=workers)
    else:
        hs = np.empty((0, n_st))
    return SimulationTimes(
        station_to_point=forward[:n_st],
        hospital_to_point=forward[n_st:],
        point_to_hospital=backward[:, n_st:],
        point_to_station=backward[:, :n_st],
        hospital_to_station=hs,
    )


def _concat(a: SnappedPoints, b: SnappedPoints) -> SnappedPoints:
    return SnappedPoints(
        **{
            f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)])
            for f in dataclasses.fields(a)
        }
    )


def _unit_band(profile: SpeedProfile, band: str) -> bool:
    """Whether every factor of the band is 1 (its times are the network's own)."""
    b = profile.band(band)
    return b.other == 1.0 and all(f == 1.0 for f in b.factors.values())


def precompute_band_times(
    bands: BandNetwork,
    stations: gpd.GeoDataFrame | gpd.GeoSeries,
    hospitals: gpd.GeoDataFrame | gpd.GeoSeries,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    base: SimulationTimes | None = None,
    workers: int = 1,
) -> tuple[SimulationTimes, ...]:
    """:func:`precompute_times` in every band of a speed profile, on re-weighted graphs.

    Each band's edge times enter the network's own travel-time graph
    (:meth:`planner.network.bands.BandNetwork.index_for`, no rebuild). A band
    whose factors are all 1 shares ``base`` (the times at the network's own
    speeds) instead of computing them again: its times are those bit for bit.

    Parameters
    ----------
    bands
        The network prepared for its profile's bands.
    stations, hospitals, points
        As in :func:`precompute_times`.
    base
        The times at the network's own speeds, if computed already.
    workers
        Worker processes for the searches.

    Returns
    -------
    tuple of SimulationTimes
        One per band, in ``bands.profile.band_names`` order (memory: at most
        one set of times per band).
    """
    graph = bands.network.graph
    out = []
    for band in bands.profile.band_names:
        if base is not None and _unit_band(bands.profile, band):
            out.append(base)
            continue
        index = bands.index_for(band)
        times = precompute_times(
            graph, stations, hospitals, points,
            travel_graph=index.ttg, edges=index.edges, workers=workers,
        )  # fmt: skip
        out.append(times)
    return tuple(out)


def call_bands(profile: SpeedProfile | None, time_s: np.ndarray) -> np.ndarray:
    """Band number (into ``profile.band_names``) of each call time, vectorised.

    The simulation clock starts on a Monday at 00:00
    (:data:`~planner.constants.SIM_CLOCK_MONDAY`), so a time ``t`` s is that
    Monday plus ``t``; :func:`planner.network.profiles.bands_at` gives its band.

    Parameters
    ----------
    profile
        The speed profile, or None (every call in band 0).
    time_s
        Call times, s after time 0.

    Returns
    -------
    numpy.ndarray
        int64 band numbers, one per call.
    """
    t = np.asarray(time_s, dtype=float)
    if profile is None or len(t) == 0:
        return np.zeros(len(t), dtype=np.int64)
    stamps = pd.Timestamp(constants.SIM_CLOCK_MONDAY) + pd.to_timedelta(t, unit="s")
    names = bands_at(profile, pd.Series(stamps))
    return np.asarray(pd.Index(profile.band_names).get_indexer(names), dtype=np.int64)


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SimulationModel:
    """The read-only input of a replication (built by :func:`build_model`).

    Attributes
    ----------
    stations
        One row per station: ``name``, ``fleet``, ``units``, ``region_code``,
        ``municipality_code`` (None when unknown).
    shifts
        ``(stations, 168)`` units on duty per hour of the week (Monday 00-01
        first), int.
    points
        One row per point: ``point_id``, ``weight``, ``region_code``,
        ``municipality_code``, ``hospital`` (row of the nearest reachable
        hospital, -1 if none), ``servable`` (some unit can serve it).
    hospitals
        Hospital names.
    times
        The drive times; ``serve_times`` is ``times.station_to_point`` with
        the pairs a unit could not return from set to ``inf``.
    population
        People the points stand for (the sum of their weights unless given).
    warnings
        Suspicious but legal input, worded for the user.
    profile
        The time-of-day speed profile, or None (one set of times).
    band_times, band_serve
        With a profile, ``times`` and ``serve_times`` in each of its bands
        (``profile.band_names`` order); a call's drives use the band of its
        call time (:func:`call_bands`). Without one, ``(times,)`` and
        ``(serve_times,)``.
    """

    stations: pd.DataFrame
    shifts: np.ndarray
    points: pd.DataFrame
    hospitals: tuple[str, ...]
    times: SimulationTimes
    serve_times: np.ndarray
    population: float
    warnings: tuple[str, ...] = field(default=())
    profile: SpeedProfile | None = None
    band_times: tuple[SimulationTimes, ...] = ()
    band_serve: tuple[np.ndarray, ...] = ()

    def __post_init__(self) -> None:
        if not self.band_times:
            object.__setattr__(self, "band_times", (self.times,))
            object.__setattr__(self, "band_serve", (self.serve_times,))

    @property
    def n_units(self) -> int:
        """Units over all stations."""
        return int(self.stations["units"].sum())

    def without_fleet(self, fleet: str) -> SimulationModel:
        """The same system without the stations of one fleet (e.g. ``psychiatric``)."""
        keep = (self.stations["fleet"] != fleet).to_numpy()
        if keep.all():
            return self
        if not keep.any():
            raise ParameterError(f"without_fleet({fleet!r}): no station would be left")
        return dataclasses.replace(
            self,
            stations=self.stations.loc[keep].reset_index(drop=True),
            shifts=self.shifts[keep],
            times=self.times.select_stations(keep),
            serve_times=self.serve_times[keep],
            band_times=tuple(t.select_stations(keep) for t in self.band_times),
            band_serve=tuple(s[keep] for s in self.band_serve),
        )


def shift_table(
    stations: pd.DataFrame,
    shifts: Mapping[str, Sequence[int]] | None,
    *,
    psychiatric_hours: tuple[int, int] | None,
    source: str = "shifts",
) -> np.ndarray:
    """Units on duty per station and hour of the week, checked.

    Parameters
    ----------
    stations
        ``name``, ``fleet`` and ``units`` per station.
    shifts
        Station name -> 24 values (every day alike) or 168 values (Monday
        00-01 first): units on duty in that hour. A station not listed has
        all its units on duty round the clock, except psychiatric stations,
        which are on duty in ``psychiatric_hours``.
    psychiatric_hours
        (start, end) hours of the psychiatric fleet (end exclusive, may wrap
        past midnight); None for round the clock.
    source
        What to call ``shifts`` in messages.

    Returns
    -------
    numpy.ndarray
        ``(stations, 168)`` int64.

    Raises
    ------
    ParameterError
        A station that does not exist (with the closest name), a wrong number
        of hours, or an impossible count: not a whole number, negative, or
        more units on duty than the station has.
    """
    names = stations["name"].astype(str).tolist()
    units = stations["units"].to_numpy(dtype=np.int64)
    table = np.repeat(units[:, None], 168, axis=1)
    if psychiatric_hours is not None:
        table[(stations["fleet"] == "psychiatric").to_numpy()] *= _hours_mask(psychiatric_hours)
    problems: list[str] = []
    for key, values in (shifts or {}).items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{source}: {key!r} is not a station{hint}")
            continue
        row = names.index(key)
        problems += _shift_problems(values, int(units[row]), f"{source}[{key!r}]")
        if not problems:
            arr = np.asarray(values, dtype=float).astype(np.int64)
            table[row] = np.tile(arr, 7) if len(arr) == 24 else arr
    if problems:
        raise ParameterError("\n".join(problems[:10]))
    return table


def _hours_mask(hours: tuple[int, int]) -> np.ndarray:
    start, end = hours
    day = np.arange(24)
    on = (day >= start) & (day < end) if start < end else (day >= start) | (day < end)
    return np.tile(on.astype(np.int64), 7)


def _shift_problems(values: Any, units: int, label: str) -> list[str]:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return [f"{label}: give 24 or 168 whole numbers of units on duty"]
    if arr.ndim != 1 or len(arr) not in (24, 168):
        return [f"{label}: give 24 values (hours of a day) or 168 (hours of a week, Monday first)"]
    bad = ~np.isfinite(arr) | (np.mod(arr, 1) != 0) | (arr < 0)
    if bad.any():
        h = int(np.flatnonzero(bad)[0])
        return [f"{label}: hour {h} has {values[h]!r} units on duty; give whole numbers >= 0"]
    over = arr > units
    if over.any():
        h = int(np.flatnonzero(over)[0])
        return [
            f"{label}: hour {h} has {int(arr[h])} units on duty, but the station has only "
            f"{units}; impossible shift"
        ]
    return []


def build_model(
    stations: pd.DataFrame,
    points: pd.DataFrame,
    hospitals: Sequence[str] | pd.DataFrame,
    times: SimulationTimes,
    *,
    settings: SimulationSettings,
    shifts: Mapping[str, Sequence[int]] | None = None,
    shift_source: str = "shifts",
    population: float | None = None,
    profile: SpeedProfile | None = None,
    band_times: Sequence[SimulationTimes] = (),
) -> SimulationModel:
    """Check the system and put it in the form every replication reads.

    Suspicious but legal input (stations never on duty, points that reach no
    hospital or that no ambulance can serve) is reported with
    :func:`warnings.warn` as a :class:`~planner.errors.PlannerWarning` (the
    command line prints each as one ``warning:`` line) and kept in
    ``model.warnings``.

    Parameters
    ----------
    stations
        ``name``, ``fleet`` (``ambulance`` or ``psychiatric``), ``units``,
        optionally ``region_code`` and ``municipality_code`` (needed with
        ``mutual_aid=False``; used for "served from another area").
    points
        One row per point in the order of ``times``: ``weight`` (people, or
        calls), optionally ``demand_id``, ``region_code`` and
        ``municipality_code``.
    hospitals
        Hospital names (or a frame with ``name``) in the order of ``times``.
    times
        From :func:`precompute_times`.
    settings
        Uses ``psychiatric_hours``, ``mutual_aid`` and the transport
        probabilities.
    shifts
        See :func:`shift_table`.
    shift_source
        What to call ``shifts`` in messages (e.g. the scenario file and key).
    population
        People the points stand for (for expected cardiac-arrest survivors
        and ``calls_per_1000``); default the sum of ``weight``.
    profile, band_times
        A time-of-day speed profile and the times in each of its bands
        (:func:`precompute_band_times`): each call's drives then use the band
        of its call time. The nearest hospital and whether a unit can serve
        a point come from ``times`` (the bands change speeds, not which
        roads lead where).

    Raises
    ------
    ParameterError, DataError
        Mismatched sizes, an unknown fleet, impossible shifts, no ambulance,
        no hospital while calls may be transported, no hospital reachable, or
        ``mutual_aid=False`` without regions.
    """
    st = _station_frame(stations)
    pts = _point_frame(points)
    names = tuple(
        hospitals["name"].astype(str)
        if isinstance(hospitals, pd.DataFrame)
        else map(str, hospitals)
    )
    _check_sizes(times, st, pts, names)
    if (profile is None) != (not band_times) or (
        profile is not None and len(band_times) != len(profile.bands)
    ):
        raise ParameterError("band_times: give one set of times per band of the profile")
    for banded in band_times:
        _check_sizes(banded, st, pts, names)
    table = shift_table(
        st, shifts, psychiatric_hours=settings.psychiatric_hours, source=shift_source
    )
    if not settings.mutual_aid:
        _require_regions(st, pts)
    never = [n for n, row in zip(st["name"], table, strict=True) if not row.any()]
    notes = [f"stations never on duty in the shifts: {', '.join(never[:5])}"] if never else []
    hospital, transport_notes = _nearest_hospitals(times, pts, settings)
    notes += transport_notes
    pts["hospital"] = hospital
    serve = _serve_times(times, st, pts, settings)
    pts["servable"] = np.isfinite(serve[(st["fleet"] == "ambulance").to_numpy()]).any(axis=0)
    lost = int((~pts["servable"]).sum())
    if lost:
        notes.append(
            f"{lost} of {len(pts)} points can be reached by no ambulance that could also get "
            "home (no road, another road part, or beyond every station); their calls are "
            "logged as unreachable"
        )
    for note in notes:
        warnings.warn(note, PlannerWarning, stacklevel=2)
    return SimulationModel(
        stations=st,
        shifts=table,
        points=pts,
        hospitals=names,
        times=times,
        serve_times=serve,
        population=float(pts["weight"].sum()) if population is None else float(population),
        warnings=tuple(notes),
        profile=profile,
        band_times=tuple(band_times),
        band_serve=_band_serve(band_times, times, serve, st, pts, settings),
    )


def _band_serve(
    band_times: Sequence[SimulationTimes],
    times: SimulationTimes,
    serve: np.ndarray,
    stations: pd.DataFrame,
    points: pd.DataFrame,
    settings: SimulationSettings,
) -> tuple[np.ndarray, ...]:
    """:func:`_serve_times` of each band; bands sharing one set of times share the result."""
    done: dict[int, np.ndarray] = {id(times): serve}
    for banded in band_times:
        if id(banded) not in done:
            done[id(banded)] = _serve_times(banded, stations, points, settings)
    return tuple(done[id(t)] for t in band_times)


def _check_sizes(
    times: SimulationTimes, st: pd.DataFrame, pts: pd.DataFrame, names: tuple[str, ...]
) -> None:
    s, d = times.station_to_point.shape
    if (s, d, len(names)) != (len(st), len(pts), times.hospital_to_point.shape[0]):
        raise ParameterError(
            f"times are for {s} stations, {d} points and {times.hospital_to_point.shape[0]} "
            f"hospitals; got {len(st)}, {len(pts)} and {len(names)}"
        )
    if not (st["fleet"] == "ambulance").any():
        raise DataError("stations: no ambulance station; a simulation needs ambulances")


def _station_frame(stations: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("name", "fleet", "units") if c not in stations.columns]
    if missing:
        raise ParameterError(f"stations: no {', '.join(missing)} column")
    fleet = stations["fleet"].astype(str)
    unknown = sorted(set(fleet) - set(_FLEETS))
    if unknown:
        raise ParameterError(
            f"stations: unknown fleet {unknown[0]!r}; use ambulance or psychiatric"
        )
    units = pd.to_numeric(stations["units"], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(units).all() and (units >= 1).all() and (np.mod(units, 1) == 0).all()):
        raise ParameterError("stations: units must be whole numbers >= 1")
    out = pd.DataFrame(
        {
            "name": stations["name"].astype(str).to_numpy(),
            "fleet": fleet.to_numpy(),
            "units": units.astype(np.int64),
        }
    )
    for col in ("region_code", "municipality_code"):
        out[col] = stations[col].to_numpy(dtype=object) if col in stations else None
    return out


def _point_frame(points: pd.DataFrame) -> pd.DataFrame:
    if "weight" not in points.columns:
        raise ParameterError("points: no weight column")
    weight = pd.to_numeric(points["weight"], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(weight).all() and (weight >= 0).all()):
        raise ParameterError("points: weights must be finite numbers >= 0")
    ids = points["demand_id"] if "demand_id" in points else pd.Series(np.arange(len(points)))
    out = pd.DataFrame({"point_id": ids.astype(str).to_numpy(), "weight": weight})
    for col in ("region_code", "municipality_code"):
        out[col] = points[col].to_numpy(dtype=object) if col in points else None
    return out


def _require_regions(stations: pd.DataFrame, points: pd.DataFrame) -> None:
    if stations["region_code"].isna().any() or points["region_code"].isna().all():
        raise ParameterError(
            "mutual_aid = false needs the region of every station and point (region_code)"
        )
    own = set(stations.loc[stations["fleet"] == "ambulance", "region_code"])
    orphans = sorted(set(points["region_code"].dropna()) - own)
    if orphans:
        raise DataError(
            f"mutual_aid = false, but region(s) {', '.join(map(str, orphans))} have demand and "
            "no ambulance station of their own: their calls could never be served"
        )


def _nearest_hospitals(
    times: SimulationTimes, points: pd.DataFrame, settings: SimulationSettings
) -> tuple[np.ndarray, list[str]]:
    """Row of each point's nearest reachable hospital (-1 if none), and warnings."""
    transports = max(settings.transport_probability) > 0 or (
        settings.psychiatric_transport_probability > 0 and settings.psychiatric_share > 0
    )
    d = len(points)
    if times.point_to_hospital.shape[1] == 0:
        if transports:
            raise DataError(
                "no hospital with an emergency department: give hospitals (OSM amenity=hospital "
                "with emergency=yes, or a file), or set the transport probabilities to 0"
            )
        return np.full(d, -1, dtype=np.int64), []
    best = np.argmin(times.point_to_hospital, axis=1)
    reach = np.isfinite(times.point_to_hospital[np.arange(d), best])
    hospital = np.where(reach, best, -1).astype(np.int64)
    weighted = points["weight"].to_numpy() > 0
    if transports and not reach[weighted].any():
        raise DataError(
            "no hospital can be reached by road from any demand point: check that the "
            "hospitals lie on the road network of the region"
        )
    notes = []
    cut = int((~reach & weighted).sum())
    if transports and cut:
        notes.append(
            f"{cut} demand points reach no hospital by road; their patients are treated on scene "
            "(never transported)"
        )
    return hospital, notes


def _serve_times(
    times: SimulationTimes,
    stations: pd.DataFrame,
    points: pd.DataFrame,
    settings: SimulationSettings,
) -> np.ndarray:
    """Station -> point times, ``inf`` where the unit could not get home again."""
    serve = times.station_to_point.copy()
    home = np.isfinite(times.point_to_station.T)
    hospital = points["hospital"].to_numpy()
    has = hospital >= 0
    if has.any() and len(stations):
        via = np.ones_like(home)
        via[:, has] = np.isfinite(times.hospital_to_station[hospital[has]].T)
        home &= via
    serve[~home] = np.inf
    return serve
