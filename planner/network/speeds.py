"""Emergency driving speeds on OpenStreetMap roads: the whole speed model in one place.

How a response time is modelled
-------------------------------
Every road edge gets an *emergency speed* in km/h and from it a travel time in
seconds (``travel_time = length / speed``):

1. **Base speed.** If the way carries a usable ``maxspeed`` tag (``"70"``,
   ``"30 mph"``, a Swedish zone value such as ``"SE:rural"``, ...), the posted
   limit is the base speed; ``maxspeed:forward`` and ``maxspeed:backward``
   take precedence in their direction (along the way's drawn direction, and
   against it). Where a way holds several limits (``"50;70"``, ``"70,50"``, or a
   list after OSMnx merges ways) the lowest is used, to stay on the safe side.
   Without a usable ``maxspeed`` (missing, ``"none"``, ``"signals"``, garbage)
   the base speed is the typical Swedish limit for the road's ``highway`` class,
   and for an unknown class a fallback speed.
2. **Blue lights.** The base speed is multiplied by the blue-light factor
   (driving with lights and siren is somewhat faster than the posted limit).
3. **Clamp.** The result is clamped between a minimum and a maximum emergency
   speed, so that walking-pace streets do not stall a route and motorways do
   not allow unrealistic speeds.
4. **Ferries** (``route=ferry``) are not driven: an ambulance waits and rides
   like everyone else, so neither the blue-light factor nor the clamp applies.
   A ferry's ``duration`` tag, shared out over the way's edges by length, gives
   its crossing time; without one, a typical ferry speed is used.

On top of the driving time, every response adds a fixed *turn-out time*: alarm
handling at the dispatch centre plus the time until the ambulance rolls
(:attr:`SpeedModel.turnout_s`).

Every default (class speeds, zone values, blue-light factor, minimum and
maximum speed, ferry speed, dispatch and roll-out times) is defined once in
:mod:`planner.constants`, where its source or the planning assumption behind
it is cited. All of them can be overridden through :class:`SpeedModel`, e.g.
``SpeedModel.from_overrides({"blue_light_factor": 1.2})``;
:func:`describe_speed_model` prints the resulting table.

Units: speeds km/h, times s, lengths m.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from planner import constants
from planner.errors import DataError, ParameterError

__all__ = [
    "SpeedModel",
    "add_edge_speeds",
    "describe_speed_model",
    "parse_duration",
    "parse_maxspeed",
    "road_speeds_kph",
]

# Unit conversions, exact by definition (international mile, nautical mile).
_KPH_PER_MPH = 1.609344
_KPH_PER_KNOT = 1.852
_S_PER_H = 3600.0
_M_PER_KM = 1000.0
#: Highest accepted blue-light factor (validation limit of SpeedModel).
_MAX_BLUE_LIGHT_FACTOR = 3.0
#: Highest accepted dispatch or roll-out time, s (validation limit of SpeedModel).
_MAX_TURNOUT_PART_S = 3600.0

_SPEED_FIELDS = (
    "fallback_speed_kph",
    "min_speed_kph",
    "max_speed_kph",
    "ferry_speed_kph",
)
_TIME_FIELDS = ("dispatch_s", "roll_out_s")


def _default_highway_speeds() -> Mapping[str, float]:
    return MappingProxyType(dict(constants.HIGHWAY_SPEEDS_KPH))


def _fmt(value: object) -> str:
    """Format a number for an error message: ``-80`` not ``-80.0``."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        x = float(value)
        if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
            return str(int(x))
        return repr(x)
    return repr(value)


def _as_number(label: str, value: object, *, allow_str: bool) -> float:
    """Return ``value`` as a float, or raise ParameterError naming ``label``."""
    if isinstance(value, bool | np.bool_):
        raise ParameterError(f"speed model: {label} = {value!r} is not a number")
    if isinstance(value, numbers.Real):
        return float(value)
    if allow_str and isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ParameterError(f"speed model: {label} = {value!r} is not a number")


def _check_speed(label: str, value: float) -> None:
    if not math.isfinite(value):
        raise ParameterError(f"speed model: {label} = {value!r} km/h is not a finite number")
    if value <= 0:
        raise ParameterError(f"speed model: {label} = {_fmt(value)} km/h is not a positive speed")
    if value > constants.ABSURD_SPEED_KPH:
        raise ParameterError(
            f"speed model: {label} = {_fmt(value)} km/h is absurd "
            f"(at most {_fmt(constants.ABSURD_SPEED_KPH)} km/h)"
        )


def _speed_model_from_dict(values: dict[str, Any]) -> SpeedModel:
    return SpeedModel(**values)


@dataclass(frozen=True)
class SpeedModel:
    """Parameters of the emergency speed model (see the module docstring).

    Parameters
    ----------
    highway_speeds_kph : Mapping[str, float]
        Base speed per OSM ``highway`` class when a way has no usable
        ``maxspeed``, km/h. Stored as a read-only copy. Default
        :data:`planner.constants.HIGHWAY_SPEEDS_KPH`.
    fallback_speed_kph : float
        Base speed of a class missing from ``highway_speeds_kph``, km/h.
    use_maxspeed : bool
        Use a way's parsed ``maxspeed`` tag as its base speed when present.
    blue_light_factor : float
        Multiplier on the base speed for lights-and-siren driving, in (0, 3].
    min_speed_kph, max_speed_kph : float
        Clamp on the emergency speed (after the factor), km/h; min < max.
    ferry_speed_kph : float
        Speed of a ferry without a usable ``duration`` tag, km/h.
    dispatch_s : float
        Alarm handling time at the dispatch centre, s, in [0, 3600].
    roll_out_s : float
        Time from alarm until the ambulance rolls, s, in [0, 3600].

    Raises
    ------
    ParameterError
        If a value is not a finite number in its range; the message names the
        field and the value. Every speed must be > 0 and at most
        :data:`planner.constants.ABSURD_SPEED_KPH`.
    """

    highway_speeds_kph: Mapping[str, float] = field(default_factory=_default_highway_speeds)
    fallback_speed_kph: float = constants.FALLBACK_SPEED_KPH
    use_maxspeed: bool = True
    blue_light_factor: float = constants.BLUE_LIGHT_FACTOR
    min_speed_kph: float = constants.MIN_SPEED_KPH
    max_speed_kph: float = constants.MAX_SPEED_KPH
    ferry_speed_kph: float = constants.FERRY_SPEED_KPH
    dispatch_s: float = constants.DISPATCH_S
    roll_out_s: float = constants.ROLL_OUT_S

    def __post_init__(self) -> None:
        # Highway table: read-only copy with float values, each a valid speed.
        table = self.highway_speeds_kph
        if not isinstance(table, Mapping):
            raise ParameterError(
                f"speed model: highway_speeds_kph must be a mapping of highway class "
                f"to km/h, not {type(table).__name__}"
            )
        clean: dict[str, float] = {}
        for key, raw in table.items():
            if not isinstance(key, str) or not key.strip():
                raise ParameterError(
                    f"speed model: highway_speeds_kph has key {key!r}; "
                    f"keys must be OSM highway classes such as 'primary'"
                )
            label = f"highway_speeds_kph[{key!r}]"
            value = _as_number(label, raw, allow_str=False)
            _check_speed(label, value)
            clean[key] = value
        object.__setattr__(self, "highway_speeds_kph", MappingProxyType(clean))

        for name in _SPEED_FIELDS:
            value = _as_number(name, getattr(self, name), allow_str=False)
            _check_speed(name, value)
            object.__setattr__(self, name, value)

        if not isinstance(self.use_maxspeed, bool | np.bool_):
            raise ParameterError(
                f"speed model: use_maxspeed = {self.use_maxspeed!r} is not true or false"
            )
        object.__setattr__(self, "use_maxspeed", bool(self.use_maxspeed))

        factor = _as_number("blue_light_factor", self.blue_light_factor, allow_str=False)
        if not (math.isfinite(factor) and 0 < factor <= _MAX_BLUE_LIGHT_FACTOR):
            raise ParameterError(
                f"speed model: blue_light_factor = {_fmt(factor)} must be a number "
                f"in (0, {_fmt(_MAX_BLUE_LIGHT_FACTOR)}]"
            )
        object.__setattr__(self, "blue_light_factor", factor)

        if self.min_speed_kph >= self.max_speed_kph:
            raise ParameterError(
                f"speed model: min_speed_kph = {_fmt(self.min_speed_kph)} km/h must be "
                f"below max_speed_kph = {_fmt(self.max_speed_kph)} km/h"
            )

        for name in _TIME_FIELDS:
            value = _as_number(name, getattr(self, name), allow_str=False)
            if not (math.isfinite(value) and 0 <= value <= _MAX_TURNOUT_PART_S):
                raise ParameterError(
                    f"speed model: {name} = {_fmt(value)} s must be between 0 and "
                    f"{_fmt(_MAX_TURNOUT_PART_S)} s"
                )
            object.__setattr__(self, name, value)

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __reduce__(self) -> tuple[Any, ...]:
        # MappingProxyType cannot be pickled: rebuild from plain values (for
        # the network cache and worker processes).
        return (_speed_model_from_dict, (self.to_dict(),))

    @property
    def turnout_s(self) -> float:
        """Turn-out time added to every response, s: ``dispatch_s + roll_out_s``."""
        return self.dispatch_s + self.roll_out_s

    def to_dict(self) -> dict[str, Any]:
        """Every parameter as a plain JSON-serialisable dict with sorted keys.

        Returns
        -------
        dict
            Field name to value (floats in km/h or s, a bool, and the highway
            table as a dict sorted by class). Suitable for cache keys
            (``json.dumps(model.to_dict())``) and export metadata.
        """
        out: dict[str, Any] = {}
        for f in sorted(dataclasses.fields(self), key=lambda f: f.name):
            value = getattr(self, f.name)
            if f.name == "highway_speeds_kph":
                value = {k: float(value[k]) for k in sorted(value)}
            out[f.name] = value
        return out

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | None) -> SpeedModel:
        """Build a model from the defaults and a mapping of overrides.

        Parameters
        ----------
        overrides : Mapping[str, Any] or None
            Field name to value. Numbers may be given as strings (``"90"``);
            ``use_maxspeed`` also accepts ``"true"``/``"false"``/``"yes"``/
            ``"no"``/``"1"``/``"0"``. ``highway_speeds_kph`` is merged into the
            default table (classes not named keep their default speed; new
            classes are added). ``None`` or ``{}`` gives the defaults.

        Returns
        -------
        SpeedModel

        Raises
        ------
        ParameterError
            For an unknown key (suggesting the closest valid one) or a value
            that is not a number in range (naming the key).
        """
        if overrides is None:
            return cls()
        if not isinstance(overrides, Mapping):
            raise ParameterError(
                f"speed model: overrides must be a mapping of setting to value, "
                f"not {type(overrides).__name__}"
            )
        valid = sorted(f.name for f in dataclasses.fields(cls))
        kwargs: dict[str, Any] = {}
        for key, raw in overrides.items():
            if key not in valid:
                close = difflib.get_close_matches(str(key), valid, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ParameterError(
                    f"speed model: unknown setting {key!r}{hint} "
                    f"(valid settings: {', '.join(valid)})"
                )
            if key == "highway_speeds_kph":
                if not isinstance(raw, Mapping):
                    raise ParameterError(
                        f"speed model: highway_speeds_kph must be a mapping of highway "
                        f"class to km/h, not {type(raw).__name__}"
                    )
                merged = dict(constants.HIGHWAY_SPEEDS_KPH)
                for cls_name, speed in raw.items():
                    merged[cls_name] = _as_number(
                        f"highway_speeds_kph[{cls_name!r}]", speed, allow_str=True
                    )
                kwargs[key] = merged
            elif key == "use_maxspeed":
                kwargs[key] = _as_bool(key, raw)
            else:
                kwargs[key] = _as_number(key, raw, allow_str=True)
        return cls(**kwargs)


def _as_bool(label: str, value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"true", "yes", "1", "on"}:
            return True
        if text in {"false", "no", "0", "off"}:
            return False
    raise ParameterError(f"speed model: {label} = {value!r} is not true or false")


# --------------------------------------------------------------------------
# Tag parsing
# --------------------------------------------------------------------------
_ZONES_KPH = {k.strip().lower(): float(v) for k, v in constants.MAXSPEED_ZONES_KPH.items()}
_UNKNOWN = frozenset(v.strip().lower() for v in constants.MAXSPEED_UNKNOWN)
_NUMBER_UNIT = re.compile(
    r"^(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>km/h|kmh|kph|mph|knots?|kn)?$", re.IGNORECASE
)
_ZONE_NUMBER = re.compile(r"^[a-z]{2}:zone:?(?P<num>\d+)$", re.IGNORECASE)
#: Separators of several limits in one tag: OSM's ``;``, and ``|`` (per-lane
#: values) and ``,`` (``"70,50"`` in Swedish data is a list, not 70.5).
_LIST_SEPARATOR = re.compile(r"[;|,]")


def _parse_one_maxspeed(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    lower = text.lower()
    if lower in _UNKNOWN:
        return None
    if lower in _ZONES_KPH:
        return _ZONES_KPH[lower]
    zone = _ZONE_NUMBER.match(lower)
    if zone:
        return _valid_speed(float(zone["num"]))
    m = _NUMBER_UNIT.match(text)
    if not m:
        return None
    speed = float(m["num"])
    unit = (m["unit"] or "").lower()
    if unit == "mph":
        speed *= _KPH_PER_MPH
    elif unit in {"knot", "knots", "kn"}:
        speed *= _KPH_PER_KNOT
    return _valid_speed(speed)


def _valid_speed(speed: float) -> float | None:
    if math.isfinite(speed) and 0 < speed <= constants.ABSURD_SPEED_KPH:
        return speed
    return None


def parse_maxspeed(value: object) -> float | None:
    """Parse an OSM ``maxspeed`` tag into a speed limit in km/h.

    Parameters
    ----------
    value : object
        The raw tag: a string, a number, or a list/tuple of those (OSMnx puts a
        list on edges merged from several ways).

    Returns
    -------
    float or None
        The limit in km/h, or ``None`` when the tag carries no usable number.

    Notes
    -----
    Accepted forms: ``"50"``, ``"50 km/h"``, ``"50kmh"``, ``"50 kph"``,
    ``"30 mph"`` (x 1.609344), ``"10 knots"`` (x 1.852), a decimal point
    (``"7.5"``), zone values from :data:`planner.constants.MAXSPEED_ZONES_KPH`
    (case-insensitive: ``"SE:urban"``, ``"walk"``, ...) and ``"XX:zone30"``.
    Several values (``"50;70"``, ``"50|70"``, ``"70,50"``, a list) give the
    lowest usable one, the conservative choice. A comma always separates
    values and is never a decimal comma: OSM writes decimals with a point,
    posted limits are whole numbers, and ``"70,50"`` in Swedish data lists
    two limits (so ``"7,5"`` is 5 km/h, not 7.5). ``None``, NaN, ``""``, the values in
    :data:`planner.constants.MAXSPEED_UNKNOWN` (``"none"``, ``"signals"``,
    ...), unknown zones (``"RU:urban"``), zero, negative, absurd (above
    :data:`planner.constants.ABSURD_SPEED_KPH`) and unreadable values give
    ``None``.
    """
    if value is None or isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        parts = [parse_maxspeed(v) for v in value]
        speeds = [s for s in parts if s is not None]
        return min(speeds) if speeds else None
    if isinstance(value, numbers.Real):
        return _valid_speed(float(value))
    if not isinstance(value, str):
        return None
    speeds = [
        s for s in (_parse_one_maxspeed(p) for p in _LIST_SEPARATOR.split(value)) if s is not None
    ]
    return min(speeds) if speeds else None


_MINUTES = re.compile(r"^\d+(?:[.,]\d+)?$")
_HH_MM = re.compile(r"^(\d+):(\d{1,2})$")
_HH_MM_SS = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
_ISO = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(value: object) -> float | None:
    """Parse an OSM ``duration`` tag (ferry crossing time) into seconds.

    Parameters
    ----------
    value : object
        The raw tag (string), or a number of minutes.

    Returns
    -------
    float or None
        The duration in s, or ``None`` if the tag is missing or unreadable.

    Notes
    -----
    Accepted forms: minutes (``"45"``, also ``"7.5"``), ``"hh:mm"``
    (``"0:45"``), ``"hh:mm:ss"`` (``"1:30:00"``) and ISO 8601 durations
    (``"PT45M"``, ``"PT1H30M"``, ``"P1DT2H"``). Minutes and seconds in the
    colon forms must be below 60. A zero duration, a list of values and
    anything else give ``None``.
    """
    if value is None or isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, numbers.Real):
        seconds = float(value) * 60.0
    elif isinstance(value, str):
        seconds_or_none = _parse_duration_text(value.strip())
        if seconds_or_none is None:
            return None
        seconds = seconds_or_none
    else:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _parse_duration_text(text: str) -> float | None:
    if _MINUTES.match(text):
        return float(text.replace(",", ".")) * 60.0
    m = _HH_MM.match(text)
    if m:
        hours, minutes = int(m[1]), int(m[2])
        return hours * 3600.0 + minutes * 60.0 if minutes < 60 else None
    m = _HH_MM_SS.match(text)
    if m:
        hours, minutes, secs = int(m[1]), int(m[2]), float(m[3])
        if minutes >= 60 or secs >= 60:
            return None
        return hours * 3600.0 + minutes * 60.0 + secs
    m = _ISO.match(text)
    if m and any(m[g] is not None for g in "dhms") and not text.upper().endswith("T"):
        parts = {g: float(m[g]) if m[g] is not None else 0.0 for g in "dhms"}
        return parts["d"] * 86400.0 + parts["h"] * 3600.0 + parts["m"] * 60.0 + parts["s"]
    return None


# --------------------------------------------------------------------------
# Vectorised speeds
# --------------------------------------------------------------------------
def _as_object_array(values: object, name: str) -> np.ndarray:
    """A 1-D object array of ``values`` (lists stay elements, not a 2-D array)."""
    if isinstance(values, pd.Series | pd.Index):
        return np.asarray(values.to_numpy(dtype=object), dtype=object)
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ParameterError(f"{name}: expected a 1-D array, got {values.ndim} dimensions")
        return values.astype(object, copy=False)
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ParameterError(
            f"{name}: expected a sequence of values (array, list or Series), "
            f"got {type(values).__name__}"
        )
    seq = list(values)
    return np.fromiter(seq, dtype=object, count=len(seq))


def _hashable(value: object) -> object:
    if isinstance(value, list | np.ndarray):
        return tuple(value)
    if isinstance(value, set):
        return frozenset(value)
    return value


def _map_unique(values: np.ndarray, func: Callable[[object], float | None]) -> np.ndarray:
    """Apply ``func`` to each distinct value only and map back; ``None`` -> NaN.

    Missing values (None/NaN) are passed to ``func`` as ``None``.
    """
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:
        # OSMnx puts lists on merged edges; lists are unhashable, tuples are not.
        hashable = np.fromiter((_hashable(v) for v in values), dtype=object, count=len(values))
        codes, uniques = pd.factorize(hashable, use_na_sentinel=True)
    results = [func(u) for u in uniques]
    results.append(func(None))  # code -1 (missing) indexes this last entry
    table = np.array([np.nan if r is None else float(r) for r in results], dtype=float)
    return np.asarray(table[codes], dtype=float)


def _class_speed_lookup(model: SpeedModel) -> Callable[[object], float]:
    table = {k.strip().lower(): v for k, v in model.highway_speeds_kph.items()}

    def lookup(value: object) -> float:
        candidates = value if isinstance(value, list | tuple | np.ndarray) else (value,)
        for cand in candidates:
            if isinstance(cand, str):
                speed = table.get(cand.strip().lower())
                if speed is not None:
                    return speed
        return model.fallback_speed_kph

    return lookup


def road_speeds_kph(highway: object, maxspeed: object | None, *, model: SpeedModel) -> np.ndarray:
    """Emergency driving speed for each road, km/h.

    Parameters
    ----------
    highway : array-like
        OSM ``highway`` class per road (string, or a list of strings on merged
        OSMnx edges: the first class in the table is used).
    maxspeed : array-like or None
        Raw ``maxspeed`` tag per road, same length as ``highway``; ``None``
        when there is no such column.
    model : SpeedModel
        The speed parameters.

    Returns
    -------
    numpy.ndarray
        Float array of emergency speeds, km/h:
        ``clip(base * blue_light_factor, min_speed_kph, max_speed_kph)`` where
        ``base`` is the parsed ``maxspeed`` (if ``model.use_maxspeed`` and
        usable), else the class speed, else ``model.fallback_speed_kph``.

    Raises
    ------
    ParameterError
        If an input is not 1-D or the lengths differ.

    Notes
    -----
    Tags are parsed once per distinct value, then mapped back to the roads.
    """
    hw = _as_object_array(highway, "highway")
    base = _map_unique(hw, _class_speed_lookup(model))
    if model.use_maxspeed and maxspeed is not None:
        ms = _as_object_array(maxspeed, "maxspeed")
        if len(ms) != len(hw):
            raise ParameterError(
                f"maxspeed: has {len(ms)} values but highway has {len(hw)}; "
                f"give one maxspeed per road"
            )
        posted = _map_unique(ms, parse_maxspeed)
        base = np.where(np.isnan(posted), base, posted)
    return np.clip(base * model.blue_light_factor, model.min_speed_kph, model.max_speed_kph)


def _is_ferry(value: object) -> float:
    candidates = value if isinstance(value, list | tuple | np.ndarray) else (value,)
    return float(any(isinstance(c, str) and c.strip().lower() == "ferry" for c in candidates))


def _edge_maxspeed(edges: pd.DataFrame) -> np.ndarray | None:
    """The raw ``maxspeed`` that holds in each edge's own direction, or None (no tags).

    ``maxspeed:forward`` holds along the way's drawn direction (edges with
    ``reversed`` false) and ``maxspeed:backward`` against it (``reversed``
    true, such as the only edge of a ``oneway=-1`` way); where that tag is
    missing or unusable, ``maxspeed``.
    """
    general = (
        _as_object_array(edges["maxspeed"], "maxspeed") if "maxspeed" in edges.columns else None
    )
    keys = ("maxspeed:forward", "maxspeed:backward")  # OSM wiki Key:maxspeed
    if not any(k in edges.columns for k in keys):
        return general
    n = len(edges)
    against = (
        edges["reversed"].eq(True).to_numpy(dtype=bool)
        if "reversed" in edges.columns
        else np.zeros(n, dtype=bool)
    )
    forward, backward = (
        _as_object_array(edges[k], k) if k in edges.columns else np.full(n, None, dtype=object)
        for k in keys
    )
    directional = np.where(against, backward, forward)
    usable = ~np.isnan(_map_unique(directional, parse_maxspeed))
    fallback = np.full(n, None, dtype=object) if general is None else general
    return np.where(usable, directional, fallback)


def add_edge_speeds(edges: pd.DataFrame, *, model: SpeedModel) -> pd.DataFrame:
    """Add emergency speed and travel time columns to road edges.

    Parameters
    ----------
    edges : pandas.DataFrame
        One row per edge (a GeoDataFrame works too). Required columns:
        ``length`` (m) and ``highway``. Optional: ``maxspeed`` (raw tag),
        ``maxspeed:forward`` and ``maxspeed:backward`` (raw tags, with
        ``reversed``: whether the edge runs against the way's drawn
        direction), ``route`` (``"ferry"`` marks ferries), ``duration`` (raw
        ferry tag) and ``way_length`` (m, total length of the OSM way the
        edge belongs to).
    model : SpeedModel
        The speed parameters.

    Returns
    -------
    pandas.DataFrame
        A copy of ``edges`` with ``speed_kph`` (km/h) and ``travel_time`` (s)
        set; travel_time is finite and >= 0 on every row (0 on zero-length
        edges).

    Raises
    ------
    ParameterError
        If ``length`` or ``highway`` is missing (names the column).
    DataError
        If a ``length`` is missing, not a number, negative or infinite.

    Notes
    -----
    Roads: ``speed_kph`` from :func:`road_speeds_kph`,
    ``travel_time = length / (speed_kph / 3.6)``. The posted limit of an
    edge is ``maxspeed:forward`` on an edge along the way's drawn direction
    and ``maxspeed:backward`` on one against it (``reversed`` true; the only
    edge of a ``oneway=-1`` way runs against it), where that tag is usable,
    and ``maxspeed`` otherwise.

    Ferries (``route == "ferry"``): no blue-light factor and no clamp. With a
    readable ``duration`` and a positive ``way_length``, the crossing time is
    shared out by length: ``travel_time = duration * length / way_length``;
    otherwise ``travel_time = length / (ferry_speed_kph / 3.6)``. A duration
    that would imply a speed above :data:`planner.constants.ABSURD_SPEED_KPH`
    over the way is treated as unreadable. ``speed_kph`` is the implied speed
    (``ferry_speed_kph`` on zero-length ferry edges).
    """
    missing = [c for c in ("length", "highway") if c not in edges.columns]
    if missing:
        raise ParameterError(
            f"edges: required column {missing[0]!r} is missing "
            f"(columns: {', '.join(map(str, edges.columns))})"
        )
    out = edges.copy()
    length = pd.to_numeric(out["length"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(length) | (length < 0)
    if bad.any():
        first = out.index[np.flatnonzero(bad)[0]]
        raise DataError(
            f"edges: column 'length' has {int(bad.sum())} missing, non-numeric, negative "
            f"or infinite value(s) (first at index {first!r}); lengths must be metres >= 0"
        )

    speed = road_speeds_kph(out["highway"], _edge_maxspeed(out), model=model)
    m_per_s = _M_PER_KM / _S_PER_H
    travel_time = length / (speed * m_per_s)

    if "route" in out.columns:
        ferry = _map_unique(_as_object_array(out["route"], "route"), _is_ferry) > 0
    else:
        ferry = np.zeros(len(out), dtype=bool)
    if ferry.any():
        n = len(out)
        if "duration" in out.columns:
            duration = _map_unique(_as_object_array(out["duration"], "duration"), parse_duration)
        else:
            duration = np.full(n, np.nan)
        if "way_length" in out.columns:
            way_length = pd.to_numeric(out["way_length"], errors="coerce").to_numpy(dtype=float)
        else:
            way_length = np.full(n, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            implied_kph = way_length / duration / m_per_s
            use_duration = (
                np.isfinite(duration)
                & np.isfinite(way_length)
                & (way_length > 0)
                & (implied_kph <= constants.ABSURD_SPEED_KPH)
            )
            ferry_time = np.where(
                use_duration,
                duration * length / way_length,
                length / (model.ferry_speed_kph * m_per_s),
            )
            ferry_speed = np.where(
                ferry_time > 0, length / ferry_time / m_per_s, model.ferry_speed_kph
            )
        travel_time = np.where(ferry, ferry_time, travel_time)
        speed = np.where(ferry, ferry_speed, speed)

    if not (np.isfinite(travel_time).all() and (travel_time >= 0).all()):  # pragma: no cover
        raise AssertionError("add_edge_speeds produced a non-finite or negative travel_time")
    out["speed_kph"] = speed.astype(float)
    out["travel_time"] = travel_time.astype(float)
    return out


def describe_speed_model(model: SpeedModel) -> pd.DataFrame:
    """The speed table of a model, for the README and the command line.

    Parameters
    ----------
    model : SpeedModel
        The speed parameters.

    Returns
    -------
    pandas.DataFrame
        Columns ``highway``, ``base_speed_kph`` (km/h, used when a way has no
        usable ``maxspeed``) and ``emergency_speed_kph`` (km/h, after the
        blue-light factor and the clamp); one row per class in table order,
        then ``(other classes)`` for the fallback and ``(ferry)`` for a ferry
        without a ``duration`` tag (not factored, not clamped).
    """
    classes = list(model.highway_speeds_kph)
    base = np.array(
        [model.highway_speeds_kph[c] for c in classes] + [model.fallback_speed_kph], dtype=float
    )
    emergency = np.clip(base * model.blue_light_factor, model.min_speed_kph, model.max_speed_kph)
    return pd.DataFrame(
        {
            "highway": [*classes, "(other classes)", "(ferry)"],
            "base_speed_kph": [*base, model.ferry_speed_kph],
            "emergency_speed_kph": [*emergency, model.ferry_speed_kph],
        }
    )
